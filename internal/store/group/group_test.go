package group

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/store"
)

func nop(context.Context, store.Tx) error { return nil }

// TestGroupsTakeWhatQueued holds the writer in a first group while 10
// calls queue, then checks they come as groups of at most max, in order of
// arrival, and each caller gets its own answer.
func TestGroupsTakeWhatQueued(t *testing.T) {
	q := New(4)
	release := make(chan struct{})
	var mu sync.Mutex
	var sizes []int
	go q.Run(func(batch []*Request) {
		mu.Lock()
		first := len(sizes) == 0
		sizes = append(sizes, len(batch))
		mu.Unlock()
		if first {
			<-release
		}
		for _, r := range batch {
			r.Err = r.Fn(r.Ctx, nil)
			r.Done()
		}
	})
	defer q.Stop()
	ctx := context.Background()
	errs := make(chan error, 11)
	go func() { errs <- q.Submit(ctx, nop) }()
	for len(q.reqs) > 0 || func() bool { mu.Lock(); defer mu.Unlock(); return len(sizes) == 0 }() {
		time.Sleep(time.Millisecond) // until the writer holds the first group
	}
	boom := errors.New("boom")
	for i := range 10 {
		go func() {
			errs <- q.Submit(ctx, func(context.Context, store.Tx) error {
				if i == 3 {
					return boom
				}
				return nil
			})
		}()
	}
	for len(q.reqs) < 4 {
		time.Sleep(time.Millisecond) // the queue holds max; the rest wait to enter
	}
	close(release)
	booms := 0
	for range 11 {
		if err := <-errs; errors.Is(err, boom) {
			booms++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	total := 0
	for _, n := range sizes {
		if n > 4 {
			t.Fatalf("a group of %d, max 4: %v", n, sizes)
		}
		total += n
	}
	if booms != 1 || total != 11 || len(sizes) < 3 || sizes[1] != 4 {
		t.Fatalf("groups %v, %d failures; want 11 calls in groups of at most 4, the second full, one failure", sizes, booms)
	}
}

func TestStopAnswersEveryone(t *testing.T) {
	q := New(2)
	ctx := context.Background()
	started := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	go q.Run(func(batch []*Request) {
		once.Do(func() { close(started) })
		<-release
		for _, r := range batch {
			r.Done()
		}
	})
	first := make(chan error, 1)
	go func() { first <- q.Submit(ctx, nop) }()
	<-started
	queued := make(chan error, 1)
	go func() { queued <- q.Submit(ctx, nop) }()
	for len(q.reqs) == 0 {
		time.Sleep(time.Millisecond)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := q.Submit(canceled, nop); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled submit: %v", err)
	}
	stopped := make(chan struct{})
	go func() { q.Stop(); close(stopped) }()
	for !q.Stopping() {
		time.Sleep(time.Millisecond)
	}
	close(release)
	<-stopped
	if err := <-first; err != nil {
		t.Fatalf("the group in progress: %v, want its answer", err)
	}
	if err := <-queued; !errors.Is(err, ErrClosed) {
		t.Fatalf("queued at Stop: %v, want ErrClosed", err)
	}
	if err := q.Submit(ctx, nop); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Stop: %v, want ErrClosed", err)
	}
	if !q.Stopping() {
		t.Fatal("Stopping after Stop = false")
	}
}

// TestAloneRunsInAGroupOfItsOwn: with Separate, a request marked
// store.Alone that queued among others is a group of its own, and the
// requests queued after it go on in the next group; without Separate it
// is grouped like any other.
func TestAloneRunsInAGroupOfItsOwn(t *testing.T) {
	for _, separate := range []bool{true, false} {
		q := New(16)
		q.Separate = separate
		release := make(chan struct{})
		var mu sync.Mutex
		var groups [][]string
		go q.Run(func(batch []*Request) {
			var names []string
			for _, r := range batch {
				names = append(names, r.Ctx.Value(nameKey{}).(string))
			}
			mu.Lock()
			first := len(groups) == 0
			groups = append(groups, names)
			mu.Unlock()
			if first {
				<-release
			}
			for _, r := range batch {
				r.Done()
			}
		})
		submit := func(name string, alone bool) chan error {
			ctx := context.WithValue(context.Background(), nameKey{}, name)
			if alone {
				ctx = store.Alone(ctx)
			}
			done := make(chan error, 1)
			go func() { done <- q.Submit(ctx, nop) }()
			return done
		}
		var waits []chan error
		waits = append(waits, submit("first", false))
		for func() bool { mu.Lock(); defer mu.Unlock(); return len(groups) == 0 }() {
			time.Sleep(time.Millisecond) // until the writer holds the first group
		}
		for _, r := range []struct {
			name  string
			alone bool
		}{{"a", false}, {"b", false}, {"integrator", true}, {"c", false}} {
			waits = append(waits, submit(r.name, r.alone))
			for len(q.reqs) < len(waits)-1 {
				time.Sleep(time.Millisecond) // in this order
			}
		}
		close(release)
		for _, w := range waits {
			if err := <-w; err != nil {
				t.Fatal(err)
			}
		}
		q.Stop()
		want := "[[first] [a b] [integrator] [c]]"
		if !separate {
			want = "[[first] [a b integrator c]]"
		}
		if got := fmt.Sprint(groups); got != want {
			t.Errorf("separate %v: groups %s, want %s", separate, got, want)
		}
	}
}

type nameKey struct{}
