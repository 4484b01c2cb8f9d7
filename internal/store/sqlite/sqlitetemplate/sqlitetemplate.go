// Package sqlitetemplate opens tests' SQLite stores from a copy of an
// empty store migrated once per process, as pgtest.Migrated does for
// PostgreSQL: a new store's migrations, each its own durable commit, cost
// about 45 ms of CPU and a tenth of a second of waiting every time, and
// some packages' tests open hundreds of stores. (It cannot live in
// sqlitetest, which the sqlite package's own tests import.)
package sqlitetemplate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetest"
)

// migrated returns the bytes of an empty store with every migration
// applied, made on the first call.
var migrated = sync.OnceValues(build)

// Open opens the store at path as sqlite.Open does. When path does not
// exist yet, it is first written with a copy of the migrated empty
// store; an existing store is opened as it is.
func Open(ctx context.Context, path string, opts sqlite.Options) (*sqlite.Store, error) {
	db, err := migrated()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sqlitetemplate: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case errors.Is(err, fs.ErrExist):
	case err != nil:
		return nil, fmt.Errorf("sqlitetemplate: %w", err)
	default:
		_, err = f.Write(db)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(path) // not half a store for the next open to find
			return nil, fmt.Errorf("sqlitetemplate: copy to %s: %w", path, err)
		}
	}
	return sqlite.Open(ctx, path, opts)
}

func build() ([]byte, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "coffre-sqlite-template-")
	if err != nil {
		return nil, fmt.Errorf("sqlitetemplate: %w", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "template.db")
	st, err := sqlite.Open(ctx, path, sqlite.Options{IDs: sqlitetest.IDs()})
	if err != nil {
		return nil, fmt.Errorf("sqlitetemplate: %w", err)
	}
	if err := st.Close(); err != nil {
		return nil, fmt.Errorf("sqlitetemplate: close: %w", err)
	}
	// The last connection's close checkpoints the write-ahead log into
	// the file and deletes it: the file alone is then the whole store.
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		return nil, fmt.Errorf("sqlitetemplate: %s-wal still holds %d bytes after close", path, fi.Size())
	}
	return os.ReadFile(path)
}
