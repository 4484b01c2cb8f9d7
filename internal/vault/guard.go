package vault

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/policy"
)

// Errors of the guard.
var (
	// ErrLocked: the operator's account is locked; a security officer must
	// unlock it.
	ErrLocked = errors.New("account locked")
	// ErrLimited: a soft limit was reached; see [LimitError].
	ErrLimited = errors.New("limit reached")
)

// LimitError is a soft-limit refusal: retry after RetryAfter, or ask for an
// extension.
type LimitError struct {
	Code       string // the budget: rate, subjects_per_hour, …
	RetryAfter time.Duration
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("limit reached: %s, retry in %s", e.Code, e.RetryAfter.Round(time.Second))
}

// Unwrap makes errors.Is(err, ErrLimited) hold.
func (e *LimitError) Unwrap() error { return ErrLimited }

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
}

func (v *Vault) limits(role string) *guard.Limits {
	if v.guard == nil {
		return nil
	}
	if l, ok := v.guard.Limits[role]; ok {
		return &l
	}
	return nil
}

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
func (g *guardRun) load(ctx context.Context, tx Tx, op string) error {
	b, err := tx.GetGuard(ctx, op)
	if err != nil {
		return err
	}
	g.state, err = guard.Unmarshal(b)
	return err
}

// finish writes the state after the access's audit entry (seq) and, on a
// lock, locks the operator, revokes its sessions and raises the alert.
// It returns the decision string for the audit entry's outcome.
func (v *Vault) finishGuard(ctx context.Context, tx Tx, g *guardRun, a Actor, seq int64, now time.Time) error {
	g.state.AddEvidence(seq)
	if g.dec.Alert != "" {
		if err := v.alert(ctx, tx, &Alert{Time: now, Operator: a.ID, Code: g.dec.Alert, Severity: "warning", Action: "alert", Evidence: []int64{seq}}); err != nil {
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
		if err := v.alert(ctx, tx, &Alert{Time: now, Operator: a.ID, Code: g.dec.Code, Severity: sev, Action: "lock", Evidence: ev}); err != nil {
			return err
		}
		lock := AuditEntry{Time: now, Actor: "guard", Action: "guard.lock", Reason: g.dec.Code, Decision: "lock:" + a.ID, Origin: a.Origin}
		if err := tx.AppendAudit(ctx, &lock); err != nil {
			return err
		}
	}
	return tx.PutGuard(ctx, a.ID, g.state.Marshal())
}

// alert stores an alert and queues it for delivery (email, webhook).
func (v *Vault) alert(ctx context.Context, tx Tx, al *Alert) error {
	if err := tx.PutAlert(ctx, al); err != nil {
		return err
	}
	payload, err := json.Marshal(al)
	if err != nil {
		return err
	}
	return tx.PutOutbox(ctx, "alert", payload, al.Time)
}

// outcome is the audit decision of a guarded access, and the error the
// caller gets.
func outcome(dec guard.Decision) (string, error) {
	switch dec.Verdict {
	case guard.Lock:
		return "deny:locked:" + dec.Code, ErrLocked
	case guard.Limit:
		return "deny:limited:" + dec.Code, &LimitError{Code: dec.Code, RetryAfter: dec.RetryAfter}
	}
	if dec.Extension != "" {
		return "allow:extension:" + dec.Extension, nil
	}
	return "allow", nil
}

// Alerts returns guard alerts after the given id, for a security officer.
func (v *Vault) Alerts(ctx context.Context, a Actor, after int64, limit int) ([]Alert, error) {
	entry := AuditEntry{Actor: a.ID, Action: "alerts.list", Origin: a.Origin}
	if err := v.can(a, policy.PermSecurity); err != nil {
		v.deny(ctx, entry, err)
		return nil, err
	}
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	var out []Alert
	err := v.store.Update(ctx, func(ctx context.Context, tx Tx) error {
		var err error
		if out, err = tx.Alerts(ctx, after, limit); err != nil {
			return err
		}
		e := entry
		e.Time, e.Decision = v.now().UTC(), "allow"
		return tx.AppendAudit(ctx, &e)
	})
	if err != nil {
		return nil, unavailable(err)
	}
	if out == nil {
		out = []Alert{}
	}
	return out, nil
}

// Unlock lifts the lock of operator id: a security officer's act, with a
// reason. Counters and detector state start afresh.
func (v *Vault) Unlock(ctx context.Context, a Actor, id, reason string) error {
	entry := AuditEntry{Actor: a.ID, Action: "guard.unlock", Reason: reason, Origin: a.Origin}
	if err := v.can(a, policy.PermSecurity); err != nil {
		v.deny(ctx, entry, err)
		return err
	}
	if reason == "" || len(reason) > v.reasonMax {
		return fmt.Errorf("%w: an unlock needs a reason of at most %d bytes", ErrReasonRequired, v.reasonMax)
	}
	if id == a.ID {
		err := fmt.Errorf("%w: nobody unlocks their own account", ErrForbidden)
		v.deny(ctx, entry, err)
		return err
	}
	now := v.now().UTC()
	err := v.store.Update(ctx, func(ctx context.Context, tx Tx) error {
		op, err := tx.GetOperator(ctx, id)
		if err != nil {
			return err
		}
		if op.Locked == "" {
			return fmt.Errorf("operator is not locked: %w", ErrConflict)
		}
		if err := tx.LockOperator(ctx, id, "", now); err != nil {
			return err
		}
		var g guardRun
		if err := g.load(ctx, tx, id); err != nil {
			return err
		}
		g.state.Reset()
		if err := tx.PutGuard(ctx, id, g.state.Marshal()); err != nil {
			return err
		}
		e := entry
		e.Time, e.Decision = now, "allow:"+id
		if err := tx.AppendAudit(ctx, &e); err != nil {
			return err
		}
		return v.alert(ctx, tx, &Alert{Time: now, Operator: id, Code: op.Locked, Severity: "warning", Action: "unlock", Evidence: []int64{e.Seq}})
	})
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) {
		return err
	}
	if err != nil {
		return unavailable(err)
	}
	v.memo.Forget(id)
	return nil
}

// AssignCaseload assigns subjects to an operator (the demo, imports of
// caseloads).
func (v *Vault) AssignCaseload(ctx context.Context, operator string, subjects []string) error {
	return v.store.Update(ctx, func(ctx context.Context, tx Tx) error {
		return tx.AssignCaseload(ctx, operator, subjects)
	})
}

// valueKey orders lookup values: the first 8 bytes of the normalised
// value. It is kept in memory only (see package guard).
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
func (v *Vault) PlantCanaries(ctx context.Context, a Actor, partner string, rows []ImportRow) ([]string, error) {
	now := v.now().UTC()
	var all []*sealed
	for _, r := range rows {
		if err := v.checkFields(r.Unit, r.Fields); err != nil {
			return nil, fmt.Errorf("canary %d: %w", r.Num, err)
		}
		s, err := v.seal(NewSubjectID(), r.Unit, r.Fields, now)
		if err != nil {
			return nil, err
		}
		all = append(all, s)
	}
	err := v.store.Update(ctx, func(ctx context.Context, tx Tx) error {
		for _, s := range all {
			if err := s.put(ctx, tx); err != nil {
				return err
			}
			if err := tx.PutCanary(ctx, s.row.ID, partner, now); err != nil {
				return err
			}
		}
		return tx.AppendAudit(ctx, &AuditEntry{Time: now, Actor: a.ID, Action: "canary.plant", Reason: fmt.Sprintf("%d", len(all)), Decision: "allow", Origin: a.Origin})
	})
	if errors.Is(err, ErrConflict) {
		return nil, err
	}
	if err != nil {
		return nil, unavailable(err)
	}
	ids := make([]string, len(all))
	for i, s := range all {
		ids[i] = s.row.ID
	}
	return ids, nil
}
