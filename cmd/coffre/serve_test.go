package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/config"
)

// TestMetricsListener serves the demo with a metrics token, on the API
// listener and then on a listener of its own, over real HTTP: without the
// token /metrics answers 401, with it the metrics; with a listener of its
// own the API listener answers 404 for /metrics.
func TestMetricsListener(t *testing.T) {
	const token = "0123456789abcdef0123456789abcdef"
	for _, apart := range []bool{false, true} {
		t.Run("apart="+strconv.FormatBool(apart), func(t *testing.T) {
			a, err := openApp(t.Context(), appOptions{dev: true, dataDir: t.TempDir()}, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { a.close() })
			a.cfg.Partners.Listen = "" // not needed here
			a.cfg.Metrics = config.Metrics{Token: token}
			if apart {
				port, err := freePort()
				if err != nil {
					t.Fatal(err)
				}
				a.cfg.Metrics.Listen = "127.0.0.1:" + strconv.Itoa(port)
			}
			base := serveApp(t, a)
			metrics := base
			if apart {
				metrics = "http://" + a.cfg.Metrics.Listen
				if st, code := get(t, base+"/metrics", token); st != http.StatusNotFound || code != "no_such_route" {
					t.Errorf("API listener /metrics = %d %s, want 404 no_such_route", st, code)
				}
				if st, code := get(t, metrics+"/healthz", ""); st != http.StatusNotFound || code != "no_such_route" {
					t.Errorf("metrics listener /healthz = %d %s, want 404 no_such_route", st, code)
				}
			}
			for _, tc := range []struct {
				auth string
				want int
				code string
			}{
				{"", http.StatusUnauthorized, "unauthenticated"},
				{"Bearer " + token[1:], http.StatusUnauthorized, "unauthenticated"},
				{"Bearer " + token + "0", http.StatusUnauthorized, "unauthenticated"},
				{"Basic " + token, http.StatusUnauthorized, "unauthenticated"},
				{"Bearer " + token, http.StatusOK, ""},
				{"bearer " + token, http.StatusOK, ""},
			} {
				if st, code := get(t, metrics+"/metrics", tc.auth); st != tc.want || code != tc.code {
					t.Errorf("/metrics with %q = %d %q, want %d %q", tc.auth, st, code, tc.want, tc.code)
				}
			}
		})
	}
}

// get sends GET url with the Authorization header auth (none when empty),
// and returns the status and, for an error, its code; for a 200 it checks
// that the body holds Coffre's metrics.
func get(t *testing.T, url, auth string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode == http.StatusOK {
		if !strings.Contains(string(body), "coffre_audit_entries_sequenced") {
			t.Errorf("GET %s: 200 without Coffre's metrics: %.200s", url, body)
		}
		return res.StatusCode, ""
	}
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil || res.Header.Get("Content-Type") != "application/json" {
		t.Errorf("GET %s: %d, not a JSON error: %v %.200s", url, res.StatusCode, err, body)
	}
	if res.StatusCode == http.StatusUnauthorized && res.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("GET %s: 401 without WWW-Authenticate", url)
	}
	return res.StatusCode, e.Error.Code
}
