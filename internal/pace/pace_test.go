package pace

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestSteps(t *testing.T) {
	errStep := errors.New("step failed")
	for _, tc := range []struct {
		name      string
		failAt    int // 0: never
		doneAt    int
		wantSteps int
		wantErr   error
	}{
		{"until no more", 0, 3, 3, nil},
		{"stops at an error", 2, 5, 2, errStep},
	} {
		n := 0
		err := Steps(context.Background(), 1, func(context.Context) (bool, error) {
			n++
			if n == tc.failAt {
				return true, errStep
			}
			return n < tc.doneAt, nil
		})
		if n != tc.wantSteps || !errors.Is(err, tc.wantErr) {
			t.Errorf("%s: %d steps, %v; want %d, %v", tc.name, n, err, tc.wantSteps, tc.wantErr)
		}
	}
	// An ended context stops the pass, even mid-rest.
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	start := time.Now()
	Steps(ctx, 1e6, func(context.Context) (bool, error) {
		n++
		time.AfterFunc(10*time.Millisecond, cancel)
		time.Sleep(time.Millisecond)
		return true, nil
	})
	if n != 1 || time.Since(start) > 5*time.Second {
		t.Errorf("after the context ended: %d steps in %s, want 1 and a prompt return", n, time.Since(start))
	}
}
