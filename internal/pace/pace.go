// Package pace paces a node's background passes over the store (the root
// key rewrap, the blind index rebuild): batches that rest between them so
// that reads keep the store's writer, and a loop that looks for work at
// every tick.
package pace

import (
	"context"
	"log/slog"
	"time"
)

// Steps runs step until it reports no more work, fails, or ctx ends.
// After each step it rests rest times the step's duration (rest ≤ 0: no
// rest), so the pass is busy at most 1/(1+rest) of the time.
func Steps(ctx context.Context, rest float64, step func(context.Context) (more bool, err error)) error {
	for ctx.Err() == nil {
		t0 := time.Now()
		more, err := step(ctx)
		if err != nil || !more {
			return err
		}
		Rest(ctx, rest, time.Since(t0))
	}
	return nil
}

// Rest waits rest times took (rest ≤ 0: not at all), or until ctx ends.
func Rest(ctx context.Context, rest float64, took time.Duration) {
	if rest <= 0 {
		return
	}
	select {
	case <-ctx.Done():
	case <-time.After(time.Duration(float64(took) * rest)):
	}
}

// Every runs work at once and then at every tick until ctx ends. An error
// is logged (as msg) and work runs again at the next tick.
func Every(ctx context.Context, tick time.Duration, log *slog.Logger, msg string, work func(context.Context) error) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		if err := work(ctx); err != nil && ctx.Err() == nil {
			log.ErrorContext(ctx, msg, "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
