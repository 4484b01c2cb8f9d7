package vault

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/dpnoise"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/public"
	"github.com/coffre/coffre/internal/stats"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/subject"
	"github.com/coffre/coffre/internal/value"
)

// The anonymous cell counters of the statistics (package stats) are kept
// in the transaction of every change to a record: a create adds 1 to its
// cell of the live set, an update that changes a dimension's field moves
// the record between cells, an erasure takes 1 away, an import adds each
// batch's cells in one AddCounts. Canaries are never counted. The purge
// engine folds a purged record into the retained set with FoldRetained
// before it erases the record (which takes it out of the live set).
//
// The counters are kept for one declaration (stats.Declaration.Version,
// recorded in the store): a store whose counters are of another
// declaration, or that held records before statistics were declared, is
// stale. Nothing is counted in a stale store, and queries are refused,
// until RecountStats rebuilds the live cells.

// versionStale is the counters' version of a store that held records
// before statistics were declared: no declaration matches it.
const versionStale = "stale"

// countsCurrent reports whether tx's counters are of v's declaration.
// A store with no version recorded takes v's when it holds no record
// but the added ones the transaction wrote (a new store), and is marked
// stale otherwise. A yes is remembered.
func (v *Vault) countsCurrent(ctx context.Context, tx store.Tx, added int64) (bool, error) {
	if !v.stats.Enabled() {
		return false, nil
	}
	if v.statsCurrent.Load() {
		return true, nil
	}
	ver, err := tx.CountsVersion(ctx)
	if err != nil {
		return false, err
	}
	want := v.stats.Version()
	if ver == want {
		// Read as committed: remembered.
		v.statsCurrent.Store(true)
		return true, nil
	}
	if ver == "" {
		n, err := tx.CountSubjects(ctx)
		if err != nil {
			return false, err
		}
		if ver = versionStale; n <= added {
			ver = want
		}
		if err := tx.SetCountsVersion(ctx, ver); err != nil {
			return false, err
		}
	}
	// Not remembered: this transaction may yet roll back.
	return ver == want, nil
}

// countLive adds deltas to the live cells in tx, when the counters are
// current.
func (v *Vault) countLive(ctx context.Context, tx store.Tx, deltas map[string]int64) error {
	return v.count(ctx, tx, stats.Live, deltas)
}

func (v *Vault) count(ctx context.Context, tx store.Tx, set string, deltas map[string]int64) error {
	delete(deltas, "")
	if len(deltas) == 0 {
		return nil
	}
	var added int64 // the records this transaction made, if it made them
	if set == stats.Live {
		for _, d := range deltas {
			if d < 0 {
				added = 0
				break
			}
			added += d
		}
	}
	ok, err := v.countsCurrent(ctx, tx, added)
	if err != nil || !ok {
		return err
	}
	return tx.AddCounts(ctx, set, deltas)
}

// CellOf returns the key of the finest statistics cell of a record: its
// unit and creation time from row, its dimension fields from fields (in
// clear, canonical as stored). It is "" when no statistics are declared
// or row is a canary, which no statistic counts.
func (v *Vault) CellOf(row *subject.Row, fields map[string]string) string {
	if !v.stats.Enabled() || row.Canary {
		return ""
	}
	return v.stats.Cell(row.Unit, fields, row.Created)
}

// rowCell opens the dimension fields of a stored record (only those) and
// returns its cell, as CellOf.
func (v *Vault) rowCell(row *subject.Row) (string, error) {
	if !v.stats.Enabled() || row.Canary || row.Gone() {
		return "", nil
	}
	fields, err := v.dimensionFields(row)
	if err != nil {
		return "", err
	}
	return v.CellOf(row, fields), nil
}

// dimensionFields opens the fields of row that the dimensions read.
func (v *Vault) dimensionFields(row *subject.Row) (map[string]string, error) {
	return v.openFields(row, v.statFields)
}

// openFields opens the fields of row named in want (those it holds),
// and only those.
func (v *Vault) openFields(row *subject.Row, want []string) (map[string]string, error) {
	out := map[string]string{}
	if len(want) == 0 {
		return out, nil
	}
	dk, err := v.keys.OpenDEK(row.ID, row.DEKVersion, row.DEK)
	if err != nil {
		return nil, fmt.Errorf("open data key of %s: %w", row.ID, err)
	}
	err = eachField(row.Fields, func(name string, ct []byte) error {
		if !slices.Contains(want, name) {
			return nil
		}
		pt, err := dk.Open(name, ct)
		if err != nil {
			return fmt.Errorf("open field %s of %s: %w", name, row.ID, err)
		}
		out[name] = string(pt)
		return nil
	})
	return out, err
}

// FoldRetained adds the record row to the retained cells, in the purge
// engine's transaction tx, before the record is erased (eraseRow then
// takes it out of the live cells). fields are the record's fields in
// clear, if the caller opened them (nil: the dimension fields are opened
// here, so row must still hold its key). A canary is not counted.
func (v *Vault) FoldRetained(ctx context.Context, tx store.Tx, row *subject.Row, fields map[string]string) error {
	cell := ""
	if fields != nil {
		cell = v.CellOf(row, fields)
	} else {
		var err error
		if cell, err = v.rowCell(row); err != nil {
			return fmt.Errorf("fold retained: %w", err)
		}
	}
	return v.count(ctx, tx, stats.Retained, map[string]int64{cell: 1})
}

// changedCell returns the cell of a record before and after changes (a
// field set to a value, or removed by nil), the old values opened from
// its sealed fields cts with dk; both "" when the changes touch no
// dimension field.
func (v *Vault) changedCell(row *subject.Row, open func(name string) (string, bool, error), changes map[string]*string) (before, after string, err error) {
	if !v.stats.Enabled() || row.Canary {
		return "", "", nil
	}
	want := v.statFields
	if !slices.ContainsFunc(want, func(f string) bool { _, ok := changes[f]; return ok }) {
		return "", "", nil
	}
	old, next := map[string]string{}, map[string]string{}
	for _, name := range want {
		val, ok, err := open(name)
		if err != nil {
			return "", "", err
		}
		if ok {
			old[name], next[name] = val, val
		}
		if c, changed := changes[name]; changed {
			if c == nil {
				delete(next, name)
			} else {
				f, _ := v.pol.Field(name)
				next[name] = value.Canonical(f.Type, *c)
			}
		}
	}
	return v.CellOf(row, old), v.CellOf(row, next), nil
}

// moveCell is the delta of a record moving from cell before to after.
func moveCell(before, after string) map[string]int64 {
	if before == after {
		return nil
	}
	return map[string]int64{before: -1, after: 1}
}

// ErrStatsStale refuses a statistics query on a store whose counters are
// not of the configuration's declaration (changed since, or a store that
// held records before statistics were declared).
var ErrStatsStale = public.Errorf(store.ErrConflict, "the statistics counters are not of the declared dimensions (the declaration changed, or the records predate it)").
	WithHint("on the host: coffre stats recount, which rebuilds them from the records")

// Stats answers a statistics query of a (the stats permission, or the
// host): noised counts of the declared dimensions, never a record.
//
// The query is an access like any other: the guard decides it as an
// administrative act (rate, hours, the hard margin), and it is audited
// (action "stats", the dimensions as the entry's fields, the set and ε
// as its reason; no count, no value). Its ε is charged to a's budget of
// the period in the same transaction as the entry; a query whose ε is
// more than what remains is refused (stats.BudgetError) and charges
// nothing. Only then are the cells read (outside the writer), summed over
// the dimensions asked, and released with fresh noise (stats.Release):
// no group under k, true or noised, is returned.
func (v *Vault) Stats(ctx context.Context, a identity.Actor, q stats.Query) (*stats.Answer, error) {
	entry := audit.Entry{Actor: a.ID, Action: "stats", Origin: a.Origin}
	if !Host(a) {
		if err := v.can(a, policy.PermStats); err != nil {
			return nil, v.deny(ctx, a, entry, err)
		}
	}
	plan, err := v.stats.Plan(q)
	if err != nil {
		return nil, v.deny(ctx, a, entry, err)
	}
	d := v.stats
	over := cmp.Or(q.Over, stats.Live)
	entry.Fields, entry.Reason = plan.Names, fmt.Sprintf("over %s, epsilon %s", over, stats.Decimal(plan.Epsilon))
	now := v.now().UTC()
	period := stats.PeriodStart(now, d.Period)
	end, limit := period.Add(d.Period), stats.Cost(d.Budget)
	type charged struct {
		refusal error
		spent   int64
	}
	res, err := update(ctx, v.store, func(ctx context.Context, tx store.Tx) (charged, error) {
		var r charged
		e := entry
		e.Time, e.Decision = now, "allow"
		var c *AdminCheck
		if !Host(a) {
			var err error
			if c, err = v.CheckAdmin(ctx, tx, a, guard.ActOther); err != nil {
				return r, err
			}
			e.Decision = c.AuditDecision()
		}
		if c != nil && c.Refusal() != nil {
			r.refusal = c.Refusal()
		} else {
			current, err := v.countsCurrent(ctx, tx, 0)
			if err != nil {
				return r, err
			}
			if !current {
				r.refusal, e.Decision = ErrStatsStale, "deny:stale"
			} else {
				spent, ok, err := tx.SpendBudget(ctx, a.ID, period, plan.Cost, limit)
				if err != nil {
					return r, err
				}
				r.spent = spent
				if !ok {
					r.refusal, e.Decision = &stats.BudgetError{Asked: plan.Cost, Remaining: max(limit-spent, 0), Renews: end, RetryAfter: end.Sub(now)}, "deny:budget"
				}
			}
		}
		if err := tx.AppendAudit(ctx, &e); err != nil {
			return r, err
		}
		if c != nil {
			if err := c.Finish(ctx, tx, e.Seq); err != nil {
				return r, err
			}
		}
		return r, nil
	})
	switch {
	case err != nil:
		return nil, unavailable(fmt.Errorf("stats: %w", err))
	case res.refusal != nil:
		return nil, res.refusal
	}
	groups := map[string]int64{}
	err = v.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		clear(groups)
		for _, set := range plan.Sets {
			cells, err := tx.Counts(ctx, set)
			if err != nil {
				return err
			}
			g, err := stats.Aggregate(cells, len(d.Dimensions), plan.Idx)
			if err != nil {
				return err
			}
			for k, n := range g {
				groups[k] += n
			}
		}
		return nil
	})
	if err != nil {
		return nil, unavailable(fmt.Errorf("stats: %w", err))
	}
	m, err := dpnoise.Laplace(plan.Epsilon)
	if err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	released, err := stats.Release(groups, plan.Names, d.K, m)
	if err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	return &stats.Answer{
		GroupBy: slices.Concat([]string{}, plan.Names), Over: over, Groups: released, K: d.K,
		Epsilon: json.Number(stats.Decimal(plan.Epsilon)), Mechanism: m.String(),
		Budget: stats.NewRemaining(res.spent, limit, end),
	}, nil
}

// Recount is what RecountStats did.
type Recount struct {
	Records int64  `json:"records"`
	Cells   int    `json:"cells"`
	Version string `json:"version"`
	// DroppedRetained: the retained cells were of another declaration,
	// which cannot be read under this one, and were dropped.
	DroppedRetained bool `json:"dropped_retained"`
}

// recountBatch is the records RecountStats reads at a time.
const recountBatch = 5000

// RecountStats rebuilds the live cells from the records, for the host
// (coffre stats recount), and records the declaration's version: after a
// change of the declared dimensions, or on a store whose records predate
// them. It runs in one transaction, which holds the store's writer while
// every record's dimension fields are opened (seconds per million
// records). Retained cells of another declaration are dropped (the
// records they counted are gone, and their cells cannot be mapped onto
// the new dimensions); audited "stats.recount" with the counts.
func (v *Vault) RecountStats(ctx context.Context, a identity.Actor) (*Recount, error) {
	if !Host(a) {
		return nil, forbidden("only the host recounts the statistics")
	}
	if !v.stats.Enabled() {
		return nil, public.Errorf(access.ErrInvalid, "no statistics are declared").WithHint("declare statistics.dimensions in the configuration")
	}
	want := v.stats.Version()
	now := v.now().UTC()
	r, err := update(ctx, v.store, func(ctx context.Context, tx store.Tx) (*Recount, error) {
		r := &Recount{Version: want}
		tally := map[string]int64{}
		for after := int64(0); ; {
			rows, err := tx.LiveSubjects(ctx, after, recountBatch)
			if err != nil {
				return nil, err
			}
			cells, err := v.rowCells(rows)
			if err != nil {
				return nil, err
			}
			for _, c := range cells {
				if c != "" {
					tally[c]++
					r.Records++
				}
			}
			if len(rows) < recountBatch {
				break
			}
			after = rows[len(rows)-1].Seq
		}
		prior, err := tx.CountsVersion(ctx)
		if err != nil {
			return nil, err
		}
		if prior != want && prior != "" && prior != versionStale {
			if err := tx.ReplaceCounts(ctx, stats.Retained, nil); err != nil {
				return nil, err
			}
			r.DroppedRetained = true
		}
		if err := tx.ReplaceCounts(ctx, stats.Live, tally); err != nil {
			return nil, err
		}
		if err := tx.SetCountsVersion(ctx, want); err != nil {
			return nil, err
		}
		r.Cells = len(tally)
		e := audit.Entry{Time: now, Actor: a.ID, Action: "stats.recount", Decision: "allow", Origin: a.Origin,
			Reason: fmt.Sprintf("%d records in %d cells", r.Records, r.Cells)}
		return r, tx.AppendAudit(ctx, &e)
	})
	if err != nil {
		return nil, unavailable(fmt.Errorf("recount stats: %w", err))
	}
	v.statsCurrent.Store(true)
	return r, nil
}

// rowCells returns the cells of rows, opened on all cores.
func (v *Vault) rowCells(rows []*subject.Row) ([]string, error) {
	out := make([]string, len(rows))
	errs := make([]error, len(rows))
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(rows); i += workers {
				out[i], errs[i] = v.rowCell(rows[i])
			}
		})
	}
	wg.Wait()
	return out, errors.Join(errs...)
}
