// Package seal holds a server's sealed state: sealed, or unsealed with the
// service built from the key set (package keyset). The key set rests in
// the data directory as a [File], encrypted under an unseal key that only
// M of N Shamir shares (package unseal) rebuild, so that the data
// directory and its backups hold only ciphertext, and a rotation of the
// keyring needs no share holder. The data keyring, the audit checkpoint
// signer and the partner CA are sealed in sections of their own ([File]
// says how), and the checkpoint verifier key is published in the clear.
//
// # Seal
//
// [State.Seal] drops the service at once: every request that starts
// afterwards is refused ([State.Serve] reports false). Requests already
// in the service finish; then the service is closed and the key set's own
// bytes zeroed (keyset.Set.Wipe; envelope.Keyring.Wipe says what Go
// cannot wipe).
package seal

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/coffre/coffre/internal/keyset"
	"github.com/coffre/coffre/internal/unseal"
)

var (
	// ErrUnsealed is returned by [State.Unseal] on an unsealed server.
	ErrUnsealed = errors.New("the vault is already unsealed")
	// ErrSealed is returned by [State.Seal] on a sealed server.
	ErrSealed = errors.New("the vault is sealed")
)

// Service is what a server serves while unsealed: built from the key set,
// closed at a seal.
type Service interface {
	http.Handler
	Close() error
}

// OpenFunc builds the service from an unsealed key set.
type OpenFunc func(ctx context.Context, keys *keyset.Set) (Service, error)

// Status is what a sealed or unsealed server may show anyone.
type Status struct {
	Sealed    bool   `json:"sealed"`
	Threshold int    `json:"threshold"`
	Shares    int    `json:"shares"`
	Progress  int    `json:"progress"`
	Set       string `json:"set"`
}

type unit struct {
	svc  Service
	keys *keyset.Set
	// mu is held for reading by every request in svc, and for writing
	// once by the seal that closes it.
	mu     sync.RWMutex
	closed bool
}

// State is a server's seal state. It is safe for concurrent use.
type State struct {
	file *File
	open OpenFunc
	acc  *unseal.Accumulator
	// votes collects the shares of a seal by a quorum (SealShare).
	votes *unseal.Accumulator

	mu  sync.Mutex // one unseal or seal at a time
	cur atomic.Pointer[unit]
	// closing is the last seal's close, done when it is (tests wait).
	closing chan struct{}
}

// New returns a sealed state for the sealed keyring f.
func New(f *File, open OpenFunc, opt unseal.Options) *State {
	opt.Set = f.Set
	done := make(chan struct{})
	close(done)
	return &State{file: f, open: open, acc: unseal.NewAccumulator(opt), votes: unseal.NewAccumulator(opt), closing: done}
}

// Status returns the state, for anyone.
func (s *State) Status() Status {
	st := Status{Sealed: s.cur.Load() == nil, Threshold: s.file.Threshold, Shares: s.file.Shares, Set: s.file.Set}
	if st.Sealed {
		st.Progress = s.acc.Progress().Have
	}
	return st
}

// Reset forgets the shares entered.
func (s *State) Reset() { s.acc.Reset() }

// Unseal enters one share (its text). With the M-th it rebuilds the
// unseal key, opens the keyring and builds the service. Errors: those of
// unseal.Parse and Accumulator.Add, ErrWrongKey when the shares rebuild
// a key that does not open the keyring, ErrUnsealed on an unsealed state,
// or the service's own; after each the state is still sealed.
func (s *State) Unseal(ctx context.Context, text string) (Status, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur.Load() != nil {
		return s.Status(), ErrUnsealed
	}
	sh, err := unseal.Parse(text)
	if err != nil {
		return s.Status(), err
	}
	key, _, err := s.acc.Add(sh)
	if err != nil || key == nil {
		return s.Status(), err
	}
	return s.unsealKey(ctx, key)
}

// UnsealKey opens the keyring with the unseal key itself (as unwrapped by
// an HSM at start), and builds the service; it clears key. Errors as
// Unseal's; after each the state is still sealed.
func (s *State) UnsealKey(ctx context.Context, key []byte) (Status, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur.Load() != nil {
		clear(key)
		return s.Status(), ErrUnsealed
	}
	return s.unsealKey(ctx, key)
}

// unsealKey does the work of Unseal and UnsealKey, with s.mu held.
func (s *State) unsealKey(ctx context.Context, key []byte) (Status, error) {
	keys, err := s.file.OpenSet(key)
	clear(key)
	if err != nil {
		return s.Status(), err
	}
	svc, err := s.open(ctx, keys)
	if err != nil {
		keys.Wipe()
		return s.Status(), err
	}
	s.cur.Store(&unit{svc: svc, keys: keys})
	return s.Status(), nil
}

// Serve runs fn with the service when unsealed, and holds off a seal's
// close until fn returns; it reports false, without calling fn, when
// sealed.
func (s *State) Serve(fn func(Service)) bool {
	u := s.cur.Load()
	if u == nil {
		return false
	}
	u.mu.RLock()
	defer u.mu.RUnlock()
	if u.closed {
		return false
	}
	fn(u.svc)
	return true
}

// Seal drops the service: requests that start after it returns are
// refused. The requests in the service finish, then the service is
// closed and the key set wiped, in the background (Sealed waits).
func (s *State) Seal() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.cur.Swap(nil)
	if u == nil {
		return ErrSealed
	}
	s.acc.Reset()
	s.votes.Reset()
	done := make(chan struct{})
	s.closing = done
	go func() {
		defer close(done)
		u.mu.Lock()
		defer u.mu.Unlock()
		u.closed = true
		u.svc.Close()
		u.keys.Wipe()
		u.svc, u.keys = nil, nil
	}()
	return nil
}

// Closed returns a channel closed once the last seal has closed the
// service (at once when there was none).
func (s *State) Closed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}
