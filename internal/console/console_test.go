package console_test

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/pquerna/otp/totp"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/console"
	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/me"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetemplate"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetest"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a console over a real vault and auth service on SQLite, with a
// caseworker and two people of their unit (the second with
// <script>alert(1)</script> as a job title).
type env struct {
	cfg     *config.Config
	srv     *httptest.Server
	store   *sqlite.Store
	keys    *envelope.Keyring
	vault   *vault.Vault
	hr      *auth.NewOperator // hugo, HR officer
	clock   *clock
	op      *auth.NewOperator // camille, caseworker
	officer *auth.NewOperator // sam, security officer
	people  []synth.Person
}

// baseEnv is what every console test stands on: the demo's
// configuration, a fresh keyring, a SQLite store, a clock and a vault with
// the demo's guard and no notices; rights, if set, is the vault's.
func baseEnv(t *testing.T, rights *vault.Rights) *env {
	t.Helper()
	cfg, err := config.Demo(nil)
	if err != nil {
		t.Fatal(err)
	}
	seed := make([]byte, envelope.SeedSize)
	rand.Read(seed)
	keys, err := envelope.NewKeyring(map[uint32][]byte{1: seed}, 1)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlitetemplate.Open(context.Background(), filepath.Join(t.TempDir(), "c.db"), sqlite.Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := &clock{t: time.Date(2026, 3, 2, 9, 0, 5, 0, time.UTC)}
	v := vault.New(vault.Config{Store: st, Keys: keys, Policy: cfg.Policy, Now: clk.Now, Notices: &vault.Notices{Off: true},
		Guard:  &vault.Guard{Limits: cfg.Guard.Roles, Location: cfg.Guard.Location, Trusted: func(string) bool { return true }},
		Rights: rights})
	return &env{cfg: cfg, clock: clk, store: st, keys: keys, vault: v}
}

// authService returns an auth service over e's store and clock (cheap password
// hashing), with wa as its WebAuthn relying party (nil: none).
func (e *env) authService(wa *webauthn.WebAuthn) *auth.Service {
	pol := e.cfg.Policy
	return &auth.Service{Store: e.store, Keys: e.keys, Params: auth.Params{Time: 1, Memory: 64, Threads: 1}, Now: e.clock.Now,
		Idle: 15 * time.Minute, Max: time.Hour, LoginTTL: 2 * time.Minute, MaxAttempts: 5, WebAuthn: wa,
		RoleFactors: func(role string) []string { return pol.Roles[role].MFA }, StepGroup: pol.StepGroup}
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	e := baseEnv(t, nil)
	v, as := e.vault, e.authService(nil)
	var err error
	p0 := synth.Make(4, 0)
	if e.op, err = as.AddReadyOperator(ctx, "camille", "", "caseworker", p0.Unit); err != nil {
		t.Fatal(err)
	}
	if e.officer, err = as.AddReadyOperator(ctx, "sam", "", "security-officer", "security"); err != nil {
		t.Fatal(err)
	}
	if e.hr, err = as.AddReadyOperator(ctx, "hugo", "", "hr-officer", p0.Unit); err != nil {
		t.Fatal(err)
	}
	hr := vaultActor("op_hr", "hr-officer", p0.Unit)
	for i := range 2 {
		p := synth.Make(4, i)
		p.Unit = p0.Unit
		if i == 1 {
			p.Fields[synth.JobTitle] = "<script>alert(1)</script>"
		}
		if _, err := v.Create(ctx, hr, p.Unit, p.Fields); err != nil {
			t.Fatalf("Create: %v", err)
		}
		e.people = append(e.people, p)
	}
	people := &me.Service{Store: e.store, Keys: e.keys, Policy: e.cfg.Policy, Now: e.clock.Now}
	con, err := console.New(console.Config{Auth: as, Vault: v, Policy: e.cfg.Policy, People: people, Persons: v, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(console.Prefix, con.Handler())
	mux.Handle(console.PortalPrefix, con.PortalHandler())
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

// browser is a client with a cookie jar that does not follow redirects.
type browser struct {
	t   *testing.T
	e   *env
	c   *http.Client
	raw string // the last page
}

func (e *env) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, e: e, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(req *http.Request) *http.Response {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	b.raw = string(body)
	return resp
}

func (b *browser) get(path string) *http.Response {
	req, _ := http.NewRequest(http.MethodGet, b.e.srv.URL+path, nil)
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) *http.Response {
	req, _ := http.NewRequest(http.MethodPost, b.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the last page's CSRF token.
func (b *browser) csrf() string {
	m := csrfRE.FindStringSubmatch(b.raw)
	if m == nil {
		b.t.Fatalf("no CSRF token in the page:\n%s", b.raw)
	}
	return m[1]
}

// signIn signs in as the caseworker.
func (b *browser) signIn() { b.t.Helper(); b.signInAs(b.e.op) }

// signInAs signs in as op.
func (b *browser) signInAs(op *auth.NewOperator) {
	b.t.Helper()
	b.get(console.Prefix)
	b.post(console.Prefix+"signin", url.Values{"csrf": {b.csrf()}, "username": {op.Operator.Username}, "password": {op.Password}})
	lt := regexp.MustCompile(`name="login_token" value="([^"]+)"`).FindStringSubmatch(b.raw)
	if lt == nil {
		b.t.Fatalf("no TOTP form after the password:\n%s", b.raw)
	}
	code, _ := totp.GenerateCode(op.TOTPSecret, b.e.clock.Now())
	if resp := b.post(console.Prefix+"totp", url.Values{"csrf": {b.csrf()}, "login_token": {lt[1]}, "code": {code}}); resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("TOTP: %s\n%s", resp.Status, b.raw)
	}
	b.e.clock.Add(30 * time.Second) // a code works once per step
	b.get(console.Prefix)
}

func (b *browser) find(csrf, email string) *http.Response {
	return b.post(console.Prefix+"find", url.Values{"csrf": {csrf}, "purpose": {"case-handling"}, "field": {"email_pro"}, "value": {email}, "reason": {"ticket 12"}})
}

func vaultActor(id, role, unit string) identity.Actor {
	return identity.Actor{ID: id, Role: role, Unit: unit, Origin: "127.0.0.1"}
}

// TestPagesProtectThemselves: every answer, a page, an error page or a
// stylesheet, carries the CSP, no-store, nosniff and no framing; the
// session cookie is HttpOnly and SameSite=Strict.
func TestPagesProtectThemselves(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	for _, path := range []string{console.Prefix, console.Prefix + "nowhere", console.Prefix + "static/console.css"} {
		resp := b.get(path)
		h := resp.Header
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if h.Get("Cache-Control") != "no-store" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: headers %v", path, h)
		}
	}
	b.signIn()
	u, _ := url.Parse(e.srv.URL + console.Prefix)
	var found bool
	for _, c := range b.c.Jar.Cookies(u) {
		found = found || c.Name == "coffre_console"
	}
	if !found {
		t.Fatal("no session cookie after the sign-in")
	}
	resp := b.post(console.Prefix+"signout", url.Values{"csrf": {b.csrf()}})
	for _, sc := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(sc, "coffre_console=") && (!strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Strict")) {
			t.Errorf("session cookie %q", sc)
		}
	}
}

// TestFindOnePerson: signed in, a caseworker finds one person by exact
// email and sees the purpose's view, masked fields marked; a hostile
// value is text; a miss, an unknown purpose and an oversized value get a
// plain page saying what to do, with no data.
func TestFindOnePerson(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	b.signIn()
	tok := b.csrf()
	p := e.people[0]
	if resp := b.find(tok, p.Fields[synth.EmailPro]); resp.StatusCode != http.StatusOK {
		t.Fatalf("find: %s\n%s", resp.Status, b.raw)
	}
	if !strings.Contains(b.raw, p.Fields[synth.GivenName]) || !strings.Contains(b.raw, "(masqué)") || strings.Contains(b.raw, p.Fields[synth.BirthDate]) {
		t.Errorf("record page: want the given name, the birth date masked and marked:\n%s", b.raw)
	}
	if resp := b.find(tok, e.people[1].Fields[synth.EmailPro]); resp.StatusCode != http.StatusOK {
		t.Fatalf("find: %s", resp.Status)
	}
	if strings.Contains(b.raw, "<script>alert") || !strings.Contains(b.raw, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("a hostile name is not escaped:\n%s", b.raw)
	}
	// The find page says what the two reads used of the budgets.
	if b.get(console.Prefix); !regexp.MustCompile(`personnes consultées, cette heure : 2 / \d+`).MatchString(b.raw) {
		t.Errorf("the find page does not show the budgets used:\n%s", b.raw)
	}
	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		want   string
	}{
		{"miss", url.Values{"purpose": {"case-handling"}, "field": {"email_pro"}, "value": {"nobody@example.org"}, "reason": {"t 1"}}, http.StatusNotFound, "Personne ne correspond"},
		{"another role's purpose", url.Values{"purpose": {"payroll"}, "field": {"email_pro"}, "value": {p.Fields[synth.EmailPro]}, "reason": {"t 1"}}, http.StatusForbidden, "Votre rôle ne permet pas"},
		{"no reason", url.Values{"purpose": {"case-handling"}, "field": {"email_pro"}, "value": {p.Fields[synth.EmailPro]}}, http.StatusBadRequest, "Le formulaire est incomplet"},
		{"oversized value", url.Values{"purpose": {"case-handling"}, "field": {"email_pro"}, "value": {strings.Repeat("a", 300)}, "reason": {"t 1"}}, http.StatusBadRequest, "Le formulaire est incomplet"},
	} {
		tc.form.Set("csrf", tok)
		resp := b.post(console.Prefix+"find", tc.form)
		if resp.StatusCode != tc.status || !strings.Contains(b.raw, tc.want) || strings.Contains(b.raw, p.Fields[synth.GivenName]) {
			t.Errorf("%s: %s, want %d with %q and no data:\n%s", tc.name, resp.Status, tc.status, tc.want, b.raw)
		}
	}
}

// TestCSRFAndSignOut: a form without its token, or with another
// session's, is refused with nothing done; after sign-out the old form
// and the old page's token reach nothing, and an expired session is
// asked to sign in again.
func TestCSRFAndSignOut(t *testing.T) {
	e := newEnv(t)
	b, other := e.browser(t), e.browser(t)
	b.signIn()
	other.signIn()
	email := e.people[0].Fields[synth.EmailPro]
	for _, tok := range []string{"", other.csrf(), "x" + b.csrf()} {
		if resp := b.find(tok, email); resp.StatusCode != http.StatusForbidden || strings.Contains(b.raw, e.people[0].Fields[synth.GivenName]) {
			t.Errorf("find with token %q: %s, want 403 and no data", tok, resp.Status)
		}
	}
	// The sign-in form's token is bound to this browser's pre-session cookie.
	fresh := e.browser(t)
	fresh.get(console.Prefix)
	if resp := b.post(console.Prefix+"signin", url.Values{"csrf": {fresh.csrf()}, "username": {"camille"}, "password": {e.op.Password}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-in with another browser's token: %s, want 403", resp.Status)
	}
	b.get(console.Prefix)
	tok := b.csrf()
	b.post(console.Prefix+"signout", url.Values{"csrf": {tok}})
	if resp := b.find(tok, email); resp.StatusCode != http.StatusUnauthorized || strings.Contains(b.raw, e.people[0].Fields[synth.GivenName]) {
		t.Errorf("find after sign-out: %s, want 401 and no data", resp.Status)
	}
	if b.get(console.Prefix); !strings.Contains(b.raw, `action="/console/signin"`) {
		t.Errorf("the console after sign-out is not the sign-in page:\n%s", b.raw)
	}
	// The other session ends by time: asked to sign in again.
	e.clock.Add(2 * time.Hour)
	if resp := other.find(other.csrf(), email); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(other.raw, "Connectez-vous") {
		t.Errorf("find on an expired session: %s\n%s", resp.Status, other.raw)
	}
}

// TestLanguage: English on ?lang=en, then kept by the cookie; French by
// default and from Accept-Language.
func TestLanguage(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	for _, tc := range []struct{ path, accept, want string }{
		{console.Prefix, "", `lang="fr"`},
		{console.Prefix, "en-GB,en;q=0.8", `lang="en"`},
		{console.Prefix + "?lang=en", "", `lang="en"`},
		{console.Prefix, "fr", `lang="en"`}, // the cookie set just before
	} {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+tc.path, nil)
		if tc.accept != "" {
			req.Header.Set("Accept-Language", tc.accept)
		}
		b.do(req)
		if !strings.Contains(b.raw, "<html "+tc.want+">") {
			t.Errorf("%s (Accept-Language %q): want <html %s>", tc.path, tc.accept, tc.want)
		}
	}
}

// TestOfficerUnlocks: the guard's lock of a caseworker shows on the
// security officer's page with its evidence; the officer unlocks with a
// reason (the unlock itself alerted); the caseworker, refused while
// locked, finds people again.
func TestOfficerUnlocks(t *testing.T) {
	e := newEnv(t)
	cw, so := e.browser(t), e.browser(t)
	cw.signIn()
	tok := cw.csrf()
	id := e.op.Operator.ID
	if err := e.store.Update(context.Background(), func(ctx context.Context, tx store.Tx) error {
		if err := tx.LockOperator(ctx, id, "velocity", e.clock.Now()); err != nil {
			return err
		}
		return guard.RaiseAlert(ctx, tx, &guard.Alert{Time: e.clock.Now(), Operator: id, Code: "velocity", Severity: "critical", Action: "lock", Evidence: []int64{1, 2}})
	}); err != nil {
		t.Fatal(err)
	}
	email := e.people[0].Fields[synth.EmailPro]
	if resp := cw.find(tok, email); resp.StatusCode < 400 || strings.Contains(cw.raw, e.people[0].Fields[synth.GivenName]) {
		t.Fatalf("a locked caseworker's find: %s, want refused with no data", resp.Status)
	}
	so.signInAs(e.officer)
	if !strings.Contains(so.raw, id) || !strings.Contains(so.raw, "velocity") || !strings.Contains(so.raw, "1, 2") {
		t.Fatalf("the officer's page lacks the lock alert and its evidence:\n%s", so.raw)
	}
	if resp := so.post(console.Prefix+"unlock", url.Values{"csrf": {so.csrf()}, "operator": {id}, "reason": {"velocity from a shared screen, checked with her"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("unlock: %s\n%s", resp.Status, so.raw)
	}
	if so.get(console.Prefix); !strings.Contains(so.raw, "unlock") {
		t.Errorf("the unlock's own alert is not shown:\n%s", so.raw)
	}
	// Unlocking again: the account is not locked, said plainly.
	if resp := so.post(console.Prefix+"unlock", url.Values{"csrf": {so.csrf()}, "operator": {id}, "reason": {"again"}}); resp.StatusCode != http.StatusConflict || !strings.Contains(so.raw, "not locked") {
		t.Errorf("a second unlock: %s, want 409 saying it is not locked:\n%s", resp.Status, so.raw)
	}
	again := e.browser(t)
	again.signIn()
	if resp := again.find(again.csrf(), email); resp.StatusCode != http.StatusOK {
		t.Errorf("find after the unlock: %s\n%s", resp.Status, again.raw)
	}
}

// TestPortal: a person signs in with a one-time code sent to a contact on
// their record, sees the caseworker's read of their record (the role, the
// purpose, the fields) and their verification phrase, and approves the HR
// officer's consent request, which is then no longer waiting.
func TestPortal(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cw := e.browser(t)
	cw.signIn()
	p := e.people[0]
	if resp := cw.find(cw.csrf(), p.Fields[synth.EmailPro]); resp.StatusCode != http.StatusOK {
		t.Fatalf("find: %s", resp.Status)
	}
	hr := vaultActor(e.hr.Operator.ID, "hr-officer", p.Unit)
	subject, err := e.vault.Lookup(ctx, hr, "directory", "", synth.EmailPro, p.Fields[synth.EmailPro])
	if err != nil {
		t.Fatal(err)
	}
	// A fresh step-up for the purpose (the API's POST /v1/auth/stepup/totp).
	hr.StepGroup, hr.SteppedUp, hr.StepFactor = e.vault.Policy().Purposes["occupational-health"].Group(), e.clock.Now(), "totp"
	var pending *vault.ConsentPending
	if _, err := e.vault.Read(ctx, hr, subject, "occupational-health", "visite de reprise"); !errors.As(err, &pending) {
		t.Fatalf("a read under a consent purpose: %v, want a pending request", err)
	}
	seed := make([]byte, 32)
	rand.Read(seed)
	signer, err := audit.NewSigner("coffre-test", seed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&auditlog.Integrator{Store: e.store, Signer: signer}).Step(ctx); err != nil {
		t.Fatal(err)
	}

	b := e.browser(t)
	b.get(console.PortalPrefix)
	if resp := b.post(console.PortalPrefix+"login", url.Values{"csrf": {b.csrf()}, "contact": {p.Fields[synth.EmailPro]}}); resp.StatusCode != http.StatusOK {
		t.Fatalf("ask a code: %s\n%s", resp.Status, b.raw)
	}
	lt := regexp.MustCompile(`name="login_token" value="([^"]+)"`).FindStringSubmatch(b.raw)
	if lt == nil {
		t.Fatalf("no code form:\n%s", b.raw)
	}
	var code string
	if err := e.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		ms, err := tx.Messages(ctx, 0, 1000)
		for _, m := range ms {
			if c, _, err := me.OpenCode(e.keys, m); err == nil {
				code = c
			}
		}
		return err
	}); err != nil || code == "" {
		t.Fatalf("no code queued: %v", err)
	}
	if resp := b.post(console.PortalPrefix+"code", url.Values{"csrf": {b.csrf()}, "login_token": {lt[1]}, "code": {code}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("code: %s\n%s", resp.Status, b.raw)
	}
	b.get(console.PortalPrefix)
	for _, want := range []string{"case-handling", "caseworker", synth.GivenName, "visite de reprise", "occupational-health", "phrase de vérification"} {
		if !strings.Contains(b.raw, want) {
			t.Errorf("the person's page lacks %q:\n%s", want, b.raw)
		}
	}
	if strings.Contains(b.raw, e.op.Operator.ID) {
		t.Error("the person's page names the caseworker's account (the purpose's policy does not)")
	}
	// The art. 15 download: the record in clear, the history with proofs,
	// as a file, never cached.
	resp := b.get(console.PortalPrefix + "data")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") || resp.Header.Get("Cache-Control") != "no-store" ||
		!strings.Contains(b.raw, p.Fields[synth.NationalID]) || !strings.Contains(b.raw, `"history"`) || !strings.Contains(b.raw, `"proof"`) {
		t.Errorf("the art. 15 download: %s %v\n%.400s", resp.Status, resp.Header, b.raw)
	}
	b.get(console.PortalPrefix)
	if resp := b.post(console.PortalPrefix+"consent", url.Values{"csrf": {b.csrf()}, "id": {pending.Request.ID}, "decision": {"approve"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("approve: %s\n%s", resp.Status, b.raw)
	}
	if b.get(console.PortalPrefix); strings.Contains(b.raw, `name="id" value="`+pending.Request.ID) {
		t.Error("the approved request is still waiting")
	}
	if _, err := e.vault.Read(ctx, hr, subject, "occupational-health", "visite de reprise"); err != nil {
		t.Errorf("the HR officer's read once approved: %v", err)
	}
	// A consent decision replayed: refused, said plainly.
	if resp := b.post(console.PortalPrefix+"consent", url.Values{"csrf": {b.csrf()}, "id": {pending.Request.ID}, "decision": {"deny"}}); resp.StatusCode != http.StatusConflict || !strings.Contains(b.raw, "already") {
		t.Errorf("a replayed decision: %s, want 409 saying it was decided:\n%s", resp.Status, b.raw)
	}
	// Signed out, the download reaches nothing.
	b.get(console.PortalPrefix)
	b.post(console.PortalPrefix+"signout", url.Values{"csrf": {b.csrf()}})
	if resp := b.get(console.PortalPrefix + "data"); resp.StatusCode != http.StatusUnauthorized || strings.Contains(b.raw, p.Fields[synth.NationalID]) {
		t.Errorf("the download after sign-out: %s", resp.Status)
	}
}
