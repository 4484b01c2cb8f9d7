package vault

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/pace"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/retention"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/subject"
)

// Retention is what the vault applies of the retention policy besides
// each field's own rule (policy.Field.Keep).
type Retention struct {
	// Record is the rule of the whole record (nil: none).
	Record *retention.Rule
	// Activity are the purposes whose reads are the record's activity.
	Activity []string
}

// The purge's audit entry: one per batch that changed anything, with
// counts and never an id (the persons purged are gone; their ids in the
// log would say who was).
const (
	// ActionPurge is the action of a purge batch's entry.
	ActionPurge = "retention.purge"
	purgeActor  = "system"
	purgeOrigin = "retention"
)

// ActivityDay reports whether the access a is its record's activity,
// and its day (midnight UTC): a read that returned data under a purpose
// the policy names (Retention.Activity). A read whose consent is pending
// returned nothing ("allow:" and the request's id). The audit log is the
// record of activity: no read writes to the record for it. The audit
// integrator records the activity on the records (TouchSubjects) in
// batches (auditlog.Integrator.RecordActivity), up to the activity mark,
// and a retention sweep adds what lies past the mark
// ([Vault.readActivity]).
func (v *Vault) ActivityDay(a audit.Access) (time.Time, bool) {
	if a.Action != "read" || a.Subject == "" || !v.activity[a.Purpose] {
		return time.Time{}, false
	}
	if a.Decision != "allow" && (!strings.HasPrefix(a.Decision, "allow:") || strings.HasPrefix(a.Decision, "allow:"+consentPrefix)) {
		return time.Time{}, false
	}
	return a.Time.UTC().Truncate(24 * time.Hour), true
}

// consentPrefix begins a consent request's id: a read that asked for
// consent is audited "allow:" and that id.
const consentPrefix = "cns_"

// maxActivityLag bounds the entries a retention sweep reads past the
// activity mark for the records' recent activity: the integrator moves
// the mark every 200,000 entries (auditlog.DefaultActivityEntries) or
// hour, so more means it is behind.
const maxActivityLag = 1_000_000

// addActivity gives row the activity r holds of it, when later than the
// recorded one.
func addActivity(row *subject.Row, r *recent) {
	if day := r.days[row.ID]; day.After(row.Active) {
		row.Active = day
	}
}

// ErrActivityLag refuses a retention sweep while the audit integrator is
// far behind: the records' last activity is not known.
var ErrActivityLag = errors.New("the audit integrator is behind: records' last activity is not known yet")

// recent is the records' activity in the entries past the activity mark,
// which the integrator has not recorded yet, as a sweep adds it: the day
// of each record's latest, and the last entry read (0: none yet).
type recent struct {
	days map[string]time.Time
	last int64
}

// readActivity reads into r the activity in the entries after r.last
// (after the activity mark, the first time) up to the log's end. A
// sweep reads the most of it on the store's read side, then in its write
// transaction only what was appended since; a transaction run again reads
// its part again, which changes nothing (a record keeps its later day).
func (v *Vault) readActivity(ctx context.Context, tx store.Tx, r *recent) error {
	if len(v.activity) == 0 {
		return nil
	}
	from := r.last + 1
	if r.last == 0 {
		mark, err := tx.ActivityMark(ctx)
		if err != nil {
			return err
		}
		from = mark + 1
	}
	last, err := tx.LastAuditSeq(ctx)
	if err != nil {
		return err
	}
	if r.last == 0 && last-from+1 > maxActivityLag {
		return fmt.Errorf("%w (%d entries past the activity mark)", ErrActivityLag, last-from+1)
	}
	if r.days == nil {
		r.days = map[string]time.Time{}
	}
	err = tx.AuditLeaves(ctx, from, last+1, func(seq int64, leaf []byte) error {
		a, err := audit.LeafAccess(leaf)
		if err != nil {
			return fmt.Errorf("audit entry %d: %w", seq, err)
		}
		if day, ok := v.ActivityDay(a); ok && day.After(r.days[a.Subject]) {
			r.days[a.Subject] = day
		}
		return nil
	})
	if err != nil {
		return err
	}
	r.last = max(r.last, last)
	return nil
}

// dues is what is due of one record: the whole record, or some of its
// fields.
type dues struct {
	record bool
	fields []string
}

// events returns the event times of row's retention rules: created,
// last_update, last_activity and the date fields the rules name, which
// are opened only when a rule names one.
func (v *Vault) events(row *subject.Row) (func(string) (time.Time, bool), error) {
	dates, err := v.openFields(row, v.ruleDates)
	if err != nil {
		return nil, err
	}
	return func(event string) (time.Time, bool) {
		switch event {
		case retention.Created:
			return row.Created, true
		case retention.LastUpdate:
			return row.Updated, true
		case retention.LastActivity:
			return row.LastActivity(), true
		}
		d, ok := dates[event]
		if !ok {
			return time.Time{}, false
		}
		return retention.Date(d)
	}, nil
}

// due says what of row is due at now. Canaries are never due: they are
// traps, not anyone's data.
func (v *Vault) due(row *subject.Row, now time.Time) (dues, error) {
	var d dues
	if row.Canary || row.Gone() {
		return d, nil
	}
	at, err := v.events(row)
	if err != nil {
		return d, err
	}
	if r := v.retain.Record; r != nil {
		if t, ok := r.Due(at); ok && !t.After(now) {
			return dues{record: true}, nil
		}
	}
	held := 0
	err = eachField(row.Fields, func(name string, _ []byte) error {
		held++
		f, ok := v.pol.Field(name)
		if !ok || f.Keep == nil {
			return nil
		}
		if t, ok := f.Keep.Due(at); ok && !t.After(now) {
			d.fields = append(d.fields, name)
		}
		return nil
	})
	if err != nil {
		return d, err
	}
	if held > 0 && len(d.fields) == held {
		// Every value is due: the record goes whole.
		return dues{record: true}, nil
	}
	return d, nil
}

// Purged counts what a purge did (or, in a plan, would do).
type Purged struct {
	// Seen is how many live records were examined.
	Seen int `json:"seen"`
	// Records were crypto-shredded whole; Fields are the field values
	// dropped from records that stay.
	Records int `json:"records"`
	Fields  int `json:"fields"`
	// Held records were due but under a legal hold: left alone.
	Held int `json:"held"`
	// Batches is how many transactions changed something (each audited).
	Batches int `json:"batches"`
}

func (p *Purged) add(q Purged) {
	p.Seen += q.Seen
	p.Records += q.Records
	p.Fields += q.Fields
	p.Held += q.Held
	p.Batches += q.Batches
}

// scanPage is how many records one read of a purge's sweep reads, and
// scanPages how many pages it reads at most before it writes what it has
// found due: a store whose records are seldom due is swept fast, and a
// batch's write transaction stays bounded by its limit.
const (
	scanPage  = 1000
	scanPages = 20
)

// PurgeBatch applies the retention rules to the live records after the
// cursor after (a sequence number; 0 to start), as of now: it reads them
// in read transactions until it has found limit records due (or read
// scanPages pages), and if any is due, crypto-shreds the records due whole
// (their data key destroyed, their lookup entries removed, folded into
// the statistics' retained counters) and drops the field values due, in
// one transaction audited with counts. It returns the next cursor, 0 once
// the sweep has reached the end. A record under a legal hold is left
// alone; a record changed since it was read is judged again inside the
// transaction. An interrupted sweep resumes from any cursor: a record
// purged is no longer live, so nothing is counted twice.
func (v *Vault) PurgeBatch(ctx context.Context, after int64, limit int, now time.Time) (next int64, p Purged, err error) {
	var due []string
	next = after
	// The activity not integrated yet, read here rather than in the
	// writer: the transaction below reads only what follows it.
	act := &recent{}
	if err := v.store.View(ctx, func(ctx context.Context, tx store.Tx) error { return v.readActivity(ctx, tx, act) }); err != nil {
		return 0, p, fmt.Errorf("purge: read: %w", err)
	}
	for page := 0; page < scanPages && len(due) < limit; page++ {
		var rows []*subject.Row
		err = v.store.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
			rows, err = tx.LiveSubjects(ctx, next, min(scanPage, limit))
			return err
		})
		if err != nil {
			return 0, p, fmt.Errorf("purge: read: %w", err)
		}
		if len(rows) == 0 {
			next = 0 // the end
			break
		}
		p.Seen, next = p.Seen+len(rows), rows[len(rows)-1].Seq
		for _, r := range rows {
			addActivity(r, act)
			d, err := v.due(r, now)
			if err != nil {
				return 0, p, fmt.Errorf("purge: record %s: %w", r.ID, err)
			}
			if d.record || len(d.fields) > 0 {
				due = append(due, r.ID)
			}
		}
	}
	if len(due) == 0 {
		return next, p, nil
	}
	done, err := update(ctx, v.store, func(ctx context.Context, tx store.Tx) (Purged, error) {
		return v.purge(ctx, tx, due, act, now)
	})
	if err != nil {
		return 0, p, fmt.Errorf("purge: %w", err)
	}
	done.Seen = p.Seen
	return next, done, nil
}

// purge is PurgeBatch's transaction over the records due.
func (v *Vault) purge(ctx context.Context, tx store.Tx, ids []string, act *recent, now time.Time) (Purged, error) {
	var p Purged
	dropped := map[string]bool{}
	system := identity.Actor{ID: purgeActor, Origin: purgeOrigin}
	// A record shredded while the statistics' counters are stale would
	// be lost from the retained aggregates for good: none is, until the
	// counters are rebuilt.
	if v.stats.Enabled() {
		switch ok, err := v.countsCurrent(ctx, tx, 0); {
		case err != nil:
			return p, err
		case !ok:
			return p, ErrStatsStale
		}
	}
	if err := v.readActivity(ctx, tx, act); err != nil {
		return p, err
	}
	for _, id := range ids {
		row, err := tx.GetSubject(ctx, id)
		if err != nil {
			return p, err
		}
		addActivity(row, act)
		d, err := v.due(row, now)
		switch {
		case err != nil:
			return p, err
		case !d.record && len(d.fields) == 0:
			continue
		}
		switch err := Held(ctx, tx, id); {
		case errors.Is(err, ErrHeld):
			p.Held++
			continue
		case err != nil:
			return p, err
		}
		if d.record {
			// Out of the live aggregates by the erasure, then counted in
			// the retained ones, in this transaction: once. Erased
			// meanwhile (another node's pass), it is left, nothing written.
			switch err := v.eraseRow(ctx, tx, system, row, now); {
			case errors.Is(err, errErasedMeanwhile):
				continue
			case err != nil:
				return p, err
			}
			if err := v.FoldRetained(ctx, tx, row, nil); err != nil {
				return p, err
			}
			p.Records++
			continue
		}
		drop := make(map[string]*string, len(d.fields))
		for _, f := range d.fields {
			drop[f], dropped[f] = nil, true
		}
		// The record's last update stays what it was: a purge is not
		// an update, or it would keep the rest of the record longer.
		if err := v.change(ctx, tx, row, drop, row.Updated); err != nil {
			return p, err
		}
		p.Fields += len(d.fields)
	}
	if p.Records == 0 && p.Fields == 0 && p.Held == 0 {
		return p, nil
	}
	p.Batches = 1
	e := &audit.Entry{Time: now.UTC(), Actor: purgeActor, Action: ActionPurge, Origin: purgeOrigin, Decision: "allow",
		Reason: fmt.Sprintf("records=%d fields=%d held=%d", p.Records, p.Fields, p.Held), Fields: slices.Sorted(maps.Keys(dropped))}
	if err := tx.AppendAudit(ctx, e); err != nil {
		return p, err
	}
	return p, nil
}

// Purge sweeps every live record once (PurgeBatch after PurgeBatch, batch
// records due each), resting rest times a batch's time after each batch
// that wrote (a sweep that only reads takes nothing from the store's
// writer), and returns what it did. now is asked at each batch. progress,
// if set, is called after each batch with the totals so far.
func (v *Vault) Purge(ctx context.Context, now func() time.Time, batch int, rest float64, progress func(Purged)) (Purged, error) {
	var total Purged
	var cursor int64
	for ctx.Err() == nil {
		t0 := time.Now()
		next, p, err := v.PurgeBatch(ctx, cursor, batch, now())
		if err != nil {
			return total, err
		}
		total.add(p)
		if progress != nil {
			progress(total)
		}
		if cursor = next; cursor == 0 {
			break
		}
		if p.Batches > 0 {
			pace.Rest(ctx, rest, time.Since(t0))
		}
	}
	if total.Batches > 0 {
		v.log.InfoContext(ctx, "retention purge", "records", total.Records, "fields", total.Fields, "held", total.Held, "batches", total.Batches)
	}
	return total, ctx.Err()
}

// Plan is what the retention rules would purge, counts only.
type Plan struct {
	// Now is what is due at the plan's time (Seen: the live records).
	Now Purged `json:"now"`
	// Months are the records and field values that fall due later, in
	// each month from the plan's own, by month ("2027-03").
	Months []PlanMonth `json:"months"`
}

// PlanMonth is one month of a Plan.
type PlanMonth struct {
	Month   string `json:"month"`
	Records int    `json:"records"`
	Fields  int    `json:"fields"`
}

// RetentionPlan reads every live record (in read transactions of a
// thousand) and counts what is due at now, and what falls due later in
// each of months calendar months from now's.
func (v *Vault) RetentionPlan(ctx context.Context, now time.Time, months int) (Plan, error) {
	var plan Plan
	now = now.UTC()
	end := time.Date(now.Year(), now.Month()+time.Month(months), 1, 0, 0, 0, 0, time.UTC)
	byMonth := map[string]*PlanMonth{}
	for i := range months {
		m := time.Date(now.Year(), now.Month()+time.Month(i), 1, 0, 0, 0, 0, time.UTC).Format("2006-01")
		plan.Months = append(plan.Months, PlanMonth{Month: m})
	}
	for i := range plan.Months {
		byMonth[plan.Months[i].Month] = &plan.Months[i]
	}
	// The activity no checkpoint covers yet, as a sweep would add it.
	act := &recent{}
	err := v.store.View(ctx, func(ctx context.Context, tx store.Tx) error { return v.readActivity(ctx, tx, act) })
	if err != nil {
		return plan, fmt.Errorf("retention plan: %w", err)
	}
	var after int64
	for {
		var rows []*subject.Row
		var held map[string]bool
		err := v.store.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
			if rows, err = tx.LiveSubjects(ctx, after, 1000); err != nil {
				return err
			}
			held = map[string]bool{}
			for _, r := range rows {
				addActivity(r, act)
				d, err := v.due(r, now)
				if err != nil {
					return fmt.Errorf("record %s: %w", r.ID, err)
				}
				if d.record || len(d.fields) > 0 {
					h, err := tx.Held(ctx, r.ID)
					if err != nil {
						return err
					}
					held[r.ID] = h
				}
			}
			return nil
		})
		if err != nil {
			return plan, fmt.Errorf("retention plan: %w", err)
		}
		if len(rows) == 0 {
			return plan, nil
		}
		after = rows[len(rows)-1].Seq
		for _, r := range rows {
			plan.Now.Seen++
			d, _ := v.due(r, now) // no error: judged above
			switch {
			case held[r.ID]:
				plan.Now.Held++
				continue
			case d.record:
				plan.Now.Records++
				continue
			}
			plan.Now.Fields += len(d.fields)
			if err := v.upcoming(r, now, end, byMonth); err != nil {
				return plan, fmt.Errorf("retention plan: record %s: %w", r.ID, err)
			}
		}
	}
}

// upcoming counts, into byMonth, when row and its fields fall due after
// now and before end (the record's own rule first: its fields go with
// it).
func (v *Vault) upcoming(row *subject.Row, now, end time.Time, byMonth map[string]*PlanMonth) error {
	if row.Canary {
		return nil
	}
	at, err := v.events(row)
	if err != nil {
		return err
	}
	recordDue := end
	if r := v.retain.Record; r != nil {
		if t, ok := r.Due(at); ok && t.After(now) && t.Before(end) {
			recordDue = t
			byMonth[t.Format("2006-01")].Records++
		}
	}
	return eachField(row.Fields, func(name string, _ []byte) error {
		f, ok := v.pol.Field(name)
		if !ok || f.Keep == nil {
			return nil
		}
		if t, ok := f.Keep.Due(at); ok && t.After(now) && t.Before(recordDue) {
			byMonth[t.Format("2006-01")].Fields++
		}
		return nil
	})
}

// ruleDates lists the date fields the retention rules count from.
func ruleDates(pol *policy.Policy, record *retention.Rule) []string {
	var out []string
	add := func(r *retention.Rule) {
		if r == nil || slices.Contains(retention.Events, r.Event) || slices.Contains(out, r.Event) {
			return
		}
		out = append(out, r.Event)
	}
	add(record)
	for _, f := range pol.Fields {
		add(f.Keep)
	}
	slices.SortFunc(out, strings.Compare)
	return out
}
