package vault_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/breach"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/incident"
	"github.com/coffre/coffre/internal/outbox"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

var officer = identity.Actor{ID: "op_so", Role: "security-officer", Origin: "127.0.0.1"}

// TestIncidentLifecycle: an incident is opened by an officer (a
// caseworker is refused, audited); a report or letters before the impact
// are refused; the impact counts what the caseworker read; the letters
// are queued once, a second notify queues none; a tampered log yields no
// impact, the refusal naming the entry and on the timeline.
func TestIncidentLifecycle(t *testing.T) {
	v, fs := newVault(t)
	st := fs.Store.(*sqlite.Store)
	var ids []string
	for i := range 5 {
		id, _ := create(t, v, i)
		ids = append(ids, id)
	}
	start := time.Now().UTC().Add(-time.Minute)
	for _, id := range ids[:3] {
		if _, err := v.Read(ctx, worker, id, "directory", ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := fs.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.PutOperator(ctx, &identity.Operator{ID: worker.ID, Username: worker.ID, PasswordHash: "x", Role: worker.Role, Unit: "u1", Created: start})
	}); err != nil {
		t.Fatal(err)
	}
	signer, err := audit.NewSigner(auditlog.Origin, make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	integrate := func() {
		t.Helper()
		if _, err := (&auditlog.Integrator{Store: st, Signer: signer}).Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	integrate()

	open := &incident.Incident{Title: "scrape", Nature: []string{incident.Confidentiality}, Aware: time.Now().UTC(),
		Scope: incident.Scope{Operators: []string{worker.ID}, From: start}}
	if _, err := v.OpenIncident(ctx, worker, open); !errors.Is(err, access.ErrForbidden) {
		t.Fatalf("a caseworker opens an incident: %v, want forbidden", err)
	}
	inc, err := v.OpenIncident(ctx, officer, open)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Report(ctx, officer, inc.ID, incident.Initial, breach.Settings{}, false); !errors.Is(err, breach.ErrNoImpact) {
		t.Errorf("a report before the impact: %v, want ErrNoImpact", err)
	}
	if _, err := v.NotifyBreach(ctx, officer, inc.ID, nil); !errors.Is(err, breach.ErrNoImpact) {
		t.Errorf("letters before the impact: %v, want ErrNoImpact", err)
	}
	res, err := v.Impact(ctx, officer, inc.ID, signer.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	if res.Impact.Subjects != 3 || len(res.People) != 3 {
		t.Fatalf("impact: %d people (%d listed), want the 3 read", res.Impact.Subjects, len(res.People))
	}
	if _, err := v.Report(ctx, officer, inc.ID, incident.Initial, breach.Settings{}, true); err != nil {
		t.Fatal(err)
	}
	letters := func() int {
		n := 0
		fs.View(ctx, func(ctx context.Context, tx store.Tx) error {
			ms, err := tx.Messages(ctx, 0, 1000)
			for _, m := range ms {
				if m.Kind == breach.LetterKind && m.Channel == outbox.ChannelPerson {
					n++
				}
			}
			return err
		})
		return n
	}
	for range 2 {
		l, err := v.NotifyBreach(ctx, officer, inc.ID, res)
		if err != nil {
			t.Fatal(err)
		}
		if l.People != 3 || letters() != 3 {
			t.Errorf("notify: %d people, %d letters queued; want 3 and 3, also when run again", l.People, letters())
		}
	}

	// The evidence: the scope's entries, the ones the impact counted.
	ev, err := v.Evidence(ctx, officer, inc.ID, signer.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Entries) != 3 || ev.Header.Entries != 3 || ev.Header.Incident != inc.ID || int64(len(ev.Entries)) != res.Impact.Matched {
		t.Errorf("evidence of %d entries (header %+v), want the 3 reads the impact matched (%d)", len(ev.Entries), ev.Header, res.Impact.Matched)
	}
	for _, e := range ev.Entries {
		if e.Entry.Actor != worker.ID || e.Entry.Action != "read" {
			t.Errorf("evidence entry %+v: want a read of %s", e.Entry, worker.ID)
		}
	}
	if _, err := auditlog.VerifyEvidence(ev, signer.VerifierKey()); err != nil {
		t.Error(err)
	}

	// Entry 2 (a create, inside the window) rewritten: no impact.
	if err := st.Exec(ctx, `UPDATE audit SET leaf = audit_set(leaf, 'actor', 'op_other') WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	_, err = v.Impact(ctx, officer, inc.ID, signer.VerifierKey())
	if !errors.Is(err, vault.ErrTampered) || !strings.Contains(err.Error(), "index 1 (entry 2)") {
		t.Fatalf("impact of a tampered log: %v, want ErrTampered naming index 1 (entry 2)", err)
	}
	view, err := v.Incident(ctx, officer, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	last := view.Events[len(view.Events)-1]
	if last.Kind != "impact-refused" || !strings.Contains(last.Detail, "entry 2") || view.Incident.Impact != nil {
		t.Errorf("the timeline ends with %+v (impact %v), want the refusal naming entry 2 and no impact", last, view.Incident.Impact)
	}
	var kinds []string
	for _, e := range view.Events {
		kinds = append(kinds, e.Kind)
		if e.Audit == 0 || e.Actor != officer.ID {
			t.Errorf("event %+v: want the officer and its audit entry", e)
		}
	}
	if got := strings.Join(kinds, ","); got != "opened,impact,report,notify,evidence,impact-refused" {
		t.Errorf("timeline %s", got)
	}
	if _, err := v.Evidence(ctx, officer, inc.ID, signer.VerifierKey()); !errors.Is(err, vault.ErrTampered) || !strings.Contains(err.Error(), "entry 2") {
		t.Errorf("evidence of a tampered log: %v, want ErrTampered naming entry 2", err)
	}
	if view, err = v.Incident(ctx, officer, inc.ID); err != nil {
		t.Fatal(err)
	}
	if last := view.Events[len(view.Events)-1]; last.Kind != "evidence-refused" || !strings.Contains(last.Detail, "entry 2") {
		t.Errorf("the timeline ends with %+v, want the evidence refused naming entry 2", last)
	}
	if c := view.Clocks[0]; c.Name != "gdpr-notification" || c.Done.IsZero() {
		t.Errorf("the filed initial report did not stop the GDPR clock: %+v", c)
	}
}

// TestStolenStoreImpact: a stolen store exposes everyone whose record was
// in it, with the fields their record holds: in clear when the keys may
// have left with it, as ciphertext when they could not; a canary is no
// one; the letters then go to each.
func TestStolenStoreImpact(t *testing.T) {
	for _, safe := range []bool{false, true} {
		v, fs := newVault(t)
		held := map[string]int{}
		for i := range 4 {
			id, p := create(t, v, i)
			held[id] = len(p.Fields)
		}
		canary := synth.Make(7, 99)
		if _, err := v.PlantCanaries(ctx, identity.Actor{ID: "system", Role: "admin", Origin: "cli"}, "", []vault.ImportRow{{Num: 1, Unit: canary.Unit, Fields: canary.Fields}}); err != nil {
			t.Fatal(err)
		}
		signer, _ := audit.NewSigner(auditlog.Origin, make([]byte, 32))
		if _, err := (&auditlog.Integrator{Store: fs.Store, Signer: signer}).Step(ctx); err != nil {
			t.Fatal(err)
		}
		inc, err := v.OpenIncident(ctx, officer, &incident.Incident{Title: "backup stolen", Nature: []string{incident.Confidentiality}, Aware: time.Now().UTC(),
			Scope: incident.Scope{StoreStolen: true, KeysSafe: safe, From: time.Now().UTC().Add(-time.Hour)}})
		if err != nil {
			t.Fatal(err)
		}
		res, err := v.Impact(ctx, officer, inc.ID, signer.VerifierKey())
		if err != nil {
			t.Fatal(err)
		}
		if len(res.People) != 4 || res.Impact.Subjects != 4 || res.Impact.Stored != 4 {
			t.Fatalf("keys safe %v: %d people, %d exposed, %d stored; want 4 each", safe, len(res.People), res.Impact.Subjects, res.Impact.Stored)
		}
		for _, p := range res.People {
			if len(p.Fields) != held[p.Subject] {
				t.Errorf("%s: %d fields, want the %d its record holds", p.Subject, len(p.Fields), held[p.Subject])
			}
			for _, f := range p.Fields {
				if f.Clear == safe || safe && f.Mask != "ciphertext" {
					t.Errorf("keys safe %v: field %+v", safe, f)
				}
			}
		}
		if fc := res.Impact.Fields["given_name"]; fc.Subjects != 4 || (fc.Clear == 4) == safe {
			t.Errorf("keys safe %v: given_name counted %+v", safe, fc)
		}
		l, err := v.NotifyBreach(ctx, officer, inc.ID, res)
		if err != nil {
			t.Fatal(err)
		}
		if l.People+l.NoContact != 4 {
			t.Errorf("letters to %d people, %d without contact; want 4 in all", l.People, l.NoContact)
		}
	}
}
