// Package auth authenticates operators: password (argon2id) then a second
// factor (TOTP, RFC 6238, each code accepted once), giving an opaque session
// token stored only as its SHA-256 hash, with idle and absolute expiry.
//
// An unknown username and a wrong password get the same error after the
// same work (a dummy argon2id hash is checked, and the attempt is counted
// and audited in one write transaction either way), so login does not
// reveal which accounts exist; an unknown username is audited under a keyed
// pseudonym, never in clear.
//
// A new account's credentials never reach whoever created it: the account
// waits, with no usable password and no second factor, until its holder
// enrols with a one-time code ([Service.Enrol]) that only a second
// administrator ([Service.ApproveEnrolment]) or the host
// ([Service.AddOperator], [Service.ResetFactors]) receives.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/originlimit"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/public"
	"github.com/coffre/coffre/internal/store"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"golang.org/x/crypto/argon2"
)

// Errors callers branch on.
var (
	// ErrBadCredentials: unknown user, wrong password, wrong or reused
	// code, or an unknown login token: deliberately one error.
	ErrBadCredentials = errors.New("invalid credentials")
	// ErrUnauthenticated: no valid session for the token.
	ErrUnauthenticated = errors.New("not authenticated")
	// ErrTooManyAttempts: the login token's second-factor attempts are
	// used up; log in again.
	ErrTooManyAttempts = errors.New("too many attempts")
)

// Params are the argon2id parameters; tests use cheaper ones.
type Params struct {
	Time    uint32
	Memory  uint32 // KiB
	Threads uint8
}

// DefaultParams follow OWASP's argon2id recommendation (m=19 MiB, t=2, p=1).
var DefaultParams = Params{Time: 2, Memory: 19 * 1024, Threads: 1}

// Service authenticates operators against a store.
type Service struct {
	Store    store.Store
	Keys     *envelope.Keyring
	Params   Params
	Now      func() time.Time
	Issuer   string        // TOTP issuer shown by authenticator apps
	Idle     time.Duration // session idle expiry
	Max      time.Duration // session absolute expiry
	LoginTTL time.Duration // login token lifetime
	// MaxAttempts bounds second-factor tries per login token (default 5).
	MaxAttempts int
	// Limits bound login abuse (defaults in Limits' methods).
	Limits Limits
	// WebAuthn verifies security keys; nil disables them.
	WebAuthn *webauthn.WebAuthn
	// RoleFactors returns the second factors a role accepts (empty: all).
	RoleFactors func(role string) []string
	// RoleAttested reports whether a role demands attested security keys
	// (nil: none does). Such a role's registrations ask for direct
	// attestation and keep only keys Attestation accepts; its logins and
	// step-ups use only the keys it accepts now.
	RoleAttested func(role string) bool
	// Attestation is the allow-list of those roles (nil: it accepts no
	// key).
	Attestation *Attestation
	// StepUpFor is how long a proved second factor counts as fresh for
	// the actions that need one (default 5 minutes).
	StepUpFor time.Duration
	// DisableAfter disables an account that has not logged in for this
	// long (since its creation or enabling when it never did), at its next
	// login attempt or by DisableInactive; 0: never.
	DisableAfter time.Duration
	// Guard, when set, decides administrative acts (budgets, hours, the
	// hard margin) inside their transactions; the host's acts skip it.
	Guard AdminGuard
	// ApproverMinAge: who approves a new account must have had its own
	// account and role this long (0: any); guard.approver_min_age.
	ApproverMinAge time.Duration
	// EnrolFor is how long an enrolment code works once issued (default
	// DefaultEnrolFor, 72 hours).
	EnrolFor time.Duration
	// StepGroup returns the step-up group of a purpose a role may declare
	// and that asks for a step-up, with the errors of
	// policy.Policy.StepGroup; nil: a step-up can name no purpose.
	StepGroup func(role, purpose string) (string, error)

	refusals  originlimit.Refusals
	throttled atomic.Int64

	dummyOnce sync.Once
	dummy     string
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// HashPassword returns the PHC-format argon2id hash of password.
func HashPassword(p Params, password string) string {
	salt := make([]byte, hashSaltLen)
	rand.Read(salt)
	return formatHash(p, salt, argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, hashKeyLen))
}

// CheckPassword reports whether password matches the PHC hash. A hash
// parseHash refuses matches no password.
func CheckPassword(hash, password string) bool {
	p, salt, want, err := parseHash(hash)
	if err != nil {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// wellFormed reports whether hash is one CheckPassword runs argon2id for.
func wellFormed(hash string) bool {
	_, _, _, err := parseHash(hash)
	return err == nil
}

// The salt and key lengths HashPassword writes, the only ones parseHash
// accepts.
const hashSaltLen, hashKeyLen = 16, 32

// errBadHash is parseHash's one error: the text names no part of the hash.
var errBadHash = errors.New("not an argon2id hash as HashPassword writes them")

// formatHash writes the PHC string of an argon2id hash:
// $argon2id$v=19$m=<KiB>,t=<passes>,p=<threads>$<salt>$<key>, salt and key
// in unpadded standard base64.
func formatHash(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// parseHash reads what formatHash writes and nothing else: the numbers in
// shortest decimal, the base64 canonical, a salt of hashSaltLen bytes and
// a key of hashKeyLen, so that a hash that parses formats back to the
// same string. It refuses the parameters CheckPassword must not run:
// t or p of 0 (argon2 panics), m under 8p (argon2 would raise it), and
// t over 16 or m over 1 GiB (a stored hash must not make a login cost
// minutes).
func parseHash(hash string) (p Params, salt, key []byte, err error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return Params{}, nil, nil, errBadHash
	}
	ps := strings.Split(parts[3], ",")
	if len(ps) != 3 {
		return Params{}, nil, nil, errBadHash
	}
	var n [3]uint64
	for i, prefix := range []string{"m=", "t=", "p="} {
		digits, ok := strings.CutPrefix(ps[i], prefix)
		if !ok {
			return Params{}, nil, nil, errBadHash
		}
		if n[i], err = strconv.ParseUint(digits, 10, 32); err != nil || strconv.FormatUint(n[i], 10) != digits {
			return Params{}, nil, nil, errBadHash
		}
	}
	p = Params{Memory: uint32(n[0]), Time: uint32(n[1]), Threads: uint8(n[2])}
	if n[2] < 1 || n[2] > 255 || p.Time < 1 || p.Time > 16 || p.Memory < 8*uint32(p.Threads) || p.Memory > 1<<20 {
		return Params{}, nil, nil, errBadHash
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) != hashSaltLen || len(key) != hashKeyLen ||
		base64.RawStdEncoding.EncodeToString(salt) != parts[4] || base64.RawStdEncoding.EncodeToString(key) != parts[5] {
		return Params{}, nil, nil, errBadHash
	}
	return p, salt, key, nil
}

// NewPassword returns a random password of 20 base32 characters.
func NewPassword() string {
	b := make([]byte, 13)
	rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))[:20]
}

func newToken(prefix string) (string, []byte) {
	b := make([]byte, 32)
	rand.Read(b)
	tok := prefix + base64.RawURLEncoding.EncodeToString(b)
	return tok, HashToken(tok)
}

// HashToken is how a token is stored and looked up.
func HashToken(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

// NewOperator is what AddReadyOperator returns: the account and its
// credentials.
type NewOperator struct {
	Operator *identity.Operator
	Password string
	// TOTPURI is the otpauth:// enrolment URI (for a QR code).
	TOTPURI    string
	TOTPSecret string
}

// AddReadyOperator creates an operator ready to log in, with a password
// (an empty one generates one) and a fresh TOTP secret (sealed by the
// keyring), and returns them to the caller. It is for the host's own
// accounts, whose credentials stay with the host: the demo's, the drill's
// and the bench's, and tests. An account for a person is created waiting
// for its holder's enrolment instead ([Service.AddOperator],
// [Service.AdminAddOperator]): its credentials are never returned to
// whoever created it.
func (s *Service) AddReadyOperator(ctx context.Context, username, password, role, unit string) (*NewOperator, error) {
	op, err := s.newOperator(username, password, role, unit)
	if err != nil {
		return nil, err
	}
	o := op.Operator
	err = s.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tx.PutOperator(ctx, o); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, &audit.Entry{Time: o.Created, Actor: "system", Action: "operator.add", Decision: "allow", Reason: o.ID})
	})
	if err != nil {
		return nil, fmt.Errorf("add operator: %w", err)
	}
	return op, nil
}

// newOperator makes the account AddReadyOperator stores, and its
// credentials.
func (s *Service) newOperator(username, password, role, unit string) (*NewOperator, error) {
	if password == "" {
		password = NewPassword()
	}
	issuer := s.Issuer
	if issuer == "" {
		issuer = "Coffre"
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: username, SecretSize: 20, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return nil, fmt.Errorf("generate totp secret: %w", err)
	}
	id := newOperatorID()
	o := &identity.Operator{
		ID: id, Username: username, PasswordHash: HashPassword(s.params(), password),
		TOTPSecret: s.Keys.SealSecret(TOTPLabel(id), []byte(key.Secret())),
		Role:       role, Unit: unit, Created: s.now(),
	}
	return &NewOperator{Operator: o, Password: password, TOTPURI: key.URL(), TOTPSecret: key.Secret()}, nil
}

// NoPassword is the password hash of accounts nobody logs in to (partners).
const NoPassword = "!"

// newOperatorID returns a fresh operator id.
func newOperatorID() string {
	var b [10]byte
	rand.Read(b[:])
	return "op_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

func (s *Service) params() Params {
	if s.Params.Time == 0 {
		return DefaultParams
	}
	return s.Params
}

// Login checks username and password and returns a login token for the
// second factor, and the factors the operator can use. An unknown user, a
// wrong password, and an account locked after repeated failures all get
// ErrBadCredentials after the same work; too many failures from one origin
// get a *ThrottleError before any password work.
//
// The same work: one read of the operator by name, one argon2id check (of
// a dummy hash with the service's parameters when there is no account, or
// its stored hash does not parse), then one write transaction that counts
// the failure and appends the audit entry. An unknown user's failure is
// counted by the same statement as a known one's, on a key no operator row
// has (its keyed pseudonym), and audited under that pseudonym
// ("unknown:" and 16 hex digits): the attempted username is never stored.
func (s *Service) Login(ctx context.Context, username, password, origin string) (string, []string, error) {
	s.dummyOnce.Do(func() { s.dummy = HashPassword(s.params(), NewPassword()) })
	now := s.now()
	pseudonym := s.loginPseudonym(username)
	var op *identity.Operator
	err := s.Store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		op, err = tx.GetOperatorByName(ctx, username)
		return err
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", nil, fmt.Errorf("login: %w", err)
	}
	if op != nil && (op.PasswordHash == NoPassword || !op.Deleted.IsZero()) {
		op = nil // a partner's row, or a deleted account: no one logs in as it, and failures must not lock it
	}
	// The regulars' exemption is looked up by pseudonym whether or not the
	// account exists, so the throttle's own work tells nothing either.
	if err := s.throttle(ctx, pseudonym, origin, now); err != nil {
		var te *ThrottleError
		if errors.As(err, &te) {
			return "", nil, err
		}
		return "", nil, fmt.Errorf("login: %w", err)
	}
	hash, own := s.dummy, op != nil && wellFormed(op.PasswordHash)
	if own {
		hash = op.PasswordHash
	}
	ok := CheckPassword(hash, password) && own
	if op == nil {
		actor := "unknown:" + pseudonym
		err := s.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			// Nothing to count (no row has this key), but the statement
			// runs as a known user's does.
			if _, err := tx.LoginFailure(ctx, actor, now, s.Limits.window()); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if err := s.originFailure(ctx, tx, origin); err != nil {
				return err
			}
			return tx.AppendAudit(ctx, &audit.Entry{Time: now, Actor: actor, Action: "login.password", Decision: "deny:bad_credentials", Origin: origin})
		})
		if err != nil {
			return "", nil, fmt.Errorf("login: %w", err)
		}
		return "", nil, ErrBadCredentials
	}
	// A failure lock that has run out lifts now, in the attempt's own
	// transaction.
	unlock := s.lockLapsed(op, now)
	locked := op.Locked
	if unlock {
		locked = ""
	}
	// An account without a login for too long is disabled now, whatever
	// the password, in the attempt's own transaction.
	inactive := s.inactive(op, now)
	var decision string
	var deny error // nil: a login token
	switch {
	case !ok:
		decision, deny = "deny:bad_credentials", ErrBadCredentials
	case op.Disabled || inactive:
		// The right password, on a disabled account: the same answer.
		decision, deny = "deny:disabled", ErrBadCredentials
	case locked == LockLoginFailures || locked == guard.CodeManual:
		// The right password, on a locked account: the same answer. A
		// lock by hand may come before the thief's first login: the
		// answer must not confirm the password.
		decision, deny = "deny:locked", ErrBadCredentials
	case locked != "":
		// Locked by the guard: whoever holds the password learns it, the
		// password is known to the attacker already.
		decision, deny = "deny:locked", access.ErrLocked
	}
	tok, h := newToken("cfl_")
	ttl := s.LoginTTL
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}
	factors, err := update(ctx, s.Store, func(ctx context.Context, tx store.Tx) ([]string, error) {
		o := *op // countFailure marks its copy locked; a rerun starts afresh
		o.Locked = locked
		if inactive {
			if err := s.disableInactive(ctx, tx, &o, now); err != nil {
				return nil, err
			}
		}
		if unlock {
			if err := liftLapsedLock(ctx, tx, o.ID, now); err != nil {
				return nil, err
			}
		}
		if !ok {
			if err := s.countFailure(ctx, tx, &o, origin); err != nil {
				return nil, err
			}
		}
		if deny == ErrBadCredentials {
			if err := s.originFailure(ctx, tx, origin); err != nil {
				return nil, err
			}
		}
		if deny != nil {
			return nil, tx.AppendAudit(ctx, &audit.Entry{Time: now, Actor: o.ID, Action: "login.password", Decision: decision, Origin: origin})
		}
		factors, err := s.factors(ctx, tx, &o)
		if err != nil {
			return nil, err
		}
		if err := tx.PutSession(ctx, &identity.Session{Hash: h, Kind: identity.KindLogin, Operator: o.ID, Created: now, LastSeen: now, Expires: now.Add(ttl), Origin: origin}); err != nil {
			return nil, err
		}
		return factors, tx.AppendAudit(ctx, &audit.Entry{Time: now, Actor: o.ID, Action: "login.password", Decision: "allow", Origin: origin})
	})
	switch {
	case err != nil:
		return "", nil, fmt.Errorf("login: %w", err)
	case deny != nil:
		return "", nil, deny
	}
	return tok, factors, nil
}

// lockLapsed reports whether op is locked after failed logins and the
// lock has run out (Limits.LockFor): it lifts at the next attempt.
func (s *Service) lockLapsed(op *identity.Operator, now time.Time) bool {
	return op.Locked == LockLoginFailures && s.Limits.LockFor > 0 && now.Sub(op.LockedAt) >= s.Limits.LockFor
}

// liftLapsedLock lifts a lock that has run out, in the transaction of the
// attempt that finds it, audited as the system's.
func liftLapsedLock(ctx context.Context, tx store.Tx, id string, now time.Time) error {
	if err := tx.LockOperator(ctx, id, "", now); err != nil {
		return err
	}
	return tx.AppendAudit(ctx, &audit.Entry{Time: now, Actor: "system", Action: "login.unlock", Reason: id, Decision: "allow:lock_expired"})
}

// loginPseudonym is the keyed pseudonym of an attempted username: 16 hex
// digits of its keyed hash under the label "login.username"
// (envelope.Keyring.StableHash: generation 1's blind-index key, which a
// rebuild of the index does not change; no schema field has a dot in its
// name). The audit names an unknown user's attempts
// by it, and the throttle its regulars, so that neither holds what was
// typed (which may be someone's email address, or a password typed into
// the wrong field). Usernames match exactly, so the username is hashed as
// given.
func (s *Service) loginPseudonym(username string) string {
	return hex.EncodeToString(s.Keys.StableHash("login.username", username)[:8])
}

// update runs fn in one write transaction of st and returns its result. A
// store may run fn twice (group commit retries), so fn returns its result
// rather than setting variables it captured.
func update[T any](ctx context.Context, st store.Store, fn func(context.Context, store.Tx) (T, error)) (T, error) {
	var out T
	err := st.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		out, err = fn(ctx, tx)
		return err
	})
	return out, err
}

// countFailure counts a failed login of op and locks it when the failures
// reach Limits.MaxFailures within the window: every session revoked, an
// alert for the security officers, an audit entry.
func (s *Service) countFailure(ctx context.Context, tx store.Tx, op *identity.Operator, origin string) error {
	now := s.now()
	n, err := tx.LoginFailure(ctx, op.ID, now, s.Limits.window())
	if err != nil {
		return err
	}
	if n < s.Limits.maxFailures() || op.Locked != "" {
		return nil
	}
	if err := tx.LockOperator(ctx, op.ID, LockLoginFailures, now); err != nil {
		return err
	}
	if err := tx.DeleteOperatorSessions(ctx, op.ID); err != nil {
		return err
	}
	e := &audit.Entry{Time: now, Actor: "auth", Action: "login.lock", Reason: LockLoginFailures, Decision: "lock:" + op.ID, Origin: origin}
	if err := tx.AppendAudit(ctx, e); err != nil {
		return err
	}
	op.Locked = LockLoginFailures
	return guard.RaiseAlert(ctx, tx, &guard.Alert{Time: now, Operator: op.ID, Code: LockLoginFailures, Severity: "high", Action: "lock", Evidence: []int64{e.Seq}})
}

// audit appends an entry of its own (a refusal that changes nothing).
func (s *Service) audit(ctx context.Context, actor, action, decision, origin string) error {
	return s.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.AppendAudit(ctx, &audit.Entry{Time: s.now(), Actor: actor, Action: action, Decision: decision, Origin: origin})
	})
}

// Session is an authenticated session as returned by VerifyTOTP.
type Session struct {
	Token   string
	Expires time.Time
}

// VerifyTOTP completes a login with a TOTP code. The code's time step must
// be later than the last one accepted for the operator, so a code works
// once; at most one step of clock drift back is accepted.
func (s *Service) VerifyTOTP(ctx context.Context, loginToken, code, origin, userAgent string) (*Session, error) {
	return s.secondFactor(ctx, loginToken, FactorTOTP, "login.totp", origin, userAgent, func(ctx context.Context, tx store.Tx, _ *identity.Session, op *identity.Operator) (string, error) {
		secret, err := s.Keys.OpenSecret(TOTPLabel(op.ID), op.TOTPSecret)
		if err != nil {
			return "", err
		}
		step := matchStep(secret, code, s.now())
		if step < 0 {
			return "bad_code", nil
		}
		ok, err := tx.AdvanceTOTP(ctx, op.ID, step)
		if err != nil || !ok {
			return "code_reused", err
		}
		return "", nil
	})
}

// secondFactor completes a login with factor, checked by check (which
// returns a reason code for a refusal). The attempt count of the login
// token is checked inside the write transaction, so that concurrent
// guesses on one token cannot all pass.
func (s *Service) secondFactor(ctx context.Context, loginToken, factor, action, origin, userAgent string, check func(context.Context, store.Tx, *identity.Session, *identity.Operator) (string, error)) (*Session, error) {
	h := HashToken(loginToken)
	now := s.now()
	tok, sh := newToken("cfs_")
	var ok bool
	err := s.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		ok = false
		ls, err := s.liveLogin(ctx, tx, h)
		if err != nil {
			return err
		}
		op, err := tx.GetOperator(ctx, ls.Operator)
		if err != nil {
			return err
		}
		if op.Disabled || op.Locked != "" {
			// Disabled or locked since the password step (which ends the
			// login rows too): no session, whatever the factor.
			if err := tx.DeleteSession(ctx, h); err != nil {
				return err
			}
			return tx.AppendAudit(ctx, &audit.Entry{Time: now, Actor: op.ID, Action: action, Decision: "deny:locked", Origin: origin})
		}
		if factor != FactorRecovery && !s.allows(op.Role, factor) {
			return s.failFactor(ctx, tx, h, op, action, "factor_not_allowed", origin)
		}
		code, err := check(ctx, tx, ls, op)
		if err != nil {
			return err
		}
		if code != "" {
			return s.failFactor(ctx, tx, h, op, action, code, origin)
		}
		ok = true
		return s.openSession(ctx, tx, h, sh, op, factor, action, origin, userAgent)
	})
	if err != nil {
		return nil, loginError(err)
	}
	if !ok {
		return nil, ErrBadCredentials
	}
	return &Session{Token: tok, Expires: now.Add(s.absolute())}, nil
}

// matchStep returns the TOTP time step whose code is code (the current one
// or one step of drift back), or -1.
func matchStep(secret []byte, code string, now time.Time) int64 {
	for _, back := range []int64{0, 1} {
		st := now.Unix()/30 - back
		want, err := totp.GenerateCodeCustom(string(secret), time.Unix(st*30, 0), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err == nil && len(code) == 6 && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return st
		}
	}
	return -1
}

// StepUp checks a fresh second factor of an authenticated operator (an
// approval under the two-person rule): a TOTP code not used before. Every
// attempt is audited.
func (s *Service) StepUp(ctx context.Context, operator, code, origin string) error {
	return s.checkTOTP(ctx, operator, code, origin, "", nil)
}

// checkTOTP is StepUp, auditing the purpose the step-up names; proved,
// when set, records the proof in the same transaction as the code's use
// and its audit entry.
func (s *Service) checkTOTP(ctx context.Context, operator, code, origin, purpose string, proved func(context.Context, store.Tx) error) error {
	var op *identity.Operator
	err := s.Store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		op, err = tx.GetOperator(ctx, operator)
		return err
	})
	if err != nil {
		return fmt.Errorf("step-up: %w", err)
	}
	secret, err := s.Keys.OpenSecret(TOTPLabel(op.ID), op.TOTPSecret)
	if err != nil {
		return fmt.Errorf("step-up: %w", err)
	}
	now := s.now()
	step := matchStep(secret, code, now)
	var ok bool
	err = s.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		ok = false
		decision := "deny:bad_code"
		if step >= 0 {
			adv, err := tx.AdvanceTOTP(ctx, op.ID, step)
			if err != nil {
				return err
			}
			if ok, decision = adv, "allow"; !adv {
				decision = "deny:code_reused"
			}
		}
		if ok && proved != nil {
			if err := proved(ctx, tx); err != nil {
				return err
			}
		}
		return tx.AppendAudit(ctx, &audit.Entry{Time: now, Actor: op.ID, Action: "stepup.totp", Purpose: purpose, Decision: decision, Origin: origin})
	})
	if err != nil {
		return fmt.Errorf("step-up: %w", err)
	}
	if !ok {
		return ErrBadCredentials
	}
	return nil
}

// StepUpTOTP proves a fresh TOTP code in the session of token, from where
// the request comes: the session's step-up time is renewed, the session is
// bound to this origin and user agent (the re-check after a move), and the
// proof serves reads under purpose and the purposes of its step-up group
// (none when purpose is ""; see [Service.StepGroup]). A purpose the step-up
// cannot name is refused (access.ErrInvalid or access.ErrForbidden, audited)
// before the code is checked.
func (s *Service) StepUpTOTP(ctx context.Context, token, code, purpose, origin, userAgent string) error {
	a, _, err := s.session(ctx, token, origin, userAgent, true)
	if err != nil {
		return err
	}
	if !s.allows(a.Role, FactorTOTP) {
		return ErrFactorNotAllowed
	}
	group, err := s.stepGroup(ctx, a, "stepup.totp", purpose)
	if err != nil {
		return err
	}
	return s.checkTOTP(ctx, a.ID, code, origin, purpose, func(ctx context.Context, tx store.Tx) error {
		return tx.StepUp(ctx, HashToken(token), s.now(), FactorTOTP, group, origin, userAgent)
	})
}

// stepGroup returns the step-up group of the purpose a step-up names (""
// for none). A purpose it cannot name (unknown, not the role's, asking for
// no step-up) is refused with a public error, and the refusal is audited
// as action.
func (s *Service) stepGroup(ctx context.Context, a identity.Actor, action, purpose string) (string, error) {
	if purpose == "" {
		return "", nil
	}
	group, err := "", fmt.Errorf("%w %q", policy.ErrUnknownPurpose, purpose) // no policy: none is known
	if s.StepGroup != nil {
		group, err = s.StepGroup(a.Role, purpose)
	}
	if err == nil {
		return group, nil
	}
	kind, code := access.ErrInvalid, "invalid"
	if errors.Is(err, policy.ErrUnknownRole) || errors.Is(err, policy.ErrPurposeNotAllowed) {
		kind, code = access.ErrForbidden, "forbidden"
	}
	if aerr := s.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.AppendAudit(ctx, &audit.Entry{Time: s.now(), Actor: a.ID, Action: action, Purpose: purpose, Decision: "deny:" + code, Origin: a.Origin})
	}); aerr != nil {
		return "", fmt.Errorf("step-up: %w", aerr)
	}
	return "", public.Errorf(kind, "step-up: %v", err)
}

// touchEvery bounds how often a session's last-seen time is written.
const touchEvery = time.Minute

// ErrSessionMoved: the session is used from another address or user agent
// than it was bound to; a fresh second factor (a step-up from the new
// place) rebinds it.
var ErrSessionMoved = errors.New("session used from another address or client")

// Authenticate returns the actor of a session token, enforcing idle and
// absolute expiry and the session's binding to its origin and user agent.
func (s *Service) Authenticate(ctx context.Context, token, origin, userAgent string) (identity.Actor, error) {
	a, _, err := s.session(ctx, token, origin, userAgent, false)
	return a, err
}

// session is Authenticate; moved allows a session used from elsewhere (to
// step up and rebind it).
func (s *Service) session(ctx context.Context, token, origin, userAgent string, moved bool) (identity.Actor, *identity.Session, error) {
	if !strings.HasPrefix(token, "cfs_") || len(token) > 100 {
		return identity.Actor{}, nil, ErrUnauthenticated
	}
	h := HashToken(token)
	var ses *identity.Session
	err := s.Store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		ses, err = tx.GetSession(ctx, h)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return identity.Actor{}, nil, ErrUnauthenticated
	}
	if err != nil {
		return identity.Actor{}, nil, fmt.Errorf("authenticate: %w", err)
	}
	now := s.now()
	idle := s.Idle
	if idle <= 0 {
		idle = 30 * time.Minute
	}
	if ses.Kind != identity.KindSession || ses.Disabled || now.After(ses.Expires) || now.Sub(ses.LastSeen) > idle {
		return identity.Actor{}, nil, ErrUnauthenticated
	}
	if ses.Locked != "" {
		return identity.Actor{}, nil, access.ErrLocked
	}
	if !moved && (ses.Origin != origin || ses.UserAgent != userAgent) {
		return identity.Actor{}, nil, ErrSessionMoved
	}
	if now.Sub(ses.LastSeen) > touchEvery {
		if err := s.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.TouchSession(ctx, h, now, false) }); err != nil {
			return identity.Actor{}, nil, fmt.Errorf("authenticate: %w", err)
		}
	}
	return identity.Actor{ID: ses.Operator, Role: ses.Role, Unit: ses.Unit, Origin: origin, SteppedUp: ses.SteppedUp, StepFactor: ses.StepFactor, StepGroup: ses.StepGroup}, ses, nil
}

// Logout ends the session of token.
func (s *Service) Logout(ctx context.Context, token string) error {
	h := HashToken(token)
	return s.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		ses, err := tx.GetSession(ctx, h)
		if err != nil {
			return err
		}
		if err := tx.DeleteSession(ctx, h); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, &audit.Entry{Time: s.now(), Actor: ses.Operator, Action: "logout", Decision: "allow"})
	})
}
