package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/subject"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

var backupHR = identity.Actor{ID: "op_hr", Role: "hr-officer", Unit: "ac-nice", Origin: "127.0.0.1"}

// backupEnv is a dev data directory with people in it and an age
// identity for the backup holder.
type backupEnv struct {
	dir    string
	holder *age.X25519Identity
	people map[string]map[string]string // id → fields created
}

func newBackupEnv(t *testing.T, n int) *backupEnv {
	t.Helper()
	e := &backupEnv{dir: t.TempDir(), people: map[string]map[string]string{}}
	var err error
	if e.holder, err = age.GenerateX25519Identity(); err != nil {
		t.Fatal(err)
	}
	a := e.open(t, e.dir)
	defer a.close()
	for i := range n {
		p := synth.Make(13, i)
		id, err := a.vault.Create(t.Context(), backupHR, "ac-nice", p.Fields)
		if err != nil {
			t.Fatal(err)
		}
		e.people[id] = p.Fields
	}
	// A signed checkpoint, so that restore's audit verification checks a
	// signature too.
	if _, err := (&auditlog.Integrator{Store: a.store, Signer: a.signer}).Step(t.Context()); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *backupEnv) open(t *testing.T, dir string) *app {
	t.Helper()
	a, err := openApp(t.Context(), appOptions{dev: true, dataDir: dir, guard: "off"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (e *backupEnv) identityFile(t *testing.T, id *age.X25519Identity) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "identity.txt")
	if err := os.WriteFile(p, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// backup runs coffre backup to file (keysOnly: the key backup alone).
func (e *backupEnv) backup(t *testing.T, file string, keysOnly bool) {
	t.Helper()
	args := []string{"backup", "--dev", "--data", e.dir, "--to", file, "--recipient", e.holder.Recipient().String()}
	if keysOnly {
		args = append(args, "--keys-only")
	}
	if code, stdout, stderr := runCLI(t, args...); code != 0 {
		t.Fatalf("backup = %d, %q, %q", code, stdout, stderr)
	}
}

// restoreDir makes a data directory holding only the root key.
func (e *backupEnv) restoreDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	key, err := os.ReadFile(filepath.Join(e.dir, "root.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "root.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func (e *backupEnv) restore(t *testing.T, dir, data, keys string, id *age.X25519Identity) (int, string, string) {
	t.Helper()
	return runCLI(t, "restore", "--dev", "--data", dir, "--from", data, "--keys", keys, "--identity", e.identityFile(t, id))
}

func readFields(t *testing.T, a *app, id string) (map[string]string, error) {
	t.Helper()
	v, err := a.vault.Read(t.Context(), backupHR, id, "directory", "backup test")
	if err != nil {
		return nil, err
	}
	return v.Fields, nil
}

// TestBackupRoundTrip: back up, restore into an empty directory, and read
// every record back as it was; the audit log verifies there.
func TestBackupRoundTrip(t *testing.T) {
	e := newBackupEnv(t, 5)
	file := filepath.Join(t.TempDir(), "b.age")
	e.backup(t, file, false)
	dir := e.restoreDir(t)
	code, stdout, stderr := e.restore(t, dir, file, file+".keys.age", e.holder)
	if code != 0 || !strings.Contains(stdout, "5 subjects, 5 data keys re-attached") || !strings.Contains(stdout, "audit log verified: 5 entries, 1 checkpoints") {
		t.Fatalf("restore = %d, %q, %q", code, stdout, stderr)
	}
	a := e.open(t, dir)
	defer a.close()
	for id, want := range e.people {
		got, err := readFields(t, a, id)
		if err != nil {
			t.Fatalf("read %s after restore: %v", id, err)
		}
		// The directory purpose shows these fields in clear.
		for _, k := range []string{synth.GivenName, synth.FamilyName, synth.EmailPro, synth.Employer, synth.JobTitle} {
			if w := want[k]; got[k] != w {
				t.Errorf("%s field %s = %q after restore, want %q", id, k, got[k], w)
			}
		}
	}
	if _, err := auditlog.Verify(t.Context(), a.store, a.signer.VerifierKey()); err != nil {
		t.Fatalf("audit verify after restore: %v", err)
	}
}

// TestBackupOnlyCiphertext: without the holder's identity a backup is
// only ciphertext; even opened, the data backup holds no data key.
func TestBackupOnlyCiphertext(t *testing.T) {
	e := newBackupEnv(t, 3)
	file := filepath.Join(t.TempDir(), "b.age")
	e.backup(t, file, false)
	// The wrapped data keys, read from the live store.
	db, err := sql.Open("sqlite", filepath.Join(e.dir, "coffre.db"))
	if err != nil {
		t.Fatal(err)
	}
	var deks [][]byte
	rows, err := db.Query(`SELECT dek FROM subjects`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var d []byte
		if err := rows.Scan(&d); err != nil {
			t.Fatal(err)
		}
		deks = append(deks, d)
	}
	rows.Close()
	db.Close()
	if len(deks) != 3 {
		t.Fatalf("%d data keys in the store, want 3", len(deks))
	}
	var secrets [][]byte
	secrets = append(secrets, deks...)
	for _, f := range e.people {
		for _, k := range []string{synth.EmailPro, synth.FamilyName} {
			secrets = append(secrets, []byte(f[k]))
		}
	}
	for _, name := range []string{file, file + ".keys.age"} {
		raw, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if bytes.Contains(raw, s) {
				t.Fatalf("%s holds %q in clear", filepath.Base(name), s)
			}
		}
		other, _ := age.GenerateX25519Identity()
		var nm *age.NoIdentityMatchError
		if _, err := age.Decrypt(bytes.NewReader(raw), other); !errors.As(err, &nm) {
			t.Fatalf("%s opened with another identity: err = %v, want no identity matched", filepath.Base(name), err)
		}
	}
	// Opened by its holder, the data backup still has no data key in it.
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := age.Decrypt(f, e.holder)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range deks {
		if bytes.Contains(plain, d) {
			t.Fatal("the decrypted data backup holds a wrapped data key")
		}
	}
}

// TestBackupForgetsErased: A and B are backed up; A is erased and a new
// key backup is taken; the old data backup restored with the new key
// backup gives B back and not A.
func TestBackupForgetsErased(t *testing.T) {
	e := newBackupEnv(t, 2)
	ids := slices.Sorted(maps.Keys(e.people))
	erased, kept := ids[0], ids[1]
	old := filepath.Join(t.TempDir(), "old.age")
	e.backup(t, old, false)
	a := e.open(t, e.dir)
	if err := a.vault.Erase(t.Context(), backupHR, erased, "art. 17 request"); err != nil {
		t.Fatal(err)
	}
	a.close()
	now := filepath.Join(t.TempDir(), "now.age")
	e.backup(t, now, true)
	if _, err := os.Stat(now); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("--keys-only wrote a data backup: %v", err)
	}
	dir := e.restoreDir(t)
	code, stdout, stderr := e.restore(t, dir, old, now+".keys.age", e.holder)
	if code != 0 || !strings.Contains(stdout, "2 subjects, 1 data keys re-attached (1 without one erased") {
		t.Fatalf("restore = %d, %q, %q", code, stdout, stderr)
	}
	b := e.open(t, dir)
	defer b.close()
	// Erased in the restored store as an erasure leaves a record: a
	// tombstone, not found by a read nor by a lookup of its values, the
	// erasure in the log.
	if got, err := readFields(t, b, erased); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("read of the erased subject after restore = %v, %v; want not found", got, err)
	}
	if id, err := b.vault.Lookup(t.Context(), backupHR, "directory", "", synth.EmailPro, e.people[erased][synth.EmailPro]); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("lookup of the erased subject's email after restore = %q, %v; want not found", id, err)
	}
	var row *subject.Row
	var entries []audit.Entry
	if err := b.store.View(t.Context(), func(ctx context.Context, tx store.Tx) (err error) {
		if row, err = tx.GetSubject(ctx, erased); err != nil {
			return err
		}
		entries, err = tx.SubjectAudit(ctx, erased, 100)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !row.Erased || row.Fields != nil {
		t.Errorf("the erased subject's row after restore: erased %v, %d bytes of fields; want a tombstone", row.Erased, len(row.Fields))
	}
	if !slices.ContainsFunc(entries, func(en audit.Entry) bool {
		return en.Action == "erase" && en.Actor == "system" && en.Reason == vault.KeylessReason && en.Decision == "allow"
	}) {
		t.Errorf("no erasure by system in the restored log: %+v", entries)
	}
	got, err := readFields(t, b, kept)
	if err != nil {
		t.Fatalf("read the kept subject: %v", err)
	}
	if got[synth.EmailPro] != e.people[kept][synth.EmailPro] {
		t.Fatalf("kept subject's email = %q, want %q", got[synth.EmailPro], e.people[kept][synth.EmailPro])
	}
}

// TestRestoreRefusals: a non-empty store, another identity, a cut file
// and a damaged key backup are refused, and nothing is restored.
func TestRestoreRefusals(t *testing.T) {
	e := newBackupEnv(t, 2)
	file := filepath.Join(t.TempDir(), "b.age")
	e.backup(t, file, false)
	keys := file + ".keys.age"

	before, _ := os.ReadFile(filepath.Join(e.dir, "coffre.db"))
	code, _, stderr := e.restore(t, e.dir, file, keys, e.holder)
	if code != 2 || !strings.Contains(stderr, "not empty; nothing was changed") {
		t.Fatalf("restore into a non-empty store = %d, %q", code, stderr)
	}
	after, _ := os.ReadFile(filepath.Join(e.dir, "coffre.db"))
	if !bytes.Equal(before, after) {
		t.Fatal("a refused restore changed the store")
	}

	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.age")
	if err := os.WriteFile(cut, raw[:len(raw)-100], 0o600); err != nil {
		t.Fatal(err)
	}
	flipped := filepath.Join(t.TempDir(), "flipped.age")
	bad := bytes.Clone(raw)
	bad[len(bad)/2] ^= 1
	if err := os.WriteFile(flipped, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	other, _ := age.GenerateX25519Identity()
	for _, c := range []struct {
		name, data, keys string
		id               *age.X25519Identity
		want             string
	}{
		{"another identity", file, keys, other, "the identity does not open it"},
		{"cut data", cut, keys, e.holder, "corrupted or cut"},
		{"flipped byte", flipped, keys, e.holder, "corrupted or cut"},
		{"data for keys", file, file, e.holder, "key backup: the backup is corrupted or cut"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := e.restoreDir(t)
			code, _, stderr := e.restore(t, dir, c.data, c.keys, c.id)
			if code != 1 || !strings.Contains(stderr, c.want) {
				t.Fatalf("restore = %d, %q; want exit 1 and %q", code, stderr, c.want)
			}
			left, _ := os.ReadDir(dir)
			if len(left) != 1 {
				t.Fatalf("a failed restore left %d entries in the data directory, want the root key alone", len(left))
			}
		})
	}
}
