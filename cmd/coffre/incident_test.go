package main

import (
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/breach"
	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/deliver/delivertest"
	"github.com/coffre/coffre/internal/notice"
)

// TestIncidentResponse is issue 15's first done-when, end to end: the
// drill's versailles-scrape and partner-hijack attacks run against a
// server; an incident per attacker names its accounts; the impact lists
// exactly the people and fields the audit log shows returned to them
// (checked against a count made here from the raw entries); the report
// carries those counts; the letters, one per person, reach the SMTP
// server, each naming that person's own exposed fields and no other.
func TestIncidentResponse(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	mx := delivertest.StartSMTP(t)
	r, err := startRehearsal(ctx, t.TempDir(), 20000, config.SMTP{Host: mx.Host, Port: mx.Port, StartTLS: "none", From: "coffre@example.org"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer r.stop()
	responses, err := r.run(ctx, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := r.env.Audit(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	var schema []string
	for _, f := range r.a.cfg.Policy.Fields {
		schema = append(schema, f.Name)
	}
	letters := 0
	for _, x := range responses {
		t.Run(x.Scenario, func(t *testing.T) {
			want := returned(entries, x.accounts)
			if len(want) == 0 {
				t.Fatal("the attack read nobody: nothing to check")
			}
			got := map[string][]string{}
			for _, p := range x.people {
				for _, f := range p.Fields {
					got[p.Subject] = append(got[p.Subject], f.Name)
				}
			}
			if !maps.EqualFunc(got, want, slices.Equal) {
				t.Errorf("impact: %d people %v, want %d %v (from the audit log)", len(got), got, len(want), want)
			}
			values := 0
			for _, fs := range want {
				values += len(fs)
			}
			if x.Impact.Subjects != int64(len(want)) || x.Impact.Records != int64(values) || x.Letters != int64(len(want)) {
				t.Errorf("impact counts %d people, %d values, %d letters; want %d, %d, %d", x.Impact.Subjects, x.Impact.Records, x.Letters, len(want), values, len(want))
			}
			view, err := r.a.vault.Incident(ctx, host, x.Incident)
			if err != nil {
				t.Fatal(err)
			}
			var kinds []string
			for _, e := range view.Events {
				kinds = append(kinds, e.Kind)
			}
			wantKinds := "opened,revoke,lock,reenrol,impact,notify"
			if x.Scenario == "partner-hijack" {
				wantKinds = "opened,revoke,revoke-partners,impact,notify"
			}
			if got := strings.Join(kinds, ","); got != wantKinds || view.Incident.Status != "contained" {
				t.Errorf("timeline %s (%s), want %s (contained)", got, view.Incident.Status, wantKinds)
			}
			if x.Exfiltrated != len(want) {
				t.Errorf("the drill counted %d people exfiltrated, the impact %d", x.Exfiltrated, len(want))
			}
			if p := x.report.People; p.Exposed != int64(len(want)) || p.Records != int64(values) {
				t.Errorf("the report counts %d people and %d records, want %d and %d", p.Exposed, p.Records, len(want), values)
			}
			// Each person's letter names their fields, and no other.
			for subject, fields := range want {
				c, err := r.a.vault.Contact(ctx, subject)
				if err != nil {
					t.Fatal(err)
				}
				body := letterTo(t, mx.Mails(), c.Email, x.Incident)
				if body == "" {
					t.Errorf("no letter of %s to %s's address", x.Incident, subject)
					continue
				}
				letters++
				if named := namedFields(body, schema); !slices.Equal(named, fields) {
					t.Errorf("the letter to %s names %v, want %v", subject, named, fields)
				}
			}
		})
	}
	t.Logf("%d letters checked", letters)
}

// returned is, from the raw entries, the fields returned to accounts by
// reads they were allowed, by subject (sorted): the count an impact must
// match, made without package impact.
func returned(entries []audit.Entry, accounts []string) map[string][]string {
	out := map[string][]string{}
	for _, e := range entries {
		if e.Action != "read" || !strings.HasPrefix(e.Decision, "allow") || !slices.Contains(accounts, e.Actor) || e.Subject == "" {
			continue
		}
		for _, f := range e.Fields {
			if !slices.Contains(out[e.Subject], f) {
				out[e.Subject] = append(out[e.Subject], f)
			}
		}
	}
	for s := range out {
		slices.Sort(out[s])
		if len(out[s]) == 0 {
			delete(out, s)
		}
	}
	return out
}

// letterTo returns the body of the incident's letter to addr, "" if none.
func letterTo(t *testing.T, mails []delivertest.Mail, addr, incident string) string {
	for _, m := range mails {
		if !slices.Contains(m.To, addr) || m.Header(t).Get("Coffre-Event") != breach.LetterKind {
			continue
		}
		if k := m.Header(t).Get("Coffre-Idempotency-Key"); strings.HasPrefix(k, "breach-"+incident+"-") {
			return m.Body(t)
		}
	}
	return ""
}

var bullet = regexp.MustCompile(`(?m)^  - ([a-z0-9 ]+)\s?:`)

// namedFields are the schema's fields a letter lists, sorted.
func namedFields(body string, schema []string) []string {
	var out []string
	for _, m := range bullet.FindAllStringSubmatch(body, -1) {
		for _, f := range schema {
			if notice.FieldNames([]string{f}) == strings.TrimSpace(m[1]) && !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
	}
	slices.Sort(out)
	return out
}
