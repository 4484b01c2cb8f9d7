package httpapi_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coffre/coffre/internal/metrics"
	"github.com/coffre/coffre/internal/synth"
)

// TestRequestMetrics: every request is counted and timed by route
// pattern, method, status and purpose; a subject's id never reaches a
// label (the route is the pattern), nor does a purpose the policy does
// not declare (its label is empty).
func TestRequestMetrics(t *testing.T) {
	rq := metrics.NewRequests()
	e := newEnvOpts(t, envOptions{requests: rq})
	op := e.addOperator(t, "camille", "caseworker", "ac-lyon")
	tok := e.login(t, op)
	id := e.create(t, tok, synth.Make(3, 0))
	e.read(t, tok, id, "case-handling", "").want(t, http.StatusOK, "")
	e.read(t, tok, id, "case-handling", "").want(t, http.StatusOK, "")
	e.read(t, tok, id, "no-such-purpose-"+id[4:12], "")
	e.call(t, req{Method: "GET", Path: "/v1/nowhere/" + id, Token: tok})
	e.call(t, req{Method: "X-" + id[4:12], Path: "/v1/subjects/" + id, Token: tok})

	rec := httptest.NewRecorder()
	metrics.Handler(e.store, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, rq).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	text := rec.Body.String()
	for _, want := range []string{
		`coffre_http_requests_total{listener="api",method="GET",purpose="case-handling",route="GET /v1/subjects/{id}",status="200"} 2`,
		`coffre_http_requests_total{listener="api",method="GET",purpose="",route="GET /v1/subjects/{id}",status="400"} 1`,
		`coffre_http_requests_total{listener="api",method="POST",purpose="",route="POST /v1/subjects",status="201"} 1`,
		`coffre_http_requests_total{listener="api",method="GET",purpose="",route="/",status="404"} 1`,
		`coffre_http_request_duration_seconds_count{listener="api",method="GET",purpose="case-handling",route="GET /v1/subjects/{id}"} 2`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(text, id) || strings.Contains(text, id[4:12]) {
		t.Error("/metrics names a subject's id")
	}
}

// TestPartnerRequestMetrics: the partner listener's requests are counted
// too, apart from the API's (listener "partners"), by route pattern: a
// partner's pseudonym never reaches a label.
func TestPartnerRequestMetrics(t *testing.T) {
	p := newPartnerEnv(t)
	_, psn, c, _ := p.lookupAndRead(t)
	p.do(c, "GET", "/v1/subjects/"+psn, "wrong-key", nil)

	rec := httptest.NewRecorder()
	metrics.Handler(p.store, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, p.requests).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	text := rec.Body.String()
	for _, want := range []string{
		`coffre_http_requests_total{listener="partners",method="POST",purpose="referral",route="POST /v1/subjects/lookup",status="200"} 1`,
		`coffre_http_requests_total{listener="partners",method="GET",purpose="referral",route="GET /v1/subjects/{id}",status="200"} 1`,
		`coffre_http_requests_total{listener="partners",method="GET",purpose="referral",route="GET /v1/subjects/{id}",status="401"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(text, psn) || strings.Contains(text, `listener="api"`) {
		t.Errorf("/metrics names a pseudonym, or counts a partner request as the API's:\n%s", text)
	}
}
