package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"

	"github.com/coffre/coffre/internal/store"
)

// Migrations lists this binary's migrations, in order.
func Migrations() []store.Migration { return store.Migrations(migrations, "migrations") }

// Pending lists the migrations the database at path lacks, in order,
// changing nothing: a database that does not exist yet lacks them all,
// and is not created. Open applies them (store_migrate: auto); a caller
// that must not migrate checks Pending first.
func Pending(ctx context.Context, dbPath string) ([]store.Migration, error) {
	ms := Migrations()
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
		return nil, fmt.Errorf("%w: version %d, this binary's %d", store.ErrNewerSchema, version, len(ms))
	}
	return ms[version:], nil
}
