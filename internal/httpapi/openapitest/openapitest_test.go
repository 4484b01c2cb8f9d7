package openapitest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// reporter is a testing.TB that keeps what Check reports, and the
// cleanups, for the test to run.
type reporter struct {
	testing.TB
	cleanups []func()
	errors   []string
}

func (r *reporter) Helper()                 { r.TB.Helper() }
func (r *reporter) Cleanup(f func())        { r.cleanups = append(r.cleanups, f) }
func (r *reporter) Error(args ...any)       { r.errors = append(r.errors, fmt.Sprint(args...)) }
func (r *reporter) Fatalf(string, ...any)   { panic("Fatalf") }
func (r *reporter) Errorf(string, ...any)   { panic("Errorf") }
func (r *reporter) Logf(f string, a ...any) { r.TB.Logf(f, a...) }

// TestCheck: an answer or a request the document does not describe is
// reported, whatever part of it is wrong; one it does is not.
func TestCheck(t *testing.T) {
	const (
		json = "application/json"
		text = "text/plain; charset=utf-8"
	)
	for _, tc := range []struct {
		name, method, path, reqType, reqBody string
		status                               int
		ansType, answer                      string
		want                                 string // in the report; "" for none
	}{
		{"health", "GET", "/healthz", "", "", 200, json, `{"status":"ok"}`, ""},
		{"health, wrong type", "GET", "/healthz", "", "", 200, json, `{"status":5}`, "does not describe"},
		{"health, unknown property", "GET", "/healthz", "", "", 200, json, `{"status":"ok","extra":1}`, "does not describe"},
		{"health, not JSON", "GET", "/healthz", "", "", 200, json, `{"status":`, "not JSON"},
		{"health, other media type", "GET", "/healthz", "", "", 200, "application/xml", `<ok/>`, "does not match any content types"},
		{"text answer", "GET", "/v1/audit/key", "", "", 200, text, "key", ""},
		{"error in its shape", "GET", "/healthz", "", "", 503, json, `{"error":{"code":"x","message":"y"}}`, ""},
		{"error in another shape", "GET", "/healthz", "", "", 503, json, `{"code":"x"}`, "does not describe"},
		{"undocumented status", "GET", "/healthz", "", "", 201, json, `{"status":"ok"}`, "a status the document does not give"},
		{"login refused as it should be", "POST", "/v1/auth/login", json, `{"username":"a"}`, 400, json, `{"error":{"code":"x","message":"y"}}`, ""},
		{"login accepted without its password", "POST", "/v1/auth/login", json, `{"username":"a"}`, 200, json, `{}`, "accepted a request the document refuses"},
		{"login accepted without a body", "POST", "/v1/auth/login", json, ``, 200, json, `{}`, "accepted a request the document refuses"},
		{"login accepted in another media type", "POST", "/v1/auth/login", "text/plain", `a`, 200, json, `{}`, "accepted a request the document refuses"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &reporter{TB: t}
			h := Check(r, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				w.Header().Set("Content-Type", tc.ansType)
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.answer))
			}))
			req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.reqBody))
			if tc.reqType != "" {
				req.Header.Set("Content-Type", tc.reqType)
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
			for _, f := range r.cleanups {
				f()
			}
			got := strings.Join(r.errors, "\n")
			switch {
			case tc.want == "" && got != "":
				t.Errorf("reported %s, want nothing", got)
			case tc.want != "" && !strings.Contains(got, tc.want):
				t.Errorf("reported %q, want %q", got, tc.want)
			}
		})
	}
}
