// Package subjectauth holds what the sign-in of persons keeps: one-time
// codes waiting to be typed ([Code]), the state of each contact key
// ([Limit]: code requests, wrong codes, a lock) and persons' sessions
// ([Session]), and the storage interface for them ([Store], embedded in
// store.Tx). It holds no logic: package me signs persons in.
//
// Nothing here holds a contact as typed or a code: a contact is a keyed
// hash (its key), a code a keyed hash bound to its login token, a token
// its SHA-256 hash.
package subjectauth

import (
	"context"
	"time"
)

// Code is a one-time code waiting to be typed, under the login token that
// its request returned. It holds keyed hashes and ids, never the contact
// typed or the code.
type Code struct {
	// Token is the SHA-256 hash of the login token.
	Token []byte
	// Contact is the key of the contact it was asked for (see
	// [Service.ContactKey]): the key of its lock and its counts.
	Contact string
	// Subject is the person the contact matched; "" when it matched
	// nobody (the code was then never sent, and no code opens it).
	Subject string
	// Hash is the code's keyed hash (HMAC-SHA256 bound to Token).
	Hash             []byte
	Created, Expires time.Time
	// Attempts counts the codes typed against it.
	Attempts int
	// Used is when it opened a session (zero: not yet).
	Used time.Time
}

// Limit is the sign-in state of one contact: its code requests in the
// current window, its wrong codes, and its lock.
type Limit struct {
	Requests int
	Since    time.Time // when the requests' window began
	Failures int
	FailedAt time.Time // when the failures' window began
	// LockedUntil is when a lock ends (zero or past: not locked).
	LockedUntil time.Time
}

// How a person signed in (Session.Method).
const (
	MethodCode = "code"
	MethodOIDC = "oidc"
)

// Session is a person's session: its token's SHA-256 hash and the
// subject it is for.
type Session struct {
	Hash    []byte
	Subject string
	// Method is how the person signed in: MethodCode or MethodOIDC.
	Method                     string
	Created, LastSeen, Expires time.Time
	Origin, UserAgent          string
}

// Codes holds one-time codes by their login token's hash. Methods report
// the store's ErrNotFound and ErrConflict (package store) wrapped.
type Codes interface {
	// PutSigninCode stores a new code.
	PutSigninCode(ctx context.Context, c *Code) error
	// GetSigninCode returns the code of a login token's hash, or
	// ErrNotFound.
	GetSigninCode(ctx context.Context, token []byte) (*Code, error)
	// SigninCodeAttempt counts one more attempt at the code and returns
	// the count (ErrNotFound if there is no such code): concurrent
	// attempts are all counted.
	SigninCodeAttempt(ctx context.Context, token []byte) (int, error)
	// SpendSigninCode marks the code used at at, once: it reports false
	// when the code was used already (or does not exist).
	SpendSigninCode(ctx context.Context, token []byte, at time.Time) (bool, error)
}

// Limits holds the state of each contact (by its key): counts that
// restart when their window is over, and a lock.
type Limits interface {
	// SigninRequest counts a code request for key at at and returns the
	// key's state; the count restarts at 1 when its window began window
	// or more before at.
	SigninRequest(ctx context.Context, key string, at time.Time, window time.Duration) (Limit, error)
	// SigninFailure counts a wrong code for key, as SigninRequest counts
	// requests.
	SigninFailure(ctx context.Context, key string, at time.Time, window time.Duration) (Limit, error)
	// LockSignin locks key until until and clears its failures; the zero
	// until lifts the lock.
	LockSignin(ctx context.Context, key string, until time.Time) error
	// SigninLimit returns key's state (the zero Limit when it has none).
	SigninLimit(ctx context.Context, key string) (Limit, error)
}

// Sessions holds persons' sessions by their token's hash.
type Sessions interface {
	PutSubjectSession(ctx context.Context, s *Session) error
	// GetSubjectSession returns a session, or ErrNotFound.
	GetSubjectSession(ctx context.Context, hash []byte) (*Session, error)
	// TouchSubjectSession sets the session's last-seen time; ErrNotFound
	// if there is no such session.
	TouchSubjectSession(ctx context.Context, hash []byte, at time.Time) error
	// DeleteSubjectSession ends one session; ending an absent one is no
	// error.
	DeleteSubjectSession(ctx context.Context, hash []byte) error
	// DeleteSubjectSessions ends every session of a subject and returns
	// how many ended.
	DeleteSubjectSessions(ctx context.Context, subject string) (int, error)
	// PurgeSignin deletes up to limit each of the codes that expired
	// before before, the sessions that expired before before, and the
	// contacts whose windows began and lock ended before before; it
	// returns how many rows went.
	PurgeSignin(ctx context.Context, before time.Time, limit int) (int, error)
}

// Store is what a store keeps for the sign-in of persons; store.Tx
// embeds it.
type Store interface {
	Codes
	Limits
	Sessions
}
