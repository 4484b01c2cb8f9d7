package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

// TestConsoleWebAuthnInBrowser drives the console's security keys in
// headless Chromium with a virtual authenticator (a CTAP2 USB key, user
// verification done, presence simulated): an operator signs in with
// their password and TOTP code, registers the key on the keys page (the
// header's link), and sees it listed; signs out; signs in with their
// password and the key, no code: a key answer with a bad signature is
// refused in a visible alert, and the next touch lands on the console;
// reveals a masked national id under identity-check, the purpose's fresh
// second factor proved with the key; then removes the key. Every page passes axe-core.
//
// WebAuthn needs a secure context and an RP ID matching the page's host:
// the server listens on 127.0.0.1, the browser goes to localhost (a
// secure context over plain HTTP), the relying party is localhost.
func TestConsoleWebAuthnInBrowser(t *testing.T) {
	t.Parallel()
	a := consoleApp(t)
	person := synth.Make(17, 0)
	if _, failed, err := a.vault.Import(t.Context(), identity.Actor{ID: "op_hr", Role: "hr-officer"}, []vault.ImportRow{{Num: 1, Unit: person.Unit, Fields: person.Fields}}); err != nil || len(failed) > 0 {
		t.Fatalf("import: %v %v", failed, err)
	}
	op, err := a.auth.AddReadyOperator(t.Context(), "yanis", "", "caseworker", person.Unit)
	if err != nil {
		t.Fatal(err)
	}
	base := strings.Replace(serveApp(t, a), "127.0.0.1", "localhost", 1)
	wa, err := gowebauthn.New(&gowebauthn.Config{RPID: "localhost", RPDisplayName: "Coffre", RPOrigins: []string{base}})
	if err != nil {
		t.Fatal(err)
	}
	a.auth.WebAuthn = wa // before the first request

	b := newBrowser(t, base, 90*time.Second)
	b.open("/console/?lang=en")
	if _, err := chromedp.Call(b.ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatalf("WebAuthn.enable: %v", err)
	}
	added, err := chromedp.Call(b.ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
		Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportUsb,
		HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
	}})
	if err != nil {
		t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	key := added.AuthenticatorID

	// Password and TOTP; the header links the keys page.
	b.signIn("key-", "yanis", op, time.Now())
	b.check("key-find", "Find")
	b.click("keys link", `header a[href="/console/keys"]`)
	b.check("keys-empty", "Security keys")
	if !strings.Contains(b.text(), "No key registered") {
		t.Fatalf("the keys page of an operator without keys:\n%s", b.text())
	}
	b.fill("key-name", "Desk key")
	if got := b.keyStep(`#key-add button[type="submit"]`); got != "loaded" {
		t.Fatalf("registering the key: %s", got)
	}
	b.check("keys", "Security keys")
	if txt := b.text(); !strings.Contains(txt, "Desk key") || !strings.Contains(txt, "never") {
		t.Fatalf("the registered key is not listed (never used):\n%s", txt)
	}
	creds, err := chromedp.Call(b.ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: key})
	if err != nil || len(creds.Credentials) != 1 {
		t.Fatalf("the virtual authenticator holds %d credentials (%v), want 1", len(creds.Credentials), err)
	}
	b.click("sign out", `header form[action="/console/signout"] button`)
	b.check("key-signed-out", "Sign out")

	// Password, then the key: the TOTP form is still there, beside it.
	b.open("/console/?lang=en")
	b.check("key-sign-in-2", "Sign in")
	b.fill("username", "yanis")
	b.fill("password", op.Password)
	b.submit("key-sign-in-2", "main form")
	b.check("key-second-factor", "Sign in")
	if txt := b.text(); !strings.Contains(txt, "Use my security key") || !strings.Contains(txt, "Code from your authenticator app") {
		t.Fatalf("the second-factor page does not offer both the key and the code:\n%s", txt)
	}
	// A key answer with a bad signature: refused, said in the alert.
	bogus := true
	if _, err := chromedp.Call(b.ctx, webauthn.SetResponseOverrideBits, webauthn.SetResponseOverrideBitsParams{AuthenticatorID: key, IsBogusSignature: &bogus}); err != nil {
		t.Fatal(err)
	}
	if got := b.keyStep("#key-use"); !strings.HasPrefix(got, "refused: ") || !strings.Contains(got, "refused") {
		t.Fatalf("a bad signature: %q, want a refusal in the alert", got)
	}
	alert, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector('[role="alert"]').innerText`))
	if err != nil || !strings.Contains(alert, "What to do:") {
		t.Errorf("the refusal's alert: %q (%v)", alert, err)
	}
	b.check("key-refused", "Sign in")
	if _, err := chromedp.Call(b.ctx, webauthn.SetResponseOverrideBits, webauthn.SetResponseOverrideBitsParams{AuthenticatorID: key}); err != nil {
		t.Fatal(err)
	}
	if got := b.keyStep("#key-use"); got != "loaded" {
		t.Fatalf("signing in with the key: %s", got)
	}
	b.check("key-signed-in", "Find")

	// A reveal under a purpose that asks for a fresh second factor, proved
	// with the key (the sign-in's own factor does not count).
	b.do(chromedp.SetValue(chromedp.ID("purpose"), "case-handling"), chromedp.SetValue(chromedp.ID("field"), "email_pro"))
	b.fill("value", person.Fields["email_pro"])
	b.fill("reason", "Case 77: the person called")
	b.submit("key-record", "main form")
	b.check("key-record", "case-handling")
	b.click("key-reveal", `form[action="/console/reveal"]:has(input[value="national_id"]) button`)
	b.check("key-reveal", "Reveal")
	b.do(chromedp.Click(chromedp.ID("stepup-key")))
	status, err := chromedp.Run(b.ctx, chromedp.Poll[string](`(() => { const s = document.getElementById("stepup-status").innerText; return s.includes("Confirmed") || s.includes("efused") || s.includes("What to do") ? s : null })()`,
		chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil || !strings.Contains(status, "Confirmed for this purpose") {
		t.Fatalf("the step-up with the key: %q (%v)", status, err)
	}
	b.check("key-stepped-up", "Reveal")
	b.fill("reason", "Case 77: identity check")
	b.submit("key-revealed", "#reveal-form")
	b.check("key-revealed", "Field revealed")
	if txt := b.text(); !strings.Contains(txt, person.Fields["national_id"]) {
		t.Errorf("the national id is not revealed after the key's step-up:\n%s", txt)
	}

	// The key shows its use; removing it leaves none.
	b.open("/console/keys")
	b.check("keys-used", "Security keys")
	if txt := b.text(); !strings.Contains(txt, "Desk key") || strings.Contains(txt, "never") {
		t.Errorf("the key's last use is not shown:\n%s", txt)
	}
	b.click("remove the key", `form[action="/console/keys/remove"] button`)
	b.check("keys-removed", "Security keys")
	if txt := b.text(); strings.Contains(txt, "Desk key") || !strings.Contains(txt, "No key registered") {
		t.Errorf("the removed key is listed:\n%s", txt)
	}
}

// keyStep clicks what css selects, which runs webauthn.js's ceremony,
// and waits for its outcome: "loaded" once the page the server sent the
// browser to has loaded, or "refused: " and the alert's words.
func (b *browser) keyStep(css string) string {
	b.t.Helper()
	b.do(chromedp.Evaluate[chromedp.Void](`window.coffreKeyStep = true; document.getElementById("key-status").className = ""`), chromedp.Click(chromedp.CSS(css)))
	const outcome = `(() => {
		const st = document.getElementById("key-status");
		if (st && st.classList.contains("refused")) return "refused: " + st.innerText;
		return (!window.coffreKeyStep && document.readyState === "complete") ? "loaded" : "";
	})()`
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		// An error is a page between two documents: try again.
		if s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](outcome)); err == nil && s != "" {
			return s
		}
	}
	return "no outcome in 30 s; the page reads:\n" + b.text()
}
