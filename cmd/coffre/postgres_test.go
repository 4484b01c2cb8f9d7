package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/store/postgres/pgtest"
)

// TestOnPostgres runs the import and the audit verifier of TestImport and
// TestAuditVerify with --store on PostgreSQL: the same answers, and a
// byte changed in a stored entry is found.
func TestOnPostgres(t *testing.T) {
	t.Parallel()
	pg, schema := pgtest.Schema(t, "coffre_cli_")
	conn, err := pgx.Connect(context.Background(), pg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	dir := t.TempDir()
	people := filepath.Join("testdata", "people.csv")
	code, stdout, stderr := runCLI(t, "import", "--dev", "--data", dir, "--store", pg, people)
	if code != 1 || !strings.Contains(stdout, "imported 2 records, 4 rows rejected") {
		t.Fatalf("import = %d, %q, %q", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "coffre.db")); err == nil {
		t.Fatal("an SQLite file was made: --store was not used")
	}
	code, stdout, _ = runCLI(t, "import", "--dev", "--data", dir, "--store", pg, people)
	if code != 1 || !strings.Contains(stdout, "imported 0 records, 6 rows rejected") {
		t.Fatalf("second import = %d, %q", code, stdout)
	}
	ctx := context.Background()
	a, err := openApp(ctx, appOptions{dev: true, dataDir: dir, store: pg}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&auditlog.Integrator{Store: a.store, Signer: a.signer}).Step(ctx); err != nil {
		t.Fatal(err)
	}
	a.close()
	code, stdout, stderr = runCLI(t, "audit", "verify", "--dev", "--data", dir, "--store", pg)
	if code != 0 || !strings.Contains(stdout, "audit log verified: 2 entries, 1 checkpoints") {
		t.Fatalf("verify untouched = %d, %q, %q", code, stdout, stderr)
	}
	if _, err := conn.Exec(ctx, `UPDATE `+schema+`.audit SET leaf = set_byte(leaf, 30, get_byte(leaf, 30) # 1) WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCLI(t, "audit", "verify", "--dev", "--data", dir, "--store", pg)
	if code != 1 || !strings.Contains(stderr, "index 1") {
		t.Fatalf("verify tampered = %d, %q; want exit 1 naming index 1", code, stderr)
	}
}
