package vault_test

import (
	"context"
	"crypto/rand"
	"errors"
	"maps"
	"math"
	"math/big"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/stats"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetemplate"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetest"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

var analyst = identity.Actor{ID: "op_an", Role: "analyst", Origin: "127.0.0.1"}

// demoStats is the demo's statistics declaration with edit applied.
func demoStats(t *testing.T, edit func(*stats.Declaration)) *stats.Declaration {
	t.Helper()
	cfg, err := config.Demo(nil)
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.Statistics
	edit(&d)
	return &d
}

func liveCounts(t *testing.T, s store.Store, set string) map[string]int64 {
	t.Helper()
	var m map[string]int64
	if err := s.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
		m, err = tx.Counts(ctx, set)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for k, n := range m {
		if n == 0 {
			delete(m, k)
		}
	}
	return m
}

// TestStatsCountersFollowRecords: the live counters kept by creates,
// updates (of a dimension field and of another), erasures and an import
// are those a recount from the records finds; canaries are not counted;
// a retained fold adds to the retained set only.
func TestStatsCountersFollowRecords(t *testing.T) {
	d := demoStats(t, func(*stats.Declaration) {})
	v, fs := newVaultWith(t, func(c *vault.Config) { c.Stats = d })
	var ids []string
	for i := range 30 {
		id, _ := create(t, v, i)
		ids = append(ids, id)
	}
	var rows []vault.ImportRow
	for i := range 40 {
		p := synth.Make(7, 100+i)
		rows = append(rows, vault.ImportRow{Num: i + 1, Unit: p.Unit, Fields: p.Fields})
	}
	if _, failed, err := v.Import(ctx, hr, rows); err != nil || len(failed) != 0 {
		t.Fatalf("Import: %v, %v", failed, err)
	}
	if _, err := v.PlantCanaries(ctx, identity.Actor{ID: "system", Origin: "cli"}, "", []vault.ImportRow{{Num: 1, Unit: "u1", Fields: synth.Make(7, 999).Fields}}); err != nil {
		t.Fatal(err)
	}
	set := func(s string) *string { return &s }
	for i, ch := range []map[string]*string{
		{"job_title": set("Principal")},
		{"birth_date": set("1950-01-02")},
		{"birth_date": nil, "job_title": set("Proviseure")},
		{"address": set("1 rue de la Paix, 75002 Paris")}, // no dimension
		{"job_title": nil},
	} {
		if _, err := v.Update(ctx, hr, ids[i], "hr-records", "ticket", ch); err != nil {
			t.Fatalf("Update %d: %v", i, err)
		}
	}
	for _, id := range ids[20:25] {
		if err := v.Erase(ctx, hr, id, "left"); err != nil {
			t.Fatal(err)
		}
	}
	kept := liveCounts(t, fs, stats.Live)
	var total int64
	for _, n := range kept {
		total += n
	}
	if total != 30+40-5 {
		t.Errorf("live counters hold %d records, want %d", total, 30+40-5)
	}
	r, err := v.RecountStats(ctx, identity.Actor{ID: "system", Origin: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Records != 65 || r.DroppedRetained {
		t.Errorf("recount = %+v, want 65 records and nothing dropped", r)
	}
	if got := liveCounts(t, fs, stats.Live); !maps.Equal(got, kept) {
		t.Errorf("recount gives\n%v\nwhere the vault kept\n%v", got, kept)
	}
	// The purge engine's fold: retained +1, live unchanged until the erasure.
	if err := fs.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		row, err := tx.GetSubject(ctx, ids[0])
		if err != nil {
			return err
		}
		return v.FoldRetained(ctx, tx, row, nil)
	}); err != nil {
		t.Fatal(err)
	}
	if got := liveCounts(t, fs, stats.Retained); len(got) != 1 {
		t.Errorf("retained = %v, want one cell of 1", got)
	}
}

// TestStatsStaleDeclaration: a changed declaration is detected (queries
// refused, 409-like) until a recount, which drops the retained cells it
// cannot map.
func TestStatsStaleDeclaration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	d := demoStats(t, func(d *stats.Declaration) { d.K = 2 })
	v := openStatsVault(t, path, d, nil)
	for i := range 5 {
		create(t, v, i)
	}
	if _, err := v.Stats(ctx, analyst, stats.Query{GroupBy: []string{"unit"}}); err != nil {
		t.Fatal(err)
	}
	d2 := demoStats(t, func(d *stats.Declaration) {
		d.K = 2
		d.Dimensions = slices.DeleteFunc(slices.Clone(d.Dimensions), func(dim stats.Dimension) bool { return dim.Name == "created" })
	})
	v2 := openStatsVault(t, path, d2, nil)
	create(t, v2, 50) // not counted: the counters are of the other declaration
	if _, err := v2.Stats(ctx, analyst, stats.Query{GroupBy: []string{"unit"}}); !errors.Is(err, vault.ErrStatsStale) || !errors.Is(err, store.ErrConflict) {
		t.Fatalf("query on stale counters: %v, want ErrStatsStale", err)
	}
	r, err := v2.RecountStats(ctx, identity.Actor{ID: "system", Origin: "cli"})
	if err != nil || r.Records != 6 || !r.DroppedRetained {
		t.Fatalf("recount = %+v, %v; want 6 records, retained dropped", r, err)
	}
	if _, err := v2.Stats(ctx, analyst, stats.Query{GroupBy: []string{"unit"}}); err != nil {
		t.Fatalf("after recount: %v", err)
	}
}

// openStatsVault opens a vault with the demo policy and declaration d on
// the SQLite file path (the keyring is the same for every call with the
// same seed).
func openStatsVault(t *testing.T, path string, d *stats.Declaration, now func() time.Time) *vault.Vault {
	t.Helper()
	cfg, err := config.Demo(nil)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := envelope.NewKeyring(map[uint32][]byte{1: statsSeed}, 1)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlitetemplate.Open(ctx, path, sqlite.Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return vault.New(vault.Config{Store: st, Keys: keys, Policy: cfg.Policy, Stats: d, Now: now})
}

var statsSeed = func() []byte {
	b := make([]byte, envelope.SeedSize)
	rand.Read(b)
	return b
}()

// unitPeople creates n people in unit.
func unitPeople(t *testing.T, v *vault.Vault, unit string, n, from int) {
	t.Helper()
	var rows []vault.ImportRow
	for i := range n {
		rows = append(rows, vault.ImportRow{Num: i + 1, Unit: unit, Fields: synth.Make(11, from+i).Fields})
	}
	if _, failed, err := v.Import(ctx, hr, rows); err != nil || len(failed) != 0 {
		t.Fatalf("Import: %v, %v", failed, err)
	}
}

// TestStatsSmallCellsNeverReturned: with k = 10 and noise of scale 100
// (ε = 0.01), units of 1 to 9 people never appear in hundreds of answers,
// though their noised counts often pass k; a unit of 12 appears.
func TestStatsSmallCellsNeverReturned(t *testing.T) {
	d := demoStats(t, func(d *stats.Declaration) { d.Budget = big.NewRat(100, 1) })
	v := openStatsVault(t, filepath.Join(t.TempDir(), "c.db"), d, nil)
	for i, n := range []int{1, 2, 5, 9, 12} {
		unitPeople(t, v, "u"+string(rune('a'+i)), n, 100*i)
	}
	seen := map[string]int{}
	for range 300 {
		a, err := v.Stats(ctx, analyst, stats.Query{GroupBy: []string{"unit"}, Epsilon: "0.01"})
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range a.Groups {
			seen[g.Values["unit"]]++
			if g.Count < 10 {
				t.Fatalf("a group of count %d < k returned: %v", g.Count, g)
			}
		}
	}
	for _, small := range []string{"ua", "ub", "uc", "ud"} {
		if seen[small] > 0 {
			t.Errorf("unit %s (under k) returned %d times", small, seen[small])
		}
	}
	if seen["ue"] == 0 {
		t.Errorf("unit ue (12 people) never returned in 300 answers")
	}
}

// TestStatsBudget: the budget is spent query by query, a query asking
// more than remains is refused (429-like, saying what remains and when
// it renews) and charges nothing, the spending outlives a restart, and
// the next period renews it.
func TestStatsBudget(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	d := demoStats(t, func(d *stats.Declaration) { d.K = 2 })
	v := openStatsVault(t, path, d, clock)
	unitPeople(t, v, "ua", 30, 0)
	for i, want := range []string{"0.6", "0.2"} {
		a, err := v.Stats(ctx, analyst, stats.Query{GroupBy: []string{"unit"}, Epsilon: "0.4"})
		if err != nil {
			t.Fatalf("query %d: %v", i, err)
		}
		if string(a.Budget.Remaining) != want || string(a.Epsilon) != "0.4" {
			t.Errorf("query %d: remaining %s, epsilon %s; want %s, 0.4", i, a.Budget.Remaining, a.Epsilon, want)
		}
	}
	_, err := v.Stats(ctx, analyst, stats.Query{GroupBy: []string{"unit"}, Epsilon: "0.4"})
	var be *stats.BudgetError
	if !errors.As(err, &be) || be.Remaining != 200_000 || !errors.Is(err, stats.ErrBudgetSpent) {
		t.Fatalf("third query: %v, want a BudgetError with 0.2 remaining", err)
	}
	if end := stats.PeriodStart(now, d.Period).Add(d.Period); !be.Renews.Equal(end) || !strings.Contains(be.Error(), "0.2 remains") {
		t.Errorf("refusal renews %s, says %q; want %s", be.Renews, be.Error(), end)
	}
	// Another analyst has a budget of their own.
	if _, err := v.Stats(ctx, identity.Actor{ID: "op_an2", Role: "analyst", Origin: "127.0.0.1"}, stats.Query{Epsilon: "1"}); err != nil {
		t.Errorf("another analyst: %v", err)
	}
	// A restart: a new vault on the same file.
	v2 := openStatsVault(t, path, d, clock)
	if _, err := v2.Stats(ctx, analyst, stats.Query{Epsilon: "0.3"}); !errors.As(err, &be) {
		t.Fatalf("after a restart, 0.3 of 0.2: %v, want refused", err)
	}
	a, err := v2.Stats(ctx, analyst, stats.Query{Epsilon: "0.2"})
	if err != nil || a.Budget.Remaining != "0" {
		t.Fatalf("after a restart, the last 0.2: %v, %v", a, err)
	}
	now = now.Add(d.Period)
	if a, err := v2.Stats(ctx, analyst, stats.Query{Epsilon: "0.5"}); err != nil || a.Budget.Remaining != "0.5" {
		t.Fatalf("next period: %v, %v; want 0.5 remaining", a, err)
	}
}

// TestStatsRefusals: undeclared, repeated dimensions, a bad epsilon, a
// role without the stats permission; each audited, none charged.
func TestStatsRefusals(t *testing.T) {
	d := demoStats(t, func(*stats.Declaration) {})
	v, fs := newVaultWith(t, func(c *vault.Config) { c.Stats = d })
	for _, tt := range []struct {
		name  string
		actor identity.Actor
		q     stats.Query
		want  error
	}{
		{"undeclared", analyst, stats.Query{GroupBy: []string{"family_name"}}, access.ErrInvalid},
		{"twice", analyst, stats.Query{GroupBy: []string{"unit", "unit"}}, access.ErrInvalid},
		{"zero epsilon", analyst, stats.Query{Epsilon: "0"}, access.ErrInvalid},
		{"negative epsilon", analyst, stats.Query{Epsilon: "-1"}, access.ErrInvalid},
		{"over the budget", analyst, stats.Query{Epsilon: "2"}, access.ErrInvalid},
		{"bad set", analyst, stats.Query{Over: "everyone"}, access.ErrInvalid},
		{"no permission", worker, stats.Query{}, access.ErrForbidden},
	} {
		before := len(auditEntries(t, fs))
		if _, err := v.Stats(ctx, tt.actor, tt.q); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
		es := auditEntries(t, fs)
		if len(es) != before+1 || es[len(es)-1].Action != "stats" || !strings.HasPrefix(es[len(es)-1].Decision, "deny:") {
			t.Errorf("%s: not audited as a denied stats", tt.name)
		}
	}
	a, err := v.Stats(ctx, analyst, stats.Query{GroupBy: []string{"age_band", "unit"}, Over: "all", Epsilon: "0.25"})
	if err != nil || a.Budget.Remaining != "0.75" {
		t.Fatalf("a query after the refusals: %v, %v; want 0.75 remaining", a, err)
	}
	e := auditEntries(t, fs)
	last := e[len(e)-1]
	if last.Action != "stats" || last.Subject != "" || strings.Join(last.Fields, ",") != "age_band,unit" || last.Reason != "over all, epsilon 0.25" {
		t.Errorf("audit entry %+v", last)
	}
}

// TestStatsNoiseScale: over many answers, the released count of one big
// group varies as discrete Laplace noise of scale 1/ε does: its sample
// variance is held within 5 standard errors of 2q/(1-q)², q = e^{-ε}
// (the draws are crypto/rand's: no seed). The standard error is the
// distribution's own, from its fourth moment 2q(1+10q+q²)/(1-q)⁴: one
// estimated from the sample shrinks with the sample's variance (the
// tails set both), and failed a correct draw about once in a few
// hundred runs. A scale off by a factor of two (ε 0.05 or 0.2) is 6 or
// more standard errors away.
func TestStatsNoiseScale(t *testing.T) {
	d := demoStats(t, func(d *stats.Declaration) { d.K, d.Budget = 2, big.NewRat(100, 1) })
	v := openStatsVault(t, filepath.Join(t.TempDir(), "c.db"), d, nil)
	unitPeople(t, v, "ua", 200, 0)
	const eps, n = 0.1, 400
	var xs []float64
	for range n {
		a, err := v.Stats(ctx, analyst, stats.Query{Epsilon: "0.1"})
		if err != nil {
			t.Fatal(err)
		}
		if len(a.Groups) != 1 {
			t.Fatalf("want the one total, got %v", a.Groups)
		}
		xs = append(xs, float64(a.Groups[0].Count-200))
	}
	var m2 float64
	for _, x := range xs {
		m2 += x * x
	}
	m2 /= n
	q := math.Exp(-eps)
	want := 2 * q / ((1 - q) * (1 - q))
	fourth := 2 * q * (1 + 10*q + q*q) / math.Pow(1-q, 4)
	se := math.Sqrt((fourth - want*want) / n)
	if math.Abs(m2-want) > 5*se {
		t.Errorf("noise variance %.1f, want %.1f ± %.1f (5 SE)", m2, want, 5*se)
	}
	t.Logf("noise variance %.1f, want %.1f (SE %.1f)", m2, want, se)
}
