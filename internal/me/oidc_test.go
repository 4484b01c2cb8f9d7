package me_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/me"
	"github.com/coffre/coffre/internal/subjectauth"
)

// nationalUser is a provider's user whose ID token carries a national id
// (as a national identity federation's would).
type nationalUser struct{ sub, nationalID string }

func (u nationalUser) ID() string { return u.sub }
func (u nationalUser) Userinfo(scope []string) ([]byte, error) {
	return []byte(`{"sub":"` + u.sub + `"}`), nil
}
func (u nationalUser) Claims(_ []string, c *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	return &struct {
		*mockoidc.IDTokenClaims
		NationalID string `json:"national_id"`
	}{c, u.nationalID}, nil
}

// startProvider runs an in-process OpenID Connect provider and points
// the service at it, matching claim against field.
func startProvider(t *testing.T, e *env, claim, field string) *mockoidc.MockOIDC {
	t.Helper()
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown() })
	e.svc.OIDC = &me.OIDC{Issuer: m.Issuer(), ClientID: m.ClientID, ClientSecret: m.ClientSecret,
		RedirectURL: "http://127.0.0.1:8080/v1/me/oidc/callback", Scopes: []string{"email"}, Claim: claim, Field: field}
	return m
}

// browse follows the authorization URL as a browser would, up to the
// redirect to the callback, and returns the callback's query.
func browse(t *testing.T, authURL string) url.Values {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || !strings.HasSuffix(loc.Path, "/v1/me/oidc/callback") {
		t.Fatalf("the provider answered %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc.Query()
}

func TestOIDCSignIn(t *testing.T) {
	e := newEnv(t, me.Settings{})
	m := startProvider(t, e, "email", "email_personal")
	m.QueueUser(&mockoidc.MockUser{Subject: "p1", Email: e.people[2].Fields["email_personal"], EmailVerified: true})
	from := e.lastSeq(t) + 1
	authURL, cookie, err := e.svc.StartOIDC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(authURL)
	q := u.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" || q.Get("state") == "" || !strings.Contains(q.Get("scope"), "openid") {
		t.Fatalf("authorization URL %s: want PKCE S256, a nonce, a state and openid", authURL)
	}
	if strings.Contains(cookie, q.Get("state")) || strings.Contains(cookie, q.Get("nonce")) {
		t.Error("the state cookie shows the state or nonce in clear")
	}
	cb := browse(t, authURL)
	ses, err := e.svc.OIDCCallback(ctx, cookie, cb.Get("state"), cb.Get("code"), "", "192.0.2.7", "ua")
	if err != nil || ses.Subject != e.ids[2] {
		t.Fatalf("OIDCCallback = %+v, %v; want a session of %s", ses, err, e.ids[2])
	}
	p, err := e.svc.Authenticate(ctx, ses.Token, "192.0.2.7", "ua")
	if err != nil || p.Subject != e.ids[2] || p.Method != subjectauth.MethodOIDC {
		t.Errorf("Authenticate = %+v, %v", p, err)
	}
	got := e.entries(t, from)
	if len(got) != 1 || got[0].Action != me.ActionOIDC || got[0].Actor != me.Actor(e.ids[2]) || got[0].Subject != e.ids[2] || got[0].Decision != "allow" {
		t.Errorf("entries = %+v, want one allowed OIDC sign-in of %s", got, e.ids[2])
	}
}

func TestOIDCNationalID(t *testing.T) {
	e := newEnv(t, me.Settings{})
	m := startProvider(t, e, "national_id", "national_id")
	// Typed with spaces, as a provider might: the field's normalisation
	// applies.
	nir := e.people[0].Fields["national_id"]
	m.QueueUser(nationalUser{sub: "n1", nationalID: nir[:1] + " " + nir[1:3] + " " + nir[3:]})
	authURL, cookie, err := e.svc.StartOIDC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cb := browse(t, authURL)
	ses, err := e.svc.OIDCCallback(ctx, cookie, cb.Get("state"), cb.Get("code"), "", "192.0.2.7", "ua")
	if err != nil || ses.Subject != e.ids[0] {
		t.Fatalf("OIDCCallback = %+v, %v; want a session of %s", ses, err, e.ids[0])
	}
}

// TestOIDCRefusals: the state must come back to the browser that started
// the sign-in, in time; the provider's refusal, an unverified email, and
// an identity no record holds open no session.
// flip changes the base64 character at i.
func flip(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

func TestOIDCRefusals(t *testing.T) {
	e := newEnv(t, me.Settings{})
	m := startProvider(t, e, "email", "email_personal")
	start := func() (string, url.Values) {
		t.Helper()
		authURL, cookie, err := e.svc.StartOIDC(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return cookie, browse(t, authURL)
	}
	cookie, cb := start()
	other, _ := start()
	for _, tc := range []struct {
		name                             string
		cookie, state, code, providerErr string
		want                             error
	}{
		{"no cookie", "", cb.Get("state"), cb.Get("code"), "", me.ErrOIDCState},
		{"another browser's cookie", other, cb.Get("state"), cb.Get("code"), "", me.ErrOIDCState},
		{"a forged cookie", flip(cookie, 20), cb.Get("state"), cb.Get("code"), "", me.ErrOIDCState},
		{"another state", cookie, "x" + cb.Get("state"), cb.Get("code"), "", me.ErrOIDCState},
		{"no code", cookie, cb.Get("state"), "", "", me.ErrOIDCState},
		{"the provider refused", cookie, cb.Get("state"), "", "access_denied", me.ErrOIDCDenied},
		{"a code the provider never issued", cookie, cb.Get("state"), "nonsense", "", me.ErrProvider},
	} {
		if _, err := e.svc.OIDCCallback(ctx, tc.cookie, tc.state, tc.code, tc.providerErr, "192.0.2.7", "ua"); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}

	cookie, cb = start()
	e.clock.Advance(11 * time.Minute)
	if _, err := e.svc.OIDCCallback(ctx, cookie, cb.Get("state"), cb.Get("code"), "", "192.0.2.7", "ua"); !errors.Is(err, me.ErrOIDCState) {
		t.Errorf("a callback after 11 minutes: %v, want ErrOIDCState", err)
	}

	m.QueueUser(&mockoidc.MockUser{Subject: "p2", Email: e.people[1].Fields["email_personal"], EmailVerified: false})
	cookie, cb = start()
	if _, err := e.svc.OIDCCallback(ctx, cookie, cb.Get("state"), cb.Get("code"), "", "192.0.2.7", "ua"); !errors.Is(err, me.ErrProvider) {
		t.Errorf("an unverified email: %v, want ErrProvider", err)
	}

	from := e.lastSeq(t) + 1
	m.QueueUser(&mockoidc.MockUser{Subject: "p3", Email: "stranger@example.org", EmailVerified: true})
	cookie, cb = start()
	if _, err := e.svc.OIDCCallback(ctx, cookie, cb.Get("state"), cb.Get("code"), "", "192.0.2.7", "ua"); !errors.Is(err, me.ErrNoRecord) {
		t.Errorf("an identity no record holds: %v, want ErrNoRecord", err)
	}
	got := e.entries(t, from)
	if len(got) != 1 || got[0].Subject != "" || !strings.HasPrefix(got[0].Actor, "unknown:") || got[0].Decision != "deny:not_found" || strings.Contains(got[0].Actor, "stranger") {
		t.Errorf("entries = %+v, want one refusal under a pseudonym", got)
	}

	// A provider that cannot be reached: the server still runs, and says so.
	e.svc.OIDC = &me.OIDC{Issuer: "http://127.0.0.1:1/none", ClientID: "c", Claim: "email", Field: "email_personal", Client: &http.Client{Timeout: time.Second}}
	if _, _, err := e.svc.StartOIDC(ctx); !errors.Is(err, me.ErrProvider) {
		t.Errorf("an unreachable provider: %v, want ErrProvider", err)
	}
	e.svc.OIDC = nil
	if _, _, err := e.svc.StartOIDC(ctx); !errors.Is(err, me.ErrOff) {
		t.Errorf("no provider configured: %v, want ErrOff", err)
	}
}

func FuzzOIDCState(f *testing.F) {
	seed := make([]byte, envelope.SeedSize)
	keys, err := envelope.NewKeyring(map[uint32][]byte{1: seed}, 1)
	if err != nil {
		f.Fatal(err)
	}
	svc := &me.Service{Keys: keys, OIDC: &me.OIDC{Issuer: "http://127.0.0.1:1/none"}}
	state := strings.Repeat("s", 43)
	sealed := svc.SealStateForTest(state)
	f.Add("", "")
	f.Add("AAAA", "state")
	f.Add(sealed, "other")
	f.Add(strings.Repeat("A", 2000), "s")
	f.Fuzz(func(t *testing.T, cookie, st string) {
		// Only the state this server sealed, with its cookie, reaches the
		// provider.
		_, err := svc.OIDCCallback(ctx, cookie, st, "code", "", "192.0.2.7", "ua")
		if !errors.Is(err, me.ErrOIDCState) && (cookie != sealed || st != state) {
			t.Fatalf("OIDCCallback(%q, %q) = %v, want ErrOIDCState", cookie, st, err)
		}
	})
}

// TestOIDCStateOneText: the state cookie is read only in the one text
// StartOIDC writes. The base64 decoder skips line breaks and, unpadded,
// ignores the unused low bits of the last character: the same sealed
// state in another text is refused, not sent on to the provider.
func TestOIDCStateOneText(t *testing.T) {
	seed := make([]byte, envelope.SeedSize)
	keys, err := envelope.NewKeyring(map[uint32][]byte{1: seed}, 1)
	if err != nil {
		t.Fatal(err)
	}
	svc := &me.Service{Keys: keys, OIDC: &me.OIDC{Issuer: "http://127.0.0.1:1/none"}}
	state := strings.Repeat("s", 43)
	sealed := svc.SealStateForTest(state)
	if _, err := svc.OIDCCallback(ctx, sealed, state, "code", "", "192.0.2.7", "ua"); errors.Is(err, me.ErrOIDCState) {
		t.Fatalf("the cookie as sealed: %v, want it past the state check", err)
	}
	others := []string{sealed[:10] + "\n" + sealed[10:], sealed[:10] + "\r" + sealed[10:], sealed + "\r\n"}
	if len(sealed)%4 != 0 { // the last character has unused bits: set one
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		last := strings.IndexByte(alphabet, sealed[len(sealed)-1])
		others = append(others, sealed[:len(sealed)-1]+string(alphabet[last^1]))
	}
	for _, cookie := range others {
		if _, err := svc.OIDCCallback(ctx, cookie, state, "code", "", "192.0.2.7", "ua"); !errors.Is(err, me.ErrOIDCState) {
			t.Errorf("OIDCCallback(%q) = %v, want ErrOIDCState", cookie, err)
		}
	}
}
