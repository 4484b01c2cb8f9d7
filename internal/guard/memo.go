package guard

import (
	"hash/maphash"
	"sync"
	"time"
)

// Memo remembers, in this process only, which subjects each operator read
// today (so that a repeat visit costs no budget) and the order of each
// operator's lookup values. See the package comment for why it is not in
// the store. It is safe for concurrent use.
type Memo struct {
	mu   sync.Mutex
	day  int64
	seed maphash.Seed
	// seen: operator → hash of the subject id → hour of the last read. A
	// hash collision (odds 2⁻⁶⁴ a pair) would count a new subject as a
	// repeat; 8-byte keys keep a million entries near 40 MB.
	seen   map[string]map[uint64]uint32
	n      int // entries in seen
	values map[string]valueRun
	// Max bounds the entries; past it the memo starts afresh (stricter:
	// repeats count again). Default 1,000,000.
	Max int
}

type valueRun struct {
	last uint64
	run  int
}

// Seen reports whether op read subject earlier this hour, and today.
func (m *Memo) Seen(op, subject string, now time.Time) (hour, day bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rollLocked(now)
	h, ok := m.seen[op][maphash.String(m.seed, subject)]
	return ok && h == uint32(now.Unix()/3600), ok
}

// Record notes that op read subject at now.
func (m *Memo) Record(op, subject string, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rollLocked(now)
	max := m.Max
	if max <= 0 {
		max = 1_000_000
	}
	if m.n >= max {
		clear(m.seen)
		m.n = 0
	}
	ops := m.seen[op]
	if ops == nil {
		ops = map[uint64]uint32{}
		m.seen[op] = ops
	}
	k := maphash.String(m.seed, subject)
	if _, ok := ops[k]; !ok {
		m.n++
	}
	ops[k] = uint32(now.Unix() / 3600)
}

// ValueRun notes op's lookup of a value whose order key is key (the first
// bytes of the normalised value) and returns the length of the run of
// strictly ascending or descending keys it ends.
func (m *Memo) ValueRun(op string, key uint64) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.values == nil {
		m.values = map[string]valueRun{}
	}
	v, ok := m.values[op]
	v.run = run(v.run, v.last, key, ok)
	v.last = key
	m.values[op] = v
	return abs(v.run)
}

// Forget drops what the memo holds about op (after an unlock).
func (m *Memo) Forget(op string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.values, op)
	m.n -= len(m.seen[op])
	delete(m.seen, op)
}

func (m *Memo) rollLocked(now time.Time) {
	_, off := now.Zone()
	day := (now.Unix() + int64(off)) / 86400
	if m.seen == nil || day != m.day {
		if m.seen == nil {
			m.seed = maphash.MakeSeed()
		}
		m.seen, m.day, m.n = map[string]map[uint64]uint32{}, day, 0
	}
}
