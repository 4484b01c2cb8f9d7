package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// signinSchema has a lookup field and one without.
const signinSchema = "schema:\n  - {name: email, type: email, sensitivity: contact, lookup: true}\n  - {name: notes, type: text, sensitivity: identity}\n"

// oidcOK is a complete signin.oidc, on one line.
const oidcOK = "signin: {oidc: {issuer: https://idp.example.org, client_id: coffre, client_secret_env: OIDC_SECRET, redirect_url: https://c.example.org/v1/me/oidc/callback, claim: email, field: email}}\n"

func TestSignin(t *testing.T) {
	tests := []struct {
		yaml string // before signinSchema
		want func(*Signin)
	}{
		{"", func(*Signin) {}},
		{"signin: ~\n", func(*Signin) {}},
		{"signin: {code: {enabled: false}}\n", func(s *Signin) { s.Code.Enabled = false }},
		{"signin: {code: {digits: 8, valid_for: 1h, max_attempts: 10, lock_for: 24h, per_contact_per_hour: 100, per_origin_per_hour: 100000}}\n", func(s *Signin) {
			s.Code = SigninCode{Enabled: true, Digits: 8, ValidFor: time.Hour, MaxAttempts: 10, LockFor: 24 * time.Hour, PerContact: 100, PerOrigin: 100000}
		}},
		{"signin: {sessions: {idle: 5m, absolute: 5m}}\n", func(s *Signin) { s.SessionIdle, s.SessionAbsolute = 5*time.Minute, 5*time.Minute }},
		{oidcOK, func(s *Signin) {
			s.OIDC = OIDC{Issuer: "https://idp.example.org", ClientID: "coffre", ClientSecretEnv: "OIDC_SECRET", RedirectURL: "https://c.example.org/v1/me/oidc/callback", Claim: "email", Field: "email"}
		}},
		// A loopback provider over http, for tests.
		{"signin: {oidc: {issuer: \"http://127.0.0.1:9999/oidc\", client_id: c, client_secret_file: /s, redirect_url: \"http://localhost:8080/v1/me/oidc/callback\", claim: sub, field: email, scopes: [email]}}\n", func(s *Signin) {
			s.OIDC = OIDC{Issuer: "http://127.0.0.1:9999/oidc", ClientID: "c", ClientSecretFile: "/s", RedirectURL: "http://localhost:8080/v1/me/oidc/callback", Claim: "sub", Field: "email", Scopes: []string{"email"}}
		}},
	}
	for _, tt := range tests {
		cfg, err := Parse("inline.yaml", []byte(tt.yaml+signinSchema), nil)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.yaml, err)
			continue
		}
		want := defaultSignin
		tt.want(&want)
		if !reflect.DeepEqual(cfg.Signin, want) {
			t.Errorf("Parse(%q).Signin = %+v, want %+v", tt.yaml, cfg.Signin, want)
		}
	}
	// The environment overrides the file, and is checked like it.
	cfg, err := Parse("inline.yaml", []byte(oidcOK+signinSchema), []string{"COFFRE_SIGNIN_CODE_DIGITS=7", "COFFRE_SIGNIN_OIDC_CLAIM=upn"})
	if err != nil || cfg.Signin.Code.Digits != 7 || cfg.Signin.OIDC.Claim != "upn" {
		t.Errorf("with the environment: %+v, %v", cfg.Signin, err)
	}
	_, err = Parse("inline.yaml", []byte(signinSchema), []string{"COFFRE_SIGNIN_CODE_DIGITS=12"})
	if err == nil || !strings.Contains(err.Error(), "environment: COFFRE_SIGNIN_CODE_DIGITS: must be between 6 and 8 digits, got 12") {
		t.Errorf("a bad variable: %v", err)
	}
}

// TestSigninErrors: each bad signin value gives exactly the problems
// listed, on their line and key.
func TestSigninErrors(t *testing.T) {
	oidc := func(kv string) string {
		return "signin:\n  oidc:\n" + kv
	}
	const full = "    issuer: https://idp.example.org\n    client_id: coffre\n    redirect_url: https://c.example.org/v1/me/oidc/callback\n    claim: email\n"
	tests := []struct {
		yaml string // lines 1…, before signinSchema
		want []string
	}{
		{"signin: {code: {enabled: yes}}\n", []string{`inline.yaml:1: signin.code.enabled: want true or false, got the string "yes"`}},
		{"signin:\n  code:\n    digits: 5\n", []string{`inline.yaml:3: signin.code.digits: must be between 6 and 8 digits, got 5`}},
		{"signin:\n  code:\n    valid_for: 30s\n", []string{`inline.yaml:3: signin.code.valid_for: must be between 1m0s and 1h0m0s, got 30s`}},
		{"signin:\n  code:\n    max_attempts: 0\n", []string{`inline.yaml:3: signin.code.max_attempts: must be between 1 and 10, got 0`}},
		{"signin:\n  code:\n    lock_for: 2d\n", []string{`inline.yaml:3: signin.code.lock_for: invalid duration "2d"`}},
		{"signin:\n  code:\n    per_contact_per_hour: 101\n", []string{`inline.yaml:3: signin.code.per_contact_per_hour: must be between 1 and 100, got 101`}},
		{"signin:\n  code:\n    per_origin: 3\n", []string{`inline.yaml:3: signin.code: unknown key "per_origin" (want one of: enabled, digits`}},
		{"signin:\n  sessions:\n    idle: 1h\n    absolute: 30m\n", []string{`inline.yaml:4: signin.sessions.absolute: signin.sessions.absolute (30m0s) must be at least signin.sessions.idle (1h0m0s)`}},
		{"signin:\n  sessions:\n    absolute: 48h\n", []string{`inline.yaml:3: signin.sessions.absolute: must be between 1m0s and 24h0m0s, got 48h0m0s`}},
		{oidc("    issuer: https://idp.example.org\n"), []string{
			`inline.yaml:3: signin.oidc.issuer: signin.oidc wants client_id too`,
			`inline.yaml:3: signin.oidc.issuer: signin.oidc wants redirect_url too`,
			`inline.yaml:3: signin.oidc.issuer: signin.oidc wants claim too`,
			`inline.yaml:3: signin.oidc.issuer: signin.oidc wants field too`,
			`inline.yaml:3: signin.oidc.issuer: signin.oidc wants the client secret from client_secret_file or client_secret_env (never in this file)`,
		}},
		{oidc(full + "    field: email\n"), []string{`inline.yaml:3: signin.oidc.issuer: signin.oidc wants the client secret from client_secret_file or client_secret_env`}},
		{oidc(full + "    field: email\n    client_secret_file: /s\n    client_secret_env: S\n"), []string{`inline.yaml:9: signin.oidc.client_secret_env: set client_secret_file or client_secret_env, not both`}},
		{oidc(strings.Replace(full, "https://idp", "http://idp", 1) + "    field: email\n    client_secret_env: S\n"), []string{`inline.yaml:3: signin.oidc.issuer: want the provider's issuer URL, such as https://idp.example.org (https; http only on a loopback host, for tests)`}},
		{oidc(strings.Replace(full, "/v1/me/oidc/callback", "/callback", 1) + "    field: email\n    client_secret_env: S\n"), []string{`inline.yaml:5: signin.oidc.redirect_url: want this server's callback URL as registered with the provider, such as https://coffre.example.org/v1/me/oidc/callback: its path ends in /v1/me/oidc/callback`}},
		{oidc(strings.Replace(full, "idp.example.org", "idp.example.org?x=1", 1) + "    field: email\n    client_secret_env: S\n"), []string{`inline.yaml:3: signin.oidc.issuer: want the provider's issuer URL, such as https://idp.example.org, without credentials, query or fragment`}},
		{oidc(full + "    field: notes\n    client_secret_env: S\n"), []string{`inline.yaml:7: signin.oidc.field: field "notes" has no lookup index`}},
		{oidc(full + "    field: emial\n    client_secret_env: S\n"), []string{`inline.yaml:7: signin.oidc.field: unknown field "emial" (did you mean "email"?)`}},
		{oidc(strings.Replace(full, "claim: email", "claim: \"e mail\"", 1) + "    field: email\n    client_secret_env: S\n"), []string{`inline.yaml:6: signin.oidc.claim: want the name of an ID token claim, such as email, got "e mail"`}},
		{oidc(full + "    field: email\n    client_secret_env: S\n    scopes: [\"a b\"]\n"), []string{`inline.yaml:9: signin.oidc.scopes: want a scope name such as email, got "a b"`}},
		{oidc(strings.Replace(full, "client_id: coffre", "client_id: \"\"", 1) + "    field: email\n    client_secret_env: S\n"), []string{`inline.yaml:4: signin.oidc.client_id: want the client id the provider gave Coffre`}},
	}
	for _, tt := range tests {
		t.Run(tt.want[0], func(t *testing.T) {
			_, err := Parse("inline.yaml", []byte(tt.yaml+signinSchema), nil)
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("Parse(%q) = %v, want an *Error", tt.yaml, err)
			}
			if len(cerr.Problems) != len(tt.want) {
				t.Errorf("Parse(%q) gave %d problems, want %d:\n%v", tt.yaml, len(cerr.Problems), len(tt.want), err)
			}
			for i, w := range tt.want {
				if i < len(cerr.Problems) && !strings.HasPrefix(cerr.Problems[i].String(), w) {
					t.Errorf("Parse(%q) problem %d = %q, want prefix %q", tt.yaml, i, cerr.Problems[i], w)
				}
			}
		})
	}
}
