package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/httpapi"
)

func TestCheckpointRoute(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer((&httpapi.Server{Vault: e.vault, Auth: e.auth, Checkpoints: e.store}).Handler())
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
	last := got.Entries[len(got.Entries)-1]
	if last.Action != "audit.entries" || last.Decision != "deny:forbidden" {
		t.Errorf("the caseworker's refused read of the log is not the last entry: %+v", last)
	}
}

func decodeStrictLoose(t *testing.T, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
}
