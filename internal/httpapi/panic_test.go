package httpapi_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/coffre/coffre/internal/store"
)

// panicStore makes the next Update's function panic, once armed, on the
// store's writer goroutine, after the function it wraps has written.
type panicStore struct {
	store.Store
	armed atomic.Bool
}

func (s *panicStore) Update(ctx context.Context, fn func(context.Context, store.Tx) error) error {
	return s.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := fn(ctx, tx); err != nil {
			return err
		}
		if s.armed.CompareAndSwap(true, false) {
			panic("a bug in a transaction function")
		}
		return nil
	})
}

// TestPanicAnswers500: a request whose transaction function panics
// answers 500 internal, leaves no audit entry, and the server goes on:
// the same request then succeeds.
func TestPanicAnswers500(t *testing.T) {
	t.Parallel()
	ps := &panicStore{}
	e := newEnvOpts(t, envOptions{wrap: func(s store.Store) store.Store { ps.Store = s; return ps }})
	hr := e.login(t, e.addOperator(t, "helene", "hr-officer", "ac-normandie"))
	p, _ := person(t, 0, true)
	id := e.create(t, hr, p)
	before := len(e.auditEntries(t))

	ps.armed.Store(true)
	e.read(t, hr, id, "directory", "").want(t, http.StatusInternalServerError, "internal")
	if ps.armed.Load() {
		t.Fatal("the read did not reach the armed Update")
	}
	if n := len(e.auditEntries(t)); n != before {
		t.Fatalf("audit has %d entries after the failed read, want %d: its entry must be rolled back", n, before)
	}
	e.read(t, hr, id, "directory", "").want(t, http.StatusOK, "")
	if n := len(e.auditEntries(t)); n != before+1 {
		t.Fatalf("audit has %d entries after the next read, want %d", n, before+1)
	}
}
