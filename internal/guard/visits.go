package guard

import (
	"bytes"
	"crypto/sha256"
	"sort"
)

// Visits are the subjects an operator read today, kept in its State so
// that every node sharing the store, and a restarted one, sees the same
// repeat visits (which cost no budget). A visit is visitLen bytes: the
// first 6 bytes of the SHA-256 of the subject's id, then the number of
// the hour of the latest read (hours since the epoch, modulo 256: the
// visits are cleared every day). They are sorted by hash, so a lookup
// is a binary search in the stored bytes and nothing is decoded. The
// state is written on every access: each byte counts (measured, docs/
// benchmarks.md).
//
// A hash collision would make a new subject a repeat: with a full day of
// visits, odds of 1024 in 2⁴⁸ (about 4·10⁻¹²) a read; subject ids are the
// server's, not the caller's choice.
const (
	hashLen  = 6
	visitLen = hashLen + 1
)

// maxVisits bounds the visits of one day (7 KiB): well above any
// reading budget of a person's day (the demo's largest is 250). Past it,
// the visits of earlier hours go, then all of them: stricter (repeats
// count again), never looser.
const maxVisits = 1024

// visitHash is a subject's hash, as a number (its hashLen bytes, big
// endian).
func visitHash(subject string) uint64 {
	h := sha256.Sum256([]byte(subject))
	return hashAt(h[:], 0)
}

// hashAt reads the hash at b[i:].
func hashAt(b []byte, i int) uint64 {
	_ = b[i+hashLen-1]
	return uint64(b[i])<<40 | uint64(b[i+1])<<32 | uint64(b[i+2])<<24 | uint64(b[i+3])<<16 | uint64(b[i+4])<<8 | uint64(b[i+5])
}

// findVisit returns the index of the visit of hash h in vs, or where it
// would go, and whether it is there.
func findVisit(vs []byte, h uint64) (int, bool) {
	n := len(vs) / visitLen
	i := sort.Search(n, func(i int) bool { return hashAt(vs, i*visitLen) >= h })
	return i, i < n && hashAt(vs, i*visitLen) == h
}

// visited reports whether subject was read earlier this hour, and today
// (st rolled to hour's day).
func (st *State) visited(subject string, hour int64) (thisHour, today bool) {
	i, ok := findVisit(st.Visits, visitHash(subject))
	if !ok {
		return false, false
	}
	return st.Visits[i*visitLen+hashLen] == byte(hour), true
}

// visit records a read of subject in hour. It never writes into the
// bytes st.Visits held (they may be shared with the state passed to
// Decide, or with the store's copy).
func (st *State) visit(subject string, hour int64) {
	h := visitHash(subject)
	i, ok := findVisit(st.Visits, h)
	if ok {
		if st.Visits[i*visitLen+hashLen] == byte(hour) {
			return
		}
		vs := bytes.Clone(st.Visits)
		vs[i*visitLen+hashLen] = byte(hour)
		st.Visits = vs
		return
	}
	old := st.Visits
	if len(old)/visitLen >= maxVisits {
		old = visitsOf(old, byte(hour))
		if len(old)/visitLen >= maxVisits/2 {
			old = nil
		}
		i, _ = findVisit(old, h)
	}
	vs := make([]byte, len(old)+visitLen)
	copy(vs, old[:i*visitLen])
	at := vs[i*visitLen:]
	for k := range hashLen {
		at[k] = byte(h >> (8 * (hashLen - 1 - k)))
	}
	at[hashLen] = byte(hour)
	copy(vs[(i+1)*visitLen:], old[i*visitLen:])
	st.Visits = vs
}

// visitsOf returns the visits of hour, in order, in new bytes.
func visitsOf(vs []byte, hour byte) []byte {
	var out []byte
	for i := 0; i+visitLen <= len(vs); i += visitLen {
		if vs[i+hashLen] == hour {
			out = append(out, vs[i:i+visitLen]...)
		}
	}
	return out
}

// validVisits reports whether b is a list of whole visits, at most
// maxVisits. Their order is not checked (it would cost a pass over every
// visit, every access): a list out of order, which only a corrupt store
// could hold, makes the binary search miss visits that are there, so
// repeats count again — stricter, never looser.
func validVisits(b []byte) bool {
	return len(b)%visitLen == 0 && len(b)/visitLen <= maxVisits
}

// NoteValue notes a lookup of a value whose order key is key (the first
// bytes of the normalised value), after the previous one's, prev (ok
// false: none known), and returns the length of the run of strictly
// ascending or descending keys it ends. The caller keeps prev sealed in
// ValueLast: it derives from a personal value, and the state is stored.
func (st *State) NoteValue(prev uint64, ok bool, key uint64) int {
	st.ValueRun = run(st.ValueRun, prev, key, ok)
	return abs(st.ValueRun)
}
