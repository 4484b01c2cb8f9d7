package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/reindex"
	"github.com/coffre/coffre/internal/rotate"
	"github.com/coffre/coffre/internal/seal"
	"github.com/coffre/coffre/internal/store"
	"github.com/pquerna/otp/totp"
)

const demoYAML = "../../internal/config/demo.yaml"

// TestServeSealed: serve --config without a sealed keyring refuses a key
// file in the data directory (no development-key warning); with one it
// starts sealed, coffre unseal enters shares one by one until it serves,
// and offline commands refuse the sealed data directory.
func TestServeSealed(t *testing.T) {
	fresh := t.TempDir()
	code, _, stderr := runCLI(t, "serve", "--config", demoYAML, "--data", fresh)
	if code == 0 || !strings.Contains(stderr, "coffre keys init") || strings.Contains(stderr, "DEVELOPMENT") {
		t.Fatalf("serve --config on a fresh data directory = %d, %q; want a refusal pointing at keys init, no development key", code, stderr)
	}

	dir, out := t.TempDir(), filepath.Join(t.TempDir(), "shares")
	code, stdout, stderr := runCLI(t, "keys", "init", "--config", demoYAML, "--data", dir, "--shares", "3", "--threshold", "2", "--out", out, "--json")
	if code != 0 {
		t.Fatalf("keys init = %d, %q", code, stderr)
	}
	var res keysInitJSON
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLI(t, "operator", "add", "marie", "--role", "caseworker", "--unit", "ac-lyon", "--config", demoYAML, "--data", dir); code == 0 || !strings.Contains(stderr, "sealed keyring") {
		t.Errorf("operator add on a sealed data directory = %d, %q; want a refusal", code, stderr)
	}
	// On the host, with M holders present, an offline command opens it
	// (the first administrator's account); with fewer it refuses.
	add := []string{"operator", "add", "marie", "--role", "admin", "--unit", "ac-lyon", "--config", demoYAML, "--data", dir, "--share-file", res.Items[1].File}
	if code, _, stderr := runCLI(t, add...); code == 0 || !strings.Contains(stderr, "1 of 2 shares") {
		t.Errorf("operator add with one share = %d, %q; want a refusal", code, stderr)
	}
	code, stdout, stderr = runCLI(t, append(add, "--share-file", res.Items[0].File, "--json")...)
	if code != 0 || strings.Contains(stderr, "DEVELOPMENT") {
		t.Fatalf("operator add with two shares = %d, %q %q", code, stdout, stderr)
	}
	var added struct {
		Code string `json:"enrolment_code"`
	}
	if err := json.Unmarshal([]byte(stdout), &added); err != nil || added.Code == "" {
		t.Fatalf("operator add --json: %v %q", err, stdout)
	}

	base, logs, stop := startSealed(t, dir)
	if st, code := apiGet(t, base+"/readyz"); st != http.StatusServiceUnavailable || code != "sealed" {
		t.Errorf("/readyz while sealed = %d %s, want 503 sealed", st, code)
	}
	if st, code := apiGet(t, base+"/v1/subjects/sub_x"); st != http.StatusServiceUnavailable || code != "sealed" {
		t.Errorf("a data route while sealed = %d %s, want 503 sealed", st, code)
	}
	code, stdout, stderr = runCLI(t, "unseal", "--share-file", res.Items[0].File, "--url", base)
	if code != 0 || !strings.Contains(stdout, "1 of 2 shares entered") {
		t.Fatalf("first unseal = %d, %q %q", code, stdout, stderr)
	}
	code, _, stderr = runCLI(t, "unseal", "--share-file", res.Items[0].File, "--url", base)
	if code == 0 || !strings.Contains(stderr, "share already entered") {
		t.Errorf("repeated share = %d, %q; want a refusal", code, stderr)
	}
	code, stdout, stderr = runCLI(t, "unseal", "--share-file", res.Items[2].File, "--url", base)
	if code != 0 || !strings.Contains(stdout, "unsealed") {
		t.Fatalf("second unseal = %d, %q %q", code, stdout, stderr)
	}
	if st, code := apiGet(t, base+"/v1/subjects/sub_x"); st != http.StatusUnauthorized {
		t.Errorf("a data route once unsealed = %d %s, want 401 (served, no session)", st, code)
	}
	code, _, stderr = runCLI(t, "unseal", "--share-file", res.Items[1].File, "--url", base)
	if code == 0 || !strings.Contains(stderr, "already unsealed") {
		t.Errorf("unseal of an unsealed server = %d, %q", code, stderr)
	}
	t.Setenv("COFFRE_TOKEN", "cfs_nothing")
	if code, _, stderr := runCLI(t, "seal", "--reason", "test", "--url", base); code == 0 || !strings.Contains(stderr, "unauthenticated") {
		t.Errorf("seal without a session = %d, %q", code, stderr)
	}

	// The administrator enrols, logs in and seals with coffre seal.
	var enrolled struct {
		Secret string `json:"totp_secret"`
	}
	post(t, base+"/v1/auth/enrol", map[string]string{"username": "marie", "code": added.Code, "password": "correct horse battery staple"}, &enrolled)
	var login struct {
		Token string `json:"login_token"`
	}
	post(t, base+"/v1/auth/login", map[string]string{"username": "marie", "password": "correct horse battery staple"}, &login)
	totpCode, err := totp.GenerateCode(enrolled.Secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var session struct {
		Token string `json:"token"`
	}
	post(t, base+"/v1/auth/totp", map[string]string{"login_token": login.Token, "code": totpCode}, &session)
	t.Setenv("COFFRE_TOKEN", session.Token)

	// A rotation: version 2 wraps new keys after the activation delay,
	// the pass rewraps marie's TOTP seed, and version 1 retires.
	if code, _, stderr := runCLI(t, "keys", "rotate", "--url", base); code == 0 || !strings.Contains(stderr, "--reason is required") {
		t.Errorf("keys rotate without a reason = %d, %q", code, stderr)
	}
	if code, stdout, stderr := runCLI(t, "keys", "rotate", "--reason", "test", "--url", base); code != 0 || !strings.Contains(stdout, "root key version 2 added") {
		t.Fatalf("keys rotate = %d, %q %q", code, stdout, stderr)
	}
	if code, _, stderr := runCLI(t, "keys", "rotate", "--reason", "test", "--url", base); code == 0 || !strings.Contains(stderr, "rotation_in_progress") {
		t.Errorf("a second rotation at once = %d, %q; want rotation_in_progress", code, stderr)
	}
	var ks rotate.Status
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(time.Second) {
		code, stdout, stderr := runCLI(t, "keys", "status", "--url", base, "--json")
		if code != 0 || json.Unmarshal([]byte(stdout), &ks) != nil {
			t.Fatalf("keys status = %d, %q %q", code, stdout, stderr)
		}
		if len(ks.Versions) == 2 && ks.Versions[0].State == rotate.StateRetired {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("version 1 not retired after 20 s: %s", stdout)
		}
	}
	if ks.Current != 2 || ks.Versions[1].Keys != 1 || ks.Rewrap == nil || ks.Rewrap.Rewrapped != 1 {
		t.Fatalf("keys status after the rotation: %+v, rewrap %+v; want version 2 current with marie's secret", ks, ks.Rewrap)
	}
	if code, stdout, _ := runCLI(t, "keys", "status", "--url", base); code != 0 || !strings.Contains(stdout, "1        retired") {
		t.Errorf("keys status = %d, %q", code, stdout)
	}

	// A rebuild of the blind index: generation 2 is built, lookups switch
	// to it, and generation 1's entries go.
	if code, stdout, stderr := runCLI(t, "keys", "reindex", "--reason", "test", "--url", base); code != 0 || !strings.Contains(stdout, "blind index generation 2 begun") {
		t.Fatalf("keys reindex = %d, %q %q", code, stdout, stderr)
	}
	if code, _, stderr := runCLI(t, "keys", "reindex", "--reason", "test", "--url", base); code == 0 || !strings.Contains(stderr, "reindex_in_progress") {
		t.Errorf("a second rebuild at once = %d, %q; want reindex_in_progress", code, stderr)
	}
	var bs struct {
		BlindIndex *reindex.Status `json:"blind_index"`
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Second) {
		code, stdout, stderr := runCLI(t, "keys", "status", "--url", base, "--json")
		if code != 0 || json.Unmarshal([]byte(stdout), &bs) != nil || bs.BlindIndex == nil {
			t.Fatalf("keys status = %d, %q %q", code, stdout, stderr)
		}
		if g := bs.BlindIndex.Generations; len(g) == 2 && g[0].State == reindex.StateRetired {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("blind index generation 1 not retired after 30 s: %s", stdout)
		}
	}
	if bi := bs.BlindIndex; bi.Active != 2 || bi.Generations[1].State != reindex.StateActive || bi.Rebuild == nil || bi.Rebuild.Done == nil {
		t.Fatalf("blind index after the rebuild: %+v", bi)
	}
	if code, stdout, _ := runCLI(t, "keys", "status", "--url", base); code != 0 || !strings.Contains(stdout, "rebuild of generation 2: built") {
		t.Errorf("keys status = %d, %q", code, stdout)
	}

	if code, stdout, stderr := runCLI(t, "seal", "--reason", "test", "--url", base); code != 0 || !strings.Contains(stdout, "sealed") {
		t.Fatalf("seal = %d, %q %q", code, stdout, stderr)
	}
	for _, path := range []string{"/v1/subjects/sub_x", "/v1/account/sessions", "/readyz", "/v1/audit/checkpoint"} {
		if st, code := apiGet(t, base+path); st != http.StatusServiceUnavailable || code != "sealed" {
			t.Errorf("GET %s after the seal = %d %s, want 503 sealed", path, st, code)
		}
	}
	code, stdout, _ = runCLI(t, "unseal", "--share-file", res.Items[1].File, "--url", base, "--json")
	var st seal.Status
	if code != 0 || json.Unmarshal([]byte(stdout), &st) != nil || !st.Sealed || st.Progress != 1 {
		t.Errorf("unseal after the seal = %d, %q; want sealed, 1 of 2", code, stdout)
	}
	// Unsealed again, the server finds version 2 in the store: marie's
	// seed, rewrapped under it, still opens.
	if code, stdout, stderr := runCLI(t, "unseal", "--share-file", res.Items[2].File, "--url", base); code != 0 || !strings.Contains(stdout, "unsealed") {
		t.Fatalf("unseal after the rotation = %d, %q %q", code, stdout, stderr)
	}
	if st, _ := apiGet(t, base+"/v1/account/sessions"); st != http.StatusUnauthorized {
		t.Errorf("a data route unsealed after the rotation = %d, want 401 (served)", st)
	}
	stop()
	if strings.Contains(logs.String(), "DEVELOPMENT") || strings.Contains(logs.String(), "coffre-share-1:") {
		t.Errorf("the sealed server's log mentions a development key or a share:\n%s", logs.String())
	}
	// Opened on the host with two shares, the keyring has version 2 alone
	// (version 1 retired), and marie's TOTP seed opens under it.
	a, err := openApp(t.Context(), appOptions{configPath: demoYAML, dataDir: dir, shareFiles: []string{res.Items[0].File, res.Items[1].File}}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	if got := a.keys.Ring.Versions(); len(got) != 1 || got[0] != 2 {
		t.Fatalf("versions after the rotation, on the host: %v, want [2]", got)
	}
	if err := a.store.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
		op, err := tx.GetOperatorByName(ctx, "marie")
		if err != nil {
			return err
		}
		seed, err := a.keys.Ring.OpenSecret(auth.TOTPLabel(op.ID), op.TOTPSecret)
		if err != nil || string(seed) != enrolled.Secret {
			t.Errorf("marie's TOTP seed after the rotation: %v (matches: %v)", err, string(seed) == enrolled.Secret)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// lockedWriter is an io.Writer safe for the server's goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.(*strings.Builder).String()
}

// apiGet gets url and returns the status and the error code.
func apiGet(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := (&http.Client{Timeout: 10 * time.Second}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	json.NewDecoder(res.Body).Decode(&e)
	return res.StatusCode, e.Error.Code
}

// post posts body as JSON to url and decodes a 200 answer into out.
func post(t *testing.T, url string, body, out any) {
	t.Helper()
	b, _ := json.Marshal(body)
	res, err := (&http.Client{Timeout: 10 * time.Second}).Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("POST %s = %d %s", url, res.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
}

// startSealed runs serveSealed on dir and returns its base URL, its log
// and a stop function that checks it ended cleanly.
func startSealed(t *testing.T, dir string) (base string, logs *lockedWriter, stop func()) {
	t.Helper()
	// Any hours: the test runs at any time, and administration (a key
	// rotation) keeps the roles' working hours.
	o := appOptions{configPath: demoYAML, dataDir: dir, anyHours: true}
	cfg, err := loadConfig(o)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Partners.Listen = ""
	f, err := seal.Read(seal.Path(dir))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	bound, done := make(chan string, 1), make(chan error, 1)
	logs = &lockedWriter{w: &strings.Builder{}}
	go func() {
		done <- serveSealed(ctx, o, cfg, f, "127.0.0.1:0", logs, func(addr string) { bound <- addr })
	}()
	select {
	case addr := <-bound:
		base = "http://" + addr
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("serve did not start")
	}
	return base, logs, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}
}
