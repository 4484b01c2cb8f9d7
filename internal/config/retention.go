package config

import (
	"fmt"
	"time"

	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/retention"
)

// Retention says how long whole records are kept and how the purge engine
// runs (issue 16). How long each field is kept is the schema's (each
// field's retention rule, policy.Field.Keep).
type Retention struct {
	// Record is the rule of the whole record: once it is due, the record
	// is crypto-shredded and folded into the statistics' retained
	// counters. Nil: a record goes by erasure only, or once field rules
	// have removed every field it held.
	Record *retention.Rule
	// Activity are the purposes whose reads are the record's activity
	// (the event last_activity: its last update, or such a read). Default
	// none: only updates are.
	Activity []string
	// Every is how often the server's scheduler runs the purge; zero: it
	// does not, and only coffre retention run purges. Default 1h.
	Every time.Duration
	// Batch is how many records one purge transaction reaches, between 10
	// and 10000. Default 500.
	Batch int
	// Rest is the pause after each batch, as a multiple of the batch's
	// own time (0 to 20), so that reads keep the store. Default 1.
	Rest float64
}

// Defaults of the retention section.
const (
	defaultPurgeEvery = time.Hour
	defaultPurgeBatch = 500
	maxPurgeBatch     = 10000
	maxPurgeRest      = 20
)

// retention checks the retention section against the schema and the
// purposes (declared: every purpose defined, valid or not).
func (p *parser) retention(f *file, fields []policy.Field, declared map[string]bool) Retention {
	rf := f.Retention
	r := Retention{Every: defaultPurgeEvery, Batch: defaultPurgeBatch, Rest: 1}
	var dates []string
	for _, fd := range fields {
		if fd.Type == policy.TypeDate {
			dates = append(dates, fd.Name)
		}
	}
	var rule string
	if set(p, rf.Record, read[string], &rule, func(s string) string {
		if _, err := retention.Parse(s, dates); err != nil {
			return err.Error()
		}
		return ""
	}) && rf.Record.set() {
		k, _ := retention.Parse(rule, dates)
		r.Record = &k
	}
	names := sortedKeys(declared)
	r.Activity, _ = each(p, rf.Activity, true, func(s string) (string, string) {
		if !declared[s] {
			return "", fmt.Sprintf("unknown purpose %s%s", short(s), suggestion(s, names))
		}
		return s, ""
	})
	if rn := deref(rf.Every.n); rn.ShortTag() == "!!int" && rn.Value == "0" {
		r.Every = 0
	} else {
		set(p, rf.Every, dur, &r.Every, between(time.Minute, 7*24*time.Hour, true, "must be 0 (no scheduler: coffre retention run purges) or between %s and %s, got %s"))
	}
	set(p, rf.Batch, read[int], &r.Batch, between(10, maxPurgeBatch, false, "must be between %d and %d, got %d"))
	set(p, rf.Rest, read[float64], &r.Rest, func(x float64) string {
		if x < 0 || x > maxPurgeRest {
			return fmt.Sprintf("must be between 0 (no pause) and %d (a pause twenty times each batch's time), got %g", maxPurgeRest, x)
		}
		return ""
	})
	return r
}
