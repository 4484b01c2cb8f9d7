package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/csv"
	"maps"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/rootkey"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

// TestHelperProcess is not a test: TestImportSurvivesKill runs the test
// binary as `coffre` with it, to kill it mid-import.
func TestHelperProcess(t *testing.T) {
	args := os.Getenv("COFFRE_HELPER_ARGS")
	if args == "" {
		return
	}
	os.Exit(run(context.Background(), strings.Split(args, "\x1f"), os.Stdout, os.Stderr))
}

// TestImportSurvivesKill kills `coffre import` with SIGKILL once its first
// batches are committed, then opens what it left: whole batches only, every
// lookup value of every record indexed, no index entry without its record,
// and the records read back as imported.
func TestImportSurvivesKill(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("spawns an import")
	}
	const rows, batch = 60_000, 2_000
	dir := t.TempDir()
	file := filepath.Join(dir, "people.csv")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(bufio.NewWriter(f))
	cols := slices.Sorted(maps.Keys(synth.Make(5, 0).Fields))
	w.Write(append([]string{"unit"}, cols...))
	people := make([]synth.Person, rows)
	for i := range people {
		people[i] = synth.Make(5, i)
		rec := []string{people[i].Unit}
		for _, c := range cols {
			rec = append(rec, people[i].Fields[c]) // "" for an absent field
		}
		w.Write(rec)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	f.Close()

	data := filepath.Join(dir, "data")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "COFFRE_HELPER_ARGS="+strings.Join([]string{"import", "--dev", "--data", data, "--batch", "2000", file}, "\x1f"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	db := filepath.Join(data, "coffre.db")
	count := func() int {
		c, err := sql.Open("sqlite", "file:"+db+"?mode=ro&_pragma=busy_timeout(5000)")
		if err != nil {
			return 0
		}
		defer c.Close()
		var n int
		if c.QueryRow(`SELECT count(*) FROM subjects`).Scan(&n) != nil {
			return 0
		}
		return n
	}
	deadline := time.Now().Add(60 * time.Second)
	for count() < 2*batch {
		if time.Now().After(deadline) {
			t.Fatal("the import committed nothing in 60 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Then at a random moment: between commits, in one, in its fsync.
	time.Sleep(time.Duration(mrand.IntN(300)) * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	keys, _, err := rootkey.LoadOrCreate(filepath.Join(data, "root.key"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, db, sqlite.Options{IDs: keys.Ring.SubjectIDs()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n := count()
	if n == rows {
		t.Skip("the import finished before the kill; nothing to check")
	}
	t.Logf("killed with %d of %d records written", n, rows)
	if n%batch != 0 {
		t.Fatalf("%d records after the kill: not whole batches of %d", n, batch)
	}
	c, err := sql.Open("sqlite", "file:"+db+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var entries, orphans int
	c.QueryRow(`SELECT count(*) FROM lookup`).Scan(&entries)
	c.QueryRow(`SELECT count(*) FROM lookup l LEFT JOIN subjects s ON s.seq = l.subject WHERE s.seq IS NULL`).Scan(&orphans)
	if entries != 4*n || orphans != 0 {
		t.Fatalf("%d records, %d index entries (want %d), %d entries without a record", n, entries, 4*n, orphans)
	}
	// Records are numbered in row order: record k is row k. Each one reads
	// back as imported, and its email finds it.
	cfg, err := config.Demo(nil)
	if err != nil {
		t.Fatal(err)
	}
	v := vault.New(vault.Config{Store: st, Keys: keys.Ring, Policy: cfg.Policy})
	hr := identity.Actor{ID: "op_check", Role: "hr-officer", Origin: "127.0.0.1"}
	for _, k := range []int{1, n / 2, n} {
		id := keys.Ring.SubjectIDs().ID(int64(k))
		view, err := v.Read(ctx, hr, id, "directory", "")
		p := people[k-1]
		if err != nil || view.Fields["family_name"] != p.Fields["family_name"] || view.Fields["email_pro"] != p.Fields["email_pro"] {
			t.Fatalf("record %d (%s): %+v, %v; want row %d", k, id, view, err, k)
		}
		found, err := v.Lookup(ctx, hr, "directory", "", "email_pro", p.Fields["email_pro"])
		if err != nil || found != id {
			t.Errorf("record %d: its email finds %q, %v", k, found, err)
		}
	}
}
