package store

import (
	"errors"
	"io/fs"
	"path"
	"sort"
)

// Migration is one schema migration a store carries in its binary.
type Migration struct {
	// Version is the schema version it brings the database to.
	Version int
	// Name is its file name, such as "031_subject_activity.sql".
	Name string
}

// ErrNewerSchema is returned when a database's schema is newer than this
// binary's migrations: a newer Coffre migrated it.
var ErrNewerSchema = errors.New("the database schema is newer than this binary")

// Migrations lists the migrations in dir of fsys (its *.sql files, a
// store's embedded ones) in name order: the nth brings the schema to
// version n.
func Migrations(fsys fs.FS, dir string) []Migration {
	names, _ := fs.Glob(fsys, path.Join(dir, "*.sql")) // fails only on a malformed pattern
	sort.Strings(names)
	out := make([]Migration, len(names))
	for i, n := range names {
		out[i] = Migration{Version: i + 1, Name: path.Base(n)}
	}
	return out
}
