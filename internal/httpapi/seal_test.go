package httpapi_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/httpapi"
	"github.com/coffre/coffre/internal/keyset"
	"github.com/coffre/coffre/internal/rootkey"
	"github.com/coffre/coffre/internal/seal"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/unseal"
)

// service is the API as a seal.Service; Close counts.
type service struct {
	http.Handler
	closed *atomic.Int32
}

func (s service) Close() error { s.closed.Add(1); return nil }

// sealedState seals a fresh keyring under a fresh unseal key split 3 of
// 5, and returns the sealed state whose service is api.
func sealedState(t *testing.T, api *httpapi.Server) (*seal.State, []unseal.Share) {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	shares, err := unseal.Split(key, 5, 3)
	if err != nil {
		t.Fatal(err)
	}
	seed, auditSeed, caSeed := make([]byte, envelope.SeedSize), make([]byte, keyset.SeedSize), make([]byte, keyset.SeedSize)
	for _, b := range [][]byte{seed, auditSeed, caSeed} {
		rand.Read(b)
	}
	signer, err := audit.NewSigner("coffre/audit", auditSeed)
	if err != nil {
		t.Fatal(err)
	}
	f, err := seal.Seal(key, shares[0].Set(), 3, 5, seal.Contents{Keyring: rootkey.Marshal(map[uint32][]byte{1: seed}, 1),
		AuditSeed: auditSeed, CASeed: caSeed, AuditVerifier: signer.VerifierKey()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := api.Handler()
	var closed atomic.Int32
	return seal.New(f, func(_ context.Context, k *keyset.Set) (seal.Service, error) {
		if k.Ring.Current() != 1 {
			t.Errorf("unsealed keyring at version %d, want 1", k.Ring.Current())
		}
		return &service{h, &closed}, nil // one per unseal, as a server's own
	}, unseal.Options{}), shares
}

func (e *env) sealStatus(t *testing.T) seal.Status {
	t.Helper()
	r := e.call(t, req{Method: "GET", Path: "/v1/sys/seal-status"})
	r.want(t, http.StatusOK, "")
	var st seal.Status
	decodeStrict(t, r.Body, &st)
	return st
}

func (e *env) unseal(t *testing.T, share string) *response {
	t.Helper()
	return e.call(t, req{Method: "POST", Path: "/v1/sys/unseal", Body: map[string]string{"share": share}})
}

// dataRoutes are requests on data routes, each to answer 503 sealed while
// sealed, whatever its session.
var dataRoutes = []req{
	{Method: "GET", Path: "/v1/subjects/sub_aaaaaaaaaaaaaaaaaaaaaaaaaa", Purpose: "support"},
	{Method: "POST", Path: "/v1/subjects", Body: map[string]any{"fields": map[string]string{"email": "a@example.org"}}},
	{Method: "POST", Path: "/v1/subjects/lookup", Body: map[string]string{"field": "email", "value": "a@example.org"}},
	{Method: "POST", Path: "/v1/auth/login", Body: map[string]string{"username": "x", "password": "y"}},
	{Method: "GET", Path: "/v1/audit/checkpoint"},
	{Method: "GET", Path: "/v1/operators"},
	{Method: "POST", Path: "/v1/sys/seal", Body: map[string]string{"reason": "x"}},
	{Method: "GET", Path: "/readyz"},
}

func (e *env) wantSealed(t *testing.T, token string) {
	t.Helper()
	for _, rq := range dataRoutes {
		rq.Token = token
		r := e.call(t, rq)
		if r.Status != http.StatusServiceUnavailable || r.Err.Code != "sealed" || r.Err.Hint == "" {
			t.Errorf("%s %s while sealed = %d %s, want 503 sealed with a hint", rq.Method, rq.Path, r.Status, r.Err.Code)
		}
	}
	e.call(t, req{Method: "GET", Path: "/healthz"}).want(t, http.StatusOK, "")
}

// TestSealedStart starts sealed, refuses bad shares, unseals with 3 of 5,
// serves, and seals again.
func TestSealedStart(t *testing.T) {
	e := newEnvOpts(t, envOptions{sealed: true})
	e.wantSealed(t, "")
	if st := e.sealStatus(t); !st.Sealed || st.Progress != 0 || st.Threshold != 3 || st.Shares != 5 || st.Set != e.shares[0].Set() {
		t.Fatalf("seal-status = %+v, want sealed, 0 of 3, set %s", st, e.shares[0].Set())
	}

	// Bad shares: each refused with 400 invalid_share, the server sealed.
	key := make([]byte, 32)
	rand.Read(key)
	others, _ := unseal.Split(key, 3, 3)
	e.unseal(t, others[0].Text()).want(t, http.StatusBadRequest, "invalid_share")
	e.unseal(t, e.shares[0].Text()[:30]).want(t, http.StatusBadRequest, "invalid_share")
	e.unseal(t, "").want(t, http.StatusBadRequest, "invalid_share")
	e.call(t, req{Method: "POST", Path: "/v1/sys/unseal", Body: map[string]string{"share": "x", "extra": "y"}}).want(t, http.StatusBadRequest, "invalid_request")
	e.unseal(t, e.shares[0].Text()).want(t, http.StatusOK, "")
	e.unseal(t, e.shares[0].Text()).want(t, http.StatusBadRequest, "invalid_share")
	e.unseal(t, e.shares[1].Text()).want(t, http.StatusOK, "")
	if st := e.sealStatus(t); !st.Sealed || st.Progress != 2 {
		t.Fatalf("after M-1 shares: %+v, want sealed, 2 of 3", st)
	}
	e.wantSealed(t, "")

	// Reset drops them; then 3 of 5 unseal.
	e.call(t, req{Method: "POST", Path: "/v1/sys/unseal", Body: map[string]bool{"reset": true}}).want(t, http.StatusOK, "")
	if st := e.sealStatus(t); st.Progress != 0 {
		t.Fatalf("after reset: %+v, want 0 of 3", st)
	}
	for _, i := range []int{4, 0, 2} {
		e.unseal(t, e.shares[i].Text()).want(t, http.StatusOK, "")
	}
	if st := e.sealStatus(t); st.Sealed {
		t.Fatalf("after 3 shares: %+v, want unsealed", st)
	}
	e.unseal(t, e.shares[1].Text()).want(t, http.StatusConflict, "already_unsealed")

	// Unsealed: the API serves.
	admin := e.addOperator(t, "alice", "admin", "")
	caseworker := e.addOperator(t, "bob", "caseworker", "ac-lyon")
	tok := e.login(t, caseworker)
	e.call(t, req{Method: "GET", Path: "/v1/account/sessions", Token: tok}).want(t, http.StatusOK, "")

	// Sealing needs the seal permission: refused and audited.
	e.call(t, req{Method: "POST", Path: "/v1/sys/seal", Token: tok, Body: map[string]string{"reason": "test"}}).want(t, http.StatusForbidden, "forbidden")
	if st := e.sealStatus(t); st.Sealed {
		t.Fatal("a refused seal sealed the vault")
	}
	entries := e.auditActions(t)
	if got := entries["seal/deny:forbidden"]; got != 1 {
		t.Errorf("audit has %d refused seals, want 1 (%v)", got, entries)
	}
	if gen, at := e.sealFlag(t); gen != 0 || !at.IsZero() {
		t.Errorf("seal flag after a refused seal = %d, %v; want 0, unset", gen, at)
	}

	atok := e.login(t, admin)
	e.call(t, req{Method: "POST", Path: "/v1/sys/seal", Token: atok, Body: map[string]string{"reason": "incident 42"}}).want(t, http.StatusOK, "")
	e.wantSealed(t, tok)
	if st := e.sealStatus(t); !st.Sealed || st.Progress != 0 {
		t.Fatalf("after the seal: %+v, want sealed, 0 of 3", st)
	}
	<-e.seal.Closed()
	if got := e.auditActions(t)["seal/allow"]; got != 1 {
		t.Errorf("audit has %d seals, want 1", got)
	}
	if gen, at := e.sealFlag(t); gen != 1 || at.IsZero() {
		t.Errorf("seal flag after the seal = %d, %v; want 1, set (the other nodes seal)", gen, at)
	}

	// And unseals again.
	for _, i := range []int{1, 3, 2} {
		e.unseal(t, e.shares[i].Text()).want(t, http.StatusOK, "")
	}
	e.call(t, req{Method: "GET", Path: "/v1/account/sessions", Token: tok}).want(t, http.StatusOK, "")
}

// TestSealUnderLoad seals while 32 readers read: every answer to a
// request sent after the seal returned is 503 sealed, each whole.
func TestSealUnderLoad(t *testing.T) {
	e := newEnvOpts(t, envOptions{sealed: true})
	for _, i := range []int{0, 1, 2} {
		e.unseal(t, e.shares[i].Text()).want(t, http.StatusOK, "")
	}
	admin := e.addOperator(t, "alice", "admin", "")
	caseworker := e.addOperator(t, "bob", "caseworker", "ac-lyon")
	tok := e.login(t, caseworker)
	atok := e.login(t, admin)

	var sealedAt atomic.Int64 // unix nanos once the seal has answered
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan string, 64)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				after := sealedAt.Load() != 0
				r, err := e.send(req{Method: "GET", Path: "/v1/account/sessions", Token: tok})
				switch {
				case err != nil:
					errs <- err.Error()
					return
				case after && r.Status != http.StatusServiceUnavailable:
					errs <- "a request sent after the seal got " + http.StatusText(r.Status)
					return
				case r.Status == http.StatusOK && len(r.Body) == 0, r.Status != http.StatusOK && r.Status != http.StatusServiceUnavailable:
					errs <- "partial or unexpected answer: " + string(r.Body)
					return
				}
			}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	e.call(t, req{Method: "POST", Path: "/v1/sys/seal", Token: atok, Body: map[string]string{"reason": "load"}}).want(t, http.StatusOK, "")
	sealedAt.Store(time.Now().UnixNano())
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
	select {
	case <-e.seal.Closed():
	case <-time.After(time.Second):
		t.Error("the service was not closed within 1 s of the seal")
	}
}

// auditActions counts the audit entries by "action/decision".
func (e *env) auditActions(t *testing.T) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, en := range e.auditEntries(t) {
		out[en.Action+"/"+en.Decision]++
	}
	return out
}

// sealFlag reads the store's seal flag.
func (e *env) sealFlag(t *testing.T) (int64, time.Time) {
	t.Helper()
	var gen int64
	var at time.Time
	if err := e.store.View(context.Background(), func(ctx context.Context, tx store.Tx) (err error) {
		gen, at, err = tx.SealFlag(ctx)
		return err
	}); err != nil {
		t.Fatalf("SealFlag: %v", err)
	}
	return gen, at
}

// TestGateService: a listener gated on the unsealed service (the partner
// listener) answers 503 sealed from the seal on, while the seal's close
// waits for its request in flight; after another unseal it still refuses,
// the service it served being gone.
func TestGateService(t *testing.T) {
	e := newEnvOpts(t, envOptions{sealed: true})
	for _, i := range []int{0, 1, 2} {
		e.unseal(t, e.shares[i].Text()).want(t, http.StatusOK, "")
	}
	var svc seal.Service
	e.seal.Serve(func(s seal.Service) { svc = s })
	entered, release := make(chan struct{}, 1), make(chan struct{})
	h := httpapi.GateService(e.seal, svc, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			entered <- struct{}{}
			<-release
		}
		w.WriteHeader(http.StatusOK)
	}))
	get := func(path string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec.Code
	}
	if st := get("/"); st != http.StatusOK {
		t.Fatalf("unsealed: %d, want 200", st)
	}
	slow := make(chan int, 1)
	go func() { slow <- get("/slow") }()
	<-entered
	if err := e.seal.Seal(); err != nil {
		t.Fatal(err)
	}
	if st := get("/"); st != http.StatusServiceUnavailable {
		t.Errorf("after the seal: %d, want 503", st)
	}
	select {
	case <-e.seal.Closed():
		t.Error("the service was closed under a request in flight")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if st := <-slow; st != http.StatusOK {
		t.Errorf("the request in flight across the seal: %d, want 200", st)
	}
	<-e.seal.Closed()
	for _, i := range []int{0, 1, 2} {
		e.unseal(t, e.shares[i].Text()).want(t, http.StatusOK, "")
	}
	if st := get("/"); st != http.StatusServiceUnavailable {
		t.Errorf("unsealed again, the old service's listener: %d, want 503", st)
	}
}
