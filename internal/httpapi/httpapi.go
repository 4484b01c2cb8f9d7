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

	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/partner"
	"github.com/coffre/coffre/internal/vault"
)

// Server holds the API's dependencies.
type Server struct {
	Vault  *vault.Vault
	Auth   *auth.Service
	Logger *slog.Logger
	// Checkpoints serves the audit log's latest signed checkpoint (nil:
	// the route answers 503).
	Checkpoints vault.Store
	// AuditMaxLag makes /readyz fail when the audit integrator is further
	// behind (default 30 s).
	AuditMaxLag time.Duration
	// Metrics serves GET /metrics when set.
	Metrics http.Handler
	// CA issues partner credentials through the API (nil: it does not).
	CA *partner.CA
	// TrustedProxies may name the client in X-Forwarded-For.
	TrustedProxies []netip.Prefix
	MaxBodyBytes   int64 // default 64 KiB
	ReasonMaxLen   int   // default 200
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
	mux.HandleFunc("/v1/subjects", s.noListing)
	// HEAD would otherwise run the GET handler: an audited read that
	// returns nothing. Other methods get 405 rather than the catch-all 404.
	mux.HandleFunc("HEAD /v1/subjects/{id}", methodNotAllowed("GET, PATCH, DELETE"))
	mux.HandleFunc("/v1/subjects/{id}", methodNotAllowed("GET, PATCH, DELETE"))
	if s.Metrics != nil {
		mux.Handle("GET /metrics", s.Metrics)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no_such_route", "no route "+r.Method+" "+r.URL.Path, "see the API table in the README")
	})
	return mux
}

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
func (s *Server) fail(w http.ResponseWriter, r *http.Request, a *vault.Actor, err error) {
	var fe *vault.FieldError
	var le *vault.LimitError
	var te *auth.ThrottleError
	var nf *notFoundError
	var e apiError
	switch {
	case errors.Is(err, vault.ErrPanic): // a bug, whatever else the error says
		e = apiError{http.StatusInternalServerError, "internal", "internal error", "retry later; operators: see the server log"}
	case errors.As(err, &fe):
		e = apiError{http.StatusBadRequest, "invalid_field", fe.Error(), "correct the field and send the request again"}
	case errors.Is(err, errBadRequest):
		e = apiError{http.StatusBadRequest, "invalid_request", strings.TrimSuffix(err.Error(), ": "+errBadRequest.Error()), "see the API table in the README for the request's shape"}
	case errors.Is(err, errTooLarge):
		e = apiError{http.StatusRequestEntityTooLarge, "body_too_large", err.Error(), "send a smaller body"}
	case errors.Is(err, vault.ErrReasonRequired):
		e = apiError{http.StatusBadRequest, "reason_required", "this purpose requires a reason", "send a Coffre-Reason header (a ticket or case number)"}
	case errors.Is(err, vault.ErrInvalid):
		e = apiError{http.StatusBadRequest, "invalid_request", err.Error(), "check the purpose, the id and the fields against the configuration"}
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
	case errors.Is(err, auth.ErrStepUpRequired), errors.Is(err, vault.ErrStepUpRequired):
		e = apiError{http.StatusUnauthorized, "step_up_required", "this needs a fresh second factor: " + err.Error(), "POST /v1/auth/stepup/totp {\"code\"} or /v1/auth/stepup/webauthn/begin and /finish, then retry"}
	case errors.Is(err, auth.ErrFactorNotAllowed):
		e = apiError{http.StatusForbidden, "factor_not_allowed", "this second factor is not available to this account", "use a factor listed in the login answer's mfa"}
	case errors.Is(err, auth.ErrNoCeremony):
		e = apiError{http.StatusBadRequest, "no_ceremony", "no WebAuthn ceremony in progress", "call the matching /begin first"}
	case errors.As(err, &nf):
		e = apiError{http.StatusNotFound, "not_found", nf.msg, "check the id"}
	case errors.Is(err, partner.ErrNoClientCert):
		e = apiError{http.StatusUnauthorized, "client_certificate_required", "a partner request needs a client certificate from Coffre's CA", "present the certificate `coffre partner add` issued, with the API key in Coffre-Api-Key"}
	case errors.Is(err, auth.ErrUnauthenticated):
		e = apiError{http.StatusUnauthorized, "unauthenticated", "no valid session", "log in: POST /v1/auth/login then /v1/auth/totp, and send Authorization: Bearer <token>"}
	case errors.Is(err, vault.ErrForbidden):
		e = apiError{http.StatusForbidden, "forbidden", err.Error(), "declare a purpose your role allows (Coffre-Purpose)"}
	case errors.Is(err, vault.ErrNotFound):
		e = apiError{http.StatusNotFound, "not_found", "no such subject", "check the id; lookups match exact values only"}
	case errors.Is(err, vault.ErrConflict):
		e = apiError{http.StatusConflict, "conflict", err.Error(), "look the existing subject up instead of creating another"}
	case errors.Is(err, vault.ErrLocked):
		e = apiError{http.StatusLocked, "account_locked", "this account is locked and its sessions are revoked", "a security officer must unlock it (POST /v1/operators/{id}/unlock)"}
	case errors.As(err, &le):
		secs := int(math.Ceil(le.RetryAfter.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		e = apiError{http.StatusTooManyRequests, "rate_limited", "limit reached: " + strings.ReplaceAll(le.Code, "_", " "), fmt.Sprintf("retry in %d s, or ask a supervisor for a budget extension (POST /v1/extensions)", secs)}
	case errors.Is(err, vault.ErrUnavailable):
		e = apiError{http.StatusServiceUnavailable, "audit_unavailable", "the audit log cannot be written, so no data is served", "retry later; operators: check the store"}
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
		s.Logger.ErrorContext(r.Context(), "request failed", append(attrs, "error", err)...)
	} else {
		s.Logger.InfoContext(r.Context(), "request refused", attrs...)
	}
	writeError(w, e.Status, e.Code, e.Message, e.Hint)
}

// storeUnavailable marks a store failure as ErrUnavailable (503), except
// a panic, which stays an internal error (500).
func storeUnavailable(err error) error {
	if errors.Is(err, vault.ErrPanic) {
		return err
	}
	return fmt.Errorf("%w: %v", vault.ErrUnavailable, err)
}

var (
	errUnauthenticated = auth.ErrUnauthenticated
	errBadRequest      = errors.New("bad request")
	errTooLarge        = errors.New("request body too large")
)

// decode reads one JSON object into v: bounded, strict.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return fmt.Errorf("content type %.64q: want application/json: %w", ct, errBadRequest)
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
			return fmt.Errorf("body over %d bytes: %w", mbe.Limit, errTooLarge)
		case errors.Is(err, io.EOF):
			return fmt.Errorf("empty body: %w", errBadRequest)
		case errors.As(err, &se):
			return fmt.Errorf("malformed JSON at byte %d: %w", se.Offset, errBadRequest)
		case errors.As(err, &te):
			return fmt.Errorf("field %q: wrong JSON type %s: %w", te.Field, te.Value, errBadRequest)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return fmt.Errorf("unknown field %s: %w", strings.TrimPrefix(err.Error(), "json: unknown field "), errBadRequest)
		default:
			return fmt.Errorf("malformed JSON body: %w", errBadRequest)
		}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fmt.Errorf("body over %d bytes: %w", mbe.Limit, errTooLarge)
		}
		return fmt.Errorf("data after the JSON object: %w", errBadRequest)
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

type actorHandler func(w http.ResponseWriter, r *http.Request, a vault.Actor)

func (s *Server) authed(h actorHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := bearer(r)
		if !ok {
			s.fail(w, r, nil, auth.ErrUnauthenticated)
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
		return "", "", fmt.Errorf("missing Coffre-Purpose header: every read declares a purpose: %w", errBadRequest)
	case purpose != "" && !validName(purpose):
		return "", "", fmt.Errorf("malformed Coffre-Purpose: lower-case letters, digits and '-', at most 63: %w", errBadRequest)
	case len(reason) > s.ReasonMaxLen:
		return "", "", fmt.Errorf("Coffre-Reason longer than %d bytes: %w", s.ReasonMaxLen, errBadRequest)
	case !printable(reason):
		return "", "", fmt.Errorf("Coffre-Reason holds control characters or invalid UTF-8: %w", errBadRequest)
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
	if !vault.ValidSubjectID(id) && !vault.ValidPseudonym(id) {
		return "", fmt.Errorf("malformed subject id: want sub_ (or, for a partner, psn_) and 26 base32 characters: %w", errBadRequest)
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
		s.fail(w, r, nil, fmt.Errorf("username and password required (at most 128 and 1024 bytes): %w", errBadRequest))
		return
	}
	tok, mfa, err := s.Auth.Login(r.Context(), req.Username, req.Password, s.origin(r))
	if err != nil {
		s.fail(w, r, nil, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"mfa": mfa, "login_token": tok})
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
		s.fail(w, r, nil, fmt.Errorf("login_token and a 6-digit code required: %w", errBadRequest))
		return
	}
	ses, err := s.Auth.VerifyTOTP(r.Context(), req.LoginToken, req.Code, s.origin(r), r.UserAgent())
	if err != nil {
		s.fail(w, r, nil, err)
		return
	}
	writeSession(w, ses)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, a vault.Actor) {
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

func (s *Server) create(w http.ResponseWriter, r *http.Request, a vault.Actor) {
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
	writeJSON(w, http.StatusCreated, map[string]string{"id": id})
}

type lookupRequest struct {
	Field string `json:"field"`
	Value string `json:"value"`
}

func (s *Server) lookup(w http.ResponseWriter, r *http.Request, a vault.Actor) {
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
		s.fail(w, r, &a, fmt.Errorf("field and value required: %w", errBadRequest))
		return
	}
	id, err := s.Vault.Lookup(r.Context(), a, purpose, reason, req.Field, req.Value)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": id})
}

func (s *Server) read(w http.ResponseWriter, r *http.Request, a vault.Actor) {
	id, err := subjectID(r)
	if err == nil {
		var purpose, reason string
		if purpose, reason, err = s.headers(r, true); err == nil {
			var v *vault.View
			if v, err = s.Vault.Read(r.Context(), a, id, purpose, reason); err == nil {
				writeJSON(w, http.StatusOK, v)
				return
			}
		}
	}
	s.fail(w, r, &a, err)
}

type updateRequest struct {
	Fields map[string]*string `json:"fields"`
}

func (s *Server) update(w http.ResponseWriter, r *http.Request, a vault.Actor) {
	id, err := subjectID(r)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	var req updateRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, &a, err)
		return
	}
	if err := s.Vault.Update(r.Context(), a, id, req.Fields); err != nil {
		s.fail(w, r, &a, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) erase(w http.ResponseWriter, r *http.Request, a vault.Actor) {
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

// checkpoint serves the latest signed checkpoint as the C2SP signed note
// (text/plain): public, so that anyone holding the log's public key can
// check it and, with consistency proofs, that the log only grew.
func (s *Server) checkpoint(w http.ResponseWriter, r *http.Request) {
	if s.Checkpoints == nil {
		writeError(w, http.StatusServiceUnavailable, "no_checkpoint", "this server does not serve checkpoints", "the audit log is served by a coffre serve node with its store; ask its operators")
		return
	}
	var note []byte
	err := s.Checkpoints.View(r.Context(), func(ctx context.Context, tx vault.Tx) error {
		c, err := tx.LatestCheckpoint(ctx)
		if err == nil {
			note = c.Note
		}
		return err
	})
	if errors.Is(err, vault.ErrNotFound) {
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
}

// auditEntries serves entries from ≤ seq < to, paged: at most
// vault.MaxAuditPage, with "next" set when more remain.
func (s *Server) auditEntries(w http.ResponseWriter, r *http.Request, a vault.Actor) {
	q := r.URL.Query()
	from, err1 := strconv.ParseInt(q.Get("from"), 10, 64)
	to, err2 := strconv.ParseInt(q.Get("to"), 10, 64)
	if err1 != nil || err2 != nil {
		s.fail(w, r, &a, fmt.Errorf("from and to must be entry numbers (from ≥ 1, to > from): %w", errBadRequest))
		return
	}
	es, err := s.Vault.AuditEntries(r.Context(), a, from, to)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	out := make([]auditEntry, len(es))
	for i, e := range es {
		out[i] = auditEntry{e.Seq, e.Time.Format(time.RFC3339Nano), e.Actor, e.Action, e.Subject, e.Purpose, e.Reason, e.Fields, e.Decision, e.Origin}
	}
	resp := map[string]any{"entries": out}
	if n := len(es); n == vault.MaxAuditPage && es[n-1].Seq+1 < to {
		resp["next"] = es[n-1].Seq + 1
	}
	writeJSON(w, http.StatusOK, resp)
}

// proof serves an inclusion or consistency proof between the two query
// parameters a and b: {"a":…, "b":…, "hashes":[base64…]}. Public, like
// the checkpoint: proofs hold hashes only.
func (s *Server) proof(a, b string, prove func(context.Context, vault.Store, uint64, uint64) ([][]byte, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.Checkpoints == nil {
			writeError(w, http.StatusServiceUnavailable, "no_checkpoint", "this server does not serve proofs", "the audit log is served by a coffre serve node with its store; ask its operators")
			return
		}
		q := r.URL.Query()
		x, err1 := strconv.ParseUint(q.Get(a), 10, 64)
		y, err2 := strconv.ParseUint(q.Get(b), 10, 64)
		if err1 != nil || err2 != nil {
			s.fail(w, r, nil, fmt.Errorf("%s and %s must be whole numbers: %w", a, b, errBadRequest))
			return
		}
		hashes, err := prove(r.Context(), s.Checkpoints, x, y)
		if errors.Is(err, auditlog.ErrBeyondCheckpoint) {
			writeError(w, http.StatusNotFound, "beyond_checkpoint", fmt.Sprintf("no checkpoint covers size %d yet", y), "ask for a size no larger than the latest checkpoint's (GET /v1/audit/checkpoint)")
			return
		}
		if err != nil && !errors.Is(err, vault.ErrInvalid) {
			err = storeUnavailable(err)
		}
		if err != nil {
			s.fail(w, r, nil, err)
			return
		}
		if hashes == nil {
			hashes = [][]byte{}
		}
		writeJSON(w, http.StatusOK, map[string]any{a: x, b: y, "hashes": hashes})
	}
}

// ready answers 200 while the audit integrator keeps up, 503 when the
// oldest entry not yet in a checkpoint is older than AuditMaxLag.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	if s.Checkpoints == nil {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		return
	}
	st, err := auditlog.ReadStatus(r.Context(), s.Checkpoints, time.Now())
	if err != nil {
		s.fail(w, r, nil, storeUnavailable(err))
		return
	}
	max := s.AuditMaxLag
	if max <= 0 {
		max = 30 * time.Second
	}
	if st.Lag > max {
		writeError(w, http.StatusServiceUnavailable, "audit_lagging",
			fmt.Sprintf("the audit integrator is %s behind (limit %s)", st.Lag.Round(time.Second), max),
			"check the server log for integrator errors; reads are still audited, checkpoints are late")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "audit_lag_seconds": st.Lag.Seconds(), "audit_integrated": st.Integrated})
}
