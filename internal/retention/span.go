package retention

import (
	"fmt"
	"strings"
	"time"
)

// Span is a duration in calendar years, months and days, written as a
// rule's duration is (2y, 6m, 1y6m, 2w, 90d): how long the audit log's
// epochs last and how long it keeps them (audit.epoch, audit.retention).
// The zero Span is none.
type Span struct{ Years, Months, Days int }

// ParseSpan reads a span as a rule's duration ("1y", "10y", "18m").
func ParseSpan(s string) (Span, error) {
	var r Rule
	if len(s) > maxLen {
		return Span{}, fmt.Errorf("%w: longer than %d bytes", ErrRule, maxLen)
	}
	if err := r.duration(s); err != nil {
		return Span{}, err
	}
	return Span{r.Years, r.Months, r.Days}, nil
}

// IsZero reports whether s is none.
func (s Span) IsZero() bool { return s == Span{} }

// After returns t plus s, in calendar terms (time.AddDate).
func (s Span) After(t time.Time) time.Time { return t.AddDate(s.Years, s.Months, s.Days) }

// Shorter reports whether s is shorter than o, from any date: compared
// from a date where months are longest and shortest in turn.
func (s Span) Shorter(o Span) bool {
	for _, from := range []time.Time{time.Date(2001, 1, 31, 0, 0, 0, 0, time.UTC), time.Date(2004, 2, 1, 0, 0, 0, 0, time.UTC)} {
		if s.After(from).Before(o.After(from)) {
			return true
		}
	}
	return false
}

// String writes s as ParseSpan reads it ("" for none).
func (s Span) String() string {
	var b strings.Builder
	for _, p := range []struct {
		n    int
		unit string
	}{{s.Years, "y"}, {s.Months, "m"}, {s.Days, "d"}} {
		if p.n > 0 {
			fmt.Fprintf(&b, "%d%s", p.n, p.unit)
		}
	}
	return b.String()
}
