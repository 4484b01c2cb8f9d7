// Package console is Coffre's web console for operators: server-rendered
// pages (html/template, embedded) over the same services as the JSON API
// (issue 17). It adds no data path: a sign-in is auth's, a lookup and a
// read are the vault's, with the same guard and audit.
//
// What it shows is one person at a time: a lookup by an exact identifier
// opens that person's record in the chosen purpose's view, in the answer
// to the form itself. There is no list of people, no record address to
// bookmark or share, no "recently viewed", no export, no
// search-as-you-type.
//
// The pages protect themselves: a strict Content-Security-Policy (no
// inline script or style, nothing from elsewhere, frame-ancestors none),
// a CSRF token on every form (an HMAC of the session, or of a pre-session
// cookie before sign-in), session cookies HttpOnly, SameSite=Strict and
// Secure outside development, Cache-Control: no-store on every page.
package console

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"

	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/vault"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Auth is what the console needs of operator sign-in (auth.Service).
type Auth interface {
	Login(ctx context.Context, username, password, origin string) (string, []string, error)
	VerifyTOTP(ctx context.Context, loginToken, code, origin, userAgent string) (*auth.Session, error)
	Authenticate(ctx context.Context, token, origin, userAgent string) (identity.Actor, error)
	Logout(ctx context.Context, token string) error
	StepUpTOTP(ctx context.Context, token, code, purpose, origin, userAgent string) error
	officerAuth
}

// Vault is what the console needs of the vault: one person at a time,
// and the security officers' alerts and unlock.
type Vault interface {
	Lookup(ctx context.Context, a identity.Actor, purpose, reason, field, value string) (string, error)
	Read(ctx context.Context, a identity.Actor, id, purpose, reason string) (*vault.View, error)
	ReadFields(ctx context.Context, a identity.Actor, id, purpose, reason string, fields []string) (*vault.View, error)
	Alerts(ctx context.Context, a identity.Actor, after int64, limit int) ([]guard.Alert, error)
	Unlock(ctx context.Context, a identity.Actor, id, reason string) error
	Budgets(ctx context.Context, a identity.Actor) ([]guard.Budget, error)
	officerVault
}

// Config wires a Console. Auth, Vault and Policy are required.
type Config struct {
	Auth   Auth
	Vault  Vault
	Policy *policy.Policy
	// People and Persons serve the people's portal (PortalHandler).
	People  People
	Persons Persons
	// Officer serves the security officer's and the incident pages.
	Officer Officer
	// Origin returns a request's client address, as the API sees it
	// (trusted proxies).
	Origin func(*http.Request) string
	// Insecure leaves the cookies' Secure flag off: development over
	// plain HTTP only.
	Insecure bool
	Logger   *slog.Logger
	// Key is the HMAC key of the CSRF tokens and reveal tickets: the
	// same on every node behind one load balancer, or a form served by
	// one fails on another (the server derives it from the keyring); nil:
	// a random key, good for this process only. At least 16 bytes.
	Key []byte
}

// Console serves the operators' pages under Prefix.
type Console struct {
	c     Config
	pages map[string]*template.Template
	key   []byte // the CSRF tokens' and reveal tickets' HMAC key (Config.Key)
	used  tickets
}

// Prefix is where the console is served.
const Prefix = "/console/"

// The cookies.
const (
	sessionCookie = "coffre_console"
	preCookie     = "coffre_pre"  // before sign-in: what the sign-in forms' CSRF token is bound to
	langCookie    = "coffre_lang" // fr or en, chosen on a page
)

// New returns a Console.
func New(c Config) (*Console, error) {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Origin == nil {
		c.Origin = func(r *http.Request) string { return r.RemoteAddr }
	}
	k := &Console{c: c, pages: map[string]*template.Template{}, key: bytes.Clone(c.Key)}
	if len(k.key) < 16 {
		k.key = make([]byte, 32)
		rand.Read(k.key)
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(template.FuncMap{"t": func(string) string { return "" }, "join": func(s []string) string { return strings.Join(s, ", ") }, "stepup": stepUpBox}).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, err
		}
		k.pages[base] = t
	}
	return k, nil
}

// Handler returns the console's routes, to mount at Prefix.
func (k *Console) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET "+Prefix+"static/", http.StripPrefix(Prefix+"static/", http.FileServerFS(static)))
	mux.HandleFunc("GET "+Prefix+"{$}", k.home)
	mux.HandleFunc("POST "+Prefix+"signin", k.signin)
	mux.HandleFunc("POST "+Prefix+"totp", k.totp)
	mux.HandleFunc("POST "+Prefix+"find", k.find)
	mux.HandleFunc("POST "+Prefix+"reveal", k.revealAsk)
	mux.HandleFunc("POST "+Prefix+"reveal/do", k.reveal)
	mux.HandleFunc("POST "+Prefix+"unlock", k.unlock)
	mux.HandleFunc("POST "+Prefix+"signout", k.signout)
	k.keyRoutes(mux)
	k.stepUpRoutes(mux)
	k.officerRoutes(mux)
	mux.HandleFunc(Prefix, func(w http.ResponseWriter, r *http.Request) {
		k.render(w, r, http.StatusNotFound, "error", page{Message: msgNoPage})
	})
	return secure(mux)
}

// secure sets the headers every console answer carries.
func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// csrf is the CSRF token of a form: an HMAC of what the page is bound to
// (the session token, or the pre-session cookie).
func (k *Console) csrf(binding string) string {
	m := hmac.New(sha256.New, k.key)
	m.Write([]byte("csrf\x00" + binding))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkCSRF reports whether the form's token is binding's.
func (k *Console) checkCSRF(r *http.Request, binding string) bool {
	got := r.PostFormValue("csrf")
	return binding != "" && got != "" && hmac.Equal([]byte(got), []byte(k.csrf(binding)))
}

// setCookie sets a cookie of the pages (a browser-session cookie: the
// server ends sessions by its own rules), or removes it when value is "".
// A session's cookie is the console's or the portal's alone (path
// Prefix or PortalPrefix); the pre-session and language cookies, which
// carry no one's session, serve both (path "/").
func (k *Console) setCookie(w http.ResponseWriter, name, value string) {
	path := "/"
	switch name {
	case sessionCookie:
		path = Prefix
	case portalCookie:
		path = PortalPrefix
	}
	c := &http.Cookie{Name: name, Value: value, Path: path, HttpOnly: true, Secure: !k.c.Insecure, SameSite: http.SameSiteStrictMode}
	if value == "" {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

// pre returns the pre-session cookie's value, setting a new one if absent.
func (k *Console) pre(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(preCookie); err == nil && len(c.Value) == 43 {
		return c.Value
	}
	b := make([]byte, 32)
	rand.Read(b)
	v := base64.RawURLEncoding.EncodeToString(b)
	k.setCookie(w, preCookie, v)
	return v
}

// operator returns the signed-in operator and their session token, or
// ok false.
func (k *Console) operator(r *http.Request) (identity.Actor, string, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" || len(c.Value) > 200 {
		return identity.Actor{}, "", false
	}
	a, err := k.c.Auth.Authenticate(r.Context(), c.Value, k.c.Origin(r), r.UserAgent())
	if err != nil {
		return identity.Actor{}, "", false
	}
	return a, c.Value, true
}

// errTooLong: a form value past its bound.
var errTooLong = errors.New("form value too long")
