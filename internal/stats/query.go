package stats

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/dpnoise"
	"github.com/coffre/coffre/internal/public"
)

// The sets a query may count over: Live, Retained, or both.
const All = "all"

// Query is a statistics request: the dimensions to group by (none: one
// total), the set of cells (default live) and the ε to spend (default the
// declaration's; a JSON number, read exactly).
type Query struct {
	GroupBy []string    `json:"group_by"`
	Over    string      `json:"over,omitempty"`
	Epsilon json.Number `json:"epsilon,omitempty"`
}

// Plan is a checked query.
type Plan struct {
	// Names are the dimensions grouped by, as asked; Idx their positions
	// in the declaration.
	Names []string
	Idx   []int
	// Sets are the sets of cells counted.
	Sets []string
	// Epsilon is the query's ε, Cost its charge in micro-ε.
	Epsilon *big.Rat
	Cost    int64
}

// MaxGroupBy bounds the dimensions of one query.
const MaxGroupBy = 8

// Plan checks q against the declaration: declared dimensions only, each
// once, a known set, an ε within dpnoise's bounds and the period's
// budget. Its errors wrap access.ErrInvalid with a public message and
// hint (names from the declaration and the query, never a value).
func (d *Declaration) Plan(q Query) (*Plan, error) {
	if !d.Enabled() {
		return nil, public.Errorf(access.ErrInvalid, "no statistics are declared").WithHint("declare statistics.dimensions in the configuration")
	}
	p := &Plan{}
	if len(q.GroupBy) > MaxGroupBy {
		return nil, invalid(d, "at most %d dimensions in group_by", MaxGroupBy)
	}
	for _, name := range q.GroupBy {
		i := d.Index(name)
		switch {
		case i < 0:
			return nil, invalid(d, "group_by: %q is not a declared dimension", cut(name))
		case slices.Contains(p.Idx, i):
			return nil, invalid(d, "group_by: %q is named twice", name)
		}
		p.Names, p.Idx = append(p.Names, name), append(p.Idx, i)
	}
	switch q.Over {
	case "", Live:
		p.Sets = []string{Live}
	case Retained:
		p.Sets = []string{Retained}
	case All:
		p.Sets = []string{Live, Retained}
	default:
		return nil, public.Errorf(access.ErrInvalid, "over: %q is not live, retained or all", cut(q.Over)).WithHint(`"over": "live" (the records in the store), "retained" (those purged) or "all"`)
	}
	p.Epsilon = d.Epsilon
	if q.Epsilon != "" {
		eps, err := dpnoise.ParseEpsilon(q.Epsilon.String())
		if err != nil {
			return nil, public.Errorf(access.ErrInvalid, "epsilon: %s", epsilonMessage(err)).
				WithHint(fmt.Sprintf("a decimal between %s and %s, at most your budget of %s per period (default %s)", decimal(dpnoise.MinEpsilon), decimal(dpnoise.MaxEpsilon), decimal(d.Budget), decimal(d.Epsilon)))
		}
		p.Epsilon = eps
	}
	p.Cost = Cost(p.Epsilon)
	if p.Cost > Cost(d.Budget) {
		return nil, public.Errorf(access.ErrInvalid, "epsilon %s is more than the whole budget of a period (%s)", decimal(p.Epsilon), decimal(d.Budget)).
			WithHint("ask for a smaller epsilon: noise of scale 1/epsilon is added to each count")
	}
	return p, nil
}

func invalid(d *Declaration, format string, args ...any) error {
	return public.Errorf(access.ErrInvalid, format, args...).WithHint("group by the declared dimensions: " + strings.Join(d.Names(), ", "))
}

// cut bounds a name echoed back in a message.
func cut(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// epsilonMessage is the public text of dpnoise's ε error: zero, negative,
// out of range or not a decimal (ParseEpsilon's syntax has no sign, so a
// negative is not a decimal to it).
func epsilonMessage(err error) string {
	if !errors.Is(err, dpnoise.ErrInvalidEpsilon) {
		return "invalid"
	}
	return "must be a positive decimal within the bounds"
}

// decimal writes a rational as a short decimal (up to 6 places).
func decimal(r *big.Rat) string {
	if r == nil {
		return "none"
	}
	if r.IsInt() {
		return r.Num().String()
	}
	return strings.TrimRight(strings.TrimRight(r.FloatString(6), "0"), ".")
}

// Decimal writes ε as [Plan] and the answers do.
func Decimal(r *big.Rat) string { return decimal(r) }

// Group is one released group: its values by dimension and its noised
// count.
type Group struct {
	Values map[string]string
	Count  int64
}

// MarshalJSON writes the group as {"dim": "value", …, "count": n}.
func (g Group) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(g.Values)+1)
	for k, v := range g.Values {
		m[k] = v
	}
	m["count"] = g.Count
	return json.Marshal(m)
}

// Noise draws one noise value (a dpnoise.Mechanism).
type Noise interface {
	Noise() (int64, error)
}

// Release returns the groups of counts (keys of [Aggregate] over names)
// that may be shown: each group's count plus a fresh noise draw, kept only
// when the true count and the noised one are both at least k. A group
// under k is left out without a draw. The groups come sorted by their
// values. An error (randomness unreadable) releases nothing.
func Release(groups map[string]int64, names []string, k int, m Noise) ([]Group, error) {
	out := []Group{}
	for _, key := range slices.Sorted(maps.Keys(groups)) {
		c := groups[key]
		if c < int64(k) {
			continue
		}
		x, err := m.Noise()
		if err != nil {
			return nil, fmt.Errorf("release: %w", err)
		}
		if c+x < int64(k) {
			continue
		}
		g := Group{Values: map[string]string{}, Count: c + x}
		for i, v := range SplitGroup(key, len(names)) {
			g.Values[names[i]] = v
		}
		out = append(out, g)
	}
	return out, nil
}

// Answer is a query's answer: the groups released, the ε spent, and what
// remains of the analyst's budget until the period ends.
type Answer struct {
	GroupBy   []string    `json:"group_by"`
	Over      string      `json:"over"`
	Groups    []Group     `json:"cells"`
	K         int         `json:"k"`
	Epsilon   json.Number `json:"epsilon"`
	Mechanism string      `json:"mechanism"`
	Budget    Remaining   `json:"budget"`
}

// Remaining is an analyst's budget after a query.
type Remaining struct {
	Spent     json.Number `json:"spent"`
	Remaining json.Number `json:"remaining"`
	Budget    json.Number `json:"epsilon_per_period"`
	PeriodEnd time.Time   `json:"period_end"`
}

// NewRemaining describes a budget of limit micro-ε of which spent are
// spent, in the period ending at end.
func NewRemaining(spent, limit int64, end time.Time) Remaining {
	return Remaining{Spent: json.Number(FormatMicro(spent)), Remaining: json.Number(FormatMicro(max(limit-spent, 0))), Budget: json.Number(FormatMicro(limit)), PeriodEnd: end.UTC()}
}

// ErrBudgetSpent is wrapped by [BudgetError].
var ErrBudgetSpent = errors.New("privacy budget spent")

// BudgetError refuses a query whose ε exceeds what remains of the
// analyst's budget: what remains, and when the next period renews it.
type BudgetError struct {
	Asked     int64 // micro-ε
	Remaining int64 // micro-ε
	Renews    time.Time
	// RetryAfter is the time until Renews, by the refusing clock.
	RetryAfter time.Duration
}

func (e *BudgetError) Error() string {
	return fmt.Sprintf("privacy budget: epsilon %s asked, %s remains until %s", FormatMicro(e.Asked), FormatMicro(e.Remaining), e.Renews.UTC().Format(time.RFC3339))
}

// Unwrap makes errors.Is(err, ErrBudgetSpent) hold.
func (e *BudgetError) Unwrap() error { return ErrBudgetSpent }
