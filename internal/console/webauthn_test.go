package console_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/pquerna/otp/totp"

	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/console"
)

// The relying party of the key tests: the key signs for it, whatever
// address the test server has (WebAuthn checks the origin the browser
// reports in the signed client data, not the request's).
const (
	testRPID     = "localhost"
	testRPOrigin = "https://localhost"
)

// keyEnv is newEnv's console with security keys: the same store and
// operators, an auth service with a WebAuthn relying party.
func keyEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	wa, err := webauthn.New(&webauthn.Config{RPID: testRPID, RPDisplayName: "Coffre", RPOrigins: []string{testRPOrigin}})
	if err != nil {
		t.Fatal(err)
	}
	con, err := console.New(console.Config{Auth: e.authService(wa), Vault: e.vault, Policy: e.cfg.Policy, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(console.Prefix, con.Handler())
	ke := *e
	ke.srv = httptest.NewServer(mux)
	t.Cleanup(ke.srv.Close)
	return &ke
}

// softKey is a software security key: a P-256 key answering the
// ceremonies as a key does ("none" attestation, ES256 signatures over
// authenticatorData ‖ SHA-256(clientDataJSON), a growing counter).
type softKey struct {
	priv  *ecdsa.PrivateKey
	id    []byte
	count uint32
}

func newSoftKey(t *testing.T) *softKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 16)
	rand.Read(id)
	return &softKey{priv: priv, id: id}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func (k *softKey) clientData(t *testing.T, typ string, opts []byte) []byte {
	t.Helper()
	var o struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(opts, &o); err != nil || o.PublicKey.Challenge == "" {
		t.Fatalf("WebAuthn options %s: %v", opts, err)
	}
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": o.PublicKey.Challenge, "origin": testRPOrigin, "crossOrigin": false})
	return b
}

func (k *softKey) authData(flags byte, attested []byte) []byte {
	rp := sha256.Sum256([]byte(testRPID))
	b := append(rp[:], flags)
	b = binary.BigEndian.AppendUint32(b, k.count)
	return append(b, attested...)
}

// create answers navigator.credentials.create with the options.
func (k *softKey) create(t *testing.T, opts []byte) string {
	t.Helper()
	cd := k.clientData(t, "webauthn.create", opts)
	pub, err := k.priv.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	cose, err := webauthncbor.Marshal(map[int64]any{
		1: int64(webauthncose.EllipticKey), 3: int64(webauthncose.AlgES256), -1: int64(webauthncose.P256),
		-2: pub[1:33], -3: pub[33:65],
	})
	if err != nil {
		t.Fatal(err)
	}
	attested := make([]byte, 16) // no AAGUID
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(k.id)))
	attested = append(append(attested, k.id...), cose...)
	att, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": k.authData(0x01|0x04|0x40, attested)})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"id": b64(k.id), "rawId": b64(k.id), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64(cd), "attestationObject": b64(att)}})
	return string(b)
}

// get answers navigator.credentials.get, signing with signer (the key's
// own private key, or another to forge).
func (k *softKey) get(t *testing.T, opts []byte, signer *ecdsa.PrivateKey) string {
	t.Helper()
	k.count++
	cd := k.clientData(t, "webauthn.get", opts)
	ad := k.authData(0x01|0x04, nil)
	h := sha256.Sum256(cd)
	digest := sha256.Sum256(append(ad, h[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, signer, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"id": b64(k.id), "rawId": b64(k.id), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64(cd), "authenticatorData": b64(ad[:37]), "signature": b64(sig)}})
	return string(b)
}

// postJSON posts a form as webauthn.js does (asking for JSON).
func (b *browser) postJSON(path string, form url.Values) *http.Response {
	req, _ := http.NewRequest(http.MethodPost, b.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	return b.do(req)
}

// refusal reads the code of the last answer's JSON refusal, failing when
// it is not one (with a message).
func (b *browser) refusal() string {
	b.t.Helper()
	var out struct {
		Error struct{ Code, Message, Hint string }
	}
	if err := json.Unmarshal([]byte(b.raw), &out); err != nil || out.Error.Code == "" || out.Error.Message == "" {
		b.t.Fatalf("not a refusal in JSON (%v): %s", err, b.raw)
	}
	return out.Error.Code
}

// hasSession reports whether the browser holds a console session cookie.
func (b *browser) hasSession() bool {
	u, _ := url.Parse(b.e.srv.URL + console.Prefix)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "coffre_console" && c.Value != "" {
			return true
		}
	}
	return false
}

var loginTokenRE = regexp.MustCompile(`name="login_token" value="([^"]+)"`)

// password does the password step and returns the login token, with the
// second-factor page as the last page.
func (b *browser) password(op *auth.NewOperator) string {
	b.t.Helper()
	b.get(console.Prefix)
	b.post(console.Prefix+"signin", url.Values{"csrf": {b.csrf()}, "username": {op.Operator.Username}, "password": {op.Password}})
	lt := loginTokenRE.FindStringSubmatch(b.raw)
	if lt == nil {
		b.t.Fatalf("no second-factor page after the password:\n%s", b.raw)
	}
	return lt[1]
}

// addKey registers key as name for the signed-in browser.
func (b *browser) addKey(key *softKey, name string) {
	b.t.Helper()
	b.get(console.Prefix + "keys")
	tok := b.csrf()
	if resp := b.postJSON(console.Prefix+"keys/begin", url.Values{"csrf": {tok}, "name": {name}}); resp.StatusCode != http.StatusOK {
		b.t.Fatalf("keys/begin: %s\n%s", resp.Status, b.raw)
	}
	if resp := b.postJSON(console.Prefix+"keys/finish", url.Values{"csrf": {tok}, "name": {name}, "credential": {key.create(b.t, []byte(b.raw))}}); resp.StatusCode != http.StatusOK || !strings.Contains(b.raw, `"go":"/console/keys"`) {
		b.t.Fatalf("keys/finish: %s\n%s", resp.Status, b.raw)
	}
}

// TestKeySignIn: an operator registers a key on the keys page (its name,
// markup, shown as text), and the second-factor page then offers it; a
// sign-in with the key opens a session; a foreign or missing CSRF token,
// garbage for an answer, another key's signature, a replayed answer, an
// unknown or expired login token are refused in words, with no session.
func TestKeySignIn(t *testing.T) {
	e := keyEnv(t)
	b := e.browser(t)
	// Without a key, the second-factor page offers none.
	b.password(e.op)
	if strings.Contains(b.raw, "key-signin") {
		t.Errorf("the second-factor page offers a key to an operator without one:\n%s", b.raw)
	}
	b.signIn()
	if !strings.Contains(b.raw, `href="/console/keys"`) {
		t.Errorf("the header does not link the keys page:\n%s", b.raw)
	}
	if resp := b.get(console.Prefix + "keys"); resp.StatusCode != http.StatusOK || !strings.Contains(b.raw, "Aucune clé") {
		t.Fatalf("keys page: %s\n%s", resp.Status, b.raw)
	}
	key := newSoftKey(t)
	const name = `clé <b>bleue</b>`
	b.addKey(key, name)
	if b.get(console.Prefix + "keys"); !strings.Contains(b.raw, "clé &lt;b&gt;bleue&lt;/b&gt;") || strings.Contains(b.raw, "<b>bleue") {
		t.Errorf("the keys page does not list the key's name as text:\n%s", b.raw)
	}
	b.post(console.Prefix+"signout", url.Values{"csrf": {b.csrf()}})

	c, other := e.browser(t), e.browser(t)
	other.get(console.Prefix)
	foreign := other.csrf()
	lt := c.password(e.op)
	if !strings.Contains(c.raw, `id="key-signin"`) || !strings.Contains(c.raw, `data-login-token="`+lt+`"`) || !strings.Contains(c.raw, `action="/console/totp"`) {
		t.Fatalf("the second-factor page does not offer the key beside the TOTP form:\n%s", c.raw)
	}
	tok := c.csrf()
	for _, bad := range []string{"", foreign} {
		for _, step := range []string{"begin", "finish"} {
			if resp := c.postJSON(console.Prefix+"webauthn/"+step, url.Values{"csrf": {bad}, "login_token": {lt}, "credential": {"{}"}}); resp.StatusCode != http.StatusForbidden || c.refusal() != "csrf" {
				t.Errorf("%s with CSRF token %q: %s %s, want 403 csrf", step, bad, resp.Status, c.raw)
			}
		}
	}
	begin := func() []byte {
		t.Helper()
		if resp := c.postJSON(console.Prefix+"webauthn/begin", url.Values{"csrf": {tok}, "login_token": {lt}}); resp.StatusCode != http.StatusOK {
			t.Fatalf("webauthn/begin: %s\n%s", resp.Status, c.raw)
		}
		return []byte(c.raw)
	}
	finish := func(credential string) *http.Response {
		return c.postJSON(console.Prefix+"webauthn/finish", url.Values{"csrf": {tok}, "login_token": {lt}, "credential": {credential}})
	}
	begin()
	if resp := finish(`{"id": "garbage`); resp.StatusCode != http.StatusUnauthorized || c.refusal() != "refused" || c.hasSession() {
		t.Errorf("finish with garbage: %s %s, want 401 refused and no session", resp.Status, c.raw)
	}
	if resp := finish(key.get(t, begin(), newSoftKey(t).priv)); resp.StatusCode != http.StatusUnauthorized || c.refusal() != "refused" || c.hasSession() {
		t.Errorf("finish signed by another key: %s %s, want 401 refused and no session", resp.Status, c.raw)
	}
	// The refused answers ended their ceremonies: a finish without a
	// begin is told to start again.
	if resp := finish(key.get(t, []byte(`{"publicKey":{"challenge":"AAAA"}}`), key.priv)); resp.StatusCode != http.StatusBadRequest || c.refusal() != "no_ceremony" {
		t.Errorf("finish with no ceremony: %s %s, want 400 no_ceremony", resp.Status, c.raw)
	}
	// Oversized answers are refused before they reach auth.
	begin()
	if resp := finish(`"` + strings.Repeat("a", 17<<10) + `"`); resp.StatusCode != http.StatusBadRequest || c.refusal() != "bad_form" || c.hasSession() {
		t.Errorf("finish with an oversized answer: %s %s, want 400 bad_form", resp.Status, c.raw)
	}
	if resp := finish(strings.Repeat("a", 70<<10)); resp.StatusCode != http.StatusBadRequest || c.refusal() != "bad_form" || c.hasSession() {
		t.Errorf("finish with an oversized form: %s %s, want 400 bad_form", resp.Status, c.raw)
	}
	answer := key.get(t, begin(), key.priv)
	if resp := finish(answer); resp.StatusCode != http.StatusOK || !strings.Contains(c.raw, `"go":"/console/"`) || !c.hasSession() {
		t.Fatalf("finish with the key: %s %s, want a session", resp.Status, c.raw)
	}
	if c.get(console.Prefix); !strings.Contains(c.raw, `action="/console/find"`) {
		t.Errorf("signed in with the key, the console is not the find page:\n%s", c.raw)
	}
	// The same answer again, from a browser without a session: the login
	// is used up.
	d := e.browser(t)
	d.get(console.Prefix)
	dtok := d.csrf()
	if resp := d.postJSON(console.Prefix+"webauthn/finish", url.Values{"csrf": {dtok}, "login_token": {lt}, "credential": {answer}}); resp.StatusCode != http.StatusUnauthorized || d.hasSession() {
		t.Errorf("a replayed answer: %s %s, want 401 and no session", resp.Status, d.raw)
	}
	// Unknown and expired login tokens.
	if resp := d.postJSON(console.Prefix+"webauthn/begin", url.Values{"csrf": {dtok}, "login_token": {"cfl_unknown"}}); resp.StatusCode != http.StatusUnauthorized || d.refusal() != "expired" {
		t.Errorf("begin with an unknown login token: %s %s, want 401 expired", resp.Status, d.raw)
	}
	lt2 := d.password(e.op)
	e.clock.Add(3 * time.Minute) // past LoginTTL
	if resp := d.postJSON(console.Prefix+"webauthn/begin", url.Values{"csrf": {dtok}, "login_token": {lt2}}); resp.StatusCode != http.StatusUnauthorized || d.refusal() != "expired" {
		t.Errorf("begin with an expired login token: %s %s, want 401 expired", resp.Status, d.raw)
	}
	if resp := d.postJSON(console.Prefix+"webauthn/finish", url.Values{"csrf": {dtok}, "login_token": {lt2}, "credential": {answer}}); resp.StatusCode != http.StatusUnauthorized || d.hasSession() {
		t.Errorf("finish with an expired login token: %s %s, want 401 and no session", resp.Status, d.raw)
	}
	// The refusals are in English for an English browser.
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+console.Prefix+"webauthn/begin", strings.NewReader(url.Values{"login_token": {lt2}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Accept-Language", "en")
	if d.do(req); !strings.Contains(d.raw, "This form is no longer valid") {
		t.Errorf("an English refusal: %s", d.raw)
	}
}

// TestKeysPage: registering and removing keys needs the session and its
// CSRF token, and a fresh second factor; a form sent without JavaScript
// is told it needs it; a removed key is gone, and removing it again says
// so; after sign-out the page shows nothing of the keys.
func TestKeysPage(t *testing.T) {
	e := keyEnv(t)
	b, other := e.browser(t), e.browser(t)
	b.signIn()
	other.signInAs(e.officer)
	key := newSoftKey(t)
	b.addKey(key, "YubiKey 5")
	b.get(console.Prefix + "keys")
	tok := b.csrf()
	id := regexp.MustCompile(`name="id" value="([^"]+)"`).FindStringSubmatch(b.raw)
	if id == nil || !strings.Contains(b.raw, "YubiKey 5") {
		t.Fatalf("the keys page does not list the key:\n%s", b.raw)
	}
	for _, bad := range []string{"", other.csrf()} {
		if resp := b.postJSON(console.Prefix+"keys/begin", url.Values{"csrf": {bad}, "name": {"k"}}); resp.StatusCode != http.StatusForbidden || b.refusal() != "csrf" {
			t.Errorf("keys/begin with CSRF token %q: %s %s", bad, resp.Status, b.raw)
		}
		if resp := b.postJSON(console.Prefix+"keys/finish", url.Values{"csrf": {bad}, "name": {"k"}, "credential": {"{}"}}); resp.StatusCode != http.StatusForbidden || b.refusal() != "csrf" {
			t.Errorf("keys/finish with CSRF token %q: %s %s", bad, resp.Status, b.raw)
		}
		if resp := b.post(console.Prefix+"keys/remove", url.Values{"csrf": {bad}, "id": {id[1]}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("keys/remove with CSRF token %q: %s", bad, resp.Status)
		}
	}
	if resp := b.postJSON(console.Prefix+"keys/begin", url.Values{"csrf": {tok}, "name": {strings.Repeat("k", 65)}}); resp.StatusCode != http.StatusBadRequest || b.refusal() != "bad_form" {
		t.Errorf("keys/begin with a long name: %s %s", resp.Status, b.raw)
	}
	// The form sent without JavaScript: a page saying it needs it.
	if resp := b.post(console.Prefix+"keys/finish", url.Values{"csrf": {tok}, "name": {"k"}}); resp.StatusCode != http.StatusBadRequest || !strings.Contains(b.raw, "JavaScript") || !strings.Contains(b.raw, `role="alert"`) {
		t.Errorf("keys/finish without JavaScript: %s\n%s", resp.Status, b.raw)
	}
	// A finish with no begin, and with garbage: nothing added.
	if resp := b.postJSON(console.Prefix+"keys/finish", url.Values{"csrf": {tok}, "name": {"k2"}, "credential": {newSoftKey(t).create(t, []byte(`{"publicKey":{"challenge":"AAAA"}}`))}}); resp.StatusCode != http.StatusBadRequest || b.refusal() != "no_ceremony" {
		t.Errorf("keys/finish without a begin: %s %s", resp.Status, b.raw)
	}
	b.postJSON(console.Prefix+"keys/begin", url.Values{"csrf": {tok}, "name": {"k2"}})
	if resp := b.postJSON(console.Prefix+"keys/finish", url.Values{"csrf": {tok}, "name": {"k2"}, "credential": {"[1,2"}}); resp.StatusCode != http.StatusBadRequest || b.refusal() != "refused" {
		t.Errorf("keys/finish with garbage: %s %s", resp.Status, b.raw)
	}
	if b.get(console.Prefix + "keys"); strings.Contains(b.raw, "<td>k2</td>") {
		t.Errorf("a refused key is listed:\n%s", b.raw)
	}
	// Past the step-up window, changing keys asks for a fresh sign-in.
	e.clock.Add(6 * time.Minute)
	b.get(console.Prefix + "keys")
	if resp := b.post(console.Prefix+"keys/remove", url.Values{"csrf": {tok}, "id": {id[1]}}); resp.StatusCode != http.StatusForbidden || !strings.Contains(b.raw, "en haut de la page des clés") {
		t.Errorf("keys/remove on a stale session: %s\n%s", resp.Status, b.raw)
	}
	if resp := b.postJSON(console.Prefix+"keys/begin", url.Values{"csrf": {tok}, "name": {"k3"}}); resp.StatusCode != http.StatusForbidden || b.refusal() != "step_up_required" {
		t.Errorf("keys/begin on a stale session: %s %s", resp.Status, b.raw)
	}
	// A step-up brings the session back within the window: a key whose
	// answer another key signed confirms nothing; the registered key, or
	// a fresh TOTP code, does.
	b.postJSON(console.Prefix+"stepup/webauthn/begin", url.Values{"csrf": {tok}})
	if resp := b.postJSON(console.Prefix+"stepup/webauthn/finish", url.Values{"csrf": {tok}, "credential": {key.get(t, []byte(b.raw), newSoftKey(t).priv)}}); resp.StatusCode != http.StatusUnauthorized || b.refusal() != "refused" {
		t.Errorf("a step-up signed by another key: %s %s", resp.Status, b.raw)
	}
	if resp := b.postJSON(console.Prefix+"stepup/webauthn/finish", url.Values{"csrf": {other.csrf()}, "credential": {"{}"}}); resp.StatusCode != http.StatusForbidden || b.refusal() != "csrf" {
		t.Errorf("a step-up with another session's token: %s %s", resp.Status, b.raw)
	}
	b.postJSON(console.Prefix+"stepup/webauthn/begin", url.Values{"csrf": {tok}})
	if resp := b.postJSON(console.Prefix+"stepup/webauthn/finish", url.Values{"csrf": {tok}, "credential": {key.get(t, []byte(b.raw), key.priv)}}); resp.StatusCode != http.StatusOK {
		t.Fatalf("a step-up with the key: %s %s", resp.Status, b.raw)
	}
	if resp := b.postJSON(console.Prefix+"keys/begin", url.Values{"csrf": {tok}, "name": {"k3"}}); resp.StatusCode != http.StatusOK {
		t.Errorf("keys/begin after the step-up: %s %s", resp.Status, b.raw)
	}
	e.clock.Add(6 * time.Minute)
	if resp := b.post(console.Prefix+"stepup/totp", url.Values{"csrf": {tok}, "code": {"000000"}}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a step-up with a wrong code: %s\n%s", resp.Status, b.raw)
	}
	code, _ := totp.GenerateCode(e.op.TOTPSecret, e.clock.Now())
	if resp := b.post(console.Prefix+"stepup/totp", url.Values{"csrf": {tok}, "code": {code}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("a step-up with a fresh code: %s\n%s", resp.Status, b.raw)
	}
	if resp := b.postJSON(console.Prefix+"keys/begin", url.Values{"csrf": {tok}, "name": {"k3"}}); resp.StatusCode != http.StatusOK {
		t.Errorf("keys/begin after the TOTP step-up: %s %s", resp.Status, b.raw)
	}
	// A fresh sign-in, with the key, removes it; again: no such key.
	c := e.browser(t)
	lt := c.password(e.op)
	ctok := c.csrf()
	c.postJSON(console.Prefix+"webauthn/begin", url.Values{"csrf": {ctok}, "login_token": {lt}})
	if resp := c.postJSON(console.Prefix+"webauthn/finish", url.Values{"csrf": {ctok}, "login_token": {lt}, "credential": {key.get(t, []byte(c.raw), key.priv)}}); resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-in with the key: %s %s", resp.Status, c.raw)
	}
	c.get(console.Prefix + "keys")
	if !strings.Contains(c.raw, "YubiKey 5") || strings.Contains(c.raw, "jamais") {
		t.Errorf("the keys page does not show the key's last use:\n%s", c.raw)
	}
	ctok = c.csrf()
	if resp := c.post(console.Prefix+"keys/remove", url.Values{"csrf": {ctok}, "id": {id[1]}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("keys/remove: %s\n%s", resp.Status, c.raw)
	}
	if c.get(console.Prefix + "keys"); strings.Contains(c.raw, "YubiKey 5") || !strings.Contains(c.raw, "Aucune clé") {
		t.Errorf("the removed key is listed:\n%s", c.raw)
	}
	if resp := c.post(console.Prefix+"keys/remove", url.Values{"csrf": {ctok}, "id": {id[1]}}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("removing it again: %s\n%s", resp.Status, c.raw)
	}
	if resp := c.post(console.Prefix+"keys/remove", url.Values{"csrf": {ctok}, "id": {"not base64!"}}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("removing a malformed id: %s\n%s", resp.Status, c.raw)
	}
	// With no key left, the second-factor page offers none.
	if f := e.browser(t); f.password(e.op) != "" && strings.Contains(f.raw, "key-signin") {
		t.Error("the second-factor page offers a removed key")
	}
	// Signed out: the page and its forms reach nothing.
	c.post(console.Prefix+"signout", url.Values{"csrf": {ctok}})
	if resp := c.get(console.Prefix + "keys"); resp.StatusCode != http.StatusUnauthorized || strings.Contains(c.raw, "YubiKey") {
		t.Errorf("the keys page after sign-out: %s\n%s", resp.Status, c.raw)
	}
	if resp := c.postJSON(console.Prefix+"keys/begin", url.Values{"csrf": {ctok}, "name": {"k"}}); resp.StatusCode != http.StatusUnauthorized || c.refusal() != "sign_in" {
		t.Errorf("keys/begin after sign-out: %s %s", resp.Status, c.raw)
	}
	if resp := c.post(console.Prefix+"keys/remove", url.Values{"csrf": {ctok}, "id": {id[1]}}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("keys/remove after sign-out: %s\n%s", resp.Status, c.raw)
	}
}
