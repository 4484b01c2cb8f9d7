package storetest

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/stats"
	"github.com/coffre/coffre/internal/store"
)

// statCounters checks the cell counters: deltas add up per set and cell,
// a cell may fall to 0 and stays, sets do not mix, a replace drops the
// set's other cells, and the declaration version is empty until set and
// then replaced.
func statCounters(t *testing.T, s store.Store) {
	counts := func(set string) map[string]int64 {
		t.Helper()
		var m map[string]int64
		if err := s.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
			m, err = tx.Counts(ctx, set)
			return err
		}); err != nil {
			t.Fatalf("Counts(%s): %v", set, err)
		}
		return m
	}
	if got := counts(stats.Live); len(got) != 0 {
		t.Errorf("empty store: Counts(live) = %v, want none", got)
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.AddCounts(ctx, stats.Live, map[string]int64{"a\x1fu1": 3, "b\x1fu1": 1, "é\x1fu2": 2}); err != nil {
			return err
		}
		return tx.AddCounts(ctx, stats.Retained, map[string]int64{"a\x1fu1": 7})
	})
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.AddCounts(ctx, stats.Live, map[string]int64{"a\x1fu1": -1, "b\x1fu1": -1, "c\x1fu3": 0})
	})
	if got, want := counts(stats.Live), map[string]int64{"a\x1fu1": 2, "b\x1fu1": 0, "é\x1fu2": 2}; !maps.Equal(got, want) {
		t.Errorf("Counts(live) = %v, want %v", got, want)
	}
	if got, want := counts(stats.Retained), map[string]int64{"a\x1fu1": 7}; !maps.Equal(got, want) {
		t.Errorf("Counts(retained) = %v, want %v", got, want)
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.ReplaceCounts(ctx, stats.Live, map[string]int64{"z\x1fu9": 5})
	})
	if got, want := counts(stats.Live), map[string]int64{"z\x1fu9": 5}; !maps.Equal(got, want) {
		t.Errorf("after ReplaceCounts: Counts(live) = %v, want %v", got, want)
	}
	if got, want := counts(stats.Retained), map[string]int64{"a\x1fu1": 7}; !maps.Equal(got, want) {
		t.Errorf("after ReplaceCounts(live): Counts(retained) = %v, want %v", got, want)
	}
	version := func() string {
		t.Helper()
		var v string
		if err := s.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
			v, err = tx.CountsVersion(ctx)
			return err
		}); err != nil {
			t.Fatalf("CountsVersion: %v", err)
		}
		return v
	}
	if v := version(); v != "" {
		t.Errorf("CountsVersion before any = %q, want none", v)
	}
	for _, want := range []string{"v1", "v2"} {
		update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.SetCountsVersion(ctx, want) })
		if v := version(); v != want {
			t.Errorf("CountsVersion = %q, want %q", v, want)
		}
	}
}

// statBudgets checks the privacy budgets: charges add up to the limit and
// no further (a refused charge changes nothing and says what was spent),
// per analyst and per period.
func statBudgets(t *testing.T, s store.Store) {
	p1, p2 := t0.Truncate(24*time.Hour), t0.Truncate(24*time.Hour).Add(24*time.Hour)
	type charge struct {
		analyst     string
		period      time.Time
		cost, limit int64
		spent       int64
		ok          bool
	}
	for i, c := range []charge{
		{"op_a", p1, 400_000, 1_000_000, 400_000, true},
		{"op_a", p1, 600_000, 1_000_000, 1_000_000, true},
		{"op_a", p1, 1, 1_000_000, 1_000_000, false},
		{"op_b", p1, 300_000, 1_000_000, 300_000, true},
		{"op_a", p2, 900_000, 1_000_000, 900_000, true},
		{"op_a", p2, 200_000, 1_000_000, 900_000, false},
		{"op_b", p1, 700_001, 1_000_000, 300_000, false},
	} {
		var spent int64
		var ok bool
		update(t, s, func(ctx context.Context, tx store.Tx) (err error) {
			spent, ok, err = tx.SpendBudget(ctx, c.analyst, c.period, c.cost, c.limit)
			return err
		})
		if spent != c.spent || ok != c.ok {
			t.Errorf("charge %d: SpendBudget(%s, %s, %d, %d) = %d, %v; want %d, %v", i, c.analyst, c.period.Format(time.DateOnly), c.cost, c.limit, spent, ok, c.spent, c.ok)
		}
	}
	for _, c := range []charge{{analyst: "op_a", period: p1, spent: 1_000_000}, {analyst: "op_b", period: p1, spent: 300_000}, {analyst: "op_c", period: p1}, {analyst: "op_a", period: p2, spent: 900_000}} {
		var spent int64
		if err := s.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
			spent, err = tx.BudgetSpent(ctx, c.analyst, c.period)
			return err
		}); err != nil || spent != c.spent {
			t.Errorf("BudgetSpent(%s, %s) = %d, %v; want %d", c.analyst, c.period.Format(time.DateOnly), spent, err, c.spent)
		}
	}
}
