// Package identity holds who acts in Coffre: operators (staff accounts and
// partner organisations' clients), their sessions and second factors, and
// the [Actor] of an access; and the storage interfaces for them. It holds
// no logic: package auth authenticates, package vault authorizes.
//
// Storage methods report the store's ErrNotFound and ErrConflict (package
// store) wrapped.
package identity

import (
	"context"
	"time"
)

// Actor is who asks: an authenticated operator and where they ask from.
type Actor struct {
	ID     string // operator id
	Role   string
	Unit   string
	Origin string // client address
	// SteppedUp is when the session last proved a second factor, and
	// StepFactor which (purposes may require a fresh one). StepGroup is
	// the step-up group of the purpose that step-up named; "" when it named
	// none or was the login's own factor.
	SteppedUp  time.Time
	StepFactor string
	StepGroup  string
	// Sector is set for a partner organisation's client: it names subjects
	// by the sector's pseudonyms, never by their ids.
	Sector string
}

// Operators holds staff accounts.
type Operators interface {
	// PutOperator inserts; ErrConflict if the id or username exists.
	PutOperator(ctx context.Context, o *Operator) error
	GetOperator(ctx context.Context, id string) (*Operator, error)
	GetOperatorByName(ctx context.Context, username string) (*Operator, error)
	// AdvanceTOTP records step as the operator's last accepted TOTP step
	// if it is greater than the stored one, and reports whether it was.
	AdvanceTOTP(ctx context.Context, id string, step int64) (bool, error)
	// CountOperators returns how many operators exist.
	CountOperators(ctx context.Context) (int, error)
	// UnitExists reports whether an operator belongs to unit: the units
	// people may be created in are those that have staff.
	UnitExists(ctx context.Context, unit string) (bool, error)
	// SetOperatorRole changes an operator's role and unit at at
	// (RoleSince); ErrNotFound if there is no such operator.
	SetOperatorRole(ctx context.Context, id, role, unit string, at time.Time) error
	// LockOperator sets (code != "") or clears (code == "") an operator's
	// lock; ErrNotFound if there is no such operator.
	LockOperator(ctx context.Context, id, code string, at time.Time) error
}

// Sessions holds login challenges and sessions, by token hash.
type Sessions interface {
	PutSession(ctx context.Context, s *Session) error
	// GetSession returns the session with its operator's current role,
	// unit and state.
	GetSession(ctx context.Context, hash []byte) (*Session, error)
	// TouchSession sets last_seen; it adds 1 to attempts when attempt is set.
	TouchSession(ctx context.Context, hash []byte, lastSeen time.Time, attempt bool) error
	DeleteSession(ctx context.Context, hash []byte) error
	// DeleteOperatorSessions removes every session of an operator.
	DeleteOperatorSessions(ctx context.Context, operator string) error
	// DeleteAllSessions removes every session except those of operator
	// except ("" for none) and returns how many it removed.
	DeleteAllSessions(ctx context.Context, except string) (int, error)
	// OperatorSessions returns an operator's sessions (not login
	// challenges), newest first.
	OperatorSessions(ctx context.Context, operator string) ([]Session, error)
	// SetChallenge keeps a WebAuthn ceremony's state on a session or login
	// row (nil clears it).
	SetChallenge(ctx context.Context, hash, challenge []byte) error
	// StepUp records a fresh second factor on a session, proved for the
	// step-up group group ("" for none), and binds the session to origin
	// and user agent; ErrNotFound if there is no such session.
	StepUp(ctx context.Context, hash []byte, at time.Time, factor, group, origin, userAgent string) error
}

// Factors holds operators' second factors and login-failure counts.
type Factors interface {
	// PutWebAuthn stores a credential; ErrConflict if its id exists.
	PutWebAuthn(ctx context.Context, c *WebAuthnCredential) error
	// WebAuthnCredentials returns an operator's credentials, oldest first.
	WebAuthnCredentials(ctx context.Context, operator string) ([]WebAuthnCredential, error)
	// UpdateWebAuthn records a use: the new credential record, sign count
	// and time; ErrNotFound if there is no such credential.
	UpdateWebAuthn(ctx context.Context, id, credential []byte, signCount uint32, at time.Time) error
	// DeleteWebAuthn removes one of an operator's credentials; ErrNotFound
	// if the operator has no such credential.
	DeleteWebAuthn(ctx context.Context, operator string, id []byte) error
	// PutRecoveryCodes replaces an operator's recovery codes (hashes).
	PutRecoveryCodes(ctx context.Context, operator string, hashes [][]byte) error
	// UseRecoveryCode marks an unused code of the operator used and reports
	// whether there was one.
	UseRecoveryCode(ctx context.Context, operator string, hash []byte) (bool, error)
	// CountRecoveryCodes returns how many unused codes the operator has.
	CountRecoveryCodes(ctx context.Context, operator string) (int, error)
	// LoginFailure counts a failed login of an operator at at: the count
	// restarts when its first failure is older than window. It returns the
	// count; ErrNotFound if there is no such operator.
	LoginFailure(ctx context.Context, id string, at time.Time, window time.Duration) (int, error)
	// ResetLoginFailures clears the count (a successful login).
	ResetLoginFailures(ctx context.Context, id string) error
}

// Throttles holds the per-address throttles (operators' logins, people's
// code requests) and the logins' regulars, shared by every server of the
// store. A key names a counter and a client address (a keyed hash of it);
// its window opens at its first count.
type Throttles interface {
	// CountOrigin counts one for key at now, opening a window of every
	// when none is open (the count is then 1), and returns the count and
	// the window's end; windows that ended go.
	CountOrigin(ctx context.Context, key string, now time.Time, every time.Duration) (int, time.Time, error)
	// OriginCount returns key's count in its window open at now, and the
	// window's end (0 and the zero time: none open).
	OriginCount(ctx context.Context, key string, now time.Time) (int, time.Time, error)
	// HoldOrigin records that a request of key was refused in its open
	// window, and reports whether it is the first.
	HoldOrigin(ctx context.Context, key string, now time.Time) (bool, error)
	// PutRegular records a login at at of a username from an address,
	// key being a keyed hash of both; records older than before go.
	PutRegular(ctx context.Context, key string, at, before time.Time) error
	// Regular returns the time of key's latest login (zero: none kept).
	Regular(ctx context.Context, key string) (time.Time, error)
}

// Partners holds partner organisations and the sector pseudonyms they
// were given.
type Partners interface {
	// PutPartner stores a partner (its operator row must exist);
	// ErrConflict if the id, name or key exists.
	PutPartner(ctx context.Context, p *Partner) error
	GetPartner(ctx context.Context, id string) (*Partner, error)
	GetPartnerByName(ctx context.Context, name string) (*Partner, error)
	// GetPartnerByKey finds the partner of an API key hash.
	GetPartnerByKey(ctx context.Context, keyHash []byte) (*Partner, error)
	// SetPartnerCredentials replaces a partner's key hash and certificate
	// serial; ErrNotFound if there is no such partner.
	SetPartnerCredentials(ctx context.Context, id string, keyHash []byte, serial string) error
	// PutPseudonym records that pseudonym stands for subject in sector
	// (recording it again is no error).
	PutPseudonym(ctx context.Context, sector, pseudonym, subject string) error
	// ResolvePseudonym returns the subject of a pseudonym in sector, or
	// ErrNotFound.
	ResolvePseudonym(ctx context.Context, sector, pseudonym string) (string, error)
}

// Lifecycle holds what an account's life changes (disabling, deleting,
// logging in) and what a review of the accounts reads.
type Lifecycle interface {
	// SetOperatorDisabled disables (true) or enables an operator; enabling
	// restarts its inactivity clock at at (ActiveSince). ErrNotFound if
	// there is no such operator.
	SetOperatorDisabled(ctx context.Context, id string, disabled bool, at time.Time) error
	// EraseOperator removes an operator's identity: the username becomes
	// tombstone, the password hash, TOTP secret, WebAuthn credentials,
	// recovery codes and enrolment are erased, failures cleared, and the
	// account is disabled and marked deleted at at. The row and its id
	// stay, for the audit trail. ErrNotFound if there is no such operator.
	EraseOperator(ctx context.Context, id, tombstone string, at time.Time) error
	// RecordLogin records a successful login of an operator at at.
	RecordLogin(ctx context.Context, id string, at time.Time) error
	// ListOperators returns the operators (partners' rows included) whose
	// id sorts after after, by id, at most limit.
	ListOperators(ctx context.Context, after string, limit int) ([]Operator, error)
}

// Enrolments holds the enrolments of accounts waiting for their holder
// (created, or their factors reset, without a password or second factor)
// and sets the credentials an enrolment gives.
type Enrolments interface {
	// PutEnrolment stores an operator's enrolment, replacing the one it
	// had; ErrNotFound if there is no such operator.
	PutEnrolment(ctx context.Context, e *Enrolment) error
	// GetEnrolment returns an operator's enrolment; ErrNotFound if it has
	// none.
	GetEnrolment(ctx context.Context, operator string) (*Enrolment, error)
	// ApproveEnrolment records the approval of an operator's enrolment
	// that waits for one: the approver, the code's hash and its expiry.
	// ErrNotFound if the operator has no enrolment waiting for approval.
	ApproveEnrolment(ctx context.Context, operator, approver string, codeHash []byte, expires time.Time) error
	// SpendEnrolment deletes the operator's approved enrolment whose code
	// hash is codeHash and that expires after at, and reports whether
	// there was one: a code is spent once, whoever else tries it at the
	// same time.
	SpendEnrolment(ctx context.Context, operator string, codeHash []byte, at time.Time) (bool, error)
	// SetCredentials sets an operator's password hash and sealed TOTP
	// secret (nil: none); ErrNotFound if there is no such operator.
	SetCredentials(ctx context.Context, id, passwordHash string, totpSecret []byte) error
	// ClearFactors erases an operator's security keys and recovery codes.
	ClearFactors(ctx context.Context, id string) error
}

// Enrolment is how the holder of a new or reset account sets their own
// password and second factor: a one-time code, kept as its hash, issued
// when the enrolment is approved (by an administrator other than the one
// who asked, or on the host).
type Enrolment struct {
	Operator string
	// RequestedBy is who created or reset the account: an operator id, or
	// "system" for the host.
	RequestedBy string
	Created     time.Time
	// ApprovedBy is who approved the enrolment ("" until then); CodeHash
	// and Expires are set with it.
	ApprovedBy string
	CodeHash   []byte
	Expires    time.Time
}

// Operator is a staff account.
type Operator struct {
	ID           string
	Username     string
	PasswordHash string // argon2id, PHC string format
	TOTPSecret   []byte // sealed by the keyring, bound to ID
	TOTPStep     int64  // last accepted step
	Role         string
	Unit         string
	Created      time.Time
	Disabled     bool
	Locked       string // the guard's reason code; "" when not locked
	LockedAt     time.Time
	// Failures counts failed logins since FailuresSince.
	Failures      int
	FailuresSince time.Time
	// LastLogin is the last successful login (zero: none recorded).
	LastLogin time.Time
	// ActiveSince restarts the inactivity clock besides Created and
	// LastLogin: set when the account is enabled again (and, for accounts
	// that existed before last logins were recorded, by the migration).
	ActiveSince time.Time
	// Deleted is when the account's identity was erased (zero: it was not).
	Deleted time.Time
	// RoleSince is when the account was given its role (zero: at its
	// creation).
	RoleSince time.Time
}

// PowersSince is when the account last gained its powers: its creation,
// its enabling or its role, whichever is latest. An approver must be older
// than that by a minimum age (a two-person rule minted by one hand would
// otherwise approve itself).
func (o *Operator) PowersSince() time.Time {
	since := o.Created
	for _, t := range []time.Time{o.ActiveSince, o.RoleSince} {
		if t.After(since) {
			since = t
		}
	}
	return since
}

// SessionKind tells a half-done login from a session.
type SessionKind string

// The kinds of session row.
const (
	KindLogin   SessionKind = "login"   // password checked, second factor pending
	KindSession SessionKind = "session" // fully authenticated
)

// Session is a login challenge or a session. Only the token's hash is stored.
type Session struct {
	Hash     []byte
	Kind     SessionKind
	Operator string
	Created  time.Time
	LastSeen time.Time
	Expires  time.Time // absolute expiry
	Attempts int       // failed second-factor attempts (login kind)
	Origin   string
	// UserAgent is the client's User-Agent; with Origin, what the session
	// is bound to.
	UserAgent string
	// Challenge is the state of a WebAuthn ceremony in progress.
	Challenge []byte
	// SteppedUp is when a second factor was last proved in this session
	// (the login's, then each step-up), and StepFactor which one.
	// StepGroup is the step-up group of the purpose the last step-up named:
	// "" after the login and after a step-up that named no purpose.
	SteppedUp  time.Time
	StepFactor string
	StepGroup  string

	// From the operator, filled by GetSession.
	Role     string
	Unit     string
	Disabled bool
	Locked   string
}

// Partner is a partner organisation.
type Partner struct {
	ID         string // its operator row's id
	Name       string
	Sector     string
	KeyHash    []byte
	CertSerial string // the only client certificate serial accepted
	Created    time.Time
}

// WebAuthnCredential is a registered security key.
type WebAuthnCredential struct {
	ID         []byte
	Operator   string
	Name       string
	Credential []byte // the WebAuthn library's credential record, JSON
	SignCount  uint32
	Created    time.Time
	LastUsed   time.Time
}
