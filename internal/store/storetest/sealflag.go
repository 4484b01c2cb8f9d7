package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/store"
)

// sealFlag: a fresh store is at generation 0, unmarked; each seal bumps
// the generation and marks the time; an unseal clears the mark and keeps
// the generation; a seal rolled back with its transaction leaves no trace.
func sealFlag(t *testing.T, s store.Store) {
	read := func() (int64, time.Time) {
		t.Helper()
		var gen int64
		var at time.Time
		if err := s.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
			gen, at, err = tx.SealFlag(ctx)
			return err
		}); err != nil {
			t.Fatalf("SealFlag: %v", err)
		}
		return gen, at
	}
	if gen, at := read(); gen != 0 || !at.IsZero() {
		t.Fatalf("fresh store: generation %d, sealed at %v; want 0, zero", gen, at)
	}
	t1 := t0.Add(time.Hour)
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.MarkSealed(ctx, t1) })
	if gen, at := read(); gen != 1 || !at.Equal(t1) {
		t.Fatalf("after a seal: generation %d, sealed at %v; want 1, %v", gen, at, t1)
	}
	var adopted int64
	update(t, s, func(ctx context.Context, tx store.Tx) (err error) {
		adopted, err = tx.MarkUnsealed(ctx)
		return err
	})
	if gen, at := read(); adopted != 1 || gen != 1 || !at.IsZero() {
		t.Fatalf("after an unseal: adopted %d, generation %d, sealed at %v; want 1, 1, zero", adopted, gen, at)
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.MarkSealed(ctx, t1.Add(time.Minute)) })
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.MarkSealed(ctx, t1.Add(2*time.Minute)) })
	if gen, at := read(); gen != 3 || !at.Equal(t1.Add(2*time.Minute)) {
		t.Fatalf("after two more seals: generation %d, sealed at %v; want 3, %v", gen, at, t1.Add(2*time.Minute))
	}
	errRollback := errors.New("roll back")
	err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tx.MarkSealed(ctx, t1.Add(time.Hour)); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("Update of a failing function = %v, want its error", err)
	}
	if gen, _ := read(); gen != 3 {
		t.Fatalf("after a rolled-back seal: generation %d, want 3", gen)
	}
}
