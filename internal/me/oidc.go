package me

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/subjectauth"
	"github.com/coffre/coffre/internal/value"
)

// OIDC is an OpenID Connect provider persons sign in with (a national
// identity federation): the authorization code flow with a state, a nonce
// and PKCE (S256), the ID token verified against the provider's keys, and
// one claim of it matched exactly, through the blind index, against one
// lookup field of the schema.
type OIDC struct {
	// Issuer is the provider's issuer URL (its discovery document is at
	// Issuer + "/.well-known/openid-configuration").
	Issuer                 string
	ClientID, ClientSecret string
	// RedirectURL is this server's callback as registered with the
	// provider: …/v1/me/oidc/callback.
	RedirectURL string
	// Scopes asked for; "openid" is always asked.
	Scopes []string
	// Claim names the ID token's claim that carries the person's
	// identifier, Field the lookup field it must equal (after the field's
	// normalisation). A claim "email" counts only with "email_verified"
	// true.
	Claim, Field string
	// Client is the HTTP client for the provider (default: a 10 s
	// timeout).
	Client *http.Client
	// StateFor is how long a started sign-in may take (default 10
	// minutes).
	StateFor time.Duration

	mu       sync.Mutex
	provider *oidc.Provider
}

// Errors of the OpenID Connect sign-in.
var (
	// ErrOIDCState: the callback does not match a sign-in this browser
	// started (no state cookie, another state, or too late).
	ErrOIDCState = errors.New("this sign-in was not started from this browser, or took too long")
	// ErrOIDCDenied: the provider answered with an error (the person
	// cancelled, or was refused).
	ErrOIDCDenied = errors.New("the identity provider did not sign you in")
	// ErrProvider: the provider could not be reached, or its answer did
	// not verify (the cause, for the log, is wrapped).
	ErrProvider = errors.New("the identity provider could not be reached or its answer did not verify")
	// ErrNoRecord: the provider proved an identity that no record holds.
	ErrNoRecord = errors.New("no record in this directory matches the identity the provider gave")
)

// stateLabel binds the sealed state cookie to its use.
const stateLabel = "coffre/oidc-state"

// oidcState is what the state cookie holds, sealed under the root key:
// the state, the nonce, the PKCE verifier, and when it stops working.
type oidcState struct {
	State    string    `json:"s"`
	Nonce    string    `json:"n"`
	Verifier string    `json:"v"`
	Expires  time.Time `json:"e"`
	// Redirect is the callback the provider was given, when it is not
	// RedirectURL (the portal's: [Service.StartOIDCTo]).
	Redirect string `json:"r,omitempty"`
}

func (o *OIDC) client() *http.Client {
	if o.Client != nil {
		return o.Client
	}
	return &http.Client{Timeout: 10 * time.Second}
}

func (o *OIDC) stateFor() time.Duration { return or(o.StateFor, 10*time.Minute) }

// getProvider reads the provider's discovery document once (again after a
// failure), so that a server starts while its provider is down.
func (o *OIDC) getProvider(ctx context.Context) (*oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, nil
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, o.client()), o.Issuer)
	if err != nil {
		return nil, fmt.Errorf("%w: discovery: %w", ErrProvider, err)
	}
	o.provider = p
	return p, nil
}

func (o *OIDC) config(p *oidc.Provider, redirect string) *oauth2.Config {
	scopes := []string{oidc.ScopeOpenID}
	for _, sc := range o.Scopes {
		if sc != oidc.ScopeOpenID {
			scopes = append(scopes, sc)
		}
	}
	return &oauth2.Config{ClientID: o.ClientID, ClientSecret: o.ClientSecret, Endpoint: p.Endpoint(), RedirectURL: cmp.Or(redirect, o.RedirectURL), Scopes: scopes}
}

func random() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// StartOIDC begins a sign-in through the provider: the URL to send the
// browser to, and the value of the state cookie to set on it (sealed:
// the browser holds the state, nonce and PKCE verifier, and no table
// does).
func (s *Service) StartOIDC(ctx context.Context) (authURL, cookie string, err error) {
	return s.StartOIDCTo(ctx, "")
}

// StartOIDCTo is StartOIDC with the provider told to send the browser
// back to path on RedirectURL's origin ("": RedirectURL itself), such as
// the web portal's own callback, which must be registered with the
// provider too. The sealed state names that callback, and
// [Service.OIDCCallback] gives it to the provider again with the code.
func (s *Service) StartOIDCTo(ctx context.Context, path string) (authURL, cookie string, err error) {
	o := s.OIDC
	if o == nil {
		return "", "", ErrOff
	}
	redirect := ""
	if path != "" {
		u, err := url.Parse(o.RedirectURL)
		if err != nil || !strings.HasPrefix(path, "/") {
			return "", "", fmt.Errorf("%w: callback path %q on %q", ErrOff, path, o.RedirectURL)
		}
		redirect = (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: path}).String()
	}
	p, err := o.getProvider(ctx)
	if err != nil {
		return "", "", err
	}
	st := oidcState{State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier(), Expires: s.now().Add(o.stateFor()), Redirect: redirect}
	b, _ := json.Marshal(st)
	cookie = base64.RawURLEncoding.EncodeToString(s.Keys.SealSecret(stateLabel, b))
	return o.config(p, redirect).AuthCodeURL(st.State, oidc.Nonce(st.Nonce), oauth2.S256ChallengeOption(st.Verifier)), cookie, nil
}

// OIDCProvider names the OpenID Connect provider persons may sign in
// with, for a sign-in page: its issuer's host ("" when none is
// configured).
func (s *Service) OIDCProvider() string {
	if s.OIDC == nil {
		return ""
	}
	u, err := url.Parse(s.OIDC.Issuer)
	if err != nil || u.Host == "" {
		return s.OIDC.Issuer
	}
	return u.Hostname()
}

// maxCookie bounds the state cookie read back.
const maxCookie = 1024

// openState opens the state cookie and checks it against the callback's
// state.
func (s *Service) openState(cookie, state string) (*oidcState, error) {
	if cookie == "" || len(cookie) > maxCookie || state == "" {
		return nil, ErrOIDCState
	}
	ct, err := base64.RawURLEncoding.DecodeString(cookie)
	if err != nil || base64.RawURLEncoding.EncodeToString(ct) != cookie {
		return nil, ErrOIDCState // the decoder skips line breaks and unused bits: one text per cookie
	}
	b, err := s.Keys.OpenSecret(stateLabel, ct)
	if err != nil {
		return nil, ErrOIDCState
	}
	var st oidcState
	if json.Unmarshal(b, &st) != nil || !s.now().Before(st.Expires) || subtle.ConstantTimeCompare([]byte(st.State), []byte(state)) != 1 {
		return nil, ErrOIDCState
	}
	return &st, nil
}

// OIDCCallback completes a sign-in: it checks the state against the
// browser's cookie, exchanges the code (with the PKCE verifier), verifies
// the ID token and its nonce, and opens a session for the person whose
// record's field holds the claim's value. providerError is the callback's
// error parameter ("" for none).
//
// Errors: ErrOIDCState, ErrOIDCDenied, ErrProvider (wrapping the cause),
// ErrNoRecord (audited, under a keyed pseudonym of the value).
func (s *Service) OIDCCallback(ctx context.Context, cookie, state, code, providerError, origin, userAgent string) (*Issued, error) {
	o := s.OIDC
	if o == nil {
		return nil, ErrOff
	}
	st, err := s.openState(cookie, state)
	if err != nil {
		return nil, err
	}
	if providerError != "" {
		return nil, ErrOIDCDenied
	}
	if code == "" || len(code) > 2048 {
		return nil, ErrOIDCState
	}
	p, err := o.getProvider(ctx)
	if err != nil {
		return nil, err
	}
	cctx := oidc.ClientContext(ctx, o.client())
	tok, err := o.config(p, st.Redirect).Exchange(cctx, code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		return nil, fmt.Errorf("%w: token: %w", ErrProvider, err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok {
		return nil, fmt.Errorf("%w: no id_token in the token response", ErrProvider)
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: o.ClientID}).Verify(cctx, raw)
	if err != nil {
		return nil, fmt.Errorf("%w: id token: %w", ErrProvider, err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(st.Nonce)) != 1 {
		return nil, fmt.Errorf("%w: id token: nonce mismatch", ErrProvider)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return nil, fmt.Errorf("%w: id token claims: %w", ErrProvider, err)
	}
	val, ok := claims[o.Claim].(string)
	if !ok || val == "" {
		return nil, fmt.Errorf("%w: the id token has no string claim %q", ErrProvider, o.Claim)
	}
	if o.Claim == "email" && claims["email_verified"] != true {
		return nil, fmt.Errorf("%w: the provider has not verified the email address", ErrProvider)
	}
	return s.oidcSession(ctx, val, origin, userAgent)
}

// oidcSession opens a session for the person whose record's Field holds
// val, a value the provider vouched for.
func (s *Service) oidcSession(ctx context.Context, val, origin, userAgent string) (*Issued, error) {
	o := s.OIDC
	f, ok := s.Policy.Field(o.Field)
	if !ok || !f.Lookup {
		return nil, fmt.Errorf("%w: field %q has no lookup index", ErrOff, o.Field)
	}
	now := s.now()
	norm := value.Normalize(f.Type, val)
	if value.Validate(f, val) != nil {
		norm = "" // matches nobody, and is audited as such
	}
	hash := s.Keys.BlindIndex(f.Name, norm)
	tok, th := newToken(SessionPrefix)
	sub, err := update(ctx, s.Store, func(ctx context.Context, tx store.Tx) (string, error) {
		e := &audit.Entry{Time: now, Action: ActionOIDC, Fields: []string{f.Name}, Origin: origin}
		sub := ""
		if norm != "" {
			id, err := tx.LookupIndex(ctx, hash)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return "", err
			}
			sub = id
		}
		if sub == "" {
			e.Actor, e.Decision = pseudonym(s.ContactKey("oidc:"+f.Name, norm)), "deny:not_found"
			return "", tx.AppendAudit(ctx, e)
		}
		if err := s.openSession(ctx, tx, th, sub, subjectauth.MethodOIDC, origin, userAgent, now); err != nil {
			return "", err
		}
		e.Actor, e.Subject, e.Decision = Actor(sub), sub, "allow"
		return sub, tx.AppendAudit(ctx, e)
	})
	switch {
	case err != nil:
		return nil, unavailable(err)
	case sub == "":
		return nil, ErrNoRecord
	}
	return &Issued{Token: tok, Expires: now.Add(s.max()), Subject: sub}, nil
}
