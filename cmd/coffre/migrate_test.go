package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/store/postgres"
	"github.com/coffre/coffre/internal/store/postgres/pgtest"
)

// TestMigrateOnPostgres runs coffre migrate against PostgreSQL: --dry-run
// lists every migration of a fresh schema and creates nothing; with
// store_migrate: manual a command refuses the schema until coffre migrate
// has applied them, and then works.
func TestMigrateOnPostgres(t *testing.T) {
	pg, schema := pgtest.Schema(t, "coffre_cli_")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tables := func() int {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema = $1`, schema).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	latest := len(postgres.Migrations())
	dir := t.TempDir()

	code, stdout, stderr := runCLI(t, "migrate", "--dev", "--data", dir, "--store", pg, "--dry-run")
	if want := fmt.Sprintf("postgres store at schema version 0 of %d; coffre migrate would apply:\n    1  001_init.sql\n", latest); code != 0 || !strings.HasPrefix(stdout, want) {
		t.Fatalf("migrate --dry-run = %d, %q, %q; want it to begin %q", code, stdout, stderr, want)
	}
	if n := tables(); n != 0 {
		t.Fatalf("migrate --dry-run made %d tables", n)
	}

	t.Setenv("COFFRE_STORE_MIGRATE", "manual")
	code, _, stderr = runCLI(t, "import", "--dev", "--data", dir, "--store", pg, "testdata/people.csv")
	if code != 1 || !strings.Contains(stderr, "pending schema migrations, and store_migrate is manual: nothing was started") || !strings.Contains(stderr, "hint: list them with 'coffre migrate --dev --dry-run'") {
		t.Fatalf("import on a fresh schema, manual = %d, %q; want the refusal and its hint", code, stderr)
	}
	if n := tables(); n != 0 {
		t.Fatalf("the refused import made %d tables", n)
	}

	code, stdout, stderr = runCLI(t, "migrate", "--dev", "--data", dir, "--store", pg)
	if want := fmt.Sprintf("postgres store at schema version %d (was 0)\n", latest); code != 0 || !strings.HasPrefix(stdout, "applied   1  001_init.sql\n") || !strings.HasSuffix(stdout, want) {
		t.Fatalf("migrate = %d, %q, %q", code, stdout, stderr)
	}
	code, stdout, _ = runCLI(t, "migrate", "--dev", "--data", dir, "--store", pg, "--json")
	if code != 0 || !strings.Contains(stdout, `"applied": []`) || !strings.Contains(stdout, fmt.Sprintf(`"version": %d,`, latest)) {
		t.Fatalf("migrate again = %d, %q; want nothing applied", code, stdout)
	}
	code, stdout, stderr = runCLI(t, "import", "--dev", "--data", dir, "--store", pg, "testdata/people.csv")
	if code != 1 || !strings.Contains(stdout, "imported 2 records, 4 rows rejected") {
		t.Fatalf("import after migrate, manual = %d, %q, %q", code, stdout, stderr)
	}
}

// TestPostgresOptionsFromConfig: the postgres key and store_migrate, set
// through their COFFRE_* variables, reach the PostgreSQL store's options;
// the defaults give 5 s and 2 s timeouts, pgxpool's pool size, and
// migrations at start.
func TestPostgresOptionsFromConfig(t *testing.T) {
	cfg, err := config.Demo([]string{"COFFRE_STORE=postgres://coffre@db/coffre"})
	if err != nil {
		t.Fatal(err)
	}
	got := pgOptions(cfg, nil, nil)
	if want := (postgres.Options{StatementTimeout: 5 * time.Second, LockTimeout: 2 * time.Second}); got != want {
		t.Errorf("defaults: %+v, want %+v", got, want)
	}
	cfg, err = config.Demo([]string{"COFFRE_STORE=postgres://coffre@db/coffre", "COFFRE_STORE_MIGRATE=manual",
		"COFFRE_POSTGRES_STATEMENT_TIMEOUT=750ms", "COFFRE_POSTGRES_LOCK_TIMEOUT=0", "COFFRE_POSTGRES_MAX_CONNS=64", "COFFRE_POSTGRES_MIN_CONNS=8"})
	if err != nil {
		t.Fatal(err)
	}
	got = pgOptions(cfg, nil, nil)
	if want := (postgres.Options{StatementTimeout: 750 * time.Millisecond, MaxConns: 64, MinConns: 8, NoMigrate: true}); got != want {
		t.Errorf("from the environment: %+v, want %+v", got, want)
	}
	if _, err := config.Demo([]string{"COFFRE_POSTGRES_MAX_CONNS=0"}); err == nil || !strings.Contains(err.Error(), "COFFRE_POSTGRES_MAX_CONNS: must be between 1 and 1000, got 0") {
		t.Errorf("max_conns 0: %v, want refused", err)
	}
}
