package vault

import (
	"context"
	"errors"
	"time"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/event"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/public"
	"github.com/coffre/coffre/internal/store"
)

// update runs fn in one store transaction and returns what the run that
// committed returned. A store may run fn more than once (store.Store);
// fn returns its results instead of setting variables it captured, so a
// rerun cannot leave a stale value behind: this is the one place that
// captures, and it sets the whole result on every run.
func update[T any](ctx context.Context, s store.Store, fn func(context.Context, store.Tx) (T, error)) (T, error) {
	var out T
	err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		out, err = fn(ctx, tx)
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

// attempt is one access to one subject, as the caller describes it before
// its transaction: who, the audit entry as far as it is known, what the
// guard knows already, and the steps that run inside the transaction.
// [run] does the rest, the same way for every kind of access.
type attempt[T any] struct {
	actor identity.Actor
	// entry is the audit entry before the transaction: actor, action,
	// subject, purpose, reason, origin.
	entry audit.Entry
	now   time.Time
	// guard is the access as the guard sees it, with what is known before
	// the transaction (Kind); run sets its time, origin and trust (and
	// ValueRun), find its subject.
	guard guard.Access
	// valueKey, for a lookup, is its value's order key (valueKey): run
	// notes it in the operator's guard state, sealed, for the
	// lookup-order detector.
	valueKey *uint64
	// find reads, inside the transaction, what the access reaches. It
	// returns the value the caller gets if the access is allowed, and
	// completes the entry (Subject, Fields; Decision "deny:not_found" for a
	// subject that is not there) and the guard's access (Subject, Missing,
	// Created, Canary; Scope when lim is set, that is when the guard runs).
	// An error wrapping a *refused refuses the access without the
	// guard's budgets (the person's limits on the record); any other
	// error fails the transaction.
	find func(ctx context.Context, tx store.Tx, lim *guard.Limits, e *audit.Entry, acc *guard.Access) (T, error)
	// write, if set, is the access's change, run once the guard allows it
	// and before the entry is appended; it returns the caller's value. An
	// error wrapping store.ErrConflict refuses the access: write must then
	// have changed nothing. The refusal is audited "deny:conflict", counted
	// by the guard as a probe (guard.Conflict), and returned to the caller.
	// An error made by refuse refuses it too, audited with the decision
	// refuse names and not counted (an ordinary outcome, such as a
	// consent the person denied).
	write func(ctx context.Context, tx store.Tx, val T, e *audit.Entry) (T, error)
	// purpose, when set, is the declared purpose of an access the person
	// is told of (a read or an update): an allowed one queues a notice
	// to them in the same transaction, after notice, or the purpose's
	// mode when notice is "".
	purpose *policy.Purpose
	notice  string
	// audited, if set, runs once the entry of an allowed access is
	// appended (e.Seq set) and before the guard's state is written: what
	// names the entry, such as the notice and the alert of a break-glass
	// read.
	audited func(ctx context.Context, tx store.Tx, val T, e *audit.Entry) error
	// pre, if set, is the subject's row read before the transaction
	// (Vault.preRead), for find to use when it is still current.
	pre *preread
}

// noticeMode is the notice mode of the access: notice, or its purpose's.
func (x *attempt[T]) noticeMode() string {
	if x.notice != "" {
		return x.notice
	}
	return x.purpose.NoticeMode()
}

// refused is an error that refuses the access itself, which is audited
// and the caller gets err. From write (refuse): audited as decision, not
// counted (an ordinary outcome, such as a consent the person denied).
// From find, having set the entry's decision: the person restricted the
// record or blocked the actor (counts: a refusal towards the hard margin,
// as probing the policy is), or the access does not apply to what it
// found (a request decided already: not counted).
type refused struct {
	decision string
	err      error
	counts   bool
}

func (r *refused) Error() string { return r.err.Error() }
func (r *refused) Unwrap() error { return r.err }

// refuse makes write's refusal of the access: audited as decision, err
// returned to the caller.
func refuse(decision string, err error) error { return &refused{decision: decision, err: err} }

// outcome is what one access yields: the caller's value, or the refusal
// (the guard's or the write's) that the caller returns instead; and the
// sequence number of the access's audit entry.
type outcome[T any] struct {
	val     T
	refusal error
	seq     int64
	// dk is the subject's data key, when sealing the entry's reason
	// opened it (the read path reuses it for the fields).
	dk *envelope.DataKey
	// locked is the guard's code when this access locked the operator.
	locked string
	// guard is the guard's decision on the access (nil: the guard did not
	// run).
	guard *guard.Decision
}

// run runs an access in one transaction: find → guard (decides; a
// refusal clears the entry's fields and sets its decision) → write → audit
// (the entry is appended, whatever the outcome) → audited (an allowed
// access's follow-ups) → the guard's state, its alerts and a lock. A store error fails the whole access: nothing is
// returned without its durable audit entry.
func run[T any](ctx context.Context, v *Vault, x attempt[T]) (outcome[T], error) {
	out, err := runTx(ctx, v, x)
	if err == nil && out.locked != "" {
		v.log.WarnContext(ctx, "account locked by the guard", "event", event.GuardLock, "operator", x.actor.ID, "code", out.locked)
	}
	if err == nil && out.guard != nil && v.decisions != nil {
		v.decisions.Decided(x.entry.Action, verdictName(out.guard.Verdict), out.guard.Code)
	}
	notified := out.refusal == nil && x.purpose != nil && x.noticeMode() == policy.NoticeImmediate
	if err == nil && v.queued != nil && (notified || errors.Is(out.refusal, access.ErrLocked)) {
		v.queued() // a notice, or a lock's alert, to send now
	}
	return out, err
}

// runTx is run's transaction.
func runTx[T any](ctx context.Context, v *Vault, x attempt[T]) (outcome[T], error) {
	lim := v.limits(x.actor.Role)
	return update(ctx, v.store, func(ctx context.Context, tx store.Tx) (outcome[T], error) {
		e := x.entry
		e.Time, e.Decision = x.now.UTC(), "allow"
		acc := x.guard
		acc.Time, acc.Origin, acc.Trusted = v.guardTime(x.now), x.actor.Origin, v.trusted(x.actor.Origin)
		val, err := x.find(ctx, tx, lim, &e, &acc)
		var early *refused
		if errors.As(err, &early) {
			err = nil
		}
		if err != nil {
			return outcome[T]{}, err
		}
		var g *guardRun
		var refusal error
		switch {
		case early != nil:
			// Refused by find (the person's limits on the record, a
			// request in the wrong state): the budgets are not drawn on.
			refusal, e.Fields = early.err, nil
			if lim != nil && early.counts {
				g = &guardRun{lim: lim}
				if err := g.load(ctx, tx, x.actor.ID); err != nil {
					return outcome[T]{}, err
				}
				if refusal = g.refuseFound(acc, refusal); g.dec.Verdict == guard.Lock {
					e.Decision, _ = verdict(g.dec)
				}
			}
		case lim != nil:
			g = &guardRun{lim: lim}
			if err := g.load(ctx, tx, x.actor.ID); err != nil {
				return outcome[T]{}, err
			}
			if x.valueKey != nil {
				acc.ValueRun = v.valueRun(&g.state, x.actor.ID, *x.valueKey)
			}
			refusal = g.decide(acc, e.Reason)
			switch {
			case refusal != nil:
				e.Fields, e.Decision = nil, decisionOf(refusal, g.dec)
			case e.Decision == "allow":
				e.Decision, _ = verdict(g.dec) // or allowed under an extension
			}
		}
		if refusal == nil && x.write != nil {
			val, err = x.write(ctx, tx, val, &e)
			var rf *refused
			switch {
			case errors.As(err, &rf):
				refusal, e.Decision, e.Fields = rf.err, rf.decision, nil
			case errors.Is(err, store.ErrConflict):
				refusal, e.Decision = err, "deny:conflict"
				if g != nil && g.conflict(acc.Time) {
					refusal, e.Decision = access.ErrLocked, "deny:locked:"+guard.CodeConflicts
				}
			case err != nil:
				return outcome[T]{}, err
			}
		}
		row := rowOf(val)
		dk, err := v.sealReason(ctx, tx, &e, row, x.pre.key(row))
		if err != nil {
			return outcome[T]{}, err
		}
		if err := tx.AppendAudit(ctx, &e); err != nil {
			return outcome[T]{}, err
		}
		// A notice of what returned or changed data (not of a consent
		// request, which sends the person its own message).
		if refusal == nil && x.purpose != nil && e.Subject != "" && !acc.Canary && (e.Action == "read" || e.Action == "update") {
			if err := v.queueNotice(ctx, tx, x.actor, x.purpose, x.noticeMode(), &e); err != nil {
				return outcome[T]{}, err
			}
		}
		if refusal == nil && x.audited != nil {
			if err := x.audited(ctx, tx, val, &e); err != nil {
				return outcome[T]{}, err
			}
		}
		var locked string
		var dec *guard.Decision
		if g != nil {
			dec = &g.dec
			before := g.state.Locked
			if err := v.finishGuard(ctx, tx, g, x.actor, e.Seq, x.now.UTC()); err != nil {
				return outcome[T]{}, err
			}
			if before == "" {
				locked = g.state.Locked
			}
		}
		if refusal != nil {
			return outcome[T]{refusal: refusal, seq: e.Seq, locked: locked, guard: dec}, nil
		}
		return outcome[T]{val: val, seq: e.Seq, dk: dk, guard: dec}, nil
	})
}

// decide is the guard's decision on acc. Outside one's unit a reason is
// required: a refusal for its lack counts towards the hard margin, so that
// probing locks.
func (g *guardRun) decide(acc guard.Access, reason string) error {
	if acc.Scope == guard.OutOfUnit && reason == "" && !acc.Canary && g.state.Locked == "" {
		locks, st := guard.Refuse(g.lim, g.state, acc.Time)
		g.state = st
		if locks {
			g.dec = guard.Decision{Verdict: guard.Lock, Code: guard.CodeOutOfUnit}
			return access.ErrLocked
		}
		return public.Errorf(access.ErrReasonRequired, "this subject is outside your unit: say why with a reason")
	}
	g.dec, g.state = guard.Decide(g.lim, g.state, acc)
	_, refusal := verdict(g.dec)
	return refusal
}

// refuseFound counts a refusal made by find towards the hard margin and
// returns what the caller gets: cause, or ErrLocked when the account is
// (or now gets) locked.
func (g *guardRun) refuseFound(acc guard.Access, cause error) error {
	if g.state.Locked != "" {
		g.dec = guard.Decision{Verdict: guard.Lock, Code: g.state.Locked}
		return access.ErrLocked
	}
	if g.refuse(acc.Time) {
		return access.ErrLocked
	}
	return cause
}

// conflict counts a write refused for a taken lookup value, and reports
// whether it locks the account.
func (g *guardRun) conflict(now time.Time) bool {
	locks, st := guard.Conflict(g.lim, g.state, now)
	if g.state = st; locks {
		g.dec = guard.Decision{Verdict: guard.Lock, Code: guard.CodeConflicts}
	}
	return locks
}

// scope is where subject (of unit) stands relative to the actor a.
// An assignment whose end has passed at now no longer counts.
func scope(ctx context.Context, tx guard.Caseloads, lim *guard.Limits, a identity.Actor, subject, unit string, now time.Time) (guard.Scope, error) {
	switch {
	case lim.AllUnits:
		return guard.InCaseload, nil
	case unit != a.Unit:
		return guard.OutOfUnit, nil
	}
	in, err := tx.InCaseload(ctx, a.ID, subject, now)
	if err != nil || in {
		return guard.InCaseload, err
	}
	return guard.InUnit, nil
}

// DecisionObserver counts the guard's decisions on the accesses (package
// metrics): by action, verdict (allow, limit, lock) and the detector's
// code; never who, nor on whom.
type DecisionObserver interface {
	Decided(action, verdict, code string)
}

// verdictName names a guard verdict for DecisionObserver.
func verdictName(v guard.Verdict) string {
	switch v {
	case guard.Limit:
		return "limit"
	case guard.Lock:
		return "lock"
	}
	return "allow"
}
