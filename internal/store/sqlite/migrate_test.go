package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/outbox"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetest"
	"github.com/coffre/coffre/internal/subject"

	"github.com/coffre/coffre/internal/audit"
)

// oldStore makes a database of schema version (the first version
// migrations, each Go step run on the still empty tables).
func oldStore(t *testing.T, version int) (string, *sql.DB) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", file)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	names, _ := fs.Glob(migrations, "migrations/*.sql")
	sort.Strings(names)
	for _, n := range names[:version] {
		body, _ := migrations.ReadFile(n)
		if _, err := db.Exec(string(body)); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if step := goSteps[path.Base(n)]; step != nil {
			c, err := db.Conn(context.Background())
			if err == nil {
				err = step(context.Background(), c)
				c.Close()
			}
			if err != nil {
				t.Fatalf("%s: %v", n, err)
			}
		}
	}
	if _, err := db.Exec(fmt.Sprintf("PRAGMA user_version = %d", version)); err != nil {
		t.Fatal(err)
	}
	return file, db
}

// TestMigrateAuditLeaves builds a store of schema 7 (audit entries in
// columns), opens it with this binary, and checks that every entry reads
// back the same and hashes to the same leaf: checkpoints signed before the
// migration still verify.
func TestMigrateAuditLeaves(t *testing.T) {
	if testing.Short() {
		// 25,003 entries through a migration, one goroutine: nothing for
		// the race detector (CI's -short run); go test ./... runs it.
		t.Skip("migrates a large old store: run without -short")
	}
	ctx := context.Background()
	path, db := oldStore(t, 7)
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 123456000, time.UTC)
	var want []audit.Entry
	for i := 1; i <= 25_003; i++ { // more than one copy batch
		e := audit.Entry{Seq: int64(i), Time: t0.Add(time.Duration(i) * time.Millisecond), Actor: fmt.Sprintf("op_%d", i%7), Action: "read",
			Subject: fmt.Sprintf("sub_%d", i), Purpose: "directory", Reason: "ticket " + fmt.Sprint(i%3), Decision: "allow", Origin: "10.0.0.1"}
		if i%2 == 0 {
			e.Fields = []string{"given_name", "family_name"}
		}
		want = append(want, e)
	}
	tx, _ := db.Begin()
	for _, e := range want {
		fields := ""
		if e.Fields != nil {
			fields = "given_name,family_name"
		}
		if _, err := tx.Exec(`INSERT INTO audit (seq, ts, actor, action, subject, purpose, reason, fields, decision, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.Seq, e.Time.UnixMicro(), e.Actor, e.Action, e.Subject, e.Purpose, e.Reason, fields, e.Decision, e.Origin); err != nil {
			t.Fatal(err)
		}
	}
	tx.Commit()
	db.Close()

	s, err := Open(ctx, path, Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got []audit.Entry
	for from := int64(1); from <= int64(len(want)); from += 1000 {
		s.View(ctx, func(ctx context.Context, tx store.Tx) error {
			es, err := tx.AuditEntries(ctx, from, from+1000, 1000)
			got = append(got, es...)
			return err
		})
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after the migration: %d entries, first %+v; want %d, first %+v", len(got), got[0], len(want), want[0])
	}
	var n int
	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.AuditLeaves(ctx, 1, int64(len(want))+1, func(seq int64, leaf []byte) error {
			if h, w := audit.Hasher.HashLeaf(leaf), audit.LeafHash(&want[seq-1]); string(h) != string(w) {
				t.Fatalf("entry %d hashes differently after the migration", seq)
			}
			n++
			return nil
		})
	})
	if n != len(want) {
		t.Fatalf("%d leaves, want %d", n, len(want))
	}
	// Appends go on from the last number.
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		e := &audit.Entry{Time: t0, Actor: "op_x", Action: "read", Decision: "allow"}
		if err := tx.AppendAudit(ctx, e); err != nil {
			return err
		}
		if e.Seq != int64(len(want))+1 {
			t.Errorf("next seq %d", e.Seq)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestMigrateSubjectSeq builds a store of schema 7 (random subject ids, a
// blind index naming them) and checks that after migration 009 every old
// subject is found by its id and through the index, erasure and canaries
// still reach it, and new ids neither collide with old rows nor reuse
// their numbers after a reopen.
func TestMigrateSubjectSeq(t *testing.T) {
	ctx := context.Background()
	path, db := oldStore(t, 7) // subjects are the same in 7 and 8
	old := []string{"sub_7f3k9x2m4q8w1e5r6t0y3u2i9o", "sub_0000000000000000000000000a", "sub_zzzzzzzzzzzzzzzzzzzzzzzzzz"}
	for i, id := range old {
		if _, err := db.Exec(`INSERT INTO subjects (id, unit, dek, dek_version, fields, created, updated) VALUES (?, 'u', ?, 1, ?, 1, 1)`, id, "dek-"+id, "f-"+id); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`INSERT INTO blind_index (hash, subject) VALUES (?, ?)`, []byte(fmt.Sprintf("hash-%011d", i)), id); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	open := func() *Store {
		s, err := Open(ctx, path, Options{IDs: sqlitetest.IDs()})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	check := func(s *Store) {
		t.Helper()
		s.View(ctx, func(ctx context.Context, tx store.Tx) error {
			for i, id := range old {
				got, err := tx.GetSubject(ctx, id)
				if err != nil || got.Seq != int64(i+1) || !got.Erased && string(got.Fields) != "f-"+id {
					t.Errorf("GetSubject(%s) = %+v, %v", id, got, err)
				}
				if got, err := tx.LookupIndex(ctx, []byte(fmt.Sprintf("hash-%011d", i))); err != nil || got != id {
					t.Errorf("LookupIndex(%d) = %q, %v; want %s", i, got, err, id)
				}
			}
			return nil
		})
	}
	check(s)
	ids, _ := s.NewSubjectIDs(ctx, 2)
	if seq, _ := s.opts.IDs.Seq(ids[0]); seq != int64(len(old))+1 {
		t.Fatalf("first new id has seq %d, want %d", seq, len(old)+1)
	}
	err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tx.PutSubject(ctx, &subject.Row{ID: ids[1], Unit: "u", DEK: []byte("k"), DEKVersion: 1, Fields: []byte("new")}); err != nil {
			return err
		}
		if err := tx.PutCanary(ctx, old[0], "", time.Now()); err != nil {
			return err
		}
		return tx.EraseSubject(ctx, old[1], time.Now())
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open()
	defer s.Close()
	check(s)
	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		if got, err := tx.GetSubject(ctx, old[0]); err != nil || !got.Canary {
			t.Errorf("canary flag on an old subject: %+v, %v", got, err)
		}
		if got, err := tx.GetSubject(ctx, old[1]); err != nil || !got.Erased {
			t.Errorf("erasure of an old subject: %+v, %v", got, err)
		}
		return nil
	})
	// After the reopen, numbering goes on past every number handed out.
	more, _ := s.NewSubjectIDs(ctx, 1)
	if seq, _ := s.opts.IDs.Seq(more[0]); seq <= int64(len(old))+2 {
		t.Fatalf("after reopen, new id has seq %d, want more than %d", seq, len(old)+2)
	}
}

// TestMigrateTiles builds a store of schema 23 (tiles in WITHOUT ROWID
// tables, full tiles without a stratum) and checks that after migration
// 024 the tiles are in rowid tables, every full tile has its stratum, and
// partial tiles are as they were.
func TestMigrateTiles(t *testing.T) {
	ctx := context.Background()
	path, db := oldStore(t, 23)
	hashes := func(n int, b byte) []byte {
		out := make([]byte, 0, 32*n)
		for i := range n {
			out = append(out, audit.Hasher.HashLeaf([]byte{b, byte(i)})...)
		}
		return out
	}
	type tile struct {
		table      string
		level, idx int
		hashes     []byte
	}
	tiles := []tile{
		{"tiles", 0, 0, hashes(audit.TileWidth, 1)},
		{"tiles", 0, 1, hashes(10, 2)},
		{"tiles", 1, 0, hashes(1, 3)},
		{"index_tiles", 0, 0, hashes(audit.TileWidth, 4)},
		{"index_tiles", 0, 1, hashes(audit.TileWidth, 5)},
	}
	for _, tl := range tiles {
		if _, err := db.Exec(`INSERT INTO `+tl.table+` (level, idx, hashes) VALUES (?, ?, ?)`, tl.level, tl.idx, tl.hashes); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s, err := Open(ctx, path, Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.View(ctx, func(ctx context.Context, vt store.Tx) error {
		for _, tl := range tiles {
			id := audit.TileID{Level: uint(tl.level), Index: uint64(tl.idx)}
			get := vt.GetTiles
			if tl.table == "index_tiles" {
				get = vt.GetIndexTiles
			}
			got, err := get(ctx, []audit.TileID{id})
			want := tl.hashes
			if len(want) == audit.TileWidth*32 {
				want = audit.WithStratum(want)
			}
			if err != nil || !reflect.DeepEqual(got[id].Hashes, want) {
				t.Errorf("%s %d/%d after the migration: %d bytes, %v; want %d bytes", tl.table, tl.level, tl.idx, len(got[id].Hashes), err, len(want))
			}
		}
		var ddl string
		err := vt.(*tx).q.QueryRowContext(ctx, `SELECT group_concat(sql, ' ') FROM sqlite_schema WHERE name IN ('tiles', 'index_tiles')`).Scan(&ddl)
		if err != nil || strings.Contains(ddl, "WITHOUT ROWID") || !strings.Contains(ddl, "PRIMARY KEY (level, idx)") {
			t.Errorf("tables after the migration: %q, %v", ddl, err)
		}
		return nil
	})
}

// TestMigrateDeliveryCounts builds a store of schema 24 holding messages
// sent, dead, failed and pending, opens it with this binary, and checks
// that the totals carried over, and that the trigger then counts on;
// and that alerts stored then are found by the entry they were raised with.
func TestMigrateDeliveryCounts(t *testing.T) {
	ctx := context.Background()
	// Schema 24: a store of this binary with migrations 025 and later
	// undone (the older ones need Go steps that oldStore does not run).
	path := filepath.Join(t.TempDir(), "old.db")
	s, err := Open(ctx, path, Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`ALTER TABLE subjects DROP COLUMN active; DROP TABLE stat_cells; DROP TABLE stat_version; DROP TABLE stat_budgets;
		DROP TABLE audit_epochs; DROP TABLE legal_holds; DROP INDEX subjects_canary; DROP TABLE incidents; DROP TABLE incident_events; DROP TABLE origin_counts; DROP TABLE login_regulars; DROP TABLE activity_mark; DROP TABLE audit_streams; DROP INDEX alerts_seq; ALTER TABLE alerts DROP COLUMN seq;
		DROP TRIGGER deliveries_count; DROP TABLE delivery_counts; DROP INDEX deliveries_pending;
		CREATE INDEX deliveries_status ON deliveries (channel, status); PRAGMA user_version = 24`); err != nil {
		t.Fatal(err)
	}
	for i, m := range []struct {
		channel, status string
		failures        int
	}{{"email", "sent", 0}, {"email", "sent", 2}, {"email", "dead", 8}, {"email", "pending", 1}, {"person", "sent", 0}, {"person", "pending", 0}} {
		if _, err := db.Exec(`INSERT INTO deliveries (source, kind, channel, recipient, idem, payload, status, failures, next_at, created) VALUES (0, 'k', ?, 'r', ?, x'', ?, ?, 0, ?)`,
			m.channel, fmt.Sprint("key-", i), m.status, m.failures, 1000+i); err != nil {
			t.Fatal(err)
		}
	}
	// Alerts from before migration 035 get the entry they were raised
	// with: the last of their evidence.
	if _, err := db.Exec(`INSERT INTO alerts (ts, operator, code, severity, action, evidence) VALUES (1, 'op_1', 'velocity', 'high', 'lock', '3,8,5'), (2, 'op_1', 'manual', 'high', 'lock', '')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err = Open(ctx, path, Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		for _, r := range []struct{ from, to, n int64 }{{8, 9, 1}, {0, 1, 1}, {1, 8, 0}} {
			if al, err := tx.SequencedAlerts(ctx, r.from, r.to); err != nil || int64(len(al)) != r.n {
				t.Errorf("SequencedAlerts(%d, %d) after the migration = %+v, %v; want %d", r.from, r.to, al, err, r.n)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	stats := func() map[string]outbox.ChannelStats {
		t.Helper()
		var st outbox.Stats
		if err := s.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
			st, err = tx.DeliveryStats(ctx)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return st.Channels
	}
	want := map[string]outbox.ChannelStats{
		"email":  {Pending: 1, Sent: 2, Dead: 1, Failures: 11, Oldest: time.UnixMicro(1003).UTC()},
		"person": {Pending: 1, Sent: 1, Oldest: time.UnixMicro(1005).UTC()},
	}
	if got := stats(); !reflect.DeepEqual(got, want) {
		t.Errorf("after the migration: %+v, want %+v", got, want)
	}
	// The pending email fails for good, the pending notice is sent.
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		ms, err := tx.Claim(ctx, "w", time.UnixMicro(1), time.Minute, 10)
		if err != nil || len(ms) != 2 {
			return fmt.Errorf("claim: %v, %v", ms, err)
		}
		for _, m := range ms {
			if m.Channel == "email" {
				err = tx.MarkFailed(ctx, m.ID, "w", "smtp 550", time.UnixMicro(1), true)
			} else {
				err = tx.MarkSent(ctx, m.ID, time.UnixMicro(2))
			}
			if err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want = map[string]outbox.ChannelStats{"email": {Sent: 2, Dead: 2, Failures: 12}, "person": {Sent: 2}}
	if got := stats(); !reflect.DeepEqual(got, want) {
		t.Errorf("after a dead letter and a send: %+v, want %+v", got, want)
	}
}

// TestMigrateActivityMark: migration 033 puts the activity mark at the
// latest checkpoint, up to which the integrator had recorded the records'
// activity before it recorded it in batches.
func TestMigrateActivityMark(t *testing.T) {
	ctx := context.Background()
	path, db := oldStore(t, 32)
	if _, err := db.Exec(`INSERT INTO checkpoints (size, root, note, range, leaves, created) VALUES (17, x'', x'', x'', x'', 0), (42, x'', x'', x'', x'', 0)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := Open(ctx, path, Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var mark int64
	if err := s.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
		mark, err = tx.ActivityMark(ctx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if mark != 42 {
		t.Errorf("activity mark after the migration: %d, want 42 (the latest checkpoint)", mark)
	}
}
