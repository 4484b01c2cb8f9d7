// Package group is the queue in front of a store's single writer: Update
// calls wait in it, and the writer takes whatever queued while it
// committed the previous group, up to a maximum, and commits it as one
// transaction (group commit: one disk flush for many calls, no fixed
// wait). Both stores use it; what a group does is theirs. [Call] runs
// one transaction function so that its panic fails it alone.
package group

import (
	"context"
	"errors"

	"github.com/coffre/coffre/internal/store"
)

// ErrClosed is returned by Submit once the queue is stopped.
var ErrClosed = errors.New("store closed")

// Request is one Update call. The writer sets Err and calls Done.
type Request struct {
	Ctx  context.Context
	Fn   func(context.Context, store.Tx) error
	Err  error
	done chan struct{}
}

// Done answers the request with its Err.
func (r *Request) Done() { close(r.done) }

// Queue holds the requests waiting for the writer.
type Queue struct {
	reqs chan *Request
	stop chan struct{}
	done chan struct{}
	max  int
	// Separate: a request whose context store.Alone marked is a group of
	// its own (a store whose transactions wait on row locks sets it).
	Separate bool
}

// New returns a queue of groups of at most max requests.
func New(max int) *Queue {
	return &Queue{reqs: make(chan *Request, max), stop: make(chan struct{}), done: make(chan struct{}), max: max}
}

// Stopping reports whether Stop was called.
func (q *Queue) Stopping() bool {
	select {
	case <-q.stop:
		return true
	default:
		return false
	}
}

// Submit queues fn and returns its outcome once the writer has answered
// it: ErrClosed after Stop, ctx's error if it has ended or ends before
// the writer takes fn. The writer answers every request it takes, even when ctx
// ends, so Submit never returns while fn may still run.
func (q *Queue) Submit(ctx context.Context, fn func(context.Context, store.Tx) error) error {
	if q.Stopping() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &Request{Ctx: ctx, Fn: fn, done: make(chan struct{})}
	select {
	case q.reqs <- r:
	case <-q.stop:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-r.done:
		return r.Err
	case <-q.done:
		select {
		case <-r.done:
			return r.Err
		default:
			return ErrClosed // queued after the writer's last drain
		}
	}
}

// Run is the writer's loop: it calls commit with each group, which must
// answer every request of it (Done), until Stop; then, once the group in
// progress is done, it answers what is still queued with ErrClosed and
// returns.
func (q *Queue) Run(commit func([]*Request)) {
	defer close(q.done)
	batch := make([]*Request, 0, q.max)
	closing := func() {
		for {
			select {
			case r := <-q.reqs:
				r.Err = ErrClosed
				r.Done()
			default:
				return
			}
		}
	}
	alone := func(r *Request) bool { return q.Separate && store.IsAlone(r.Ctx) }
	var held *Request // taken while draining, and alone: the next group
	for {
		if q.Stopping() { // before taking more, whatever is queued
			if held != nil {
				held.Err = ErrClosed
				held.Done()
			}
			closing()
			return
		}
		if held != nil {
			batch, held = append(batch[:0], held), nil
		} else {
			select {
			case r := <-q.reqs:
				batch = append(batch[:0], r)
			case <-q.stop:
				closing()
				return
			}
		}
	drain:
		for len(batch) < q.max && !alone(batch[0]) {
			select {
			case r := <-q.reqs:
				if alone(r) {
					held = r
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		commit(batch)
	}
}

// Stop ends Run after the group in progress and waits for it.
func (q *Queue) Stop() {
	close(q.stop)
	<-q.done
}

// NewRequest makes a request outside Submit: for a store's tests that run
// a group by hand.
func NewRequest(ctx context.Context, fn func(context.Context, store.Tx) error) *Request {
	return &Request{Ctx: ctx, Fn: fn, done: make(chan struct{})}
}
