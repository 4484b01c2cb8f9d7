package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/partner"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/public"
	"github.com/coffre/coffre/internal/store"
)

// Privileged permissions: a role holding one of them is granted only from
// the command line (which needs the host and the root key), never through
// the API, so that no administrator can give itself, or an accomplice,
// the power to unlock, audit or administer (separation of duties).
var Privileged = []policy.Permission{policy.PermOperators, policy.PermSecurity, policy.PermAudit, policy.PermSeal, policy.PermIncidents}

// Host is the actor of the acts made on the host (the coffre command),
// where privileged roles are granted and every account may be changed.
var Host = identity.Actor{ID: "system", Origin: "cli"}

// grantable checks that the API may grant role to an operator (partner:
// false) or to a partner (partner: true): a partner role only to a
// partner, and to a partner nothing else.
func grantable(pol *policy.Policy, role string, partner bool) error {
	r, err := pol.Role(role)
	if err != nil {
		return public.Errorf(access.ErrInvalid, "invalid input: %v", err) // a policy error: names only
	}
	if err := partnerRole(r, partner); err != nil {
		return err
	}
	for _, p := range Privileged {
		if r.Has(p) {
			return public.Errorf(access.ErrForbidden, "forbidden: role %q holds the privileged permission %q: grant it with the coffre command on the host", role, p)
		}
	}
	return nil
}

// refusal is an administrative act refused inside its transaction, before
// it changed anything (see [Service.act]).
type refusal struct{ err error }

func (r *refusal) Error() string { return r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

// refuse marks err, a public error, as the refusal of an act.
func refuse(err error) error { return &refusal{err: err} }

// change makes an administrative act's change in tx and sets the reason
// of its audit entry e (the ids it touched) and, if need be, its decision
// ("allow" unless set); or it returns a refusal.
type change func(ctx context.Context, tx store.Tx, e *audit.Entry) error

// act runs one administrative act of a, named action in the audit log, in
// one write transaction: fn makes the change and the audit entry is
// appended in the same transaction, then after (when set) runs with the
// entry's sequence number. When fn returns an error made by refuse (before
// it changed anything), the refusal is audited (deny:<code>, with the
// reason fn set) in that transaction and returned. Any other error rolls
// the act back; an entry that cannot be written fails the act, nothing
// changed, with store.ErrUnavailable.
func (s *Service) act(ctx context.Context, a identity.Actor, action string, kind guard.Act, fn change, after func(ctx context.Context, tx store.Tx, seq int64) error) error {
	now := s.now()
	refused, err := update(ctx, s.Store, func(ctx context.Context, tx store.Tx) (error, error) {
		e := &audit.Entry{Time: now, Actor: a.ID, Action: action, Decision: "allow", Origin: a.Origin}
		if grantsPower(kind) && !isHost(a) && now.Sub(a.SteppedUp) > access.FreshFactor {
			// A stolen session token alone administers nothing.
			e.Decision = "deny:step_up_required"
			if err := tx.AppendAudit(ctx, e); err != nil {
				return nil, unavailable(err)
			}
			return public.Errorf(ErrStepUpRequired, "this act needs a second factor proved within the last %s", access.FreshFactor), nil
		}
		var v AdminVerdict
		if s.Guard != nil && kind != 0 && !isHost(a) {
			var err error
			if v, err = s.Guard.CheckAdmin(ctx, tx, a, kind); err != nil {
				return nil, err
			}
			e.Decision = v.AuditDecision()
		}
		var r *refusal
		if v != nil && v.Refusal() != nil {
			r = &refusal{err: v.Refusal()}
		} else if err := fn(ctx, tx, e); errors.As(err, &r) {
			e.Decision = denial(r.err)
		} else if err != nil {
			return nil, err
		}
		if err := tx.AppendAudit(ctx, e); err != nil {
			return nil, unavailable(err)
		}
		if v != nil {
			if err := v.Finish(ctx, tx, e.Seq); err != nil {
				return nil, err
			}
		}
		if r != nil {
			return r.err, nil
		}
		if after != nil {
			return nil, after(ctx, tx, e.Seq)
		}
		return nil, nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	return refused
}

// grantsPower reports whether an act of kind gives power, and so needs a
// fresh second factor.
func grantsPower(kind guard.Act) bool {
	return kind == guard.ActOperator || kind == guard.ActRole || kind == guard.ActFactorReset || kind == guard.ActPartner
}

// refuseAct audits a refusal of an act decided before its transaction
// (reason names what it was about) and returns err. The refusal counts
// towards a's hard margin, as refusals of data access do: probing what
// the API grants is not free.
func (s *Service) refuseAct(ctx context.Context, a identity.Actor, action, reason string, err error) error {
	return s.act(ctx, a, action, guard.ActRefused, func(_ context.Context, _ store.Tx, e *audit.Entry) error {
		e.Reason = reason
		return refuse(err)
	}, nil)
}

// AdminGuard is the guard of administrative acts (the vault's, wired by
// the coffre command): CheckAdmin decides act of a inside the act's
// transaction, before its change; guard.ActRefused counts a refusal made
// before the transaction.
type AdminGuard interface {
	CheckAdmin(ctx context.Context, tx store.Tx, a identity.Actor, act guard.Act) (AdminVerdict, error)
}

// AdminVerdict is a decision of the AdminGuard: the refusal (nil: the act
// may go on), the audit decision, and Finish, which records the guard's
// state after the act's audit entry seq.
type AdminVerdict interface {
	Refusal() error
	AuditDecision() string
	Finish(ctx context.Context, tx store.Tx, seq int64) error
}

// unavailable marks an error that kept an act's audit entry from being
// written: the act did not happen, and the store may take it later.
func unavailable(err error) error {
	if errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrPanic) {
		return err
	}
	return fmt.Errorf("%w: %v", store.ErrUnavailable, err)
}

// AdminAddOperator creates an operator on behalf of a (who holds the
// operators permission), in a non-privileged role, waiting for its
// holder's enrolment: no password, no second factor, and an enrolment
// that a second administrator approves ([Service.ApproveEnrolment]), whose
// answer alone carries the code. Nothing secret is returned to a. The
// account, its enrolment and a's audit entry are written in one
// transaction.
func (s *Service) AdminAddOperator(ctx context.Context, a identity.Actor, pol *policy.Policy, username, role, unit string) (*identity.Operator, error) {
	if err := grantable(pol, role, false); err != nil {
		return nil, s.refuseAct(ctx, a, "operator.add", "", err)
	}
	o := s.pendingOperator(username, role, unit)
	err := s.act(ctx, a, "operator.add", guard.ActOperator, func(ctx context.Context, tx store.Tx, e *audit.Entry) error {
		if err := putPending(ctx, tx, o, a.ID); err != nil {
			return err
		}
		e.Reason = o.ID + " role " + role
		return nil
	}, nil)
	if err != nil {
		return nil, err
	}
	return o, nil
}

// AdminSetRole moves operator id to role and unit on behalf of a: never a's
// own account, never to or from a privileged role.
func (s *Service) AdminSetRole(ctx context.Context, a identity.Actor, pol *policy.Policy, id, role, unit string) error {
	if id == a.ID {
		return s.refuseAct(ctx, a, "operator.role", id, public.Errorf(access.ErrForbidden, "forbidden: nobody changes their own role"))
	}
	if err := grantable(pol, role, false); err != nil {
		return s.refuseAct(ctx, a, "operator.role", id, err)
	}
	return s.act(ctx, a, "operator.role", guard.ActRole, func(ctx context.Context, tx store.Tx, e *audit.Entry) error {
		e.Reason = id
		op, err := tx.GetOperator(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return refuse(noOperator(err))
		} else if err != nil {
			return err
		}
		if op.PasswordHash == NoPassword {
			return refuse(public.Errorf(access.ErrInvalid, "invalid input: %s is a partner: rotate or re-register it instead", id))
		}
		if !op.Deleted.IsZero() {
			return refuse(public.Errorf(store.ErrConflict, "conflict: the account %s is deleted", id))
		}
		if err := grantable(pol, op.Role, false); err != nil {
			return refuse(public.Errorf(access.ErrForbidden, "forbidden: the account has a privileged role"))
		}
		if err := tx.SetOperatorRole(ctx, id, role, unit, s.now()); err != nil {
			return err
		}
		if err := tx.DeleteOperatorSessions(ctx, id); err != nil {
			return err // the new role applies from the next login
		}
		e.Reason = fmt.Sprintf("%s %s→%s unit %s", id, op.Role, role, unit)
		return nil
	}, nil)
}

// noOperator is the refusal of an act on an operator that does not exist.
func noOperator(err error) error {
	return public.WrapWithMessage(err, "no such operator").WithHint("check the operator's id (GET /v1/operators lists them)")
}

// partnerRole checks that r is a partner role when it is given to a
// partner (partner: true), and is not one otherwise.
func partnerRole(r *policy.Role, partner bool) error {
	switch {
	case partner && !r.Partner:
		return public.Errorf(access.ErrForbidden, "forbidden: role %q is not a partner role: partners get the roles marked partner: true only", r.Name)
	case !partner && r.Partner:
		return public.Errorf(access.ErrForbidden, "forbidden: role %q is for partner clients, not for operators", r.Name)
	}
	return nil
}

// denial is the audit decision of a refused administrative act.
func denial(err error) string {
	switch {
	case errors.Is(err, access.ErrInvalid):
		return "deny:invalid"
	case errors.Is(err, store.ErrNotFound):
		return "deny:not_found"
	case errors.Is(err, store.ErrConflict):
		return "deny:conflict"
	}
	return "deny:forbidden"
}

// AdminAddPartner registers a partner on behalf of a, under a
// non-privileged role; the partner and a's audit entry are written in one
// transaction.
func (s *Service) AdminAddPartner(ctx context.Context, a identity.Actor, pol *policy.Policy, ca *partner.CA, name, sector, role, unit string) (*NewPartner, error) {
	if err := grantable(pol, role, true); err != nil {
		return nil, s.refuseAct(ctx, a, "partner.add", "", err)
	}
	if ca == nil {
		return nil, public.Errorf(access.ErrInvalid, "invalid input: this server issues no partner credentials")
	}
	np, op, err := s.newPartner(ca, name, sector, role, unit)
	if err != nil {
		return nil, err
	}
	err = s.act(ctx, a, "partner.add", guard.ActPartner, func(ctx context.Context, tx store.Tx, e *audit.Entry) error {
		if _, err := tx.GetPartnerByName(ctx, name); err == nil {
			return refuse(public.Errorf(store.ErrConflict, "conflict: a partner of that name exists").WithHint("rotate its credentials instead (coffre partner rotate)"))
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		e.Reason = partnerReason(np.Partner, role)
		return putPartner(ctx, tx, op, np.Partner)
	}, nil)
	if err != nil {
		return nil, err
	}
	return np, nil
}

// SetRole moves operator username to role and unit from the host (the
// command line, where privileged roles are granted); audited, its sessions
// ended, in one transaction. An unknown username or a partner is refused,
// audited.
func (s *Service) SetRole(ctx context.Context, username, role, unit string) error {
	return s.act(ctx, Host, "operator.role", 0, func(ctx context.Context, tx store.Tx, e *audit.Entry) error {
		op, err := tx.GetOperatorByName(ctx, username)
		if errors.Is(err, store.ErrNotFound) {
			return refuse(noOperator(err))
		} else if err != nil {
			return err
		}
		e.Reason = op.ID
		if op.PasswordHash == NoPassword {
			return refuse(public.Errorf(access.ErrInvalid, "invalid input: %s is a partner", username))
		}
		if err := tx.SetOperatorRole(ctx, op.ID, role, unit, s.now()); err != nil {
			return err
		}
		if err := tx.DeleteOperatorSessions(ctx, op.ID); err != nil {
			return err
		}
		e.Reason = fmt.Sprintf("%s %s→%s unit %s", op.ID, op.Role, role, unit)
		return nil
	}, nil)
}

// Administer runs an administrative act of a that is not about accounts
// (a root key rotation, say) on the one path of every act: the guard
// decides it as guard.ActOther, fn makes the change in the act's
// transaction, and the entry (action, with reason) is appended in it; a
// change whose entry cannot be written does not happen.
func (s *Service) Administer(ctx context.Context, a identity.Actor, action, reason string, fn func(ctx context.Context, tx store.Tx) error) error {
	return s.act(ctx, a, action, guard.ActOther, func(ctx context.Context, tx store.Tx, e *audit.Entry) error {
		e.Reason = reason
		return fn(ctx, tx)
	}, nil)
}

// TOTPLabel is the label an operator's TOTP seed is sealed under
// (envelope.Keyring.SealSecret), which a key rotation rewraps.
func TOTPLabel(operator string) string { return "totp:" + operator }
