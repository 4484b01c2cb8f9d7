package me

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/originlimit"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/store"
)

// Keys is the keyring the service uses (*envelope.Keyring): the blind
// index of lookup fields, a keyed hash that key rotations leave alone
// (codes, contact keys, pseudonyms, the verification phrase), and sealing
// under the root key (the code in its queued message, the OpenID Connect
// state).
type Keys interface {
	BlindIndex(field, normalised string) []byte
	StableHash(label, value string) []byte
	SealSecret(label string, pt []byte) []byte
	OpenSecret(label string, ct []byte) ([]byte, error)
}

// Settings bound sign-in; a zero field takes the default written on it.
type Settings struct {
	// NoCode turns one-time codes off (OpenID Connect only).
	NoCode bool
	// Digits is the length of a code, 6 to 8. Default 6.
	Digits int
	// CodeFor is how long a code works. Default 10 minutes.
	CodeFor time.Duration
	// MaxAttempts bounds the codes typed against one login token, and
	// the wrong codes of one contact within LockFor; then the contact is
	// locked for LockFor. Default 5.
	MaxAttempts int
	// LockFor is how long a contact stays locked. Default 15 minutes.
	LockFor time.Duration
	// PerContact bounds the codes one contact is sent per hour (in the
	// store: every node counts the same). Default 5.
	PerContact int
	// PerOrigin bounds the code requests of one address (an IPv6 /64)
	// per hour, on each node. Default 30.
	PerOrigin int
	// Idle ends a session after this long without a request; Max this
	// long after sign-in. Defaults 15 minutes and 1 hour.
	Idle, Max time.Duration
}

func (c Settings) digits() int            { return or(c.Digits, 6) }
func (c Settings) codeFor() time.Duration { return or(c.CodeFor, 10*time.Minute) }
func (c Settings) maxAttempts() int       { return or(c.MaxAttempts, 5) }
func (c Settings) lockFor() time.Duration { return or(c.LockFor, 15*time.Minute) }
func (c Settings) perContact() int        { return or(c.PerContact, 5) }
func (c Settings) perOrigin() int         { return or(c.PerOrigin, 30) }
func (c Settings) idle() time.Duration    { return or(c.Idle, 15*time.Minute) }
func (c Settings) max() time.Duration     { return or(c.Max, time.Hour) }

func or[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Service signs persons in and authenticates their sessions. Store, Keys
// and Policy are required.
type Service struct {
	Store store.Store
	Keys  Keys
	// Policy names the lookup fields a contact is looked up in (every
	// email field with lookup for an address, every phone field for a
	// number), and the fields an OpenID Connect claim may match.
	Policy *policy.Policy
	Settings
	// OIDC, when set, signs persons in through an OpenID Connect
	// provider.
	OIDC *OIDC
	// Now is the clock (default time.Now).
	Now func() time.Time

	ticks    atomic.Uint64 // code requests, for the purge of one in purgeEvery
	refusals originlimit.Refusals
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Audit actors and actions of sign-in. An entry about a person names
// them as its subject, so that it is in their history.
const (
	// ActorSignin is the actor of the steps taken before a person is
	// proved (a code asked for their contact, a wrong code): Coffre acting
	// on a request that names them.
	ActorSignin = "signin"
	// ActionCode: a code was asked for a contact. ActionSignin: a code
	// was typed (allowed: a session opened). ActionOIDC: a sign-in
	// through OpenID Connect. ActionLock: a contact was locked.
	// ActionLogout: a session ended.
	ActionCode   = "me.code"
	ActionSignin = "me.signin"
	ActionOIDC   = "me.signin.oidc"
	ActionLock   = "me.lock"
	ActionLogout = "me.logout"
)

// Actor is how the audit log names a person acting on their own behalf
// (audit.SubjectActor).
func Actor(subject string) string { return audit.SubjectActor(subject) }

// The prefixes of a login token (a code's) and of a person's session
// token; an operator's session token starts with "cfs_".
const (
	LoginPrefix   = "cfc_"
	SessionPrefix = "cfm_"
)

// newToken returns a token of 256 random bits after prefix, and the
// SHA-256 hash it is stored as.
func newToken(prefix string) (string, []byte) {
	b := make([]byte, 32)
	rand.Read(b)
	tok := prefix + base64.RawURLEncoding.EncodeToString(b)
	return tok, hashToken(tok)
}

func hashToken(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

// validToken reports whether tok has the form newToken gives prefix.
func validToken(tok, prefix string) bool {
	if len(tok) != len(prefix)+43 || tok[:len(prefix)] != prefix {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(tok[len(prefix):])
	return err == nil
}

// update runs fn in one write transaction and returns its result; fn
// returns its result rather than setting captured variables, as a store
// may run it twice.
func update[T any](ctx context.Context, st store.Store, fn func(context.Context, store.Tx) (T, error)) (T, error) {
	var out T
	err := st.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		out, err = fn(ctx, tx)
		return err
	})
	return out, err
}

// Errors the service returns; callers branch on them with errors.Is and
// errors.As. Their texts are fit for clients: none names a contact, a
// code or a subject.
var (
	// ErrBadContact: the contact is neither an email address nor a phone
	// number.
	ErrBadContact = errors.New("contact: want an email address such as name@example.org, or a phone number in international form such as +33612345678")
	// ErrUnknownLogin: no code waits under this login token (never
	// issued, or used already).
	ErrUnknownLogin = errors.New("unknown login token, or its code was used already")
	// ErrCodeExpired: the code's time is over.
	ErrCodeExpired = errors.New("the code has expired")
	// ErrAttemptsUsed: every attempt this login token allowed was made
	// (the contact was locked then); a new code is needed.
	ErrAttemptsUsed = errors.New("the attempts this code allowed are used up")
	// ErrUnauthenticated: no valid person's session for the token.
	ErrUnauthenticated = errors.New("no valid session")
	// ErrOff: this sign-in method is not configured.
	ErrOff = errors.New("this sign-in method is not offered by this server")
	// ErrUnavailable wraps a store failure: nothing was changed, and no
	// answer can be given (the caller answers 503).
	ErrUnavailable = errors.New("sign-in store unavailable")
)

// CodeError is a wrong code: Left attempts remain before the contact is
// locked.
type CodeError struct{ Left int }

func (e *CodeError) Error() string {
	return fmt.Sprintf("wrong code: %d attempts left", e.Left)
}

// LockedError refuses a contact that is locked after too many wrong
// codes, until RetryAfter has passed.
type LockedError struct{ RetryAfter time.Duration }

func (e *LockedError) Error() string {
	return fmt.Sprintf("too many wrong codes: sign-in with this contact is locked for %s", e.RetryAfter.Round(time.Second))
}

// LimitError refuses a code request over a rate: for the contact, or
// (Origin) for the address the request comes from.
type LimitError struct {
	RetryAfter time.Duration
	Origin     bool
}

func (e *LimitError) Error() string {
	who := "this contact"
	if e.Origin {
		who = "this address"
	}
	return fmt.Sprintf("too many codes asked for %s; retry in %s", who, e.RetryAfter.Round(time.Second))
}

func unavailable(err error) error { return fmt.Errorf("%w: %w", ErrUnavailable, err) }
