package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetest"
)

// TestPending: a database that does not exist lacks every migration and
// is not created by asking; one Open migrated lacks none; one whose
// version is behind lacks the migrations after it; one a newer binary
// migrated is refused.
func TestPending(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "coffre.db")
	all := Migrations()
	if len(all) < 31 || all[0] != (store.Migration{Version: 1, Name: "001_init.sql"}) {
		t.Fatalf("Migrations() = %d", len(all))
	}
	p, err := Pending(ctx, path)
	if err != nil || len(p) != len(all) {
		t.Fatalf("Pending on no file = %d migrations, %v; want %d", len(p), err, len(all))
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Pending created the database: %v", err)
	}
	s, err := Open(ctx, path, Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if p, err := Pending(ctx, path); err != nil || len(p) != 0 {
		t.Fatalf("Pending after Open = %v, %v; want none", p, err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	last := all[len(all)-1]
	if _, err := db.Exec(`PRAGMA user_version = 29`); err != nil {
		t.Fatal(err)
	}
	if p, err := Pending(ctx, path); err != nil || len(p) != len(all)-29 || p[0].Version != 30 || p[len(p)-1] != last {
		t.Fatalf("Pending at version 29 = %v, %v; want 030… to %s", p, err, last.Name)
	}
	if _, err := db.Exec(`PRAGMA user_version = 1000`); err != nil {
		t.Fatal(err)
	}
	if _, err := Pending(ctx, path); !errors.Is(err, store.ErrNewerSchema) {
		t.Fatalf("Pending at version 1000 = %v, want ErrNewerSchema", err)
	}
}
