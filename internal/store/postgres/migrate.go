package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/coffre/coffre/internal/store"
)

// ErrPendingMigrations is returned by Open with Options.NoMigrate when
// the database lacks some of this binary's schema migrations: `coffre
// migrate` applies them.
var ErrPendingMigrations = errors.New("the database schema has pending migrations")

// migrationLock is the advisory lock that keeps two servers from
// migrating at once. It is the key every version of Coffre took, so that a
// newer and an older binary starting together still take turns; servers
// of other schemas of the same database wait on it too (briefly: with
// nothing to apply, a migration is three statements).
const migrationLock = 0x636f66667265 // "coffre"

// Pending connects to the database at url and lists the migrations it
// lacks, in order, changing nothing (not even creating the version
// table). The connection runs without statement or lock timeouts.
func Pending(ctx context.Context, url string) ([]store.Migration, error) {
	conn, err := connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	pending, _, err := pendingOn(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("pending migrations of %s: %w", redact(url), unavailable(err))
	}
	return pending, nil
}

// Migrate connects to the database at url and applies the migrations it
// lacks, each in a transaction of its own, and returns those this call
// applied. It holds an advisory lock of the schema throughout, so that
// servers migrating the same database at once apply each migration once:
// the others wait, then find nothing left to do. The connection runs
// without statement or lock timeouts, as a migration of a large table may
// take long. log, when not nil, gets a line per migration applied.
func Migrate(ctx context.Context, url string, log *slog.Logger) ([]store.Migration, error) {
	conn, err := connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	applied, err := migrateOn(ctx, conn, log)
	if err != nil {
		return applied, fmt.Errorf("migrate %s: %w", redact(url), unavailable(err))
	}
	return applied, nil
}

func connect(ctx context.Context, url string) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", redact(url), unavailable(err))
	}
	if err := noTimeouts(ctx, conn); err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("connect to %s: %w", redact(url), unavailable(err))
	}
	return conn, nil
}

// openSchema migrates the schema, or with opts.NoMigrate checks that no
// migration is pending, on a connection taken out of pool for good (its
// timeouts turned off, then closed).
func openSchema(ctx context.Context, pool *pgxpool.Pool, opts Options) error {
	c, err := pool.Acquire(ctx)
	if err != nil {
		return unavailable(err)
	}
	conn := c.Hijack()
	defer conn.Close(context.WithoutCancel(ctx))
	if err := noTimeouts(ctx, conn); err != nil {
		return unavailable(err)
	}
	if !opts.NoMigrate {
		_, err := migrateOn(ctx, conn, opts.Logger)
		return unavailable(err)
	}
	pending, _, err := pendingOn(ctx, conn)
	if err != nil {
		return unavailable(err)
	}
	if len(pending) > 0 {
		return fmt.Errorf("%w: %d, from %s to %s", ErrPendingMigrations, len(pending), pending[0].Name, pending[len(pending)-1].Name)
	}
	return nil
}

// noTimeouts turns the session's statement and lock timeouts off.
func noTimeouts(ctx context.Context, conn *pgx.Conn) error {
	if _, err := conn.Exec(ctx, `SET statement_timeout = 0`); err != nil {
		return fmt.Errorf("turn timeouts off: %w", err)
	}
	if _, err := conn.Exec(ctx, `SET lock_timeout = 0`); err != nil {
		return fmt.Errorf("turn timeouts off: %w", err)
	}
	return nil
}

// Migrations lists this binary's migrations, in order.
func Migrations() []store.Migration { return store.Migrations(migrations, "migrations") }

// Digest identifies the schema that Migrate builds: a SHA-256, in hex,
// of the migrations' names and text. Tests key the template databases
// they copy by it (package pgtest).
func Digest() string {
	h := sha256.New()
	for _, m := range Migrations() {
		body, _ := migrations.ReadFile("migrations/" + m.Name) // listed from the same files
		fmt.Fprintf(h, "%s %d\n", m.Name, len(body))
		h.Write(body)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// pendingOn reads the schema's version (0 when it has no version table)
// and lists the migrations after it.
func pendingOn(ctx context.Context, conn *pgx.Conn) ([]store.Migration, int, error) {
	ms := Migrations()
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('schema_version') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, 0, fmt.Errorf("read schema version: %w", err)
	}
	version := 0
	if exists {
		err := conn.QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&version)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return nil, 0, fmt.Errorf("read schema version: %w", err)
		}
	}
	if version > len(ms) {
		return nil, version, fmt.Errorf("%w: version %d, this binary's %d", store.ErrNewerSchema, version, len(ms))
	}
	return ms[version:], version, nil
}

// migrateOn applies the pending migrations on conn under the advisory
// lock, and returns those it applied.
func migrateOn(ctx context.Context, conn *pgx.Conn, log *slog.Logger) ([]store.Migration, error) {
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLock)); err != nil {
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(migrationLock))
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)`); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	var version int
	err := conn.QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&version)
	if errors.Is(err, pgx.ErrNoRows) {
		_, err = conn.Exec(ctx, `INSERT INTO schema_version VALUES (0)`)
	}
	if err != nil {
		return nil, fmt.Errorf("read schema version: %w", err)
	}
	pending, _, err := pendingOn(ctx, conn)
	if err != nil {
		return nil, err
	}
	var applied []store.Migration
	for _, m := range pending {
		body, err := migrations.ReadFile("migrations/" + m.Name)
		if err != nil {
			return applied, err
		}
		start := time.Now()
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `UPDATE schema_version SET version = $1`, m.Version)
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("migration %s: %w", m.Name, err)
		}
		applied = append(applied, m)
		if log != nil {
			log.InfoContext(ctx, "schema migration applied", "migration", m.Name, "version", m.Version, "took", time.Since(start).Round(time.Millisecond))
		}
	}
	return applied, nil
}

// setTimeouts makes every connection of cfg start with these
// statement_timeout and lock_timeout (in milliseconds, PostgreSQL's
// unit); zero leaves a parameter as the server or the URL sets it.
func setTimeouts(cfg *pgx.ConnConfig, statement, lock time.Duration) {
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	if statement > 0 {
		cfg.RuntimeParams["statement_timeout"] = strconv.FormatInt(max(statement.Milliseconds(), 1), 10)
	}
	if lock > 0 {
		cfg.RuntimeParams["lock_timeout"] = strconv.FormatInt(max(lock.Milliseconds(), 1), 10)
	}
}
