package main

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/coffre/coffre/internal/store/sqlite/sqlitetest" // audit_set

	"github.com/coffre/coffre/internal/auditlog"
)

// sized is full when the long runs are asked for (COFFRE_SOAK=1, as
// .ci/run's soak step sets): the drills at the sizes their issues name
// and docs/benchmarks.md reports; short under -short (the race run); and
// def otherwise, so that go test ./... keeps within its few minutes.
func sized(full, def, short int) int {
	switch {
	case os.Getenv("COFFRE_SOAK") == "1":
		return full
	case testing.Short():
		return short
	}
	return def
}

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string // in stderr
	}{
		{"unknown command", []string{"export"}, 2, `unknown command "export"`},
		{"serve without config", []string{"serve"}, 2, "hint: pass --config"},
		{"bad flag", []string{"serve", "--nope"}, 2, "flag provided but not defined"},
		{"totp without secret", []string{"totp"}, 2, "want one base32 TOTP secret"},
		{"totp bad secret", []string{"totp", "!!!"}, 2, "not a base32 TOTP secret"},
		{"import without file", []string{"import", "--dev"}, 2, "want one FILE"},
		{"import bad batch", []string{"import", "--dev", "--batch", "0", "x.csv"}, 2, "--batch must be"},
		{"operator without subcommand", []string{"operator"}, 2, "want a subcommand: add, role, enrol-code, disable, enable, delete, lock or review"},
		{"partner without sector", []string{"partner", "add", "ml", "--dev"}, 2, "--sector and --unit are required"},
		{"partner without subcommand", []string{"partner"}, 2, "want a subcommand: add or rotate"},
		{"operator bad unit", []string{"operator", "add", "marie", "--role", "caseworker", "--unit", "Bad Unit", "--dev"}, 2, "--unit is required"},
		{"demo too many people", []string{"demo", "--people", "-1"}, 2, "--people must be"},
		{"drill unknown scenario", []string{"drill", "--scenario", "nope"}, 2, `unknown scenario "nope"`},
		{"drill too few people", []string{"drill", "--people", "10"}, 2, "--people must be"},
		{"canary without count", []string{"canary", "plant", "--dev"}, 2, "want one count"},
		{"serve bad store", []string{"serve", "--dev", "--store", "mysql://db"}, 2, "--store: want sqlite:PATH or a postgres:// URL"},
		{"canary bad partner", []string{"canary", "plant", "3", "--partner", "Bad Name", "--dev"}, 2, "--partner"},
		{"unseal without a share", []string{"unseal", "--url", "http://127.0.0.1:1"}, 2, "want one of --share-file FILE or --share -"},
		{"unseal share on the command line", []string{"unseal", "--share", "coffre-share-1:x", "--url", "http://127.0.0.1:1"}, 2, "want one of --share-file FILE or --share -"},
		{"unseal without a server", []string{"unseal", "--share-file", "x"}, 2, "want --url or --config"},
		{"seal without a reason", []string{"seal", "--url", "http://127.0.0.1:1"}, 2, "--reason is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Fatalf("coffre %v = %d, stderr %q; want %d and %q", tt.args, code, stderr, tt.code, tt.want)
			}
		})
	}
}

func TestHelpHasExample(t *testing.T) {
	for _, c := range commands() {
		code, _, stderr := runCLI(t, c.name, "--help")
		if code != 0 || !strings.Contains(stderr, "Example:\n  coffre "+c.name) {
			t.Errorf("coffre %s --help = %d, %q; want an example", c.name, code, stderr)
		}
	}
}

// TestImport imports a CSV with bad rows: each is reported by row number,
// field and reason, never by value, and the good rows are imported.
func TestImport(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := runCLI(t, "import", "--dev", "--data", dir, filepath.Join("testdata", "people.csv"))
	if code != 1 {
		t.Fatalf("exit %d, want 1 (rows rejected); stderr %s", code, stderr)
	}
	if !strings.Contains(stdout, "imported 2 records, 4 rows rejected") {
		t.Errorf("summary: %q", stdout)
	}
	for _, want := range []string{
		`row 3: field "email_pro": not a valid email address`,
		`row 4: field "family_name": required`,
		`row 5: a lookup value of this row already belongs to another subject`,
		`row 6: field "national_id": national id check digits do not match`,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	for _, value := range []string{"not-an-email", "MC.DUPONT", "Roux", "089 47"} {
		if strings.Contains(stderr, value) {
			t.Errorf("stderr holds the value %q", value)
		}
	}
	// A second import of the same file conflicts on every good row: the
	// first import's records are there.
	code, stdout, _ = runCLI(t, "import", "--dev", "--data", dir, filepath.Join("testdata", "people.csv"))
	if code != 1 || !strings.Contains(stdout, "imported 0 records, 6 rows rejected") {
		t.Errorf("second import = %d, %q", code, stdout)
	}
}

func TestOperatorAdd(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := runCLI(t, "operator", "add", "marie", "--role", "caseworker", "--unit", "ac-lyon", "--dev", "--data", dir)
	if code != 0 || !strings.Contains(stdout, "enrolment code (shown once") || strings.Contains(stdout, "otpauth://") || strings.Contains(stdout, "password: ") {
		t.Fatalf("operator add = %d, %q, %q", code, stdout, stderr)
	}
	code, _, stderr = runCLI(t, "operator", "add", "marie", "--role", "caseworker", "--unit", "ac-lyon", "--dev", "--data", dir)
	if code != 2 || !strings.Contains(stderr, `operator "marie" exists`) {
		t.Fatalf("second add = %d, %q", code, stderr)
	}
	code, _, stderr = runCLI(t, "operator", "add", "paul", "--role", "wizard", "--unit", "ac-lyon", "--dev", "--data", dir)
	if code != 2 || !strings.Contains(stderr, `--role "wizard" is not a role`) {
		t.Fatalf("unknown role = %d, %q", code, stderr)
	}
}

// TestAuditVerify checks `coffre audit verify` on an untouched log and on
// one whose entry was edited in the database file.
func TestAuditVerify(t *testing.T) {
	dir := t.TempDir()
	runCLI(t, "import", "--dev", "--data", dir, filepath.Join("testdata", "people.csv"))
	runCLI(t, "import", "--dev", "--data", dir, filepath.Join("testdata", "people.csv"))
	ctx := context.Background()
	a, err := openApp(ctx, appOptions{dev: true, dataDir: dir}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&auditlog.Integrator{Store: a.store, Signer: a.signer}).Step(ctx); err != nil {
		t.Fatal(err)
	}
	a.close()
	code, stdout, stderr := runCLI(t, "audit", "verify", "--dev", "--data", dir)
	if code != 0 || !strings.Contains(stdout, "audit log verified: 2 entries, 1 checkpoints") {
		t.Fatalf("verify untouched = %d, %q, %q", code, stdout, stderr)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "coffre.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE audit SET leaf = audit_set(leaf, 'actor', 'op_someone') WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	code, _, stderr = runCLI(t, "audit", "verify", "--dev", "--data", dir)
	if code != 1 || !strings.Contains(stderr, "does not verify at index 1") {
		t.Fatalf("verify tampered = %d, %q; want exit 1 naming index 1", code, stderr)
	}
}
