package seal

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// TestWatch: the watcher ignores its own generation and read errors, and
// calls sealed once, with the new generation, when another node bumps it;
// a canceled context stops it without a call.
func TestWatch(t *testing.T) {
	var gen atomic.Int64
	gen.Store(4)
	var fail atomic.Bool
	// Each read reports that it is done, so that the test changes what the
	// next one sees only after it: step ticks once and waits for the read.
	reads := make(chan struct{})
	read := func(context.Context) (int64, error) {
		defer func() { reads <- struct{}{} }()
		if fail.Load() {
			return 0, errors.New("store down")
		}
		return gen.Load(), nil
	}
	tick := make(chan time.Time)
	step := func() {
		tick <- time.Time{}
		<-reads
	}
	got := make(chan int64, 2)
	done := make(chan struct{})
	go func() {
		defer close(done)
		Watch(t.Context(), tick, read, 4, func(g int64) { got <- g })
	}()
	step()
	fail.Store(true)
	step()
	fail.Store(false)
	step()
	select {
	case g := <-got:
		t.Fatalf("sealed at generation %d without a change", g)
	default:
	}
	gen.Store(5)
	step()
	<-done
	if g := <-got; g != 5 {
		t.Errorf("sealed with generation %d, want 5", g)
	}
	if len(got) != 0 {
		t.Error("sealed twice")
	}

	ctx, cancel := context.WithCancel(t.Context())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		Watch(ctx, tick, read, 0, func(int64) { t.Error("sealed after the context ended") })
	}()
	cancel()
	<-stopped
}
