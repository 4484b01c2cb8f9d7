package vault_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/consent"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/notice"
	"github.com/coffre/coffre/internal/outbox"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/vault"
)

// oh is the demo's purpose that asks for consent and allows break-glass.
const oh = "occupational-health"

// hr2 is a second HR officer of unit u1.
var hr2 = identity.Actor{ID: "op_hr2", Role: "hr-officer", Unit: "u1", Origin: "10.0.0.8"}

// consentGuarded is a guarded vault whose HR officers have limits (a
// break-glass read a day), with subjects of unit u1.
func consentGuarded(t *testing.T, n int) (*guarded, []string) {
	t.Helper()
	g := newGuarded(t)
	ids := g.subjects("u1", n)
	g.lim["hr-officer"] = guard.Limits{SubjectsPerHour: 30, SubjectsPerDay: 100, OutOfCaseloadPerDay: 20, OutOfUnitPerDay: 2,
		MissesPerHour: 10, BreakGlassPerDay: 1, HardMargin: 5}
	g.open()
	if err := g.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.PutOperator(ctx, &identity.Operator{ID: hr2.ID, Username: hr2.ID, PasswordHash: "x", Role: hr2.Role, Unit: hr2.Unit, Created: g.clock.Now()})
	}); err != nil {
		t.Fatal(err)
	}
	return g, ids
}

// steppedUp is a, having just stepped up for the consent purpose.
func (g *guarded) steppedUp(a identity.Actor) identity.Actor {
	a.SteppedUp, a.StepFactor, a.StepGroup = g.clock.Now(), "totp", oh
	return a
}

// ask reads id under the consent purpose as a, and returns the request
// the read answered with (failing the test if it answered otherwise).
func (g *guarded) ask(t *testing.T, a identity.Actor, id string, wantNew bool) consent.Request {
	t.Helper()
	_, err := g.v.Read(ctx, g.steppedUp(a), id, oh, "referral 12")
	var p *vault.ConsentPending
	if !errors.As(err, &p) || p.New != wantNew || p.Request.Status != consent.StatusPending {
		t.Fatalf("read under %s: %v; want a consent request (new: %v)", oh, err, wantNew)
	}
	return p.Request
}

// messages returns the queued messages of kind.
func (g *guarded) messages(t *testing.T, kind string) []outbox.Message {
	t.Helper()
	var out []outbox.Message
	err := g.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		ms, err := tx.Messages(ctx, 0, 1000)
		for _, m := range ms {
			if m.Kind == kind {
				out = append(out, m)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// entries returns the audit entries of action.
func (g *guarded) entries(t *testing.T, action string) []audit.Entry {
	t.Helper()
	var out []audit.Entry
	es := auditEntries(t, g.store)
	if err := vault.OpenReasons(ctx, g.v, es); err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

// TestConsentFlow walks a request's life at the vault: asked (the person
// told once, however often the operator asks), decided by the person
// (not by anyone else, once), used by one read of the operator who
// asked, then asked again; a denial stands until the request would have
// lapsed; nobody else sees or uses a request.
func TestConsentFlow(t *testing.T) {
	g, ids := consentGuarded(t, 2)
	id, other := ids[0], ids[1]
	t0 := g.clock.Now()

	r := g.ask(t, hr, id, true)
	if !vault.ValidConsentID(r.ID) || r.Subject != id || r.Operator != hr.ID || r.Purpose != oh || r.Reason != "referral 12" ||
		!r.Expires.Equal(t0.Add(72*time.Hour)) || len(r.Fields) == 0 || slices.ContainsFunc(r.Fields, func(f string) bool { return f == "birth_date" }) {
		t.Fatalf("request %+v", r)
	}
	if again := g.ask(t, hr, id, false); again.ID != r.ID {
		t.Fatalf("asked again: request %s, want the pending %s", again.ID, r.ID)
	}
	// One message to the person, ids only.
	ms := g.messages(t, consent.Kind)
	if len(ms) != 1 || ms[0].Channel != outbox.ChannelPerson || ms[0].Recipient != id || ms[0].Key != consent.Key(r.ID) || !ms[0].Next.Equal(t0) {
		t.Fatalf("consent messages %+v, want one to %s keyed %s", ms, id, consent.Key(r.ID))
	}
	if m, err := consent.Decode(ms[0].Payload); err != nil || m.Consent != r.ID || m.Operator != "" || strings.Contains(string(ms[0].Payload), "referral") {
		t.Fatalf("payload %s (%v): want the request's ids, no operator, no reason", ms[0].Payload, err)
	}
	if es := g.entries(t, "consent.request"); len(es) != 2 || es[0].Decision != "allow:"+r.ID || es[0].Fields != nil || es[0].Subject != id {
		t.Fatalf("consent.request entries %+v", es)
	}

	// Someone else's decision, a malformed id: refused.
	if _, err := g.v.DecideConsent(ctx, other, "10.9.9.9", r.ID, true); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a decision on someone else's request: %v, want ErrNotFound", err)
	}
	if _, err := g.v.DecideConsent(ctx, id, "10.9.9.9", "cns_nope", true); !errors.Is(err, access.ErrInvalid) {
		t.Fatalf("a malformed id: %v, want ErrInvalid", err)
	}
	// The operator's read before the decision: the same pending request.
	g.clock.Add(time.Minute)
	ok, err := g.v.DecideConsent(ctx, id, "10.9.9.9", r.ID, true)
	if err != nil || ok.Status != consent.StatusApproved || !ok.ValidUntil.Equal(g.clock.Now().Add(24*time.Hour)) {
		t.Fatalf("approve: %+v, %v", ok, err)
	}
	if _, err := g.v.DecideConsent(ctx, id, "10.9.9.9", r.ID, false); !errors.Is(err, consent.ErrDecided) {
		t.Fatalf("a second decision: %v, want ErrDecided", err)
	}
	// Another officer's read does not use it: a request of its own.
	if r2 := g.ask(t, hr2, id, true); r2.ID == r.ID {
		t.Fatal("another operator's read answered with the first operator's request")
	}
	if _, err := g.v.Consent(ctx, hr2, r.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another operator's look at the request: %v, want ErrNotFound", err)
	}
	// The operator's next read: the view, once.
	view, err := g.v.Read(ctx, g.steppedUp(hr), id, oh, "referral 12")
	if err != nil || view.Fields["given_name"] == "" {
		t.Fatalf("read once approved: %+v, %v", view, err)
	}
	if st, err := g.v.Consent(ctx, hr, r.ID); err != nil || st.Status != consent.StatusUsed {
		t.Fatalf("the request after its read: %+v, %v; want used", st, err)
	}
	reads := g.entries(t, "read")
	if last := reads[len(reads)-1]; last.Decision != "allow:consent:"+r.ID || len(last.Fields) == 0 {
		t.Fatalf("the read's entry: %+v", last)
	}
	// Used: the next read asks again.
	r3 := g.ask(t, hr, id, true)
	// A denial stands until the request would have lapsed.
	if _, err := g.v.DecideConsent(ctx, id, "10.9.9.9", r3.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := g.v.Read(ctx, g.steppedUp(hr), id, oh, "referral 12"); !errors.Is(err, consent.ErrDenied) {
		t.Fatalf("read after a denial: %v, want ErrDenied", err)
	}
	if es := g.entries(t, "consent.request"); es[len(es)-1].Decision != "deny:consent_denied" {
		t.Fatalf("the refused request's entry: %+v", es[len(es)-1])
	}
	g.clock.Add(72 * time.Hour)
	if r4 := g.ask(t, hr, id, true); r4.ID == r3.ID {
		t.Fatal("asked after the denial lapsed: the denied request again")
	}
	if got := len(g.messages(t, consent.Kind)); got != 4 {
		t.Errorf("%d consent messages, want 4 (one per request)", got)
	}
	// Decisions and the refused decisions are audited, the person as actor.
	var decided []string
	for _, e := range auditEntries(t, g.store) {
		if strings.HasPrefix(e.Action, "consent.") && e.Actor == e.Subject && e.Actor != "" {
			decided = append(decided, e.Action+" "+e.Decision)
		}
	}
	want := []string{"consent.approve deny:not_found", "consent.approve deny:invalid", "consent.approve allow", "consent.deny deny:decided", "consent.deny allow"}
	if !slices.Equal(decided, want) {
		t.Errorf("the person's entries %v, want %v", decided, want)
	}
}

// TestConsentExpiry: a request nobody answers, and an approval nobody
// uses, expire at their time (computed at read time); the sweep then
// marks each once, audited; a decision on an expired request is refused.
func TestConsentExpiry(t *testing.T) {
	g, ids := consentGuarded(t, 2)
	unanswered := g.ask(t, hr, ids[0], true)
	unused := g.ask(t, hr, ids[1], true)
	if _, err := g.v.DecideConsent(ctx, ids[1], "10.9.9.9", unused.ID, true); err != nil {
		t.Fatal(err)
	}
	g.clock.Add(24 * time.Hour)
	if st, _ := g.v.Consent(ctx, hr, unused.ID); st.Status != consent.StatusExpired {
		t.Errorf("approval after 24h: %s, want expired before any sweep", st.Status)
	}
	if st, _ := g.v.Consent(ctx, hr, unanswered.ID); st.Status != consent.StatusPending {
		t.Errorf("request after 24h: %s, want pending", st.Status)
	}
	g.clock.Add(48 * time.Hour)
	if st, _ := g.v.Consent(ctx, hr, unanswered.ID); st.Status != consent.StatusExpired {
		t.Errorf("request after 72h: %s, want expired", st.Status)
	}
	if _, err := g.v.DecideConsent(ctx, ids[0], "10.9.9.9", unanswered.ID, true); !errors.Is(err, consent.ErrExpired) {
		t.Fatalf("a decision after the end: %v, want ErrExpired", err)
	}
	if p, err := g.v.PendingConsents(ctx, ids[0]); err != nil || len(p) != 0 {
		t.Errorf("pending once expired: %+v, %v", p, err)
	}
	for _, want := range []int{2, 0} {
		if n, err := g.v.ExpireConsents(ctx, 10); err != nil || n != want {
			t.Fatalf("ExpireConsents = %d, %v; want %d", n, err, want)
		}
	}
	var got []string
	for _, e := range g.entries(t, "consent.expire") {
		got = append(got, e.Reason+" "+e.Decision)
	}
	if want := []string{unused.ID + " allow:unused", unanswered.ID + " allow:unanswered"}; !slices.Equal(got, want) {
		t.Errorf("expiry entries %v, want %v", got, want)
	}
	// Expired: the operator's next read asks again.
	g.ask(t, hr, ids[1], true)
}

// TestBreakGlass: an emergency read without consent returns the view,
// audited apart, with an immediate notice to the person and an alert to
// the officers in its transaction; it needs a reason and a purpose that
// allows it, and the role's daily budget bounds it.
func TestBreakGlass(t *testing.T) {
	g, ids := consentGuarded(t, 3)
	a := g.steppedUp(hr)
	view, err := g.v.BreakGlass(ctx, a, ids[0], oh, "", "collapsed at her desk")
	if err != nil || view.Fields["given_name"] == "" {
		t.Fatalf("break-glass read: %+v, %v", view, err)
	}
	reads := g.entries(t, "read")
	e := reads[len(reads)-1]
	if e.Decision != "allow:break_glass" || e.Reason != "break-glass: collapsed at her desk" || e.Subject != ids[0] || len(e.Fields) == 0 {
		t.Fatalf("entry %+v", e)
	}
	ms := g.messages(t, notice.Kind)
	if len(ms) != 1 || ms[0].Key != notice.Key(e.Seq) || ms[0].Recipient != ids[0] || ms[0].Channel != outbox.ChannelPerson {
		t.Fatalf("notices %+v, want one keyed %s", ms, notice.Key(e.Seq))
	}
	if n, err := notice.Decode(ms[0].Payload); err != nil || n.Mode != "immediate" || n.Seq != e.Seq || n.Purpose != oh || !slices.Equal(n.Fields, e.Fields) || n.Operator != "" {
		t.Fatalf("notice %+v, %v", n, err)
	}
	var alerts []guard.Alert
	g.store.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
		alerts, err = tx.Alerts(ctx, 0, 100)
		return err
	})
	if len(alerts) != 1 || alerts[0].Code != guard.CodeBreakGlass || alerts[0].Operator != hr.ID || !slices.Equal(alerts[0].Evidence, []int64{e.Seq}) {
		t.Fatalf("alerts %+v, want one break_glass with the read's entry", alerts)
	}
	if ob := g.messages(t, "alert"); len(ob) != 0 {
		t.Logf("alert messages expanded already: %d", len(ob))
	}

	// Refusals: no reason, a purpose without break-glass, the budget.
	var le *access.LimitError
	for _, tt := range []struct {
		name    string
		purpose string
		why     string
		want    func(error) bool
	}{
		{"no reason", oh, "  ", func(err error) bool { return errors.Is(err, access.ErrReasonRequired) }},
		{"a purpose without break-glass", "directory", "urgent", func(err error) bool { return errors.Is(err, access.ErrForbidden) }},
		{"over the day's budget", oh, "again", func(err error) bool { return errors.As(err, &le) && le.Code == guard.CodeBreakGlass }},
	} {
		if _, err := g.v.BreakGlass(ctx, g.steppedUp(hr), ids[1], tt.purpose, "", tt.why); !tt.want(err) {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
	if got := len(g.messages(t, notice.Kind)); got != 1 {
		t.Errorf("%d notices after the refusals, want 1", got)
	}
	// The refusal over the budget raised an alert too.
	g.store.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
		alerts, err = tx.Alerts(ctx, 0, 100)
		return err
	})
	if len(alerts) != 2 || alerts[1].Code != guard.CodeBreakGlass || alerts[1].Severity != "warning" {
		t.Errorf("alerts %+v, want a second, a warning", alerts)
	}
	// A step-up is still needed.
	if _, err := g.v.BreakGlass(ctx, hr, ids[2], oh, "", "urgent"); !errors.Is(err, access.ErrStepUpRequired) {
		t.Errorf("break-glass without a step-up: %v, want ErrStepUpRequired", err)
	}
	// The next day, the budget is back.
	g.clock.Add(24 * time.Hour)
	if _, err := g.v.BreakGlass(ctx, g.steppedUp(hr), ids[1], oh, "ticket 9", "seizure"); err != nil {
		t.Fatalf("break-glass the next day: %v", err)
	}
	reads = g.entries(t, "read")
	if r := reads[len(reads)-1].Reason; r != "ticket 9 | break-glass: seizure" {
		t.Errorf("reason %q", r)
	}
}

// TestConsentCountsAsARead: each request is an access the guard counts
// (distinct people per hour here), so a stolen login cannot ask
// thousands of people; a canary locks at the first request.
func TestConsentCountsAsARead(t *testing.T) {
	g, ids := consentGuarded(t, 6)
	l := g.lim["hr-officer"]
	l.SubjectsPerHour = 4
	g.lim["hr-officer"] = l
	g.open()
	var le *access.LimitError
	for i, id := range ids[:5] {
		g.clock.Add(time.Minute)
		_, err := g.v.Read(ctx, g.steppedUp(hr), id, oh, "referral")
		var p *vault.ConsentPending
		switch {
		case i < 4 && !errors.As(err, &p):
			t.Fatalf("request %d: %v", i, err)
		case i == 4 && (!errors.As(err, &le) || le.Code != guard.CodeSubjectsHour):
			t.Fatalf("request %d: %v, want the hourly budget", i, err)
		}
	}
	if got := len(g.messages(t, consent.Kind)); got != 4 {
		t.Errorf("%d people told, want 4", got)
	}
	if es := g.entries(t, "consent.request"); es[len(es)-1].Decision != "deny:limited:"+guard.CodeSubjectsHour {
		t.Errorf("refused request's entry: %+v", es[len(es)-1])
	}
	// A canary locks at the first request.
	if err := g.store.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.PutCanary(ctx, ids[5], "", g.clock.Now()) }); err != nil {
		t.Fatal(err)
	}
	g.clock.Add(time.Hour)
	if _, err := g.v.Read(ctx, g.steppedUp(hr2), ids[5], oh, "referral"); !errors.Is(err, access.ErrLocked) {
		t.Fatalf("a request for a canary: %v, want ErrLocked", err)
	}
	if got := len(g.messages(t, consent.Kind)); got != 4 {
		t.Errorf("a canary was told: %d messages", got)
	}
}

// TestPendingConsents lists a person's requests waiting for a decision,
// newest first, and nothing of anyone else's.
func TestPendingConsents(t *testing.T) {
	g, ids := consentGuarded(t, 2)
	first := g.ask(t, hr, ids[0], true)
	g.clock.Add(time.Minute)
	second := g.ask(t, hr2, ids[0], true)
	g.ask(t, hr, ids[1], true)
	got, err := g.v.PendingConsents(ctx, ids[0])
	if err != nil || len(got) != 2 || got[0].ID != second.ID || got[1].ID != first.ID {
		t.Fatalf("PendingConsents = %+v, %v; want %s then %s", got, err, second.ID, first.ID)
	}
	if _, err := g.v.PendingConsents(ctx, "sub_bad"); !errors.Is(err, access.ErrInvalid) {
		t.Errorf("malformed subject: %v", err)
	}
	b, _ := json.Marshal(got)
	if strings.Contains(string(b), "sealed") {
		t.Error("values in the list")
	}
}
