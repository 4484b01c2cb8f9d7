package vault

import (
	"context"
	"time"

	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/store"
)

// AdminCheck is the guard's part of one administrative act, inside the
// act's transaction: [Vault.CheckAdmin] decides, the caller then makes the
// change (when allowed) and appends the act's audit entry, and
// [AdminCheck.Finish] records the operator's guard state, alerts and a
// lock with that entry as evidence. Administration is an access like a
// read: budgets per day, the hard margin, hours, alerts.
type AdminCheck struct {
	v        *Vault
	g        *guardRun // nil when the role is not guarded
	a        identity.Actor
	now      time.Time
	refusal  error
	decision string
}

// Refusal is the guard's refusal (a LimitError, ErrLocked), nil when the
// act is allowed.
func (c *AdminCheck) Refusal() error { return c.refusal }

// AuditDecision is the audit decision of the act: allow, allow under an
// extension, or the refusal's.
func (c *AdminCheck) AuditDecision() string { return c.decision }

// CheckAdmin decides act of a in tx. guard.ActRefused counts an act
// refused before its transaction (a privileged role asked for, say)
// towards a's hard margin, as [Vault.deny] does for data access: probing
// costs.
func (v *Vault) CheckAdmin(ctx context.Context, tx store.Tx, a identity.Actor, act guard.Act) (*AdminCheck, error) {
	now := v.now()
	c := &AdminCheck{v: v, a: a, now: now.UTC(), decision: "allow"}
	if act == guard.ActRefused {
		var err error
		c.g, err = v.countRefusal(ctx, tx, a, now)
		return c, err
	}
	lim := v.limits(a.Role)
	if lim == nil {
		return c, nil
	}
	c.g = &guardRun{lim: lim}
	if err := c.g.load(ctx, tx, a.ID); err != nil {
		return nil, err
	}
	c.g.dec, c.g.state = guard.Decide(lim, c.g.state, guard.Access{Time: v.guardTime(now), Kind: guard.Admin, Act: act, Origin: a.Origin, Trusted: v.trusted(a.Origin)})
	c.decision, c.refusal = verdict(c.g.dec)
	return c, nil
}

// countRefusal loads a's guard state and counts a refusal towards its
// hard margin, deciding a lock at it; nil when a's role is not guarded.
func (v *Vault) countRefusal(ctx context.Context, tx guard.States, a identity.Actor, now time.Time) (*guardRun, error) {
	lim := v.limits(a.Role)
	if lim == nil {
		return nil, nil
	}
	g := &guardRun{lim: lim}
	if err := g.load(ctx, tx, a.ID); err != nil {
		return nil, err
	}
	if g.state.Locked == "" {
		var locks bool
		if locks, g.state = guard.Refuse(lim, g.state, v.guardTime(now)); locks {
			g.dec = guard.Decision{Verdict: guard.Lock, Code: guard.CodeRefusals}
		}
	}
	return g, nil
}

// Finish records the guard's state after the act's audit entry seq.
func (c *AdminCheck) Finish(ctx context.Context, tx store.Tx, seq int64) error {
	if c.g == nil {
		return nil
	}
	return c.v.finishGuard(ctx, tx, c.g, c.a, seq, c.now)
}
