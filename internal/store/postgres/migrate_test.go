package postgres

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffre/coffre/internal/store"
)

// TestMigrateManually: on a fresh schema, Pending lists every migration
// and creates nothing; Open with NoMigrate refuses it; Migrate applies
// them all, once; then Open with NoMigrate opens it and Migrate has
// nothing left to do.
func TestMigrateManually(t *testing.T) {
	ctx := context.Background()
	u := emptySchema(t)
	want := Migrations()
	if len(want) < 21 {
		t.Fatalf("this binary's migrations: %d", len(want))
	}
	pending, err := Pending(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != len(want) || pending[0] != (store.Migration{Version: 1, Name: "001_init.sql"}) || pending[len(pending)-1] != want[len(want)-1] {
		t.Fatalf("Pending on a fresh schema = %v, want all %d", pending, len(want))
	}
	if v := tableCount(t, u); v != 0 {
		t.Fatalf("Pending created %d tables, want none", v)
	}
	if _, err := Open(ctx, u, Options{IDs: testIDs(t), NoMigrate: true}); !errors.Is(err, ErrPendingMigrations) {
		t.Fatalf("Open(NoMigrate) on a fresh schema = %v, want ErrPendingMigrations", err)
	}
	if v := tableCount(t, u); v != 0 {
		t.Fatalf("Open(NoMigrate) created %d tables, want none", v)
	}
	applied, err := Migrate(ctx, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != len(want) {
		t.Fatalf("Migrate applied %d migrations, want %d", len(applied), len(want))
	}
	if pending, err := Pending(ctx, u); err != nil || len(pending) != 0 {
		t.Fatalf("Pending after Migrate = %v, %v; want none", pending, err)
	}
	s, err := Open(ctx, u, Options{IDs: testIDs(t), NoMigrate: true})
	if err != nil {
		t.Fatalf("Open(NoMigrate) after Migrate: %v", err)
	}
	s.Close()
	if applied, err := Migrate(ctx, u, nil); err != nil || len(applied) != 0 {
		t.Fatalf("Migrate again = %v, %v; want nothing applied", applied, err)
	}
}

// TestMigrateNewerSchema: a database a newer binary migrated is refused,
// by Pending and by Open, rather than served with a schema this binary
// does not know.
func TestMigrateNewerSchema(t *testing.T) {
	ctx := context.Background()
	u := emptySchema(t)
	if _, err := Migrate(ctx, u, nil); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `UPDATE schema_version SET version = version + 1`); err != nil {
		t.Fatal(err)
	}
	if _, err := Pending(ctx, u); !errors.Is(err, store.ErrNewerSchema) {
		t.Errorf("Pending = %v, want ErrNewerSchema", err)
	}
	if _, err := Open(ctx, u, Options{IDs: testIDs(t)}); !errors.Is(err, store.ErrNewerSchema) {
		t.Errorf("Open = %v, want ErrNewerSchema", err)
	}
}

// TestTwoServersMigrateAtOnce opens one fresh schema from two goroutines
// at once, as two servers starting together would: each migration is
// applied exactly once (by one or the other), and both end on the same,
// latest version. Without the advisory lock both would see version 0 and
// the second CREATE TABLE would fail.
func TestTwoServersMigrateAtOnce(t *testing.T) {
	ctx := context.Background()
	u := emptySchema(t)
	want := Migrations()
	for round := range 3 { // a race lost once may be won the next time
		if round > 0 {
			u = emptySchema(t)
		}
		var logs [2]syncBuf
		var stores [2]*Store
		var errs [2]error
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range 2 {
			wg.Go(func() {
				<-start
				stores[i], errs[i] = Open(ctx, u, Options{IDs: testIDs(t), Logger: slog.New(slog.NewTextHandler(&logs[i], nil))})
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: server %d: Open: %v", round, i, err)
			}
			defer stores[i].Close()
		}
		count := map[string]int{}
		per := [2]int{}
		for i := range logs {
			for _, l := range strings.Split(logs[i].String(), "\n") {
				if _, rest, ok := strings.Cut(l, `msg="schema migration applied" migration=`); ok {
					count[strings.Fields(rest)[0]]++
					per[i]++
				}
			}
		}
		for _, m := range want {
			if count[m.Name] != 1 {
				t.Errorf("round %d: %s applied %d times, want once", round, m.Name, count[m.Name])
			}
		}
		if len(count) != len(want) {
			t.Errorf("round %d: %d migrations applied, want %d", round, len(count), len(want))
		}
		t.Logf("round %d: migrations applied by each server: %v", round, per)
		for i, s := range stores {
			var v int
			c, err := s.pool.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			err = c.QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&v)
			c.Release()
			if err != nil || v != len(want) {
				t.Errorf("round %d: server %d sees version %d (%v), want %d", round, i, v, err, len(want))
			}
		}
	}
}

// tableCount counts the tables of the schema first on u's search path.
func tableCount(t *testing.T, u string) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// syncBuf is a bytes.Buffer safe for a logger's concurrent writes.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestMigrateActivityTable: migration 028 moves the records' last
// activity from subjects.active to subject_activity: a record's day
// survives it, a record without one gets no row, and the store reads
// both as before.
func TestMigrateActivityTable(t *testing.T) {
	ctx := context.Background()
	u := emptySchema(t)
	conn, err := connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	before := Migrations()[:27] // up to 027, as a store of the last release
	if before[len(before)-1].Name != "027_alert_seq.sql" {
		t.Fatalf("migration 27 is %s", before[len(before)-1].Name)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE schema_version (version BIGINT NOT NULL); INSERT INTO schema_version VALUES (27)`); err != nil {
		t.Fatal(err)
	}
	for _, m := range before {
		body, err := migrations.ReadFile("migrations/" + m.Name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, string(body)); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
	}
	day := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	if _, err := conn.Exec(ctx, `INSERT INTO subjects (seq, unit, dek_version, created, updated, active) VALUES (1, 'u', 1, 0, 0, $1), (2, 'u', 1, 0, 0, 0)`, day.UnixMicro()); err != nil {
		t.Fatal(err)
	}
	if applied, err := Migrate(ctx, u, nil); err != nil || len(applied) != len(Migrations())-27 || applied[0].Name != "028_activity_table.sql" {
		t.Fatalf("Migrate = %v, %v; want 028 onwards", applied, err)
	}
	var rows int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM subject_activity`).Scan(&rows); err != nil || rows != 1 {
		t.Fatalf("subject_activity rows = %d, %v; want 1 (the record with a day)", rows, err)
	}
	ids := testIDs(t)
	s, err := Open(ctx, u, Options{IDs: ids, NoMigrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for seq, want := range map[int64]time.Time{1: day, 2: {}} {
		err := s.View(ctx, func(ctx context.Context, tx store.Tx) error {
			r, err := tx.GetSubject(ctx, ids.ID(seq))
			if err == nil && !r.Active.Equal(want) {
				t.Errorf("record %d after the migration: Active %v, want %v", seq, r.Active, want)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
