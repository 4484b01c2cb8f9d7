package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/deliver"
	"github.com/coffre/coffre/internal/deliver/delivertest"
	"github.com/coffre/coffre/internal/httpapi/openapitest"
	"github.com/coffre/coffre/internal/store/postgres"
	"github.com/coffre/coffre/internal/store/postgres/pgtest"
)

// TestLockAlertReachesOfficer: the demo served over HTTP, on SQLite and
// on PostgreSQL, alerts configured to an in-process SMTP server and a
// webhook receiver; a caseworker probing with lookups that miss is
// locked, and the security officer's mailbox holds the alert within 5 s
// (the delay is printed), naming ids only; the webhook gets it signed;
// /metrics counts both.
func TestLockAlertReachesOfficer(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdef"
	t.Setenv("COFFRE_TEST_ALERT_HOOK_SECRET", secret)
	t.Run("sqlite", func(t *testing.T) { lockAlert(t, secret, "") })
	t.Run("postgres", func(t *testing.T) {
		pg := pgtest.Migrated(t, postgres.Digest(), postgres.Migrate)
		lockAlert(t, secret, pg)
	})
}

func lockAlert(t *testing.T, secret, pg string) {
	mx := delivertest.StartSMTP(t)
	hook := delivertest.StartHook(t, []byte(secret))

	a, err := openApp(t.Context(), appOptions{dev: true, dataDir: t.TempDir(), anyHours: true, store: pg}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	a.cfg.Partners.Listen = ""
	a.cfg.Delivery.SMTP = config.SMTP{Host: mx.Host, Port: mx.Port, StartTLS: "none", From: "coffre@example.org", ReplyTo: "soc@example.org"}
	a.cfg.Alerts = config.Alerts{Email: []string{"security@example.org"}, Webhook: config.Hook{URL: hook.URL, SecretEnv: "COFFRE_TEST_ALERT_HOOK_SECRET"}}
	op, err := a.auth.AddReadyOperator(t.Context(), "camille2", "", "caseworker", "u1")
	if err != nil {
		t.Fatal(err)
	}

	base := serveApp(t, a)
	token := loginOperator(t, base, "camille2", op)

	// Probe with addresses that are not there until the account locks.
	var locked time.Time
	for i := range 20 {
		body := fmt.Sprintf(`{"field":"email_pro","value":"nobody%d@example.org"}`, i)
		req, _ := http.NewRequest(http.MethodPost, base+"/v1/subjects/lookup", bytes.NewReader([]byte(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Coffre-Purpose", "directory")
		res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode == http.StatusLocked {
			locked = time.Now()
			break
		}
		if res.StatusCode != http.StatusNotFound && res.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("lookup %d = %d", i, res.StatusCode)
		}
	}
	if locked.IsZero() {
		t.Fatal("the probing account was never locked")
	}

	mails := mx.Wait(1, 5*time.Second)
	if len(mails) == 0 {
		t.Fatal("no alert in the security officer's mailbox within 5 s of the lock")
	}
	delay := mails[0].At.Sub(locked)
	t.Logf("lock → alert in the officer's mailbox: %v", delay.Round(time.Millisecond))
	if delay > 5*time.Second {
		t.Errorf("alert took %v, want under 5 s", delay)
	}
	m := mails[0]
	h, body := m.Header(t), m.Body(t)
	if len(m.To) != 1 || m.To[0] != "security@example.org" || !strings.Contains(h.Get("Subject"), "lock of operator "+op.Operator.ID) ||
		!strings.Contains(body, "Evidence:  audit entries ") || h.Get(deliver.HeaderKey) == "" {
		t.Errorf("alert mail to %v:\n%v\n%s", m.To, h, body)
	}
	// Ids only: neither the operator's name nor a probed value.
	if raw := string(m.Data); strings.Contains(raw, "camille2") || strings.Contains(raw, "nobody") {
		t.Errorf("the alert mail names the operator or a probed value:\n%s", raw)
	}

	deadline := time.Now().Add(5 * time.Second)
	for len(hook.Requests()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	reqs := hook.Requests()
	if len(reqs) != 1 || reqs[0].Verified != nil {
		t.Fatalf("webhook requests = %+v, want one, signed", reqs)
	}
	var got struct {
		Alert struct {
			Operator, Action string
			Evidence         []int64
		} `json:"alert"`
	}
	if err := json.Unmarshal(reqs[0].Body, &got); err != nil || got.Alert.Operator != op.Operator.ID || got.Alert.Action != "lock" || len(got.Alert.Evidence) == 0 {
		t.Errorf("webhook body = %s", reqs[0].Body)
	}

	// The metrics count them (the worker records a send just after it).
	deadline = time.Now().Add(5 * time.Second)
	for {
		_, text := getMetrics(t, base+"/metrics")
		if strings.Contains(text, `coffre_delivery_sent_total{channel="email"} 1`) && strings.Contains(text, `coffre_delivery_sent_total{channel="webhook"} 1`) &&
			strings.Contains(text, `coffre_delivery_queue_depth{channel="email"} 0`) && strings.Contains(text, "coffre_outbox_unexpanded 0") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics do not count the sends:\n%s", text)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// serveApp serves a over HTTP on a loopback port until the test ends,
// and returns its base URL.
func serveApp(t *testing.T, a *app) string {
	t.Helper()
	base, _ := startApp(t, a)
	return base
}

// startApp serves a over HTTP on a loopback port, every request and
// answer held to the OpenAPI documents, and returns its base URL and
// stop, which ends the serve and returns its error. The test's end stops
// it too: register a.close before, so that it runs after.
func startApp(t *testing.T, a *app) (base string, stop func() error) {
	t.Helper()
	a.wrap = openapitest.Wrap(t)
	ctx, cancel := context.WithCancel(t.Context())
	bound, finished := make(chan string, 1), make(chan struct{})
	var err error
	go func() {
		defer close(finished)
		err = a.serve(ctx, "127.0.0.1:0", func(addr string) { bound <- addr })
	}()
	stop = sync.OnceValue(func() error {
		cancel()
		<-finished
		return err
	})
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	select {
	case addr := <-bound:
		return "http://" + addr, stop
	case <-finished:
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	return "", stop
}

// loginOperator signs a ready operator in with password and TOTP and
// returns its session token.
func loginOperator(t *testing.T, base, username string, op *auth.NewOperator) string {
	t.Helper()
	var login struct {
		Token string `json:"login_token"`
	}
	post(t, base+"/v1/auth/login", map[string]string{"username": username, "password": op.Password}, &login)
	code, err := totp.GenerateCode(op.TOTPSecret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var session struct {
		Token string `json:"token"`
	}
	post(t, base+"/v1/auth/totp", map[string]string{"login_token": login.Token, "code": code}, &session)
	return session.Token
}

func getMetrics(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := (&http.Client{Timeout: 10 * time.Second}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestDeliverySecrets: a server refuses to start when a webhook's
// secret is missing or short, saying where it looked and never what it
// found; a secret file's final newline is not part of the secret.
func TestDeliverySecrets(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/hook.secret"
	if err := os.WriteFile(file, []byte("0123456789abcdef0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	short := dir + "/short.secret"
	if err := os.WriteFile(short, []byte("tooshort-s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("COFFRE_TEST_EMPTY_SECRET", "")
	for _, tt := range []struct {
		name string
		hook config.Hook
		want string
	}{
		{"unset variable", config.Hook{URL: "https://hook.example/x", SecretEnv: "COFFRE_TEST_EMPTY_SECRET"}, "alerts.webhook secret: the variable COFFRE_TEST_EMPTY_SECRET is empty or unset"},
		{"missing file", config.Hook{URL: "https://hook.example/x", SecretFile: dir + "/none"}, "alerts.webhook secret: open " + dir + "/none"},
		{"short", config.Hook{URL: "https://hook.example/x", SecretFile: short}, "alerts.webhook secret: too short (15 bytes)"},
		{"file", config.Hook{URL: "https://hook.example/x", SecretFile: file}, ""},
	} {
		cfg := &config.Config{Alerts: config.Alerts{Webhook: tt.hook}}
		w, err := newDeliveryWorker(cfg, nil, nil, nil, nil)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want == "":
			if h := w.Senders["webhook"].(*deliver.Webhook); string(h.Secret) != "0123456789abcdef0123" {
				t.Errorf("%s: secret %q, want the file's first line", tt.name, h.Secret)
			}
		case err == nil || !strings.HasPrefix(err.Error(), tt.want) || strings.Contains(err.Error(), "s3cret"):
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
	if w, err := newDeliveryWorker(&config.Config{}, nil, nil, nil, nil); w != nil || err != nil {
		t.Errorf("no contact: %v, %v; want no worker", w, err)
	}
}
