package postgres

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/store"
)

// TestPoolStats: the pool's size as configured, and reads that found no
// idle connection counted with their wait.
func TestPoolStats(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, migratedDB(t), Options{IDs: testIDs(t), MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	read := func(ctx context.Context, tx store.Tx) error {
		_, err := tx.LastAuditSeq(ctx)
		return err
	}
	for deadline := time.Now().Add(10 * time.Second); s.PoolStats().Waits == 0; {
		if time.Now().After(deadline) {
			t.Fatal("8 readers of two connections never waited")
		}
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 20 {
					if err := s.View(ctx, read); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	if ps := s.PoolStats(); ps.Max != 2 || ps.InUse != 0 || ps.Idle < 1 || ps.Idle > 2 || ps.Waited <= 0 {
		t.Errorf("PoolStats = %+v, want a pool of 2, none in use, waits that waited", ps)
	}
}
