package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/audit"
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

// AdminAddOperator creates an operator on behalf of a (who holds the
// operators permission), in a non-privileged role; audited as a's act.
func (s *Service) AdminAddOperator(ctx context.Context, a identity.Actor, pol *policy.Policy, username, role, unit string) (*NewOperator, error) {
	if err := grantable(pol, role, false); err != nil {
		s.audit(ctx, a.ID, "operator.add", denial(err), a.Origin)
		return nil, err
	}
	op, err := s.AddOperator(ctx, username, "", role, unit)
	if err != nil {
		return nil, err
	}
	s.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.AppendAudit(ctx, &audit.Entry{Time: s.now(), Actor: a.ID, Action: "operator.add", Reason: op.Operator.ID + " role " + role, Decision: "allow", Origin: a.Origin})
	})
	return op, nil
}

// AdminSetRole moves operator id to role and unit on behalf of a: never a's
// own account, never to or from a privileged role.
func (s *Service) AdminSetRole(ctx context.Context, a identity.Actor, pol *policy.Policy, id, role, unit string) error {
	deny := func(err error) error {
		s.audit(ctx, a.ID, "operator.role", denial(err), a.Origin)
		return err
	}
	if id == a.ID {
		return deny(public.Errorf(access.ErrForbidden, "forbidden: nobody changes their own role"))
	}
	if err := grantable(pol, role, false); err != nil {
		return deny(err)
	}
	var refused error
	err := s.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		refused = nil
		op, err := tx.GetOperator(ctx, id)
		if err != nil {
			return err
		}
		if op.PasswordHash == NoPassword {
			refused = public.Errorf(access.ErrInvalid, "invalid input: %s is a partner: rotate or re-register it instead", id)
			return nil
		}
		if err := grantable(pol, op.Role, false); err != nil {
			refused = public.Errorf(access.ErrForbidden, "forbidden: the account has a privileged role")
			return nil
		}
		if err := tx.SetOperatorRole(ctx, id, role, unit); err != nil {
			return err
		}
		if err := tx.DeleteOperatorSessions(ctx, id); err != nil {
			return err // the new role applies from the next login
		}
		return tx.AppendAudit(ctx, &audit.Entry{Time: s.now(), Actor: a.ID, Action: "operator.role", Reason: fmt.Sprintf("%s %s→%s unit %s", id, op.Role, role, unit), Decision: "allow", Origin: a.Origin})
	})
	if refused != nil {
		return deny(refused)
	}
	return err
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
	if errors.Is(err, access.ErrInvalid) {
		return "deny:invalid"
	}
	return "deny:forbidden"
}

// AdminAddPartner registers a partner on behalf of a, under a
// non-privileged role.
func (s *Service) AdminAddPartner(ctx context.Context, a identity.Actor, pol *policy.Policy, ca *partner.CA, name, sector, role, unit string) (*NewPartner, error) {
	if err := grantable(pol, role, true); err != nil {
		s.audit(ctx, a.ID, "partner.add", denial(err), a.Origin)
		return nil, err
	}
	if ca == nil {
		return nil, public.Errorf(access.ErrInvalid, "invalid input: this server issues no partner credentials")
	}
	np, err := s.AddPartner(ctx, ca, name, sector, role, unit)
	if err != nil {
		return nil, err
	}
	s.audit(ctx, a.ID, "partner.add", "allow:"+np.Partner.ID, a.Origin)
	return np, nil
}

// SetRole moves operator username to role and unit from the host (the
// command line, where privileged roles are granted); audited, its sessions
// ended.
func (s *Service) SetRole(ctx context.Context, username, role, unit string) error {
	return s.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		op, err := tx.GetOperatorByName(ctx, username)
		if err != nil {
			return err
		}
		if op.PasswordHash == NoPassword {
			return public.Errorf(access.ErrInvalid, "invalid input: %s is a partner", username)
		}
		if err := tx.SetOperatorRole(ctx, op.ID, role, unit); err != nil {
			return err
		}
		if err := tx.DeleteOperatorSessions(ctx, op.ID); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, &audit.Entry{Time: s.now(), Actor: "system", Action: "operator.role", Reason: fmt.Sprintf("%s %s→%s unit %s", op.ID, op.Role, role, unit), Decision: "allow", Origin: "cli"})
	})
}
