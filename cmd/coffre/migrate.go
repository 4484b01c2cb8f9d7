package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/store/postgres"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/subjectid"
)

// errPendingMigrations is the kind of a command's refusal of a store with
// pending migrations under store_migrate: manual.
var errPendingMigrations = errors.New("pending schema migrations")

// migration is one schema migration, as coffre migrate reports it.
type migration struct {
	Version int    `json:"version"`
	Name    string `json:"name"`
}

// migrateReport is coffre migrate's result (--json).
type migrateReport struct {
	Store string `json:"store"` // "sqlite" or "postgres"
	// Version is the schema's version before; Latest this binary's.
	Version int  `json:"version"`
	Latest  int  `json:"latest"`
	DryRun  bool `json:"dry_run"`
	// Pending (with --dry-run) lists what would be applied; Applied
	// what was (none when another server applied it first).
	Pending []migration `json:"pending"`
	Applied []migration `json:"applied"`
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("migrate", "[--dev | --config FILE] [--store URL] [--dry-run] [--json]", "coffre migrate --config coffre.yaml --dry-run", stderr)
	var o appOptions
	o.flags(fs.StringVar, fs.BoolVar)
	dryRun := fs.Bool("dry-run", false, "list the migrations that would be applied, change nothing")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &usageError{msg: "unexpected argument " + fs.Arg(0), hint: "run 'coffre migrate --help'"}
	}
	cfg, err := loadConfig(o)
	if err != nil {
		return err
	}
	r, err := migrateStore(ctx, cfg, *dryRun)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, r)
	}
	switch {
	case *dryRun && len(r.Pending) == 0, !*dryRun && len(r.Applied) == 0 && r.Version == r.Latest:
		fmt.Fprintf(stdout, "%s store at schema version %d: up to date, nothing to apply\n", r.Store, r.Version)
	case *dryRun:
		fmt.Fprintf(stdout, "%s store at schema version %d of %d; coffre migrate would apply:\n", r.Store, r.Version, r.Latest)
		for _, m := range r.Pending {
			fmt.Fprintf(stdout, "  %3d  %s\n", m.Version, m.Name)
		}
	default:
		for _, m := range r.Applied {
			fmt.Fprintf(stdout, "applied %3d  %s\n", m.Version, m.Name)
		}
		fmt.Fprintf(stdout, "%s store at schema version %d (was %d)\n", r.Store, r.Latest, r.Version)
	}
	return nil
}

// migrateStore lists (dryRun) or applies the pending migrations of the
// store cfg names, whatever store_migrate says.
func migrateStore(ctx context.Context, cfg *config.Config, dryRun bool) (*migrateReport, error) {
	r := &migrateReport{DryRun: dryRun, Pending: []migration{}, Applied: []migration{}}
	if path, ok := strings.CutPrefix(cfg.Store, "sqlite:"); ok {
		r.Store = "sqlite"
		all := sqlite.Migrations()
		p, err := sqlite.Pending(ctx, path)
		if err != nil {
			return nil, err
		}
		r.Latest, r.Version = len(all), len(all)-len(p)
		for _, m := range p {
			r.Pending = append(r.Pending, migration(m))
		}
		if dryRun || len(p) == 0 {
			return r, nil
		}
		// Open applies them. It needs a subject-id codec, which a
		// migration never uses: one keyed at random.
		key := make([]byte, 32)
		rand.Read(key)
		ids, err := subjectid.New(key)
		clear(key)
		if err != nil {
			return nil, err
		}
		st, err := sqlite.Open(ctx, path, sqlite.Options{IDs: ids})
		if err != nil {
			return nil, err
		}
		if err := st.Close(); err != nil {
			return nil, err
		}
		r.Applied = r.Pending
		return r, nil
	}
	r.Store = "postgres"
	p, err := postgres.Pending(ctx, cfg.Store)
	if err != nil {
		return nil, err
	}
	all := postgres.Migrations()
	r.Latest, r.Version = len(all), len(all)-len(p)
	for _, m := range p {
		r.Pending = append(r.Pending, migration(m))
	}
	if dryRun {
		return r, nil
	}
	applied, err := postgres.Migrate(ctx, cfg.Store, nil)
	for _, m := range applied {
		r.Applied = append(r.Applied, migration(m))
	}
	return r, err
}
