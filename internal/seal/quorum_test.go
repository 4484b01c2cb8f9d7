package seal

import (
	"context"
	"errors"
	"testing"

	"github.com/coffre/coffre/internal/keyset"
	"github.com/coffre/coffre/internal/unseal"
)

// TestSealByQuorum: M share holders seal an unsealed server without an
// account; fewer do not, shares of another set or of another key are
// refused, and a seal whose audit entry fails does not happen.
func TestSealByQuorum(t *testing.T) {
	ctx := context.Background()
	f, shares := newSealed(t, 2, 3)
	_, others := newSealed(t, 2, 3)
	open := func(context.Context, *keyset.Set) (Service, error) { return svc{make(chan struct{})}, nil }
	unsealed := func() *State {
		s := New(f, open, unseal.Options{})
		for _, sh := range shares[:2] {
			if _, err := s.Unseal(ctx, sh.Text()); err != nil {
				t.Fatal(err)
			}
		}
		return s
	}
	audited := 0
	audit := func(context.Context, Service) error { audited++; return nil }

	s := unsealed()
	if _, _, err := s.SealShare(ctx, others[0].Text(), audit); !errors.Is(err, unseal.ErrOtherSet) {
		t.Errorf("a share of another set: %v, want ErrOtherSet", err)
	}
	if _, _, err := s.SealShare(ctx, "coffre-share-1:nonsense", audit); !errors.Is(err, unseal.ErrMalformed) {
		t.Errorf("a malformed share: %v, want ErrMalformed", err)
	}
	p, sealed, err := s.SealShare(ctx, shares[1].Text(), audit)
	if err != nil || sealed || p.Have != 1 || p.Need != 2 || s.SealProgress().Have != 1 {
		t.Fatalf("first seal share: %+v sealed %v, %v; want 1 of 2, not sealed", p, sealed, err)
	}
	if _, _, err := s.SealShare(ctx, shares[1].Text(), audit); !errors.Is(err, unseal.ErrDuplicate) {
		t.Errorf("the same share twice: %v, want ErrDuplicate", err)
	}
	if !s.Serve(func(Service) {}) || audited != 0 {
		t.Fatal("one share of two sealed the server")
	}
	if _, sealed, err := s.SealShare(ctx, shares[2].Text(), audit); err != nil || !sealed || audited != 1 {
		t.Fatalf("second seal share: sealed %v, %v, audited %d", sealed, err, audited)
	}
	if s.Serve(func(Service) { t.Error("served after a quorum seal") }) {
		t.Error("Serve after a quorum seal = true")
	}
	if _, _, err := s.SealShare(ctx, shares[0].Text(), audit); !errors.Is(err, ErrSealed) {
		t.Errorf("a seal share on a sealed server: %v, want ErrSealed", err)
	}

	// The audit entry cannot be written: nothing is sealed.
	s = unsealed()
	failing := func(context.Context, Service) error { return errors.New("store down") }
	s.SealShare(ctx, shares[0].Text(), failing)
	if _, sealed, err := s.SealShare(ctx, shares[1].Text(), failing); err == nil || sealed || !s.Serve(func(Service) {}) {
		t.Fatalf("a quorum seal without its audit entry: sealed %v, %v", sealed, err)
	}
	if s.SealProgress().Have != 0 {
		t.Error("the shares of a failed seal were kept")
	}
}
