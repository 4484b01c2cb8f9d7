package stats

import (
	"encoding/json"
	"errors"
	"maps"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/dpnoise"
)

var decl = &Declaration{
	Dimensions: []Dimension{
		{Name: "age_band", Field: "birth_date", Band: 10},
		{Name: "created", Event: EventCreated, By: ByMonth},
		{Name: "hired", Field: "hired_on", By: ByYear},
		{Name: "job", Field: "job_title", Values: []string{"nurse", "teacher"}},
		{Name: "unit", Of: OfUnit},
	},
	K: 10, Epsilon: big.NewRat(1, 10), Budget: big.NewRat(1, 1), Period: 30 * 24 * time.Hour,
}

func TestCell(t *testing.T) {
	created := time.Date(2026, 3, 9, 23, 30, 0, 0, time.FixedZone("x", -2*3600)) // 2026-03-10 UTC
	for _, tt := range []struct {
		fields map[string]string
		want   []string
	}{
		{map[string]string{"birth_date": "1984-03-12", "hired_on": "2010-09-01", "job_title": "nurse"}, []string{"1980-1989", "2026-03", "2010", "nurse", "u1"}},
		{map[string]string{"birth_date": "1990-01-01", "job_title": "Nurse"}, []string{"1990-1999", "2026-03", Unknown, Other, "u1"}},
		{map[string]string{"birth_date": "not a date"}, []string{Unknown, "2026-03", Unknown, Unknown, "u1"}},
		{map[string]string{"birth_date": "0005-06-07"}, []string{"0-9", "2026-03", Unknown, Unknown, "u1"}},
	} {
		if got := decl.Cell("u1", tt.fields, created); got != strings.Join(tt.want, sep) {
			t.Errorf("Cell(%v) = %q, want %q", tt.fields, got, tt.want)
		}
	}
	if got, want := decl.Fields(), []string{"birth_date", "hired_on", "job_title"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("Fields() = %v, want %v", got, want)
	}
	other := *decl
	other.Dimensions = append([]Dimension(nil), decl.Dimensions...)
	other.Dimensions[0].Band = 5
	if decl.Version() == other.Version() || len(decl.Version()) != 16 {
		t.Errorf("Version() %q does not change with a band", decl.Version())
	}
}

func TestAggregate(t *testing.T) {
	c := func(v ...string) string { return strings.Join(v, sep) }
	counts := map[string]int64{
		c("1980-1989", "2026-03", "2010", "nurse", "u1"):   3,
		c("1980-1989", "2026-04", "2011", "nurse", "u2"):   4,
		c("1990-1999", "2026-03", "2010", "teacher", "u1"): 5,
	}
	got, err := Aggregate(counts, 5, []int{4, 0})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{c("u1", "1980-1989"): 3, c("u2", "1980-1989"): 4, c("u1", "1990-1999"): 5}
	if !maps.Equal(got, want) {
		t.Errorf("Aggregate by unit, age = %v, want %v", got, want)
	}
	if got, _ := Aggregate(counts, 5, nil); !maps.Equal(got, map[string]int64{"": 12}) {
		t.Errorf("Aggregate by nothing = %v, want the total 12", got)
	}
	if _, err := Aggregate(map[string]int64{c("a", "b"): 1}, 5, []int{0}); err == nil {
		t.Error("Aggregate of cells of another declaration: no error")
	}
}

// fixed draws the same noise every time.
type fixed int64

func (f fixed) Noise() (int64, error) { return int64(f), nil }

func TestReleaseSuppresses(t *testing.T) {
	groups := map[string]int64{"a": 9, "b": 10, "c": 12, "d": 1}
	names := []string{"unit"}
	// Noise of +100 would lift every group over k: the true count still
	// keeps a and d out.
	got, _ := Release(groups, names, 10, fixed(100))
	if len(got) != 2 || got[0].Values["unit"] != "b" || got[0].Count != 110 || got[1].Values["unit"] != "c" {
		t.Errorf("Release with +100 = %v, want b and c only", got)
	}
	// Noise of -2 takes b under k: left out too.
	got, _ = Release(groups, names, 10, fixed(-2))
	if len(got) != 1 || got[0].Values["unit"] != "c" || got[0].Count != 10 {
		t.Errorf("Release with -2 = %v, want c (10) only", got)
	}
	b, _ := json.Marshal(got[0])
	if string(b) != `{"count":10,"unit":"c"}` {
		t.Errorf("group JSON %s", b)
	}
}

// TestReleaseNoiseScale draws many releases of one count with the real
// mechanism (crypto/rand, no seed) and checks the noise's variance
// against discrete Laplace's of scale 1/ε, 2q/(1-q)² with q = e^{-ε},
// within 5 of the distribution's own standard errors (from its fourth
// moment, 2q(1+10q+q²)/(1-q)⁴: one estimated from the sample shrinks with
// the sample's variance); for two ε, so that a wrong scale would show.
func TestReleaseNoiseScale(t *testing.T) {
	for _, eps := range []string{"0.5", "0.05"} {
		e, _ := dpnoise.ParseEpsilon(eps)
		m, err := dpnoise.Laplace(e)
		if err != nil {
			t.Fatal(err)
		}
		const n, count = 20000, 100000
		var m2 float64
		for range n {
			gs, err := Release(map[string]int64{"": count}, nil, 10, m)
			if err != nil || len(gs) != 1 {
				t.Fatalf("Release: %v, %v", gs, err)
			}
			x := float64(gs[0].Count - count)
			m2 += x * x
		}
		m2 /= n
		f, _ := e.Float64()
		q := math.Exp(-f)
		want := 2 * q / ((1 - q) * (1 - q))
		fourth := 2 * q * (1 + 10*q + q*q) / math.Pow(1-q, 4)
		se := math.Sqrt((fourth - want*want) / n)
		if math.Abs(m2-want) > 5*se {
			t.Errorf("ε = %s: variance %.2f, want %.2f ± %.2f (5 SE)", eps, m2, want, 5*se)
		}
		t.Logf("ε = %s: variance %.2f, want %.2f (SE %.2f)", eps, m2, want, se)
	}
}

func TestPlan(t *testing.T) {
	p, err := decl.Plan(Query{GroupBy: []string{"unit", "age_band"}, Over: "all", Epsilon: "0.25"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Cost != 250_000 || len(p.Sets) != 2 || p.Idx[0] != 4 || p.Idx[1] != 0 {
		t.Errorf("Plan = %+v", p)
	}
	if p, _ := decl.Plan(Query{}); p.Cost != 100_000 || p.Sets[0] != Live {
		t.Errorf("default Plan = %+v, want ε 0.1 over live", p)
	}
	for _, q := range []Query{
		{GroupBy: []string{"name"}},
		{GroupBy: []string{"unit", "unit"}},
		{Epsilon: "0"}, {Epsilon: "-0.1"}, {Epsilon: "1e-3"}, {Epsilon: "1.5"}, {Epsilon: "11"},
		{Over: "dead"},
		{GroupBy: strings.Split("a,b,c,d,e,f,g,h,i", ",")},
	} {
		if _, err := decl.Plan(q); !errors.Is(err, access.ErrInvalid) {
			t.Errorf("Plan(%+v) = %v, want ErrInvalid", q, err)
		}
	}
	var none *Declaration
	if _, err := none.Plan(Query{}); !errors.Is(err, access.ErrInvalid) {
		t.Errorf("Plan without a declaration: %v", err)
	}
}

func TestBudgetUnits(t *testing.T) {
	for _, tt := range []struct {
		eps  *big.Rat
		want int64
	}{{big.NewRat(1, 10), 100_000}, {big.NewRat(1, 3), 333_334}, {big.NewRat(1, 1_000_000), 1}, {big.NewRat(10, 1), 10_000_000}} {
		if got := Cost(tt.eps); got != tt.want {
			t.Errorf("Cost(%s) = %d, want %d", tt.eps, got, tt.want)
		}
	}
	for m, want := range map[int64]string{0: "0", 1: "0.000001", 250_000: "0.25", 1_000_000: "1", 1_500_000: "1.5"} {
		if got := FormatMicro(m); got != want {
			t.Errorf("FormatMicro(%d) = %q, want %q", m, got, want)
		}
	}
	p := 30 * 24 * time.Hour
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	s := PeriodStart(at, p)
	if s.After(at) || !s.Add(p).After(at) || PeriodStart(s.Add(p), p) != s.Add(p) {
		t.Errorf("PeriodStart(%s) = %s", at, s)
	}
}

// FuzzPlan feeds queries as the API decodes them: Plan never panics,
// and what it accepts names declared dimensions once, a known set and an
// ε within the budget.
func FuzzPlan(f *testing.F) {
	f.Add([]byte(`{"group_by":["age_band","unit"],"over":"live","epsilon":0.1}`))
	f.Add([]byte(`{"group_by":["unit","unit"],"epsilon":-1}`))
	f.Add([]byte(`{"epsilon":1e-300}`))
	f.Add([]byte(`{"over":"all","epsilon":"1/3"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var q Query
		if json.Unmarshal(b, &q) != nil {
			return
		}
		p, err := decl.Plan(q)
		if err != nil {
			return
		}
		seen := map[int]bool{}
		for _, i := range p.Idx {
			if i < 0 || i >= len(decl.Dimensions) || seen[i] {
				t.Fatalf("Plan(%s) accepted dimension %d", b, i)
			}
			seen[i] = true
		}
		if p.Cost <= 0 || p.Cost > Cost(decl.Budget) || len(p.Sets) == 0 {
			t.Fatalf("Plan(%s) = %+v", b, p)
		}
	})
}
