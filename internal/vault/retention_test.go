package vault_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/stats"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

// TestRetentionPurge runs the demo's rules (records: 5y after
// last_activity; email_personal, phone, address: 1y after last_activity;
// health_note: 6m after last_update) over four people: a field rule drops
// only its field, the record's rule shreds a record whose time has come
// (key gone, lookups gone), a read under an activity purpose keeps a record,
// a legal hold keeps another; each batch that changed something is audited
// with counts and no id; a second sweep finds nothing to do.
//
// A read writes nothing to its record: its audit entry is the record's
// activity, which the integrator records on the record as it integrates,
// and a sweep reads in the entries no checkpoint covers yet. Both ways are
// run: integrated after the read, or not at all.
func TestRetentionPurge(t *testing.T) {
	for _, integrated := range []bool{false, true} {
		name := "activity in the log's tail"
		if integrated {
			name = "activity recorded by the integrator"
		}
		t.Run(name, func(t *testing.T) { testRetentionPurge(t, integrated) })
	}
}

func testRetentionPurge(t *testing.T, integrated bool) {
	e := newRightsEnv(t)
	start := e.clock.Now()
	at := func(years, months, days int) time.Time {
		t := start.AddDate(years, months, days)
		for t.Weekday() == time.Saturday || t.Weekday() == time.Sunday {
			t = t.AddDate(0, 0, 1) // the guard's working days
		}
		return t
	}
	set := func(t time.Time) { e.clock.mu.Lock(); e.clock.t = t; e.clock.mu.Unlock() }
	purge := func() vault.Purged {
		t.Helper()
		p, err := e.v.Purge(ctx, e.clock.Now, 2, 0, nil) // batches of two: several transactions
		if err != nil {
			t.Fatalf("Purge: %v", err)
		}
		return p
	}
	var people []string
	for i := 0; len(people) < 4; i++ {
		p := synth.Make(21, 100+i)
		if len(people) == 2 && p.Fields[synth.HealthNote] == "" {
			continue // the third has a health note
		}
		p.Unit = e.unit
		e.tick()
		id, err := e.v.Create(ctx, e.hr, p.Unit, p.Fields)
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		people = append(people, id)
	}
	gone, held, noted, active := people[0], people[1], people[2], people[3]
	hashes := map[string][][]byte{}
	for _, id := range people {
		h, err := e.v.IndexHashes(e.row(id), 1)
		if err != nil {
			t.Fatal(err)
		}
		hashes[id] = h
	}

	// Seven months on: the health notes go, nothing else.
	set(at(0, 7, 0))
	before := len(auditEntries(t, e.store))
	if p := purge(); p.Records != 0 || p.Held != 0 || p.Fields < 1 || p.Seen != 4 {
		t.Fatalf("at 7 months: %+v, want the health notes dropped only", p)
	}
	if names := e.fieldNames(noted); strings.Contains(names, synth.HealthNote) || !strings.Contains(names, synth.GivenName) {
		t.Errorf("after the field rule, the record holds %s: want the health note gone, the rest kept", names)
	}
	if r := e.row(noted); !r.Updated.Equal(r.Created) {
		t.Errorf("a dropped field moved the record's last update to %v", r.Updated)
	}

	// Four years on, the fourth person's record is read under an
	// activity purpose; the second is held.
	set(at(4, 0, 0))
	if err := e.read(e.hr, active, "hr-records", "ticket 4"); err != nil {
		t.Fatalf("read: %v", err)
	}
	if r := e.row(active); !r.Active.IsZero() {
		t.Fatal("a read wrote its record's activity: its audit entry is the record of it")
	}
	if integrated {
		signer, err := audit.NewSigner(auditlog.Origin, make([]byte, 32))
		if err != nil {
			t.Fatal(err)
		}
		in := &auditlog.Integrator{Store: e.store, Signer: signer, Activity: e.v.ActivityDay}
		if _, err := in.Step(ctx); err != nil {
			t.Fatal(err)
		}
		if r := e.row(active); !r.Active.IsZero() {
			t.Fatal("the integrator's step recorded the record's activity: it records it in batches")
		}
		if n, err := in.RecordActivity(ctx); err != nil || n != 1 {
			t.Fatalf("RecordActivity = %d, %v; want the one record read", n, err)
		}
		if r, day := e.row(active), e.clock.Now().UTC().Truncate(24*time.Hour); !r.Active.Equal(day) {
			t.Fatalf("after the integrator recorded the activity, the read record's activity is %v, want %v", r.Active, day)
		}
	}
	e.tick()
	if _, err := e.v.PlaceHold(ctx, e.dpo, held, "Contentieux RG 26/00417"); err != nil {
		t.Fatal(err)
	}

	// Five years and ten days: the first and third records go whole
	// (nobody read them); the held one stays; the active one loses its
	// 1y fields and their lookups, a year after its read.
	set(at(5, 0, 10))
	// The plan sees what the sweep will do: the read counts, integrated
	// or not.
	plan, err := e.v.RetentionPlan(ctx, e.clock.Now(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Now.Records != 2 || plan.Now.Held != 1 {
		t.Fatalf("plan at 5 years: %+v, want two records due whole and one held (the read one kept)", plan.Now)
	}
	p := purge()
	if p.Records != 2 || p.Held != 1 || p.Fields < 2 {
		t.Fatalf("at 5 years: %+v, want two records purged, one held, the active one's 1y fields dropped", p)
	}
	for _, id := range []string{gone, noted} {
		if r := e.row(id); !r.Erased || r.DEK != nil || r.Fields != nil {
			t.Errorf("purged record: erased %v, key %d bytes, fields %d bytes; want shredded", r.Erased, len(r.DEK), len(r.Fields))
		}
	}
	if r := e.row(held); r.Erased || r.DEK == nil {
		t.Error("a held record was purged")
	}
	if names := e.fieldNames(active); strings.Contains(names, synth.EmailPersonal) || strings.Contains(names, synth.Phone) || !strings.Contains(names, synth.NationalID) {
		t.Errorf("the active record holds %s: want email_personal and phone gone, national_id kept", names)
	}
	left := func(id string) int {
		n := 0
		for _, h := range hashes[id] {
			err := e.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
				_, err := tx.LookupIndex(ctx, h)
				return err
			})
			switch {
			case err == nil:
				n++
			case !errors.Is(err, store.ErrNotFound):
				t.Fatal(err)
			}
		}
		return n
	}
	if n := left(gone); n != 0 {
		t.Errorf("%d lookup entries of the purged record left", n)
	}
	if n, was := left(active), len(hashes[active]); n != was-2 {
		t.Errorf("the active record has %d of its %d lookup entries, want the two dropped fields' gone", n, was)
	}
	if n := left(held); n != len(hashes[held]) {
		t.Errorf("the held record has %d of its %d lookup entries", n, len(hashes[held]))
	}
	// The two records purged are in the retained aggregates, once; the
	// two that stay are live.
	for set, want := range map[string]int64{stats.Retained: 2, stats.Live: 2} {
		var total int64
		if err := e.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
			cells, err := tx.Counts(ctx, set)
			for _, c := range cells {
				total += c
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if total != want {
			t.Errorf("%s aggregates count %d records, want %d", set, total, want)
		}
	}

	es := auditEntries(t, e.store)[before:]
	var purges []string
	for _, en := range es {
		if en.Action != vault.ActionPurge {
			continue
		}
		purges = append(purges, en.Reason)
		if en.Subject != "" || en.Actor != "system" || en.Decision != "allow" {
			t.Errorf("purge entry %+v: want the system's, naming no subject", en)
		}
		for _, id := range people {
			if strings.Contains(en.Reason, id) {
				t.Errorf("purge entry names %s", id)
			}
		}
	}
	if len(purges) < 2 || !strings.Contains(strings.Join(purges, " "), "records=1") || !strings.Contains(strings.Join(purges, " "), "held=1") {
		t.Errorf("purge entries %q: want one per batch that changed something, with counts", purges)
	}

	// Nothing left to do: no change, no entry.
	n := len(auditEntries(t, e.store))
	if p := purge(); p.Records != 0 || p.Fields != 0 || p.Held != 1 || p.Batches != 1 {
		t.Errorf("second sweep: %+v, want only the held record seen due", p)
	}
	if got := len(auditEntries(t, e.store)); got != n+1 {
		t.Errorf("second sweep appended %d entries, want 1 (the held record counted)", got-n)
	}
}

// fieldNames lists the fields a subject's record holds, comma-separated.
func (e *rightsEnv) fieldNames(id string) string {
	e.t.Helper()
	names, err := vault.FieldNames(e.row(id))
	if err != nil {
		e.t.Fatal(err)
	}
	return strings.Join(names, ",")
}

// TestPurgeWaitsForRecount: with the statistics' counters stale (the
// declared dimensions changed), the purge refuses rather than shred
// records the retained aggregates would not count; nothing is purged.
func TestPurgeWaitsForRecount(t *testing.T) {
	e := newRightsEnv(t)
	p := e.person()
	cfg, err := config.Demo(nil)
	if err != nil {
		t.Fatal(err)
	}
	changed := cfg.Statistics
	changed.Dimensions = changed.Dimensions[1:] // one dimension fewer: another version
	v := vault.New(vault.Config{Store: e.store, Keys: e.keys, Policy: cfg.Policy, Stats: &changed,
		Retention: &vault.Retention{Record: cfg.Retention.Record}})
	_, _, err = v.PurgeBatch(ctx, 0, 100, e.clock.Now().AddDate(10, 0, 0))
	if !errors.Is(err, vault.ErrStatsStale) {
		t.Fatalf("purge with stale counters: %v, want ErrStatsStale", err)
	}
	if r := e.row(p.Subject); r.Erased {
		t.Error("a record was purged while the counters were stale")
	}
}

// TestActivityDay: the accesses that are their record's activity are the
// reads that returned data under a purpose the policy names.
func TestActivityDay(t *testing.T) {
	v, _ := newVaultWith(t, func(c *vault.Config) {
		c.Retention = &vault.Retention{Activity: []string{"case-handling"}}
	})
	at := time.Date(2026, 11, 30, 15, 4, 5, 0, time.UTC)
	for _, c := range []struct {
		action, subject, purpose, decision string
		want                               bool
	}{
		{"read", "sub_x", "case-handling", "allow", true},
		{"read", "sub_x", "case-handling", "allow:break_glass", true},
		{"read", "sub_x", "case-handling", "allow:extension:ext_1", true},
		{"read", "sub_x", "case-handling", "allow:consent:cns_1", true},
		{"read", "sub_x", "case-handling", "allow:cns_1", false}, // consent asked: nothing returned
		{"read", "sub_x", "case-handling", "deny:not_found", false},
		{"read", "sub_x", "case-handling", "deny:locked:velocity", false},
		{"read", "sub_x", "directory", "allow", false},
		{"update", "sub_x", "case-handling", "allow", false},
		{"lookup", "sub_x", "case-handling", "allow", false},
		{"read", "", "case-handling", "allow", false},
	} {
		day, ok := v.ActivityDay(audit.Access{Time: at, Action: c.action, Subject: c.subject, Purpose: c.purpose, Decision: c.decision})
		if ok != c.want || ok && !day.Equal(time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("%s %s under %s, %s: activity %v on %v; want %v", c.action, c.subject, c.purpose, c.decision, ok, day, c.want)
		}
	}
}
