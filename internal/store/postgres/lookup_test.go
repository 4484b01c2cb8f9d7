package postgres

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/storetest"
	"github.com/coffre/coffre/internal/subject"
)

// TestLookupHashLength: the lookup table keeps 16-byte hashes (a uuid
// column, migration 025). A hash of another length is refused by every
// write, with nothing written, and found by no read.
func TestLookupHashLength(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	rows := bulkRows(t, s, 2)
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.PutSubject(ctx, rows[0]) }); err != nil {
		t.Fatal(err)
	}
	short, long := storetest.Hash("x")[:15], append(storetest.Hash("x"), 0)
	for _, h := range [][]byte{nil, short, long} {
		err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.PutIndex(ctx, 1, h, rows[0].ID) })
		if err == nil || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
			t.Errorf("PutIndex of a %d-byte hash = %v, want a plain error", len(h), err)
		}
		err = s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			return tx.(subject.Bulk).PutIndexes(ctx, 1, [][]byte{storetest.Hash("ok"), h}, []string{rows[0].ID, rows[0].ID})
		})
		if err == nil || errors.Is(err, store.ErrConflict) {
			t.Errorf("PutIndexes with a %d-byte hash = %v, want a plain error", len(h), err)
		}
		err = s.View(ctx, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.LookupIndex(ctx, h)
			return err
		})
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("LookupIndex of a %d-byte hash = %v, want ErrNotFound", len(h), err)
		}
		if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.DeleteIndex(ctx, h) }); err != nil {
			t.Errorf("DeleteIndex of a %d-byte hash = %v, want nil (nothing to delete)", len(h), err)
		}
	}
	if got := tableRows(t, s, `SELECT count(*) FROM lookup`); fmt.Sprint(got) != "[[0]]" {
		t.Fatalf("lookup rows after refused writes: %v, want none", got)
	}
}

// TestMigrateLookupUUID: a schema at version 24 keeps its blind index
// entries, bytea hashes, through migration 025, and finds each by its
// hash afterwards.
func TestMigrateLookupUUID(t *testing.T) {
	ctx := context.Background()
	u := emptySchema(t)
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE schema_version (version BIGINT NOT NULL); INSERT INTO schema_version VALUES (24)`); err != nil {
		t.Fatal(err)
	}
	for _, m := range Migrations()[:24] {
		body, err := migrations.ReadFile("migrations/" + m.Name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, string(body)); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
	}
	ids := testIDs(t)
	want := map[string]string{}
	for i := range 20 {
		h, id := storetest.Hash(fmt.Sprint("entry ", i)), ids.ID(int64(i+1))
		if _, err := conn.Exec(ctx, `INSERT INTO subjects (seq, unit, dek_version, created, updated) VALUES ($1, 'u', 1, 0, 0)`, int64(i+1)); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, `INSERT INTO lookup (hash, subject, gen) VALUES ($1, $2, 1)`, h, int64(i+1)); err != nil {
			t.Fatal(err)
		}
		want[string(h)] = id
	}
	if applied, err := Migrate(ctx, u, nil); err != nil || len(applied) != len(Migrations())-24 {
		t.Fatalf("Migrate from 24 = %v, %v", applied, err)
	}
	var typ string
	if err := conn.QueryRow(ctx, `SELECT data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'lookup' AND column_name = 'hash'`).Scan(&typ); err != nil || typ != "uuid" {
		t.Fatalf("lookup.hash after the migration: %q, %v; want uuid", typ, err)
	}
	s, err := Open(ctx, u, Options{IDs: ids, NoMigrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		for h, id := range want {
			if got, err := tx.LookupIndex(ctx, []byte(h)); err != nil || got != id {
				return fmt.Errorf("LookupIndex after the migration = %q, %v; want %s", got, err, id)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
