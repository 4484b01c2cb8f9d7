package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/vault"
)

// TestMigrateAuditLeaves builds a store of schema 7 (audit entries in
// columns), opens it with this binary, and checks that every entry reads
// back the same and hashes to the same leaf: checkpoints signed before the
// migration still verify.
func TestMigrateAuditLeaves(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	names, _ := fs.Glob(migrations, "migrations/*.sql")
	sort.Strings(names)
	for _, n := range names[:7] {
		body, _ := migrations.ReadFile(n)
		if _, err := db.Exec(string(body)); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
	}
	db.Exec("PRAGMA user_version = 7")
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 123456000, time.UTC)
	var want []vault.AuditEntry
	for i := 1; i <= 25_003; i++ { // more than one copy batch
		e := vault.AuditEntry{Seq: int64(i), Time: t0.Add(time.Duration(i) * time.Millisecond), Actor: fmt.Sprintf("op_%d", i%7), Action: "read",
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

	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got []vault.AuditEntry
	for from := int64(1); from <= int64(len(want)); from += 1000 {
		s.View(ctx, func(ctx context.Context, tx vault.Tx) error {
			es, err := tx.AuditEntries(ctx, from, from+1000, 1000)
			got = append(got, es...)
			return err
		})
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after the migration: %d entries, first %+v; want %d, first %+v", len(got), got[0], len(want), want[0])
	}
	var n int
	s.View(ctx, func(ctx context.Context, tx vault.Tx) error {
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
	if err := s.Update(ctx, func(ctx context.Context, tx vault.Tx) error {
		e := &vault.AuditEntry{Time: t0, Actor: "op_x", Action: "read", Decision: "allow"}
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
