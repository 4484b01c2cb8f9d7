// Package health remembers what a store's last answers said, so that
// readiness can tell within a second that the store cannot be written or
// reached, without a probe of its own on every check.
//
// [Store] wraps a store.Store. Each Update (and NewSubjectIDs) is a write,
// each View a read; a call that returns nil counts as a success, one whose
// error wraps store.ErrUnavailable (the stores' class for a lost
// connection, an I/O error, a full disk, a closed store) as a failure.
// Other errors (not found, conflict, a refused request) say nothing about
// the store and are not counted. The cost is a mutex and a clock read per
// call.
//
// A failure is "current" while no success of the same kind followed it,
// for at most a hold time: when the last failure is older than that, with
// no traffic to say otherwise, [Store.Failure] reports nothing, so that a
// server taken out of rotation is let back in to try (a circuit breaker's
// half-open state); the next failure reports again at once.
package health

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/coffre/coffre/internal/store"
)

// Store is a store.Store that records the outcome of each call.
type Store struct {
	store.Store
	now func() time.Time

	mu          sync.Mutex
	write, read outcome
}

type outcome struct {
	ok, failed time.Time
	cause      error
}

var _ store.Store = (*Store)(nil)

// New wraps s. now is the clock (nil: time.Now).
func New(s store.Store, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{Store: s, now: now}
}

// Update runs s's Update and records its outcome as a write.
func (s *Store) Update(ctx context.Context, fn func(context.Context, store.Tx) error) error {
	err := s.Store.Update(ctx, fn)
	s.record(&s.write, err)
	return err
}

// View runs s's View and records its outcome as a read.
func (s *Store) View(ctx context.Context, fn func(context.Context, store.Tx) error) error {
	err := s.Store.View(ctx, fn)
	s.record(&s.read, err)
	return err
}

// NewSubjectIDs runs s's NewSubjectIDs and records its outcome as a
// write.
func (s *Store) NewSubjectIDs(ctx context.Context, n int) ([]string, error) {
	ids, err := s.Store.NewSubjectIDs(ctx, n)
	s.record(&s.write, err)
	return ids, err
}

// Unwrap returns the wrapped store (for callers that need its concrete
// type, such as maintenance commands).
func (s *Store) Unwrap() store.Store { return s.Store }

func (s *Store) record(o *outcome, err error) {
	switch {
	case err == nil:
		now := s.now()
		s.mu.Lock()
		o.ok = now
		s.mu.Unlock()
	case errors.Is(err, store.ErrUnavailable):
		now := s.now()
		s.mu.Lock()
		o.failed, o.cause = now, err
		s.mu.Unlock()
	}
}

// Failure is a current failure of the store.
type Failure struct {
	// Write is true when writes fail (and so audited reads are refused),
	// false when reads fail too.
	Write bool
	// At is when it last failed; Cause is that failure's error, for the
	// log only (it may hold a store's message).
	At    time.Time
	Cause error
}

// Failure returns the current failure, writes first, or nil: a failure
// is current when no success of its kind followed it and it is at most
// hold old.
func (s *Store) Failure(hold time.Duration) *Failure {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range []struct {
		write bool
		o     *outcome
	}{{true, &s.write}, {false, &s.read}} {
		if !o.o.failed.IsZero() && !o.o.failed.Before(o.o.ok) && now.Sub(o.o.failed) <= hold {
			return &Failure{Write: o.write, At: o.o.failed, Cause: o.o.cause}
		}
	}
	return nil
}
