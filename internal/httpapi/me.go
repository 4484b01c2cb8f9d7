package httpapi

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/event"
	"github.com/coffre/coffre/internal/me"
)

// The person's routes (/v1/me/…): a person in the directory signs in with
// a one-time code or through an OpenID Connect provider, and their
// session reaches only these routes, and only their own record's. An
// operator's own account is under /v1/account/*.

// personHandler is a route's handler for a person's session.
type personHandler func(w http.ResponseWriter, r *http.Request, p me.Person)

// operatorToken reports whether tok has the form of an operator's session
// token (auth's "cfs_").
func operatorToken(tok string) bool { return strings.HasPrefix(tok, "cfs_") }

// personAuthed runs h for the person of the request's session. An
// operator's session is refused (403, audited as the operator's refusal),
// whatever its role: no operator reads a person's own view.
func (s *Server) personAuthed(h personHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.testPerson != nil {
			if id, ok := s.testPerson(r); ok {
				h(w, r, me.Person{Subject: id, Origin: s.origin(r)})
				return
			}
		}
		if s.Me == nil {
			s.failMe(w, r, me.ErrOff)
			return
		}
		tok, ok := bearer(r)
		if !ok {
			s.failMe(w, r, me.ErrUnauthenticated)
			return
		}
		if operatorToken(tok) {
			a, err := s.Auth.Authenticate(r.Context(), tok, s.origin(r), r.UserAgent())
			if err != nil {
				s.fail(w, r, nil, err)
				return
			}
			s.Vault.Forbidden(r.Context(), a, "me", "", "")
			s.Logger.InfoContext(r.Context(), "request refused", "method", r.Method, "route", r.Pattern, "status", http.StatusForbidden, "code", "forbidden", "operator", a.ID)
			writeError(w, http.StatusForbidden, "forbidden", "an operator's session cannot reach a person's routes (/v1/me/…)",
				"an operator's own account is under /v1/account/*; a person signs in with POST /v1/me/login")
			return
		}
		p, err := s.Me.Authenticate(r.Context(), tok, s.origin(r), r.UserAgent())
		if err != nil {
			s.failMe(w, r, err)
			return
		}
		h(w, r, p)
	}
}

// personOnOperatorRoute answers a person's session on an operator's route.
func (s *Server) personOnOperatorRoute(w http.ResponseWriter, r *http.Request) {
	s.Logger.InfoContext(r.Context(), "request refused", "method", r.Method, "route", r.Pattern, "status", http.StatusForbidden, "code", "forbidden", "session", "person")
	writeError(w, http.StatusForbidden, "forbidden", "a person's session reaches only their own routes (/v1/me/…)",
		"operators log in with POST /v1/auth/login")
}

// failMe answers the errors of the person's routes; others go to fail.
// No message names a contact, a code or a subject.
func (s *Server) failMe(w http.ResponseWriter, r *http.Request, err error) {
	var ce *me.CodeError
	var le *me.LockedError
	var re *me.LimitError
	var e apiError
	retry := func(d time.Duration) int {
		secs := max(1, int(math.Ceil(d.Seconds())))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		return secs
	}
	const again = "ask for a new code: POST /v1/me/login {\"contact\"}"
	switch {
	case errors.Is(err, me.ErrBadContact):
		e = apiError{http.StatusBadRequest, "invalid_contact", err.Error(), "type the email address or the phone number your record holds"}
	case errors.Is(err, me.ErrUnknownLogin):
		e = apiError{http.StatusUnauthorized, "invalid_login_token", "unknown login token, or its code was used already", again}
	case errors.Is(err, me.ErrCodeExpired):
		e = apiError{http.StatusUnauthorized, "code_expired", "the code has expired", again}
	case errors.Is(err, me.ErrAttemptsUsed):
		e = apiError{http.StatusUnauthorized, "too_many_attempts", "the attempts this code allowed are used up", again}
	case errors.As(err, &ce):
		e = apiError{http.StatusUnauthorized, "invalid_code", fmt.Sprintf("wrong code: %d attempts left", ce.Left),
			"type the code of the message that came with this login token; after the last attempt, sign-in with this contact is locked for a while"}
	case errors.As(err, &le):
		secs := retry(le.RetryAfter)
		e = apiError{http.StatusLocked, "contact_locked", "too many wrong codes: sign-in with this contact is locked for a while", fmt.Sprintf("retry in %d s", secs)}
	case errors.As(err, &re):
		secs := retry(re.RetryAfter)
		who := "this contact"
		if re.Origin {
			who = "this address"
		}
		e = apiError{http.StatusTooManyRequests, "too_many_codes", "too many codes asked for " + who, fmt.Sprintf("retry in %d s; a code already sent stays valid for its time", secs)}
	case errors.Is(err, me.ErrUnauthenticated):
		e = apiError{http.StatusUnauthorized, "unauthenticated", "no valid session", "sign in: POST /v1/me/login {\"contact\"}, then POST /v1/me/login/code {\"login_token\",\"code\"}, and send Authorization: Bearer <token>"}
	case errors.Is(err, me.ErrOff):
		e = apiError{http.StatusNotFound, "signin_off", "this server does not offer this way of signing in", "ask the organisation that holds your record how to sign in"}
	case errors.Is(err, me.ErrOIDCState):
		e = apiError{http.StatusBadRequest, "oidc_state", "this sign-in was not started from this browser, or took too long", "start again: GET /v1/me/oidc/start"}
	case errors.Is(err, me.ErrOIDCDenied):
		e = apiError{http.StatusUnauthorized, "oidc_denied", "the identity provider did not sign you in", "start again: GET /v1/me/oidc/start"}
	case errors.Is(err, me.ErrProvider):
		e = apiError{http.StatusBadGateway, "identity_provider", "the identity provider could not be reached, or its answer did not verify", "retry later; operators: see the server log"}
	case errors.Is(err, me.ErrNoRecord):
		e = apiError{http.StatusForbidden, "no_record", "no record in this directory matches the identity the provider gave", "ask the organisation that holds your record"}
	case errors.Is(err, me.ErrNoHistoryYet):
		retry(time.Second)
		e = apiError{http.StatusServiceUnavailable, "no_checkpoint", "no signed checkpoint covers your history yet", "retry in a second"}
	case errors.Is(err, me.ErrUnavailable):
		e = apiError{http.StatusServiceUnavailable, "unavailable", "the store is unavailable: nothing was done", "retry in a few seconds"}
	default:
		s.fail(w, r, nil, err)
		return
	}
	attrs := []any{"method", r.Method, "route", r.Pattern, "status", e.Status, "code", e.Code}
	if e.Status >= 500 {
		s.Logger.ErrorContext(r.Context(), "request failed", append(attrs, "event", event.RequestFailed, "error", err)...)
	} else {
		s.Logger.InfoContext(r.Context(), "request refused", attrs...)
	}
	writeError(w, e.Status, e.Code, e.Message, e.Hint)
}

type meLoginRequest struct {
	Contact string `json:"contact"`
}

// meLoginAnswer is POST /v1/me/login's answer: the token to send back
// with the code (the same whether or not a record holds the contact).
type meLoginAnswer struct {
	LoginToken string `json:"login_token"`
}

// meLogin asks a one-time code for a contact: the same answer whether or
// not a record holds it.
func (s *Server) meLogin(w http.ResponseWriter, r *http.Request) {
	if s.Me == nil {
		s.failMe(w, r, me.ErrOff)
		return
	}
	var req meLoginRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, nil, err)
		return
	}
	tok, err := s.Me.RequestCode(r.Context(), req.Contact, s.origin(r))
	if err != nil {
		s.failMe(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, meLoginAnswer{LoginToken: tok})
}

type meCodeRequest struct {
	LoginToken string `json:"login_token"`
	Code       string `json:"code"`
}

func (s *Server) meCode(w http.ResponseWriter, r *http.Request) {
	if s.Me == nil {
		s.failMe(w, r, me.ErrOff)
		return
	}
	var req meCodeRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, nil, err)
		return
	}
	if req.LoginToken == "" || req.Code == "" {
		s.fail(w, r, nil, badRequest("login_token and code required"))
		return
	}
	ses, err := s.Me.VerifyCode(r.Context(), req.LoginToken, req.Code, s.origin(r), r.UserAgent())
	if err != nil {
		s.failMe(w, r, err)
		return
	}
	writeSession(w, &auth.Session{Token: ses.Token, Expires: ses.Expires})
}

// oidcCookie holds the sealed state of a sign-in through the provider,
// from its start to its callback.
const oidcCookie = "coffre_oidc"

// noHead refuses HEAD on a public GET route whose GET acts (a redirect
// with a state, a code exchanged): ServeMux lets HEAD run a GET pattern.
func noHead(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodHead {
		return false
	}
	w.Header().Set("Allow", "GET")
	writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "HEAD is not allowed here", "use GET")
	return true
}

func (s *Server) oidcCookie(value string, maxAge int) *http.Cookie {
	secure := true
	if s.Me != nil && s.Me.OIDC != nil {
		if u, err := url.Parse(s.Me.OIDC.RedirectURL); err == nil && u.Scheme == "http" {
			secure = false // a loopback test setup: config refuses http elsewhere
		}
	}
	return &http.Cookie{Name: oidcCookie, Value: value, Path: "/v1/me/oidc", MaxAge: maxAge, HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode}
}

// meOIDCStart sends the browser to the provider, with the sign-in's
// sealed state in a cookie.
func (s *Server) meOIDCStart(w http.ResponseWriter, r *http.Request) {
	if noHead(w, r) {
		return
	}
	if s.Me == nil {
		s.failMe(w, r, me.ErrOff)
		return
	}
	u, cookie, err := s.Me.StartOIDC(r.Context())
	if err != nil {
		s.failMe(w, r, err)
		return
	}
	http.SetCookie(w, s.oidcCookie(cookie, 600))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u, http.StatusFound)
}

// meOIDCCallback completes the sign-in the browser started: the person's
// session, as JSON.
func (s *Server) meOIDCCallback(w http.ResponseWriter, r *http.Request) {
	if noHead(w, r) {
		return
	}
	if s.Me == nil {
		s.failMe(w, r, me.ErrOff)
		return
	}
	q := r.URL.Query()
	var cookie string
	if c, err := r.Cookie(oidcCookie); err == nil {
		cookie = c.Value
	}
	http.SetCookie(w, s.oidcCookie("", -1)) // a state serves once
	ses, err := s.Me.OIDCCallback(r.Context(), cookie, q.Get("state"), q.Get("code"), q.Get("error"), s.origin(r), r.UserAgent())
	if err != nil {
		s.failMe(w, r, err)
		return
	}
	writeSession(w, &auth.Session{Token: ses.Token, Expires: ses.Expires})
}

// lang is the language a person asks for: ?lang=, else the first of
// Accept-Language that Coffre speaks (fr, en), else English.
func lang(r *http.Request) string {
	if l := r.URL.Query().Get("lang"); l == "fr" || l == "en" {
		return l
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		switch base, _, _ := strings.Cut(strings.ToLower(tag), "-"); base {
		case "fr", "en":
			return base
		}
	}
	return "en"
}

// meProfileAnswer is GET /v1/me's answer: who the session is.
type meProfileAnswer struct {
	Lang         string    `json:"lang"`
	Phrase       string    `json:"phrase"`
	Phrases      mePhrases `json:"phrases"`
	SignedInWith string    `json:"signed_in_with"`
	Subject      string    `json:"subject"`
}

// mePhrases is the verification phrase in each language Coffre speaks.
type mePhrases struct {
	En string `json:"en"`
	Fr string `json:"fr"`
}

// meProfile is who the session is: the subject's id, and the
// verification phrase their notices show (both languages: the notices'
// is the record's, which this route does not read).
func (s *Server) meProfile(w http.ResponseWriter, r *http.Request, p me.Person) {
	l := lang(r)
	writeJSON(w, http.StatusOK, meProfileAnswer{
		Subject: p.Subject, SignedInWith: p.Method, Lang: l,
		Phrase:  s.Me.Phrase(p.Subject, l),
		Phrases: mePhrases{En: s.Me.Phrase(p.Subject, "en"), Fr: s.Me.Phrase(p.Subject, "fr")},
	})
}

// meAccesses is the person's history (coffre-subject-history/v1): every
// entry about them up to the latest checkpoint, each with its proofs and
// its summary; saved as is, it is what `coffre audit verify-subject`
// checks.
func (s *Server) meAccesses(w http.ResponseWriter, r *http.Request, p me.Person) {
	h, err := s.Me.History(r.Context(), p)
	if err != nil {
		s.failMe(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h)
}

func (s *Server) meLogout(w http.ResponseWriter, r *http.Request, p me.Person) {
	tok, _ := bearer(r)
	if err := s.Me.Logout(r.Context(), p, tok); err != nil {
		s.failMe(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
