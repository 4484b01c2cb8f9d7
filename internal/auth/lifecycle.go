package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/public"
	"github.com/coffre/coffre/internal/store"
)

// Act is a change in the life of an account.
type Act string

// The acts of [Service.Lifecycle].
const (
	// Disable: the account cannot log in, its sessions end, its row stays
	// for the audit trail.
	Disable Act = "disable"
	// Enable lifts Disable and restarts the inactivity clock (a lock
	// stays).
	Enable Act = "enable"
	// Delete erases the account's identity (username, password, second
	// factors) for good; its id stays in the log.
	Delete Act = "delete"
	// Lock locks the account by hand (guard.CodeManual): its sessions end,
	// an alert is raised, and only a security officer lifts it (the
	// unlock of the guard's locks); it never lifts with time.
	Lock Act = "lock"
)

// Acts lists the acts, for help texts and validation.
var Acts = []Act{Disable, Enable, Delete, Lock}

// Tombstone is the username an account keeps once deleted: no username
// typed at login can be it (':' is not allowed in usernames).
func Tombstone(id string) string { return "deleted:" + id }

// Lifecycle makes act on operator ref on behalf of a, and returns the
// operator's id. The caller checks a's permission: operators for disable,
// enable and delete, security for lock.
//
// Through the API (a is not [Host]) ref is an operator id and pol the
// policy: accounts of a privileged role (see [Privileged]) are disabled,
// enabled and deleted only from the host, while a security officer locks
// any account. From the host ref is a username or an operator id, and pol
// may be nil. Nobody acts on their own account; a partner is disabled,
// enabled or locked, never deleted (its row holds its sector's
// pseudonyms; disabling it ends its credentials' use). A lock needs a
// reason.
//
// Every attempt is audited as operator.<act> by a, the target's id and
// the reason in the entry's reason; an allowed change and its entry are
// one transaction. Refusals are public errors: access.ErrForbidden,
// access.ErrInvalid, store.ErrNotFound (no such operator) and
// store.ErrConflict (already so, or deleted).
func (s *Service) Lifecycle(ctx context.Context, a identity.Actor, pol *policy.Policy, act Act, ref, reason string) (string, error) {
	var id string
	now := s.now()
	kind := guard.ActOther // disabling, deleting, locking take power away
	if act == Enable {
		kind = guard.ActRole // enabling gives it back
	}
	err := s.act(ctx, a, "operator."+string(act), kind, func(ctx context.Context, tx store.Tx, e *audit.Entry) error {
		id, e.Reason = "", reasonText("", reason)
		if !isHost(a) {
			e.Reason = reasonText(ref, reason) // a well-formed id (the API checks it), never a name
		}
		op, err := s.target(ctx, tx, a, ref)
		if errors.Is(err, store.ErrNotFound) {
			return refuse(noOperator(err))
		} else if err != nil {
			return err
		}
		id, e.Reason = op.ID, reasonText(op.ID, reason)
		if err := s.mayChange(a, pol, act, op, reason); err != nil {
			return refuse(err)
		}
		switch act {
		case Disable:
			if err := tx.SetOperatorDisabled(ctx, op.ID, true, now); err != nil {
				return err
			}
		case Enable:
			if err := tx.SetOperatorDisabled(ctx, op.ID, false, now); err != nil {
				return err
			}
		case Delete:
			if err := tx.EraseOperator(ctx, op.ID, Tombstone(op.ID), now); err != nil {
				return err
			}
		case Lock:
			if err := tx.LockOperator(ctx, op.ID, guard.CodeManual, now); err != nil {
				return err
			}
		}
		if act == Enable {
			return nil
		}
		return tx.DeleteOperatorSessions(ctx, op.ID)
	}, func(ctx context.Context, tx store.Tx, seq int64) error {
		if act != Lock {
			return nil
		}
		return guard.RaiseAlert(ctx, tx, &guard.Alert{Time: now, Operator: id, Code: guard.CodeManual, Severity: "high", Action: "lock", Evidence: []int64{seq}})
	})
	return id, err
}

// isHost reports whether a is the host (the coffre command).
func isHost(a identity.Actor) bool { return a.ID == Host.ID }

// reasonText is an entry's reason: the operator's id, and the reason given.
func reasonText(id, reason string) string {
	switch {
	case reason == "":
		return id
	case id == "":
		return reason
	}
	return id + ": " + reason
}

// target finds the operator an act names: by id through the API, by
// username and then by id from the host.
func (s *Service) target(ctx context.Context, tx identity.Operators, a identity.Actor, ref string) (*identity.Operator, error) {
	if isHost(a) {
		op, err := tx.GetOperatorByName(ctx, ref)
		if !errors.Is(err, store.ErrNotFound) {
			return op, err
		}
	}
	return tx.GetOperator(ctx, ref)
}

// mayChange says why a may not make act on op (nil: it may).
func (s *Service) mayChange(a identity.Actor, pol *policy.Policy, act Act, op *identity.Operator, reason string) error {
	const state = "GET /v1/operators shows each account's state"
	switch {
	case op.ID == a.ID:
		return public.Errorf(access.ErrForbidden, "forbidden: nobody may %s their own account", act).WithHint("ask another holder of the permission")
	case !op.Deleted.IsZero():
		return public.Errorf(store.ErrConflict, "conflict: the account %s is deleted", op.ID).WithHint("a deleted account stays deleted: create a new one")
	case act == Lock && strings.TrimSpace(reason) == "":
		return public.Errorf(access.ErrInvalid, "invalid input: a lock needs a reason").WithHint(`send {"reason": "…"} (a ticket or case number)`)
	case !isHost(a) && act != Lock && pol != nil && grantable(pol, op.Role, op.PasswordHash == NoPassword) != nil:
		return public.Errorf(access.ErrForbidden, "forbidden: the account has a privileged role").WithHint(fmt.Sprintf("%s it on the host: coffre operator %s", act, act))
	case act == Delete && op.PasswordHash == NoPassword:
		return public.Errorf(access.ErrInvalid, "invalid input: %s is a partner: disable it instead (its sector's pseudonyms stay bound to it)", op.ID).WithHint("POST /v1/operators/{id}/disable")
	case act == Disable && op.Disabled:
		return public.Errorf(store.ErrConflict, "conflict: the account %s is disabled already", op.ID).WithHint(state)
	case act == Enable && !op.Disabled:
		return public.Errorf(store.ErrConflict, "conflict: the account %s is not disabled", op.ID).WithHint(state)
	case act == Lock && op.Locked == guard.CodeManual:
		return public.Errorf(store.ErrConflict, "conflict: the account %s is locked by hand already", op.ID).WithHint(state)
	case act == Lock && op.Locked != "" && op.Locked != LockLoginFailures:
		// A lock after failed logins lifts with time: a lock by hand
		// replaces it. The guard's locks only a security officer lifts.
		return public.Errorf(store.ErrConflict, "conflict: the account %s is locked by the guard (%s) already: only a security officer lifts that", op.ID, op.Locked).WithHint(state)
	}
	return nil
}

// inactive reports whether op may no longer log in for want of logins:
// no successful login, creation or enabling within DisableAfter. Partners
// (who do not log in), disabled and deleted accounts are not.
func (s *Service) inactive(op *identity.Operator, now time.Time) bool {
	if s.DisableAfter <= 0 || op.Disabled || !op.Deleted.IsZero() || op.PasswordHash == NoPassword {
		return false
	}
	last := op.Created
	for _, t := range []time.Time{op.LastLogin, op.ActiveSince} {
		if t.After(last) {
			last = t
		}
	}
	return now.Sub(last) >= s.DisableAfter
}

// disableInactive disables op for want of logins, in tx, audited as the
// system's act.
func (s *Service) disableInactive(ctx context.Context, tx store.Tx, op *identity.Operator, now time.Time) error {
	if err := tx.SetOperatorDisabled(ctx, op.ID, true, now); err != nil {
		return err
	}
	if err := tx.DeleteOperatorSessions(ctx, op.ID); err != nil {
		return err
	}
	return tx.AppendAudit(ctx, &audit.Entry{Time: now, Actor: "system", Action: "operator.disable",
		Reason: fmt.Sprintf("%s: no login for %s", op.ID, days(s.DisableAfter)), Decision: "allow:inactive"})
}

// days writes d in days when it is a whole number of them.
func days(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

// DisableInactive disables every account without a login within
// DisableAfter (the sweep serve runs; a login attempt disables such an
// account too) and returns how many it disabled. Each is disabled in a
// transaction of its own with its audit entry.
func (s *Service) DisableInactive(ctx context.Context) (int, error) {
	if s.DisableAfter <= 0 {
		return 0, nil
	}
	var ids []string
	err := s.Store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		ids = ids[:0]
		now := s.now()
		for after := ""; ; {
			ops, err := tx.ListOperators(ctx, after, listPage)
			if err != nil {
				return err
			}
			for i := range ops {
				if s.inactive(&ops[i], now) {
					ids = append(ids, ops[i].ID)
				}
			}
			if len(ops) < listPage {
				return nil
			}
			after = ops[len(ops)-1].ID
		}
	})
	if err != nil {
		return 0, fmt.Errorf("disable inactive: %w", err)
	}
	n := 0
	for _, id := range ids {
		done, err := update(ctx, s.Store, func(ctx context.Context, tx store.Tx) (bool, error) {
			op, err := tx.GetOperator(ctx, id)
			now := s.now()
			if err != nil || !s.inactive(op, now) {
				return false, err // logged in, or disabled, since
			}
			return true, s.disableInactive(ctx, tx, op, now)
		})
		if err != nil {
			return n, fmt.Errorf("disable inactive: %w", err)
		}
		if done {
			n++
		}
	}
	return n, nil
}

// listPage is how many operators a page of the store's list holds.
const listPage = 500

// OperatorInfo is an account as GET /v1/operators and the review show it:
// no secret, no factor.
type OperatorInfo struct {
	ID        string    `json:"id"`
	Username  string    `json:"username"`
	Role      string    `json:"role"`
	Unit      string    `json:"unit"`
	Created   time.Time `json:"created"`
	LastLogin time.Time `json:"last_login,omitzero"`
	Disabled  bool      `json:"disabled"`
	// Locked is the lock's code ("" when not locked).
	Locked  string    `json:"locked,omitempty"`
	Deleted time.Time `json:"deleted,omitzero"`
	// Partner marks a partner organisation's row.
	Partner bool `json:"partner,omitempty"`
	// Pending marks an account waiting for its holder's enrolment (new, or
	// its factors reset): no password logs in to it yet.
	Pending bool `json:"pending,omitempty"`
}

func infoOf(o *identity.Operator) OperatorInfo {
	return OperatorInfo{ID: o.ID, Username: o.Username, Role: o.Role, Unit: o.Unit, Created: o.Created, LastLogin: o.LastLogin,
		Disabled: o.Disabled, Locked: o.Locked, Deleted: o.Deleted, Partner: o.PasswordHash == NoPassword, Pending: o.PasswordHash == PendingPassword}
}

// ListOperators returns a page of the accounts (staff and partners, by id,
// those after the id after, at most limit) for a, who holds the operators
// permission (the caller checks it); audited as operator.list with the
// page's size, in the page's transaction.
func (s *Service) ListOperators(ctx context.Context, a identity.Actor, after string, limit int) ([]OperatorInfo, error) {
	var out []OperatorInfo
	err := s.act(ctx, a, "operator.list", guard.ActOther, func(ctx context.Context, tx store.Tx, e *audit.Entry) error {
		ops, err := tx.ListOperators(ctx, after, limit)
		if err != nil {
			return err
		}
		out = make([]OperatorInfo, len(ops))
		for i := range ops {
			out[i] = infoOf(&ops[i])
		}
		e.Reason = fmt.Sprintf("%d", len(out))
		return nil
	}, nil)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ReviewRow is one account in the recertification report.
type ReviewRow struct {
	OperatorInfo
	// Inactive: no login within DisableAfter (the next login attempt or
	// sweep disables it).
	Inactive bool `json:"inactive,omitempty"`
	// Caseload is how many people are assigned to the account.
	Caseload int `json:"caseload"`
	// Reads is how many reads the account made within the window (from
	// the audit log).
	Reads int `json:"reads"`
}

// Review is the recertification report: every account with its role,
// unit, last login, state, caseload size and reads within window (from
// the audit log), for a manager to confirm. It is audited as
// operator.review by a before it is returned.
func (s *Service) Review(ctx context.Context, a identity.Actor, window time.Duration) ([]ReviewRow, error) {
	now := s.now()
	var rows []ReviewRow
	err := s.Store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		rows = rows[:0]
		reads, err := readsSince(ctx, tx, now.Add(-window))
		if err != nil {
			return err
		}
		for after := ""; ; {
			ops, err := tx.ListOperators(ctx, after, listPage)
			if err != nil {
				return err
			}
			for i := range ops {
				n, err := tx.CountCaseload(ctx, ops[i].ID, now)
				if err != nil {
					return err
				}
				rows = append(rows, ReviewRow{OperatorInfo: infoOf(&ops[i]), Inactive: s.inactive(&ops[i], now), Caseload: n, Reads: reads[ops[i].ID]})
			}
			if len(ops) < listPage {
				return nil
			}
			after = ops[len(ops)-1].ID
		}
	})
	if err != nil {
		return nil, fmt.Errorf("review: %w", err)
	}
	err = s.act(ctx, a, "operator.review", guard.ActOther, func(_ context.Context, _ store.Tx, e *audit.Entry) error {
		e.Reason = fmt.Sprintf("%d accounts, reads over %s", len(rows), days(window))
		return nil
	}, nil)
	if err != nil {
		return nil, err
	}
	return rows, nil
}

// clockSlack is how far out of order in time audit entries are assumed to
// be at most (group commits, nodes' clocks): readsSince starts its scan
// that much before the window.
const clockSlack = time.Hour

// readsSince counts the allowed reads of each actor since since, from the
// audit log. The log is in time order but for clockSlack, so the scan
// starts at the first entry from since-clockSlack (a binary search over
// sequence numbers) and each entry's own time decides.
func readsSince(ctx context.Context, log audit.Log, since time.Time) (map[string]int, error) {
	last, err := log.LastAuditSeq(ctx)
	if err != nil {
		return nil, err
	}
	from := since.Add(-clockSlack)
	lo, hi := int64(1), last+1 // the first entry at or after from is in [lo, hi]
	for lo < hi {
		mid := lo + (hi-lo)/2
		es, err := log.AuditEntries(ctx, mid, mid+1, 1)
		if err != nil {
			return nil, err
		}
		if len(es) == 1 && es[0].Time.Before(from) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	out := map[string]int{}
	const page = 5000
	for seq := lo; seq <= last; {
		es, err := log.AuditEntries(ctx, seq, last+1, page)
		if err != nil {
			return nil, err
		}
		if len(es) == 0 {
			break
		}
		for _, e := range es {
			if e.Action == "read" && strings.HasPrefix(e.Decision, "allow") && !e.Time.Before(since) {
				out[e.Actor]++
			}
		}
		seq = es[len(es)-1].Seq + 1
	}
	return out, nil
}
