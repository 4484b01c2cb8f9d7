package storetest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/store"
)

// loginThrottle checks the per-address login throttle: failures counted
// per origin and minute (a new minute starts afresh and drops the earlier
// minutes' rows), the first refusal of a minute reported once even by
// concurrent transactions, and the regulars with their pruning.
func loginThrottle(t *testing.T, s store.Store) {
	var counts []int
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		counts = nil
		for _, c := range []struct {
			origin string
			minute int64
		}{{"o1", 100}, {"o1", 100}, {"o2", 100}, {"o1", 100}, {"o1", 101}} {
			n, err := tx.OriginFailure(ctx, c.origin, c.minute)
			if err != nil {
				return err
			}
			counts = append(counts, n)
		}
		return nil
	})
	if want := []int{1, 2, 1, 3, 1}; !slices.Equal(counts, want) {
		t.Errorf("origin failure counts %v, want %v", counts, want)
	}
	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		for _, c := range []struct {
			origin string
			minute int64
			want   int
		}{{"o1", 101, 1}, {"o1", 100, 0}, {"o2", 100, 0}, {"o3", 101, 0}} {
			// o2's row of minute 100 went with o1's failure of minute 101.
			if n, err := tx.OriginFailures(ctx, c.origin, c.minute); n != c.want || err != nil {
				t.Errorf("OriginFailures(%s, %d) = %d, %v; want %d", c.origin, c.minute, n, err, c.want)
			}
		}
		return nil
	})

	// The first refusal of a minute: once, even from concurrent servers.
	var mu sync.Mutex
	firsts := 0
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			var first bool
			err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
				var err error
				first, err = tx.HoldOrigin(ctx, "o1", 101)
				return err
			})
			if err != nil {
				t.Errorf("HoldOrigin: %v", err)
			}
			if first {
				mu.Lock()
				firsts++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firsts != 1 {
		t.Errorf("%d first refusals of one origin and minute, want 1", firsts)
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if first, err := tx.HoldOrigin(ctx, "o1", 102); first || err != nil {
			t.Errorf("a refusal in a minute without failures counted first: %v, %v", first, err)
		}
		if _, err := tx.OriginFailure(ctx, "o1", 102); err != nil {
			return err
		}
		if first, err := tx.HoldOrigin(ctx, "o1", 102); !first || err != nil {
			t.Errorf("the first refusal of a new minute: %v, %v", first, err)
		}
		return nil
	})

	// Regulars: the latest login kept; older records pruned by a later one.
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.PutRegular(ctx, "r1", t0, t0.Add(-time.Hour)); err != nil {
			return err
		}
		if err := tx.PutRegular(ctx, "r1", t0.Add(time.Minute), t0.Add(-time.Hour)); err != nil {
			return err
		}
		return tx.PutRegular(ctx, "r2", t0.Add(2*time.Minute), t0.Add(-time.Hour))
	})
	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		if at, err := tx.Regular(ctx, "r1"); !at.Equal(t0.Add(time.Minute)) || err != nil {
			t.Errorf("Regular(r1) = %v, %v; want %v", at, err, t0.Add(time.Minute))
		}
		if at, err := tx.Regular(ctx, "r9"); !at.IsZero() || err != nil {
			t.Errorf("Regular(r9) = %v, %v; want zero", at, err)
		}
		return nil
	})
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.PutRegular(ctx, "r3", t0.Add(time.Hour), t0.Add(90*time.Second))
	})
	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		for key, want := range map[string]time.Time{"r1": {}, "r2": t0.Add(2 * time.Minute), "r3": t0.Add(time.Hour)} {
			if at, err := tx.Regular(ctx, key); !at.Equal(want) || err != nil {
				t.Errorf("after pruning, Regular(%s) = %v, %v; want %v", key, at, err, want)
			}
		}
		return nil
	})
}
