// Package apitest starts a real Coffre API server for a test: a store (by
// default SQLite in the test's temporary directory), a keyring with a
// random root seed, the demo policy ([config.Demo]), a vault, an auth
// service with cheap Argon2 parameters, the persons' sign-in, and the
// [httpapi.Server] over them, served over loopback by an
// [httptest.Server] until the test ends. It is for tests only.
//
// [Start] serves the API as it is made. A test that sets more of the
// parts first (the auth service's sessions and limits, the API server's
// fields) or serves another handler (one wrapped by openapitest.Check,
// a seal gate) calls [New], sets them, then [Server.Serve].
package apitest

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/httpapi"
	"github.com/coffre/coffre/internal/me"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/rights"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetemplate"
	"github.com/coffre/coffre/internal/vault"
)

// The WebAuthn relying party of the auth service: security keys are
// registered and asserted for RPID from RPOrigin.
const (
	RPID     = "localhost"
	RPOrigin = "https://localhost"
)

// Config varies the server; its zero value is the demo's over SQLite, on
// the system clock, logging nowhere.
type Config struct {
	// Store is the store under the server (nil: SQLite in a temporary
	// directory). It is closed when the test ends.
	Store store.Store
	// Wrap, when set, wraps the store the parts use (a fault injector, a
	// health probe).
	Wrap func(store.Store) store.Store
	// Now is the clock of the vault, the auth service and the persons'
	// sign-in (nil: time.Now).
	Now func() time.Time
	// Logger receives the vault's and the API's log (nil: discarded).
	Logger *slog.Logger
	// Vault is the vault's configuration. Its Store, Keys, Policy, Now
	// and Logger are the server's; its Rights and Stats, when nil, the
	// demo's, as coffre serve sets them.
	Vault vault.Config
}

// Server is a real API server and its parts.
type Server struct {
	// Store is the store the parts use (Config.Wrap's when set); SQLite
	// the SQLite store New opened (nil: Config.Store was given).
	Store  store.Store
	SQLite *sqlite.Store
	Keys   *envelope.Keyring
	Policy *policy.Policy
	Vault  *vault.Vault
	// Auth has cheap Argon2 parameters, the demo policy's second factors
	// and step-up groups, WebAuthn for [RPID], and the vault's guard over
	// administration; its other fields are auth's defaults.
	Auth *auth.Service
	Me   *me.Service
	// API serves Vault, Auth and Me, logging to Config.Logger.
	API *httpapi.Server
	// HTTP serves the API at URL once Serve has been called.
	HTTP *httptest.Server
	URL  string

	t testing.TB
}

// Start is [New] and then [Server.Serve] of the API's own handler.
func Start(t testing.TB, c Config) *Server {
	t.Helper()
	s := New(t, c)
	s.Serve(nil)
	return s
}

// New makes the parts of a server, not yet serving. Their store is
// closed when the test ends.
func New(t testing.TB, c Config) *Server {
	t.Helper()
	cfg, err := config.Demo(nil)
	if err != nil {
		t.Fatalf("config.Demo: %v", err)
	}
	seed := make([]byte, envelope.SeedSize)
	rand.Read(seed)
	keys, err := envelope.NewKeyring(map[uint32][]byte{1: seed}, 1)
	if err != nil {
		t.Fatalf("NewKeyring: %v", err)
	}
	s := &Server{Keys: keys, Policy: cfg.Policy, t: t}
	raw := c.Store
	if raw == nil {
		s.SQLite, err = sqlitetemplate.Open(context.Background(), filepath.Join(t.TempDir(), "coffre.db"), sqlite.Options{IDs: keys.SubjectIDs()})
		if err != nil {
			t.Fatalf("open the store: %v", err)
		}
		raw = s.SQLite
	}
	t.Cleanup(func() { raw.Close() })
	s.Store = raw
	if c.Wrap != nil {
		s.Store = c.Wrap(raw)
	}
	logger := c.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	vc := c.Vault
	vc.Store, vc.Keys, vc.Policy, vc.Now, vc.Logger = s.Store, keys, cfg.Policy, c.Now, logger
	if vc.Rights == nil {
		r := cfg.Rights
		vc.Rights = &vault.Rights{HandlerRole: r.HandlerRole, RestrictedReaders: r.RestrictedReaders,
			Contacts: rights.Contacts{Controller: r.Controller, DPO: r.DPO, Authority: r.Authority}}
	}
	if vc.Stats == nil {
		vc.Stats = &cfg.Statistics
	}
	s.Vault = vault.New(vc)

	wa, err := webauthn.New(&webauthn.Config{RPID: RPID, RPDisplayName: "Coffre", RPOrigins: []string{RPOrigin}})
	if err != nil {
		t.Fatalf("webauthn.New: %v", err)
	}
	s.Auth = &auth.Service{Store: s.Store, Keys: keys, Params: auth.Params{Time: 1, Memory: 64, Threads: 1}, Now: c.Now, WebAuthn: wa,
		RoleFactors: func(role string) []string { return cfg.Policy.Roles[role].MFA },
		StepGroup:   cfg.Policy.StepGroup,
		Guard:       httpapi.AdminGuard(s.Vault)}
	s.Me = &me.Service{Store: s.Store, Keys: keys, Policy: cfg.Policy, Now: c.Now}
	s.API = &httpapi.Server{Vault: s.Vault, Auth: s.Auth, Me: s.Me, Logger: logger}
	return s
}

// Serve serves h (nil: s.API's handler) over loopback until the test
// ends, and sets s.HTTP and s.URL. It is called once, after the parts
// are set: the server's goroutines read them.
func (s *Server) Serve(h http.Handler) {
	if h == nil {
		h = s.API.Handler()
	}
	s.HTTP = httptest.NewServer(h)
	s.URL = s.HTTP.URL
	s.t.Cleanup(s.HTTP.Close)
}
