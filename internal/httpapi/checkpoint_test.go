package httpapi_test

import (
	"bytes"
	"context"
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
