package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/store"
)

// auditStreams checks the audit stream's cursors: a new sink starts at 1
// under its first claimer's lease; another server finds the lease in
// force and neither takes it nor moves the cursor (ErrConflict), and takes
// it once it has expired; the cursor only moves forward; sinks are apart.
func auditStreams(t *testing.T, s store.Store) {
	claim := func(sink, owner string, now time.Time) (int64, bool) {
		t.Helper()
		var next int64
		var held bool
		update(t, s, func(ctx context.Context, tx store.Tx) (err error) {
			next, held, err = tx.ClaimStream(ctx, sink, owner, now, now.Add(time.Minute))
			return err
		})
		return next, held
	}
	advance := func(sink, owner string, next int64) error {
		return s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.AdvanceStream(ctx, sink, owner, next) })
	}
	if next, held := claim("syslog:a", "node-1", t0); next != 1 || !held {
		t.Fatalf("first claim: next %d, held %v; want 1, true", next, held)
	}
	if err := advance("syslog:a", "node-1", 501); err != nil {
		t.Fatal(err)
	}
	if next, held := claim("syslog:a", "node-1", t0.Add(30*time.Second)); next != 501 || !held {
		t.Errorf("renewed claim: next %d, held %v; want 501, true", next, held)
	}
	if next, held := claim("syslog:a", "node-2", t0.Add(45*time.Second)); next != 501 || held {
		t.Errorf("another server's claim in the lease: next %d, held %v; want 501, false", next, held)
	}
	if err := advance("syslog:a", "node-2", 900); !errors.Is(err, store.ErrConflict) {
		t.Errorf("another server's advance: %v, want ErrConflict", err)
	}
	if err := advance("syslog:a", "node-1", 300); err != nil {
		t.Errorf("advance back: %v", err)
	}
	if next, _ := claim("syslog:a", "node-1", t0.Add(50*time.Second)); next != 501 {
		t.Errorf("after an advance back: next %d, want 501 (never back)", next)
	}
	// node-1's lease (renewed at 50 s) runs out at 110 s.
	if next, held := claim("syslog:a", "node-2", t0.Add(2*time.Minute)); next != 501 || !held {
		t.Errorf("claim after the lease expired: next %d, held %v; want 501, true", next, held)
	}
	if err := advance("syslog:a", "node-1", 700); !errors.Is(err, store.ErrConflict) {
		t.Errorf("the old holder's advance: %v, want ErrConflict", err)
	}
	if next, held := claim("webhook:b", "node-1", t0.Add(2*time.Minute)); next != 1 || !held {
		t.Errorf("another sink: next %d, held %v; want 1, true", next, held)
	}
}
