// Package stats holds Coffre's aggregate-only statistics (issue 16): the
// dimensions a configuration declares, the anonymous cell counters the
// vault keeps of them, and the release of a query's counts with a minimum
// cell size and differentially private noise.
//
// # Cells and counters
//
// Records are encrypted per person, so a query cannot scan them. The vault
// keeps instead, for the declared dimensions, the number of records in each
// finest cell: the tuple of every dimension's generalised value (an age
// band, a unit, a category, a month), encoded by [Declaration.Cell]. No
// subject id is kept with a cell. There are two sets of cells: [Live]
// (records in the store) and [Retained] (records the purge engine removed
// under their retention rule, folded in before their key went). A query
// sums the cells over the dimensions it groups by ([Aggregate]).
//
// The counters are only meaningful for the declaration that made them:
// [Declaration.Version] is a hash of the dimensions, recorded in the store
// beside the counters ([Counters.CountsVersion]). A store whose version is
// not the configuration's is stale: queries are refused until `coffre
// stats recount` rebuilds the live cells.
//
// # Release
//
// [Release] adds discrete Laplace noise of scale 1/ε (package dpnoise) to
// each group's count (sensitivity 1: a person is in one cell) and returns
// a group only when both its true count and its noised count are at least
// k: a cell under k is never returned. The ε of each query is charged to
// the analyst's budget of the period ([Budgets]) before anything is drawn.
package stats

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The sets of cells.
const (
	// Live counts the records in the store.
	Live = "live"
	// Retained counts the records purged under their retention rule.
	Retained = "retained"
)

// Counters holds the anonymous cell counters: per set, a count per cell
// key. Methods report the store's errors wrapped.
type Counters interface {
	// AddCounts adds each delta to its cell of set, creating the cells it
	// lacks (a cell may reach 0; it is kept). Stores apply the cells in
	// key order, so that concurrent transactions lock them in one order.
	AddCounts(ctx context.Context, set string, deltas map[string]int64) error
	// Counts returns every cell of set with its count.
	Counts(ctx context.Context, set string) (map[string]int64, error)
	// ReplaceCounts deletes every cell of set and writes counts instead
	// (a recount).
	ReplaceCounts(ctx context.Context, set string, counts map[string]int64) error
	// CountsVersion returns the declaration version the counters were kept
	// for ("" when none was recorded).
	CountsVersion(ctx context.Context) (string, error)
	// SetCountsVersion records the declaration version of the counters.
	SetCountsVersion(ctx context.Context, version string) error
}

// Budgets holds what each analyst spent of their privacy budget, per
// period, in micro-ε (ε · 10⁶, see [Cost]). It outlives restarts.
type Budgets interface {
	// SpendBudget adds cost to what analyst spent in the period that
	// starts at period, unless the total would pass limit. It returns the
	// total after the charge, or as it stands when refused (ok false).
	SpendBudget(ctx context.Context, analyst string, period time.Time, cost, limit int64) (spent int64, ok bool, err error)
	// BudgetSpent returns what analyst spent in the period (0: nothing).
	BudgetSpent(ctx context.Context, analyst string, period time.Time) (int64, error)
}

// Dimension is one declared dimension: what a cell says of a record.
// Exactly one of Of, Field and Event is set.
type Dimension struct {
	Name string
	// Of is "unit": the record's unit.
	Of string
	// Field is a field of the schema: a date field with Band or By, or a
	// text field with Values.
	Field string
	// Event is "created": the record's creation, with By.
	Event string
	// Band is the width in years of a date field's bands ("1980-1989").
	Band int
	// By is "year" ("2024") or "month" ("2024-03").
	By string
	// Values are a text field's categories: a listed value is kept, any
	// other is "other".
	Values []string
}

// The dimension kinds' words, as written in the configuration.
const (
	OfUnit       = "unit"
	EventCreated = "created"
	ByYear       = "year"
	ByMonth      = "month"
	// Unknown is the value of a dimension whose field a record lacks (or
	// holds no date in); Other that of a category not listed.
	Unknown = "unknown"
	Other   = "other"
)

// Declaration is the statistics section of the configuration: the
// dimensions, the minimum cell size and the privacy budget. Its zero value
// declares no statistics.
type Declaration struct {
	// Dimensions, sorted by name.
	Dimensions []Dimension
	// K is the minimum cell size: no group of a smaller count (true or
	// noised) is returned.
	K int
	// Epsilon is the ε of a query that names none.
	Epsilon *big.Rat
	// Budget is each analyst's ε per Period.
	Budget *big.Rat
	Period time.Duration
}

// Enabled reports whether d declares any dimension.
func (d *Declaration) Enabled() bool { return d != nil && len(d.Dimensions) > 0 }

// sep joins a cell's values; configured values hold no control character.
const sep = "\x1f"

// Version is a hash of the dimensions (names, kinds, bands, categories),
// which the counters are kept for: a changed declaration has another.
func (d *Declaration) Version() string {
	h := sha256.New()
	for _, dim := range d.Dimensions {
		fmt.Fprintf(h, "%q %q %q %q %d %q %q\n", dim.Name, dim.Of, dim.Field, dim.Event, dim.Band, dim.By, dim.Values)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Fields returns the schema fields the dimensions read, sorted: what the
// vault decrypts of a record to find its cell.
func (d *Declaration) Fields() []string {
	var out []string
	for _, dim := range d.Dimensions {
		if dim.Field != "" && !slices.Contains(out, dim.Field) {
			out = append(out, dim.Field)
		}
	}
	slices.Sort(out)
	return out
}

// Cell returns the key of the finest cell of a record of unit, with its
// fields in clear (only Fields are read) and created at created: every
// dimension's value, in the declaration's order.
func (d *Declaration) Cell(unit string, fields map[string]string, created time.Time) string {
	var b strings.Builder
	for i, dim := range d.Dimensions {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(dim.value(unit, fields, created))
	}
	return b.String()
}

// value is the dimension's generalised value for a record.
func (dim *Dimension) value(unit string, fields map[string]string, created time.Time) string {
	switch {
	case dim.Of == OfUnit:
		return unit
	case dim.Event == EventCreated:
		return by(dim.By, created.UTC().Year(), int(created.UTC().Month()))
	case len(dim.Values) > 0:
		v, ok := fields[dim.Field]
		switch {
		case !ok:
			return Unknown
		case slices.Contains(dim.Values, v):
			return v
		}
		return Other
	}
	y, m, ok := date(fields[dim.Field])
	switch {
	case !ok:
		return Unknown
	case dim.Band > 0:
		lo := y - mod(y, dim.Band)
		return fmt.Sprintf("%d-%d", lo, lo+dim.Band-1)
	}
	return by(dim.By, y, m)
}

func by(unit string, y, m int) string {
	if unit == ByMonth {
		return fmt.Sprintf("%04d-%02d", y, m)
	}
	return strconv.Itoa(y)
}

func mod(a, b int) int { return ((a % b) + b) % b }

// date reads a canonical date value, YYYY-MM-DD.
func date(s string) (year, month int, ok bool) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, 0, false
	}
	return t.Year(), int(t.Month()), true
}

// Index returns the position of the dimension name, or -1.
func (d *Declaration) Index(name string) int {
	return slices.IndexFunc(d.Dimensions, func(dim Dimension) bool { return dim.Name == name })
}

// Names returns the dimensions' names, sorted.
func (d *Declaration) Names() []string {
	out := make([]string, len(d.Dimensions))
	for i, dim := range d.Dimensions {
		out[i] = dim.Name
	}
	return out
}

// Aggregate sums the cells of counts (finest cell keys of a declaration
// of n dimensions) over the dimensions at the positions idx: the key of
// each group is its values at idx, joined as a cell's are. Keys that do
// not have n values (counters of another declaration) are an error.
func Aggregate(counts map[string]int64, n int, idx []int) (map[string]int64, error) {
	out := map[string]int64{}
	vals := make([]string, 0, n)
	group := make([]string, len(idx))
	for key, c := range counts {
		vals = vals[:0]
		for v := range strings.SplitSeq(key, sep) {
			vals = append(vals, v)
		}
		if len(vals) != n {
			return nil, fmt.Errorf("aggregate: a cell of %d values, want %d: counters of another declaration", len(vals), n)
		}
		for j, i := range idx {
			group[j] = vals[i]
		}
		out[strings.Join(group, sep)] += c
	}
	return out, nil
}

// SplitGroup returns the values of a group key of [Aggregate].
func SplitGroup(key string, n int) []string {
	if n == 0 {
		return nil
	}
	return strings.Split(key, sep)
}

// Micro is the unit budgets are kept in: ε · Micro.
const Micro = 1_000_000

// Cost returns what ε costs a budget, in micro-ε, rounded up: a budget is
// never charged less than it spends.
func Cost(eps *big.Rat) int64 {
	n := new(big.Int).Mul(eps.Num(), big.NewInt(Micro))
	q, r := new(big.Int).QuoRem(n, eps.Denom(), new(big.Int))
	if r.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	return q.Int64()
}

// FormatMicro writes micro-ε as a decimal ("0.25").
func FormatMicro(m int64) string {
	s := fmt.Sprintf("%d.%06d", m/Micro, m%Micro)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// PeriodStart returns the start of the budget period of length period
// holding t: periods are counted from the Unix epoch, in UTC.
func PeriodStart(t time.Time, period time.Duration) time.Time {
	p := int64(period / time.Second)
	s := t.Unix()
	return time.Unix(s-((s%p)+p)%p, 0).UTC()
}
