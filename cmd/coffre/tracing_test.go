package main

import (
	"io"
	"net/http"
	"testing"

	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/tracing/tracingtest"
)

// TestServeTraces serves the demo with tracing.endpoint set to a real
// OTLP/HTTP receiver: the server's spans reach it by the time serve has
// returned (the shutdown flushes them), named by route pattern.
func TestServeTraces(t *testing.T) {
	rcv := tracingtest.New(t)
	a, err := openApp(t.Context(), appOptions{dev: true, dataDir: t.TempDir()}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.close() })
	a.cfg.Partners.Listen = "" // not needed here
	a.cfg.Tracing = config.Tracing{Endpoint: rcv.URL, SampleRatio: 1}
	base, stop := startApp(t, a)
	for _, path := range []string{"/healthz", "/v1/subjects/sub_0000000000000000000000000z"} {
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	if err := stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}
	got := map[string]string{}
	for _, s := range rcv.Spans() {
		got[s.Name] = s.Attrs["http.response.status_code"]
		if s.Resource["service.name"] != "coffre" || s.Resource["service.version"] == "" {
			t.Errorf("span %s: resource %v, want service coffre and a version", s.Name, s.Resource)
		}
	}
	if got["GET /healthz"] != "200" || got["GET /v1/subjects/{id}"] != "401" {
		t.Errorf("spans received (name: status) = %v, want GET /healthz: 200 and GET /v1/subjects/{id}: 401", got)
	}
}
