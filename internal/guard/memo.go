package guard

import (
	"sync"
	"time"
)

// Memo remembers, in this process only, which subjects each operator read
// today (so that a repeat visit costs no budget) and the order of each
// operator's lookup values. See the package comment for why it is not in
// the store. It is safe for concurrent use.
type Memo struct {
	mu     sync.Mutex
	day    int64
	seen   map[string]int64 // operator + "\x00" + subject → hour of the last read
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
	h, ok := m.seen[op+"\x00"+subject]
	return ok && h == now.Unix()/3600, ok
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
	if len(m.seen) >= max {
		clear(m.seen)
	}
	m.seen[op+"\x00"+subject] = now.Unix() / 3600
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
	for k := range m.seen {
		if len(k) > len(op) && k[:len(op)] == op && k[len(op)] == 0 {
			delete(m.seen, k)
		}
	}
}

func (m *Memo) rollLocked(now time.Time) {
	_, off := now.Zone()
	day := (now.Unix() + int64(off)) / 86400
	if m.seen == nil || day != m.day {
		m.seen, m.day = map[string]int64{}, day
	}
}
