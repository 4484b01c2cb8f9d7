package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
)

// MetricsHandler serves GET /metrics from h, and nothing else: the handler
// of a listener of its own (metrics.listen in coffre.yaml). A non-empty
// token is required as "Authorization: Bearer TOKEN".
func MetricsHandler(h http.Handler, token string) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metricsAuth(h, token))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no_such_route", "no route "+r.Method+" "+r.URL.Path, "this listener serves GET /metrics only")
	})
	return mux
}

// metricsAuth serves h to requests that carry token as their bearer
// token, or to all when token is empty; others get 401. The comparison is
// of SHA-256 digests, in constant time, so that neither the token's bytes
// nor its length show in the timing.
func metricsAuth(h http.Handler, token string) http.Handler {
	if token == "" {
		return h
	}
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := bearer(r)
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="coffre-metrics"`)
			writeError(w, http.StatusUnauthorized, "unauthenticated", "/metrics asks for its token", "send Authorization: Bearer <metrics.token>")
			return
		}
		h.ServeHTTP(w, r)
	})
}
