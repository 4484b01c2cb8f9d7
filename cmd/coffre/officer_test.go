package main

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

// TestOfficerInBrowser drives the supervisor's, the security officer's
// and the incident pages of the console (issue 17) in headless Chromium
// on the demo server. A caseworker asks for a budget extension under the
// find form; the supervisor of the unit approves it with a fresh TOTP
// code; the caseworker's budgets show it. A scripted scrape locks a
// caseworker; the security officer sees the lock among the alerts and the
// accounts locked now, ends another caseworker's sessions, ends
// everyone's through the confirmation page, locks that caseworker by
// hand, views the canaries and the audit log's state, opens an incident,
// sees its clocks, computes its impact (counts) and records a containment
// act. Every page passes axe-core (b.check).
func TestOfficerInBrowser(t *testing.T) {
	t.Parallel()
	// The demo wants an approver's account a week old; this test's are new.
	a := consoleApp(t, "COFFRE_GUARD_APPROVER_MIN_AGE=0s")
	p := synth.Make(23, 0)
	if _, failed, err := a.vault.Import(t.Context(), identity.Actor{ID: "op_hr", Role: "hr-officer"}, []vault.ImportRow{{Num: 1, Unit: p.Unit, Fields: p.Fields}}); err != nil || len(failed) > 0 {
		t.Fatalf("import: %v %v", failed, err)
	}
	lea, err := a.auth.AddReadyOperator(t.Context(), "lea", "", "caseworker", p.Unit)
	if err != nil {
		t.Fatal(err)
	}
	sue, err := a.auth.AddReadyOperator(t.Context(), "sue", "", "supervisor", p.Unit)
	if err != nil {
		t.Fatal(err)
	}
	sam, err := a.auth.AddReadyOperator(t.Context(), "sam", "", "security-officer", "security")
	if err != nil {
		t.Fatal(err)
	}
	zoe, err := a.auth.AddReadyOperator(t.Context(), "zoe", "", "caseworker", p.Unit)
	if err != nil {
		t.Fatal(err)
	}
	maxOp, err := a.auth.AddReadyOperator(t.Context(), "max", "", "caseworker", p.Unit)
	if err != nil {
		t.Fatal(err)
	}
	scraper := maxOp.Operator
	base := serveApp(t, a)
	b := newBrowser(t, base, 120*time.Second)
	ctx := b.ctx
	shows := func(step string, want ...string) {
		t.Helper()
		shown := b.text()
		for _, w := range want {
			if !strings.Contains(shown, w) {
				t.Fatalf("%s: the page does not show %q; it reads:\n%s", step, w, shown)
			}
		}
	}
	signOut := func() {
		t.Helper()
		b.submit("sign-out", "header form")
		b.check("signed out", "Sign out")
	}

	// The caseworker asks for 20 more people for 4 hours.
	b.signIn("caseworker ", "lea", lea, time.Now().Add(-30*time.Second))
	b.check("find", "Find")
	b.fill("ext-subjects", "20")
	b.fill("ext-hours", "4")
	b.fill("ext-reason", "Relance des dossiers de mars (opération 12)")
	b.submit("extension asked", "#extension")
	b.check("extension asked", "Find")
	shows("extension asked", "sent to your unit's supervisors: 20 more people for 4 h")
	ext := regexp.MustCompile(`request (ext_[a-z0-9]+) sent`).FindStringSubmatch(b.text())[1]
	signOut()

	// The supervisor sees it waiting and approves it with a fresh code.
	b.signIn("supervisor ", "sue", sue, time.Now().Add(-30*time.Second))
	b.check("supervisor find", "Find")
	b.click("extensions", `nav a[href="/console/extensions"]`)
	b.check("extensions", "Extension requests")
	shows("extensions", ext, lea.Operator.ID, "Relance des dossiers de mars (opération 12)")
	code, err := totp.GenerateCode(sue.TOTPSecret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b.fill("code-"+ext, code)
	b.submit("approve", "main section.ext form")
	b.check("approved", "Extension requests")
	shows("approved", "extension "+ext+" is granted: 20 more people for 4 h", "No request is waiting.")
	signOut()

	// The caseworker's budgets show the extension.
	b.signIn("caseworker again ", "lea", lea, time.Now())
	b.check("find with extension", "Find")
	shows("find with extension", "extension granted: people still allowed : 20, until")
	signOut()

	// A scripted scrape: probing emails that are not there locks max.
	sa := identity.Actor{ID: scraper.ID, Role: "caseworker", Unit: p.Unit, Origin: "127.0.0.1"}
	locked := false
	for i := 0; i < 100 && !locked; i++ {
		_, err := a.vault.Lookup(t.Context(), sa, "directory", "", "email_pro", fmt.Sprintf("nobody.%d@ac-scrape.fr", i))
		locked = errors.Is(err, access.ErrLocked)
	}
	if !locked {
		t.Fatal("the scrape was not locked within 100 lookups")
	}
	// Zoe works through the API: a session for the officer to end.
	loginOperator(t, base, "zoe", zoe)

	b.signIn("officer ", "sam", sam, time.Now())
	b.check("alerts", "alerts")
	lockedNow, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector("#locked") || {}).innerText || ""`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(lockedNow, scraper.ID) {
		t.Fatalf("the scrape's lock is not among the accounts locked now: %q", lockedNow)
	}

	// Sessions: zoe's, then everyone's through the confirmation page.
	b.click("sessions", `nav a[href="/console/sessions"]`)
	b.check("sessions", "sessions")
	b.fill("revoke-operator", zoe.Operator.ID)
	b.fill("revoke-reason", "laptop reported stolen")
	b.submit("revoke", "#revoke")
	b.check("revoked", "sessions")
	shows("revoked", "1 session(s) of "+zoe.Operator.ID+" ended")
	b.fill("all-reason", "breach drill: everyone signs in again")
	b.submit("revoke all", "#revoke-all")
	b.check("confirm", "everyone")
	shows("confirm", "Every open session of every operator ends, except yours", "breach drill: everyone signs in again")
	b.submit("revoke all confirmed", "#confirm")
	b.check("revoked all", "sessions")
	shows("revoked all", "yours stays open")

	// A lock by hand.
	b.click("alerts", `nav a[href="/console/"]`)
	b.check("alerts again", "alerts")
	b.fill("lock-operator", zoe.Operator.ID)
	b.fill("lock-reason", "credentials phished, under review")
	b.submit("lock", "#lock")
	b.check("locked by hand", "alerts")
	lockedNow, err = chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#locked").innerText`))
	if err != nil || !strings.Contains(lockedNow, zoe.Operator.ID) || !strings.Contains(lockedNow, "manual") || !strings.Contains(lockedNow, scraper.ID) {
		t.Fatalf("the accounts locked now: %q, %v; want zoe (manual) and max", lockedNow, err)
	}

	// Canaries and the audit log's state.
	b.click("canaries", `nav a[href="/console/canaries"]`)
	b.check("canaries", "Canaries")
	shows("canaries", "No canary has been read.")
	b.click("audit", `nav a[href="/console/audit"]`)
	for i := 0; i < 50 && !strings.Contains(b.text(), "Entries in the latest signed checkpoint"); i++ {
		time.Sleep(200 * time.Millisecond) // the integrator signs every second
		b.open("/console/audit")
	}
	b.check("audit", "audit log")
	shows("audit", "Entries in the latest signed checkpoint", "The integrator's lag", "answers, reads and writes")

	// An incident: opened, its clocks, its impact, a containment act.
	b.click("incidents", `nav a[href="/console/incidents"]`)
	b.check("incidents", "breach register")
	b.fill("title", "Scrape from a caseworker account")
	b.fill("detection", "guard alert (misses)")
	b.do(chromedp.SetValue(chromedp.ID("from"), time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04")))
	b.fill("operators", scraper.ID)
	b.submit("open incident", "#open")
	b.check("incident", "Incident inc_")
	shows("incident", "GDPR art. 33(1)", "NIS2: early warning (24 h)", "23 hours", "2 days 23 hours", "Not computed yet.")
	b.submit("impact", "#impact-form")
	b.check("impact", "Incident inc_")
	shows("impact", "impact computed.", "People exposed", "People only attempted")
	b.do(chromedp.SetValue(chromedp.ID("act"), "revoke"))
	b.submit("contain", "#contain")
	b.check("contained", "Incident inc_")
	shows("contained", "act “revoke” run and recorded.")
	timeline, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#timeline").innerText`))
	if err != nil || !strings.Contains(timeline, "revoke") || !strings.Contains(timeline, "opened") || !strings.Contains(timeline, "impact") {
		t.Errorf("the timeline: %q, %v; want opened, impact, revoke", timeline, err)
	}
	for _, v := range p.Fields {
		if len(v) > 3 && strings.Contains(b.text(), v) {
			t.Errorf("the incident page shows a person's value %q", v)
		}
	}
	b.click("register", `nav a[href="/console/incidents"]`)
	b.check("register", "breach register")
	shows("register", "Scrape from a caseworker account", "contained")
}
