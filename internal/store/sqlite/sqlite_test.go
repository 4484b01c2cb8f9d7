package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetest"
	"github.com/coffre/coffre/internal/subject"

	"github.com/coffre/coffre/internal/store/storetest"
)

func openTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "coffre.db"), Options{IDs: sqlitetest.IDs(), Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTest(t) })
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	ctx := context.Background()
	s, err := Open(ctx, path, Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	e := &audit.Entry{Actor: "op", Action: "read", Decision: "allow"}
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.AppendAudit(ctx, e) }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := s.Update(ctx, func(context.Context, store.Tx) error { return nil }); !errors.Is(err, ErrClosed) || !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Update after Close = %v, want ErrClosed and store.ErrUnavailable", err)
	}
	if err := s.View(ctx, func(context.Context, store.Tx) error { return nil }); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("View after Close = %v, want store.ErrUnavailable", err)
	}
	s, err = Open(ctx, path, Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	e2 := &audit.Entry{Actor: "op", Action: "read", Decision: "allow"}
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.AppendAudit(ctx, e2) }); err != nil {
		t.Fatal(err)
	}
	if e2.Seq != 2 {
		t.Fatalf("after reopen Seq = %d, want 2", e2.Seq)
	}
}

// TestCheckpointFillsTheFile: after Checkpoint the database file alone,
// without its write-ahead log, holds what was committed.
func TestCheckpointFillsTheFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, filepath.Join(dir, "c.db"), Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ids, _ := s.NewSubjectIDs(ctx, 3)
	err = s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		for _, id := range ids {
			if err := tx.PutSubject(ctx, &subject.Row{ID: id, Unit: "u", DEK: []byte("k"), DEKVersion: 1, Fields: []byte("f")}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	count := func() int {
		b, err := os.ReadFile(filepath.Join(dir, "c.db"))
		if err != nil {
			t.Fatal(err)
		}
		copyPath := filepath.Join(t.TempDir(), "copy.db")
		os.WriteFile(copyPath, b, 0o600)
		db, err := sql.Open("sqlite", copyPath)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name = 'subjects'`).Scan(&n); err != nil || n == 0 {
			return 0 // not even the schema
		}
		if err := db.QueryRow(`SELECT count(*) FROM subjects`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n == 3 {
		t.Fatalf("before the checkpoint the file alone holds %d subjects; the test proves nothing", n)
	}
	if err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 3 {
		t.Fatalf("after the checkpoint the file alone holds %d subjects, want 3", n)
	}
}

// TestTwoProcessesShareNumbering opens one file twice, as a server and an
// import running side by side would: the ids they hand out never meet,
// and both sides' subjects are stored.
func TestTwoProcessesShareNumbering(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "c.db")
	a, err := Open(ctx, path, Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, path, Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	seen := map[string]bool{}
	for round := range 3 {
		for _, s := range []*Store{a, b} {
			ids, err := s.NewSubjectIDs(ctx, 700) // more than a block over the rounds
			if err != nil {
				t.Fatal(err)
			}
			err = s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
				for _, id := range ids {
					if seen[id] {
						t.Fatalf("round %d: %s handed out twice", round, id)
					}
					seen[id] = true
					if err := tx.PutSubject(ctx, &subject.Row{ID: id, Unit: "u", DEK: []byte("k"), DEKVersion: 1, Fields: []byte("f")}); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
}

// TestTwoProcessesShareCaches: a writer's cached audit sequence and guard
// states must not outlive another process's commit on the same file.
func TestTwoProcessesShareCaches(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "c.db")
	open := func() *Store {
		s, err := Open(ctx, path, Options{IDs: sqlitetest.IDs()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open(), open()
	appendOne := func(s *Store, state byte) int64 {
		t.Helper()
		e := &audit.Entry{Actor: "op_1", Action: "read", Decision: "allow"}
		err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			if _, err := tx.GetGuard(ctx, "op_1"); err != nil {
				return err
			}
			if err := tx.AppendAudit(ctx, e); err != nil {
				return err
			}
			return tx.PutGuard(ctx, "op_1", guard.State{HourSubjects: int(state)})
		})
		if err != nil {
			t.Fatalf("append %d: %v", state+1, err)
		}
		return e.Seq
	}
	for i, s := range []*Store{a, b, a, a, b, a} {
		if seq := appendOne(s, byte(i)); seq != int64(i+1) {
			t.Fatalf("append %d got seq %d", i+1, seq)
		}
		other := b
		if s == b {
			other = a
		}
		var got guard.State
		other.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			var err error
			got, err = tx.GetGuard(ctx, "op_1")
			return err
		})
		if got.HourSubjects != i {
			t.Fatalf("after append %d the other process reads guard state %+v, want HourSubjects %d", i+1, got, i)
		}
	}
}
