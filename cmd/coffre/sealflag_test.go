package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/httpapi/openapitest"
	"github.com/coffre/coffre/internal/seal"
	"github.com/pquerna/otp/totp"
)

// node is one serveSealed over a shared data directory.
type node struct {
	base string
	logs *lockedWriter
	stop func()
}

func startNode(t *testing.T, o appOptions) *node {
	t.Helper()
	o.wrap = openapitest.Wrap(t) // every request and answer held to the OpenAPI documents
	cfg, err := loadConfig(o)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Partners.Listen = ""
	f, err := seal.Read(seal.Path(o.dataDir))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	bound, done := make(chan string, 1), make(chan error, 1)
	n := &node{logs: &lockedWriter{w: &strings.Builder{}}}
	go func() {
		done <- serveSealed(ctx, o, cfg, f, "127.0.0.1:0", n.logs, func(addr string) { bound <- addr })
	}()
	select {
	case addr := <-bound:
		n.base = "http://" + addr
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	var once bool
	n.stop = func() {
		if once {
			return
		}
		once = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}
	t.Cleanup(n.stop)
	return n
}

// unsealWith enters shares into n until it reports unsealed.
func (n *node) unsealWith(t *testing.T, shares ...string) {
	t.Helper()
	var st seal.Status
	for _, file := range shares {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		post(t, n.base+"/v1/sys/unseal", map[string]string{"share": strings.TrimSpace(string(raw))}, &st)
	}
	if st.Sealed {
		t.Fatalf("%s still sealed after %d shares", n.base, len(shares))
	}
}

// eventually503 polls path on n until it answers 503 sealed, for at most
// 3 seconds.
func (n *node) eventuallySealed(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		st, code := apiGet(t, n.base+path)
		if st == http.StatusServiceUnavailable && code == "sealed" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s on the other node still %d %s 3 s after the seal", path, st, code)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSealReachesEveryNode: two nodes over one store (a SQLite file
// shared by two stores, as two processes would); sealing node A makes
// node B answer 503 sealed within the watch period; B unsealed again with
// its shares stays unsealed and does not unseal A; a node started after
// the seal starts sealed, and one started before it and unsealed after it
// serves.
func TestSealReachesEveryNode(t *testing.T) {
	dir, out := t.TempDir(), filepath.Join(t.TempDir(), "shares")
	code, stdout, stderr := runCLI(t, "keys", "init", "--config", demoYAML, "--data", dir, "--shares", "3", "--threshold", "2", "--out", out, "--json")
	if code != 0 {
		t.Fatalf("keys init = %d, %q", code, stderr)
	}
	var res keysInitJSON
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runCLI(t, "operator", "add", "marie", "--role", "admin", "--unit", "ac-lyon", "--config", demoYAML, "--data", dir,
		"--share-file", res.Items[0].File, "--share-file", res.Items[1].File, "--json")
	if code != 0 {
		t.Fatalf("operator add = %d, %q %q", code, stdout, stderr)
	}
	var added struct {
		Code string `json:"enrolment_code"`
	}
	if err := json.Unmarshal([]byte(stdout), &added); err != nil || added.Code == "" {
		t.Fatalf("operator add --json: %v %q", err, stdout)
	}
	o := appOptions{configPath: demoYAML, dataDir: dir}
	shares := []string{res.Items[0].File, res.Items[2].File}
	a, b := startNode(t, o), startNode(t, o)
	a.unsealWith(t, shares...)
	b.unsealWith(t, shares...)

	var enrolled struct {
		Secret string `json:"totp_secret"`
	}
	post(t, a.base+"/v1/auth/enrol", map[string]string{"username": "marie", "code": added.Code, "password": "correct horse battery staple"}, &enrolled)
	var login struct {
		Token string `json:"login_token"`
	}
	post(t, a.base+"/v1/auth/login", map[string]string{"username": "marie", "password": "correct horse battery staple"}, &login)
	totpCode, err := totp.GenerateCode(enrolled.Secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var session struct {
		Token string `json:"token"`
	}
	post(t, a.base+"/v1/auth/totp", map[string]string{"login_token": login.Token, "code": totpCode}, &session)
	if st, code := apiGet(t, b.base+"/v1/subjects/sub_x"); st != http.StatusUnauthorized {
		t.Fatalf("node B before the seal = %d %s, want 401 (served, no session)", st, code)
	}

	t.Setenv("COFFRE_TOKEN", session.Token)
	if code, stdout, stderr := runCLI(t, "seal", "--reason", "incident", "--url", a.base); code != 0 {
		t.Fatalf("seal on node A = %d, %q %q", code, stdout, stderr)
	}
	b.eventuallySealed(t, "/v1/subjects/sub_x")
	if st, code := apiGet(t, b.base+"/readyz"); st != http.StatusServiceUnavailable || code != "sealed" {
		t.Errorf("node B /readyz after the seal = %d %s, want 503 sealed", st, code)
	}
	if got := strings.Count(b.logs.String(), "seal flag moved"); got != 1 {
		t.Errorf("node B logged the flag %d times, want once:\n%s", got, b.logs.String())
	}

	// A node started after the seal starts sealed, and stays so until its
	// own shares: neither the flag nor another node unseals it.
	c := startNode(t, o)
	if st, code := apiGet(t, c.base+"/v1/subjects/sub_x"); st != http.StatusServiceUnavailable || code != "sealed" {
		t.Errorf("node C started after the seal = %d %s, want 503 sealed", st, code)
	}
	b.unsealWith(t, shares...)
	time.Sleep(2 * sealWatchEvery)
	if st, code := apiGet(t, b.base+"/v1/subjects/sub_x"); st != http.StatusUnauthorized {
		t.Errorf("node B unsealed again = %d %s, want 401 (served)", st, code)
	}
	for name, n := range map[string]*node{"A": a, "C": c} {
		if st, code := apiGet(t, n.base+"/v1/subjects/sub_x"); st != http.StatusServiceUnavailable || code != "sealed" {
			t.Errorf("node %s after B's unseal = %d %s, want 503 sealed", name, st, code)
		}
	}
	for name, n := range map[string]*node{"A": a, "B": b, "C": c} {
		if strings.Contains(n.logs.String(), "coffre-share-1:") {
			t.Errorf("node %s's log holds a share", name)
		}
	}
}
