// Package retention is the grammar of retention rules: how long a record,
// or one field of it, is kept. A rule is a duration after an event —
// "2y after last_activity", "6m after created", "5y after departure_date"
// where departure_date is a date field of the record — or a date field
// alone, "until end_date": the value goes on that day. The purge engine
// (issue 16) applies the rules; this package parses, prints and
// evaluates them.
//
// # Grammar
//
//	rule     = duration " after " event | "until " field
//	duration = count unit { count unit }     (2y, 6m, 1y6m, 90d, 2w)
//	unit     = "y" | "m" | "w" | "d"          (years, months, weeks, days)
//	event    = "created" | "last_update" | "last_activity" | field
//
// A field named in a rule must be a date field of the schema. Months and
// years are calendar months and years (time.AddDate): 1m after 31 January
// is 3 March (2 in a leap year), as Go normalises the date.
package retention

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Events a rule may count from, besides a date field.
const (
	Created      = "created"       // the record's creation
	LastUpdate   = "last_update"   // its last change
	LastActivity = "last_activity" // its last change or read under a purpose the policy names
)

// Events lists the events.
var Events = []string{Created, LastUpdate, LastActivity}

// Bounds of a rule.
const (
	MaxYears = 100 // no rule keeps longer than a century
	maxLen   = 100 // bytes of a rule as written
)

// ErrRule is the error of a rule that does not parse; its text says what
// is wrong and what is expected.
var ErrRule = errors.New("retention rule")

// Rule is a parsed retention rule.
type Rule struct {
	// Span is the duration after Event (zero for an "until" rule).
	Span
	// Event is Created, LastUpdate, LastActivity or a date field's name.
	Event string
	// Until: the rule is "until Event" (a date field): the value goes on
	// that date.
	Until bool
}

// Parse reads a rule. dateFields are the schema's date fields, which a
// rule may name.
func Parse(s string, dateFields []string) (Rule, error) {
	var r Rule
	if len(s) > maxLen {
		return r, fmt.Errorf("%w: longer than %d bytes", ErrRule, maxLen)
	}
	words := strings.Fields(s)
	switch {
	case len(words) == 2 && words[0] == "until":
		r.Until, r.Event = true, words[1]
		if !slices.Contains(dateFields, r.Event) {
			return r, fmt.Errorf("%w %q: until must name a date field of the schema (%s)", ErrRule, s, list(dateFields))
		}
		return r, nil
	case len(words) != 3 || words[1] != "after":
		return r, fmt.Errorf("%w %q: want DURATION after EVENT (2y after last_activity, 6m after created) or until DATE_FIELD", ErrRule, s)
	}
	if err := r.duration(words[0]); err != nil {
		return r, fmt.Errorf("%w %q: %v", ErrRule, s, err)
	}
	r.Event = words[2]
	if !slices.Contains(Events, r.Event) && !slices.Contains(dateFields, r.Event) {
		return r, fmt.Errorf("%w %q: unknown event %q: want %s, or a date field of the schema (%s)", ErrRule, s, r.Event, strings.Join(Events, ", "), list(dateFields))
	}
	return r, nil
}

// duration reads "2y", "1y6m", "90d" into r.
func (r *Rule) duration(s string) error {
	if s == "" {
		return errors.New("no duration")
	}
	seen := ""
	for s != "" {
		i := strings.IndexFunc(s, func(c rune) bool { return c < '0' || c > '9' })
		if i <= 0 {
			return fmt.Errorf("duration: want a count then a unit (y, m, w or d), as in 2y or 1y6m")
		}
		n, err := strconv.Atoi(s[:i])
		if err != nil || n <= 0 || n > 100*366 {
			return fmt.Errorf("duration: %q is not a positive count", s[:i])
		}
		unit := s[i : i+1]
		if strings.Contains(seen, unit) {
			return fmt.Errorf("duration: unit %s given twice", unit)
		}
		seen += unit
		switch unit {
		case "y":
			r.Years += n
		case "m":
			r.Months += n
		case "w":
			r.Days += 7 * n
		case "d":
			r.Days += n
		default:
			return fmt.Errorf("duration: unknown unit %q: want y, m, w or d", unit)
		}
		s = s[i+1:]
	}
	if r.Years*12+r.Months > MaxYears*12 || r.Days > MaxYears*366 {
		return fmt.Errorf("duration: longer than %d years", MaxYears)
	}
	return nil
}

// String writes the rule as Parse reads it.
func (r Rule) String() string {
	if r.Until {
		return "until " + r.Event
	}
	return r.Span.String() + " after " + r.Event
}

// Due is when a value under the rule goes: the event's time (from at:
// the record's events and date fields) plus the duration, or the date
// field of an "until" rule. ok is false when the event has not happened
// or the date field is empty: nothing is due.
func (r Rule) Due(at func(event string) (time.Time, bool)) (time.Time, bool) {
	t, ok := at(r.Event)
	if !ok || t.IsZero() {
		return time.Time{}, false
	}
	if r.Until {
		return t, true
	}
	return r.After(t), true
}

// Date reads a date field's value (YYYY-MM-DD) as midnight UTC.
func Date(v string) (time.Time, bool) {
	t, err := time.Parse(time.DateOnly, v)
	return t, err == nil
}

func list(fields []string) string {
	if len(fields) == 0 {
		return "it has none"
	}
	return strings.Join(fields, ", ")
}
