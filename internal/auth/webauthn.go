package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/store"
	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"
)

// Second factors.
const (
	FactorTOTP     = "totp"
	FactorWebAuthn = "webauthn"
	FactorRecovery = "recovery"
)

// Errors of the second factors.
var (
	// ErrFactorNotAllowed: the operator's role does not accept this factor
	// (a role may demand a hardware key), or the operator has none.
	ErrFactorNotAllowed = errors.New("second factor not allowed for this account")
	// ErrStepUpRequired: the action needs a fresh second factor in this
	// session.
	ErrStepUpRequired = errors.New("step-up required")
	// ErrNoCeremony: no WebAuthn ceremony was begun on this login or
	// session (or it expired).
	ErrNoCeremony = errors.New("no webauthn ceremony in progress")
)

// waUser adapts an operator and its credentials to the WebAuthn library.
type waUser struct {
	op    *identity.Operator
	creds []webauthn.Credential
	// refused are the ids of the operator's keys that its role does not
	// accept now (see Service.dropRefused), left out of creds.
	refused [][]byte
}

func (u *waUser) WebAuthnID() []byte                         { return []byte(u.op.ID) }
func (u *waUser) WebAuthnName() string                       { return u.op.Username }
func (u *waUser) WebAuthnDisplayName() string                { return u.op.Username }
func (u *waUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// accounts is what reading an operator with its factors takes.
type accounts interface {
	identity.Operators
	identity.Factors
}

// loadUser reads an operator and its security keys.
func loadUser(ctx context.Context, tx accounts, id string) (*waUser, error) {
	op, err := tx.GetOperator(ctx, id)
	if err != nil {
		return nil, err
	}
	rows, err := tx.WebAuthnCredentials(ctx, id)
	if err != nil {
		return nil, err
	}
	return userOf(op, rows)
}

// userOf decodes the security keys of op.
func userOf(op *identity.Operator, rows []identity.WebAuthnCredential) (*waUser, error) {
	u := &waUser{op: op}
	for _, r := range rows {
		var c webauthn.Credential
		if err := json.Unmarshal(r.Credential, &c); err != nil {
			return nil, fmt.Errorf("credential of %s: %w", op.ID, err)
		}
		u.creds = append(u.creds, c)
	}
	return u, nil
}

// loadKeys reads an operator and the security keys its role accepts now.
func (s *Service) loadKeys(ctx context.Context, tx accounts, id string) (*waUser, error) {
	u, err := loadUser(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	s.dropRefused(u)
	return u, nil
}

// allows reports whether the operator's role accepts factor.
func (s *Service) allows(role, factor string) bool {
	if s.RoleFactors == nil {
		return true
	}
	fs := s.RoleFactors(role)
	if len(fs) == 0 {
		return true
	}
	for _, f := range fs {
		if f == factor {
			return true
		}
	}
	return false
}

// factors lists the second factors an operator can use now.
func (s *Service) factors(ctx context.Context, tx identity.Factors, op *identity.Operator) ([]string, error) {
	var out []string
	if s.allows(op.Role, FactorTOTP) && len(op.TOTPSecret) > 0 {
		out = append(out, FactorTOTP)
	}
	if s.WebAuthn != nil && s.allows(op.Role, FactorWebAuthn) {
		cs, err := tx.WebAuthnCredentials(ctx, op.ID)
		if err != nil {
			return nil, err
		}
		n := len(cs)
		if n > 0 && s.attested(op.Role) {
			u, err := userOf(op, cs)
			if err != nil {
				return nil, err
			}
			s.dropRefused(u)
			n = len(u.creds)
		}
		if n > 0 {
			out = append(out, FactorWebAuthn)
		}
	}
	if n, err := tx.CountRecoveryCodes(ctx, op.ID); err != nil {
		return nil, err
	} else if n > 0 {
		out = append(out, FactorRecovery)
	}
	return out, nil
}

// BeginWebAuthnLogin starts the WebAuthn assertion of a login: it returns
// the options for navigator.credentials.get and keeps the challenge on the
// login row.
func (s *Service) BeginWebAuthnLogin(ctx context.Context, loginToken string) (*protocol.CredentialAssertion, error) {
	if s.WebAuthn == nil {
		return nil, ErrFactorNotAllowed
	}
	h := HashToken(loginToken)
	var opts *protocol.CredentialAssertion
	err := s.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		ls, err := s.liveLogin(ctx, tx, h)
		if err != nil {
			return err
		}
		opts, err = s.beginAssertion(ctx, tx, ls.Operator, h)
		return err
	})
	if err != nil {
		return nil, loginError(err)
	}
	return opts, nil
}

// beginAssertion starts a WebAuthn assertion of operator's keys and keeps
// the ceremony's state on the login or session row h.
func (s *Service) beginAssertion(ctx context.Context, tx store.Tx, operator string, h []byte) (*protocol.CredentialAssertion, error) {
	u, err := s.loadKeys(ctx, tx, operator)
	if err != nil {
		return nil, err
	}
	if len(u.creds) == 0 || !s.allows(u.op.Role, FactorWebAuthn) {
		return nil, ErrFactorNotAllowed
	}
	opts, sd, err := s.WebAuthn.BeginLogin(u)
	if err != nil {
		return nil, fmt.Errorf("begin webauthn assertion: %w", err)
	}
	b, err := json.Marshal(sd)
	if err != nil {
		return nil, err
	}
	return opts, tx.SetChallenge(ctx, h, b)
}

// liveLogin returns the login row of h if it is a login challenge, not
// expired, with attempts left.
func (s *Service) liveLogin(ctx context.Context, tx identity.Sessions, h []byte) (*identity.Session, error) {
	ls, err := tx.GetSession(ctx, h)
	if err != nil {
		return nil, err
	}
	if ls.Kind != identity.KindLogin || s.now().After(ls.Expires) {
		return nil, ErrBadCredentials
	}
	if ls.Attempts >= s.maxAttempts() {
		return nil, ErrTooManyAttempts
	}
	return ls, nil
}

func (s *Service) maxAttempts() int {
	if s.MaxAttempts <= 0 {
		return 5
	}
	return s.MaxAttempts
}

// loginError maps store errors of a login step to what the caller sees.
func loginError(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return ErrBadCredentials
	case errors.Is(err, ErrBadCredentials), errors.Is(err, ErrTooManyAttempts), errors.Is(err, ErrFactorNotAllowed), errors.Is(err, ErrNoCeremony):
		return err
	default:
		return fmt.Errorf("login: %w", err)
	}
}

// FinishWebAuthnLogin completes a login with a WebAuthn assertion (the JSON
// of the PublicKeyCredential): the signature is checked against the
// operator's registered key, the sign count must grow (a cloned key is
// refused), and a session is returned.
func (s *Service) FinishWebAuthnLogin(ctx context.Context, loginToken string, assertion []byte, origin, userAgent string) (*Session, error) {
	if s.WebAuthn == nil {
		return nil, ErrFactorNotAllowed
	}
	parsed, perr := protocol.ParseCredentialRequestResponseBytes(assertion)
	return s.secondFactor(ctx, loginToken, FactorWebAuthn, "login.webauthn", origin, userAgent, func(ctx context.Context, tx store.Tx, ls *identity.Session, op *identity.Operator) (string, error) {
		if len(ls.Challenge) == 0 {
			return "", ErrNoCeremony
		}
		u, err := s.loadKeys(ctx, tx, op.ID)
		if err != nil {
			return "", err
		}
		cred, code := s.checkAssertion(u, ls.Challenge, parsed, perr)
		if code != "" {
			return code, nil
		}
		return "", s.recordUse(ctx, tx, cred, s.now())
	})
}

// checkAssertion validates an assertion against the ceremony state; it
// returns the credential used, or a reason code for the audit.
func (s *Service) checkAssertion(u *waUser, challenge []byte, parsed *protocol.ParsedCredentialAssertionData, perr error) (*webauthn.Credential, string) {
	if perr != nil {
		return nil, "malformed_assertion"
	}
	if slices.ContainsFunc(u.refused, func(id []byte) bool { return bytes.Equal(id, parsed.RawID) }) {
		return nil, "authenticator_not_allowed"
	}
	var sd webauthn.SessionData
	if err := json.Unmarshal(challenge, &sd); err != nil {
		return nil, "no_ceremony"
	}
	cred, err := s.WebAuthn.ValidateLogin(u, sd, parsed)
	if err != nil {
		return nil, "bad_assertion"
	}
	if cred.Authenticator.CloneWarning {
		return nil, "sign_count"
	}
	return cred, ""
}

// recordUse stores the credential's new sign count.
func (s *Service) recordUse(ctx context.Context, tx identity.Factors, cred *webauthn.Credential, now time.Time) error {
	b, err := json.Marshal(cred)
	if err != nil {
		return err
	}
	return tx.UpdateWebAuthn(ctx, cred.ID, b, cred.Authenticator.SignCount, now)
}

// failFactor records a failed second factor: an attempt on the login row,
// a login failure of the account (which may lock it), an audit entry.
func (s *Service) failFactor(ctx context.Context, tx store.Tx, h []byte, op *identity.Operator, action, code, origin string) error {
	if err := tx.TouchSession(ctx, h, s.now(), true); err != nil {
		return err
	}
	if err := tx.SetChallenge(ctx, h, nil); err != nil {
		return err
	}
	if err := s.countFailure(ctx, tx, op, origin); err != nil {
		return err
	}
	if err := s.originFailure(ctx, tx, origin); err != nil {
		return err
	}
	return tx.AppendAudit(ctx, &audit.Entry{Time: s.now(), Actor: op.ID, Action: action, Decision: "deny:" + code, Origin: origin})
}

// openSession turns the login row h into a session sh, proved by factor.
func (s *Service) openSession(ctx context.Context, tx store.Tx, h, sh []byte, op *identity.Operator, factor, action, origin, userAgent string) error {
	now := s.now()
	if err := tx.DeleteSession(ctx, h); err != nil {
		return err
	}
	if err := tx.PutSession(ctx, &identity.Session{Hash: sh, Kind: identity.KindSession, Operator: op.ID, Created: now, LastSeen: now,
		Expires: now.Add(s.absolute()), Origin: origin, UserAgent: userAgent, SteppedUp: now, StepFactor: factor}); err != nil {
		return err
	}
	if op.Failures > 0 {
		if err := tx.ResetLoginFailures(ctx, op.ID); err != nil {
			return err
		}
	}
	if err := tx.RecordLogin(ctx, op.ID, now); err != nil {
		return err
	}
	if err := s.loggedIn(ctx, tx, op.Username, origin, now); err != nil {
		return err
	}
	return tx.AppendAudit(ctx, &audit.Entry{Time: now, Actor: op.ID, Action: action, Decision: "allow", Origin: origin})
}

func (s *Service) absolute() time.Duration {
	if s.Max <= 0 {
		return 12 * time.Hour
	}
	return s.Max
}

// BeginWebAuthnRegistration starts adding a security key to the session's
// operator: it returns the options for navigator.credentials.create. The
// session must hold a fresh second factor.
func (s *Service) BeginWebAuthnRegistration(ctx context.Context, token string) (*protocol.CredentialCreation, error) {
	if s.WebAuthn == nil {
		return nil, ErrFactorNotAllowed
	}
	h := HashToken(token)
	var opts *protocol.CredentialCreation
	err := s.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		ses, err := s.freshSession(ctx, tx, h)
		if err != nil {
			return err
		}
		u, err := loadUser(ctx, tx, ses.Operator)
		if err != nil {
			return err
		}
		if !s.allows(u.op.Role, FactorWebAuthn) {
			return ErrFactorNotAllowed
		}
		var exclude []protocol.CredentialDescriptor
		for _, c := range u.creds {
			exclude = append(exclude, c.Descriptor())
		}
		regOpts := []webauthn.RegistrationOption{webauthn.WithExclusions(exclude)}
		if s.attested(u.op.Role) {
			regOpts = append(regOpts, webauthn.WithConveyancePreference(protocol.PreferDirectAttestation))
		}
		var sd *webauthn.SessionData
		if opts, sd, err = s.WebAuthn.BeginRegistration(u, regOpts...); err != nil {
			return fmt.Errorf("begin webauthn registration: %w", err)
		}
		b, err := json.Marshal(sd)
		if err != nil {
			return err
		}
		return tx.SetChallenge(ctx, h, b)
	})
	if err != nil {
		return nil, sessionError(err)
	}
	return opts, nil
}

// FinishWebAuthnRegistration stores the new security key named name from
// the attestation (the JSON of the PublicKeyCredential) and returns its id.
func (s *Service) FinishWebAuthnRegistration(ctx context.Context, token, name string, attestation []byte, origin string) ([]byte, error) {
	if s.WebAuthn == nil {
		return nil, ErrFactorNotAllowed
	}
	parsed, perr := protocol.ParseCredentialCreationResponseBytes(attestation)
	h := HashToken(token)
	now := s.now()
	var id []byte
	var bad bool
	var refused error
	err := s.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		id, bad, refused = nil, false, nil
		ses, err := tx.GetSession(ctx, h)
		if err != nil {
			return err
		}
		if len(ses.Challenge) == 0 {
			return ErrNoCeremony
		}
		u, err := loadUser(ctx, tx, ses.Operator)
		if err != nil {
			return err
		}
		var sd webauthn.SessionData
		var cred *webauthn.Credential
		if perr == nil {
			if err = json.Unmarshal(ses.Challenge, &sd); err == nil {
				cred, err = s.WebAuthn.CreateCredential(u, sd, parsed)
			}
		}
		if err := tx.SetChallenge(ctx, h, nil); err != nil {
			return err
		}
		if perr != nil || err != nil {
			bad = true
			return tx.AppendAudit(ctx, &audit.Entry{Time: now, Actor: u.op.ID, Action: "mfa.webauthn.add", Decision: "deny:bad_attestation", Origin: origin})
		}
		if reason := s.keyRefusal(u, cred); reason != "" {
			refused = s.Attestation.refused(reason, cred)
			return tx.AppendAudit(ctx, &audit.Entry{Time: now, Actor: u.op.ID, Action: "mfa.webauthn.add", Decision: "deny:" + reason, Reason: aaguidOf(cred), Origin: origin})
		}
		b, err := json.Marshal(cred)
		if err != nil {
			return err
		}
		if err := tx.PutWebAuthn(ctx, &identity.WebAuthnCredential{ID: cred.ID, Operator: u.op.ID, Name: name, Credential: b, SignCount: cred.Authenticator.SignCount, Created: now}); err != nil {
			return err
		}
		id = cred.ID
		return tx.AppendAudit(ctx, &audit.Entry{Time: now, Actor: u.op.ID, Action: "mfa.webauthn.add", Decision: "allow", Reason: name, Origin: origin})
	})
	if err != nil {
		return nil, sessionError(err)
	}
	if bad {
		return nil, ErrBadCredentials
	}
	if refused != nil {
		return nil, refused
	}
	return id, nil
}

// aaguidOf names the model of a refused key for its audit entry: an
// AAGUID names a model shared by many keys, not a person.
func aaguidOf(cred *webauthn.Credential) string {
	id, err := uuid.FromBytes(cred.Authenticator.AAGUID)
	if err != nil {
		return ""
	}
	return "aaguid " + id.String()
}

// WebAuthnKey is a registered security key as its owner sees it.
type WebAuthnKey struct {
	ID       []byte    `json:"id"`
	Name     string    `json:"name"`
	Created  time.Time `json:"created"`
	LastUsed time.Time `json:"last_used,omitzero"`
}

// WebAuthnKeys lists the security keys of the session's operator.
func (s *Service) WebAuthnKeys(ctx context.Context, a identity.Actor) ([]WebAuthnKey, error) {
	var out []WebAuthnKey
	err := s.Store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		rows, err := tx.WebAuthnCredentials(ctx, a.ID)
		for _, r := range rows {
			out = append(out, WebAuthnKey{ID: r.ID, Name: r.Name, Created: r.Created, LastUsed: r.LastUsed})
		}
		return err
	})
	if out == nil {
		out = []WebAuthnKey{}
	}
	return out, err
}

// RemoveWebAuthn removes one of the session's operator's security keys;
// the session must hold a fresh second factor.
func (s *Service) RemoveWebAuthn(ctx context.Context, token string, id []byte, origin string) error {
	h := HashToken(token)
	err := s.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		ses, err := s.freshSession(ctx, tx, h)
		if err != nil {
			return err
		}
		if err := tx.DeleteWebAuthn(ctx, ses.Operator, id); errors.Is(err, store.ErrNotFound) {
			return errNoKey
		} else if err != nil {
			return err
		}
		return tx.AppendAudit(ctx, &audit.Entry{Time: s.now(), Actor: ses.Operator, Action: "mfa.webauthn.remove", Decision: "allow", Origin: origin})
	})
	return sessionError(err)
}

// freshSession returns the session of h if it proved a second factor
// within the step-up window (changing one's factors needs it).
func (s *Service) freshSession(ctx context.Context, tx identity.Sessions, h []byte) (*identity.Session, error) {
	ses, err := tx.GetSession(ctx, h)
	if err != nil {
		return nil, err
	}
	if ses.Kind != identity.KindSession {
		return nil, ErrUnauthenticated
	}
	if s.now().Sub(ses.SteppedUp) > s.stepUpFor() {
		return nil, ErrStepUpRequired
	}
	return ses, nil
}

func (s *Service) stepUpFor() time.Duration {
	if s.StepUpFor <= 0 {
		return 5 * time.Minute
	}
	return s.StepUpFor
}

// sessionError maps store errors of a session-bound action.
func sessionError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errNoKey):
		return store.ErrNotFound
	case errors.Is(err, store.ErrNotFound):
		return ErrUnauthenticated
	case errors.Is(err, ErrUnauthenticated), errors.Is(err, ErrStepUpRequired), errors.Is(err, ErrFactorNotAllowed), errors.Is(err, ErrNoCeremony), errors.Is(err, ErrBadCredentials):
		return err
	default:
		return fmt.Errorf("session: %w", err)
	}
}

// errNoKey: the operator has no security key of that id.
var errNoKey = errors.New("no such security key")

// BeginWebAuthnStepUp starts a WebAuthn assertion inside a session (a
// step-up, or the re-check of a session used from elsewhere).
func (s *Service) BeginWebAuthnStepUp(ctx context.Context, token, origin, userAgent string) (*protocol.CredentialAssertion, error) {
	if s.WebAuthn == nil {
		return nil, ErrFactorNotAllowed
	}
	a, _, err := s.session(ctx, token, origin, userAgent, true)
	if err != nil {
		return nil, err
	}
	var opts *protocol.CredentialAssertion
	err = s.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		opts, err = s.beginAssertion(ctx, tx, a.ID, HashToken(token))
		return err
	})
	if err != nil {
		return nil, sessionError(err)
	}
	return opts, nil
}

// FinishWebAuthnStepUp completes it: the session's step-up time is renewed
// (factor webauthn), the session bound to this origin and user agent, and
// the proof serves purpose as in [Service.StepUpTOTP] (a purpose it cannot
// name is refused before the assertion is checked, the ceremony kept).
func (s *Service) FinishWebAuthnStepUp(ctx context.Context, token string, assertion []byte, purpose, origin, userAgent string) error {
	if s.WebAuthn == nil {
		return ErrFactorNotAllowed
	}
	a, _, err := s.session(ctx, token, origin, userAgent, true)
	if err != nil {
		return err
	}
	group, err := s.stepGroup(ctx, a, "stepup.webauthn", purpose)
	if err != nil {
		return err
	}
	parsed, perr := protocol.ParseCredentialRequestResponseBytes(assertion)
	h := HashToken(token)
	now := s.now()
	var bad bool
	err = s.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		bad = false
		ses, err := tx.GetSession(ctx, h)
		if err != nil {
			return err
		}
		if len(ses.Challenge) == 0 {
			return ErrNoCeremony
		}
		u, err := s.loadKeys(ctx, tx, a.ID)
		if err != nil {
			return err
		}
		cred, code := s.checkAssertion(u, ses.Challenge, parsed, perr)
		if err := tx.SetChallenge(ctx, h, nil); err != nil {
			return err
		}
		if code != "" {
			bad = true
			return tx.AppendAudit(ctx, &audit.Entry{Time: now, Actor: a.ID, Action: "stepup.webauthn", Purpose: purpose, Decision: "deny:" + code, Origin: origin})
		}
		if err := s.recordUse(ctx, tx, cred, now); err != nil {
			return err
		}
		if err := tx.StepUp(ctx, h, now, FactorWebAuthn, group, origin, userAgent); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, &audit.Entry{Time: now, Actor: a.ID, Action: "stepup.webauthn", Purpose: purpose, Decision: "allow", Origin: origin})
	})
	if err != nil {
		return sessionError(err)
	}
	if bad {
		return ErrBadCredentials
	}
	return nil
}
