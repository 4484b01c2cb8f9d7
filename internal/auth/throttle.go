package auth

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/store"
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

// The per-address throttle counts failed logins per address, in windows of
// a minute from the first, in the store (identity.Throttles), so that
// every node shares one count and a restart forgets nothing: N nodes must
// not give an attacker N times the attempts. Its keys are keyed hashes (of
// the address; of a username and an address for the regulars), never what
// was typed or seen.

// regularFor is how long a login from an address exempts its username
// from that address's throttle.
const regularFor = 30 * 24 * time.Hour

// originKey is the stored key of a client address's failed logins.
func (s *Service) originKey(origin string) string {
	return "login:" + hex.EncodeToString(s.Keys.StableHash("login.origin", origin)[:8])
}

// regularKey is the stored form of a username (by its pseudonym) and an
// address.
func (s *Service) regularKey(pseudonym, origin string) string {
	return hex.EncodeToString(s.Keys.StableHash("login.regular", pseudonym+"\x00"+origin)[:8])
}

// throttle refuses an attempt from origin with a *ThrottleError when the
// address failed PerOrigin times within a minute of its first failure,
// unless the username of pseudonym ("": no exemption) logged in from it
// within regularFor (a regular is never held back by others' failures from
// a shared office NAT). The first refusal of a window is audited, once
// across the nodes; later ones are not (originlimit.Refusals).
func (s *Service) throttle(ctx context.Context, pseudonym, origin string, now time.Time) error {
	key := s.originKey(origin)
	var fails int
	var until, last time.Time
	err := s.Store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		if fails, until, err = tx.OriginCount(ctx, key, now); err != nil || fails < s.Limits.perOrigin() || pseudonym == "" {
			return err
		}
		last, err = tx.Regular(ctx, s.regularKey(pseudonym, origin))
		return err
	})
	if err != nil {
		return err
	}
	if fails < s.Limits.perOrigin() || (!last.IsZero() && now.Sub(last) < regularFor) {
		return nil
	}
	s.throttled.Add(1)
	if err := s.refusals.Refuse(ctx, s.Store, key, until, now, &audit.Entry{Time: now, Actor: "auth", Action: "login.throttle", Decision: "deny:throttled", Origin: origin}); err != nil {
		return err
	}
	return &ThrottleError{RetryAfter: until.Sub(now)}
}

// originFailure counts a failed attempt from origin, in the attempt's
// transaction.
func (s *Service) originFailure(ctx context.Context, tx store.Tx, origin string) error {
	_, _, err := tx.CountOrigin(ctx, s.originKey(origin), s.now(), time.Minute)
	return err
}

// loggedIn records a login of username from origin: a regular of it.
func (s *Service) loggedIn(ctx context.Context, tx store.Tx, username, origin string, now time.Time) error {
	return tx.PutRegular(ctx, s.regularKey(s.loginPseudonym(username), origin), now, now.Add(-regularFor))
}

// Throttled returns how many login attempts were refused by the per-address
// throttle so far.
func (s *Service) Throttled() int64 { return s.throttled.Load() }
