package health_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/health"
)

// fake is a store.Store whose calls return err.
type fake struct {
	store.Store
	err error
}

func (f *fake) Update(context.Context, func(context.Context, store.Tx) error) error { return f.err }
func (f *fake) View(context.Context, func(context.Context, store.Tx) error) error   { return f.err }

func TestFailure(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 29, 22, 0, 0, 0, time.UTC)
	f := &fake{}
	s := health.New(f, func() time.Time { return now })
	nop := func(context.Context, store.Tx) error { return nil }
	hold := 10 * time.Second

	if got := s.Failure(hold); got != nil {
		t.Fatalf("fresh store: Failure = %+v, want nil", got)
	}
	f.err = fmt.Errorf("put subject: %w", store.ErrConflict)
	s.Update(ctx, nop)
	if got := s.Failure(hold); got != nil {
		t.Fatalf("after a conflict: Failure = %+v, want nil (not the store's fault)", got)
	}
	disk := fmt.Errorf("%w: commit: database or disk is full", store.ErrUnavailable)
	f.err = disk
	s.Update(ctx, nop)
	f.err = nil
	s.View(ctx, nop) // reads still work on a full disk
	got := s.Failure(hold)
	if got == nil || !got.Write || !errors.Is(got.Cause, store.ErrUnavailable) || !got.At.Equal(now) {
		t.Fatalf("after a failed write and a good read: Failure = %+v, want the write's", got)
	}
	now = now.Add(hold + time.Second)
	if got := s.Failure(hold); got != nil {
		t.Fatalf("after the hold with no traffic: Failure = %+v, want nil (half-open)", got)
	}
	f.err = disk
	s.Update(ctx, nop)
	if got := s.Failure(hold); got == nil {
		t.Fatal("a new failure is not reported")
	}
	now = now.Add(time.Millisecond)
	f.err = nil
	s.Update(ctx, nop)
	if got := s.Failure(hold); got != nil {
		t.Fatalf("after a good write: Failure = %+v, want nil", got)
	}
	f.err = fmt.Errorf("%w: dial tcp: connection refused", store.ErrUnavailable)
	s.View(ctx, nop)
	if got := s.Failure(hold); got == nil || got.Write {
		t.Fatalf("after a failed read: Failure = %+v, want a read failure", got)
	}
}
