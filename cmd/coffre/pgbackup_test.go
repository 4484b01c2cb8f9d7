package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/jackc/pgx/v5"

	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/postgres/pgtest"
	"github.com/coffre/coffre/internal/synth"
)

// TestPostgresBackupAsDocumented runs the README's PostgreSQL backup and
// restore ("PostgreSQL", Backups) word for word, with bash, psql,
// pg_dump, pg_restore and age, on a store in a database of its own that
// holds people, an erased person, the audit log and a checkpoint:
//   - the data backup's two files hold no data key, the key backup holds
//     the key of every person not erased;
//   - restored from that data backup and a later key backup (one more
//     person erased in between), the database equals the source as it
//     was, table by table, data keys aside, and holds the key of every
//     person but the two erased;
//   - before coffre restore --finish, the vault reads the person erased
//     in between as gone, but a lookup of their email still finds them;
//     after it, they are erased (a tombstone, audited by system) and
//     no lookup finds them; the log verifies (coffre audit verify), and
//     every other person reads back as created.
//
// It pins the README to the schema: a migration that adds a column to
// subjects breaks the documented column list here first.
func TestPostgresBackupAsDocumented(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"bash", "psql", "pg_dump", "pg_restore"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("COFFRE_REQUIRE_POSTGRES") != "" {
				t.Fatalf("%s: %v (Debian: postgresql-client)", tool, err)
			}
			t.Skipf("%s not found: the documented backup needs PostgreSQL's client tools", tool)
		}
	}
	src, dst := pgtest.Database(t, "coffre_backup_"), pgtest.Database(t, "coffre_restore_")
	backup, restore := readmeBackup(t)
	ctx := t.Context()

	dir := t.TempDir() // the dev root key, for both stores
	a, err := openApp(ctx, appOptions{dev: true, dataDir: dir, store: src, guard: "off"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	people := map[string]map[string]string{}
	for i := range 6 {
		p := synth.Make(17, i)
		id, err := a.vault.Create(ctx, backupHR, "ac-nice", p.Fields)
		if err != nil {
			t.Fatal(err)
		}
		people[id] = p.Fields
	}
	ids := slices.Sorted(maps.Keys(people))
	erased, shredded := ids[0], ids[1] // erased before the backups; between the data backup and the key backup
	if err := a.vault.Erase(ctx, backupHR, erased, "art. 17 request"); err != nil {
		t.Fatal(err)
	}
	if _, err := (&auditlog.Integrator{Store: a.store, Signer: a.signer}).Step(ctx); err != nil {
		t.Fatal(err)
	}
	a.close()
	deks := dataKeys(t, src)
	if len(deks) != len(people)-1 {
		t.Fatalf("%d data keys in the source, want %d (one person erased)", len(deks), len(people)-1)
	}

	// The two holders, and their key files where the README reads them.
	work := t.TempDir()
	dataHolder, keysHolder := newIdentity(t), newIdentity(t)
	for name, id := range map[string]*age.X25519Identity{"data-holder.key": dataHolder, "keys-holder.key": keysHolder} {
		if err := os.WriteFile(filepath.Join(work, name), []byte(id.String()+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"PATH=" + ageTool(t) + string(os.PathListSeparator) + os.Getenv("PATH"),
		"DB=" + src, "R=" + dst, "DATA_KEY=" + dataHolder.Recipient().String(), "KEYS_KEY=" + keysHolder.Recipient().String()}
	runBash(t, work, env, "backup", backup)
	before := tables(t, src)

	// The data files, opened by their holder, hold no data key; the key
	// file holds every one (which shows the search would find them).
	dump := openAge(t, filepath.Join(work, "coffre.dump.age"), dataHolder)
	// The dump is compressed: its tables' rows are searched in the
	// script pg_restore makes of it.
	dumpFile := filepath.Join(work, "dump.custom")
	if err := os.WriteFile(dumpFile, dump, 0o600); err != nil {
		t.Fatal(err)
	}
	dumpSQL, err := exec.Command("pg_restore", "--file=-", dumpFile).Output()
	if err != nil {
		t.Fatalf("pg_restore --file=- of the data backup: %v", err)
	}
	rows := openAge(t, filepath.Join(work, "coffre-subjects.age"), dataHolder)
	keys := openAge(t, filepath.Join(work, "coffre-keys.age"), keysHolder)
	for i, dek := range deks {
		h := []byte(hex.EncodeToString(dek))
		if bytes.Contains(dumpSQL, h) || bytes.Contains(rows, h) || bytes.Contains(dump, dek) {
			t.Errorf("data key %d is in the data backup", i)
		}
		if !bytes.Contains(keys, h) {
			t.Errorf("data key %d is not in the key backup", i)
		}
	}
	if n := bytes.Count(rows, []byte("\n")); n != len(people) {
		t.Errorf("the subjects file holds %d rows, want %d", n, len(people))
	}

	// A later key backup: one more person erased since the data backup.
	a, err = openApp(ctx, appOptions{dev: true, dataDir: dir, store: src, guard: "off"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.vault.Erase(ctx, backupHR, shredded, "art. 17 request"); err != nil {
		t.Fatal(err)
	}
	a.close()
	later := t.TempDir()
	runBash(t, later, env, "backup, later", backup)
	if err := os.Rename(filepath.Join(later, "coffre-keys.age"), filepath.Join(work, "coffre-keys.age")); err != nil {
		t.Fatal(err)
	}

	runBash(t, work, env, "restore", restore)
	if got := tables(t, dst); !equalTables(t, got, before) {
		t.Fatal("the restored database differs from the source at the data backup")
	}
	if got := dataKeys(t, dst); len(got) != len(people)-2 {
		t.Errorf("%d data keys restored, want %d (all but the two erased)", len(got), len(people)-2)
	}

	b, err := openApp(ctx, appOptions{dev: true, dataDir: dir, store: dst, guard: "off"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := readFields(t, b, shredded); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the person erased after the data backup, read before --finish: %v, want not found", err)
	}
	if id, err := b.vault.Lookup(ctx, backupHR, "directory", "", synth.EmailPro, people[shredded][synth.EmailPro]); err != nil || id != shredded {
		t.Errorf("lookup of the shredded person before --finish = %q, %v; want their id (their index entries are still there)", id, err)
	}
	b.close()
	code, stdout, stderr := runCLI(t, "restore", "--finish", "--dev", "--data", dir, "--store", dst)
	if code != 0 || !strings.Contains(stdout, ": 1 records without a data key erased; audit log verified") {
		t.Fatalf("restore --finish = %d, %q, %q", code, stdout, stderr)
	}
	if code, stdout, stderr := runCLI(t, "audit", "verify", "--dev", "--data", dir, "--store", dst); code != 0 || !strings.Contains(stdout, "audit log verified") {
		t.Fatalf("audit verify on the restored store = %d, %q, %q", code, stdout, stderr)
	}
	b, err = openApp(ctx, appOptions{dev: true, dataDir: dir, store: dst, guard: "off"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer b.close()
	if id, err := b.vault.Lookup(ctx, backupHR, "directory", "", synth.EmailPro, people[shredded][synth.EmailPro]); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("lookup of the shredded person after --finish = %q, %v; want not found", id, err)
	}
	for id, want := range people {
		got, err := readFields(t, b, id)
		if id == erased || id == shredded {
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("an erased person, read after the restore: %v, want not found", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("read %s after the restore: %v", id, err)
		}
		for _, k := range []string{synth.GivenName, synth.FamilyName, synth.EmailPro} {
			if got[k] != want[k] {
				t.Errorf("%s: field %s differs after the restore", id, k)
			}
		}
	}
}

// readmeBackup returns the README's two blocks of PostgreSQL backup
// commands, the backup's and the restore's: the first two indented
// blocks after "**Backups.**", their indentation removed.
func readmeBackup(t *testing.T) (backup, restore string) {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blocks []string
	var cur strings.Builder
	seen := false
	sc := bufio.NewScanner(f)
	for sc.Scan() && len(blocks) < 2 {
		line := sc.Text()
		switch {
		case !seen:
			seen = strings.HasPrefix(line, "**Backups.**")
		case strings.HasPrefix(line, "    "):
			cur.WriteString(line[4:] + "\n")
		case cur.Len() > 0:
			blocks = append(blocks, cur.String())
			cur.Reset()
		}
	}
	if len(blocks) < 2 {
		t.Fatalf("README.md: want two blocks of commands after **Backups.**, found %d", len(blocks))
	}
	for i, want := range []string{"pg_dump", "pg_restore"} {
		if !strings.Contains(blocks[i], want) {
			t.Fatalf("README.md: block %d after **Backups.** does not run %s:\n%s", i+1, want, blocks[i])
		}
	}
	return blocks[0], blocks[1]
}

// ageTool builds the age command (a tool of this module) and returns
// the directory it is in.
func ageTool(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "age"), "filippo.io/age/cmd/age").CombinedOutput()
	if err != nil {
		t.Fatalf("go build age: %v\n%s", err, out)
	}
	return dir
}

func newIdentity(t *testing.T) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// openAge decrypts file with id.
func openAge(t *testing.T, file string, id age.Identity) []byte {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := age.Decrypt(f, id)
	if err != nil {
		t.Fatalf("%s: %v", filepath.Base(file), err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: %v", filepath.Base(file), err)
	}
	return b
}

// runBash runs script with bash in dir, env added to the test's own.
func runBash(t *testing.T, dir string, env []string, what, script string) {
	t.Helper()
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir, cmd.Env = dir, append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's %s: %v\n%s", what, err, out)
	}
	t.Logf("the README's %s:\n%s", what, out)
}

// dataKeys are the wrapped data keys of the store at u.
func dataKeys(t *testing.T, u string) [][]byte {
	t.Helper()
	var deks [][]byte
	query(t, u, func(c *pgx.Conn) error {
		rows, err := c.Query(context.Background(), `SELECT dek FROM subjects WHERE dek IS NOT NULL`)
		if err != nil {
			return err
		}
		deks, err = pgx.CollectRows(rows, pgx.RowTo[[]byte])
		return err
	})
	return deks
}

// tables is each table of the database at u: its row count and a hash
// of its rows in order, the data keys left out.
func tables(t *testing.T, u string) map[string]string {
	t.Helper()
	out := map[string]string{}
	query(t, u, func(c *pgx.Conn) error {
		ctx := context.Background()
		rows, err := c.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = 'public'`)
		if err != nil {
			return err
		}
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, n := range names {
			var count int64
			var sum string
			// Data keys aside: a later key backup restores fewer.
			q := fmt.Sprintf(`SELECT count(*), coalesce(md5(string_agg((to_jsonb(t) - 'dek')::text, E'\n' ORDER BY (to_jsonb(t) - 'dek')::text)), '') FROM %s t`, pgx.Identifier{n}.Sanitize())
			if err := c.QueryRow(ctx, q).Scan(&count, &sum); err != nil {
				return fmt.Errorf("%s: %w", n, err)
			}
			out[n] = fmt.Sprintf("%d rows, %s", count, sum)
		}
		return nil
	})
	return out
}

func equalTables(t *testing.T, got, want map[string]string) bool {
	t.Helper()
	same := len(got) == len(want)
	for n, w := range want {
		if got[n] != w {
			t.Errorf("table %s: %q restored, %q in the source", n, got[n], w)
			same = false
		}
	}
	if len(want) < 10 {
		t.Errorf("%d tables in the source: the store's schema was not found", len(want))
		same = false
	}
	return same
}

func query(t *testing.T, u string, fn func(*pgx.Conn) error) {
	t.Helper()
	c, err := pgx.Connect(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	if err := fn(c); err != nil {
		t.Fatal(err)
	}
}
