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

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/httpapi/openapitest"
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

// TestUnsealEncryptedShares: the holders of shares that keys init
// --recipient encrypted to them unseal a server with coffre unseal
// --identity; without their identity, or with another's, nothing reaches
// the server.
func TestUnsealEncryptedShares(t *testing.T) {
	ids, idFiles := holders(t, 3)
	dir, out := t.TempDir(), filepath.Join(t.TempDir(), "shares")
	args := []string{"keys", "init", "--config", demoYAML, "--data", dir, "--shares", "3", "--threshold", "2", "--out", out, "--json"}
	for _, id := range ids {
		args = append(args, "--recipient", id.Recipient().String())
	}
	code, stdout, stderr := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("keys init --recipient = %d, %q", code, stderr)
	}
	var res keysInitJSON
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	base, logs, stop := startSealed(t, dir)
	defer stop()
	refusals := []struct {
		name string
		args []string
		want string
	}{
		{"no identity", []string{"--share-file", res.Items[0].File}, "is encrypted with age: add --identity FILE"},
		{"another holder's identity", []string{"--share-file", res.Items[0].File, "--identity", idFiles[1]}, "this identity does not open the share file " + res.Items[0].File},
		{"an identity as the share", []string{"--share-file", idFiles[0], "--identity", idFiles[0]}, "holds no Coffre share"},
	}
	for _, tt := range refusals {
		code, _, stderr := runCLI(t, append([]string{"unseal", "--url", base}, tt.args...)...)
		if code != 2 || !strings.Contains(stderr, tt.want) {
			t.Errorf("unseal, %s = %d, %q; want a usage error with %q", tt.name, code, stderr, tt.want)
		}
	}
	var status seal.Status
	if code, stdout, _ := runCLI(t, "unseal", "--url", base, "--share-file", res.Items[2].File, "--identity", idFiles[2], "--json"); code != 0 || json.Unmarshal([]byte(stdout), &status) != nil || status.Progress != 1 {
		t.Fatalf("unseal with share 3 = %d, %q; want sealed, 1 of 2 (the refusals reached no server)", code, stdout)
	}
	code, stdout, stderr = runCLI(t, "unseal", "--url", base, "--share-file", res.Items[0].File, "--identity", idFiles[0])
	if code != 0 || !strings.Contains(stdout, "unsealed") {
		t.Fatalf("unseal with share 1 = %d, %q %q; want unsealed", code, stdout, stderr)
	}
	if strings.Contains(logs.String(), "coffre-share-1:") || strings.Contains(logs.String(), "AGE-SECRET-KEY") {
		t.Errorf("the server's log holds key material:\n%s", logs.String())
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
func startSealed(t *testing.T, dir string, change ...func(*config.Config)) (base string, logs *lockedWriter, stop func()) {
	t.Helper()
	// Any hours: the test runs at any time, and administration (a key
	// rotation) keeps the roles' working hours.
	o := appOptions{configPath: demoYAML, dataDir: dir, anyHours: true, wrap: openapitest.Wrap(t)}
	cfg, err := loadConfig(o)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Partners.Listen = "" // a change may open it again
	for _, c := range change {
		c(cfg)
	}
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
	var once sync.Once
	return base, logs, func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		})
	}
}

// TestSealByQuorum: where seal.by is quorum, M share holders seal a
// serving server with no account, each with a share; the officer's route
// is closed; the seal is audited and every data route answers 503.
func TestSealByQuorum(t *testing.T) {
	dir, out := t.TempDir(), filepath.Join(t.TempDir(), "shares")
	code, stdout, stderr := runCLI(t, "keys", "init", "--config", demoYAML, "--data", dir, "--shares", "3", "--threshold", "2", "--out", out, "--json")
	if code != 0 {
		t.Fatalf("keys init = %d, %q", code, stderr)
	}
	var res keysInitJSON
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	otherDir, otherOut := t.TempDir(), filepath.Join(t.TempDir(), "other")
	if code, _, stderr := runCLI(t, "keys", "init", "--data", otherDir, "--shares", "2", "--threshold", "2", "--out", otherOut); code != 0 {
		t.Fatalf("keys init (another set) = %d, %q", code, stderr)
	}
	others, _ := filepath.Glob(filepath.Join(otherOut, "*"))

	base, _, stop := startSealed(t, dir, func(c *config.Config) { c.Seal.ByQuorum = true })
	defer stop()
	if code, _, stderr := runCLI(t, "seal", "--reason", "INC-1", "--share-file", res.Items[0].File, "--url", base); code == 0 || !strings.Contains(stderr, "sealed") {
		t.Errorf("a seal share on a sealed server = %d, %q", code, stderr)
	}
	for _, f := range []string{res.Items[0].File, res.Items[1].File} {
		if code, _, stderr := runCLI(t, "unseal", "--share-file", f, "--url", base); code != 0 {
			t.Fatalf("unseal = %d, %q", code, stderr)
		}
	}
	t.Setenv("COFFRE_TOKEN", "cfs_anything")
	if code, _, stderr := runCLI(t, "seal", "--reason", "INC-1", "--url", base); code == 0 || !strings.Contains(stderr, "seal_by_quorum") {
		t.Errorf("an officer's seal where a quorum seals = %d, %q", code, stderr)
	}
	if code, _, stderr := runCLI(t, "seal", "--share-file", res.Items[2].File, "--url", base); code == 0 || !strings.Contains(stderr, "--reason is required") {
		t.Errorf("a seal share without a reason = %d, %q", code, stderr)
	}
	if code, _, stderr := runCLI(t, "seal", "--reason", "INC-1", "--share-file", others[0], "--url", base); code == 0 || !strings.Contains(stderr, "invalid_share") {
		t.Errorf("a seal share of another set = %d, %q", code, stderr)
	}
	code, stdout, stderr = runCLI(t, "seal", "--reason", "INC-1", "--share-file", res.Items[2].File, "--url", base)
	if code != 0 || !strings.Contains(stdout, "1 of 2; still serving") {
		t.Fatalf("first seal share = %d, %q %q", code, stdout, stderr)
	}
	if st, _ := apiGet(t, base+"/v1/account/sessions"); st != http.StatusUnauthorized {
		t.Fatalf("after one seal share of two: %d, want 401 (still served)", st)
	}
	code, stdout, stderr = runCLI(t, "seal", "--reason", "INC-1", "--share-file", res.Items[0].File, "--url", base)
	if code != 0 || !strings.Contains(stdout, "sealed by a quorum") {
		t.Fatalf("second seal share = %d, %q %q", code, stdout, stderr)
	}
	if st, code := apiGet(t, base+"/v1/account/sessions"); st != http.StatusServiceUnavailable || code != "sealed" {
		t.Errorf("a data route after a quorum seal = %d %s, want 503 sealed", st, code)
	}
	stop()
	a, err := openApp(t.Context(), appOptions{configPath: demoYAML, dataDir: dir, shareFiles: []string{res.Items[0].File, res.Items[1].File}}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	var seals []audit.Entry
	if err := a.store.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
		es, err := tx.AuditEntries(ctx, 1, 1<<30, 1000)
		for _, e := range es {
			if e.Action == "seal" {
				seals = append(seals, e)
			}
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(seals) != 1 || seals[0].Actor != "quorum:"+res.Set || seals[0].Reason != "INC-1" || seals[0].Decision != "allow" {
		t.Fatalf("seal entries = %+v, want one by quorum:%s with the reason", seals, res.Set)
	}
}
