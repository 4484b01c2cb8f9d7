package auditlog_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetemplate"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetest"
	"github.com/coffre/coffre/internal/subject"
)

// readDay counts every read as its record's activity, on its day.
func readDay(a audit.Access) (time.Time, bool) {
	return a.Time.UTC().Truncate(24 * time.Hour), a.Action == "read"
}

// TestRecordActivity: a step records no activity; RecordActivity records
// each record's latest day up to the latest checkpoint and moves the
// mark there; a second integrator finds nothing left; Run records it once
// ActivityEntries entries lie past the mark, and at its first step.
func TestRecordActivity(t *testing.T) {
	st, err := sqlitetemplate.Open(ctx, filepath.Join(t.TempDir(), "coffre.db"), sqlite.Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	day1 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	err = st.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		for _, id := range []string{"sub_0", "sub_1", "sub_2"} {
			r := &subject.Row{ID: id, Unit: "unit-a", DEK: []byte("k"), DEKVersion: 1, Fields: []byte("f"), Created: day1, Updated: day1}
			if err := tx.PutSubject(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	view := func() (mark int64, active map[string]time.Time) {
		t.Helper()
		active = map[string]time.Time{}
		err := st.View(ctx, func(ctx context.Context, tx store.Tx) error {
			var err error
			if mark, err = tx.ActivityMark(ctx); err != nil {
				return err
			}
			for _, id := range []string{"sub_0", "sub_1", "sub_2"} {
				r, err := tx.GetSubject(ctx, id)
				if err != nil {
					return err
				}
				active[id] = r.Active
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return mark, active
	}
	signer, _ := audit.NewSigner(auditlog.Origin, make([]byte, 32))
	a := &auditlog.Integrator{Store: st, Signer: signer, Activity: readDay}
	b := &auditlog.Integrator{Store: st, Signer: signer, Activity: readDay}

	appendAt(t, st, day1, 2)                  // sub_0, sub_1 on day 1
	appendAt(t, st, day1.AddDate(0, 0, 1), 1) // sub_0 on day 2
	if _, err := a.Step(ctx); err != nil {
		t.Fatal(err)
	}
	appendAt(t, st, day1.AddDate(0, 0, 5), 3) // not integrated: not recorded yet
	if mark, active := view(); mark != 0 || !active["sub_0"].IsZero() {
		t.Fatalf("after a step: mark %d, activity %v; want nothing recorded", mark, active)
	}
	if n, err := a.RecordActivity(ctx); err != nil || n != 2 {
		t.Fatalf("RecordActivity = %d, %v; want 2 records", n, err)
	}
	d := func(n int) time.Time { return day1.Truncate(24*time.Hour).AddDate(0, 0, n) }
	if mark, active := view(); mark != 3 || !active["sub_0"].Equal(d(1)) || !active["sub_1"].Equal(d(0)) || !active["sub_2"].IsZero() {
		t.Fatalf("after RecordActivity: mark %d, activity %v; want mark 3, sub_0 day 2, sub_1 day 1, sub_2 none", mark, active)
	}
	if n, err := b.RecordActivity(ctx); err != nil || n != 0 {
		t.Errorf("a second integrator's RecordActivity = %d, %v; want nothing left", n, err)
	}

	// Run records the 3 entries past the mark at its first step, then the
	// next 6 once they reach ActivityEntries.
	runCtx, cancel := context.WithCancel(ctx)
	r := &auditlog.Integrator{Store: st, Signer: signer, Activity: readDay, Interval: 5 * time.Millisecond, ActivityEntries: 6}
	done := make(chan struct{})
	go func() { defer close(done); r.Run(runCtx) }()
	defer func() { cancel(); <-done }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if mark, _ := view(); mark == 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run did not record at its first step the entries its start found past the mark")
		}
	}
	appendAt(t, st, day1.AddDate(0, 0, 6), 6)
	deadline := time.Now().Add(10 * time.Second)
	for {
		mark, active := view()
		if mark == 12 {
			if want := d(6); !active["sub_0"].Equal(want) || !active["sub_2"].Equal(want) {
				t.Errorf("after Run recorded: activity %v; want every record on day 7", active)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Run left the mark at %d with 6 entries past it; want 12", mark)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRunTakesItsTurn: Run integrates nothing while Turn says it is
// another integrator's turn (another server's, on a shared store), and
// the log once it says yes.
func TestRunTakesItsTurn(t *testing.T) {
	st, err := sqlitetemplate.Open(ctx, filepath.Join(t.TempDir(), "coffre.db"), sqlite.Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	appendAt(t, st, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), 3)
	latest := func() uint64 {
		t.Helper()
		var size uint64
		err := st.View(ctx, func(ctx context.Context, tx store.Tx) error {
			cp, err := tx.LatestCheckpoint(ctx)
			if err == nil {
				size = cp.Size
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return size
	}
	var mine atomic.Bool
	asked := make(chan struct{}, 100)
	signer, _ := audit.NewSigner(auditlog.Origin, make([]byte, 32))
	in := &auditlog.Integrator{Store: st, Signer: signer, Activity: readDay, Interval: time.Millisecond, Turn: func() bool {
		select {
		case asked <- struct{}{}:
		default:
		}
		return mine.Load()
	}}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); in.Run(runCtx) }()
	defer func() { cancel(); <-done }()
	for range 3 { // Run asked three times, and each time waited
		select {
		case <-asked:
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not ask whose turn it was")
		}
	}
	if size := latest(); size != 0 {
		t.Fatalf("while not its turn, Run signed a checkpoint of %d entries; want none", size)
	}
	mine.Store(true)
	for deadline := time.Now().Add(10 * time.Second); latest() != 3; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("once its turn came, Run did not integrate the 3 entries")
		}
	}
}
