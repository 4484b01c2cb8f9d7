package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/store"
)

// TestErasedOnceAcrossNodes: two nodes erase the same record at once; the
// second waits on the first's row lock and then finds it erased
// (ErrNotFound), so that what an erasure counts (the statistics' live and
// retained cells) is counted once.
func TestErasedOnceAcrossNodes(t *testing.T) {
	ctx := context.Background()
	u := freshSchema(t)
	var nodes []*Store
	for range 2 {
		s, err := Open(ctx, u, Options{IDs: testIDs(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		nodes = append(nodes, s)
	}
	a := bulkRows(t, nodes[0], 3)[0]
	if err := nodes[0].Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.PutSubject(ctx, a) }); err != nil {
		t.Fatal(err)
	}
	erasing, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- nodes[0].Update(ctx, func(ctx context.Context, tx store.Tx) error {
			if err := tx.EraseSubject(ctx, a.ID, time.Now()); err != nil {
				return err
			}
			close(erasing)
			<-release // holds the row's lock
			return nil
		})
	}()
	<-erasing
	second := make(chan error, 1)
	go func() {
		second <- nodes[1].Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.EraseSubject(ctx, a.ID, time.Now()) })
	}()
	time.Sleep(200 * time.Millisecond) // the second is waiting on the row
	close(release)
	if err := <-first; err != nil {
		t.Fatalf("first erasure: %v", err)
	}
	if err := <-second; !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second erasure at once, on another node: %v, want ErrNotFound", err)
	}
}
