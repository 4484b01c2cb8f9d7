package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/drill"
	"github.com/coffre/coffre/internal/store/postgres"
	"github.com/coffre/coffre/internal/store/postgres/pgtest"
)

// TestConsoleAcrossNodes: a console form served by one node is accepted
// by another (the CSRF key derives from the keyring every node shares),
// as behind a load balancer without sticky sessions.
func TestConsoleAcrossNodes(t *testing.T) {
	t.Parallel()
	pg := pgtest.Migrated(t, postgres.Digest(), postgres.Migrate)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clock := drill.NewClock(time.Now())
	f, err := startNodes(ctx, 2, appOptions{dev: true, dataDir: t.TempDir(), store: pg, now: clock.Now})
	defer f.stop()
	if err != nil {
		t.Fatal(err)
	}
	env := &drill.Env{}
	if err := f.serve(ctx, env); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get(env.URL + "/console/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the sign-in page:\n%s", page)
	}
	resp, err = hc.PostForm(env.Nodes[0]+"/console/signin", url.Values{"csrf": {string(m[1])}, "username": {"nobody"}, "password": {"wrong-password-1"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// Accepted, and the password checked: 401 for a wrong one (a
	// refused form is 403).
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the sign-in form of node 0 posted to node 1: %d, want 401\n%.400s", resp.StatusCode, body)
	}
}
