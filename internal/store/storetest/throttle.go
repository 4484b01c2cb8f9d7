package storetest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/store"
)

// loginThrottle checks the per-address throttles: counts per key in a
// window opened by its first count (a window that ended starts afresh, and
// its row goes with the next count), the first refusal of a window
// reported once even by concurrent transactions, and the regulars with
// their pruning.
func loginThrottle(t *testing.T, s store.Store) {
	type count struct {
		n     int
		until time.Time
	}
	var got []count
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		got = nil
		for _, c := range []struct {
			key string
			at  time.Duration
		}{{"o1", 0}, {"o1", 10 * time.Second}, {"o2", 30 * time.Second}, {"o1", 59 * time.Second}, {"o1", time.Minute}} {
			n, until, err := tx.CountOrigin(ctx, c.key, t0.Add(c.at), time.Minute)
			if err != nil {
				return err
			}
			got = append(got, count{n, until})
		}
		return nil
	})
	w1, w2 := t0.Add(time.Minute), t0.Add(2*time.Minute)
	if want := []count{{1, w1}, {2, w1}, {1, t0.Add(90 * time.Second)}, {3, w1}, {1, w2}}; !slices.Equal(got, want) {
		t.Errorf("origin counts %v, want %v", got, want)
	}
	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		for _, c := range []struct {
			key   string
			at    time.Duration
			n     int
			until time.Time
		}{{"o1", 70 * time.Second, 1, w2}, {"o2", 80 * time.Second, 1, t0.Add(90 * time.Second)}, {"o2", 90 * time.Second, 0, time.Time{}}, {"o3", 0, 0, time.Time{}}} {
			if n, until, err := tx.OriginCount(ctx, c.key, t0.Add(c.at)); n != c.n || !until.Equal(c.until) || err != nil {
				t.Errorf("OriginCount(%s, +%s) = %d, %v, %v; want %d, %v", c.key, c.at, n, until, err, c.n, c.until)
			}
		}
		return nil
	})

	// The first refusal of a window: once, even from concurrent servers.
	var mu sync.Mutex
	firsts := 0
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			var first bool
			err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
				var err error
				first, err = tx.HoldOrigin(ctx, "o1", t0.Add(70*time.Second))
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
		t.Errorf("%d first refusals of one window, want 1", firsts)
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		at := t0.Add(3 * time.Minute) // o1's window has ended
		if first, err := tx.HoldOrigin(ctx, "o1", at); first || err != nil {
			t.Errorf("a refusal with no window open counted first: %v, %v", first, err)
		}
		if _, _, err := tx.CountOrigin(ctx, "o1", at, time.Minute); err != nil {
			return err
		}
		if first, err := tx.HoldOrigin(ctx, "o1", at); !first || err != nil {
			t.Errorf("the first refusal of a new window: %v, %v", first, err)
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
