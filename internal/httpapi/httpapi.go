// Package httpapi serves Coffre's JSON API under /v1 (DESIGN §4).
//
// Every error answers {"error":{"code","message","hint"}} with the status
// of DESIGN §4; messages are public text only, causes go to the log (with
// ids, never personal values). Request bodies are capped and unknown JSON
// fields rejected. No route returns more than one subject's record: there
// is no listing (GET /v1/subjects answers 405).
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.opentelemetry.io/otel/trace"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/auditstream"
	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/breach"
	"github.com/coffre/coffre/internal/console"
	"github.com/coffre/coffre/internal/event"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/me"
	"github.com/coffre/coffre/internal/partner"
	"github.com/coffre/coffre/internal/public"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/health"
	"github.com/coffre/coffre/internal/subjectid"
	"github.com/coffre/coffre/internal/vault"
)

// Server holds the API's dependencies.
type Server struct {
	// Console, when set, serves the operators' web console under
	// console.Prefix: browser routes, apart from the JSON API's.
	Console http.Handler
	// Portal, when set, serves the people's portal under
	// console.PortalPrefix.
	Portal http.Handler
	Vault  *vault.Vault
	Auth   *auth.Service
	Logger *slog.Logger
	// Checkpoints serves the audit log's latest signed checkpoint (nil:
	// the route answers 503).
	Checkpoints store.Store
	// Health makes /readyz answer 503 within a request of a store failure
	// (nil: readiness only reads the store).
	Health StoreHealth
	// AuditMaxLag makes /readyz fail when the audit integrator is further
	// behind (default 30 s).
	AuditMaxLag time.Duration
	// Requests, when set, counts and times every request.
	Requests RequestObserver
	// Tracing, when set and not a no-op (package tracing), starts a
	// server span for each request, named by its route pattern; never
	// with a path, a header or a value (see traced).
	Tracing trace.TracerProvider
	// AuditStreams, when set, gives the audit stream's sinks: /readyz
	// warns of a failing one (and stays ready: the stream never holds
	// access back).
	AuditStreams func() []auditstream.Status
	// Metrics serves GET /metrics when set, asking MetricsToken as a
	// bearer token when that is set (see also [MetricsHandler]).
	Metrics      http.Handler
	MetricsToken string
	// CA issues partner credentials through the API (nil: it does not).
	CA *partner.CA
	// TrustedProxies may name the client in X-Forwarded-For.
	TrustedProxies []netip.Prefix
	MaxBodyBytes   int64 // default 64 KiB
	ReasonMaxLen   int   // default 200
	// Keys rotates the root key (nil: POST /v1/sys/keys/rotate answers
	// 409).
	Keys Keys
	// Index rebuilds the blind index (nil: POST /v1/sys/keys/reindex
	// answers 409, and GET /v1/sys/keys shows no blind index).
	Index Index
	// Seal drops the keys after POST /v1/sys/seal has audited the seal
	// (nil: the server has no sealed keyring to return to, --dev, or it
	// is sealed by a quorum of share holders, never by one account).
	Seal func(context.Context) error
	// AuditKey is the audit checkpoint verifier key, against which an
	// incident's impact verifies the log ("": the impact route answers
	// 409).
	AuditKey string
	// Breach is what an incident's report says of the organisation.
	Breach breach.Settings
	// Me signs persons in and serves their own routes (/v1/me/…); nil:
	// those routes answer 404 signin_off.
	Me *me.Service
	// testPerson, set by tests only (export_test.go), stands for a
	// person's session: the subject of a request that carries one.
	testPerson func(*http.Request) (string, bool)
}

func (s *Server) defaults() {
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if s.MaxBodyBytes <= 0 {
		s.MaxBodyBytes = 64 << 10
	}
	if s.ReasonMaxLen <= 0 {
		s.ReasonMaxLen = 200
	}
}

// Handler returns the API's routes.
func (s *Server) Handler() http.Handler {
	s.defaults()
	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		mux.HandleFunc(rt.Method+" "+rt.Path, s.handler(rt))
	}
	refuseHead(mux, s.routes())
	mux.HandleFunc("/v1/subjects", s.noListing)
	// Other methods get 405 rather than the catch-all 404.
	mux.HandleFunc("/v1/subjects/{id}", methodNotAllowed(allowed(s.routes(), "/v1/subjects/{id}")))
	if s.Metrics != nil {
		mux.Handle("GET /metrics", metricsAuth(s.Metrics, s.MetricsToken))
	}
	if s.Console != nil {
		mux.Handle(console.Prefix, s.Console)
	}
	if s.Portal != nil {
		mux.Handle(console.PortalPrefix, s.Portal)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no_such_route", "no route "+r.Method+" "+r.URL.Path, "see the API table in the README")
	})
	return s.instrumented(ListenerAPI, mux)
}

// The listeners, as the request metrics and traces name them.
const (
	ListenerAPI      = "api"
	ListenerPartners = "partners"
)

// instrumented counts and times (s.Requests) and traces (s.Tracing) what
// h serves on listener; h itself when neither is set.
func (s *Server) instrumented(listener string, h http.Handler) http.Handler {
	if s.Requests != nil {
		h = s.observed(listener, h)
	}
	return s.traced(listener, h)
}

// RequestObserver counts and times the requests (package metrics): by
// listener, route pattern, method, status and declared purpose, never a
// person.
type RequestObserver interface {
	Observe(listener, route, method string, status int, purpose string, d time.Duration)
}

// observed gives every request h serves on listener to s.Requests once
// answered. The route is the pattern the mux matched ("" for none), the
// method one of HTTP's (else "other"), the purpose the Coffre-Purpose
// header when the policy declares it (else ""): nothing a caller types
// reaches a label.
func (s *Server) observed(listener string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		s.Requests.Observe(listener, r.Pattern, methodLabel(r.Method), sw.status(), s.declaredPurpose(r), time.Since(start))
	})
}

// methodLabel is a request's method as a label: one of HTTP's, else
// "other" (a server takes any token as a method; a label must not).
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// statusWriter keeps the status an answer was given.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// Unwrap lets http.ResponseController reach the connection (flushes,
// deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed here", "use one of: "+allow)
	}
}

// apiError is an error with its public face.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg, hint string) {
	writeJSON(w, status, map[string]apiError{"error": {Code: code, Message: msg, Hint: hint}})
}

// fail maps an error to its status and public message and logs the cause.
//
// What a client reads is chosen where the error was made (package public:
// validation messages name fields and limits, never values) or is the
// fixed text of its branch here; the text of the error chain, which may
// hold a store's message, goes to the log only.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, a *identity.Actor, err error) {
	var fe *vault.FieldError
	var le *access.LimitError
	var te *auth.ThrottleError
	var e apiError
	switch {
	case errors.Is(err, store.ErrPanic): // a bug, whatever else the error says
		e = apiError{http.StatusInternalServerError, "internal", "internal error", "retry later; operators: see the server log"}
	case isConsent(err, &e):
	case rightsError(err, &e): // the persons' rights, restriction and blocks
	case holdError(err, &e): // legal holds
	case statsError(w, err, &e): // statistics: budget, stale counters
	case errors.As(err, &fe):
		// A field name and a fixed reason (FieldError never holds the value).
		e = apiError{http.StatusBadRequest, "invalid_field", fe.Error(), "correct the field and send the request again"}
	case errors.Is(err, errBadRequest):
		e = apiError{http.StatusBadRequest, "invalid_request", public.Message(err, "malformed request"), "see the API table in the README for the request's shape"}
	case errors.Is(err, errTooLarge):
		e = apiError{http.StatusRequestEntityTooLarge, "body_too_large", public.Message(err, "request body too large"), "send a smaller body"}
	case errors.Is(err, access.ErrReasonRequired):
		e = apiError{http.StatusBadRequest, "reason_required", public.Message(err, "this purpose requires a reason"), public.Hint(err, "send a Coffre-Reason header (a ticket or case number)")}
	case errors.Is(err, access.ErrInvalid):
		e = apiError{http.StatusBadRequest, "invalid_request", public.Message(err, "invalid input"), public.Hint(err, "check the purpose, the id and the fields against the configuration")}
	case errors.Is(err, auth.ErrBadCredentials):
		e = apiError{http.StatusUnauthorized, "invalid_credentials", "invalid credentials", "check the username, password and code; a code works once"}
	case errors.Is(err, auth.ErrTooManyAttempts):
		e = apiError{http.StatusUnauthorized, "too_many_attempts", "too many second-factor attempts for this login", "log in again with your password"}
	case errors.As(err, &te):
		secs := int(math.Ceil(te.RetryAfter.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		e = apiError{http.StatusTooManyRequests, "too_many_logins", "too many failed logins from this address", fmt.Sprintf("retry in %d s", secs)}
	case errors.Is(err, auth.ErrSessionMoved):
		e = apiError{http.StatusUnauthorized, "session_moved", "this session is used from another address or client than the one it was opened from", "prove a second factor from here: POST /v1/auth/stepup/totp or /v1/auth/stepup/webauthn/begin"}
	case errors.Is(err, auth.ErrStepUpRequired), errors.Is(err, access.ErrStepUpRequired):
		e = apiError{http.StatusUnauthorized, "step_up_required", "this needs a fresh second factor: " + public.Message(err, "step-up required"), public.Hint(err, "POST /v1/auth/stepup/totp {\"code\"} or /v1/auth/stepup/webauthn/begin and /finish, then retry")}
	case errors.Is(err, auth.ErrFactorNotAllowed):
		e = apiError{http.StatusForbidden, "factor_not_allowed", "this second factor is not available to this account", "use a factor listed in the login answer's mfa"}
	case errors.Is(err, auth.ErrAuthenticatorNotAllowed):
		e = apiError{http.StatusForbidden, "authenticator_not_allowed", public.Message(err, "this security key is not accepted for your role"), public.Hint(err, "register an attested hardware security key of an accepted model")}
	case errors.Is(err, auth.ErrNoCeremony):
		e = apiError{http.StatusBadRequest, "no_ceremony", "no WebAuthn ceremony in progress", "call the matching /begin first"}
	case errors.Is(err, partner.ErrNoClientCert):
		e = apiError{http.StatusUnauthorized, "client_certificate_required", "a partner request needs a client certificate from Coffre's CA", "present the certificate `coffre partner add` issued, with the API key in Coffre-Api-Key"}
	case errors.Is(err, auth.ErrUnauthenticated):
		e = apiError{http.StatusUnauthorized, "unauthenticated", "no valid session", "log in: POST /v1/auth/login then /v1/auth/totp, and send Authorization: Bearer <token>"}
	case errors.Is(err, access.ErrForbidden):
		e = apiError{http.StatusForbidden, "forbidden", public.Message(err, "forbidden"), public.Hint(err, "declare a purpose your role allows (Coffre-Purpose)")}
	case errors.Is(err, store.ErrNotFound):
		e = apiError{http.StatusNotFound, "not_found", public.Message(err, "no such subject"), public.Hint(err, "check the id; lookups match exact values only")}
	case errors.Is(err, store.ErrConflict):
		e = apiError{http.StatusConflict, "conflict", public.Message(err, "conflict: a value that must be unique exists already"), public.Hint(err, "look the existing subject up instead of creating another")}
	case errors.Is(err, access.ErrLocked):
		e = apiError{http.StatusLocked, "account_locked", "this account is locked and its sessions are revoked", "a security officer must unlock it (POST /v1/operators/{id}/unlock)"}
	case errors.As(err, &le):
		secs := int(math.Ceil(le.RetryAfter.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		e = apiError{http.StatusTooManyRequests, "rate_limited", "limit reached: " + strings.ReplaceAll(le.Code, "_", " "), fmt.Sprintf("retry in %d s, or ask a supervisor for a budget extension (POST /v1/extensions)", secs)}
	case errors.Is(err, vault.ErrTampered):
		e = apiError{http.StatusConflict, "audit_log_fails_verification", public.Message(err, "the audit log fails verification"), public.Hint(err, "keep the store as it is for the investigation")}
	case errors.Is(err, breach.ErrNoImpact):
		e = apiError{http.StatusConflict, "no_impact", "the incident has no impact yet", "compute it first: GET /v1/incidents/{id}/impact"}
	case errors.Is(err, breach.ErrDelayReason), errors.Is(err, breach.ErrPhase):
		e = apiError{http.StatusBadRequest, "invalid_request", public.Message(err, err.Error()), "see GET /v1/incidents/{id}/report's parameters: phase, delay_reason"}
	case errors.Is(err, store.ErrUnavailable):
		e = apiError{http.StatusServiceUnavailable, "unavailable", "the store is unavailable: the audit log cannot be written, so no data is served", "retry in a few seconds; operators: check the store (GET /readyz says what fails)"}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		e = apiError{http.StatusServiceUnavailable, "canceled", "the request was canceled", "retry"}
	default:
		e = apiError{http.StatusInternalServerError, "internal", "internal error", "retry later; operators: see the server log"}
	}
	attrs := []any{"method", r.Method, "route", r.Pattern, "status", e.Status, "code", e.Code}
	if a != nil {
		attrs = append(attrs, "operator", a.ID)
		if errors.Is(err, errBadRequest) || errors.Is(err, errTooLarge) {
			s.Vault.Refused(r.Context(), *a, r.Pattern)
		}
	}
	if e.Status >= 500 {
		s.Logger.ErrorContext(r.Context(), "request failed", append(attrs, "event", event.RequestFailed, "error", err)...)
	} else {
		s.Logger.InfoContext(r.Context(), "request refused", attrs...)
	}
	writeError(w, e.Status, e.Code, e.Message, e.Hint)
}

// storeUnavailable marks a store failure as ErrUnavailable (503), except
// a panic, which stays an internal error (500).
func storeUnavailable(err error) error {
	if errors.Is(err, store.ErrPanic) {
		return err
	}
	return fmt.Errorf("%w: %v", store.ErrUnavailable, err)
}

var (
	errUnauthenticated = auth.ErrUnauthenticated
	errBadRequest      = errors.New("bad request")
	errTooLarge        = errors.New("request body too large")
)

// badRequest is an errBadRequest whose formatted text is its public
// message: name the part of the request that is wrong, never echo a value.
func badRequest(format string, args ...any) error {
	return public.Errorf(errBadRequest, format, args...)
}

// tooLarge is an errTooLarge with a public message.
func tooLarge(format string, args ...any) error {
	return public.Errorf(errTooLarge, format, args...)
}

// decode reads one JSON object into v: bounded, strict.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return badRequest("content type %.64q: want application/json", ct)
		}
	}
	return decodeJSON(http.MaxBytesReader(w, r.Body, s.MaxBodyBytes), v)
}

func decodeJSON(body io.Reader, v any) error {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &mbe):
			return tooLarge("body over %d bytes", mbe.Limit)
		case errors.Is(err, io.EOF):
			return badRequest("empty body")
		case errors.As(err, &se):
			return badRequest("malformed JSON at byte %d", se.Offset)
		case errors.As(err, &te):
			return badRequest("field %q: wrong JSON type %s", te.Field, te.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return badRequest("unknown field %.80s", strings.TrimPrefix(err.Error(), "json: unknown field "))
		default:
			return badRequest("malformed JSON body")
		}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge("body over %d bytes", mbe.Limit)
		}
		return badRequest("data after the JSON object")
	}
	return nil
}

// bearer returns the token of an "Authorization: Bearer" header; the
// scheme is case-insensitive (RFC 9110 §11.1).
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return "", false
	}
	return strings.TrimSpace(h[7:]), true
}

// origin is the client's address: the peer, or, when the peer is a
// trusted proxy, the rightmost address of X-Forwarded-For that is not one.
// Origin is a request's client address: the connection's, or, from a
// trusted proxy, the last address the proxies did not add.
func (s *Server) Origin(r *http.Request) string { return s.origin(r) }

func (s *Server) origin(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if len(s.TrustedProxies) == 0 || !s.proxy(host) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		if _, err := netip.ParseAddr(hop); err != nil {
			return host // malformed: trust nothing beyond the last proxy
		}
		if !s.proxy(hop) {
			return hop
		}
		host = hop
	}
	return host
}

func (s *Server) proxy(addr string) bool { return guard.Networks(s.TrustedProxies).Contains(addr) }

type actorHandler func(w http.ResponseWriter, r *http.Request, a identity.Actor)

func (s *Server) authed(h actorHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := bearer(r)
		if !ok {
			s.fail(w, r, nil, auth.ErrUnauthenticated)
			return
		}
		if strings.HasPrefix(tok, me.SessionPrefix) {
			s.personOnOperatorRoute(w, r)
			return
		}
		a, err := s.Auth.Authenticate(r.Context(), tok, s.origin(r), r.UserAgent())
		if err != nil {
			s.fail(w, r, nil, err)
			return
		}
		h(w, r, a)
	}
}

// headers reads and checks Coffre-Purpose and Coffre-Reason.
func (s *Server) headers(r *http.Request, needPurpose bool) (purpose, reason string, err error) {
	purpose = r.Header.Get("Coffre-Purpose")
	reason = strings.TrimSpace(r.Header.Get("Coffre-Reason"))
	switch {
	case purpose == "" && needPurpose:
		return "", "", badRequest("missing Coffre-Purpose header: every read and update declares a purpose")
	case purpose != "" && !validName(purpose):
		return "", "", badRequest("malformed Coffre-Purpose: lower-case letters, digits and '-', at most 63")
	case len(reason) > s.ReasonMaxLen:
		return "", "", badRequest("Coffre-Reason longer than %d bytes", s.ReasonMaxLen)
	case !printable(reason):
		return "", "", badRequest("Coffre-Reason holds control characters or invalid UTF-8")
	}
	return purpose, reason, nil
}

func validName(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, c := range s {
		if !unicode.IsPrint(c) {
			return false
		}
	}
	return true
}

func subjectID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if !subjectid.Valid(id) && !vault.ValidPseudonym(id) {
		return "", badRequest("malformed subject id: want sub_ (or, for a partner, psn_) and 26 base32 characters")
	}
	return id, nil
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, nil, err)
		return
	}
	if req.Username == "" || req.Password == "" || len(req.Username) > 128 || len(req.Password) > 1024 {
		s.fail(w, r, nil, badRequest("username and password required (at most 128 and 1024 bytes)"))
		return
	}
	tok, mfa, err := s.Auth.Login(r.Context(), req.Username, req.Password, s.origin(r))
	if err != nil {
		s.fail(w, r, nil, err)
		return
	}
	writeJSON(w, http.StatusOK, loginAnswer{LoginToken: tok, MFA: mfa})
}

// loginAnswer is the password step's answer: the login token the second
// factor takes, and the factors the account may use.
type loginAnswer struct {
	LoginToken string   `json:"login_token"`
	MFA        []string `json:"mfa"`
}

type totpRequest struct {
	LoginToken string `json:"login_token"`
	Code       string `json:"code"`
}

func (s *Server) totp(w http.ResponseWriter, r *http.Request) {
	var req totpRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, nil, err)
		return
	}
	if len(req.Code) != 6 || strings.Trim(req.Code, "0123456789") != "" || req.LoginToken == "" || len(req.LoginToken) > 100 {
		s.fail(w, r, nil, badRequest("login_token and a 6-digit code required"))
		return
	}
	ses, err := s.Auth.VerifyTOTP(r.Context(), req.LoginToken, req.Code, s.origin(r), r.UserAgent())
	if err != nil {
		s.fail(w, r, nil, err)
		return
	}
	writeSession(w, ses)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	tok, _ := bearer(r)
	if err := s.Auth.Logout(r.Context(), tok); err != nil {
		s.fail(w, r, &a, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) noListing(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", "POST")
	writeError(w, http.StatusMethodNotAllowed, "no_listing", "subjects cannot be listed, searched or exported",
		"read one subject by id, or find one with POST /v1/subjects/lookup and an exact value")
}

type createRequest struct {
	Unit   string            `json:"unit"`
	Fields map[string]string `json:"fields"`
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	var req createRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, &a, err)
		return
	}
	id, err := s.Vault.Create(r.Context(), a, req.Unit, req.Fields)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	writeJSON(w, http.StatusCreated, subjectAnswer{ID: id})
}

// subjectAnswer names one subject: the one created, or the one a lookup found.
type subjectAnswer struct {
	ID string `json:"id"`
}

type lookupRequest struct {
	Field string `json:"field"`
	Value string `json:"value"`
}

func (s *Server) lookup(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	purpose, reason, err := s.headers(r, true)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	var req lookupRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, &a, err)
		return
	}
	if req.Field == "" || req.Value == "" {
		s.fail(w, r, &a, badRequest("field and value required"))
		return
	}
	id, err := s.Vault.Lookup(r.Context(), a, purpose, reason, req.Field, req.Value)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	writeJSON(w, http.StatusOK, subjectAnswer{ID: id})
}

type updateRequest struct {
	Fields map[string]*string `json:"fields"`
}

func (s *Server) update(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	id, err := subjectID(r)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	purpose, reason, err := s.headers(r, true)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	var req updateRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, &a, err)
		return
	}
	u, err := s.Vault.Update(r.Context(), a, id, purpose, reason, req.Fields)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	if u.Change == "" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	// A contact field waits out the cooling-off: accepted, not done.
	pending := make(map[string]string, len(u.Pending))
	for f, at := range u.Pending {
		pending[f] = at.UTC().Format(time.RFC3339)
	}
	applied := u.Applied
	if applied == nil {
		applied = []string{}
	}
	writeJSON(w, http.StatusAccepted, updateAnswer{Applied: applied, Change: u.Change, Pending: pending})
}

// updateAnswer is an update a contact field's cooling-off holds: the fields applied, the change, when each pending one applies.
type updateAnswer struct {
	Applied []string          `json:"applied"`
	Change  string            `json:"change"`
	Pending map[string]string `json:"pending"`
}

func (s *Server) erase(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	id, err := subjectID(r)
	if err == nil {
		var reason string
		if _, reason, err = s.headers(r, false); err == nil {
			if err = s.Vault.Erase(r.Context(), a, id, reason); err == nil {
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
	}
	s.fail(w, r, &a, err)
}

// eraseHeader is what an erasure reads: a purpose is optional, a reason is kept.
var eraseHeader = []Param{{Name: "Coffre-Purpose", Doc: "the declared purpose, optional (checked when given)"}, reasonHeader}

// checkpoint serves the latest signed checkpoint as the C2SP signed note
// (text/plain): public, so that anyone holding the log's public key can
// check it and, with consistency proofs, that the log only grew.
// auditKey serves the checkpoints' verifier key as text: the key the
// portal's proof check and coffre audit verify use (publish it elsewhere
// too, so that people can compare).
func (s *Server) auditKey(w http.ResponseWriter, r *http.Request) {
	if s.AuditKey == "" {
		writeError(w, http.StatusNotFound, "no_audit_key", "this server does not publish its audit key", "ask its operators for the key (coffre audit key on the host)")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, s.AuditKey)
}

func (s *Server) checkpoint(w http.ResponseWriter, r *http.Request) {
	if s.Checkpoints == nil {
		writeError(w, http.StatusServiceUnavailable, "no_checkpoint", "this server does not serve checkpoints", "the audit log is served by a coffre serve node with its store; ask its operators")
		return
	}
	var note []byte
	err := s.Checkpoints.View(r.Context(), func(ctx context.Context, tx store.Tx) error {
		c, err := tx.LatestCheckpoint(ctx)
		if err == nil {
			note = c.Note
		}
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no_checkpoint", "no checkpoint has been signed yet", "retry in a second: the integrator signs one every second while entries arrive")
		return
	}
	if err != nil {
		s.fail(w, r, nil, storeUnavailable(err))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(note)
}

// auditEntry is an audit entry as the API shows it.
type auditEntry struct {
	Seq      int64    `json:"seq"`
	Time     string   `json:"time"`
	Actor    string   `json:"actor"`
	Action   string   `json:"action"`
	Subject  string   `json:"subject,omitempty"`
	Purpose  string   `json:"purpose,omitempty"`
	Reason   string   `json:"reason,omitempty"`
	Fields   []string `json:"fields,omitempty"`
	Decision string   `json:"decision"`
	Origin   string   `json:"origin,omitempty"`
	// ReasonErased: the entry had a reason, sealed under its person's
	// data key, which their erasure made unreadable (reason is "").
	ReasonErased bool `json:"reason_erased,omitempty"`
}

// auditEntries serves entries from ≤ seq < to, paged: at most
// vault.MaxAuditPage, with "next" set when more remain.
func (s *Server) auditEntries(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	q := r.URL.Query()
	from, err1 := strconv.ParseInt(q.Get("from"), 10, 64)
	to, err2 := strconv.ParseInt(q.Get("to"), 10, 64)
	if err1 != nil || err2 != nil {
		s.fail(w, r, &a, badRequest("from and to must be entry numbers (from ≥ 1, to > from)"))
		return
	}
	es, err := s.Vault.AuditEntries(r.Context(), a, from, to)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	out := make([]auditEntry, len(es))
	for i, e := range es {
		out[i] = auditEntry{e.Seq, e.Time.Format(time.RFC3339Nano), e.Actor, e.Action, e.Subject, e.Purpose, e.Reason, e.Fields, e.Decision, e.Origin, e.ReasonErased()}
	}
	resp := auditEntriesAnswer{Entries: out}
	if n := len(es); n == vault.MaxAuditPage && es[n-1].Seq+1 < to {
		resp.Next = es[n-1].Seq + 1
	}
	writeJSON(w, http.StatusOK, resp)
}

// auditEntriesAnswer is a page of audit entries, and the from of the next page when more remain.
type auditEntriesAnswer struct {
	Entries []auditEntry `json:"entries"`
	Next    int64        `json:"next,omitempty"`
}

// auditEntriesQuery is what GET /v1/audit/entries reads.
var auditEntriesQuery = []Param{
	{Name: "from", Required: true, Integer: true, Doc: "the first entry's number (≥ 1)"},
	{Name: "to", Required: true, Integer: true, Doc: "the number after the last entry's (> from)"},
}

// proof serves an inclusion or consistency proof between the two query
// parameters a and b: answer(a, b, hashes), {"a":…, "b":…,
// "hashes":[base64…]}. Public, like the checkpoint: proofs hold hashes
// only.
func (s *Server) proof(a, b string, prove func(context.Context, store.Store, uint64, uint64) ([][]byte, error), answer func(x, y uint64, hashes [][]byte) any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.Checkpoints == nil {
			writeError(w, http.StatusServiceUnavailable, "no_checkpoint", "this server does not serve proofs", "the audit log is served by a coffre serve node with its store; ask its operators")
			return
		}
		q := r.URL.Query()
		x, err1 := strconv.ParseUint(q.Get(a), 10, 64)
		y, err2 := strconv.ParseUint(q.Get(b), 10, 64)
		if err1 != nil || err2 != nil {
			s.fail(w, r, nil, badRequest("%s and %s must be whole numbers", a, b))
			return
		}
		hashes, err := prove(r.Context(), s.Checkpoints, x, y)
		if errors.Is(err, auditlog.ErrBeyondCheckpoint) {
			writeError(w, http.StatusNotFound, "beyond_checkpoint", fmt.Sprintf("no checkpoint covers size %d yet", y), "ask for a size no larger than the latest checkpoint's (GET /v1/audit/checkpoint)")
			return
		}
		if err != nil && !errors.Is(err, access.ErrInvalid) {
			err = storeUnavailable(err)
		}
		if err != nil {
			s.fail(w, r, nil, err)
			return
		}
		if hashes == nil {
			hashes = [][]byte{}
		}
		writeJSON(w, http.StatusOK, answer(x, y, hashes))
	}
}

// inclusionAnswer is the inclusion proof of entry index in the tree of size entries.
type inclusionAnswer struct {
	Hashes [][]byte `json:"hashes"`
	Index  uint64   `json:"index"`
	Size   uint64   `json:"size"`
}

// inclusion is proof's answer for an inclusion proof.
func inclusion(index, size uint64, hashes [][]byte) any {
	return inclusionAnswer{Hashes: hashes, Index: index, Size: size}
}

// consistencyAnswer is the consistency proof between the trees of from and to entries.
type consistencyAnswer struct {
	From   uint64   `json:"from"`
	Hashes [][]byte `json:"hashes"`
	To     uint64   `json:"to"`
}

// consistency is proof's answer for a consistency proof.
func consistency(from, to uint64, hashes [][]byte) any {
	return consistencyAnswer{From: from, Hashes: hashes, To: to}
}

// The query parameters of the proofs.
var (
	inclusionQuery = []Param{
		{Name: "index", Required: true, Integer: true, Doc: "the entry's leaf index (its number less one)"},
		{Name: "size", Required: true, Integer: true, Doc: "the tree's size: a checkpoint's"},
	}
	consistencyQuery = []Param{
		{Name: "from", Required: true, Integer: true, Doc: "the older tree's size"},
		{Name: "to", Required: true, Integer: true, Doc: "the newer tree's size: a checkpoint's"},
	}
)

// healthz answers GET /healthz: the process is alive.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, healthAnswer{Status: "ok"})
}

// healthAnswer is liveness: status "ok".
type healthAnswer struct {
	Status string `json:"status"`
}

// StoreHealth reports a current failure of the store: package
// store/health's Store.
type StoreHealth interface {
	Failure(hold time.Duration) *health.Failure
}

// failHold is how long a store failure keeps /readyz at 503 when no
// success follows (package store/health: half-open after it).
const failHold = 10 * time.Second

// pingTimeout bounds readiness's own read of the store.
const pingTimeout = time.Second

// ready answers 503 while the store's last write or read failed (Health),
// while the store does not answer a read within pingTimeout, or while the
// oldest entry not yet in a checkpoint is older than AuditMaxLag; 200
// otherwise. It reads the store once, bounded, and never writes.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	if s.Health != nil {
		if f := s.Health.Failure(failHold); f != nil {
			s.Logger.WarnContext(r.Context(), "not ready", "event", event.NotReady, "route", r.Pattern, "write", f.Write, "error", f.Cause)
			if f.Write {
				writeError(w, http.StatusServiceUnavailable, "audit_unwritable",
					"the audit log cannot be written: reads are refused",
					"operators: the store refuses writes (a full disk, a lost database connection: see the server log); ready again at the next good write, or "+failHold.String()+" after the last failure")
			} else {
				writeError(w, http.StatusServiceUnavailable, "store_unreachable",
					"the store cannot be reached: requests are refused",
					"operators: check the database server and the network; ready again when it answers")
			}
			return
		}
	}
	if s.Checkpoints == nil {
		writeJSON(w, http.StatusOK, readyAnswer{Status: "ready", Warnings: s.warnings()})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), pingTimeout)
	defer cancel()
	st, err := auditlog.ReadStatus(ctx, s.Checkpoints, time.Now())
	if err != nil {
		s.Logger.WarnContext(r.Context(), "not ready", "event", event.NotReady, "route", r.Pattern, "error", err)
		writeError(w, http.StatusServiceUnavailable, "store_unreachable",
			"the store does not answer: requests are refused",
			"operators: check the database server and the network; ready again when it answers")
		return
	}
	max := s.AuditMaxLag
	if max <= 0 {
		max = 30 * time.Second
	}
	if st.Lag > max {
		s.Logger.WarnContext(r.Context(), "not ready: the audit integrator lags", "event", event.AuditLagging, "lag", st.Lag.Round(time.Second), "limit", max)
		writeError(w, http.StatusServiceUnavailable, "audit_lagging",
			fmt.Sprintf("the audit integrator is %s behind (limit %s)", st.Lag.Round(time.Second), max),
			"check the server log for integrator errors; reads are still audited, checkpoints are late")
		return
	}
	lag := st.Lag.Seconds()
	writeJSON(w, http.StatusOK, readyAnswer{AuditIntegrated: &st.Integrated, AuditLagSeconds: &lag, Status: "ready", Warnings: s.warnings()})
}

// readyAnswer is readiness: "ready", and on a node with the audit log, its checkpoint's size and the integrator's lag.
type readyAnswer struct {
	AuditIntegrated *uint64  `json:"audit_integrated,omitempty"`
	AuditLagSeconds *float64 `json:"audit_lag_seconds,omitempty"`
	Status          string   `json:"status"`
	// Warnings are what operators should look at and does not refuse
	// requests: an audit stream's sink that fails.
	Warnings []string `json:"warnings,omitempty"`
}

// warnings are readiness's warnings: each failing audit stream sink this
// server streams to, since when, and how far behind it is.
func (s *Server) warnings() []string {
	if s.AuditStreams == nil {
		return nil
	}
	var out []string
	for _, st := range s.AuditStreams() {
		if st.Streaming && !st.Since.IsZero() {
			out = append(out, fmt.Sprintf("audit stream to %s failing since %s, %d entries behind: %s", st.Sink, st.Since.UTC().Format(time.RFC3339), st.Lag(), st.Failing))
		}
	}
	return out
}
