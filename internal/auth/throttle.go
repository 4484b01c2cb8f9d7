package auth

import (
	"fmt"
	"sync"
	"time"
)

// LockLoginFailures is the lock code of an account locked after repeated
// failed logins.
const LockLoginFailures = "login_failures"

// Limits bound login abuse.
type Limits struct {
	// MaxFailures failed logins (password or second factor) of one account
	// within FailureWindow lock it (default 10 in 24 hours: a slow stuffing run, one try per account every few minutes, still adds up).
	MaxFailures   int
	FailureWindow time.Duration
	// LockFor is how long such a lock lasts unless a security officer
	// lifts it first; 0: until a security officer does.
	LockFor time.Duration
	// PerOrigin failed logins from one address within a minute throttle
	// that address (default 30): its further attempts are refused at once,
	// except for accounts that logged in from it before.
	PerOrigin int
}

func (l Limits) maxFailures() int {
	if l.MaxFailures <= 0 {
		return 10
	}
	return l.MaxFailures
}

func (l Limits) window() time.Duration {
	if l.FailureWindow <= 0 {
		return 24 * time.Hour
	}
	return l.FailureWindow
}

func (l Limits) perOrigin() int {
	if l.PerOrigin <= 0 {
		return 30
	}
	return l.PerOrigin
}

// ThrottleError refuses a login attempt from an address that failed too
// often: retry after RetryAfter.
type ThrottleError struct{ RetryAfter time.Duration }

func (e *ThrottleError) Error() string {
	return fmt.Sprintf("too many failed logins from this address; retry in %s", e.RetryAfter.Round(time.Second))
}

// originThrottle counts failed logins per address, per minute, in this
// process. (Per-account counting and locks are in the store, shared by
// every node; this one only sheds load early, so a node-local view is
// enough.)
type originThrottle struct {
	mu     sync.Mutex
	minute int64
	fails  map[string]int
	held   map[string]bool      // origins refused this minute
	good   map[string]time.Time // username pseudonym + "\x00" + origin → last successful login
}

// take reports how long an attempt from origin must wait (0: go on), and
// whether it is the first attempt from origin refused this minute. A
// regular (a username that logged in from origin within 30 days) is never
// held back by others' failures from the same address (a shared office
// NAT).
func (t *originThrottle) take(origin string, regular bool, now time.Time, perMinute int) (time.Duration, bool) {
	if regular {
		return 0, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rollLocked(now)
	if t.fails[origin] < perMinute {
		return 0, false
	}
	first := !t.held[origin]
	t.held[origin] = true
	return time.Unix((t.minute+1)*60, 0).Sub(now), first
}

// fail counts a failed login from origin.
func (t *originThrottle) fail(origin string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rollLocked(now)
	t.fails[origin]++
}

func (t *originThrottle) rollLocked(now time.Time) {
	if m := now.Unix() / 60; m != t.minute || t.fails == nil {
		t.minute, t.fails, t.held = m, map[string]int{}, map[string]bool{}
	}
}

// succeeded remembers a successful login from origin of the username
// whose pseudonym is given. Keyed by the username, not the operator id, so
// that the lookup in known is the same work for a name no account has.
func (t *originThrottle) succeeded(pseudonym, origin string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.good == nil || len(t.good) > 100_000 {
		t.good = map[string]time.Time{}
	}
	t.good[pseudonym+"\x00"+origin] = now
}

// known reports whether the username of pseudonym logged in from origin
// within 30 days.
func (t *originThrottle) known(pseudonym, origin string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	at, ok := t.good[pseudonym+"\x00"+origin]
	return ok && now.Sub(at) < 30*24*time.Hour
}

// Throttled returns how many login attempts were refused by the per-address
// throttle so far.
func (s *Service) Throttled() int64 { return s.throttled.Load() }
