package console_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/console"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/me"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

// portalEnv is the console's env with what the portal's own parts need:
// the vault hands the persons' requests to the DPO, the audit log is
// signed (its verifier key published), and a help desk agent of another
// unit reads the first person's record, besides the caseworker of their
// own unit.
type portalEnv struct {
	*env
	people  *me.Service
	signer  *audit.Signer
	support identity.Actor
	subject string // the first person's
}

func newPortalEnv(t *testing.T) *portalEnv {
	t.Helper()
	ctx := context.Background()
	base := baseEnv(t, &vault.Rights{HandlerRole: "dpo", RestrictedReaders: []string{"dpo"}})
	cfg, st, keys, clk, v, as := base.cfg, base.store, base.keys, base.clock, base.vault, base.authService(nil)
	e := &portalEnv{env: base}
	var err error
	p := synth.Make(5, 0)
	if e.op, err = as.AddReadyOperator(ctx, "camille", "", "caseworker", p.Unit); err != nil {
		t.Fatal(err)
	}
	agent, err := as.AddReadyOperator(ctx, "sasha", "", "support", "helpdesk")
	if err != nil {
		t.Fatal(err)
	}
	hr := vaultActor("op_hr", "hr-officer", p.Unit)
	if e.subject, err = v.Create(ctx, hr, p.Unit, p.Fields); err != nil {
		t.Fatal(err)
	}
	e.env.people = append(e.env.people, p)
	// Two reads: the caseworker's (their own unit) and the help desk's.
	cw := vaultActor(e.op.Operator.ID, "caseworker", p.Unit)
	e.support = vaultActor(agent.Operator.ID, "support", "helpdesk")
	for _, a := range []struct {
		who     identity.Actor
		purpose string
	}{{cw, "case-handling"}, {e.support, "support-call"}} {
		if _, err := v.Read(ctx, a.who, e.subject, a.purpose, "ticket 12"); err != nil {
			t.Fatalf("read under %s: %v", a.purpose, err)
		}
	}
	sseed := make([]byte, 32)
	rand.Read(sseed)
	if e.signer, err = audit.NewSigner("coffre-test", sseed); err != nil {
		t.Fatal(err)
	}
	if _, err := (&auditlog.Integrator{Store: st, Signer: e.signer}).Step(ctx); err != nil {
		t.Fatal(err)
	}
	e.people = &me.Service{Store: st, Keys: keys, Policy: cfg.Policy, Now: clk.Now}
	con, err := console.New(console.Config{Auth: as, Vault: v, Policy: cfg.Policy, People: e.people, Persons: v, Insecure: true})
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

// personSignIn signs the first person in to the portal with a code sent
// to their professional email (read from the outbox).
func (e *portalEnv) personSignIn(t *testing.T) *browser {
	t.Helper()
	b := e.browser(t)
	b.get(console.PortalPrefix)
	if resp := b.post(console.PortalPrefix+"login", url.Values{"csrf": {b.csrf()}, "contact": {e.env.people[0].Fields[synth.EmailPro]}}); resp.StatusCode != http.StatusOK {
		t.Fatalf("ask a code: %s\n%s", resp.Status, b.raw)
	}
	lt := regexp.MustCompile(`name="login_token" value="([^"]+)"`).FindStringSubmatch(b.raw)
	if lt == nil {
		t.Fatalf("no code form:\n%s", b.raw)
	}
	var code string
	if err := e.store.View(context.Background(), func(ctx context.Context, tx store.Tx) error {
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
	e.clock.Add(time.Second)
	return b
}

// nodeVerify runs static/proof.js's verify under Node on the history h
// (JSON) for entry seq, against key, with the row shown; it returns the
// outcome in English words.
func nodeVerify(t *testing.T, h []byte, key string, seq int64, shown map[string]string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("no node to run static/proof.js")
	}
	dir := t.TempDir()
	in, _ := json.Marshal(map[string]any{"history": json.RawMessage(h), "key": key, "seq": seq, "shown": shown})
	if err := os.WriteFile(filepath.Join(dir, "in.json"), in, 0o600); err != nil {
		t.Fatal(err)
	}
	script := `const p = require(process.argv[1]); const x = JSON.parse(require("fs").readFileSync(process.argv[2]));
p.verify(x.history, x.seq, x.key, x.shown).then(r => console.log(p.say("en", r, null)), e => console.log(p.say("en", null, e)));`
	abs, _ := filepath.Abs("static/proof.js")
	out, err := exec.Command(node, "-e", script, abs, filepath.Join(dir, "in.json")).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestPortalProof: the person's history (GET /portal/accesses.json, no
// store) and the published key (the API's GET /v1/audit/key) verify in
// static/proof.js, entry by entry; one byte changed in a leaf, a proof, a
// checkpoint's signature or root, the key, or what the row shows fails,
// and says what. Signed out, the history is refused.
func TestPortalProof(t *testing.T) {
	e := newPortalEnv(t)
	b := e.personSignIn(t)
	b.get(console.PortalPrefix)
	rows := regexp.MustCompile(`<tr data-seq="(\d+)" data-time="(\d+)" data-action="([^"]*)" data-purpose="([^"]*)" data-fields="([^"]*)" data-decision="([^"]*)">`).FindAllStringSubmatch(b.raw, -1)
	if len(rows) < 2 || !strings.Contains(b.raw, `src="/console/static/proof.js"`) {
		t.Fatalf("the history has %d rows with their data, and the script: want both reads and the script:\n%s", len(rows), b.raw)
	}
	resp := b.get(console.PortalPrefix + "accesses.json")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-store" || !strings.Contains(resp.Header.Get("Content-Type"), "json") {
		t.Fatalf("accesses.json: %s %v", resp.Status, resp.Header)
	}
	hist := []byte(b.raw)
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "connect-src 'self'") {
		t.Errorf("CSP %q: the page's script may not fetch its history", csp)
	}
	key := e.signer.VerifierKey()
	shownOf := func(m []string) map[string]string {
		return map[string]string{"time": m[2], "action": m[3], "purpose": m[4], "fields": m[5], "decision": m[6]}
	}
	seqOf := func(m []string) int64 {
		var n int64
		for _, c := range m[1] {
			n = n*10 + int64(c-'0')
		}
		return n
	}
	for _, m := range rows {
		keyID := strings.Join(strings.Split(key, "+")[:2], "+")
		if got := nodeVerify(t, hist, key, seqOf(m), shownOf(m)); !strings.HasPrefix(got, "Verified: entry "+m[1]) || !strings.Contains(got, "("+keyID+")") {
			t.Errorf("entry %s: %q, want verified", m[1], got)
		}
	}

	// Tampering: each in its own copy of the history.
	var h auditlog.History
	if err := json.Unmarshal(hist, &h); err != nil {
		t.Fatal(err)
	}
	read := rows[0] // a read (the newest row)
	seq := seqOf(read)
	var at int
	for i, x := range h.Entries {
		if x.Seq == seq {
			at = i
		}
	}
	other, _ := audit.NewSigner("coffre-test", make([]byte, 32))
	for _, tc := range []struct {
		name   string
		change func(h *auditlog.History) string // returns the key to use
		shown  map[string]string
		want   string
	}{
		{"a leaf byte", func(h *auditlog.History) string { h.Entries[at].Leaf[len(h.Entries[at].Leaf)-1] ^= 1; return key }, nil, "inclusion proof"},
		{"a leaf's action", func(h *auditlog.History) string {
			l := string(h.Entries[at].Leaf)
			h.Entries[at].Leaf = []byte(strings.Replace(l, "\x04read", "\x04reax", 1))
			return key
		}, shownOf(read), "does not match the signed entry (action)"},
		{"a proof hash", func(h *auditlog.History) string { h.Entries[at].Proof[0][5] ^= 0x80; return key }, nil, "inclusion proof"},
		{"a proof hash dropped", func(h *auditlog.History) string { h.Entries[at].Proof = h.Entries[at].Proof[1:]; return key }, nil, "inclusion proof"},
		{"the index chain", func(h *auditlog.History) string { h.Entries[at].Previous++; return key }, nil, "signed index"},
		{"the signature", func(h *auditlog.History) string {
			i := strings.LastIndex(h.Checkpoint, " ") + 10 // within the signature's base64
			c := "A"                                       // another base64 character
			if h.Checkpoint[i] == 'A' {
				c = "B"
			}
			h.Checkpoint = h.Checkpoint[:i] + c + h.Checkpoint[i+1:]
			return key
		}, nil, "signature"},
		{"the size signed", func(h *auditlog.History) string {
			h.Checkpoint = strings.Replace(h.Checkpoint, "\n"+strings.Split(h.Checkpoint, "\n")[1]+"\n", "\n999\n", 1)
			return key
		}, nil, "failed"},
		{"another key", func(h *auditlog.History) string { return other.VerifierKey() }, nil, "not signed by the published key"},
		{"a row that says otherwise", func(h *auditlog.History) string { return key }, map[string]string{"time": read[2], "action": read[3], "purpose": "payroll", "fields": read[5], "decision": read[6]}, "(purpose)"},
	} {
		var c auditlog.History
		json.Unmarshal(hist, &c)
		k := tc.change(&c)
		j, _ := json.Marshal(&c)
		got := nodeVerify(t, j, k, seq, tc.shown)
		if !strings.HasPrefix(got, "Verification failed: ") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want failed with %q", tc.name, got, tc.want)
		}
	}
	if got := nodeVerify(t, hist, key, 9999, nil); !strings.Contains(got, "not in the history") {
		t.Errorf("an entry not in the history: %q", got)
	}

	b.get(console.PortalPrefix)
	b.post(console.PortalPrefix+"signout", url.Values{"csrf": {b.csrf()}})
	if resp := b.get(console.PortalPrefix + "accesses.json"); resp.StatusCode != http.StatusUnauthorized || strings.Contains(b.raw, `"leaf"`) {
		t.Errorf("accesses.json after sign-out: %s\n%.300s", resp.Status, b.raw)
	}
}

// TestPortalRequests: a person files a rectification of named fields and
// an erasure, and sees each with its status and due date in words; the
// same request twice, a kind that does not exist, fields that are not the
// schema's, fields on an erasure, none on a rectification, an over-long
// text are refused in plain words with nothing filed; hostile text shows
// as text; a form without its token or with another session's is
// refused; after sign-out nothing is shown or filed.
func TestPortalRequests(t *testing.T) {
	e := newPortalEnv(t)
	b := e.personSignIn(t)
	b.get(console.PortalPrefix + "requests")
	tok := b.csrf()
	if !strings.Contains(b.raw, `name="kind" value="erasure"`) || !strings.Contains(b.raw, `name="field" value="family_name"`) {
		t.Fatalf("the request form lacks the kinds or the schema's fields:\n%s", b.raw)
	}
	file := func(b *browser, tok string, form url.Values) *http.Response {
		form.Set("csrf", tok)
		return b.post(console.PortalPrefix+"requests", form)
	}
	const hostile = `<script>alert(1)</script> mon nom s'écrit Dupond`
	if resp := file(b, tok, url.Values{"kind": {"rectification"}, "field": {"family_name", "address"}, "text": {hostile}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("file a rectification: %s\n%s", resp.Status, b.raw)
	}
	if resp := file(b, tok, url.Values{"kind": {"erasure"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("file an erasure: %s\n%s", resp.Status, b.raw)
	}
	b.get(console.PortalPrefix + "requests")
	for _, want := range []string{"Rectification (art. 16)", "family_name, address", "Effacement (art. 17)", "En attente de réponse", "Réponse due au plus tard le 2 avril 2026", "&lt;script&gt;alert(1)&lt;/script&gt;"} {
		if !strings.Contains(b.raw, want) {
			t.Errorf("the requests page lacks %q:\n%s", want, b.raw)
		}
	}
	if strings.Contains(b.raw, "<script>alert") {
		t.Error("the person's text is not escaped")
	}
	b.get(console.PortalPrefix + "requests?lang=en")
	if !strings.Contains(b.raw, "An answer is due by 2 April 2026") {
		t.Errorf("the requests page in English lacks the due date in words:\n%s", b.raw)
	}
	mine, err := e.vault.MyRequests(context.Background(), vault.Person{Subject: e.subject, Origin: "127.0.0.1"})
	if err != nil || len(mine) != 2 {
		t.Fatalf("requests filed: %d, %v; want 2", len(mine), err)
	}
	b.get(console.PortalPrefix + "requests?lang=fr")
	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		want   string
	}{
		{"the same erasure again", url.Values{"kind": {"erasure"}}, http.StatusConflict, "déjà ouverte"},
		{"no such kind", url.Values{"kind": {"revenge"}}, http.StatusBadRequest, "Ce type de demande n'existe pas"},
		{"no kind", url.Values{"text": {"hello"}}, http.StatusBadRequest, "Ce type de demande n'existe pas"},
		{"a field not in the schema", url.Values{"kind": {"rectification"}, "field": {"salary"}}, http.StatusBadRequest, "n'existe pas dans la fiche"},
		{"a hostile field", url.Values{"kind": {"rectification"}, "field": {`"><script>`}}, http.StatusBadRequest, "n'existe pas dans la fiche"},
		{"a rectification without fields", url.Values{"kind": {"rectification"}}, http.StatusBadRequest, "dit quels champs"},
		{"an objection with fields", url.Values{"kind": {"objection"}, "field": {"phone"}}, http.StatusBadRequest, "toute la fiche"},
		{"an over-long text", url.Values{"kind": {"objection"}, "text": {strings.Repeat("é", 1500)}}, http.StatusBadRequest, "incomplet ou trop long"},
	} {
		resp := file(b, tok, tc.form)
		if resp.StatusCode != tc.status || !strings.Contains(html.UnescapeString(b.raw), tc.want) || strings.Contains(b.raw, "<script>") {
			t.Errorf("%s: %s, want %d saying %q:\n%s", tc.name, resp.Status, tc.status, tc.want, b.raw)
		}
	}
	if mine, _ := e.vault.MyRequests(context.Background(), vault.Person{Subject: e.subject, Origin: "127.0.0.1"}); len(mine) != 2 {
		t.Errorf("%d requests after the refusals, want 2", len(mine))
	}

	// CSRF: none, another session's, the pre-session's.
	other := e.personSignIn(t)
	other.get(console.PortalPrefix + "requests")
	fresh := e.browser(t)
	fresh.get(console.PortalPrefix)
	for _, bad := range []string{"", other.csrf(), fresh.csrf(), tok + "x"} {
		if resp := file(b, bad, url.Values{"kind": {"objection"}}); resp.StatusCode != http.StatusForbidden || !strings.Contains(b.raw, "plus valable") {
			t.Errorf("a request with token %q: %s, want 403", bad, resp.Status)
		}
	}
	// Signed out: the page and the form reach nothing.
	b.post(console.PortalPrefix+"signout", url.Values{"csrf": {tok}})
	if resp := file(b, tok, url.Values{"kind": {"objection"}}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a request after sign-out: %s, want 401", resp.Status)
	}
	if resp := b.get(console.PortalPrefix + "requests"); resp.StatusCode != http.StatusUnauthorized || strings.Contains(b.raw, "Dupond") || strings.Contains(b.raw, "family_name, address") {
		t.Errorf("the requests page after sign-out: %s\n%s", resp.Status, b.raw)
	}
	// An expired session mid-form: asked to sign in again.
	other.get(console.PortalPrefix + "requests")
	e.clock.Add(2 * time.Hour)
	if resp := file(other, other.csrf(), url.Values{"kind": {"objection"}}); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(other.raw, "Connectez-vous") {
		t.Errorf("a request on an expired session: %s\n%s", resp.Status, other.raw)
	}
	if mine, _ := e.vault.MyRequests(context.Background(), vault.Person{Subject: e.subject, Origin: "127.0.0.1"}); len(mine) != 2 {
		t.Errorf("%d requests in the end, want 2", len(mine))
	}
}

// TestPortalBlocks: the person is offered the units that read their
// record (never a person), blocks the help desk's, which is then refused
// the record; blocking it again, their own unit, or a unit that does not
// exist is refused in words; the block is removed; forms without their
// token and after sign-out reach nothing.
func TestPortalBlocks(t *testing.T) {
	e := newPortalEnv(t)
	b := e.personSignIn(t)
	b.get(console.PortalPrefix + "blocks")
	tok := b.csrf()
	own := "unit:" + e.env.people[0].Unit
	if !strings.Contains(b.raw, `<option value="unit:helpdesk">Unité helpdesk</option>`) || strings.Contains(b.raw, e.op.Operator.ID) || strings.Contains(b.raw, "camille") {
		t.Fatalf("the block form: want the help desk's unit, no account:\n%s", b.raw)
	}
	post := func(b *browser, path, tok string, form url.Values) *http.Response {
		form.Set("csrf", tok)
		return b.post(console.PortalPrefix+path, form)
	}
	if resp := post(b, "blocks", tok, url.Values{"target": {"unit:helpdesk"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("block: %s\n%s", resp.Status, b.raw)
	}
	b.get(console.PortalPrefix + "blocks")
	if !strings.Contains(b.raw, `name="id" value="unit:helpdesk"`) || strings.Contains(b.raw, `<option value="unit:helpdesk">`) {
		t.Errorf("the blocks page: want the block listed with its remove button, and no longer offered:\n%s", b.raw)
	}
	if _, err := e.vault.Read(context.Background(), e.support, e.subject, "support-call", "ticket 13"); err == nil {
		t.Error("the help desk still reads the record it was blocked from")
	}
	for _, tc := range []struct {
		name, path, target string
		status             int
		want               string
	}{
		{"the same block again", "blocks", "unit:helpdesk", http.StatusConflict, "déjà bloquée"},
		{"their own unit", "blocks", own, http.StatusConflict, "tient votre fiche"},
		{"no such unit", "blocks", "unit:nowhere", http.StatusNotFound, "n'existe pas"},
		{"a malformed target", "blocks", `unit:"><b>x`, http.StatusBadRequest, "n'existe pas"},
		{"a person", "blocks", "person:" + e.subject, http.StatusBadRequest, "n'existe pas"},
		{"removing a block that is not there", "unblock", "unit:nowhere", http.StatusNotFound, "n'existe pas"},
	} {
		key := "target"
		if tc.path == "unblock" {
			key = "id"
		}
		resp := post(b, tc.path, tok, url.Values{key: {tc.target}})
		if resp.StatusCode != tc.status || !strings.Contains(html.UnescapeString(b.raw), tc.want) || strings.Contains(b.raw, "<b>x") {
			t.Errorf("%s: %s, want %d saying %q:\n%s", tc.name, resp.Status, tc.status, tc.want, b.raw)
		}
	}
	for _, bad := range []string{"", "x" + tok} {
		if resp := post(b, "unblock", bad, url.Values{"id": {"unit:helpdesk"}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("unblock with token %q: %s, want 403", bad, resp.Status)
		}
	}
	if resp := post(b, "unblock", tok, url.Values{"id": {"unit:helpdesk"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("unblock: %s\n%s", resp.Status, b.raw)
	}
	if _, err := e.vault.Read(context.Background(), e.support, e.subject, "support-call", "ticket 14"); err != nil {
		t.Errorf("the help desk's read once unblocked: %v", err)
	}
	b.post(console.PortalPrefix+"signout", url.Values{"csrf": {tok}})
	if resp := post(b, "blocks", tok, url.Values{"target": {"unit:helpdesk"}}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("block after sign-out: %s, want 401", resp.Status)
	}
	if resp := b.get(console.PortalPrefix + "blocks"); resp.StatusCode != http.StatusUnauthorized || strings.Contains(b.raw, "helpdesk") {
		t.Errorf("the blocks page after sign-out: %s\n%s", resp.Status, b.raw)
	}
	if bs, _ := e.vault.MyBlocks(context.Background(), vault.Person{Subject: e.subject, Origin: "127.0.0.1"}); len(bs) != 0 {
		t.Errorf("blocks in the end: %+v, want none", bs)
	}
}

// TestPortalOIDC: with a provider configured, the sign-in page offers
// it; /portal/oidc/start sends the browser to the provider with the
// portal's callback, and the callback signs the person in with a portal
// session; a callback without the browser's state is refused in words.
// Without a provider, neither is offered.
func TestPortalOIDC(t *testing.T) {
	e := newPortalEnv(t)
	b := e.browser(t)
	if b.get(console.PortalPrefix); strings.Contains(b.raw, "/portal/oidc/start") {
		t.Error("a sign-in through a provider is offered with none configured")
	}
	if resp := b.get(console.PortalPrefix + "oidc/start"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("oidc/start with no provider: %s, want 404", resp.Status)
	}
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown() })
	e.people.OIDC = &me.OIDC{Issuer: m.Issuer(), ClientID: m.ClientID, ClientSecret: m.ClientSecret,
		RedirectURL: e.srv.URL + "/v1/me/oidc/callback", Scopes: []string{"email"}, Claim: "email", Field: "email_pro"}
	m.QueueUser(&mockoidc.MockUser{Subject: "p1", Email: e.env.people[0].Fields[synth.EmailPro], EmailVerified: true})
	if b.get(console.PortalPrefix); !strings.Contains(b.raw, `href="/portal/oidc/start"`) || !strings.Contains(b.raw, "Se connecter avec 127.0.0.1") {
		t.Fatalf("the sign-in page does not offer the provider:\n%s", b.raw)
	}
	head, _ := http.NewRequest(http.MethodHead, e.srv.URL+console.PortalPrefix+"oidc/start", nil)
	if resp := b.do(head); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("HEAD oidc/start: %s, want 405", resp.Status)
	}
	resp := b.get(console.PortalPrefix + "oidc/start")
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc == nil || loc.Query().Get("redirect_uri") != e.srv.URL+"/portal/oidc/callback" {
		t.Fatalf("oidc/start: %s, Location %q: want the provider, back to the portal's callback", resp.Status, resp.Header.Get("Location"))
	}
	// The provider signs the person in and sends the browser back.
	pr, err := b.c.Get(loc.String())
	if err != nil {
		t.Fatal(err)
	}
	pr.Body.Close()
	back, err := url.Parse(pr.Header.Get("Location"))
	if err != nil || back.Path != "/portal/oidc/callback" {
		t.Fatalf("the provider sent the browser to %q", pr.Header.Get("Location"))
	}
	// Another browser with the same callback URL: no state of its own.
	thief := e.browser(t)
	if resp := thief.get(back.RequestURI()); resp.StatusCode != http.StatusBadRequest || !strings.Contains(thief.raw, "pas été commencée depuis ce navigateur") {
		t.Errorf("a callback from another browser: %s\n%s", resp.Status, thief.raw)
	}
	if resp := b.get(back.RequestURI()); resp.StatusCode != http.StatusOK || !strings.Contains(b.raw, "Vous êtes connecté") {
		t.Fatalf("the callback: %s\n%s", resp.Status, b.raw)
	}
	if b.get(console.PortalPrefix); !strings.Contains(b.raw, "phrase de vérification") || !strings.Contains(b.raw, "support-call") {
		t.Errorf("the person's page after a sign-in through the provider:\n%s", b.raw)
	}
	// The state served once.
	if resp := b.get(back.RequestURI()); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("the callback replayed: %s, want 400", resp.Status)
	}
}
