package httpapi_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/consent"
	"github.com/coffre/coffre/internal/contact"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/notice"
	"github.com/coffre/coffre/internal/outbox"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/vault"
)

// oh is the demo's purpose that asks for the person's consent and allows
// break-glass (with a step-up, a reason).
const oh = "occupational-health"

// personHeader names the person of a /v1/me request in these tests: a
// stand-in for a subject session (Server.Subject), which subject sign-in
// provides.
const personHeader = "Coffre-Test-Person"

// consentEnv is a server whose HR officers are guarded (one break-glass a
// day, few people an hour) and whose /v1/me routes take the person from
// personHeader; with an HR officer stepped up for oh, and people of its
// unit.
type consentEnv struct {
	*env
	hrOp *auth.NewOperator
	hr   string // hrOp's session
	ids  []string
}

func newConsentEnv(t *testing.T, people int) *consentEnv {
	t.Helper()
	e := newEnvOpts(t, envOptions{
		guard: &vault.Guard{Limits: map[string]guard.Limits{"hr-officer": {SubjectsPerHour: 6, SubjectsPerDay: 100, OutOfCaseloadPerDay: 50,
			MissesPerHour: 10, BreakGlassPerDay: 1, HardMargin: 10}}},
		person:     func(r *http.Request) (string, error) { return r.Header.Get(personHeader), nil },
		coolingOff: time.Hour,
	})
	c := &consentEnv{env: e}
	c.hrOp = e.addOperator(t, "helene", "hr-officer", "ac-lyon")
	c.hr = e.login(t, c.hrOp)
	for i := 700; len(c.ids) < people; i++ {
		p, at := person(t, i, true)
		p.Unit, i = "ac-lyon", at
		c.ids = append(c.ids, e.create(t, c.hr, p))
	}
	e.stepUp(t, c.hrOp, c.hr, oh)
	return c
}

// consentBody is a 202's body, decoded strictly.
type consentBody struct {
	Consent struct {
		ID          string                                 `json:"id"`
		Status      string                                 `json:"status"`
		Subject     string                                 `json:"subject"`
		Purpose     string                                 `json:"purpose"`
		Description string                                 `json:"description"`
		Fields      []string                               `json:"fields"`
		Reason      string                                 `json:"reason"`
		From        *struct{ Unit, Role, Operator string } `json:"from"`
		RequestedAt time.Time                              `json:"requested_at"`
		ExpiresAt   time.Time                              `json:"expires_at"`
		DecidedAt   time.Time                              `json:"decided_at"`
		ValidUntil  time.Time                              `json:"valid_until"`
		ClosedAt    time.Time                              `json:"closed_at"`
	} `json:"consent"`
}

// ask reads id under oh and returns the consent request of the 202.
func (c *consentEnv) ask(t *testing.T, tok, id string) consentBody {
	t.Helper()
	r := c.read(t, tok, id, oh, "referral 12")
	r.want(t, http.StatusAccepted, "")
	var b consentBody
	decodeStrict(t, r.Body, &b)
	if loc := r.Header.Get("Location"); loc != "/v1/consents/"+b.Consent.ID {
		t.Errorf("Location %q, want /v1/consents/%s", loc, b.Consent.ID)
	}
	return b
}

// me calls a /v1/me route as the person subject ("" for none).
func (c *consentEnv) me(t *testing.T, method, path, subject string, body any) *response {
	t.Helper()
	r := req{Method: method, Path: path, Body: body}
	if subject != "" {
		r.Header = map[string]string{personHeader: subject}
	}
	return c.call(t, r)
}

func (c *consentEnv) decide(t *testing.T, subject, id, decision string) *response {
	t.Helper()
	return c.me(t, "POST", "/v1/me/consents/"+id, subject, map[string]string{"decision": decision})
}

// status is GET /v1/consents/{id} as tok.
func (c *consentEnv) status(t *testing.T, tok, id string) consentBody {
	t.Helper()
	r := c.call(t, req{Method: "GET", Path: "/v1/consents/" + id, Token: tok})
	r.want(t, http.StatusOK, "")
	var b consentBody
	decodeStrict(t, r.Body, &b)
	return b
}

// messages returns the queued messages of kind.
func (e *env) messages(t *testing.T, kind string) []outbox.Message {
	t.Helper()
	var out []outbox.Message
	err := e.store.View(context.Background(), func(ctx context.Context, tx store.Tx) error {
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

// lastEntry is the newest audit entry of action.
func (e *env) lastEntry(t *testing.T, action string) audit.Entry {
	t.Helper()
	es := e.auditEntries(t)
	for i := len(es) - 1; i >= 0; i-- {
		if es[i].Action == action {
			return es[i]
		}
	}
	t.Fatalf("no audit entry %s", action)
	return audit.Entry{}
}

// TestConsentOverHTTP: a read under a consent purpose answers 202 with
// the request, the person is told once, sees the request in their portal
// and approves it (no one else can, nor twice); the operator's next read
// returns the view, once; a denial answers 403 consent_denied; a request
// nobody answers expires (409 for a late decision), and the sweep audits
// it; the operator, and only they, follows the status.
func TestConsentOverHTTP(t *testing.T) {
	t.Parallel()
	c := newConsentEnv(t, 3)
	id, other := c.ids[0], c.ids[1]
	t0 := c.clock.Now()

	r := c.ask(t, c.hr, id).Consent
	if r.Status != "pending" || r.Subject != id || r.Purpose != oh || r.Reason != "referral 12" || !slices.Contains(r.Fields, "health_note") ||
		!r.ExpiresAt.Equal(t0.Add(72*time.Hour)) || r.From != nil || !r.DecidedAt.IsZero() {
		t.Fatalf("consent request %+v", r)
	}
	if again := c.ask(t, c.hr, id).Consent; again.ID != r.ID {
		t.Errorf("asked again: %s, want the pending %s", again.ID, r.ID)
	}
	ms := c.messages(t, consent.Kind)
	if len(ms) != 1 || ms[0].Channel != outbox.ChannelPerson || ms[0].Recipient != id || ms[0].Key != consent.Key(r.ID) {
		t.Fatalf("consent messages %+v, want one to the person", ms)
	}

	// The person: not signed in, an operator's token, someone else.
	c.me(t, "GET", "/v1/me/consents", "", nil).want(t, http.StatusUnauthorized, "unauthenticated")
	c.call(t, req{Method: "GET", Path: "/v1/me/consents", Token: c.hr}).want(t, http.StatusForbidden, "forbidden")
	c.decide(t, other, r.ID, "approve").want(t, http.StatusNotFound, "not_found")
	c.decide(t, id, r.ID, "maybe").want(t, http.StatusBadRequest, "invalid_request")
	c.me(t, "POST", "/v1/me/consents/"+r.ID, id, `{"decision":"approve","forever":true}`).want(t, http.StatusBadRequest, "invalid_request")
	c.decide(t, id, "cns_x", "approve").want(t, http.StatusBadRequest, "invalid_request")
	list := c.me(t, "GET", "/v1/me/consents", id, nil)
	list.want(t, http.StatusOK, "")
	var pending struct {
		Consents []struct {
			ID          string   `json:"id"`
			Status      string   `json:"status"`
			Subject     string   `json:"subject"`
			Purpose     string   `json:"purpose"`
			Description string   `json:"description"`
			Fields      []string `json:"fields"`
			Reason      string   `json:"reason"`
			From        struct {
				Unit string `json:"unit"`
				Role string `json:"role"`
			} `json:"from"`
			RequestedAt time.Time `json:"requested_at"`
			ExpiresAt   time.Time `json:"expires_at"`
		} `json:"consents"`
	}
	decodeStrict(t, list.Body, &pending)
	if len(pending.Consents) != 1 || pending.Consents[0].ID != r.ID || pending.Consents[0].From.Unit != "ac-lyon" || pending.Consents[0].From.Role != "hr-officer" ||
		pending.Consents[0].Description == "" || pending.Consents[0].Reason != "referral 12" {
		t.Fatalf("the person's list: %s", list.Body)
	}
	if strings.Contains(string(list.Body), c.hrOp.Operator.ID) {
		t.Error("the person's list names the operator; the purpose's policy does not")
	}

	// Approved, once.
	c.clock.Advance(time.Minute)
	ok := c.decide(t, id, r.ID, "approve")
	ok.want(t, http.StatusOK, "")
	var approved consentBody
	decodeStrict(t, ok.Body, &approved)
	if approved.Consent.Status != "approved" || !approved.Consent.ValidUntil.Equal(c.clock.Now().Add(24*time.Hour)) {
		t.Fatalf("approval %s", ok.Body)
	}
	c.decide(t, id, r.ID, "deny").want(t, http.StatusConflict, "consent_decided")
	if st := c.status(t, c.hr, r.ID); st.Consent.Status != "approved" {
		t.Errorf("status %s, want approved", st.Consent.Status)
	}
	hr2 := c.login(t, c.addOperator(t, "hugo", "hr-officer", "ac-lyon"))
	c.call(t, req{Method: "GET", Path: "/v1/consents/" + r.ID, Token: hr2}).want(t, http.StatusNotFound, "not_found")

	// The next read: the view, then asked again.
	c.stepUp(t, c.hrOp, c.hr, oh)
	v := c.readView(t, c.hr, id, oh, "referral 12")
	if v.Fields["health_note"] == "" || c.lastEntry(t, "read").Decision != "allow:consent:"+r.ID {
		t.Fatalf("the approved read: %+v, entry %+v", v, c.lastEntry(t, "read"))
	}
	if st := c.status(t, c.hr, r.ID); st.Consent.Status != "used" || st.Consent.ClosedAt.IsZero() {
		t.Errorf("status after the read %+v, want used", st.Consent)
	}
	second := c.ask(t, c.hr, id).Consent
	if second.ID == r.ID {
		t.Fatal("the used approval answered again")
	}

	// Denied: 403 until the request would have lapsed.
	c.decide(t, id, second.ID, "deny").want(t, http.StatusOK, "")
	res := c.read(t, c.hr, id, oh, "referral 12")
	res.want(t, http.StatusForbidden, "consent_denied")
	if !strings.Contains(res.Err.Message, second.ID) || !strings.Contains(res.Err.Hint, "ask again from") {
		t.Errorf("denial: %+v", res.Err)
	}
	if st := c.status(t, c.hr, second.ID); st.Consent.Status != "denied" {
		t.Errorf("status %s, want denied", st.Consent.Status)
	}

	// Unanswered: expired at its time.
	lapsing := c.ask(t, c.hr, other).Consent
	c.clock.Advance(72 * time.Hour)
	c.decide(t, other, lapsing.ID, "approve").want(t, http.StatusConflict, "consent_expired")
	c.hr = c.login(t, c.hrOp) // the session ended meanwhile
	if st := c.status(t, c.hr, lapsing.ID); st.Consent.Status != "expired" {
		t.Errorf("status %s, want expired", st.Consent.Status)
	}
	if n, err := c.vault.ExpireConsents(context.Background(), 10); err != nil || n != 1 {
		t.Fatalf("ExpireConsents = %d, %v; want 1 (the unanswered request; the denied one is closed)", n, err)
	}
	if e := c.lastEntry(t, "consent.expire"); e.Reason != lapsing.ID || e.Decision != "allow:unanswered" || e.Subject != other || e.Actor != "system" {
		t.Errorf("expiry entry %+v", e)
	}
	// The person's decisions are audited, with the person as the actor.
	if e := c.lastEntry(t, "consent.deny"); e.Actor != id || e.Subject != id || e.Reason != second.ID || e.Decision != "allow" {
		t.Errorf("denial entry %+v", e)
	}
}

// TestConsentBudget: each request counts as a read of a new person, so a
// stolen HR login asks at most the hourly budget of people (6 here)
// before 429, and tells nobody beyond it.
func TestConsentBudget(t *testing.T) {
	t.Parallel()
	c := newConsentEnv(t, 8)
	for i, id := range c.ids {
		r := c.read(t, c.hr, id, oh, "referral")
		switch {
		case i < 6:
			r.want(t, http.StatusAccepted, "")
		default:
			r.want(t, http.StatusTooManyRequests, "rate_limited")
		}
	}
	if got := len(c.messages(t, consent.Kind)); got != 6 {
		t.Errorf("%d people told, want 6", got)
	}
}

// TestBreakGlassOverHTTP: Coffre-Break-Glass reads under a purpose that
// allows it, without consent: the view, audited allow:break_glass with
// the reason, the alert row and the person's immediate notice queued in
// the read's transaction; refused without a reason, on another purpose,
// with a reason too long, and past the day's budget (with an alert).
func TestBreakGlassOverHTTP(t *testing.T) {
	t.Parallel()
	c := newConsentEnv(t, 2)
	bg := func(id, purpose, why string) *response {
		return c.call(t, req{Method: "GET", Path: "/v1/subjects/" + id, Token: c.hr, Purpose: purpose, Header: map[string]string{"Coffre-Break-Glass": why}})
	}
	r := bg(c.ids[0], oh, "malaise au poste, SAMU appelé")
	r.want(t, http.StatusOK, "")
	var v view
	decodeStrict(t, r.Body, &v)
	e := c.lastEntry(t, "read")
	if v.Fields["health_note"] == "" || e.Seq != v.AuditSeq || e.Decision != "allow:break_glass" || e.Reason != "break-glass: malaise au poste, SAMU appelé" {
		t.Fatalf("view %+v, entry %+v", v, e)
	}
	if ms := c.messages(t, notice.Kind); len(ms) != 1 || ms[0].Key != notice.Key(e.Seq) || ms[0].Recipient != c.ids[0] {
		t.Fatalf("notices %+v, want the read's, keyed %s", ms, notice.Key(e.Seq))
	}
	var rows []outbox.Row
	c.store.View(context.Background(), func(ctx context.Context, tx store.Tx) (err error) {
		rows, err = tx.Unexpanded(ctx, "alert", 10)
		return err
	})
	if len(rows) != 1 || !strings.Contains(string(rows[0].Payload), `"code":"break_glass"`) {
		t.Fatalf("alert rows %+v, want the break-glass alert queued for the officers", rows)
	}
	so := c.login(t, c.addOperator(t, "solene", "security-officer", "ac-lyon"))
	alerts := c.call(t, req{Method: "GET", Path: "/v1/alerts", Token: so})
	alerts.want(t, http.StatusOK, "")
	if !strings.Contains(string(alerts.Body), `"code":"break_glass"`) || !strings.Contains(string(alerts.Body), c.hrOp.Operator.ID) {
		t.Errorf("the officer's alerts: %s", alerts.Body)
	}

	for _, tt := range []struct {
		name, purpose, why string
		status             int
		code, hint         string
	}{
		{"no reason", oh, "", http.StatusBadRequest, "reason_required", "Coffre-Break-Glass"},
		{"blank reason", oh, "   ", http.StatusBadRequest, "reason_required", "Coffre-Break-Glass"},
		{"a purpose without break-glass", "directory", "urgent", http.StatusForbidden, "forbidden", "break_glass: true"},
		{"a reason too long", oh, strings.Repeat("x", reasonMax+1), http.StatusBadRequest, "invalid_request", ""},
		{"past the day's budget", oh, "second emergency", http.StatusTooManyRequests, "rate_limited", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := bg(c.ids[1], tt.purpose, tt.why)
			r.want(t, tt.status, tt.code)
			if !strings.Contains(r.Err.Hint, tt.hint) {
				t.Errorf("hint %q, want it to mention %q", r.Err.Hint, tt.hint)
			}
		})
	}
	if got := len(c.messages(t, notice.Kind)); got != 1 {
		t.Errorf("%d notices after the refusals, want 1", got)
	}
	c.store.View(context.Background(), func(ctx context.Context, tx store.Tx) (err error) {
		rows, err = tx.Unexpanded(ctx, "alert", 10)
		return err
	})
	if len(rows) != 2 {
		t.Errorf("%d alert rows, want 2: the read's, and the refusal past the budget", len(rows))
	}
	// Without a step-up for the purpose: refused as any read.
	c.clock.Advance(10 * time.Minute)
	bg(c.ids[1], oh, "urgent").want(t, http.StatusUnauthorized, "step_up_required")
}

// TestContactChangeOverHTTP: a PATCH of a contact field answers 202 with
// what waits and until when; a malformed address is refused; the person
// sees the pending change (no value) and may cancel it, once; otherwise
// the pass applies it at its date, and the new address finds the person.
func TestContactChangeOverHTTP(t *testing.T) {
	t.Parallel()
	c := newConsentEnv(t, 2)
	cwOp := c.addOperator(t, "camille", "caseworker", "ac-lyon")
	cw := c.login(t, cwOp)
	patch := func(id string, body any) *response {
		return c.call(t, req{Method: "PATCH", Path: "/v1/subjects/" + id, Token: cw, Purpose: "case-update", Reason: "ticket 44", Body: body})
	}
	r := patch(c.ids[0], map[string]any{"fields": map[string]string{"email_pro": "nouvelle@ac-lyon.fr", "job_title": "CPE"}})
	r.want(t, http.StatusAccepted, "")
	var u struct {
		Applied []string          `json:"applied"`
		Pending map[string]string `json:"pending"`
		Change  string            `json:"change"`
	}
	decodeStrict(t, r.Body, &u)
	if want := c.clock.Now().Add(time.Hour).UTC().Format(time.RFC3339); !slices.Equal(u.Applied, []string{"job_title"}) || u.Pending["email_pro"] != want || !vault.ValidChangeID(u.Change) {
		t.Fatalf("PATCH answer %s, want job_title applied and email_pro pending until %s", r.Body, want)
	}
	if ms := c.messages(t, contact.Kind); len(ms) != 1 || ms[0].Recipient != c.ids[0] || ms[0].Key != contact.Key(u.Change) {
		t.Fatalf("contact change messages %+v", ms)
	}
	if got := c.lastEntry(t, "update").Decision; got != "allow:pending:"+u.Change {
		t.Errorf("update decision %q", got)
	}
	patch(c.ids[0], map[string]any{"fields": map[string]string{"phone": "appelez-moi"}}).want(t, http.StatusBadRequest, "invalid_field")
	patch(c.ids[0], map[string]any{"fields": map[string]string{"job_title": "Proviseur adjoint"}}).want(t, http.StatusNoContent, "")

	// The person sees it, and cancels it; not twice, not someone else's.
	list := c.me(t, "GET", "/v1/me/contact-changes", c.ids[0], nil)
	list.want(t, http.StatusOK, "")
	if !strings.Contains(string(list.Body), u.Change) || strings.Contains(string(list.Body), "nouvelle") || !strings.Contains(string(list.Body), `"effective_at"`) {
		t.Fatalf("the person's pending changes: %s", list.Body)
	}
	c.me(t, "POST", "/v1/me/contact-changes/"+u.Change+"/cancel", c.ids[1], nil).want(t, http.StatusNotFound, "not_found")
	c.me(t, "POST", "/v1/me/contact-changes/"+u.Change+"/cancel", c.ids[0], nil).want(t, http.StatusNoContent, "")
	c.me(t, "POST", "/v1/me/contact-changes/"+u.Change+"/cancel", c.ids[0], nil).want(t, http.StatusConflict, "conflict")
	c.me(t, "POST", "/v1/me/contact-changes/"+u.Change+"/cancel", "", nil).want(t, http.StatusUnauthorized, "unauthenticated")

	// Another change takes effect at its date.
	patch(c.ids[1], map[string]any{"fields": map[string]string{"email_pro": "autre@ac-lyon.fr"}}).want(t, http.StatusAccepted, "")
	c.applyContacts(t, 1)
	cw = c.login(t, cwOp)
	if got := c.lookupID(t, cw, "directory", "email_pro", "autre@ac-lyon.fr"); got != c.ids[1] {
		t.Errorf("the new address leads to %s, want %s", got, c.ids[1])
	}
	c.lookup(t, cw, "directory", "email_pro", "nouvelle@ac-lyon.fr").want(t, http.StatusNotFound, "not_found")
	if e := c.lastEntry(t, "contact.apply"); e.Subject != c.ids[1] || e.Decision != "allow" || e.Actor != "system" {
		t.Errorf("apply entry %+v", e)
	}
}

// TestPersonRoutes: HEAD on the person's GET routes is refused (405) like
// every other guarded GET, and writes nothing.
func TestPersonRoutes(t *testing.T) {
	t.Parallel()
	c := newConsentEnv(t, 1)
	before := len(c.auditEntries(t))
	for _, path := range []string{"/v1/me/consents", "/v1/me/contact-changes"} {
		r := c.me(t, "HEAD", path, c.ids[0], nil)
		if r.Status != http.StatusMethodNotAllowed || !strings.Contains(r.Header.Get("Allow"), "GET") {
			t.Errorf("HEAD %s = %d, Allow %q; want 405 with GET", path, r.Status, r.Header.Get("Allow"))
		}
	}
	if after := len(c.auditEntries(t)); after != before {
		t.Errorf("HEAD wrote %d audit entries", after-before)
	}
}
