package httpapi_test

import (
	"bytes"
	"context"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/httpapi"
	"github.com/coffre/coffre/internal/metrics"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/tracing"
	"github.com/coffre/coffre/internal/tracing/tracingtest"
)

// traced is e with its API served again, by a server that makes spans
// through p (and counts the requests, as coffre serve does): the same
// vault, auth and clock, so that e's helpers work on it.
func traced(t *testing.T, e *env, p *tracing.Provider) *env {
	t.Helper()
	api := &httpapi.Server{Vault: e.vault, Auth: e.auth, Me: e.me, Logger: slog.New(slog.DiscardHandler), MaxBodyBytes: maxBody, ReasonMaxLen: reasonMax,
		Requests: metrics.NewRequests(), Tracing: p.TracerProvider()}
	srv := httptest.NewServer(checkOpenAPI(t, api.Handler()))
	t.Cleanup(srv.Close)
	te := *e
	te.srv = srv
	return &te
}

func startTracing(t *testing.T, endpoint string) *tracing.Provider {
	t.Helper()
	p, err := tracing.Start(context.Background(), tracing.Config{Endpoint: endpoint, Version: "test", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("tracing.Start: %v", err)
	}
	t.Cleanup(func() { p.Shutdown(context.Background()) })
	return p
}

// TestTracing: each API request is one server span named by its route
// pattern, with the method, the route, the status and a declared purpose,
// a caller's traceparent its parent; the bytes the collector receives
// hold none of the person's values, the subject's id, the operator, the
// reason, the session or a caller's tracestate.
func TestTracing(t *testing.T) {
	rcv := tracingtest.New(t)
	p := startTracing(t, rcv.URL)
	e := traced(t, newEnv(t), p)
	op := e.addOperator(t, "camille.traced", "caseworker", "ac-normandie")
	tok := e.login(t, op)
	person, _ := person(t, 0, true)
	id := e.create(t, tok, person)
	const reason = "TICKET-73519 appel de Mme la directrice"
	e.read(t, tok, id, "case-handling", reason).want(t, http.StatusOK, "")
	e.read(t, tok, id, "no-such-purpose", "").want(t, http.StatusBadRequest, "invalid_request")
	e.call(t, req{Method: "BREW", Path: "/v1/subjects/" + id, Token: tok}).want(t, http.StatusMethodNotAllowed, "method_not_allowed")
	const (
		traceID  = "4bf92f3577b34da6a3ce929d0e0e4736"
		parentID = "00f067aa0ba902b7"
		state    = "vendor=tracestatesecret42"
	)
	e.call(t, req{Method: "GET", Path: "/v1/subjects/" + id, Token: tok, Purpose: "case-handling",
		Header: map[string]string{"traceparent": "00-" + traceID + "-" + parentID + "-01", "tracestate": state}}).want(t, http.StatusOK, "")
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}

	type attrs = map[string]string
	read := func(status, purpose string) attrs {
		a := attrs{"http.request.method": "GET", "http.route": "/v1/subjects/{id}", "http.response.status_code": status}
		if purpose != "" {
			a["coffre.purpose"] = purpose
		}
		return a
	}
	want := []struct {
		name  string
		attrs attrs
	}{
		{"POST /v1/auth/login", attrs{"http.request.method": "POST", "http.route": "/v1/auth/login", "http.response.status_code": "200"}},
		{"POST /v1/auth/totp", attrs{"http.request.method": "POST", "http.route": "/v1/auth/totp", "http.response.status_code": "200"}},
		{"POST /v1/subjects", attrs{"http.request.method": "POST", "http.route": "/v1/subjects", "http.response.status_code": "201"}},
		{"GET /v1/subjects/{id}", read("200", "case-handling")},
		{"GET /v1/subjects/{id}", read("400", "")},
		{"HTTP /v1/subjects/{id}", attrs{"http.request.method": "_OTHER", "http.route": "/v1/subjects/{id}", "http.response.status_code": "405"}},
		{"GET /v1/subjects/{id}", read("200", "case-handling")},
	}
	spans := rcv.Spans()
	if len(spans) != len(want) {
		var names []string
		for _, s := range spans {
			names = append(names, s.Name)
		}
		t.Fatalf("received %d spans %q, want %d", len(spans), names, len(want))
	}
	for i, s := range spans { // a span is sent when it ends: in the order of the requests
		if s.Name != want[i].name || !maps.Equal(s.Attrs, want[i].attrs) || s.Kind != "SPAN_KIND_SERVER" {
			t.Errorf("span %d = %s %s %v, want the server span %s %v", i, s.Kind, s.Name, s.Attrs, want[i].name, want[i].attrs)
		}
		if s.Resource["service.name"] != "coffre" {
			t.Errorf("span %d: resource %v, want service.name coffre", i, s.Resource)
		}
	}
	last := spans[len(spans)-1]
	if last.TraceID != traceID || last.ParentSpanID != parentID || last.TraceState != "" {
		t.Errorf("span with a traceparent: trace %s, parent %s, tracestate %q; want trace %s, parent %s, no tracestate", last.TraceID, last.ParentSpanID, last.TraceState, traceID, parentID)
	}
	for _, s := range spans[:len(spans)-1] {
		if s.ParentSpanID != "" || s.TraceID == traceID {
			t.Errorf("span %s without a traceparent has a parent %q or the caller's trace", s.Name, s.ParentSpanID)
		}
	}

	sent := rcv.Bytes()
	secrets := map[string]string{"subject id": id, "subject id's key": id[len("sub_"):], "operator": op.Operator.Username, "operator id": op.Operator.ID,
		"password": op.Password, "reason": reason, "session token": tok, "tracestate": "tracestatesecret42", "unit": person.Unit}
	for _, f := range slices.Sorted(maps.Keys(person.Fields)) {
		if v := person.Fields[f]; len(v) >= 4 {
			secrets["field "+f] = v
		}
	}
	for what, v := range secrets {
		if bytes.Contains(sent, []byte(v)) {
			t.Errorf("the exported spans hold the %s", what)
		}
	}
}

// TestTracingCollectorDown: with the collector's port closed, or a
// collector that takes the connection and never answers, requests are
// answered as promptly as without traces.
func TestTracingCollectorDown(t *testing.T) {
	for _, tc := range []struct {
		name     string
		endpoint func(testing.TB) string
	}{
		{"closed port", tracingtest.Down},
		{"hanging", tracingtest.Hanging},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startTracing(t, tc.endpoint(t))
			e := traced(t, newEnv(t), p)
			tok := e.login(t, e.addOperator(t, "camille", "caseworker", "ac-normandie"))
			id := e.create(t, tok, synth.Make(seed, 1))
			// Past a batch (512 spans): an export starts while requests go on.
			for i := range 600 {
				start := time.Now()
				if i%10 == 0 {
					e.read(t, tok, id, "case-handling", "").want(t, http.StatusOK, "")
				} else {
					e.call(t, req{Method: "GET", Path: "/healthz"}).want(t, http.StatusOK, "")
				}
				// An export waits up to 5 s for a collector that hangs.
				if d := time.Since(start); d > 3*time.Second {
					t.Fatalf("request %d took %s with the collector %s", i, d, tc.name)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			p.Shutdown(ctx)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Shutdown took %s past a 200ms deadline", d)
			}
		})
	}
}

// TestPartnerTracing: a partner's request is a server span like the
// API's, named by its route pattern, marked as the partner listener's;
// its pseudonym and API key reach no span.
func TestPartnerTracing(t *testing.T) {
	rcv := tracingtest.New(t)
	tp := startTracing(t, rcv.URL)
	p := newPartnerEnv(t, func(s *httpapi.Server) { s.Tracing = tp.TracerProvider() })
	ml, psn, _, who := p.lookupAndRead(t)
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	want := map[string]map[string]string{
		"POST /v1/subjects/lookup": {"http.request.method": "POST", "http.route": "/v1/subjects/lookup", "http.response.status_code": "200", "coffre.purpose": "referral", "coffre.listener": "partners"},
		"GET /v1/subjects/{id}":    {"http.request.method": "GET", "http.route": "/v1/subjects/{id}", "http.response.status_code": "200", "coffre.purpose": "referral", "coffre.listener": "partners"},
	}
	spans := rcv.Spans()
	if len(spans) != len(want) {
		t.Fatalf("received %d spans, want %d", len(spans), len(want))
	}
	for _, s := range spans {
		if !maps.Equal(s.Attrs, want[s.Name]) || s.Kind != "SPAN_KIND_SERVER" {
			t.Errorf("span %s %s %v, want the server span %v", s.Kind, s.Name, s.Attrs, want[s.Name])
		}
	}
	for _, secret := range []string{psn, ml.APIKey, who.Fields["email_pro"]} {
		if bytes.Contains(rcv.Bytes(), []byte(secret)) {
			t.Errorf("the spans hold %q", secret)
		}
	}
}
