// Package postgres is the PostgreSQL store, for production: several Coffre
// servers may share one database. It implements vault.Store with pgx and
// passes the same conformance suite as the SQLite store (package
// store/storetest), against a real server.
//
// Each Update is one transaction, committed before Update returns
// (PostgreSQL's own group commit shares the WAL flushes of concurrent
// commits). A transaction that fails with a serialization failure or a
// deadlock is run again from the start, which vault.Store allows. The
// audit numbering has no gaps across servers: appending an entry takes
// the one row of audit_head until the transaction ends.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/coffre/coffre/internal/subjectid"
	"github.com/coffre/coffre/internal/vault"
)

//go:embed migrations/*.sql
var migrations embed.FS

// ErrClosed is returned by Update and View after Close.
var ErrClosed = errors.New("store closed")

// Options tune the store. IDs is required.
type Options struct {
	// IDs makes and reads subject ids (the keyring's SubjectIDs).
	IDs *subjectid.Codec
	// MaxConns caps the connection pool (default: pgxpool's, the larger of
	// 4 and the number of CPUs).
	MaxConns int32
	// Retries is how many times a transaction that failed with a
	// serialization failure or deadlock is run again (default 5).
	Retries int
}

// Store is the PostgreSQL store. It implements vault.Store.
type Store struct {
	pool   *pgxpool.Pool
	opts   Options
	closed atomic.Bool
}

var _ vault.Store = (*Store)(nil)

// Open connects to the database at url (postgres://…), creating or
// migrating the schema.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	if opts.IDs == nil {
		return nil, errors.New("open store: Options.IDs (the subject id codec) is required")
	}
	if opts.Retries <= 0 {
		opts.Retries = 5
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open store %s: %w", redact(url), err)
	}
	return &Store{pool: pool, opts: opts}, nil
}

// redact drops a password from a connection URL for error messages.
func redact(url string) string {
	cfg, err := pgconn.ParseConfig(url)
	if err != nil {
		return "postgres://…"
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}

// migrationLock is the advisory lock that keeps two servers from
// migrating at once.
const migrationLock = 0x636f66667265 // "coffre"

func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLock)); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(migrationLock))
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var version int
	err = conn.QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&version)
	if errors.Is(err, pgx.ErrNoRows) {
		_, err = conn.Exec(ctx, `INSERT INTO schema_version VALUES (0)`)
	}
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	if version > len(names) {
		return fmt.Errorf("database schema version %d is newer than this binary's %d", version, len(names))
	}
	for i := version; i < len(names); i++ {
		body, err := migrations.ReadFile(names[i])
		if err != nil {
			return err
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `UPDATE schema_version SET version = $1`, i+1)
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", names[i], err)
		}
	}
	return nil
}

// Update runs fn in a transaction and commits it; see package doc.
func (s *Store) Update(ctx context.Context, fn func(context.Context, vault.Tx) error) error {
	return s.run(ctx, true, fn)
}

// View runs fn in a read-only transaction.
func (s *Store) View(ctx context.Context, fn func(context.Context, vault.Tx) error) error {
	return s.run(ctx, false, fn)
}

func (s *Store) run(ctx context.Context, write bool, fn func(context.Context, vault.Tx) error) error {
	mode := pgx.ReadOnly
	if write {
		mode = pgx.ReadWrite
	}
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := s.attempt(ctx, pgx.TxOptions{AccessMode: mode}, write, fn)
		if err == nil || !retryable(err) || attempt >= s.opts.Retries {
			return err
		}
	}
}

func (s *Store) attempt(ctx context.Context, o pgx.TxOptions, write bool, fn func(context.Context, vault.Tx) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	ptx, err := s.pool.BeginTx(ctx, o)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(ctx, &tx{q: ptx, ids: s.opts.IDs, write: write}); err != nil {
		ptx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	if err := ptx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// retryable reports a failure that running the transaction again may cure.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// NewSubjectIDs returns n ids for new subjects, in creation order, from a
// counter row every server shares. Subject rows are never deleted, so no
// number is handed out twice; one handed out and never written is a gap.
func (s *Store) NewSubjectIDs(ctx context.Context, n int) ([]string, error) {
	if n < 0 {
		return nil, fmt.Errorf("new subject ids: n = %d", n)
	}
	if n == 0 {
		return []string{}, nil
	}
	var last int64
	if err := s.pool.QueryRow(ctx, `UPDATE subject_counter SET last = last + $1 RETURNING last`, n).Scan(&last); err != nil {
		return nil, fmt.Errorf("new subject ids: %w", err)
	}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = s.opts.IDs.ID(last - int64(n) + 1 + int64(i))
	}
	return ids, nil
}

// Close closes the pool; Update and View then return ErrClosed.
func (s *Store) Close() error {
	s.closed.Store(true)
	s.pool.Close()
	return nil
}

func micros(t time.Time) int64 { return t.UnixMicro() }

// microsOrZero stores the zero time as 0.
func microsOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }
