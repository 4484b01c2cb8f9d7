package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/me"
	"github.com/coffre/coffre/internal/outbox"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/synth"
)

// personEnv is a server with one person created by an HR officer, and
// their contacts.
type personEnv struct {
	*env
	subject string
	p       synth.Person
	signer  *audit.Signer
	log     *bytes.Buffer
}

func newPersonEnv(t *testing.T) *personEnv {
	t.Helper()
	var buf bytes.Buffer
	e := newEnvOpts(t, envOptions{logger: slog.New(slog.NewTextHandler(&buf, nil))})
	hr := e.addOperator(t, "hr1", "hr-officer", "u1")
	p, _ := person(t, 0, false)
	p.Unit = "u1"
	id := e.create(t, e.login(t, hr), p)
	signer, err := audit.NewSigner(auditlog.Origin, bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return &personEnv{env: e, subject: id, p: p, signer: signer, log: &buf}
}

// codeMessages returns the code messages queued, oldest first.
func (e *personEnv) codeMessages(t *testing.T) []outbox.Message {
	t.Helper()
	var out []outbox.Message
	err := e.store.View(context.Background(), func(ctx context.Context, tx store.Tx) error {
		ms, err := tx.Messages(ctx, 0, 1000)
		for _, m := range ms {
			if m.Kind == me.CodeKind {
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

// askCode asks a code for contact and returns the login token.
func (e *personEnv) askCode(t *testing.T, contact string) string {
	t.Helper()
	r := e.call(t, req{Method: "POST", Path: "/v1/me/login", Body: map[string]string{"contact": contact}})
	r.want(t, http.StatusOK, "")
	var out struct {
		LoginToken string `json:"login_token"`
	}
	decodeStrict(t, r.Body, &out)
	if !strings.HasPrefix(out.LoginToken, me.LoginPrefix) {
		t.Fatalf("login token %q", out.LoginToken)
	}
	return out.LoginToken
}

// readCode opens the newest code message, as the person reads it.
func (e *personEnv) readCode(t *testing.T) string {
	t.Helper()
	ms := e.codeMessages(t)
	if len(ms) == 0 {
		t.Fatal("no code message queued")
	}
	code, _, err := me.OpenCode(e.keys, ms[len(ms)-1])
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// signIn signs the person in with a code sent to contact and returns the
// session token.
func (e *personEnv) signIn(t *testing.T, contact string) string {
	t.Helper()
	lt := e.askCode(t, contact)
	r := e.call(t, req{Method: "POST", Path: "/v1/me/login/code", Body: map[string]string{"login_token": lt, "code": e.readCode(t)}})
	r.want(t, http.StatusOK, "")
	var out struct {
		Token     string `json:"token"`
		ExpiresAt string `json:"expires_at"`
	}
	decodeStrict(t, r.Body, &out)
	if !strings.HasPrefix(out.Token, me.SessionPrefix) {
		t.Fatalf("session token %q", out.Token)
	}
	return out.Token
}

func (e *personEnv) integrate(t *testing.T) {
	t.Helper()
	if _, err := (&auditlog.Integrator{Store: e.store, Signer: e.signer}).Step(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestPersonSeesTheirHistory: a caseworker reads a person; the person
// signs in with a one-time code and sees the read in their history, with
// its proofs, in words, the operator unnamed; the history verifies with
// the log's key.
func TestPersonSeesTheirHistory(t *testing.T) {
	e := newPersonEnv(t)
	cw := e.addOperator(t, "cw1", "caseworker", "u1")
	cwTok := e.login(t, cw)
	r := e.call(t, req{Method: "GET", Path: "/v1/subjects/" + e.subject, Token: cwTok, Purpose: "case-handling", Reason: "ticket 7"})
	r.want(t, http.StatusOK, "")
	var view struct {
		AuditSeq int64 `json:"audit_seq"`
	}
	json.Unmarshal(r.Body, &view)

	tok := e.signIn(t, e.p.Fields["phone"])
	ms := e.codeMessages(t)
	var payload me.CodeMessage
	json.Unmarshal(ms[0].Payload, &payload)
	if ms[0].Channel != outbox.ChannelPerson || ms[0].Recipient != e.subject || payload.Via != me.ViaSMS || payload.Field != "phone" {
		t.Errorf("the code message = %+v (%+v), want to %s by sms", ms[0], payload, e.subject)
	}

	r = e.call(t, req{Method: "GET", Path: "/v1/me", Token: tok, Header: map[string]string{"Accept-Language": "fr-FR,fr;q=0.9"}})
	r.want(t, http.StatusOK, "")
	var who struct {
		Subject      string            `json:"subject"`
		SignedInWith string            `json:"signed_in_with"`
		Lang         string            `json:"lang"`
		Phrase       string            `json:"phrase"`
		Phrases      map[string]string `json:"phrases"`
	}
	decodeStrict(t, r.Body, &who)
	if who.Subject != e.subject || who.Lang != "fr" || who.Phrase != e.me.Phrase(e.subject, "fr") || who.Phrases["en"] != e.me.Phrase(e.subject, "en") || who.SignedInWith != "code" {
		t.Errorf("GET /v1/me = %+v", who)
	}

	e.integrate(t)
	r = e.call(t, req{Method: "GET", Path: "/v1/me/accesses", Token: tok})
	r.want(t, http.StatusOK, "")
	h, err := auditlog.ParseHistory(bytes.NewReader(r.Body))
	if err != nil {
		t.Fatalf("the history does not parse as a history file: %v", err)
	}
	rep, err := auditlog.VerifyHistory(h, e.signer.VerifierKey(), nil)
	if err != nil || rep.Subject != e.subject {
		t.Fatalf("VerifyHistory = %+v, %v", rep, err)
	}
	var read *auditlog.HistoryEntry
	for i, x := range h.Entries {
		if x.Seq == view.AuditSeq {
			read = &h.Entries[i]
		}
	}
	if read == nil || read.Summary == nil {
		t.Fatalf("the caseworker's read (entry %d) is not in the history: %s", view.AuditSeq, r.Body)
	}
	s := read.Summary
	if s.Action != "read" || s.Purpose != "case-handling" || s.By != auditlog.ByStaff || s.Role != "caseworker" || s.Unit != "u1" ||
		s.Operator != "" || len(s.Fields) == 0 || len(read.Proof) == 0 || len(read.IndexProof) == 0 {
		t.Errorf("the read's entry = %+v, summary %+v", read, s)
	}
	if strings.Contains(string(r.Body), cw.Operator.ID) {
		t.Error("the history names the operator")
	}
	// The reason is sealed in the leaf under the person's key, and
	// opened for them in the summary (issue 16).
	if bytes.Contains(read.Leaf, []byte("ticket 7")) || s.Reason != "ticket 7" || s.ReasonErased {
		t.Errorf("the read's reason: leaf %q, summary %q (erased %v); want it sealed in the leaf and opened in the summary", read.Leaf, s.Reason, s.ReasonErased)
	}
	// The person's own steps are in it too.
	var steps []string
	for _, x := range h.Entries {
		if x.Summary != nil && x.Summary.By != auditlog.ByStaff {
			steps = append(steps, x.Summary.Action)
		}
	}
	if strings.Join(steps, ",") != "me.signin,me.code" {
		t.Errorf("the person's own entries = %v, want me.signin, me.code (the history read itself comes after the checkpoint)", steps)
	}

	r = e.call(t, req{Method: "POST", Path: "/v1/me/logout", Token: tok})
	r.want(t, http.StatusNoContent, "")
	e.call(t, req{Method: "GET", Path: "/v1/me", Token: tok}).want(t, http.StatusUnauthorized, "unauthenticated")

	// Nothing personal in the server's log: not the contact, not the code.
	code := e.readCode(t)
	for _, secret := range []string{e.p.Fields["phone"], e.p.Fields["email_pro"], code} {
		if strings.Contains(e.log.String(), secret) {
			t.Errorf("the server log holds %q", secret)
		}
	}
}

// TestPersonRefusals: each bad input gets its status and code in the
// error shape, and no answer tells whether a contact is on a record.
func TestPersonRefusals(t *testing.T) {
	e := newPersonEnv(t)
	email := e.p.Fields["email_pro"]

	// The same answer for a contact on a record and one on none.
	known := e.call(t, req{Method: "POST", Path: "/v1/me/login", Body: map[string]string{"contact": email}})
	unknown := e.call(t, req{Method: "POST", Path: "/v1/me/login", Body: map[string]string{"contact": "nobody@example.org"}})
	if known.Status != unknown.Status || len(known.Body) != len(unknown.Body) || known.Header.Get("Content-Type") != unknown.Header.Get("Content-Type") {
		t.Errorf("known contact: %d %s; unknown: %d %s; want the same answer", known.Status, known.Body, unknown.Status, unknown.Body)
	}
	lt := e.askCode(t, email)
	code := e.readCode(t)
	wrong := "000000"
	if code == wrong {
		wrong = "000001"
	}
	for _, tc := range []struct {
		name   string
		path   string
		body   any
		status int
		code   string
	}{
		{"malformed contact", "/v1/me/login", map[string]string{"contact": "not a contact"}, 400, "invalid_contact"},
		{"empty contact", "/v1/me/login", map[string]string{"contact": ""}, 400, "invalid_contact"},
		{"unknown JSON field", "/v1/me/login", map[string]string{"contact": email, "role": "admin"}, 400, "invalid_request"},
		{"not JSON", "/v1/me/login", "contact=" + email, 400, "invalid_request"},
		{"no code", "/v1/me/login/code", map[string]string{"login_token": lt}, 400, "invalid_request"},
		{"letters for a code", "/v1/me/login/code", map[string]string{"login_token": lt, "code": "abcdef"}, 400, "invalid_request"},
		{"unknown login token", "/v1/me/login/code", map[string]string{"login_token": me.LoginPrefix + strings.Repeat("x", 43), "code": code}, 401, "invalid_login_token"},
		{"an operator's login token", "/v1/me/login/code", map[string]string{"login_token": "cfl_" + strings.Repeat("x", 43), "code": code}, 401, "invalid_login_token"},
		{"wrong code", "/v1/me/login/code", map[string]string{"login_token": lt, "code": wrong}, 401, "invalid_code"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.call(t, req{Method: "POST", Path: tc.path, Body: tc.body})
			r.want(t, tc.status, tc.code)
			for _, secret := range []string{email, code, lt} {
				if strings.Contains(string(r.Body), secret) {
					t.Errorf("the answer quotes %q: %s", secret, r.Body)
				}
			}
		})
	}
	// Four more wrong codes: the last locks the contact (423, Retry-After).
	for i := range 4 {
		r := e.call(t, req{Method: "POST", Path: "/v1/me/login/code", Body: map[string]string{"login_token": lt, "code": wrong}})
		if i < 3 {
			r.want(t, http.StatusUnauthorized, "invalid_code")
			if want := []string{"3 attempts left", "2 attempts left", "1 attempts left"}[i]; !strings.Contains(r.Err.Message, want) {
				t.Errorf("wrong code %d: %q, want %q", i+2, r.Err.Message, want)
			}
		} else {
			r.want(t, http.StatusLocked, "contact_locked")
			if r.Header.Get("Retry-After") != "900" {
				t.Errorf("Retry-After %q, want 900", r.Header.Get("Retry-After"))
			}
		}
	}
	e.call(t, req{Method: "POST", Path: "/v1/me/login/code", Body: map[string]string{"login_token": lt, "code": code}}).want(t, http.StatusLocked, "contact_locked")
	e.call(t, req{Method: "POST", Path: "/v1/me/login", Body: map[string]string{"contact": email}}).want(t, http.StatusLocked, "contact_locked")

	// Expired: a fresh code, 11 minutes late.
	e.clock.Advance(16 * time.Minute)
	lt = e.askCode(t, e.p.Fields["phone"])
	code = e.readCode(t)
	e.clock.Advance(11 * time.Minute)
	e.call(t, req{Method: "POST", Path: "/v1/me/login/code", Body: map[string]string{"login_token": lt, "code": code}}).want(t, http.StatusUnauthorized, "code_expired")

	// Too many codes for one contact: 429 with Retry-After.
	var r *response
	for range 6 {
		r = e.call(t, req{Method: "POST", Path: "/v1/me/login", Body: map[string]string{"contact": e.p.Fields["email_personal"]}})
	}
	r.want(t, http.StatusTooManyRequests, "too_many_codes")
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}

	// No session, a bad one, another kind: 401.
	for _, tok := range []string{"", "cfm_nothing", me.SessionPrefix + strings.Repeat("A", 43), "cfp_" + strings.Repeat("a", 32)} {
		e.call(t, req{Method: "GET", Path: "/v1/me/accesses", Token: tok}).want(t, http.StatusUnauthorized, "unauthenticated")
	}
	// OpenID Connect is not configured here.
	e.call(t, req{Method: "GET", Path: "/v1/me/oidc/start"}).want(t, http.StatusNotFound, "signin_off")
	e.call(t, req{Method: "GET", Path: "/v1/me/oidc/callback?state=x&code=y"}).want(t, http.StatusNotFound, "signin_off")
}

// TestSessionKinds: a person's session reaches only the person's routes,
// an operator's session none of them.
func TestSessionKinds(t *testing.T) {
	e := newPersonEnv(t)
	tok := e.signIn(t, e.p.Fields["email_pro"])
	for _, r := range []req{
		{Method: "GET", Path: "/v1/subjects/" + e.subject, Purpose: "case-handling"},
		{Method: "POST", Path: "/v1/subjects/lookup", Purpose: "directory", Body: map[string]string{"field": "email_pro", "value": e.p.Fields["email_pro"]}},
		{Method: "GET", Path: "/v1/audit/entries?from=1&to=10"},
		{Method: "GET", Path: "/v1/account/sessions"},
		{Method: "POST", Path: "/v1/auth/logout"},
	} {
		r.Token = tok
		res := e.call(t, r)
		res.want(t, http.StatusForbidden, "forbidden")
		if !strings.Contains(res.Err.Message, "/v1/me/") {
			t.Errorf("%s %s with a person's session: %q, want it to say where such a session goes", r.Method, r.Path, res.Err.Message)
		}
	}
	admin := e.addOperator(t, "sec1", "security-officer", "u1")
	opTok := e.login(t, admin)
	before := len(e.auditEntries(t))
	for _, path := range []string{"/v1/me", "/v1/me/accesses"} {
		res := e.call(t, req{Method: "GET", Path: path, Token: opTok})
		res.want(t, http.StatusForbidden, "forbidden")
		if !strings.Contains(res.Err.Hint, "/v1/account/") {
			t.Errorf("GET %s with an operator's session: hint %q", path, res.Err.Hint)
		}
	}
	after := e.auditEntries(t)
	if len(after) != before+2 || after[len(after)-1].Actor != admin.Operator.ID || !strings.HasPrefix(after[len(after)-1].Decision, "deny:") {
		t.Errorf("an operator's session on a person's route: entries %+v, want each refusal audited as the operator's", after[before:])
	}
	// HEAD: no access, no entry.
	before = len(e.auditEntries(t))
	for _, path := range []string{"/v1/me", "/v1/me/accesses", "/v1/me/oidc/start", "/v1/me/oidc/callback"} {
		if r := e.call(t, req{Method: "HEAD", Path: path, Token: tok}); r.Status != http.StatusMethodNotAllowed || !strings.Contains(r.Header.Get("Allow"), "GET") {
			t.Errorf("HEAD %s = %d, Allow %q; want 405 with GET", path, r.Status, r.Header.Get("Allow"))
		}
	}
	if n := len(e.auditEntries(t)) - before; n != 0 {
		t.Errorf("HEAD wrote %d entries", n)
	}
}

// TestPersonOIDC: a browser (a client with a cookie jar that follows
// redirects) starts the sign-in, signs in at the in-process provider, and
// lands on the callback with its session; the state cookie serves once.
func TestPersonOIDC(t *testing.T) {
	e := newPersonEnv(t)
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown() })
	e.me.OIDC = &me.OIDC{Issuer: m.Issuer(), ClientID: m.ClientID, ClientSecret: m.ClientSecret, RedirectURL: e.srv.URL + "/v1/me/oidc/callback",
		Scopes: []string{"email"}, Claim: "email", Field: "email_personal"}
	m.QueueUser(&mockoidc.MockUser{Subject: "s1", Email: e.p.Fields["email_personal"], EmailVerified: true})
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	res, err := browser.Get(e.srv.URL + "/v1/me/oidc/start")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Request.URL.Path != "/v1/me/oidc/callback" {
		t.Fatalf("the sign-in ended at %s with %d %s", res.Request.URL, res.StatusCode, body)
	}
	var ses struct {
		Token     string `json:"token"`
		ExpiresAt string `json:"expires_at"`
	}
	decodeStrict(t, body, &ses)
	r := e.call(t, req{Method: "GET", Path: "/v1/me", Token: ses.Token, Header: map[string]string{"User-Agent": "Go-http-client/1.1"}})
	r.want(t, http.StatusOK, "")
	if !strings.Contains(string(r.Body), `"subject":"`+e.subject+`"`) || !strings.Contains(string(r.Body), `"signed_in_with":"oidc"`) {
		t.Errorf("GET /v1/me = %s", r.Body)
	}
	// The same callback again: the cookie is gone, the state with it.
	res, err = browser.Get(res.Request.URL.String())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("the callback replayed = %d, want 400", res.StatusCode)
	}
	// The start's answer: a redirect with a state cookie bound to the
	// callback's path, HttpOnly, Lax.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err = noFollow.Get(e.srv.URL + "/v1/me/oidc/start")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	c := res.Header.Get("Set-Cookie")
	if res.StatusCode != http.StatusFound || !strings.HasPrefix(res.Header.Get("Location"), m.AuthorizationEndpoint()) ||
		!strings.Contains(c, "Path=/v1/me/oidc") || !strings.Contains(c, "HttpOnly") || !strings.Contains(c, "SameSite=Lax") {
		t.Errorf("GET /v1/me/oidc/start = %d, Location %q, Set-Cookie %q", res.StatusCode, res.Header.Get("Location"), c)
	}
}
