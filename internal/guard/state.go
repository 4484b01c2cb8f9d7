package guard

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// stateVersion is the first byte of a marshalled State.
// Version 2 appended the write counters, version 3 the assignments and
// the administration counters, version 4 the break-glass reads, version 5
// the visits and the lookup value order; an older state reads with what
// it lacks at zero.
const stateVersion = 5

// maxValueLast bounds the sealed order key of the latest lookup value.
const maxValueLast = 64

// Marshal encodes the state compactly (it is written on every access).
func (st *State) Marshal() []byte {
	b := make([]byte, 0, 112+8*(len(st.Recent)+len(st.Origins)+len(st.Evidence))+len(st.ExtID)+len(st.Locked)+len(st.Visits)+len(st.ValueLast))
	b = append(b, stateVersion)
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(st.Tokens))
	for _, v := range []int64{st.TokensAt, st.Hour, st.Day,
		int64(st.HourSubjects), int64(st.HourLookups), int64(st.HourMisses), int64(st.HourOver),
		int64(st.DaySubjects), int64(st.DayOutOfCaseload), int64(st.DayOutOfUnit), int64(st.DayUntrusted),
		int64(st.IDRun), st.LastCreated, int64(st.CreatedRun), int64(st.ExtRemaining), st.ExtUntil} {
		b = binary.AppendVarint(b, v)
	}
	b = binary.BigEndian.AppendUint64(b, st.LastID)
	b = binary.AppendUvarint(b, uint64(len(st.Recent)))
	for _, v := range st.Recent {
		b = binary.AppendVarint(b, v)
	}
	b = binary.AppendUvarint(b, uint64(len(st.Origins)))
	for _, v := range st.Origins {
		b = binary.BigEndian.AppendUint64(b, v)
	}
	b = binary.AppendUvarint(b, uint64(len(st.Evidence)))
	for _, v := range st.Evidence {
		b = binary.AppendVarint(b, v)
	}
	for _, s := range []string{st.ExtID, st.Locked} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	for _, v := range []int{st.HourUpdates, st.DayCreates, st.DayUpdates, st.DayErasures,
		st.DayAssignments, st.HourAdmin, st.DayOperators, st.DayRoles, st.DayResets, st.DayPartners, st.DayBreakGlass} {
		b = binary.AppendVarint(b, int64(v))
	}
	b = binary.AppendUvarint(b, uint64(len(st.Visits)))
	b = append(b, st.Visits...)
	b = binary.AppendVarint(b, int64(st.ValueRun))
	b = binary.AppendUvarint(b, uint64(len(st.ValueLast)))
	return append(b, st.ValueLast...)
}

// Unmarshal decodes a state written by Marshal; an empty b is the zero
// state.
func Unmarshal(b []byte) (State, error) {
	var st State
	if len(b) == 0 {
		return st, nil
	}
	d := decoder{b: b}
	v := d.byte()
	if v < 1 || v > stateVersion {
		return State{}, fmt.Errorf("%w: version %d", ErrCorrupt, v)
	}
	st.Tokens = math.Float64frombits(d.u64())
	ints := []*int64{&st.TokensAt, &st.Hour, &st.Day}
	for _, p := range ints {
		*p = d.varint()
	}
	for _, p := range []*int{&st.HourSubjects, &st.HourLookups, &st.HourMisses, &st.HourOver,
		&st.DaySubjects, &st.DayOutOfCaseload, &st.DayOutOfUnit, &st.DayUntrusted, &st.IDRun} {
		*p = int(d.varint())
	}
	st.LastCreated = d.varint()
	st.CreatedRun = int(d.varint())
	st.ExtRemaining = int(d.varint())
	st.ExtUntil = d.varint()
	st.LastID = d.u64()
	for n := d.count(maxRecent); n > 0; n-- {
		st.Recent = append(st.Recent, d.varint())
	}
	for n := d.count(maxOrigins); n > 0; n-- {
		st.Origins = append(st.Origins, d.u64())
	}
	for n := d.count(maxEvidence); n > 0; n-- {
		st.Evidence = append(st.Evidence, d.varint())
	}
	st.ExtID = string(d.bytes(d.count(64)))
	st.Locked = string(d.bytes(d.count(64)))
	if v >= 2 {
		for _, p := range []*int{&st.HourUpdates, &st.DayCreates, &st.DayUpdates, &st.DayErasures} {
			*p = int(d.varint())
		}
	}
	if v >= 3 {
		for _, p := range []*int{&st.DayAssignments, &st.HourAdmin, &st.DayOperators, &st.DayRoles, &st.DayResets, &st.DayPartners} {
			*p = int(d.varint())
		}
	}
	if v >= 4 {
		st.DayBreakGlass = int(d.varint())
	}
	if v >= 5 {
		// Not copied (a visit is read every access): Decide's visit
		// never writes into them, it makes new bytes.
		st.Visits = d.bytes(d.count(maxVisits * visitLen))
		if len(st.Visits) == 0 {
			st.Visits = nil
		}
		st.ValueRun = int(d.varint())
		st.ValueLast = clone(d.bytes(d.count(maxValueLast)))
		if !validVisits(st.Visits) {
			d.fail()
		}
	}
	// A stored state never holds a token count that is not a finite,
	// non-negative number: such bytes are corrupt.
	if d.err != nil || len(d.b) != 0 || !(st.Tokens >= 0 && st.Tokens <= math.MaxFloat64) {
		return State{}, fmt.Errorf("%w: %d bytes", ErrCorrupt, len(b))
	}
	return st, nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() { d.err, d.b = ErrCorrupt, nil }

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) u64() uint64 {
	if len(d.b) < 8 {
		d.fail()
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) count(max int) int {
	v, n := binary.Uvarint(d.b)
	if n <= 0 || v > uint64(max) {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return int(v)
}

func (d *decoder) bytes(n int) []byte {
	if len(d.b) < n {
		d.fail()
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

// Clip returns st with each slice's capacity cut to its length, so that
// appending to a copy of st never writes into what st holds: what a store
// returns from a state it keeps.
func (st State) Clip() State {
	st.Recent, st.Origins, st.Evidence = slices.Clip(st.Recent), slices.Clip(st.Origins), slices.Clip(st.Evidence)
	st.Visits, st.ValueLast = slices.Clip(st.Visits), slices.Clip(st.ValueLast)
	return st
}

// clone copies b; empty, it is nil (as a state that never had any).
func clone(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return bytes.Clone(b)
}
