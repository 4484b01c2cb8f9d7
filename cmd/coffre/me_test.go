package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/deliver"
	"github.com/coffre/coffre/internal/deliver/delivertest"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/me"
	"github.com/coffre/coffre/internal/notice"
	"github.com/coffre/coffre/internal/outbox"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/postgres"
	"github.com/coffre/coffre/internal/store/postgres/pgtest"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

// TestPersonVerifiesHistory, end to end over HTTP on the demo server: a
// caseworker reads a person; the person signs in with the one-time code
// (mailed to them by the delivery worker, like the read's notice, which
// names the read's entry as SEQ:LEAFHASH); GET /v1/me/accesses shows the read with its proofs once the
// integrator has signed it; `coffre audit verify-subject` accepts the
// saved answer, and rejects it with an entry removed from the middle, or
// without its newest entry when --newest names it.
func TestPersonVerifiesHistory(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) { personVerifiesHistory(t, "") })
	t.Run("postgres", func(t *testing.T) {
		pg := pgtest.Migrated(t, postgres.Digest(), postgres.Migrate)
		personVerifiesHistory(t, pg)
	})
}

func personVerifiesHistory(t *testing.T, pg string) {
	ctx := t.Context()
	a, err := openApp(ctx, appOptions{dev: true, dataDir: t.TempDir(), anyHours: true, store: pg}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.close() })
	a.cfg.Partners.Listen = ""
	mx := delivertest.StartSMTP(t)
	a.cfg.Delivery.SMTP = config.SMTP{Host: mx.Host, Port: mx.Port, StartTLS: "none", From: "coffre@example.org"}
	a.cfg.Delivery.Rates.Email = 1000
	p := synth.Make(6, 0)
	ids, _, err := a.vault.Import(ctx, identity.Actor{ID: "op_hr", Role: "hr-officer"}, []vault.ImportRow{{Num: 1, Unit: p.Unit, Fields: p.Fields}})
	if err != nil {
		t.Fatal(err)
	}
	subject := ids[0]
	op, err := a.auth.AddReadyOperator(ctx, "lea", "", "caseworker", p.Unit)
	if err != nil {
		t.Fatal(err)
	}

	base := serveApp(t, a)

	// The caseworker reads the person.
	var login struct {
		Token string `json:"login_token"`
	}
	post(t, base+"/v1/auth/login", map[string]string{"username": "lea", "password": op.Password}, &login)
	code, _ := totp.GenerateCode(op.TOTPSecret, time.Now())
	var ses struct {
		Token string `json:"token"`
	}
	post(t, base+"/v1/auth/totp", map[string]string{"login_token": login.Token, "code": code}, &ses)
	st, body := call(t, "GET", base+"/v1/subjects/"+subject, ses.Token, map[string]string{"Coffre-Purpose": "case-handling"})
	if st != http.StatusOK {
		t.Fatalf("the caseworker's read = %d %s", st, body)
	}
	var view struct {
		AuditSeq int64 `json:"audit_seq"`
	}
	json.Unmarshal(body, &view)

	// The person is told: the notice in their mailbox names the entry,
	// by index and leaf hash.
	mail := func(kind string) string {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			for _, m := range mx.Mails() {
				if m.Header(t).Get(deliver.HeaderEvent) == kind {
					return m.Body(t)
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		var ms []outbox.Message
		a.health.View(ctx, func(ctx context.Context, tx store.Tx) (err error) { ms, err = tx.Messages(ctx, 0, 100); return err })
		for _, m := range ms {
			t.Logf("queued: %s %s %s tries %d %s", m.Kind, m.Channel, m.Status, m.Tries, m.LastError)
		}
		t.Fatalf("no %s message in the person's mailbox", kind)
		return ""
	}
	told := regexp.MustCompile(`(\d+):([0-9a-f]{64})`).FindStringSubmatch(mail(notice.Kind))
	if told == nil || told[1] != fmt.Sprint(view.AuditSeq) {
		t.Fatalf("the notice names %v, want entry %d with its leaf hash", told, view.AuditSeq)
	}

	// The person signs in with a code sent to their address, by mail.
	post(t, base+"/v1/me/login", map[string]string{"contact": p.Fields["email_personal"]}, &login)
	m := regexp.MustCompile(`(?:code is|est) ?: (\d{6,8})`).FindStringSubmatch(mail(me.CodeKind))
	if m == nil {
		t.Fatal("no code in the code message")
	}
	personCode := m[1]
	post(t, base+"/v1/me/login/code", map[string]string{"login_token": login.Token, "code": personCode}, &ses)

	// The history, once the integrator has signed the read (about 1 s).
	var h *auditlog.History
	deadline := time.Now().Add(10 * time.Second)
	for h == nil {
		st, body = call(t, "GET", base+"/v1/me/accesses", ses.Token, nil)
		if st == http.StatusOK {
			var got auditlog.History
			json.Unmarshal(body, &got)
			for _, x := range got.Entries {
				// The read, and the code and sign-in after it, all signed.
				if x.Seq == view.AuditSeq && x.Summary != nil && x.Summary.Action == "read" && x.Summary.Role == "caseworker" && len(x.Proof) > 0 &&
					len(got.Entries) >= 3 {
					h = &got
				}
			}
		} else if st != http.StatusServiceUnavailable { // 503: no checkpoint yet
			t.Fatalf("GET /v1/me/accesses = %d %s", st, body)
		}
		if h == nil {
			if time.Now().After(deadline) {
				t.Fatalf("the read (entry %d) is not in the history after 10 s: %s", view.AuditSeq, body)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	if len(h.Entries) < 3 {
		t.Fatalf("the history holds %d entries, want the code, the sign-in and the read at least", len(h.Entries))
	}

	vkey := a.signer.VerifierKey()
	dir := t.TempDir()
	save := func(name string, v any) string {
		f := filepath.Join(dir, name)
		var b []byte
		if raw, ok := v.([]byte); ok {
			b = raw
		} else {
			b, _ = json.Marshal(v)
		}
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	// The newest entry a notice named: the read's (what the person got).
	newest := told[0]
	// The answer as saved, byte for byte.
	code2, stdout, stderr := runCLI(t, "audit", "verify-subject", save("history.json", body), "--key", vkey, "--newest", newest)
	if code2 != 0 || !strings.Contains(stdout, "history of "+subject+" verified") || !strings.Contains(stdout, "holds the notice's entry") {
		t.Fatalf("verify-subject = %d, %q, %q", code2, stdout, stderr)
	}
	middle := *h
	middle.Entries = append(append([]auditlog.HistoryEntry{}, h.Entries[:1]...), h.Entries[2:]...)
	code2, _, stderr = runCLI(t, "audit", "verify-subject", save("middle.json", &middle), "--key", vkey)
	if code2 != 1 || !strings.Contains(stderr, "an entry is missing") {
		t.Errorf("verify-subject without a middle entry = %d, %q", code2, stderr)
	}
	// A history that stops before the entry the notice named.
	cut := *h
	for i, x := range h.Entries {
		if x.Seq == view.AuditSeq {
			cut.Entries = h.Entries[i+1:]
		}
	}
	code2, _, stderr = runCLI(t, "audit", "verify-subject", save("cut.json", &cut), "--key", vkey, "--newest", newest)
	if code2 != 1 || !strings.Contains(stderr, "leaves it out") {
		t.Errorf("verify-subject without the newest entry = %d, %q", code2, stderr)
	}
	// A summary that says other than its leaf is caught too.
	lie := *h
	lie.Entries = append([]auditlog.HistoryEntry{}, h.Entries...)
	for i := range lie.Entries {
		if lie.Entries[i].Seq == view.AuditSeq {
			s := *lie.Entries[i].Summary
			s.Purpose = "directory"
			lie.Entries[i].Summary = &s
		}
	}
	code2, _, stderr = runCLI(t, "audit", "verify-subject", save("lie.json", &lie), "--key", vkey)
	if code2 != 1 || !strings.Contains(stderr, "summary's purpose") {
		t.Errorf("verify-subject with a false summary = %d, %q", code2, stderr)
	}
}

// call sends a request with a bearer token and headers, and returns the
// status and body.
func call(t *testing.T, method, url, token string, headers map[string]string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
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
