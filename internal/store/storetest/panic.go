package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/store"
)

// panicFailsAlone: a function that panics inside Update fails alone, with
// store.ErrPanic, and is not run again; its writes (a subject, an audit
// entry) are absent, the other functions queued with it commit with an
// audit numbering free of gaps, and the store goes on serving. The same
// for View.
func panicFailsAlone(t *testing.T, s store.Store) {
	// Hold the writer in a first call so that the next ones queue and
	// are taken as one group (a store's queue decides; the contract holds
	// however they are grouped).
	hold, held := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- s.Update(ctx, func(context.Context, store.Tx) error {
			select {
			case <-held:
			default:
				close(held)
			}
			<-hold
			return nil
		})
	}()
	<-held
	const n, bad = 8, 3
	var runs [n]atomic.Int32
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
				runs[i].Add(1)
				if err := tx.PutSubject(ctx, newRow(fmt.Sprintf("sub_%d", i))); err != nil {
					return err
				}
				if err := tx.AppendAudit(ctx, &audit.Entry{Time: t0, Actor: fmt.Sprintf("op_%d", i), Action: "create", Decision: "allow"}); err != nil {
					return err
				}
				if i == bad {
					var none []error
					return none[i] // index out of range: a runtime error
				}
				return nil
			})
		})
	}
	time.Sleep(100 * time.Millisecond) // let them queue behind the held writer
	close(hold)
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatalf("the holding Update: %v", err)
	}
	for i := range n {
		_, err := getSubject(t, s, fmt.Sprintf("sub_%d", i))
		switch {
		case i == bad && (!errors.Is(errs[i], store.ErrPanic) || !errors.Is(err, store.ErrNotFound)):
			t.Errorf("panicking update: %v / get: %v; want ErrPanic and its subject absent", errs[i], err)
		case i == bad && runs[i].Load() != 1:
			t.Errorf("panicking function ran %d times, want once", runs[i].Load())
		case i != bad && (errs[i] != nil || err != nil):
			t.Errorf("update %d: %v / get: %v; want it committed", i, errs[i], err)
		}
	}
	var actors []string
	err := s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		es, err := tx.AuditEntries(ctx, 1, 100, 100)
		for j, e := range es {
			if e.Seq != int64(j+1) {
				t.Errorf("audit entry %d has seq %d: a gap", j, e.Seq)
			}
			actors = append(actors, e.Actor)
		}
		return err
	})
	if err != nil || len(actors) != n-1 {
		t.Fatalf("audit after the group: %v, %v; want the %d entries of the functions that returned", actors, err, n-1)
	}
	for _, a := range actors {
		if a == fmt.Sprintf("op_%d", bad) {
			t.Fatalf("audit holds the panicking function's entry: %v", actors)
		}
	}

	// The writer goes on.
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutSubject(ctx, newRow("sub_after")) })
	if _, err := getSubject(t, s, "sub_after"); err != nil {
		t.Fatalf("Update after the panic: %v", err)
	}
	// A panic alone in its group.
	err = s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tx.PutSubject(ctx, newRow("sub_alone")); err != nil {
			return err
		}
		panic("alone")
	})
	if !errors.Is(err, store.ErrPanic) {
		t.Fatalf("Update that panics alone: %v, want ErrPanic", err)
	}
	if _, err := getSubject(t, s, "sub_alone"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("subject of the lone panicking Update: %v, want ErrNotFound", err)
	}

	// View.
	err = s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.GetSubject(ctx, "sub_after"); err != nil {
			return err
		}
		panic(errors.New("view"))
	})
	if !errors.Is(err, store.ErrPanic) {
		t.Fatalf("View that panics: %v, want ErrPanic", err)
	}
	if _, err := getSubject(t, s, "sub_after"); err != nil {
		t.Fatalf("View after a panicking View: %v", err)
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutSubject(ctx, newRow("sub_last")) })
}
