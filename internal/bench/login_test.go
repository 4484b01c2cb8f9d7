package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/httpapi/apitest"
	"github.com/coffre/coffre/internal/store"
)

// loginServer is the API over loopback on a fresh SQLite store, argon2id
// made cheap and login limits as given.
func loginServer(t *testing.T, limits auth.Limits) *apitest.Server {
	t.Helper()
	s := apitest.New(t, apitest.Config{})
	s.Auth.Limits = limits
	s.Serve(nil)
	return s
}

func addOperator(as *auth.Service) func(context.Context, string) error {
	return func(ctx context.Context, username string) error {
		_, err := as.AddReadyOperator(ctx, username, "", "caseworker", "ac-versailles")
		return err
	}
}

// TestLoginBench runs the login bench at a small N against the API: both
// medians reported, one audit entry per attempt, no username in clear.
// The figures are not judged (timing is the bench's to show, not a test's
// to assert).
func TestLoginBench(t *testing.T) {
	s := loginServer(t, auth.Limits{MaxFailures: 1 << 30, PerOrigin: 1 << 30})
	var progress bytes.Buffer
	rep, err := (&LoginBench{URL: s.URL, Attempts: 6, Warmup: 2, Accounts: 2, Store: s.Store, AddOperator: addOperator(s.Auth), Log: &progress}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Failed(); err != nil {
		t.Fatalf("Failed() got %v, want nil", err)
	}
	if len(rep.Known) != 6 || len(rep.Unknown) != 6 || rep.KnownMedian() <= 0 || rep.UnknownMedian() <= 0 {
		t.Errorf("samples known %d (median %s), unknown %d (median %s); want 6 each, medians > 0",
			len(rep.Known), rep.KnownMedian(), len(rep.Unknown), rep.UnknownMedian())
	}
	if rep.AuditEntries != 16 || rep.WantEntries != 16 || rep.InClear != 0 {
		t.Errorf("audit entries %d for %d attempts, %d in clear; want 16 for 16, 0", rep.AuditEntries, rep.WantEntries, rep.InClear)
	}
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(js.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"known_median_ms", "unknown_median_ms", "difference_pct"} {
		if _, ok := m[k].(float64); !ok {
			t.Errorf("JSON %s got %v, want a number", k, m[k])
		}
	}
	var text bytes.Buffer
	rep.WriteText(&text)
	for _, want := range []string{"wrong password, existing user  median ", "unknown username               median ", "difference of the medians ", "audit: 16 login.password entries for 16 attempts, 0 holding a username tried"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
}

// TestLoginBenchFails: answers other than 401 invalid_credentials (here
// the throttle's 429s) fail the run, and so does a username in clear in
// the audit log.
func TestLoginBenchFails(t *testing.T) {
	s := loginServer(t, auth.Limits{MaxFailures: 1 << 30, PerOrigin: 3})
	rep, err := (&LoginBench{URL: s.URL, Attempts: 3, Accounts: 1, Store: s.Store, AddOperator: addOperator(s.Auth)}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errors != 3 || !strings.Contains(rep.FirstError, "429") || rep.Failed() == nil {
		t.Errorf("throttled run: %d errors (first %q), Failed() %v; want 3 errors, a 429, a failure", rep.Errors, rep.FirstError, rep.Failed())
	}

	// A server that audits the username it was given.
	s = loginServer(t, auth.Limits{})
	st := s.Store
	leaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Username string }
		body, _ := io.ReadAll(r.Body)
		json.Unmarshal(body, &req)
		st.Update(r.Context(), func(ctx context.Context, tx store.Tx) error {
			return tx.AppendAudit(ctx, &audit.Entry{Time: time.Now(), Actor: "auth", Action: "login.password", Reason: req.Username, Decision: "deny:bad_credentials"})
		})
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":{"code":"invalid_credentials"}}`)
	}))
	defer leaky.Close()
	rep, err = (&LoginBench{URL: leaky.URL, Attempts: 2, Accounts: 1, Store: st, AddOperator: addOperator(s.Auth)}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.InClear != 4 || rep.AuditEntries != 4 || rep.Failed() == nil || !strings.Contains(rep.Failed().Error(), "4 audit entries hold a username tried") {
		t.Errorf("leaky server: %d in clear of %d entries, Failed() %v; want 4 of 4 and a failure", rep.InClear, rep.AuditEntries, rep.Failed())
	}
}
