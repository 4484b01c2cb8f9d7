package sqlite

import (
	"context"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/rights"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetest"
	"github.com/coffre/coffre/internal/subject"
)

// stamped reads id on the read pool with its stamp.
func stamped(t *testing.T, s *Store, id string) (*subject.Row, uint64) {
	t.Helper()
	var r *subject.Row
	var st uint64
	err := s.View(context.Background(), func(ctx context.Context, tx store.Tx) error {
		var err error
		r, _, st, err = tx.(subject.Stamped).GetSubjectStamped(ctx, id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return r, st
}

// unchanged asks, in a write transaction of its own, whether id read under
// st is current.
func unchanged(t *testing.T, s *Store, id string, st uint64) bool {
	t.Helper()
	var ok bool
	if err := s.Update(context.Background(), func(_ context.Context, tx store.Tx) error {
		ok = tx.(subject.Fresh).Unchanged(id, st)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return ok
}

func putRows(t *testing.T, s *Store, n int) []string {
	t.Helper()
	ctx := context.Background()
	ids, err := s.NewSubjectIDs(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		for _, id := range ids {
			if err := tx.PutSubject(ctx, &subject.Row{ID: id, Unit: "u", DEK: []byte("dek-" + id), DEKVersion: 1, Fields: []byte("f"), Created: now, Updated: now}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestStampedRowsChangedAreNotCurrent: every way a write transaction
// changes a subject row makes a row read before it stale, and only that
// row.
func TestStampedRowsChangedAreNotCurrent(t *testing.T) {
	day := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name   string
		change func(ctx context.Context, tx store.Tx, id string) error
		all    bool // changes rows it cannot name: every read is stale
	}{
		{"replace", func(ctx context.Context, tx store.Tx, id string) error {
			return tx.ReplaceSubject(ctx, &subject.Row{ID: id, Unit: "v", DEK: []byte("k2"), DEKVersion: 1, Fields: []byte("g"), Updated: day})
		}, false},
		{"touch", func(ctx context.Context, tx store.Tx, id string) error {
			return tx.TouchSubjects(ctx, []subject.Touch{{ID: id, Day: day}})
		}, false},
		{"erase", func(ctx context.Context, tx store.Tx, id string) error { return tx.EraseSubject(ctx, id, day) }, false},
		{"canary", func(ctx context.Context, tx store.Tx, id string) error {
			return tx.PutCanary(ctx, id, "partner-x", day)
		}, false},
		{"limit", func(ctx context.Context, tx store.Tx, id string) error {
			return tx.PutLimit(ctx, rights.Limit{Subject: id, Kind: rights.LimitRestricted, Target: "req_1", Created: day})
		}, false},
		{"rewrap", func(ctx context.Context, tx store.Tx, id string) error {
			seq, _ := sqlitetest.IDs().Seq(id)
			_, err := tx.RewrapKey(ctx, seq, []byte("dek-"+id), []byte("rewrapped"))
			return err
		}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := openTest(t)
			ids := putRows(t, s, 2)
			_, st := stamped(t, s, ids[0])
			_, other := stamped(t, s, ids[1])
			if !unchanged(t, s, ids[0], st) {
				t.Fatal("a row no one changed is not current")
			}
			if err := s.Update(context.Background(), func(ctx context.Context, tx store.Tx) error { return c.change(ctx, tx, ids[0]) }); err != nil {
				t.Fatal(err)
			}
			if unchanged(t, s, ids[0], st) {
				t.Error("the changed row, read before the change, is current")
			}
			if got := unchanged(t, s, ids[1], other); got == c.all {
				t.Errorf("the other row current = %v, want %v", got, !c.all)
			}
			r, after := stamped(t, s, ids[0])
			if r == nil || !unchanged(t, s, ids[0], after) {
				t.Error("the changed row, read again after the change, is not current")
			}
		})
	}
}

// TestStampedRowChangedInTheSameGroup: a change earlier in the running
// group, not committed yet, already makes the row stale; a change rolled
// back leaves it stale (the writer does not know it was undone) but only
// until a read after it.
func TestStampedRowChangedInTheSameGroup(t *testing.T) {
	s := openTest(t)
	ids := putRows(t, s, 1)
	_, st := stamped(t, s, ids[0])
	var before, after bool
	if err := s.Update(context.Background(), func(ctx context.Context, tx store.Tx) error {
		before = tx.(subject.Fresh).Unchanged(ids[0], st)
		if err := tx.TouchSubjects(ctx, []subject.Touch{{ID: ids[0], Day: time.Now().UTC().Truncate(24 * time.Hour)}}); err != nil {
			return err
		}
		after = tx.(subject.Fresh).Unchanged(ids[0], st)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !before || after {
		t.Errorf("current before the touch = %v, after it in the same transaction = %v; want true, false", before, after)
	}
}

// TestStampedRowChangedByAnotherProcess: a commit by another connection to
// the file (a command beside the server) makes every earlier read stale.
func TestStampedRowChangedByAnotherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	ctx := context.Background()
	s, err := Open(ctx, path, Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ids := putRows(t, s, 2)
	_, st := stamped(t, s, ids[0])
	other, err := Open(ctx, path, Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.TouchSubjects(ctx, []subject.Touch{{ID: ids[1], Day: time.Now().UTC().Truncate(24 * time.Hour)}})
	}); err != nil {
		t.Fatal(err)
	}
	other.Close()
	if unchanged(t, s, ids[0], st) {
		t.Error("a row read before another process's commit is current")
	}
	_, st = stamped(t, s, ids[0])
	if !unchanged(t, s, ids[0], st) {
		t.Error("a row read after another process's commit is not current")
	}
}

// TestChangesForgetOldStamps: past changesKept changed rows the writer
// forgets the oldest, and stamps from before them are no longer trusted;
// recent ones still are.
func TestChangesForgetOldStamps(t *testing.T) {
	var c changes
	old := c.stamp()
	c.changed("sub_a")
	c.committed()
	if c.unchanged("sub_a", old) || !c.unchanged("sub_b", old) {
		t.Fatal("one change: sub_a current or sub_b stale")
	}
	var recent uint64
	for i := range changesKept {
		if i == changesKept-10 {
			recent = c.stamp()
		}
		c.changed("sub_" + string(rune('A'+i%26)) + string(rune(i)))
		c.committed()
	}
	if c.unchanged("sub_b", old) {
		t.Error("a stamp older than every remembered change is trusted")
	}
	if !c.unchanged("sub_b", recent) {
		t.Error("a recent stamp is not trusted for a row no one changed")
	}
	if len(c.cur)+len(c.old) > changesKept {
		t.Errorf("%d changes remembered, want at most %d", len(c.cur)+len(c.old), changesKept)
	}
}

// TestEverySubjectWriteIsRecorded: each statement that changes subject
// rows belongs to a method that records the change (fresh.go); a new one
// must be added here once its method records it.
func TestEverySubjectWriteIsRecorded(t *testing.T) {
	recorded := []string{"replaceSubject", "flagCanary", "touchSubject", "eraseSubject", "rewrapKey", "putLimit", "deleteLimit", "clearLimits"}
	writes := regexp.MustCompile(`(?i)\b(UPDATE|DELETE FROM|REPLACE INTO)\s+subjects\b|\b(INSERT\s+INTO|UPDATE|DELETE FROM|REPLACE INTO)\s+person_limits\b`)
	for name, q := range queries {
		if writes.MatchString(q) && !slices.Contains(recorded, name) {
			t.Errorf("statement %s changes subject rows and is not known to record the change", name)
		}
	}
}
