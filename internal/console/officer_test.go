package console_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/console"
	"github.com/coffre/coffre/internal/contain"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/synth"
)

// officerEnv is env with the officers' parts wired as cmd/coffre wires
// them (the audit log's state, the impact's verifier key, containment),
// a supervisor of the caseworker's unit and another caseworker.
type officerEnv struct {
	*env
	auth       *auth.Service
	signer     *audit.Signer
	supervisor *auth.NewOperator // sue
	other      *auth.NewOperator // noah, caseworker
}

func newOfficerEnv(t *testing.T) *officerEnv {
	t.Helper()
	e := newEnv(t)
	ctx := context.Background()
	cfg, as := e.cfg, e.authService(nil)
	seed := make([]byte, 32)
	rand.Read(seed)
	signer, err := audit.NewSigner("coffre-test", seed)
	if err != nil {
		t.Fatal(err)
	}
	o := &officerEnv{env: e, auth: as, signer: signer}
	if o.supervisor, err = as.AddReadyOperator(ctx, "sue", "", "supervisor", e.people[0].Unit); err != nil {
		t.Fatal(err)
	}
	if o.other, err = as.AddReadyOperator(ctx, "noah", "", "caseworker", e.people[0].Unit); err != nil {
		t.Fatal(err)
	}
	con, err := console.New(console.Config{Auth: as, Vault: e.vault, Policy: cfg.Policy, Insecure: true,
		Officer: console.Officer{Log: e.store, AuditKey: signer.VerifierKey(), Contain: (&contain.Containment{Vault: e.vault, Auth: as}).Do}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(console.Prefix, con.Handler())
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return o
}

// integrate signs a checkpoint of the audit log as it stands.
func (o *officerEnv) integrate(t *testing.T) {
	t.Helper()
	if _, err := (&auditlog.Integrator{Store: o.store, Signer: o.signer}).Step(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// code is op's TOTP code now.
func (o *officerEnv) code(t *testing.T, op *auth.NewOperator) string {
	t.Helper()
	c, err := totp.GenerateCode(op.TOTPSecret, o.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// locked reports whether operator id is locked.
func (o *officerEnv) locked(t *testing.T, id string) bool {
	t.Helper()
	var l string
	if err := o.store.View(context.Background(), func(ctx context.Context, tx store.Tx) error {
		op, err := tx.GetOperator(ctx, id)
		if err == nil {
			l = op.Locked
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return l != ""
}

// TestOfficerRefusals: the officers' pages and forms refuse a caseworker
// with a plain 403 page (nothing done), anyone signed out with the
// sign-in page; a form without its session's CSRF token does nothing; a
// malformed or unknown id is said plainly.
func TestOfficerRefusals(t *testing.T) {
	o := newOfficerEnv(t)
	cw, cw2, so := o.browser(t), o.browser(t), o.browser(t)
	cw.signIn()
	cw2.signInAs(o.other)
	so.signInAs(o.officer)
	// Three refusals each: below the caseworkers' hard margin.
	for _, path := range []string{"sessions", "canaries", "incidents"} {
		if resp := cw.get(console.Prefix + path); resp.StatusCode != http.StatusForbidden || !strings.Contains(cw.raw, "Votre rôle ne donne pas accès") {
			t.Errorf("a caseworker's GET %s: %s, want a plain 403 page:\n%s", path, resp.Status, cw.raw)
		}
	}
	cw2.get(console.Prefix)
	tok := cw2.csrf()
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{"lock", url.Values{"operator": {o.op.Operator.ID}, "reason": {"not mine to lock"}}},
		{"sessions/revoke-all", url.Values{"reason": {"x"}, "confirmed": {"yes"}}},
		{"extensions/approve", url.Values{"id": {"ext_x"}, "code": {"123456"}}},
	} {
		tc.form.Set("csrf", tok)
		if resp := cw2.post(console.Prefix+tc.path, tc.form); resp.StatusCode != http.StatusForbidden || !strings.Contains(cw2.raw, "Votre rôle") {
			t.Errorf("a caseworker's POST %s: %s, want 403:\n%s", tc.path, resp.Status, cw2.raw)
		}
	}
	if o.locked(t, o.op.Operator.ID) {
		t.Fatal("a caseworker's lock form locked someone")
	}
	if cw.get(console.Prefix); !strings.Contains(cw.raw, `action="/console/find"`) {
		t.Error("the refused caseworker's own page no longer opens")
	}
	// Signed out: the sign-in page's refusal.
	out := o.browser(t)
	for _, path := range []string{"sessions", "incidents", "extensions", "audit", "incidents/inc_aaaaaaaaaaaaaaaa"} {
		if resp := out.get(console.Prefix + path); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(out.raw, "Connectez-vous") {
			t.Errorf("GET %s signed out: %s, want 401", path, resp.Status)
		}
	}
	// CSRF: none, another session's, a forged one: 403, nothing locked.
	so.get(console.Prefix)
	for _, bad := range []string{"", tok, "x" + so.csrf()} {
		if resp := so.post(console.Prefix+"lock", url.Values{"csrf": {bad}, "operator": {o.op.Operator.ID}, "reason": {"r"}}); resp.StatusCode != http.StatusForbidden || !strings.Contains(so.raw, "plus valable") {
			t.Errorf("lock with token %q: %s, want the CSRF refusal", bad, resp.Status)
		}
	}
	if o.locked(t, o.op.Operator.ID) {
		t.Fatal("a lock without its CSRF token locked the account")
	}
	// Bad ids and values: said plainly, escaped, nothing done.
	so.get(console.Prefix)
	tok = so.csrf()
	for _, tc := range []struct {
		name, path string
		form       url.Values
		status     int
		want       string
	}{
		{"malformed operator", "lock", url.Values{"operator": {"<b>op</b>"}, "reason": {"r"}}, http.StatusBadRequest, "malformed operator id"},
		{"unknown operator", "lock", url.Values{"operator": {"op_nobody"}, "reason": {"r"}}, http.StatusNotFound, ""},
		{"unlock unknown operator", "unlock", url.Values{"operator": {"op_nobody"}, "reason": {"r"}}, http.StatusNotFound, "ne correspond à rien"},
		{"unlock malformed operator", "unlock", url.Values{"operator": {"op_A B"}, "reason": {"r"}}, http.StatusBadRequest, "malformed operator id"},
		{"lock without reason", "lock", url.Values{"operator": {o.op.Operator.ID}}, http.StatusBadRequest, "Le formulaire est incomplet"},
		{"control characters", "sessions/revoke", url.Values{"operator": {o.op.Operator.ID}, "reason": {"a\x07b"}}, http.StatusBadRequest, "control characters"},
		{"unknown act", "incidents/inc_aaaaaaaaaaaaaaaa/contain", url.Values{"act": {"seal"}}, http.StatusBadRequest, "unknown act"},
		{"unknown incident", "incidents/inc_aaaaaaaaaaaaaaaa/contain", url.Values{"act": {"lock"}}, http.StatusNotFound, "no such incident"},
		{"malformed incident", "incidents/nope/impact", url.Values{}, http.StatusBadRequest, "malformed incident id"},
		{"title with markup", "incidents", url.Values{"title": {"<script>alert(1)</script>"}, "aware": {"2026-03-02T08:00"}, "from": {"2026-03-03T08:00"}, "operators": {o.op.Operator.ID}, "nature": {"confidentiality"}}, http.StatusBadRequest, "window"},
	} {
		tc.form.Set("csrf", tok)
		resp := so.post(console.Prefix+tc.path, tc.form)
		if resp.StatusCode != tc.status || !strings.Contains(so.raw, tc.want) || strings.Contains(so.raw, "<script>alert") {
			t.Errorf("%s: %s, want %d saying %q:\n%s", tc.name, resp.Status, tc.status, tc.want, so.raw)
		}
	}
	for _, tc := range []struct {
		path   string
		status int
	}{{"incidents/nope", http.StatusBadRequest}, {"incidents/inc_aaaaaaaaaaaaaaaa", http.StatusNotFound}} {
		if resp := so.get(console.Prefix + tc.path); resp.StatusCode != tc.status {
			t.Errorf("GET %s: %s, want %d", tc.path, resp.Status, tc.status)
		}
	}
	if o.locked(t, o.op.Operator.ID) {
		t.Fatal("a refused form locked the account")
	}
}

// TestExtensionInConsole: a caseworker asks for an extension under the
// find form; the supervisor of the unit sees it (the reason as text),
// is refused with a wrong code, approves with a fresh one; the request
// is no longer waiting, and the caseworker's budgets show the extension.
func TestExtensionInConsole(t *testing.T) {
	o := newOfficerEnv(t)
	cw, sup := o.browser(t), o.browser(t)
	cw.signIn()
	const why = `relance <script>alert(1)</script> dossier 12`
	for _, bad := range []url.Values{
		{"subjects": {"many"}, "hours": {"4"}, "reason": {why}},
		{"subjects": {"20"}, "hours": {"99"}, "reason": {why}},
		{"subjects": {"20"}, "hours": {"4"}},
	} {
		cw.get(console.Prefix)
		bad.Set("csrf", cw.csrf())
		if resp := cw.post(console.Prefix+"extension", bad); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("extension request %v: %s, want 400:\n%s", bad, resp.Status, cw.raw)
		}
	}
	cw.get(console.Prefix)
	if resp := cw.post(console.Prefix+"extension", url.Values{"csrf": {cw.csrf()}, "subjects": {"20"}, "hours": {"4"}, "reason": {why}}); resp.StatusCode != http.StatusOK {
		t.Fatalf("extension request: %s\n%s", resp.Status, cw.raw)
	}
	m := regexp.MustCompile(`demande (ext_[a-z0-9]+) envoyée`).FindStringSubmatch(cw.raw)
	if m == nil {
		t.Fatalf("the find page does not say the request was sent:\n%s", cw.raw)
	}
	id := m[1]

	sup.signInAs(o.supervisor)
	if !strings.Contains(sup.raw, `href="/console/extensions"`) {
		t.Errorf("the supervisor's page has no link to the extension requests:\n%s", sup.raw)
	}
	sup.get(console.Prefix + "extensions")
	if !strings.Contains(sup.raw, id) || !strings.Contains(sup.raw, o.op.Operator.ID) || strings.Contains(sup.raw, "<script>alert") || !strings.Contains(sup.raw, "&lt;script&gt;") {
		t.Fatalf("the supervisor's page lacks the request, or shows its reason as markup:\n%s", sup.raw)
	}
	if resp := sup.post(console.Prefix+"extensions/approve", url.Values{"csrf": {sup.csrf()}, "id": {id}, "code": {"000000"}}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("approval with a wrong code: %s, want 401", resp.Status)
	}
	sup.get(console.Prefix + "extensions")
	if resp := sup.post(console.Prefix+"extensions/approve", url.Values{"csrf": {sup.csrf()}, "id": {id}, "code": {o.code(t, o.supervisor)}}); resp.StatusCode != http.StatusOK || !strings.Contains(sup.raw, "est accordée") {
		t.Fatalf("approval: %s\n%s", resp.Status, sup.raw)
	}
	if strings.Contains(sup.raw, `name="id" value="`+id) {
		t.Error("the approved request is still waiting")
	}
	// Replayed: the code is used, then the request approved already.
	o.clock.Add(30 * time.Second)
	if resp := sup.post(console.Prefix+"extensions/approve", url.Values{"csrf": {sup.csrf()}, "id": {id}, "code": {o.code(t, o.supervisor)}}); resp.StatusCode != http.StatusConflict {
		t.Errorf("a second approval: %s, want 409:\n%s", resp.Status, sup.raw)
	}
	if cw.get(console.Prefix); !regexp.MustCompile(`extension accordée : personnes encore permises : 20, jusqu&#39;à 2026-03-02 1\d:\d\d UTC`).MatchString(cw.raw) {
		t.Errorf("the caseworker's budgets do not show the extension:\n%s", cw.raw)
	}
}

// TestOfficerLocksAndRevokes: the officer locks a caseworker by hand (the
// caseworker's session ends; the page lists the lock), revokes another's
// sessions, and revokes everyone's only once confirmed: the first answer
// is a page that says what will happen, and nothing happened yet.
func TestOfficerLocksAndRevokes(t *testing.T) {
	o := newOfficerEnv(t)
	cw, cw2, so := o.browser(t), o.browser(t), o.browser(t)
	cw.signIn()
	cw2.signInAs(o.other)
	so.signInAs(o.officer)
	id := o.op.Operator.ID
	if resp := so.post(console.Prefix+"lock", url.Values{"csrf": {so.csrf()}, "operator": {id}, "reason": {"shared password, reported by her"}}); resp.StatusCode != http.StatusOK {
		t.Fatalf("lock: %s\n%s", resp.Status, so.raw)
	}
	locked := regexp.MustCompile(`(?s)<table id="locked">.*</table>`).FindString(so.raw)
	if !strings.Contains(so.raw, "est verrouillé") || !strings.Contains(locked, id) || !strings.Contains(locked, "manual") {
		t.Errorf("the lock is not on the officer's page:\n%s", so.raw)
	}
	if resp := cw.get(console.Prefix); !strings.Contains(cw.raw, `action="/console/signin"`) {
		t.Errorf("the locked caseworker's session goes on: %s", resp.Status)
	}
	// Submitted twice: the second says the account is locked already.
	if resp := so.post(console.Prefix+"lock", url.Values{"csrf": {so.csrf()}, "operator": {id}, "reason": {"again"}}); resp.StatusCode != http.StatusConflict {
		t.Errorf("a second lock: %s, want 409:\n%s", resp.Status, so.raw)
	}
	// Unlocked, the list no longer names her.
	so.get(console.Prefix)
	so.post(console.Prefix+"unlock", url.Values{"csrf": {so.csrf()}, "operator": {id}, "reason": {"reviewed"}})
	if so.get(console.Prefix); strings.Contains(regexp.MustCompile(`(?s)<table id="locked">.*</table>`).FindString(so.raw), id) {
		t.Errorf("an unlocked account is listed as locked:\n%s", so.raw)
	}

	so.get(console.Prefix + "sessions")
	if resp := so.post(console.Prefix+"sessions/revoke", url.Values{"csrf": {so.csrf()}, "operator": {o.other.Operator.ID}, "reason": {"laptop lost"}}); resp.StatusCode != http.StatusOK || !strings.Contains(so.raw, "1 session(s) de "+o.other.Operator.ID) {
		t.Fatalf("revoke: %s\n%s", resp.Status, so.raw)
	}
	if cw2.get(console.Prefix); !strings.Contains(cw2.raw, `action="/console/signin"`) {
		t.Error("the revoked session goes on")
	}
	cw2.signInAs(o.other)
	so.get(console.Prefix + "sessions")
	if resp := so.post(console.Prefix+"sessions/revoke-all", url.Values{"csrf": {so.csrf()}, "reason": {"breach <b>drill</b>"}}); resp.StatusCode != http.StatusOK ||
		!strings.Contains(so.raw, "sauf les vôtres") || !strings.Contains(so.raw, `name="confirmed" value="yes"`) || strings.Contains(so.raw, "<b>drill") {
		t.Fatalf("revoke-all, first step: %s, want the confirmation page:\n%s", resp.Status, so.raw)
	}
	if cw2.get(console.Prefix); !strings.Contains(cw2.raw, `action="/console/find"`) {
		t.Fatal("the confirmation step ended a session")
	}
	if resp := so.post(console.Prefix+"sessions/revoke-all", url.Values{"csrf": {so.csrf()}, "reason": {"breach drill"}, "confirmed": {"yes"}}); resp.StatusCode != http.StatusOK || !strings.Contains(so.raw, "la vôtre reste ouverte") {
		t.Fatalf("revoke-all confirmed: %s\n%s", resp.Status, so.raw)
	}
	if cw2.get(console.Prefix); !strings.Contains(cw2.raw, `action="/console/signin"`) {
		t.Error("a session survives the revoke-all")
	}
	if so.get(console.Prefix + "sessions"); !strings.Contains(so.raw, "Sessions des opérateurs") {
		t.Error("the officer's own session ended")
	}
	// Other roles' pages: refused to the officer.
	for _, path := range []string{"extensions"} {
		if resp := so.get(console.Prefix + path); resp.StatusCode != http.StatusForbidden {
			t.Errorf("the officer's GET %s: %s, want 403", path, resp.Status)
		}
	}
	// The session ends mid-form: the next form asks to sign in again and
	// does nothing.
	so.get(console.Prefix + "sessions")
	tok := so.csrf()
	o.clock.Add(2 * time.Hour)
	if resp := so.post(console.Prefix+"lock", url.Values{"csrf": {tok}, "operator": {o.other.Operator.ID}, "reason": {"late"}}); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(so.raw, "Connectez-vous") {
		t.Errorf("a lock on an expired session: %s\n%s", resp.Status, so.raw)
	}
	if o.locked(t, o.other.Operator.ID) {
		t.Error("a lock on an expired session locked the account")
	}
}

// TestIncidentInConsole: the officer opens an incident, sees its four
// clocks with the time left in words, computes its impact (counts only,
// no person's value or id on the page) and records a containment act,
// which locks the scope's operator and goes on the timeline. The canary
// and audit pages answer.
func TestIncidentInConsole(t *testing.T) {
	o := newOfficerEnv(t)
	cw, so := o.browser(t), o.browser(t)
	cw.signIn()
	p := o.people[0]
	if resp := cw.find(cw.csrf(), p.Fields[synth.EmailPro]); resp.StatusCode != http.StatusOK {
		t.Fatalf("find: %s", resp.Status)
	}
	so.signInAs(o.officer)
	so.get(console.Prefix + "incidents")
	if !strings.Contains(so.raw, "Aucun incident") {
		t.Errorf("the register is not empty:\n%s", so.raw)
	}
	resp := so.post(console.Prefix+"incidents", url.Values{"csrf": {so.csrf()}, "title": {"Scrape from a caseworker's account"}, "nature": {"confidentiality"},
		"aware": {"2026-03-02T09:00"}, "from": {"2026-03-02T08:00"}, "operators": {o.op.Operator.ID}, "detection": {"guard alert"}})
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !regexp.MustCompile(`^/console/incidents/inc_[a-z2-7]{16}$`).MatchString(loc) {
		t.Fatalf("open: %s to %q\n%s", resp.Status, loc, so.raw)
	}
	so.get(loc)
	for _, want := range []string{"GDPR art. 33(1)", "NIS2 art. 23(4)(a)", "reste 23 heures", "reste 2 jours 23 heures", "NIS2 : rapport final", "Pas encore calculé", o.op.Operator.ID} {
		if !strings.Contains(so.raw, want) {
			t.Errorf("the incident page lacks %q:\n%s", want, so.raw)
		}
	}
	o.integrate(t)
	if resp := so.post(loc+"/impact", url.Values{"csrf": {so.csrf()}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("impact: %s\n%s", resp.Status, so.raw)
	}
	so.get(loc + "?done=impact")
	im := regexp.MustCompile(`(?s)<table class="record" id="impact">.*?</table>`).FindString(so.raw)
	if !regexp.MustCompile(`Personnes exposées</th><td>1</td>`).MatchString(im) || !strings.Contains(so.raw, "impact calculé") {
		t.Errorf("the impact counts are not shown (one person read):\n%s", so.raw)
	}
	for _, v := range p.Fields {
		if len(v) > 3 && strings.Contains(so.raw, v) {
			t.Errorf("the incident page shows a person's value %q", v)
		}
	}
	if strings.Contains(so.raw, "sub_") {
		t.Error("the incident page shows a person's id")
	}
	if resp := so.post(loc+"/contain", url.Values{"csrf": {so.csrf()}, "act": {"lock"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("contain: %s\n%s", resp.Status, so.raw)
	}
	so.get(loc + "?done=lock")
	tl := regexp.MustCompile(`(?s)<table id="timeline">.*?</table>`).FindString(so.raw)
	if !strings.Contains(tl, "<td>lock</td>") || !strings.Contains(tl, o.op.Operator.ID) || !strings.Contains(so.raw, "contained") {
		t.Errorf("the containment is not on the timeline:\n%s", so.raw)
	}
	if !o.locked(t, o.op.Operator.ID) {
		t.Error("the scope's operator is not locked")
	}
	// Everyone's sessions from the incident: the confirmation page first,
	// nothing done; then done, on the timeline.
	cw2 := o.browser(t)
	cw2.signInAs(o.other) // camille is locked
	if resp := so.post(loc+"/contain", url.Values{"csrf": {so.csrf()}, "act": {"revoke"}, "everyone": {"on"}}); resp.StatusCode != http.StatusOK || !strings.Contains(so.raw, `action="`+loc+`/contain"`) || !strings.Contains(so.raw, "sauf les vôtres") {
		t.Fatalf("contain everyone, first step: %s, want the confirmation page:\n%s", resp.Status, so.raw)
	}
	if cw2.get(console.Prefix); !strings.Contains(cw2.raw, `action="/console/find"`) {
		t.Fatal("the confirmation step ended a session")
	}
	if resp := so.post(loc+"/contain", url.Values{"csrf": {so.csrf()}, "act": {"revoke"}, "everyone": {"on"}, "confirmed": {"yes"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("contain everyone confirmed: %s\n%s", resp.Status, so.raw)
	}
	if cw2.get(console.Prefix); !strings.Contains(cw2.raw, `action="/console/signin"`) {
		t.Error("a session survives the incident's revoke of everyone's")
	}
	if so.get(loc); !strings.Contains(so.raw, "every session ended but the officer") {
		t.Errorf("the revoke of everyone's is not on the timeline:\n%s", so.raw)
	}
	if so.get(console.Prefix + "incidents"); !strings.Contains(so.raw, loc) {
		t.Errorf("the register does not list the incident:\n%s", so.raw)
	}
	if resp := so.get(console.Prefix + "canaries"); resp.StatusCode != http.StatusOK || !strings.Contains(so.raw, "Aucun canari") {
		t.Errorf("canaries: %s\n%s", resp.Status, so.raw)
	}
	if resp := so.get(console.Prefix + "audit"); resp.StatusCode != http.StatusOK || !regexp.MustCompile(`id="cp-size">[1-9]\d*<`).MatchString(so.raw) || !strings.Contains(so.raw, "coffre-test") {
		t.Errorf("audit: %s\n%s", resp.Status, so.raw)
	}
}
