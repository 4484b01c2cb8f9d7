package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/deliver"
	"github.com/coffre/coffre/internal/deliver/delivertest"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/me"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

// TestConsentEndToEnd: over HTTP on the demo, with mail through an
// in-process SMTP server. An HR officer (stepped up) reads a person under
// occupational-health, a purpose that asks for consent: 202 and a request;
// the person is mailed, signs in with the code mailed to them, sees the
// request in their portal and approves it; the officer's next read goes
// through once, the one after asks again; the person denies that one and
// the officer is refused. (Expiry is tested with a clock in httpapi and
// vault; break-glass in TestPersonMessages and httpapi.)
func TestConsentEndToEnd(t *testing.T) {
	t.Parallel()
	mx := delivertest.StartSMTP(t)
	// A clock the test moves on by one TOTP step between the login and the
	// step-up (a code works once).
	var skew atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	a, err := openApp(t.Context(), appOptions{dev: true, dataDir: t.TempDir(), anyHours: true, now: now, env: []string{"COFFRE_NOTICES_LANGUAGE=en"}}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	a.cfg.Partners.Listen = ""
	a.cfg.Delivery.SMTP = config.SMTP{Host: mx.Host, Port: mx.Port, StartTLS: "none", From: "coffre@example.org"}
	a.cfg.Delivery.Rates.Email = 1000
	p := synth.Make(11, 0)
	ids, _, err := a.vault.Import(t.Context(), identity.Actor{ID: "op_hr", Role: "hr-officer"}, []vault.ImportRow{{Num: 1, Unit: p.Unit, Fields: p.Fields}})
	if err != nil {
		t.Fatal(err)
	}
	subject := ids[0]
	op, err := a.auth.AddReadyOperator(t.Context(), "ines", "", "hr-officer", p.Unit)
	if err != nil {
		t.Fatal(err)
	}
	base := serveApp(t, a)
	hr := loginOperator(t, base, "ines", op)
	skew.Store(int64(30 * time.Second))
	step, _ := totp.GenerateCode(op.TOTPSecret, now())
	if st, b := send(t, "POST", base+"/v1/auth/stepup/totp", hr, nil, map[string]string{"code": step, "purpose": "occupational-health"}); st != http.StatusNoContent {
		t.Fatalf("step-up = %d %s", st, b)
	}
	skew.Store(0) // the worker's clock is the wall clock
	read := func() (int, []byte) {
		return send(t, "GET", base+"/v1/subjects/"+subject, hr, map[string]string{"Coffre-Purpose": "occupational-health", "Coffre-Reason": "referral 3"}, nil)
	}
	var asked struct {
		Consent struct{ ID, Status string } `json:"consent"`
	}
	st, b := read()
	if json.Unmarshal(b, &asked); st != http.StatusAccepted || asked.Consent.Status != "pending" {
		t.Fatalf("read under a consent purpose = %d %s, want 202 and a pending request", st, b)
	}

	// The person is mailed, and decides in the portal, signed in.
	seen := map[string]bool{}
	mail := func(kind string) string {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			for _, m := range mx.Mails() {
				if key := m.Header(t).Get(deliver.HeaderKey); m.Header(t).Get(deliver.HeaderEvent) == kind && !seen[key] {
					seen[key] = true
					return m.Body(t)
				}
			}
		}
		t.Fatalf("no %s message", kind)
		return ""
	}
	if body := mail("consent"); !strings.Contains(body, "occupational-health") || strings.Contains(body, p.Fields["family_name"]) {
		t.Errorf("consent message:\n%s", body)
	}
	var login struct {
		Token string `json:"login_token"`
	}
	post(t, base+"/v1/me/login", map[string]string{"contact": p.Fields["email_personal"]}, &login)
	code := regexp.MustCompile(`code is: (\d{6,8})`).FindStringSubmatch(mail(me.CodeKind))
	if code == nil {
		t.Fatal("no code in the code message")
	}
	var ses struct {
		Token string `json:"token"`
	}
	post(t, base+"/v1/me/login/code", map[string]string{"login_token": login.Token, "code": code[1]}, &ses)
	if st, b := send(t, "GET", base+"/v1/me/consents", ses.Token, nil, nil); st != http.StatusOK || !strings.Contains(string(b), asked.Consent.ID) {
		t.Fatalf("the person's pending requests = %d %s", st, b)
	}
	decide := func(id, decision string) {
		t.Helper()
		if st, b := send(t, "POST", base+"/v1/me/consents/"+id, ses.Token, nil, map[string]string{"decision": decision}); st != http.StatusOK {
			t.Fatalf("%s = %d %s", decision, st, b)
		}
	}
	decide(asked.Consent.ID, "approve")

	// Once: the approved read, then a new request.
	if st, b := read(); st != http.StatusOK || !strings.Contains(string(b), p.Fields["family_name"]) {
		t.Fatalf("read after approval = %d %s", st, b)
	}
	st, b = read()
	if json.Unmarshal(b, &asked); st != http.StatusAccepted || asked.Consent.Status != "pending" {
		t.Fatalf("second read after one approval = %d %s, want a new request", st, b)
	}
	mail("consent")
	decide(asked.Consent.ID, "deny")
	if st, b := read(); st != http.StatusForbidden || !strings.Contains(string(b), "consent_denied") {
		t.Fatalf("read after a denial = %d %s, want 403 consent_denied", st, b)
	}
	if st, b := send(t, "GET", base+"/v1/consents/"+asked.Consent.ID, hr, nil, nil); st != http.StatusOK || !strings.Contains(string(b), `"denied"`) {
		t.Errorf("the officer's view of the denied request = %d %s", st, b)
	}
}

// send makes a request with a bearer token, headers and a JSON body (nil:
// none), and returns the status and body.
func send(t *testing.T, method, url, token string, headers map[string]string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}
