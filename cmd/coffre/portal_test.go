package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/deliver"
	"github.com/coffre/coffre/internal/deliver/delivertest"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/me"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

// TestPortalInBrowser drives the people's portal (issue 17) in headless
// Chromium on the demo server, with mail through an in-process SMTP
// server. A caseworker of the person's unit and a help desk agent read
// their record, and the audit log is signed. The person signs in with
// the code mailed to them, sees both reads, verifies one in the browser
// (static/proof.js: the leaf, its inclusion proof and the checkpoint's
// signature against the published key) and sees it verified, then sees
// the check fail on a history altered in transit; files an erasure
// request and sees it with its due date; blocks the help desk's unit and
// sees it listed; and signs out, after which the pages show nothing of
// theirs. Then they sign in again through an OpenID Connect provider
// (in-process), back through the portal's own callback. Every page, in
// French and in English, passes axe-core.
func TestPortalInBrowser(t *testing.T) {
	t.Parallel()
	mx := delivertest.StartSMTP(t)
	a := consoleApp(t)
	a.cfg.Delivery.SMTP = config.SMTP{Host: mx.Host, Port: mx.Port, StartTLS: "none", From: "coffre@example.org"}
	a.cfg.Delivery.Rates.Email = 1000
	p := synth.Make(23, 0)
	ids, failed, err := a.vault.Import(t.Context(), identity.Actor{ID: "op_hr", Role: "hr-officer"}, []vault.ImportRow{{Num: 1, Unit: p.Unit, Fields: p.Fields}})
	if err != nil || len(failed) > 0 {
		t.Fatalf("import: %v %v", failed, err)
	}
	subject := ids[0]
	cw, err := a.auth.AddReadyOperator(t.Context(), "lea", "", "caseworker", p.Unit)
	if err != nil {
		t.Fatal(err)
	}
	agent, err := a.auth.AddReadyOperator(t.Context(), "sasha", "", "support", "helpdesk")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct {
		who     identity.Actor
		purpose string
	}{
		{identity.Actor{ID: cw.Operator.ID, Role: "caseworker", Unit: p.Unit, Origin: "127.0.0.1"}, "case-handling"},
		{identity.Actor{ID: agent.Operator.ID, Role: "support", Unit: "helpdesk", Origin: "127.0.0.1"}, "support-call"},
	} {
		id, err := a.vault.Lookup(t.Context(), r.who, r.purpose, "call 4821", "email_pro", p.Fields["email_pro"])
		if err != nil || id != subject {
			t.Fatalf("lookup under %s: %q, %v", r.purpose, id, err)
		}
		if _, err := a.vault.Read(t.Context(), r.who, id, r.purpose, "call 4821"); err != nil {
			t.Fatalf("read under %s: %v", r.purpose, err)
		}
	}
	if _, err := (&auditlog.Integrator{Store: a.health, Signer: a.signer}).Step(t.Context()); err != nil {
		t.Fatal(err)
	}
	base := serveApp(t, a)
	b := newBrowser(t, base, 90*time.Second)
	ctx := b.ctx

	// Sign in with the code mailed to the contact.
	b.open("/portal/?lang=fr")
	b.check("portal sign-in fr", "Vos données")
	b.fill("contact", p.Fields["email_pro"])
	b.submit("portal login", "main form")
	b.check("portal code fr", "Vos données")
	code := ""
	for deadline := time.Now().Add(15 * time.Second); code == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, m := range mx.Mails() {
			if m.Header(t).Get(deliver.HeaderEvent) == me.CodeKind && len(m.To) == 1 && m.To[0] == p.Fields["email_pro"] {
				if c := regexp.MustCompile(`(?:est|is) ?: (\d{6,8})`).FindStringSubmatch(m.Body(t)); c != nil {
					code = c[1]
				}
			}
		}
	}
	if code == "" {
		t.Fatalf("no sign-in code in the mailbox (%d mails)", len(mx.Mails()))
	}
	b.fill("code", code)
	b.submit("portal code", "main form")
	b.check("portal fr", "Vos données")
	if shown := b.text(); !strings.Contains(shown, "case-handling") || !strings.Contains(shown, "support-call") || !strings.Contains(shown, "helpdesk") {
		t.Fatalf("the person's page lacks the two reads:\n%s", shown)
	}

	// verify clicks the Verify button of the row of purpose and returns
	// what its live region then says.
	verify := func(name, purpose string) string {
		t.Helper()
		row := `#history tr[data-purpose="` + purpose + `"]`
		b.do(chromedp.Click(chromedp.CSS(row + ` button.verify`)))
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const v = document.querySelector('`+row+` .verdict'); return v.classList.contains("ok") || v.classList.contains("bad") ? v.textContent : ""; })()`))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if s != "" {
				return s
			}
		}
		t.Fatalf("%s: no verdict within 10 s", name)
		return ""
	}
	if got := verify("verify fr", "case-handling"); !strings.HasPrefix(got, "Vérifiée : l'entrée n°") {
		t.Fatalf("the check of the caseworker's read: %q, want verified", got)
	}
	b.check("portal verified fr", "Vos données")
	// The same check on a history altered in transit: one byte of the
	// entry's inclusion proof, then one of its leaf.
	tamper := func(what string) {
		t.Helper()
		b.do(chromedp.Evaluate[chromedp.Void](`(() => {
  const real = window.__realFetch || window.fetch;
  window.__realFetch = real;
  window.fetch = async (url, opts) => {
    const r = await real(url, opts);
    if (!String(url).includes("accesses.json")) return r;
    const h = await r.json();
    const seq = Number(document.querySelector('#history tr[data-purpose="support-call"]').dataset.seq);
    const e = h.entries.find(x => x.seq === seq);
    const flip = (s) => { const b = atob(s); const i = b.length - 1; return btoa(b.slice(0, i) + String.fromCharCode(b.charCodeAt(i) ^ 1)); };
    if (` + "`" + what + "`" + ` === "proof") e.proof[0] = flip(e.proof[0]); else e.leaf = flip(e.leaf);
    return new Response(JSON.stringify(h), {status: 200, headers: {"Content-Type": "application/json"}});
  };
})()`))
	}
	tamper("proof")
	if got := verify("verify tampered proof", "support-call"); !strings.HasPrefix(got, "Échec de la vérification : la preuve d'inclusion") {
		t.Errorf("the check of a history whose proof was altered: %q, want it failed on the inclusion proof", got)
	}
	tamper("leaf")
	if got := verify("verify tampered leaf", "support-call"); !strings.HasPrefix(got, "Échec de la vérification") {
		t.Errorf("the check of a history whose leaf was altered: %q, want it failed", got)
	}
	b.check("portal failed fr", "Vos données")
	b.open("/portal/?lang=en")
	b.check("portal en", "Your data")
	if got := verify("verify en", "support-call"); !strings.HasPrefix(got, "Verified: entry ") {
		t.Errorf("the check of the help desk's read: %q, want verified", got)
	}
	b.check("portal verified en", "Your data")

	// A request: an erasure, followed with its due date.
	b.open("/portal/?lang=fr")
	b.click("portal requests fr", `nav a[href="/portal/requests"]`)
	b.check("portal requests fr", "Vos demandes")
	b.do(chromedp.Click(chromedp.ID("kind-erasure")))
	b.fill("text", "Je ne travaille plus ici depuis mars.")
	b.submit("portal request filed fr", "main form")
	b.check("portal request filed fr", "Vos demandes")
	if shown := b.text(); !strings.Contains(shown, "Effacement (art. 17)") || !strings.Contains(shown, "En attente de réponse") || !regexp.MustCompile(`Réponse due au plus tard le \d+ \S+ 20\d\d`).MatchString(shown) ||
		!strings.Contains(shown, "Je ne travaille plus ici") {
		t.Errorf("the requests page does not show the erasure with its due date:\n%s", shown)
	}
	b.open("/portal/requests?lang=en")
	b.check("portal requests en", "Your requests")
	if shown := b.text(); !regexp.MustCompile(`An answer is due by \d+ [A-Z][a-z]+ 20\d\d`).MatchString(shown) {
		t.Errorf("the requests page in English lacks the due date:\n%s", shown)
	}

	// A block: the help desk's unit, among those that read the record.
	b.open("/portal/blocks?lang=fr")
	b.check("portal blocks fr", "Bloquer un organisme")
	b.do(chromedp.SetValue(chromedp.ID("target"), "unit:helpdesk"))
	b.submit("portal blocked fr", "main form.stack")
	b.check("portal blocked fr", "Bloquer un organisme")
	if shown := b.text(); !strings.Contains(shown, "Unité helpdesk") || !strings.Contains(shown, "Retirer") {
		t.Errorf("the blocks page does not list the block:\n%s", shown)
	}
	if _, err := a.vault.Read(t.Context(), identity.Actor{ID: agent.Operator.ID, Role: "support", Unit: "helpdesk", Origin: "127.0.0.1"}, subject, "support-call", "call 4822"); err == nil {
		t.Error("the help desk reads the record the person blocked it from")
	}
	b.open("/portal/blocks?lang=en")
	b.check("portal blocks en", "Block an organisation")
	if shown := b.text(); !strings.Contains(shown, "Unit helpdesk") || !strings.Contains(shown, "Remove") {
		t.Errorf("the blocks page in English does not list the block:\n%s", shown)
	}

	// Sign out: the pages then show nothing of the person's.
	b.submit("portal signed out", "header form")
	b.check("portal signed out en", "Sign out")
	for _, path := range []string{"/portal/requests", "/portal/blocks", "/portal/accesses.json"} {
		b.open(path)
		if shown := b.text(); strings.Contains(shown, "helpdesk") || strings.Contains(shown, "travaille") || strings.Contains(shown, subject) {
			t.Errorf("%s after sign-out shows the person's data:\n%s", path, shown)
		}
	}
	b.open("/portal/requests")
	b.check("portal after sign-out en", "Refused")

	// Signing in again, through an OpenID Connect provider: the portal
	// offers it, the provider vouches for the professional email, and the
	// portal's own callback opens the session.
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown() })
	a.me.OIDC = &me.OIDC{Issuer: m.Issuer(), ClientID: m.ClientID, ClientSecret: m.ClientSecret,
		RedirectURL: base + "/v1/me/oidc/callback", Scopes: []string{"email"}, Claim: "email", Field: "email_pro"}
	m.QueueUser(&mockoidc.MockUser{Subject: "p1", Email: p.Fields["email_pro"], EmailVerified: true})
	b.open("/portal/?lang=en")
	b.check("portal sign-in en", "Your data")
	b.click("portal oidc", `main a[href="/portal/oidc/start"]`)
	b.check("portal oidc signed in en", "Your data")
	b.click("portal oidc continue", `main a[href="/portal/"]`)
	b.check("portal after oidc en", "Your data")
	if shown := b.text(); !strings.Contains(shown, "verification phrase") || !strings.Contains(shown, "Sign out") || !strings.Contains(shown, "support-call") {
		t.Errorf("the person's page after the provider's sign-in:\n%s", shown)
	}

	// The pages seen once above in one language, in the other: signed
	// out in French, the provider's sign-in in French, the code form in
	// English.
	b.open("/portal/?lang=fr")
	b.submit("portal signed out fr", "header form")
	b.check("portal signed out fr", "Se déconnecter")
	m.QueueUser(&mockoidc.MockUser{Subject: "p1", Email: p.Fields["email_pro"], EmailVerified: true})
	b.open("/portal/?lang=fr")
	b.click("portal oidc fr", `main a[href="/portal/oidc/start"]`)
	b.check("portal oidc signed in fr", "Vos données")
	b.click("portal oidc continue fr", `main a[href="/portal/"]`)
	b.submit("portal signed out again", "header form")
	b.open("/portal/?lang=en")
	b.fill("contact", p.Fields["email_pro"])
	b.submit("portal code en", "main form")
	b.check("portal code en", "Your data")
}
