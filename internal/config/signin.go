package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/policy"
)

// signinFile is the signin key as written.
type signinFile struct {
	Code struct {
		Enabled     leaf `key:"enabled"`
		Digits      leaf `key:"digits"`
		ValidFor    leaf `key:"valid_for"`
		MaxAttempts leaf `key:"max_attempts"`
		LockFor     leaf `key:"lock_for"`
		PerContact  leaf `key:"per_contact_per_hour"`
		PerOrigin   leaf `key:"per_origin_per_hour"`
	} `key:"code"`
	Sessions struct {
		Idle     leaf `key:"idle"`
		Absolute leaf `key:"absolute"`
	} `key:"sessions"`
	OIDC struct {
		Issuer           leaf `key:"issuer"`
		ClientID         leaf `key:"client_id"`
		ClientSecretFile leaf `key:"client_secret_file"`
		ClientSecretEnv  leaf `key:"client_secret_env"`
		RedirectURL      leaf `key:"redirect_url"`
		Scopes           leaf `key:"scopes,list"`
		Claim            leaf `key:"claim"`
		Field            leaf `key:"field"`
	} `key:"oidc"`
}

// Signin says how the people in the directory sign in to their own routes
// (/v1/me/…, package me); operators' logins are under [Login].
type Signin struct {
	// Code is sign-in with a one-time code sent to a contact address on
	// the person's record.
	Code SigninCode
	// SessionIdle ends a person's session after this long without a
	// request, between 1m and 24h. Default 15m.
	SessionIdle time.Duration
	// SessionAbsolute ends it this long after sign-in, between SessionIdle
	// and 24h. Default 1h.
	SessionAbsolute time.Duration
	// OIDC is an OpenID Connect provider persons sign in with; zero: none.
	OIDC OIDC
}

// SigninCode bounds one-time codes.
type SigninCode struct {
	// Enabled offers codes. Default true.
	Enabled bool
	// Digits is a code's length, 6 to 8. Default 6.
	Digits int
	// ValidFor is how long a code works, 1m to 1h. Default 10m.
	ValidFor time.Duration
	// MaxAttempts bounds the codes typed against one login token, and the
	// wrong codes of one contact within LockFor, 1 to 10; then the
	// contact is locked for LockFor. Default 5.
	MaxAttempts int
	// LockFor is how long a contact stays locked, 1m to 24h. Default 15m.
	LockFor time.Duration
	// PerContact bounds the codes one contact is sent per hour, 1 to 100.
	// Default 5.
	PerContact int
	// PerOrigin bounds the code requests of one address (an IPv6 /64) per
	// hour, on each server, 1 to 100000. Default 30.
	PerOrigin int
}

// OIDC is an OpenID Connect provider: Issuer, ClientID, the secret's
// source (ClientSecretFile or the variable ClientSecretEnv, exactly one,
// never this file), RedirectURL, Claim and Field are all set, or none.
type OIDC struct {
	// Issuer is the provider's issuer URL (https; http on a loopback host
	// only).
	Issuer string
	// ClientID is Coffre's client id at the provider.
	ClientID                          string
	ClientSecretFile, ClientSecretEnv string
	// RedirectURL is this server's callback as registered with the
	// provider: an https URL whose path ends in /v1/me/oidc/callback.
	RedirectURL string
	// Scopes asked for besides openid. Default none.
	Scopes []string
	// Claim names the ID token's claim that carries the person's
	// identifier (such as email, or a national identifier); Field the
	// schema's lookup field it must equal. A claim named email counts
	// only when the provider says it verified the address.
	Claim, Field string
}

// The defaults and bounds of signin.
const (
	defaultCodeDigits      = 6
	defaultCodeValidFor    = 10 * time.Minute
	defaultCodeAttempts    = 5
	defaultCodeLockFor     = 15 * time.Minute
	defaultCodePerContact  = 5
	defaultCodePerOrigin   = 30
	defaultPersonIdle      = 15 * time.Minute
	defaultPersonAbsolute  = time.Hour
	maxPersonSession       = 24 * time.Hour
	maxCodeRequestsPerHour = 100_000
	oidcCallbackPath       = "/v1/me/oidc/callback"
)

// claimRE is a claim's or a scope's name.
var claimRE = regexp.MustCompile(`^[A-Za-z0-9_.:/-]{1,64}$`)

// signin checks the signin settings except oidc.field, which
// signinField checks against the schema.
func (p *parser) signin(f *file) Signin {
	sf := f.Signin
	s := Signin{
		Code: SigninCode{Enabled: true, Digits: defaultCodeDigits, ValidFor: defaultCodeValidFor, MaxAttempts: defaultCodeAttempts,
			LockFor: defaultCodeLockFor, PerContact: defaultCodePerContact, PerOrigin: defaultCodePerOrigin},
		SessionIdle: defaultPersonIdle, SessionAbsolute: defaultPersonAbsolute,
	}
	c := sf.Code
	set(p, c.Enabled, read[bool], &s.Code.Enabled, func(bool) string { return "" })
	set(p, c.Digits, read[int], &s.Code.Digits, between(6, 8, false, "must be between %d and %d digits, got %d"))
	set(p, c.ValidFor, dur, &s.Code.ValidFor, between(time.Minute, time.Hour, false, "must be between %s and %s, got %s"))
	set(p, c.MaxAttempts, read[int], &s.Code.MaxAttempts, between(1, 10, false, "must be between %d and %d, got %d"))
	set(p, c.LockFor, dur, &s.Code.LockFor, between(time.Minute, 24*time.Hour, false, "must be between %s and %s, got %s"))
	set(p, c.PerContact, read[int], &s.Code.PerContact, between(1, 100, false, "must be between %d and %d, got %d"))
	set(p, c.PerOrigin, read[int], &s.Code.PerOrigin, between(1, maxCodeRequestsPerHour, false, "must be between %d and %d, got %d"))
	idleOK := set(p, sf.Sessions.Idle, dur, &s.SessionIdle, between(time.Minute, maxPersonSession, false, "must be between %s and %s, got %s"))
	absOK := set(p, sf.Sessions.Absolute, dur, &s.SessionAbsolute, between(time.Minute, maxPersonSession, false, "must be between %s and %s, got %s"))
	if idleOK && absOK && s.SessionAbsolute < s.SessionIdle {
		p.bad(firstSet(sf.Sessions.Absolute, sf.Sessions.Idle), "signin.sessions.absolute (%s) must be at least signin.sessions.idle (%s)", s.SessionAbsolute, s.SessionIdle)
	}

	of := sf.OIDC
	var o OIDC
	set(p, of.Issuer, read[string], &o.Issuer, func(v string) string { return checkOIDCURL(v, false) })
	set(p, of.ClientID, read[string], &o.ClientID, func(v string) string {
		if v == "" || len(v) > 255 || strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r > '~' }) {
			return "want the client id the provider gave Coffre: 1 to 255 visible ASCII characters"
		}
		return ""
	})
	set(p, of.ClientSecretFile, read[string], &o.ClientSecretFile, nonEmpty)
	set(p, of.ClientSecretEnv, read[string], &o.ClientSecretEnv, nonEmpty)
	set(p, of.RedirectURL, read[string], &o.RedirectURL, func(v string) string { return checkOIDCURL(v, true) })
	o.Scopes, _ = each(p, of.Scopes, true, func(v string) (string, string) {
		if !claimRE.MatchString(v) {
			return v, fmt.Sprintf("want a scope name such as email, got %s", short(v))
		}
		return v, ""
	})
	set(p, of.Claim, read[string], &o.Claim, func(v string) string {
		if !claimRE.MatchString(v) {
			return fmt.Sprintf("want the name of an ID token claim, such as email, got %s", short(v))
		}
		return ""
	})
	set(p, of.Field, read[string], &o.Field, nonEmpty)
	all := []leaf{of.Issuer, of.ClientID, of.ClientSecretFile, of.ClientSecretEnv, of.RedirectURL, of.Scopes, of.Claim, of.Field}
	if anySet(all...) {
		for _, l := range []struct {
			l    leaf
			name string
		}{{of.Issuer, "issuer"}, {of.ClientID, "client_id"}, {of.RedirectURL, "redirect_url"}, {of.Claim, "claim"}, {of.Field, "field"}} {
			if !l.l.set() {
				p.bad(firstSet(all...), "signin.oidc wants %s too", l.name)
			}
		}
		switch {
		case of.ClientSecretFile.set() && of.ClientSecretEnv.set():
			p.bad(of.ClientSecretEnv, "set client_secret_file or client_secret_env, not both")
		case !of.ClientSecretFile.set() && !of.ClientSecretEnv.set():
			p.bad(firstSet(all...), "signin.oidc wants the client secret from client_secret_file or client_secret_env (never in this file)")
		}
	} else {
		o = OIDC{}
	}
	s.OIDC = o
	return s
}

// signinField checks that signin.oidc.field is a lookup field of the
// schema.
func (p *parser) signinField(f *file, fields []policy.Field) {
	l := f.Signin.OIDC.Field
	name, ok := read[string](p, l)
	if !ok || name == "" {
		return
	}
	var names []string
	for _, fd := range fields {
		if fd.Name == name {
			if !fd.Lookup {
				p.bad(l, "field %s has no lookup index: set lookup: true on it, or match the claim against a field that has one", short(name))
			}
			return
		}
		if fd.Lookup {
			names = append(names, fd.Name)
		}
	}
	p.bad(l, "unknown field %s%s", short(name), hint(name, names))
}

// checkOIDCURL returns what is wrong with the issuer or (callback) the
// redirect URL, or "".
func checkOIDCURL(s string, callback bool) string {
	u, err := url.Parse(s)
	what := "the provider's issuer URL, such as https://idp.example.org"
	if callback {
		what = "this server's callback URL as registered with the provider, such as https://coffre.example.org" + oidcCallbackPath
	}
	switch {
	case err != nil || u.Host == "" || u.Scheme != "https" && u.Scheme != "http":
		return "want " + what
	case u.Scheme == "http" && !loopback(u.Hostname()):
		return "want " + what + " (https; http only on a loopback host, for tests)"
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return "want " + what + ", without credentials, query or fragment"
	case callback && !strings.HasSuffix(u.Path, oidcCallbackPath):
		return "want " + what + ": its path ends in " + oidcCallbackPath
	}
	return ""
}
