package config

import (
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/coffre/coffre/internal/dpnoise"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/stats"
)

// statisticsFile is the statistics section (issue 16).
type statisticsFile struct {
	K       leaf `key:"k"`
	Epsilon leaf `key:"epsilon"`
	Budget  struct {
		Epsilon leaf `key:"epsilon"`
		Period  leaf `key:"period"`
	} `key:"budget"`
	Dimensions named[dimensionFile] `key:"dimensions"`
}

// dimensionFile is one declared dimension.
type dimensionFile struct {
	Of     leaf `key:"of"`
	Field  leaf `key:"field"`
	Event  leaf `key:"event"`
	Band   leaf `key:"band"`
	By     leaf `key:"by"`
	Values leaf `key:"values,list"`
}

// Defaults and bounds of the statistics section.
const (
	defaultStatsK      = 10
	maxStatsK          = 1_000_000
	defaultStatsPeriod = 30 * 24 * time.Hour
	minStatsPeriod     = 24 * time.Hour
	maxStatsPeriod     = 366 * 24 * time.Hour
	maxDimensions      = 16
	maxCategories      = 100
	maxCategoryLen     = 64
	maxBandYears       = 100
)

var (
	defaultStatsEpsilon = big.NewRat(1, 10)
	defaultStatsBudget  = big.NewRat(1, 1)
	maxStatsBudget      = big.NewRat(100, 1)
	bandRE              = regexp.MustCompile(`^([0-9]{1,3})y$`)
)

// statistics checks the statistics section against the schema. Without
// dimensions, no statistics are declared (the zero Declaration).
func (p *parser) statistics(f *file, fields []policy.Field) stats.Declaration {
	sf := f.Statistics
	d := stats.Declaration{K: defaultStatsK, Epsilon: defaultStatsEpsilon, Budget: defaultStatsBudget, Period: defaultStatsPeriod}
	set(p, sf.K, read[int], &d.K, between(2, maxStatsK, false, "must be between %d and %d, got %d: a cell of fewer people is never shown"))
	if eps, ok := p.epsilon(sf.Epsilon, dpnoise.MaxEpsilon); ok {
		d.Epsilon = eps
	}
	if eps, ok := p.epsilon(sf.Budget.Epsilon, maxStatsBudget); ok {
		d.Budget = eps
	}
	set(p, sf.Budget.Period, dayDur, &d.Period, between(minStatsPeriod, maxStatsPeriod, false, "must be between 1d and 366d, got %[3]s"))
	if d.Period%time.Second != 0 {
		p.bad(sf.Budget.Period, "must be whole seconds")
	}
	if sf.Epsilon.set() && sf.Budget.Epsilon.set() && d.Epsilon.Cmp(d.Budget) > 0 {
		p.bad(sf.Epsilon, "the default epsilon of a query (%s) is more than the budget of a period (%s)", stats.Decimal(d.Epsilon), stats.Decimal(d.Budget))
	}
	byName := map[string]policy.Field{}
	for _, fl := range fields {
		byName[fl.Name] = fl
	}
	if len(sf.Dimensions) > maxDimensions {
		p.errorf(sf.Dimensions[maxDimensions].K, "statistics.dimensions", "at most %d dimensions", maxDimensions)
	}
	for _, e := range sf.Dimensions {
		if msg := badName("field", e.Name); msg != "" {
			p.errorf(e.K, e.Path, "%s", strings.Replace(msg, "field name", "dimension name", 1))
			continue
		}
		if e.Bad { // an unknown key: reported
			continue
		}
		if dim, ok := p.dimension(e, byName); ok {
			d.Dimensions = append(d.Dimensions, dim)
		}
	}
	slices.SortFunc(d.Dimensions, func(a, b stats.Dimension) int { return strings.Compare(a.Name, b.Name) })
	return d
}

// epsilon reads an ε: a positive decimal (or fraction), exactly, at most
// hi.
func (p *parser) epsilon(l leaf, hi *big.Rat) (*big.Rat, bool) {
	if !l.set() {
		return nil, false
	}
	rn := deref(l.n)
	if rn.Kind != yaml.ScalarNode || !slices.Contains([]string{"!!int", "!!float", "!!str"}, rn.ShortTag()) || len(rn.Value) > 40 {
		p.bad(l, "want a number, got %s", describe(rn))
		return nil, false
	}
	v, ok := new(big.Rat).SetString(strings.TrimSpace(rn.Value))
	switch {
	case !ok:
		p.bad(l, "want a positive decimal such as 0.1, got %s", short(rn.Value))
	case v.Sign() <= 0:
		p.bad(l, "must be positive, got %s: epsilon is the privacy a query spends, and noise of scale 1/epsilon is added", short(rn.Value))
	case v.Cmp(dpnoise.MinEpsilon) < 0 || v.Cmp(hi) > 0:
		p.bad(l, "must be between %s and %s, got %s", stats.Decimal(dpnoise.MinEpsilon), stats.Decimal(hi), short(rn.Value))
	default:
		return v, true
	}
	return nil, false
}

// dimension checks one dimension.
func (p *parser) dimension(e entry[dimensionFile], fields map[string]policy.Field) (stats.Dimension, bool) {
	v := e.Val
	dim := stats.Dimension{Name: e.Name}
	n := p.total()
	kinds := 0
	for _, l := range []leaf{v.Of, v.Field, v.Event} {
		if l.set() {
			kinds++
		}
	}
	if kinds != 1 {
		p.errorf(e.K, e.Path, "want exactly one of of: unit, field: NAME or event: created")
		return dim, false
	}
	var fl policy.Field
	set(p, v.Of, read[string], &dim.Of, func(s string) string {
		if s != stats.OfUnit {
			return fmt.Sprintf("unknown %s: the only value is unit (the record's unit)", short(s))
		}
		return ""
	})
	set(p, v.Event, read[string], &dim.Event, func(s string) string {
		if s != stats.EventCreated {
			return fmt.Sprintf("unknown event %s: the only event is created", short(s))
		}
		return ""
	})
	set(p, v.Field, read[string], &dim.Field, func(s string) string {
		f, ok := fields[s]
		if !ok {
			return fmt.Sprintf("unknown field %s%s", short(s), suggestion(s, sortedKeys(fields)))
		}
		fl = f
		return ""
	})
	if p.total() != n {
		return dim, false
	}
	isDate := dim.Event != "" || fl.Type == policy.TypeDate
	if v.Band.set() {
		s, _ := read[string](p, v.Band)
		m := bandRE.FindStringSubmatch(s)
		years := 0
		if m != nil {
			years, _ = strconv.Atoi(m[1])
		}
		switch {
		case dim.Field == "" || !isDate:
			p.bad(v.Band, "band needs a date field (field: birth_date)")
		case m == nil || years < 1 || years > maxBandYears:
			p.bad(v.Band, "invalid band %s: want years, 1y to %dy, such as 10y", short(s), maxBandYears)
		default:
			dim.Band = years
		}
	}
	if v.By.set() {
		set(p, v.By, read[string], &dim.By, func(s string) string {
			switch {
			case s != stats.ByYear && s != stats.ByMonth:
				return fmt.Sprintf("unknown %s: want year or month", short(s))
			case !isDate:
				return "by needs a date field or event: created"
			case v.Band.set():
				return "band or by, not both"
			}
			return ""
		})
	}
	if v.Values.set() {
		switch {
		case dim.Field == "":
			p.bad(v.Values, "values need a text field (field: job_title)")
		case fl.Type != policy.TypeText:
			p.bad(v.Values, "values need a text field; %s is a %s field", dim.Field, fl.Type)
		case fl.Lookup:
			p.bad(v.Values, "%s is a lookup field, whose values single people out: no statistics over it", dim.Field)
		case fl.Sensitivity == policy.Special:
			p.bad(v.Values, "%s is special-category data (GDPR art. 9): no statistics over it", dim.Field)
		}
		vals, count := each(p, v.Values, false, func(s string) (string, string) {
			switch {
			case s == "" || len(s) > maxCategoryLen:
				return "", fmt.Sprintf("want a category of 1 to %d bytes", maxCategoryLen)
			case s == stats.Other || s == stats.Unknown:
				return "", fmt.Sprintf("%q is the value of unlisted (other) and absent (unknown) values: leave it out", s)
			case strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }):
				return "", "want printable text"
			}
			return s, ""
		})
		if count == 0 {
			p.bad(v.Values, "list at least one category")
		} else if count > maxCategories {
			p.bad(v.Values, "at most %d categories", maxCategories)
		}
		dim.Values = vals
	}
	if p.total() != n {
		return dim, false
	}
	switch {
	case dim.Field != "" && isDate && dim.Band == 0 && dim.By == "":
		p.errorf(e.K, e.Path, "a date field needs band: 10y or by: year|month")
	case dim.Field != "" && !isDate && len(dim.Values) == 0:
		p.errorf(e.K, e.Path, "field %s needs values: the categories kept (others count as other)", dim.Field)
	case dim.Event != "" && dim.By == "":
		p.errorf(e.K, e.Path, "event: created needs by: year or month")
	case dim.Of != "" && (v.Band.set() || v.By.set() || v.Values.set()):
		p.errorf(e.K, e.Path, "of: unit takes no band, by or values")
	default:
		return dim, true
	}
	return dim, false
}
