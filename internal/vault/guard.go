package vault

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/public"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/value"
)

// Guard configures the guard of a Vault.
type Guard struct {
	// Limits by role. A role with no entry is not guarded (roles that read
	// no subjects).
	Limits map[string]guard.Limits
	// Location is the time zone of working hours and days (default UTC).
	Location *time.Location
	// Trusted reports whether an origin is inside the trusted networks
	// (default: none is).
	Trusted func(origin string) bool
	// TwoApproversOver is the size (subjects) above which an extension
	// needs two approvers; 0: one approver always.
	TwoApproversOver int
	// ApproverMinAge: an approver's account must have had its role, and
	// have been created and enabled, at least this long ago (0: any).
	ApproverMinAge time.Duration
}

func (v *Vault) limits(role string) *guard.Limits { return v.lims[role] }

// guardTime is now in the guard's time zone.
func (v *Vault) guardTime(now time.Time) time.Time {
	if v.guard != nil && v.guard.Location != nil {
		return now.In(v.guard.Location)
	}
	return now.UTC()
}

func (v *Vault) trusted(origin string) bool {
	return v.guard != nil && v.guard.Trusted != nil && v.guard.Trusted(origin)
}

// guardRun is the guard's part of one access transaction.
type guardRun struct {
	lim   *guard.Limits
	state guard.State
	dec   guard.Decision
}

// load reads the operator's state.
func (g *guardRun) load(ctx context.Context, tx guard.States, op string) error {
	var err error
	g.state, err = tx.GetGuard(ctx, op)
	return err
}

// finishGuard writes the operator's state after the access's audit entry
// (seq), raises the alert of a detector that only alerts, and on a lock
// locks the operator, revokes its sessions, raises the alert and audits
// the lock.
func (v *Vault) finishGuard(ctx context.Context, tx store.Tx, g *guardRun, a identity.Actor, seq int64, now time.Time) error {
	g.state.AddEvidence(seq)
	if g.dec.Alert != "" {
		if err := guard.RaiseAlert(ctx, tx, &guard.Alert{Time: now, Operator: a.ID, Code: g.dec.Alert, Severity: "warning", Action: "alert", Evidence: []int64{seq}}); err != nil {
			return err
		}
	}
	if g.dec.Verdict == guard.Lock && g.state.Locked == "" {
		g.state.Locked = g.dec.Code
		if err := tx.LockOperator(ctx, a.ID, g.dec.Code, now); err != nil {
			return err
		}
		if err := tx.DeleteOperatorSessions(ctx, a.ID); err != nil {
			return err
		}
		sev := "high"
		if g.dec.Code == guard.CodeCanary {
			sev = "critical"
		}
		ev := append([]int64(nil), g.state.Evidence...)
		if err := guard.RaiseAlert(ctx, tx, &guard.Alert{Time: now, Operator: a.ID, Code: g.dec.Code, Severity: sev, Action: "lock", Evidence: ev}); err != nil {
			return err
		}
		lock := audit.Entry{Time: now, Actor: "guard", Action: "guard.lock", Reason: g.dec.Code, Decision: "lock:" + a.ID, Origin: a.Origin}
		if err := tx.AppendAudit(ctx, &lock); err != nil {
			return err
		}
	}
	return tx.PutGuard(ctx, a.ID, g.state)
}

// verdict is the audit decision of a guarded access, and the error the
// caller gets.
func verdict(dec guard.Decision) (string, error) {
	switch dec.Verdict {
	case guard.Lock:
		return "deny:locked:" + dec.Code, access.ErrLocked
	case guard.Limit:
		return "deny:limited:" + dec.Code, &access.LimitError{Code: dec.Code, RetryAfter: dec.RetryAfter}
	}
	if dec.Extension != "" {
		return "allow:extension:" + dec.Extension, nil
	}
	return "allow", nil
}

// Alerts returns guard alerts after the given id, for a security officer.
func (v *Vault) Alerts(ctx context.Context, a identity.Actor, after int64, limit int) ([]guard.Alert, error) {
	entry := audit.Entry{Actor: a.ID, Action: "alerts.list", Origin: a.Origin}
	if err := v.can(a, policy.PermSecurity); err != nil {
		return nil, v.deny(ctx, a, entry, err)
	}
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	return listAudited(ctx, v, entry, func(ctx context.Context, tx store.Tx) ([]guard.Alert, error) {
		return tx.Alerts(ctx, after, limit)
	})
}

// listAudited reads a list with fetch in the transaction that audits the
// reading (entry, allowed): listing is an access too. The list is never
// nil.
func listAudited[T any](ctx context.Context, v *Vault, entry audit.Entry, fetch func(context.Context, store.Tx) ([]T, error)) ([]T, error) {
	out, err := update(ctx, v.store, func(ctx context.Context, tx store.Tx) ([]T, error) {
		out, err := fetch(ctx, tx)
		if err != nil {
			return nil, err
		}
		e := entry
		e.Time, e.Decision = v.now().UTC(), "allow"
		return out, tx.AppendAudit(ctx, &e)
	})
	if err != nil {
		return nil, unavailable(err)
	}
	if out == nil {
		out = []T{}
	}
	return out, nil
}

// Unlock lifts the lock of operator id: a security officer's act, with a
// reason. Counters and detector state start afresh.
func (v *Vault) Unlock(ctx context.Context, a identity.Actor, id, reason string) error {
	entry := audit.Entry{Actor: a.ID, Action: "guard.unlock", Reason: reason, Origin: a.Origin}
	if err := v.can(a, policy.PermSecurity); err != nil {
		return v.deny(ctx, a, entry, err)
	}
	if reason == "" || len(reason) > v.reasonMax {
		return public.Errorf(access.ErrReasonRequired, "an unlock needs a reason of at most %d bytes", v.reasonMax)
	}
	if err := v.checkReason(reason); err != nil {
		return v.deny(ctx, a, entry, err)
	}
	if id == a.ID {
		err := forbidden("nobody unlocks their own account")
		return v.deny(ctx, a, entry, err)
	}
	now := v.now().UTC()
	err := v.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		op, err := tx.GetOperator(ctx, id)
		if err != nil {
			return err
		}
		if op.Locked == "" {
			return conflict("operator is not locked")
		}
		if err := tx.LockOperator(ctx, id, "", now); err != nil {
			return err
		}
		if err := tx.ResetLoginFailures(ctx, id); err != nil {
			return err // a lock after failed logins starts afresh too
		}
		var g guardRun
		if err := g.load(ctx, tx, id); err != nil {
			return err
		}
		g.state.Reset()
		if err := tx.PutGuard(ctx, id, g.state); err != nil {
			return err
		}
		e := entry
		e.Time, e.Decision = now, "allow:"+id
		if err := tx.AppendAudit(ctx, &e); err != nil {
			return err
		}
		return guard.RaiseAlert(ctx, tx, &guard.Alert{Time: now, Operator: id, Code: op.Locked, Severity: "warning", Action: "unlock", Evidence: []int64{e.Seq}})
	})
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
		return err
	}
	if err != nil {
		return unavailable(err)
	}
	return nil
}

// valueOrderLabel names the sealing of the latest lookup value's order
// key in an operator's guard state.
const valueOrderLabel = "guard.value_order"

// valueRun notes operator op's lookup of a value of order key key in st and returns
// the run of values in one order it ends. The previous key is kept sealed
// (it is the first bytes of a personal value); one that no longer opens
// (a retired root key) starts a new run.
func (v *Vault) valueRun(st *guard.State, op string, key uint64) int {
	label := valueOrderLabel + "/" + op // bound to its operator
	prev, ok := uint64(0), false
	if len(st.ValueLast) > 0 {
		if b, err := v.keys.OpenSecret(label, st.ValueLast); err == nil && len(b) == 8 {
			prev, ok = binary.BigEndian.Uint64(b), true
		}
	}
	n := st.NoteValue(prev, ok, key)
	st.ValueLast = v.keys.SealSecret(label, binary.BigEndian.AppendUint64(nil, key))
	return n
}

// valueKey orders lookup values: the first 8 bytes of the normalised
// value. The operator's state keeps it sealed (valueRun).
func valueKey(normalised string) uint64 {
	var b [8]byte
	copy(b[:], normalised)
	return binary.BigEndian.Uint64(b[:])
}

// newID returns a random id with a prefix (extensions).
func newID(prefix string) string {
	var b [10]byte
	rand.Read(b[:])
	return prefix + idEncoding.EncodeToString(b[:])
}

// PlantCanaries stores canary subjects: sealed, indexed and stored exactly
// as any subject (so that nothing in the API tells them apart), and flagged
// in the canary table only, bound to partner ("" for none). A read or
// lookup of one locks the reader at once. One audit entry records the
// planting, with the count and not the ids: the audit log is readable by
// auditors, the canary table by no role.
func (v *Vault) PlantCanaries(ctx context.Context, a identity.Actor, partner string, rows []ImportRow) ([]string, error) {
	now := v.now().UTC()
	ids, err := v.newSubjectIDs(ctx, len(rows))
	if err != nil {
		return nil, err
	}
	var all []*sealed
	b := v.keys.Blind()
	for i, r := range rows {
		if err := v.checkFields(r.Unit, r.Fields); err != nil {
			return nil, fmt.Errorf("canary %d: %w", r.Num, err)
		}
		s, err := v.seal(b, ids[i], r.Unit, r.Fields, now)
		if err != nil {
			return nil, err
		}
		all = append(all, s)
	}
	err = v.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		for _, s := range all {
			if err := v.put(ctx, tx, s); err != nil {
				return err
			}
			if err := tx.PutCanary(ctx, s.row.ID, partner, now); err != nil {
				return err
			}
		}
		return tx.AppendAudit(ctx, &audit.Entry{Time: now, Actor: a.ID, Action: "canary.plant", Reason: fmt.Sprintf("%d", len(all)), Decision: "allow", Origin: a.Origin})
	})
	if errors.Is(err, store.ErrConflict) {
		return nil, err
	}
	if err != nil {
		return nil, unavailable(err)
	}
	ids = make([]string, len(all))
	for i, s := range all {
		ids[i] = s.row.ID
	}
	return ids, nil
}

// Bounds of a budget extension.
const (
	MaxExtensionSubjects = 5000
	MaxExtensionHours    = 72
)

// RequestExtension asks, under the two-person rule, to read up to subjects
// more people than the budgets allow, for hours, with a reason. A
// supervisor of the same unit approves it (ApproveExtension).
func (v *Vault) RequestExtension(ctx context.Context, a identity.Actor, subjects, hours int, reason string) (*guard.Extension, error) {
	entry := audit.Entry{Actor: a.ID, Action: "extension.request", Reason: reason, Origin: a.Origin}
	switch {
	case v.limits(a.Role) == nil:
		return nil, invalid("the guard sets no budgets for role %q: there is nothing to extend", a.Role)
	case subjects < 1 || subjects > MaxExtensionSubjects:
		return nil, invalid("subjects must be between 1 and %d", MaxExtensionSubjects)
	case hours < 1 || hours > MaxExtensionHours:
		return nil, invalid("hours must be between 1 and %d", MaxExtensionHours)
	case reason == "" || len(reason) > v.reasonMax:
		return nil, public.Errorf(access.ErrReasonRequired, "an extension needs a reason of at most %d bytes", v.reasonMax)
	}
	if err := v.checkReason(reason); err != nil {
		return nil, v.deny(ctx, a, entry, err)
	}
	now := v.now().UTC()
	e := &guard.Extension{ID: newID("ext_"), Operator: a.ID, Unit: a.Unit, Subjects: subjects, Hours: hours, Reason: reason, Created: now}
	err := v.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tx.PutExtension(ctx, e); err != nil {
			return err
		}
		au := entry
		au.Time, au.Decision, au.Subject = now, "allow:"+e.ID, ""
		au.Reason = fmt.Sprintf("%s (%d subjects, %d h): %s", e.ID, subjects, hours, reason)
		au.Reason = cutUTF8(au.Reason, v.reasonMax)
		return tx.AppendAudit(ctx, &au)
	})
	if err != nil {
		return nil, unavailable(err)
	}
	return e, nil
}

// ApproveExtension approves a pending extension: the approver must hold the
// supervise permission, belong to the requester's unit and not be the
// requester; the caller has checked a fresh second factor. The requester's
// budgets then stretch by the extension's subjects until it expires. An
// extension over Guard.TwoApproversOver subjects needs two approvers: the
// first approval is recorded (FirstApprover set, ApprovedBy empty), and a
// second, other supervisor's completes it.
func (v *Vault) ApproveExtension(ctx context.Context, a identity.Actor, id string) (*guard.Extension, error) {
	entry := audit.Entry{Actor: a.ID, Action: "extension.approve", Reason: id, Origin: a.Origin}
	if err := v.can(a, policy.PermSupervise); err != nil {
		return nil, v.deny(ctx, a, entry, err)
	}
	now := v.now().UTC()
	type approval struct {
		ext     *guard.Extension
		refused error
	}
	res, err := update(ctx, v.store, func(ctx context.Context, tx store.Tx) (approval, error) {
		e, err := tx.GetExtension(ctx, id)
		if err != nil {
			return approval{}, err
		}
		var refused error
		switch {
		case e.Operator == a.ID:
			refused = forbidden("nobody approves their own request")
		case e.Unit != a.Unit:
			refused = forbidden("only a supervisor of unit %s approves this request", e.Unit)
		case e.ApprovedBy != "":
			return approval{}, conflict("extension already approved")
		case e.FirstApprover == a.ID:
			refused = forbidden("this request needs a second approver, another supervisor of unit %s", e.Unit)
		default:
			if refused, err = v.established(ctx, tx, a, now); err != nil {
				return approval{}, err
			}
		}
		au := entry
		au.Time = now
		if refused != nil {
			au.Decision = "deny:forbidden"
			return approval{refused: refused}, tx.AppendAudit(ctx, &au)
		}
		if v.twoApprovers(e) && e.FirstApprover == "" {
			if err := tx.FirstApproval(ctx, id, a.ID); err != nil {
				return approval{}, err
			}
			e.FirstApprover = a.ID
			au.Decision = "allow:first:" + e.Operator
			return approval{ext: e}, tx.AppendAudit(ctx, &au)
		}
		if err := tx.ApproveExtension(ctx, id, a.ID, now); err != nil {
			return approval{}, err
		}
		var g guardRun
		if err := g.load(ctx, tx, e.Operator); err != nil {
			return approval{}, err
		}
		g.state.ExtID, g.state.ExtRemaining = e.ID, e.Subjects
		g.state.ExtUntil = now.Add(time.Duration(e.Hours) * time.Hour).Unix()
		if err := tx.PutGuard(ctx, e.Operator, g.state); err != nil {
			return approval{}, err
		}
		au.Decision = "allow:" + e.Operator
		return approval{ext: e}, tx.AppendAudit(ctx, &au)
	})
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict):
		return nil, err
	case err != nil:
		return nil, unavailable(err)
	case res.refused != nil:
		return nil, res.refused
	}
	e := res.ext
	if e.FirstApprover != a.ID {
		e.ApprovedBy, e.ApprovedAt = a.ID, now
	}
	return e, nil
}

// MaxPendingExtensions is how many waiting requests PendingExtensions
// returns at most.
const MaxPendingExtensions = 200

// PendingExtensions returns the extension requests of a's unit waiting
// for approval, oldest first (at most MaxPendingExtensions): a
// supervisor's list, audited (extension.list).
func (v *Vault) PendingExtensions(ctx context.Context, a identity.Actor) ([]guard.Extension, error) {
	entry := audit.Entry{Actor: a.ID, Action: "extension.list", Origin: a.Origin}
	if err := v.can(a, policy.PermSupervise); err != nil {
		return nil, v.deny(ctx, a, entry, err)
	}
	return listAudited(ctx, v, entry, func(ctx context.Context, tx store.Tx) ([]guard.Extension, error) {
		return tx.PendingExtensions(ctx, a.Unit, MaxPendingExtensions)
	})
}

// established refuses an approver whose account is newer than
// Guard.ApproverMinAge: created, enabled or given its role within that
// time. Both persons of a two-person rule minted by one hand would
// otherwise approve each other.
func (v *Vault) established(ctx context.Context, tx identity.Operators, a identity.Actor, now time.Time) (error, error) {
	if v.guard == nil || v.guard.ApproverMinAge <= 0 {
		return nil, nil
	}
	op, err := tx.GetOperator(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	if now.Sub(op.PowersSince()) < v.guard.ApproverMinAge {
		return forbidden("an approver's account must have had its role for %s: yours is newer", v.guard.ApproverMinAge), nil
	}
	return nil, nil
}

// twoApprovers reports whether extension e needs two approvers.
func (v *Vault) twoApprovers(e *guard.Extension) bool {
	return v.guard != nil && v.guard.TwoApproversOver > 0 && e.Subjects > v.guard.TwoApproversOver
}

// CanaryOf tells whether value (of a lookup field) belongs to a canary, and
// to which partner it was bound: a value found in a leaked data set names
// its source. ErrNotFound when it is no canary's. The question is audited.
func (v *Vault) CanaryOf(ctx context.Context, a identity.Actor, field, val string) (subject, partner string, err error) {
	f, ok := v.pol.Field(field)
	if !ok || !f.Lookup {
		return "", "", invalid("field %q has no lookup index", field)
	}
	h := v.keys.BlindIndex(field, value.Normalize(f.Type, val))
	type canary struct{ subject, partner string }
	c, err := update(ctx, v.store, func(ctx context.Context, tx store.Tx) (canary, error) {
		e := audit.Entry{Time: v.now().UTC(), Actor: a.ID, Action: "canary.find", Fields: []string{field}, Decision: "deny:not_found", Origin: a.Origin}
		var c canary
		id, err := tx.LookupIndex(ctx, h)
		if err == nil {
			if c.partner, err = tx.GetCanary(ctx, id); err == nil {
				c.subject, e.Subject, e.Decision = id, id, "allow"
			}
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return canary{}, err
		}
		return c, tx.AppendAudit(ctx, &e)
	})
	if err != nil {
		return "", "", unavailable(err)
	}
	if c.subject == "" {
		return "", "", fmt.Errorf("canary: %w", store.ErrNotFound)
	}
	return c.subject, c.partner, nil
}

// Forbidden audits a request refused because a's role may not call the
// route at all (the route's rule, checked before anything else).
func (v *Vault) Forbidden(ctx context.Context, a identity.Actor, action, subject, purpose string) {
	err := forbidden("role %q", a.Role)
	if len(purpose) > 63 {
		purpose = ""
	}
	v.deny(ctx, a, audit.Entry{Actor: a.ID, Action: action, Subject: subject, Purpose: purpose, Origin: a.Origin}, err)
}

// RoleOf returns the role of a, or nil when the policy has no such role.
func (v *Vault) RoleOf(a identity.Actor) *policy.Role {
	r, err := v.pol.Role(a.Role)
	if err != nil {
		return nil
	}
	return r
}

// Authorize checks that a holds permission p, auditing a refusal of action.
func (v *Vault) Authorize(ctx context.Context, a identity.Actor, p policy.Permission, action string) error {
	if err := v.can(a, p); err != nil {
		return v.deny(ctx, a, audit.Entry{Actor: a.ID, Action: action, Origin: a.Origin}, err)
	}
	return nil
}

// Policy returns the vault's policy (read-only).
func (v *Vault) Policy() *policy.Policy { return v.pol }

// Budgets returns a's own read budgets as they stand (none without a
// guard on a's role): shown to the operator, so that a slow-down comes
// as no surprise. Reading one's own counters is not an access to anyone.
func (v *Vault) Budgets(ctx context.Context, a identity.Actor) ([]guard.Budget, error) {
	lim := v.limits(a.Role)
	if lim == nil {
		return nil, nil
	}
	var g guardRun
	if err := v.store.View(ctx, func(ctx context.Context, tx store.Tx) error { return g.load(ctx, tx, a.ID) }); err != nil {
		return nil, unavailable(err)
	}
	return guard.Budgets(lim, g.state, v.guardTime(v.now())), nil
}
