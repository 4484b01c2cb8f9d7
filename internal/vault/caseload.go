package vault

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/public"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/subjectid"
	"github.com/coffre/coffre/internal/value"
)

// Bounds of caseload changes.
const (
	// MaxCaseloadBatch is the most subjects one API request assigns or
	// removes.
	MaxCaseloadBatch = 500
	// MaxCaseloadAhead is how far ahead an assignment may end.
	MaxCaseloadAhead = 2 * 365 * 24 * time.Hour
	// MaxCaseloadRows is the most rows of one operator that a host change
	// (one transaction) applies.
	MaxCaseloadRows = 20000
)

// ParseUntil reads the end of an assignment: an RFC 3339 date-time, or a
// date (2026-09-30), which ends at the end of that day in the guard's time
// zone (UTC without a guard). It checks the form only; the bounds (after
// now, at most [MaxCaseloadAhead] ahead) are the caller's. Its error is a
// [*FieldError] of field "until" that never repeats s.
func (v *Vault) ParseUntil(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	loc := time.UTC
	if v.guard != nil && v.guard.Location != nil {
		loc = v.guard.Location
	}
	if d, err := time.ParseInLocation(time.DateOnly, s, loc); err == nil {
		return d.AddDate(0, 0, 1).UTC(), nil
	}
	return time.Time{}, &FieldError{Field: "until", Reason: "want an RFC 3339 date-time (2026-09-30T18:00:00+02:00) or a date (2026-09-30, to the end of that day)"}
}

// UntilReason says what is wrong with the end of an assignment made at
// now, or "" (the zero time, no end, is the caller's to allow).
func UntilReason(until, now time.Time) string {
	switch {
	case !until.IsZero() && !until.After(now):
		return "in the past: an assignment ends in the future"
	case until.Sub(now) > MaxCaseloadAhead:
		return "more than 2 years ahead: assign again when the time comes"
	}
	return ""
}

// caseloadRequest checks what an API caseload change can be checked on
// before its transaction: the assign permission, another operator than
// a's own, an operator id of sane form, and 1 to MaxCaseloadBatch
// well-formed subject ids (returned without duplicates, in order).
func (v *Vault) caseloadRequest(a identity.Actor, operator string, subjects []string) ([]string, error) {
	if err := v.can(a, policy.PermAssign); err != nil {
		return nil, err
	}
	if operator == a.ID {
		return nil, public.Errorf(access.ErrForbidden, "forbidden: nobody changes their own caseload").
			WithHint("another person of your unit with the assign permission does, or the nightly sync on the host")
	}
	if !validOperatorID(operator) {
		return nil, public.Errorf(access.ErrInvalid, "invalid input: malformed operator id").WithHint("the operator's id (op_…) goes in the path")
	}
	const hint = `send {"subjects": ["sub_…", …]} with 1 to 500 subject ids`
	if len(subjects) == 0 || len(subjects) > MaxCaseloadBatch {
		return nil, public.Errorf(access.ErrInvalid, "invalid input: subjects: want 1 to %d subject ids a request", MaxCaseloadBatch).WithHint(hint)
	}
	out := make([]string, 0, len(subjects))
	seen := make(map[string]bool, len(subjects))
	for i, s := range subjects {
		if !subjectid.Valid(s) {
			return nil, public.Errorf(access.ErrInvalid, "invalid input: subjects[%d]: malformed subject id", i).WithHint(hint)
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out, nil
}

// validOperatorID reports whether s has the shape of an operator id:
// "op_" and up to 61 characters a-z, 0-9, '_', '-'. Only such a string is
// written in an audit entry: the path may hold anything, a person's email
// included.
func validOperatorID(s string) bool {
	if len(s) <= 3 || len(s) > 64 || !strings.HasPrefix(s, "op_") {
		return false
	}
	for _, c := range s[3:] {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// operatorReason is what an audit entry says of the operator named in a
// request: its id, or nothing when it is no operator id.
func operatorReason(s string) string {
	if validOperatorID(s) {
		return s
	}
	return "(malformed operator id)"
}

// AssignCaseload assigns subjects (1 to [MaxCaseloadBatch] ids) to the
// caseload of operator until until, on behalf of a: someone of the
// operator's unit holding the assign permission, never the operator
// itself. The operator must be an enabled staff account whose role reads
// people, the subjects live, unerased people of its unit; until is within
// [MaxCaseloadAhead]. A subject assigned already takes the new end (later
// or earlier): assigning again is idempotent. It returns how many
// subjects were assigned.
//
// An assignment is an access path (a caseload is read at no
// out-of-caseload cost), so it goes through the guard: the rate, the
// working hours and the role's assignments per day, counted per subject.
// Refusals are audited and counted towards the hard margin; an unknown
// subject counts as a miss. The change and its audit entry
// (caseload.assign, the operator's id and the count, never the subjects)
// are one transaction.

func (v *Vault) AssignCaseload(ctx context.Context, a identity.Actor, operator string, subjects []string, until time.Time) (int, error) {
	entry := audit.Entry{Actor: a.ID, Action: "caseload.assign", Reason: operatorReason(operator), Origin: a.Origin}
	now := v.now().UTC()
	subs, err := v.caseloadRequest(a, operator, subjects)
	if err == nil && until.IsZero() {
		err = &FieldError{Field: "until", Reason: "required: when the assignment ends"}
	}
	if err == nil {
		if r := UntilReason(until, now); r != "" {
			err = &FieldError{Field: "until", Reason: r}
		}
	}
	if err == nil && now.Sub(a.SteppedUp) > access.FreshFactor {
		err = public.Errorf(access.ErrStepUpRequired, "an assignment needs a second factor proved within the last %s", access.FreshFactor)
	}
	if err != nil {
		return 0, v.deny(ctx, a, entry, err)
	}
	entry.Reason = fmt.Sprintf("%s: %d subjects until %s", operator, len(subs), until.Format(time.RFC3339))
	acc := guard.Access{Kind: guard.Assign, Count: len(subs)}
	return v.changeCaseload(ctx, a, entry, operator, subs, acc, func(ctx context.Context, tx store.Tx, _ *audit.Entry) (int, error) {
		return len(subs), tx.AssignCaseload(ctx, operator, subs, until)
	})
}

// RemoveCaseload ends the assignments of subjects (1 to
// [MaxCaseloadBatch] ids) to operator, on behalf of a, under the rules
// of [Vault.AssignCaseload] (the operator may be disabled: a leaver's
// caseload is emptied). Subjects not assigned are no error; it returns
// how many assignments ended. A removal costs a request of the rate and
// none of the assignment budget.
func (v *Vault) RemoveCaseload(ctx context.Context, a identity.Actor, operator string, subjects []string) (int, error) {
	entry := audit.Entry{Actor: a.ID, Action: "caseload.remove", Reason: operatorReason(operator), Origin: a.Origin}
	subs, err := v.caseloadRequest(a, operator, subjects)
	if err != nil {
		return 0, v.deny(ctx, a, entry, err)
	}
	return v.changeCaseload(ctx, a, entry, operator, nil, guard.Access{Kind: guard.Assign}, func(ctx context.Context, tx store.Tx, e *audit.Entry) (int, error) {
		n, err := tx.RemoveCaseload(ctx, operator, subs)
		e.Reason = fmt.Sprintf("%s: %d of %d subjects removed", operator, n, len(subs))
		return n, err
	})
}

// changeCaseload runs an API caseload change in one transaction: the
// operator and the subjects (nil for a removal) checked → the guard
// (a refusal of the checks counts towards the hard margin, a missing
// subject as a miss) → write → audit → the guard's state.
func (v *Vault) changeCaseload(ctx context.Context, a identity.Actor, entry audit.Entry, operator string, subs []string, acc guard.Access,
	write func(context.Context, store.Tx, *audit.Entry) (int, error)) (int, error) {
	now := v.now()
	lim := v.limits(a.Role)
	type outcome struct {
		n       int
		refusal error
	}
	res, err := update(ctx, v.store, func(ctx context.Context, tx store.Tx) (outcome, error) {
		e := entry
		e.Time, e.Decision = now.UTC(), "allow"
		refusal, missing, err := v.caseloadTarget(ctx, tx, a, lim, operator, subs)
		if err != nil {
			return outcome{}, err
		}
		var g *guardRun
		if lim != nil {
			g = &guardRun{lim: lim}
			if err := g.load(ctx, tx, a.ID); err != nil {
				return outcome{}, err
			}
			if refusal != nil && !missing {
				if g.state.Locked != "" {
					refusal, g.dec = access.ErrLocked, guard.Decision{Verdict: guard.Lock, Code: g.state.Locked}
				} else if g.refuse(v.guardTime(now)) {
					refusal = access.ErrLocked
				}
			} else {
				x := acc
				x.Time, x.Origin, x.Trusted, x.Missing = v.guardTime(now), a.Origin, v.trusted(a.Origin), missing
				if r := g.decide(x, ""); r != nil {
					refusal = r
				}
			}
		}
		var n int
		if refusal == nil {
			if n, err = write(ctx, tx, &e); err != nil {
				return outcome{}, err
			}
		} else {
			e.Decision = "deny:" + errorCode(refusal)
			if g != nil && g.dec.Verdict != guard.Allow {
				e.Decision, _ = verdict(g.dec)
			}
		}
		if err := tx.AppendAudit(ctx, &e); err != nil {
			return outcome{}, err
		}
		if g != nil {
			if err := v.finishGuard(ctx, tx, g, a, e.Seq, now.UTC()); err != nil {
				return outcome{}, err
			}
		}
		return outcome{n: n, refusal: refusal}, nil
	})
	switch {
	case err != nil:
		return 0, unavailable(err)
	case res.refusal != nil:
		return 0, res.refusal
	}
	return res.n, nil
}

// refuse counts a refused request towards the hard margin, as [Vault.deny]
// does, and reports whether it locks the account.
func (g *guardRun) refuse(now time.Time) bool {
	locks, st := guard.Refuse(g.lim, g.state, now)
	if g.state = st; locks {
		g.dec = guard.Decision{Verdict: guard.Lock, Code: guard.CodeRefusals}
	}
	return locks
}

// caseloadTarget checks, in the change's transaction, the operator whose
// caseload a changes and the subjects to assign (none for a removal). It
// returns the refusal (public), and whether it is for a missing subject.
func (v *Vault) caseloadTarget(ctx context.Context, tx store.Tx, a identity.Actor, lim *guard.Limits, operator string, subs []string) (refusal error, missing bool, err error) {
	op, err := tx.GetOperator(ctx, operator)
	if errors.Is(err, store.ErrNotFound) {
		return public.Errorf(store.ErrNotFound, "no such operator %s", operator).WithHint("check the operator's id"), false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if (lim == nil || !lim.AllUnits) && op.Unit != a.Unit {
		return public.Errorf(access.ErrForbidden, "forbidden: operator %s is not of your unit (%s): caseloads are assigned within one's unit", operator, a.Unit).
			WithHint("a supervisor of the operator's unit assigns its caseload"), false, nil
	}
	if subs == nil {
		return nil, false, nil // a removal: any operator of the unit, a disabled one too
	}
	if why := v.holdsCaseload(ctx, tx, op); why != "" {
		return public.Errorf(access.ErrInvalid, "invalid input: operator %s %s", operator, why).WithHint("assign people to an enabled caseworker of your unit"), false, nil
	}
	for _, id := range subs {
		r, err := tx.GetSubject(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound) || err == nil && r.Gone():
			return public.Errorf(store.ErrNotFound, "no such subject %s, or it was erased: nothing was assigned", id).WithHint("remove it from the list and send the others again"), true, nil
		case err != nil:
			return nil, false, err
		case r.Unit != op.Unit:
			return public.Errorf(access.ErrInvalid, "invalid input: subject %s is not of unit %s, the operator's: nothing was assigned", id, op.Unit).
				WithHint("a caseload holds people of the operator's unit: remove it from the list and send the others again"), false, nil
		}
	}
	return nil, false, nil
}

// holdsCaseload says why op cannot be assigned people ("" if it can): a
// disabled account, a partner's client, a role that reads no one.
func (v *Vault) holdsCaseload(ctx context.Context, tx identity.Partners, op *identity.Operator) string {
	if op.Disabled {
		return "is disabled: enable the account first"
	}
	if _, err := tx.GetPartner(ctx, op.ID); err == nil {
		return "is a partner's client: partners have no caseload"
	}
	if r, err := v.pol.Role(op.Role); err != nil || len(r.Purposes) == 0 {
		return fmt.Sprintf("has role %q, which reads no one: only a role with purposes has a caseload", op.Role)
	}
	return ""
}

// CaseloadCount returns how many people are assigned to a's own caseload
// now. Only the count: no operator is ever given a list of the people of
// a caseload (the caseworker meets them one at a time).
func (v *Vault) CaseloadCount(ctx context.Context, a identity.Actor) (int, error) {
	var n int
	err := v.store.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
		n, err = tx.CountCaseload(ctx, a.ID, v.now())
		return err
	})
	if err != nil {
		return 0, unavailable(err)
	}
	return n, nil
}

// Assignment is whether a subject is in an operator's caseload.
type Assignment struct {
	Subject  string `json:"subject"`
	Assigned bool   `json:"assigned"`
	// Until is the assignment's end, absent when it has none or there is
	// no assignment; an assignment that ended shows its end, not assigned.
	Until time.Time `json:"until,omitzero"`
}

// CaseloadMember tells a whether subject is in a's own caseload now. It
// reveals nothing of the subject: not whether it exists, nor its unit.
func (v *Vault) CaseloadMember(ctx context.Context, a identity.Actor, subject string) (*Assignment, error) {
	if !subjectid.Valid(subject) {
		return nil, invalid("malformed subject id")
	}
	out := &Assignment{Subject: subject}
	err := v.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		until, err := tx.CaseloadUntil(ctx, a.ID, subject)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		out.Until, out.Assigned = until, until.IsZero() || until.After(v.now())
		return nil
	})
	if err != nil {
		return nil, unavailable(err)
	}
	return out, nil
}

// CaseloadRow is one row of a caseload file applied from the host.
type CaseloadRow struct {
	Num int // the row's number in the file, for its error
	// Subject is a subject id, or FIELD=VALUE: the exact value of a lookup
	// field (found through its blind index; the value is never kept).
	Subject string
	Until   time.Time // the zero time: no end
}

// CaseloadRows makes the rows of a host change from subject ids, all
// ending at until.
func CaseloadRows(ids []string, until time.Time) []CaseloadRow {
	rows := make([]CaseloadRow, len(ids))
	for i, id := range ids {
		rows[i] = CaseloadRow{Num: i + 1, Subject: id, Until: until}
	}
	return rows
}

// CaseloadChange is a change of one operator's caseload from the host:
// `coffre caseload assign|remove|sync`, and the nightly feed of a
// case-management system.
type CaseloadChange struct {
	// The operator, by Username or by ID (one of them).
	Username, ID string
	Rows         []CaseloadRow
	// Remove ends the rows' assignments instead of making them.
	Remove bool
	// Sync also ends the operator's assignments of subjects the rows do
	// not name: its caseload becomes the rows. Only when every row is
	// valid and Incomplete is not set: a feed with a bad row is no
	// complete picture of the caseload, so nothing else ends.
	Sync       bool
	Incomplete bool
}

// CaseloadResult is what a [CaseloadChange] did.
type CaseloadResult struct {
	Operator string `json:"operator"` // its id; "" when the operator was not found
	Assigned int    `json:"assigned"`
	Removed  int    `json:"removed"`
	// Synced: the assignments the rows do not name ended (Sync).
	Synced bool       `json:"synced"`
	Failed []RowError `json:"-"`
}

// ChangeCaseload applies a change of one operator's caseload from the
// host, where the root key is (no guard budget: the nightly feed of a
// case-management system assigns whole caseloads), in one transaction
// with its audit entry: caseload.assign, caseload.remove or caseload.sync
// by a, with the operator's id and the counts. Rows at fault are
// reported (row number, column operator, subject or until, and why,
// never a value) and the others applied: a subject unknown, erased or of
// another unit than the operator's, a lookup value no one holds, an end
// in the past or more than [MaxCaseloadAhead] ahead; an operator unknown,
// disabled, a partner's or of a role that reads no one fails every row.
// A subject named twice takes its last row's end.
func (v *Vault) ChangeCaseload(ctx context.Context, a identity.Actor, c CaseloadChange) (*CaseloadResult, error) {
	if len(c.Rows) > MaxCaseloadRows {
		return nil, invalid("%d rows for one operator: at most %d", len(c.Rows), MaxCaseloadRows)
	}
	if (c.Username == "") == (c.ID == "") {
		return nil, invalid("name the operator by username or by id")
	}
	action := "caseload.assign"
	switch {
	case c.Remove:
		action = "caseload.remove"
	case c.Sync:
		action = "caseload.sync"
	}
	now := v.now().UTC()
	// Lookup values are hashed before the transaction.
	hashes := make([][]byte, len(c.Rows))
	failed := make([]RowError, 0)
	refused := make([]bool, len(c.Rows))
	for i, r := range c.Rows {
		field, val, byValue := strings.Cut(r.Subject, "=")
		reason, col := "", "subject"
		switch f, ok := v.pol.Field(field); {
		case byValue && (!ok || !f.Lookup):
			reason = "want a subject id (sub_…) or FIELD=VALUE of a lookup field"
		case byValue:
			if err := value.Validate(f, val); err != nil {
				reason = "the value: " + fieldError(field, err).Reason
			} else {
				hashes[i] = v.keys.BlindIndex(field, value.Normalize(f.Type, val))
			}
		case !subjectid.Valid(r.Subject):
			reason = "want a subject id (sub_…) or FIELD=VALUE of a lookup field"
		}
		if reason == "" && !c.Remove {
			if reason = UntilReason(r.Until, now); reason != "" {
				col = "until"
			}
		}
		if reason != "" {
			failed, refused[i] = append(failed, RowError{Num: r.Num, Field: col, Reason: reason}), true
		}
	}
	type outcome struct {
		res    CaseloadResult
		failed []RowError
	}
	out, err := update(ctx, v.store, func(ctx context.Context, tx store.Tx) (outcome, error) {
		o := outcome{failed: slices.Clone(failed)}
		bad := slices.Clone(refused) // this run's: a store may run it twice
		fail := func(i int, col, reason string) {
			o.failed, bad[i] = append(o.failed, RowError{Num: c.Rows[i].Num, Field: col, Reason: reason}), true
		}
		var op *identity.Operator
		var err error
		if c.ID != "" {
			op, err = tx.GetOperator(ctx, c.ID)
		} else {
			op, err = tx.GetOperatorByName(ctx, c.Username)
		}
		why := ""
		switch {
		case errors.Is(err, store.ErrNotFound):
			why = "no such operator"
		case err != nil:
			return o, err
		case !c.Remove:
			why = v.holdsCaseload(ctx, tx, op)
		}
		if why != "" {
			o.failed = o.failed[:0]
			for _, r := range c.Rows {
				o.failed = append(o.failed, RowError{Num: r.Num, Field: "operator", Reason: why})
			}
			// Audited with the operator's id, or none: a username is not
			// written in the log.
			e := audit.Entry{Time: now, Actor: a.ID, Action: action, Decision: "deny:not_found", Origin: a.Origin,
				Reason: fmt.Sprintf("no such operator: %d rows refused", len(c.Rows))}
			if op != nil {
				e.Decision, e.Reason = "deny:invalid", fmt.Sprintf("%s: %d rows refused: operator %s", op.ID, len(c.Rows), why)
			}
			return o, tx.AppendAudit(ctx, &e)
		}
		o.res.Operator = op.ID
		ends := map[string]time.Time{} // subject → end, the last row's
		var order []string
		for i, r := range c.Rows {
			if bad[i] {
				continue
			}
			id := r.Subject
			if hashes[i] != nil {
				found, err := tx.LookupIndex(ctx, hashes[i])
				if errors.Is(err, store.ErrNotFound) {
					fail(i, "subject", "no one has this lookup value")
					continue
				}
				if err != nil {
					return o, err
				}
				id = found
			}
			if !c.Remove {
				s, err := tx.GetSubject(ctx, id)
				switch {
				case errors.Is(err, store.ErrNotFound) || err == nil && s.Gone():
					fail(i, "subject", "no such subject, or it was erased")
					continue
				case err != nil:
					return o, err
				case s.Unit != op.Unit:
					fail(i, "subject", fmt.Sprintf("not of unit %s, the operator's", op.Unit))
					continue
				}
			}
			if _, ok := ends[id]; !ok {
				order = append(order, id)
			}
			ends[id] = r.Until
		}
		if c.Remove {
			n, err := tx.RemoveCaseload(ctx, op.ID, order)
			if err != nil {
				return o, err
			}
			o.res.Removed = n
		} else {
			// One statement per distinct end, in order of first row.
			byEnd := map[time.Time][]string{}
			var endOrder []time.Time
			for _, id := range order {
				u := ends[id]
				if _, ok := byEnd[u]; !ok {
					endOrder = append(endOrder, u)
				}
				byEnd[u] = append(byEnd[u], id)
			}
			for _, u := range endOrder {
				if err := tx.AssignCaseload(ctx, op.ID, byEnd[u], u); err != nil {
					return o, err
				}
			}
			o.res.Assigned = len(order)
		}
		if c.Sync && !c.Incomplete && len(o.failed) == 0 {
			n, err := tx.PruneCaseload(ctx, op.ID, order)
			if err != nil {
				return o, err
			}
			o.res.Removed, o.res.Synced = n, true
		}
		e := audit.Entry{Time: now, Actor: a.ID, Action: action, Decision: "allow", Origin: a.Origin,
			Reason: fmt.Sprintf("%s: %d assigned, %d removed, %d rows refused", op.ID, o.res.Assigned, o.res.Removed, len(o.failed))}
		if o.res.Assigned == 0 && o.res.Removed == 0 && len(o.failed) > 0 {
			e.Decision = "deny:invalid"
		}
		return o, tx.AppendAudit(ctx, &e)
	})
	if err != nil {
		return nil, unavailable(err)
	}
	res := out.res
	res.Failed = out.failed
	slices.SortStableFunc(res.Failed, func(x, y RowError) int { return cmp.Compare(x.Num, y.Num) })
	return &res, nil
}
