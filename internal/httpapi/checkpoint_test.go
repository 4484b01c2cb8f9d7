package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/httpapi"
	"github.com/coffre/coffre/internal/metrics"
	"github.com/coffre/coffre/internal/store"
	"github.com/transparency-dev/merkle/proof"
)

func TestCheckpointRoute(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(checkOpenAPI(t, (&httpapi.Server{Vault: e.vault, Auth: e.auth, Checkpoints: e.store}).Handler()))
	defer srv.Close()
	get := func() (*http.Response, []byte) {
		resp, err := http.Get(srv.URL + "/v1/audit/checkpoint")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, body
	}
	if resp, body := get(); resp.StatusCode != http.StatusNotFound || !bytes.Contains(body, []byte(`"no_checkpoint"`)) {
		t.Fatalf("before any checkpoint: %d %s", resp.StatusCode, body)
	}
	e.addOperator(t, "camille", "caseworker", "ac-versailles") // writes an audit entry
	signer, err := audit.NewSigner(auditlog.Origin, bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&auditlog.Integrator{Store: e.store, Signer: signer}).Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	resp, body := get()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("checkpoint: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	cp, err := audit.Open(body, signer.VerifierKey())
	if err != nil || cp.Size != 1 {
		t.Fatalf("served checkpoint does not verify: %+v, %v", cp, err)
	}
}

func TestAuditEntriesRoute(t *testing.T) {
	e := newEnv(t)
	aud := e.login(t, e.addOperator(t, "alex", "auditor", "ac-versailles"))
	cw := e.login(t, e.addOperator(t, "camille", "caseworker", "ac-versailles"))
	r := e.call(t, req{Method: "GET", Path: "/v1/audit/entries?from=1&to=100", Token: cw})
	r.want(t, http.StatusForbidden, "forbidden")
	r = e.call(t, req{Method: "GET", Path: "/v1/audit/entries?from=x&to=100", Token: aud})
	r.want(t, http.StatusBadRequest, "invalid_request")
	r = e.call(t, req{Method: "GET", Path: "/v1/audit/entries?from=1&to=100", Token: aud})
	r.want(t, http.StatusOK, "")
	var got struct {
		Entries []struct {
			Seq      int64  `json:"seq"`
			Actor    string `json:"actor"`
			Action   string `json:"action"`
			Decision string `json:"decision"`
		} `json:"entries"`
	}
	decodeStrictLoose(t, r.Body, &got)
	if len(got.Entries) < 5 || got.Entries[0].Seq != 1 {
		t.Fatalf("entries: %+v", got.Entries)
	}
	// The caseworker's refused read of the log, then the auditor's malformed
	// request, are the last two entries.
	n := len(got.Entries)
	if d, r := got.Entries[n-2], got.Entries[n-1]; d.Action != "audit.entries" || d.Decision != "deny:forbidden" || r.Action != "refused" {
		t.Errorf("last entries %+v, %+v; want the caseworker's denial then the auditor's refused request", d, r)
	}
}

func decodeStrictLoose(t *testing.T, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
}

func TestProofRoutes(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(checkOpenAPI(t, (&httpapi.Server{Vault: e.vault, Auth: e.auth, Checkpoints: e.store}).Handler()))
	defer srv.Close()
	for i := range 5 {
		e.addOperator(t, fmt.Sprintf("op%d", i), "caseworker", "ac-versailles")
	}
	signer, _ := audit.NewSigner(auditlog.Origin, bytes.Repeat([]byte{3}, 32))
	if _, err := (&auditlog.Integrator{Store: e.store, Signer: signer}).Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	var entries []audit.Entry
	e.store.View(context.Background(), func(ctx context.Context, tx store.Tx) error {
		var err error
		entries, err = tx.AuditEntries(ctx, 1, 100, 100)
		return err
	})
	resp, err := http.Get(srv.URL + "/v1/audit/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	note, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	cp, err := audit.Open(note, signer.VerifierKey())
	if err != nil || cp.Size != 5 {
		t.Fatalf("checkpoint %+v, %v", cp, err)
	}
	getProof := func(path string) (int, [][]byte) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Hashes [][]byte `json:"hashes"`
		}
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out.Hashes
	}
	status, p := getProof("/v1/audit/proof/inclusion?index=3&size=5")
	if status != 200 {
		t.Fatalf("inclusion: %d", status)
	}
	if err := proof.VerifyInclusion(audit.Hasher, 3, 5, audit.LeafHash(&entries[3]), p, cp.Root); err != nil {
		t.Fatalf("served inclusion proof: %v", err)
	}
	if status, _ := getProof("/v1/audit/proof/consistency?from=2&to=5"); status != 200 {
		t.Fatalf("consistency: %d", status)
	}
	for path, want := range map[string]int{
		"/v1/audit/proof/inclusion?index=3&size=6": 404,
		"/v1/audit/proof/inclusion?index=5&size=5": 400,
		"/v1/audit/proof/inclusion?index=x&size=5": 400,
		"/v1/audit/proof/consistency?from=0&to=5":  400,
		"/v1/audit/proof/consistency?from=4&to=3":  400,
	} {
		if status, _ := getProof(path); status != want {
			t.Errorf("GET %s = %d, want %d", path, status, want)
		}
	}
}

func TestReadinessAndMetrics(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(checkOpenAPI(t, (&httpapi.Server{Vault: e.vault, Auth: e.auth, Checkpoints: e.store,
		AuditMaxLag: time.Minute, Metrics: metrics.Handler(e.store, slog.New(slog.DiscardHandler), nil)}).Handler()))
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, _ := get("/readyz"); status != 200 {
		t.Fatalf("empty log: readyz %d", status)
	}
	// Entries stamped by the test clock (months ago) and no checkpoint:
	// the integrator is "behind" by far more than a minute.
	e.addOperator(t, "camille", "caseworker", "ac-versailles")
	e.addOperator(t, "hugo", "hr-officer", "ac-versailles")
	if status, body := get("/readyz"); status != 503 || !strings.Contains(body, "audit_lagging") {
		t.Fatalf("lagging: readyz %d %s", status, body)
	}
	_, m := get("/metrics")
	for _, want := range []string{"coffre_audit_entries_sequenced 2", "coffre_audit_entries_integrated 0"} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	signer, _ := audit.NewSigner(auditlog.Origin, bytes.Repeat([]byte{3}, 32))
	if _, err := (&auditlog.Integrator{Store: e.store, Signer: signer}).Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	if status, body := get("/readyz"); status != 200 {
		t.Fatalf("caught up: readyz %d %s", status, body)
	}
	if _, m := get("/metrics"); !strings.Contains(m, "coffre_audit_entries_integrated 2") || !strings.Contains(m, "coffre_audit_integration_lag_seconds 0") {
		t.Errorf("metrics after integration:\n%s", m)
	}
}

// TestRefusalsAreAudited: input refused before the vault (a malformed id,
// a bad purpose header) still leaves an audit entry, naming the route only.
func TestRefusalsAreAudited(t *testing.T) {
	e := newEnv(t)
	cw := e.login(t, e.addOperator(t, "camille", "caseworker", "ac-versailles"))
	probe := "sub_marie.dupont@example.org"
	e.call(t, req{Method: "GET", Path: "/v1/subjects/" + probe, Token: cw, Purpose: "directory"}).want(t, http.StatusBadRequest, "invalid_request")
	var es []audit.Entry
	e.store.View(context.Background(), func(ctx context.Context, tx store.Tx) error {
		var err error
		es, err = tx.AuditEntries(ctx, 1, 1000, 1000)
		return err
	})
	last := es[len(es)-1]
	if last.Action != "refused" || last.Decision != "deny:invalid" || last.Reason != "GET /v1/subjects/{id}" {
		t.Fatalf("last entry %+v; want the refused request", last)
	}
	for _, e := range es {
		if strings.Contains(e.Reason+e.Subject, "dupont") {
			t.Fatalf("entry %d holds the probed value", e.Seq)
		}
	}
}

// TestAuditKeyRoute: the verifier key is served as text, and the served
// checkpoint verifies against it; a server without one says so.
func TestAuditKeyRoute(t *testing.T) {
	e := newEnv(t)
	signer, err := audit.NewSigner(auditlog.Origin, bytes.Repeat([]byte{4}, 32))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key    string
		status int
	}{{"", http.StatusNotFound}, {signer.VerifierKey(), http.StatusOK}} {
		srv := httptest.NewServer(checkOpenAPI(t, (&httpapi.Server{Vault: e.vault, Auth: e.auth, Checkpoints: e.store, AuditKey: tc.key}).Handler()))
		resp, err := http.Get(srv.URL + "/v1/audit/key")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		srv.Close()
		if resp.StatusCode != tc.status {
			t.Fatalf("key %q: %d %s", tc.key, resp.StatusCode, body)
		}
		if tc.key == "" {
			if !bytes.Contains(body, []byte(`"no_audit_key"`)) {
				t.Errorf("no key: %s", body)
			}
			continue
		}
		e.addOperator(t, "kim", "caseworker", "ac-versailles") // an audit entry to sign
		if _, err := (&auditlog.Integrator{Store: e.store, Signer: signer}).Step(context.Background()); err != nil {
			t.Fatal(err)
		}
		var note []byte
		if err := e.store.View(context.Background(), func(ctx context.Context, tx store.Tx) error {
			c, err := tx.LatestCheckpoint(ctx)
			if err == nil {
				note = c.Note
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := audit.Open(note, strings.TrimSpace(string(body))); err != nil {
			t.Errorf("the checkpoint does not verify against the served key %q: %v", body, err)
		}
	}
}
