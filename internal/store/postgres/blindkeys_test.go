package postgres

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/storetest"
	"github.com/coffre/coffre/internal/subject"
)

// TestAddIndexesWaitsForAChange runs what two nodes do at once: one
// erases a subject (its row written first, then its entries deleted, as
// the vault does) and holds its transaction open; the other's rebuild
// pass adds entries for the fields it read before. The pass must wait
// for the erasure and then add nothing: without the row lock it would
// add entries the erasure never sees, and an erased person would stay
// findable under the new generation.
func TestAddIndexesWaitsForAChange(t *testing.T) {
	ctx := context.Background()
	u := migratedDB(t)
	open := func() *Store {
		s, err := Open(ctx, u, Options{IDs: testIDs(t), Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	eraser, pass := open(), open()
	ids, err := eraser.NewSubjectIDs(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	row := &subject.Row{ID: ids[0], Unit: "u", DEK: []byte("wrapped"), DEKVersion: 1, Fields: []byte("sealed fields"), Created: time.Now(), Updated: time.Now()}
	if err := eraser.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.PutSubject(ctx, row) }); err != nil {
		t.Fatal(err)
	}
	var seq int64
	if err := pass.View(ctx, func(ctx context.Context, tx store.Tx) error {
		rows, err := tx.LiveSubjects(ctx, 0, 10)
		if len(rows) == 1 {
			seq = rows[0].Seq
		}
		return err
	}); err != nil || seq == 0 {
		t.Fatalf("LiveSubjects: seq %d, %v", seq, err)
	}

	erased, release := make(chan struct{}), make(chan struct{})
	// Released on every way out, so that a failure does not leave the
	// eraser's transaction (and the stores' Close) waiting.
	releaseOnce := sync.OnceFunc(func() { close(release) })
	defer releaseOnce()
	done := make(chan error, 1)
	go func() {
		done <- eraser.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			if err := tx.EraseSubject(ctx, row.ID, time.Now()); err != nil {
				return err
			}
			select {
			case <-erased:
			default:
				close(erased)
			}
			<-release
			return tx.DeleteIndex(ctx, storetest.Hash("gen2 hash"))
		})
	}()
	<-erased
	added := make(chan error, 1)
	var ok bool
	go func() {
		added <- pass.Update(ctx, func(ctx context.Context, tx store.Tx) (err error) {
			_, ok, err = tx.AddIndexes(ctx, 2, seq, row.Fields, [][]byte{storetest.Hash("gen2 hash")})
			return err
		})
	}()
	select {
	case err := <-added:
		t.Fatalf("AddIndexes did not wait for the erasure in progress (ok %v, %v)", ok, err)
	case <-time.After(300 * time.Millisecond):
	}
	releaseOnce()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := <-added; err != nil || ok {
		t.Fatalf("AddIndexes after the erasure = %v, %v; want false", ok, err)
	}
	if err := pass.View(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.LookupIndex(ctx, storetest.Hash("gen2 hash"))
		return err
	}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an erased subject's entry was added: %v", err)
	}
}
