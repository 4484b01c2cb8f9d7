package unseal

import (
	"crypto/subtle"
	"sync"
	"time"

	"github.com/hashicorp/vault/shamir"
)

// DefaultTimeout is how long an [Accumulator] keeps shares when no new
// one comes in, unless told otherwise.
const DefaultTimeout = 10 * time.Minute

// Progress tells how far an unseal has come: Have shares of the Need that
// rebuild the key. Need is 0 before the first share. It holds no key
// material and may be shown or logged.
type Progress struct {
	Have int `json:"have"`
	Need int `json:"need"`
}

// Options configure an [Accumulator]; the zero value is usable.
type Options struct {
	// Set, when not empty, is the only share set accepted (16 hex
	// digits): the one the server was initialised with. When empty, the
	// first share entered fixes the set until the shares are dropped.
	Set string
	// Timeout drops the shares entered when no new one has come for that
	// long; 0 means DefaultTimeout.
	Timeout time.Duration
	// Now tells the time; nil means time.Now. Tests set it.
	Now func() time.Time
}

// Accumulator collects shares in memory until M distinct ones of one set
// rebuild the key. It is safe for concurrent use.
type Accumulator struct {
	opt Options

	mu     sync.Mutex
	shares []Share // of one set, distinct indexes and x coordinates
	last   time.Time
}

// NewAccumulator returns an empty accumulator.
func NewAccumulator(opt Options) *Accumulator {
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultTimeout
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Accumulator{opt: opt}
}

// Add enters one share. Until M distinct shares of one set are in it
// returns a nil key and the progress. With the M-th it combines them and
// returns the key, and forgets the shares; if they do not rebuild their
// set's key it forgets them too and returns ErrWrongShares. A share of
// another set is ErrOtherSet, one already entered ErrDuplicate, a
// zero Share ErrMalformed; those leave the shares entered as they were.
func (a *Accumulator) Add(s Share) (key []byte, p Progress, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.expire()
	if len(s.part) == 0 {
		return nil, a.progress(), ErrMalformed
	}
	if a.opt.Set != "" && s.Set() != a.opt.Set {
		return nil, a.progress(), ErrOtherSet
	}
	if len(a.shares) > 0 {
		first := a.shares[0]
		if s.set != first.set || s.m != first.m || s.n != first.n || s.check != first.check || len(s.part) != len(first.part) {
			return nil, a.progress(), ErrOtherSet
		}
		for _, have := range a.shares {
			if have.index == s.index || have.part[len(have.part)-1] == s.part[len(s.part)-1] {
				return nil, a.progress(), ErrDuplicate
			}
		}
	}
	s.part = append([]byte(nil), s.part...) // ours alone, to wipe later
	a.shares = append(a.shares, s)
	a.last = a.opt.Now()
	if len(a.shares) < s.m {
		return nil, a.progress(), nil
	}
	parts := make([][]byte, len(a.shares))
	for i, sh := range a.shares {
		parts[i] = sh.part
	}
	key, err = shamir.Combine(parts)
	a.reset()
	if err != nil {
		return nil, Progress{}, ErrWrongShares // the library's reason would tell which
	}
	if c := keyCheck(s.set, key); subtle.ConstantTimeCompare(c[:], s.check[:]) != 1 {
		clear(key)
		return nil, Progress{}, ErrWrongShares
	}
	return key, Progress{Have: s.m, Need: s.m}, nil
}

// Progress returns how many shares are in and how many are needed,
// after dropping shares left idle past the timeout.
func (a *Accumulator) Progress() Progress {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.expire()
	return a.progress()
}

// Reset forgets every share entered.
func (a *Accumulator) Reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reset()
}

func (a *Accumulator) progress() Progress {
	if len(a.shares) == 0 {
		return Progress{}
	}
	return Progress{Have: len(a.shares), Need: a.shares[0].m}
}

// expire drops the shares when the last came more than the timeout ago.
func (a *Accumulator) expire() {
	if len(a.shares) > 0 && a.opt.Now().Sub(a.last) >= a.opt.Timeout {
		a.reset()
	}
}

// reset wipes the parts held (as far as Go lets memory be wiped) and
// forgets them.
func (a *Accumulator) reset() {
	for _, s := range a.shares {
		clear(s.part)
	}
	a.shares = nil
	a.last = time.Time{}
}
