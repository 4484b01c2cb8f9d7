package sqlitetemplate_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetemplate"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetest"
)

// schema is the database's version and its tables, as a fresh store's.
func schema(t *testing.T, path string) (version int, tables string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name)").Scan(&tables); err != nil {
		t.Fatal(err)
	}
	return version, tables
}

// TestCopiesAreStoresOfTheirOwn: a store from the template has the
// schema of a store migrated from nothing; two copies do not share
// writes; an existing store is opened as it is, never overwritten.
func TestCopiesAreStoresOfTheirOwn(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	opts := sqlite.Options{IDs: sqlitetest.IDs()}
	open := func(o func(context.Context, string, sqlite.Options) (*sqlite.Store, error), name string) string {
		path := filepath.Join(dir, name)
		st, err := o(ctx, path, opts)
		if err != nil {
			t.Fatalf("open %s: %v", name, err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		return path
	}
	fresh := open(sqlite.Open, "fresh.db")
	a, b := open(sqlitetemplate.Open, "a/a.db"), open(sqlitetemplate.Open, "b.db")
	wantV, wantT := schema(t, fresh)
	for _, p := range []string{a, b} {
		if v, tables := schema(t, p); v != wantV || tables != wantT {
			t.Errorf("%s: version %d, tables %s; a fresh store has %d, %s", p, v, tables, wantV, wantT)
		}
	}

	db, err := sql.Open("sqlite", "file:"+a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE only_in_a (x)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, tables := schema(t, b); tables != wantT {
		t.Errorf("a write to one copy reached another: %s", tables)
	}
	open(sqlitetemplate.Open, "a/a.db")
	if _, tables := schema(t, a); tables == wantT {
		t.Errorf("opening an existing store overwrote it")
	}
}
