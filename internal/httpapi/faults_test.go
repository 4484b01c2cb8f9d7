package httpapi_test

// Faults: a store that fails, through every route. The store's errors may
// one day carry a value (a constraint's message names the key that
// clashed); no answer may show them. A store that cannot be reached or
// written answers 503 unavailable on every path, never 500, and /readyz
// says so within a second.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/httpapi"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/postgres"
	"github.com/coffre/coffre/internal/store/postgres/pgtest"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetest"
)

// marker is in the text of every injected store error.
const marker = "MARKER-c0ffre"

// fault says how the store fails while armed.
type fault struct {
	name  string
	class error // wrapped under the marker's text (nil: a plain error)
	at    int   // fail the at-th call only (0: every call)
	after bool  // run the function first, then fail (a failed commit)
}

// faulty is a store that fails as its fault says while armed: each
// Update, View and NewSubjectIDs is a call.
type faulty struct {
	store.Store
	mu    sync.Mutex
	armed bool
	f     fault
	calls int
	fired int // errors returned since arm
}

// tripped reports whether an error was injected since arm.
func (s *faulty) tripped() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fired > 0
}

func (s *faulty) arm(f fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armed, s.f, s.calls, s.fired = true, f, 0, 0
}

func (s *faulty) disarm() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armed = false
}

// trip counts a call and returns the injected error when it fails.
func (s *faulty) trip(after bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.armed || s.f.after != after {
		return nil
	}
	s.calls++
	if s.f.at != 0 && s.calls != s.f.at {
		return nil
	}
	s.fired++
	// What a store's error could say: a constraint's message with the key.
	msg := marker + `: ERROR: duplicate key value violates unique constraint "subject_index_pkey" (SQLSTATE 23505) DETAIL: Key (value)=(` + marker + `@example.org) already exists`
	if s.f.class == nil {
		return errors.New(msg)
	}
	return fmt.Errorf("%s: %w", msg, s.f.class)
}

func (s *faulty) Update(ctx context.Context, fn func(context.Context, store.Tx) error) error {
	if err := s.trip(false); err != nil {
		return err
	}
	return s.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := fn(ctx, tx); err != nil {
			return err
		}
		return s.trip(true)
	})
}

func (s *faulty) View(ctx context.Context, fn func(context.Context, store.Tx) error) error {
	if err := s.trip(false); err != nil {
		return err
	}
	return s.Store.View(ctx, fn)
}

func (s *faulty) NewSubjectIDs(ctx context.Context, n int) ([]string, error) {
	if err := s.trip(false); err != nil {
		return nil, err
	}
	return s.Store.NewSubjectIDs(ctx, n)
}

var faults = []fault{
	{name: "plain", class: nil},
	{name: "unavailable", class: store.ErrUnavailable},
	{name: "conflict", class: store.ErrConflict},
	{name: "not found", class: store.ErrNotFound},
	{name: "plain second call", at: 2},
	{name: "unavailable second call", class: store.ErrUnavailable, at: 2},
	{name: "unavailable third call", class: store.ErrUnavailable, at: 3},
	{name: "plain failed commit", after: true},
	{name: "unavailable failed commit", class: store.ErrUnavailable, after: true},
	{name: "conflict failed commit", class: store.ErrConflict, after: true, at: 1},
}

// TestStoreErrorsStayInside walks every route as anonymous, as every role
// the route allows and as one it refuses, while the store fails in each way of faults, and checks that the
// text of the store's error is in no answer (body or header), and that an
// unavailable store, once met, is answered 503 unavailable (not 500, not
// 404 or 401 as if the thing asked for were not there), unless the request
// was refused already.
func TestStoreErrorsStayInside(t *testing.T) {
	if testing.Short() {
		// Every route, role and fault: minutes, and ten under the race
		// detector, which CI runs with -short; go test ./... runs it.
		t.Skip("walks every route under every fault: run without -short")
	}
	// A fault injected before a call (after false) returns from the
	// wrapper without reaching the store, so it meets the same code on
	// both stores; and how a store handles a function that fails inside
	// its transaction (its rollback, its retry of a conflict) does not
	// depend on the route that ran it. SQLite walks every route with
	// every fault; PostgreSQL the faults inside its transaction, on one
	// route of each method and family (/v1/subjects, /v1/auth, /v1/me,
	// /v1/sys, …): every kind of access, a third of the routes. The whole
	// walk on PostgreSQL took a third of the server's CPU in go test ./...
	// (a database of each route's own), for the same answers.
	var inside []fault
	for _, f := range faults {
		if f.after {
			inside = append(inside, f)
		}
	}
	var sample []httpapi.Route
	families := map[string]bool{}
	for _, rt := range httpapi.Routes() {
		family := rt.Method + " " + strings.Split(strings.TrimPrefix(rt.Path, "/v1/"), "/")[0]
		if !families[family] {
			families[family] = true
			sample = append(sample, rt)
		}
	}
	for _, backend := range []struct {
		name   string
		open   func(t *testing.T) store.Store
		routes []httpapi.Route
		faults []fault
	}{
		{"sqlite", nil, httpapi.Routes(), faults},
		// Commits need not reach the disk here: the walk is about answers.
		{"postgres", func(t *testing.T) store.Store { return openPostgres(t, pgURL(t)+"&synchronous_commit=off") }, sample, inside},
	} {
		t.Run(backend.name, func(t *testing.T) {
			if backend.open != nil {
				backend.open(t).Close() // skip now when there is no server
			}
			walkFaults(t, backend.open, backend.routes, backend.faults)
		})
	}
}

func walkFaults(t *testing.T, open func(t *testing.T) store.Store, routes []httpapi.Route, faults []fault) {
	cfg, roles := demoRoles(t)
	for _, rt := range routes {
		t.Run(rt.Method+" "+rt.Path, func(t *testing.T) {
			t.Parallel() // each route has its own server and store
			o := envOptions{}
			var fs *faulty
			o.wrap = func(s store.Store) store.Store { fs = &faulty{Store: s}; return fs }
			if open != nil {
				o.store = open(t)
			}
			e := newEnvOpts(t, o)
			ops := map[string]*auth.NewOperator{}
			for _, role := range roles[1:] {
				ops[role] = e.addOperator(t, "op-"+role, role, "u1")
			}
			hrTok := e.login(t, ops["hr-officer"])
			p, _ := person(t, 0, false)
			p.Unit = "u1"
			subject := e.create(t, hrTok, p)
			path := strings.NewReplacer("{id}", sampleID(rt.Path, subject, ops)).Replace(rt.Path)
			// Anonymous, every role the route allows, and one it refuses:
			// refused roles all take the same path (the session lookup).
			var walk []string
			refused := false
			for _, role := range roles {
				switch {
				case role == "" || rt.Access.Allows(cfg.Policy.Roles[role]):
					walk = append(walk, role)
				case !refused:
					walk, refused = append(walk, role), true
				}
			}
			for _, role := range walk {
				var tok string
				op := ops[role]
				fresh := true
				for _, f := range faults {
					if role != "" && fresh {
						tok = e.login(t, op)
					}
					e.clock.Advance(30 * time.Second) // a fresh TOTP step for bodies that carry a code
					r := req{Method: rt.Method, Path: path, Token: tok, Body: sampleBody(t, e, rt.Path, op, p), Reason: "faults"}
					r.Purpose = samplePurpose(cfg.Policy, role, rt)
					fs.arm(f)
					res, err := e.send(r)
					fs.disarm()
					if err != nil {
						t.Fatalf("%s: %v", path, err)
					}
					what := fmt.Sprintf("%s as %q with the store failing (%s): %d", path, role, f.name, res.Status)
					if bytes.Contains(res.Body, []byte(marker)) {
						t.Errorf("%s: the body shows the store's error: %s", what, res.Body)
					}
					for k, vs := range res.Header {
						for _, v := range vs {
							if strings.Contains(v, marker) {
								t.Errorf("%s: header %s shows the store's error: %s", what, k, v)
							}
						}
					}
					if res.Status >= 400 {
						res.Err = checkError(t, what, res)
					}
					// An unavailable store that was met answers 503, or the
					// refusal that was decided before it (the refusal's own
					// audit entry is written on a best-effort basis).
					switch {
					case !errors.Is(f.class, store.ErrUnavailable) || !fs.tripped():
					case res.Status == http.StatusServiceUnavailable && res.Err.Code == "unavailable":
					case res.Status == http.StatusBadRequest || res.Status == http.StatusForbidden:
					default:
						t.Errorf("%s: want 503 unavailable for an unavailable store: %s", what, res.Body)
					}
					// A request that went through may have changed the
					// session (logout, revocation): log in again.
					fresh = res.Status < 300 || res.Status == http.StatusUnauthorized
				}
			}
		})
	}
}

func openPostgres(t *testing.T, u string) *postgres.Store {
	t.Helper()
	st, err := postgres.Open(context.Background(), u, postgres.Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	return st
}

// pgURL is a database of the test's own on the test server, with this
// binary's schema (package pgtest).
func pgURL(t *testing.T) string {
	return pgtest.Migrated(t, postgres.Digest(), postgres.Migrate)
}
