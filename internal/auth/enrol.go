package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/public"
	"github.com/coffre/coffre/internal/store"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// PendingPassword is the password hash of an account waiting for its
// holder's enrolment (created, or its factors reset). It is no PHC string
// (parseHash refuses it), so no password matches it, and a login checks
// the dummy hash instead: the same work, and the same answer, as for a
// wrong password.
const PendingPassword = "!enrol"

// DefaultEnrolFor is how long an enrolment code works once issued, unless
// Service.EnrolFor says otherwise.
const DefaultEnrolFor = 72 * time.Hour

// The bounds of a password chosen at enrolment.
const (
	MinPasswordChars = 12
	MaxPasswordBytes = 1024
)

// EnrolmentCode is a one-time code with which the holder of an account
// sets their own password and TOTP (POST /v1/auth/enrol), shown once to
// whoever issued it (the approving administrator, or the host) to hand to
// the person through another channel.
type EnrolmentCode struct {
	Operator string // the account's id
	Username string
	Code     string
	Expires  time.Time
}

// Enrolled is what an enrolment gives the account's holder, once: the TOTP
// secret to add to an authenticator app.
type Enrolled struct {
	Operator string
	// TOTPURI is the otpauth:// URI (for a QR code).
	TOTPURI    string
	TOTPSecret string
}

func (s *Service) enrolFor() time.Duration {
	if s.EnrolFor <= 0 {
		return DefaultEnrolFor
	}
	return s.EnrolFor
}

// codeAlphabet is base32 without padding, lower-case: no 0, 1, 8 or 9 to
// mistake for O, I, B or g when a code is read out or copied by hand.
var codeAlphabet = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// codeLen is an enrolment code's length without its dashes: 100 bits.
const codeLen = 20

// newEnrolmentCode returns a fresh code: 20 base32 characters in four
// groups of five, e.g. "k3h7q-…".
func newEnrolmentCode() string {
	b := make([]byte, 13)
	rand.Read(b)
	c := codeAlphabet.EncodeToString(b)[:codeLen]
	return c[0:5] + "-" + c[5:10] + "-" + c[10:15] + "-" + c[15:20]
}

// normalCode returns code as it is hashed: lower-case, without the
// dashes and spaces a person may type or leave out; ok is false when what
// is left cannot be a code.
func normalCode(code string) (string, bool) {
	c := strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' {
			return -1
		}
		return r
	}, strings.ToLower(code))
	if len(c) != codeLen || strings.Trim(c, "abcdefghijklmnopqrstuvwxyz234567") != "" {
		return "", false
	}
	return c, true
}

// codeHash is how an enrolment code is stored: SHA-256, bound to the
// account's id, so that a hash copied to another account's row opens
// nothing. (A code holds 100 random bits: no slow hash is needed.)
func codeHash(operator, normal string) []byte {
	h := sha256.Sum256([]byte("coffre enrolment\x00" + operator + "\x00" + normal))
	return h[:]
}

// checkNewPassword says why a password chosen at enrolment is refused (nil:
// it is not), as a public error.
func checkNewPassword(p string) error {
	const hint = "choose a longer passphrase: a few words are easy to remember and hard to guess"
	switch {
	case len(p) > MaxPasswordBytes:
		return public.Errorf(access.ErrInvalid, "invalid input: the password is over %d bytes", MaxPasswordBytes).WithHint("choose a shorter one")
	case !utf8.ValidString(p):
		return public.Errorf(access.ErrInvalid, "invalid input: the password is not valid UTF-8").WithHint(hint)
	case utf8.RuneCountInString(p) < MinPasswordChars:
		return public.Errorf(access.ErrInvalid, "invalid input: the password has fewer than %d characters", MinPasswordChars).WithHint(hint)
	}
	return nil
}

// pendingOperator makes an account waiting for its holder: no password
// that any matches, no second factor.
func (s *Service) pendingOperator(username, role, unit string) *identity.Operator {
	return &identity.Operator{ID: newOperatorID(), Username: username, PasswordHash: PendingPassword, Role: role, Unit: unit, Created: s.now()}
}

// putPending stores o, waiting for the enrolment requestedBy asks for; a
// taken username is refused (see [Service.act]).
func putPending(ctx context.Context, tx store.Tx, o *identity.Operator, requestedBy string) error {
	if err := tx.PutOperator(ctx, o); errors.Is(err, store.ErrConflict) {
		return refuse(public.WrapWithMessage(err, "conflict: the username is taken").WithHint("choose another username"))
	} else if err != nil {
		return err
	}
	return tx.PutEnrolment(ctx, &identity.Enrolment{Operator: o.ID, RequestedBy: requestedBy, Created: o.Created})
}

// AddOperator creates an operator from the host (in any role: privileged
// roles are granted there) waiting for its holder: no password, no second
// factor, and an enrolment approved by the host, whose code it returns for
// the host to hand to the person. The host is that other channel; no
// credential of the account ever exists outside the person's hands.
// Audited as operator.add by the host in the account's transaction; a
// taken username is refused (store.ErrConflict), audited.
func (s *Service) AddOperator(ctx context.Context, username, role, unit string) (*EnrolmentCode, error) {
	o := s.pendingOperator(username, role, unit)
	code := newEnrolmentCode()
	normal, _ := normalCode(code)
	expires := o.Created.Add(s.enrolFor())
	err := s.act(ctx, Host, "operator.add", guard.ActOperator, func(ctx context.Context, tx store.Tx, e *audit.Entry) error {
		if err := putPending(ctx, tx, o, Host.ID); err != nil {
			return err
		}
		e.Reason = o.ID + " role " + role
		return tx.ApproveEnrolment(ctx, o.ID, Host.ID, codeHash(o.ID, normal), expires)
	}, nil)
	if err != nil {
		return nil, err
	}
	return &EnrolmentCode{Operator: o.ID, Username: username, Code: code, Expires: expires}, nil
}

// ApproveEnrolment approves, on behalf of a (who holds the operators
// permission: the caller checks it), the enrolment of the account id,
// created through the API by another administrator, and returns its
// one-time code for a to hand to the person through another channel than
// the API. The code expires after Service.EnrolFor.
//
// Refusals, audited as operator.approve by a in the approval's
// transaction, are public errors: access.ErrForbidden (a created the
// account, or it is a's own, or its role is privileged), store.ErrNotFound
// (no such account) and store.ErrConflict (no enrolment waits for
// approval: approved already, or none; the account is disabled or
// deleted).
func (s *Service) ApproveEnrolment(ctx context.Context, a identity.Actor, pol *policy.Policy, id string) (*EnrolmentCode, error) {
	code := newEnrolmentCode()
	normal, _ := normalCode(code)
	expires := s.now().Add(s.enrolFor())
	var out *EnrolmentCode
	err := s.act(ctx, a, "operator.approve", guard.ActOperator, func(ctx context.Context, tx store.Tx, e *audit.Entry) error {
		out, e.Reason = nil, id
		op, err := tx.GetOperator(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return refuse(noOperator(err))
		} else if err != nil {
			return err
		}
		const state = "GET /v1/operators shows each account's state"
		en, err := tx.GetEnrolment(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return refuse(public.Errorf(store.ErrConflict, "conflict: no enrolment of the account %s waits for approval", id).WithHint("a new account waits for one; a code for an existing account is issued on the host: coffre operator enrol-code"))
		case err != nil:
			return err
		}
		e.Reason = id + " requested by " + en.RequestedBy
		switch {
		case op.ID == a.ID:
			return refuse(public.Errorf(access.ErrForbidden, "forbidden: nobody approves their own account"))
		case en.RequestedBy == a.ID:
			return refuse(public.Errorf(access.ErrForbidden, "forbidden: the administrator who created an account cannot approve it").WithHint("another holder of the operators permission approves it"))
		case !op.Deleted.IsZero():
			return refuse(public.Errorf(store.ErrConflict, "conflict: the account %s is deleted", id).WithHint(state))
		case op.Disabled:
			return refuse(public.Errorf(store.ErrConflict, "conflict: the account %s is disabled", id).WithHint("enable it first (POST /v1/operators/{id}/enable)"))
		case en.ApprovedBy != "":
			return refuse(public.Errorf(store.ErrConflict, "conflict: the enrolment of the account %s is approved already: its code went to its approver", id).WithHint("a new code is issued on the host: coffre operator enrol-code"))
		case pol != nil && grantable(pol, op.Role, false) != nil:
			return refuse(public.Errorf(access.ErrForbidden, "forbidden: the account has a privileged role").WithHint("privileged accounts are enrolled from the host: coffre operator enrol-code"))
		}
		if s.ApproverMinAge > 0 {
			approver, err := tx.GetOperator(ctx, a.ID)
			if err != nil {
				return err
			}
			if s.now().Sub(approver.PowersSince()) < s.ApproverMinAge {
				return refuse(public.Errorf(access.ErrForbidden, "forbidden: an approver's account must have had its role for %s: yours is newer", s.ApproverMinAge).WithHint("an established administrator approves it"))
			}
		}
		if err := tx.ApproveEnrolment(ctx, id, a.ID, codeHash(id, normal), expires); err != nil {
			return err
		}
		out = &EnrolmentCode{Operator: id, Username: op.Username, Code: code, Expires: expires}
		return nil
	}, nil)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ResetFactors resets the factors of the account ref (a username, or an
// id) from the host: its password, TOTP secret, security keys and
// recovery codes are erased and its sessions ended, and a new enrolment
// approved by the host replaces any it had; the code is returned for the
// host to hand to the person. A lock and a disabling stay. Audited as
// operator.reset by the host in the reset's transaction; an unknown
// account (store.ErrNotFound), a deleted one (store.ErrConflict) and a
// partner (access.ErrInvalid) are refused, audited.
func (s *Service) ResetFactors(ctx context.Context, ref string) (*EnrolmentCode, error) {
	return s.reset(ctx, Host, "operator.reset", guard.ActFactorReset, ref, "")
}

// ForceReenrol resets the factors of operator id as ResetFactors does,
// for a (a security officer containing a breach: the caller checks the
// permission), and keeps no enrolment code: nobody holds one, and the
// account stays out of reach until the host hands its holder a new one
// (coffre operator enrol-code). It gives no power, so it needs no fresh
// factor. Audited as operator.reenrol with the id and reason.
func (s *Service) ForceReenrol(ctx context.Context, a identity.Actor, id, reason string) error {
	_, err := s.reset(ctx, a, "operator.reenrol", guard.ActOther, id, reason)
	return err
}

// reset erases the factors of the account ref for a, audited as action.
func (s *Service) reset(ctx context.Context, a identity.Actor, action string, kind guard.Act, ref, reason string) (*EnrolmentCode, error) {
	code := newEnrolmentCode()
	normal, _ := normalCode(code)
	now := s.now()
	expires := now.Add(s.enrolFor())
	var out *EnrolmentCode
	err := s.act(ctx, a, action, kind, func(ctx context.Context, tx store.Tx, e *audit.Entry) error {
		out = nil
		op, err := s.target(ctx, tx, a, ref)
		if errors.Is(err, store.ErrNotFound) {
			return refuse(noOperator(err))
		} else if err != nil {
			return err
		}
		e.Reason = reasonText(op.ID, reason)
		switch {
		case op.PasswordHash == NoPassword:
			return refuse(public.Errorf(access.ErrInvalid, "invalid input: %s is a partner: rotate its credentials instead", op.ID).WithHint("coffre partner rotate"))
		case !op.Deleted.IsZero():
			return refuse(public.Errorf(store.ErrConflict, "conflict: the account %s is deleted", op.ID).WithHint("a deleted account stays deleted: create a new one"))
		}
		if err := tx.SetCredentials(ctx, op.ID, PendingPassword, nil); err != nil {
			return err
		}
		if err := tx.ClearFactors(ctx, op.ID); err != nil {
			return err
		}
		if err := tx.DeleteOperatorSessions(ctx, op.ID); err != nil {
			return err
		}
		err = tx.PutEnrolment(ctx, &identity.Enrolment{Operator: op.ID, RequestedBy: a.ID, Created: now, ApprovedBy: a.ID, CodeHash: codeHash(op.ID, normal), Expires: expires})
		if err != nil {
			return err
		}
		out = &EnrolmentCode{Operator: op.ID, Username: op.Username, Code: code, Expires: expires}
		if !isHost(a) {
			out.Code = "" // kept by nobody
		}
		return nil
	}, nil)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// enrolOutcome is what the transaction of an enrolment decided: the
// secret to show, or the refusal.
type enrolOutcome struct {
	enrolled *Enrolled
	deny     error
}

// Enrol sets the password and TOTP of the account username with its
// enrolment code, on behalf of its holder (POST /v1/auth/enrol), and
// returns the TOTP secret, shown once; the code is spent. The person logs
// in afterwards, as anyone does.
//
// A password of fewer than MinPasswordChars characters or over
// MaxPasswordBytes bytes is refused first (access.ErrInvalid, public).
// Then every attempt costs the same, whether the account exists or not:
// one argon2id hash of the password chosen, and one write transaction
// that decides, counts a failure and appends the audit entry (action
// enrol). An unknown username, a wrong, unapproved, expired or spent code,
// and a disabled or locked account all get ErrBadCredentials; a wrong
// code counts as a failed login of the account (Limits: guessing codes
// locks it as guessing passwords does), an unknown username as a login's
// does, and failures from one address throttle it with the login's
// throttle (*ThrottleError).
func (s *Service) Enrol(ctx context.Context, username, code, password, origin string) (*Enrolled, error) {
	if err := checkNewPassword(password); err != nil {
		return nil, err
	}
	now := s.now()
	if err := s.throttle(ctx, "", origin, now); err != nil {
		var te *ThrottleError
		if errors.As(err, &te) {
			return nil, err
		}
		return nil, fmt.Errorf("enrol: %w", err)
	}
	normal, wellFormed := normalCode(code)
	hash := HashPassword(s.params(), password) // whoever asks: the same work
	issuer := s.Issuer
	if issuer == "" {
		issuer = "Coffre"
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: username, SecretSize: 20, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return nil, fmt.Errorf("enrol: generate totp secret: %w", err)
	}
	pseudonym := s.loginPseudonym(username)
	out, err := update(ctx, s.Store, func(ctx context.Context, tx store.Tx) (enrolOutcome, error) {
		deny := enrolOutcome{deny: ErrBadCredentials}
		op, err := tx.GetOperatorByName(ctx, username)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return enrolOutcome{}, err
		}
		if op == nil || op.PasswordHash == NoPassword || !op.Deleted.IsZero() {
			// No account, or a partner's row, or a deleted one: counted
			// and audited as a login for an unknown name is.
			actor := "unknown:" + pseudonym
			if _, err := tx.LoginFailure(ctx, actor, now, s.Limits.window()); err != nil && !errors.Is(err, store.ErrNotFound) {
				return enrolOutcome{}, err
			}
			if err := s.originFailure(ctx, tx, origin); err != nil {
				return enrolOutcome{}, err
			}
			return deny, tx.AppendAudit(ctx, &audit.Entry{Time: now, Actor: actor, Action: "enrol", Decision: "deny:bad_credentials", Origin: origin})
		}
		o := *op // countFailure marks its copy locked; a rerun starts afresh
		if s.lockLapsed(&o, now) {
			if err := liftLapsedLock(ctx, tx, o.ID, now); err != nil {
				return enrolOutcome{}, err
			}
			o.Locked = ""
		}
		inactive := s.inactive(&o, now)
		if inactive {
			if err := s.disableInactive(ctx, tx, &o, now); err != nil {
				return enrolOutcome{}, err
			}
		}
		h := codeHash(o.ID, normal)
		why, err := enrolmentRefusal(ctx, tx, o.ID, h, wellFormed, now)
		if err != nil {
			return enrolOutcome{}, err
		}
		decision := ""
		switch {
		case why != "":
			decision = "deny:" + why
			if err := s.countFailure(ctx, tx, &o, origin); err != nil {
				return enrolOutcome{}, err
			}
		case o.Disabled || inactive:
			decision = "deny:disabled"
		case o.Locked != "":
			decision = "deny:locked"
		default:
			spent, err := tx.SpendEnrolment(ctx, o.ID, h, now)
			if err != nil {
				return enrolOutcome{}, err
			}
			if !spent {
				decision = "deny:code_spent" // by an enrolment at the same time
			}
		}
		if decision != "" {
			if err := s.originFailure(ctx, tx, origin); err != nil {
				return enrolOutcome{}, err
			}
			return deny, tx.AppendAudit(ctx, &audit.Entry{Time: now, Actor: o.ID, Action: "enrol", Decision: decision, Origin: origin})
		}
		if err := tx.SetCredentials(ctx, o.ID, hash, s.Keys.SealSecret(TOTPLabel(o.ID), []byte(key.Secret()))); err != nil {
			return enrolOutcome{}, err
		}
		return enrolOutcome{enrolled: &Enrolled{Operator: o.ID, TOTPURI: key.URL(), TOTPSecret: key.Secret()}},
			tx.AppendAudit(ctx, &audit.Entry{Time: now, Actor: o.ID, Action: "enrol", Decision: "allow", Origin: origin})
	})
	if err != nil {
		return nil, fmt.Errorf("enrol: %w", err)
	}
	if out.deny != nil {
		return nil, out.deny
	}
	return out.enrolled, nil
}

// enrolmentRefusal says why code (as codeHash made h of its normal form;
// wellFormed false when it cannot be a code) opens no enrolment of the
// account id at now: no_enrolment, not_approved, bad_code or expired; ""
// when it opens one.
func enrolmentRefusal(ctx context.Context, tx identity.Enrolments, id string, h []byte, wellFormed bool, now time.Time) (string, error) {
	e, err := tx.GetEnrolment(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "no_enrolment", nil
	case err != nil:
		return "", err
	case e.ApprovedBy == "":
		return "not_approved", nil
	case !wellFormed || subtle.ConstantTimeCompare(e.CodeHash, h) != 1:
		return "bad_code", nil
	case !now.Before(e.Expires):
		return "expired", nil
	}
	return "", nil
}
