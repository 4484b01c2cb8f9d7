package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"sort"
)

// ErrNewerSchema is returned by Pending when the database's schema is
// newer than this binary's migrations: a newer Coffre migrated it.
var ErrNewerSchema = errors.New("the database schema is newer than this binary")

// Migration is one schema migration of this binary.
type Migration struct {
	// Version is the schema version (PRAGMA user_version) it brings the
	// database to.
	Version int
	// Name is its file name, such as "031_subject_activity.sql".
	Name string
}

// Migrations lists this binary's migrations, in order.
func Migrations() ([]Migration, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	out := make([]Migration, len(names))
	for i, n := range names {
		out[i] = Migration{Version: i + 1, Name: path.Base(n)}
	}
	return out, nil
}

// Pending lists the migrations the database at path lacks, in order,
// changing nothing: a database that does not exist yet lacks them all,
// and is not created. Open applies them (store_migrate: auto); a caller
// that must not migrate checks Pending first.
func Pending(ctx context.Context, dbPath string) ([]Migration, error) {
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(dbPath); errors.Is(err, fs.ErrNotExist) {
		return ms, nil
	} else if err != nil {
		return nil, fmt.Errorf("pending migrations: %w", err)
	}
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", "busy_timeout(10000)")
	db, err := sql.Open("sqlite", "file:"+dbPath+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("pending migrations: %w", err)
	}
	defer db.Close()
	var version int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return nil, fmt.Errorf("pending migrations: read schema version: %w", unavailable(err))
	}
	if version > len(ms) {
		return nil, fmt.Errorf("%w: version %d, this binary's %d", ErrNewerSchema, version, len(ms))
	}
	return ms[version:], nil
}
