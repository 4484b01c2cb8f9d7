package main

import (
	"context"
	"database/sql"
	"io"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/stats"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

// TestPurgeSurvivesKill kills `coffre retention run` with SIGKILL in the
// middle of its sweep, runs it again, and checks that every expired record
// was purged and counted exactly once: in the purge batches' audit entries
// and in the statistics' retained aggregates (and none is left live).
func TestPurgeSurvivesKill(t *testing.T) {
	t.Parallel()
	n := sized(6000, 2000, 2000)
	data := t.TempDir()
	ctx := t.Context()
	a, err := openApp(ctx, appOptions{dev: true, dataDir: data, guard: "off"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	hr := identity.Actor{ID: "op_retention", Role: "hr-officer", Origin: "127.0.0.1"}
	rows := make([]vault.ImportRow, n)
	for i := range rows {
		p := synth.Make(16, i)
		rows[i] = vault.ImportRow{Num: i + 1, Unit: p.Unit, Fields: p.Fields}
	}
	if _, failed, err := a.vault.Import(ctx, hr, rows); err != nil || len(failed) > 0 {
		t.Fatalf("import: %v, %d rows failed", err, len(failed))
	}
	a.close()

	// Batches of 10, no rest: hundreds of transactions to land in.
	args := []string{"retention", "run", "--dev", "--data", data, "--at", "2040-01-01", "--batch", "10", "--rest", "0"}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "COFFRE_HELPER_ARGS="+strings.Join(args, "\x1f"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	erased := func() int {
		c, err := sql.Open("sqlite", "file:"+filepath.Join(data, "coffre.db")+"?mode=ro&_pragma=busy_timeout(5000)")
		if err != nil {
			return 0
		}
		defer c.Close()
		var k int
		if c.QueryRow(`SELECT count(*) FROM subjects WHERE erased = 1`).Scan(&k) != nil {
			return 0
		}
		return k
	}
	deadline := time.Now().Add(60 * time.Second)
	for erased() < 100 {
		if time.Now().After(deadline) {
			t.Fatal("the purge shredded nothing in 60 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(time.Duration(mrand.IntN(50)) * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	atKill := erased()
	if atKill == n {
		t.Skip("the purge finished before the kill; nothing to check")
	}
	t.Logf("killed with %d of %d records purged", atKill, n)

	// Again, in this process, to the end.
	var stderr strings.Builder
	if code := run(ctx, args, io.Discard, &stderr); code != 0 {
		t.Fatalf("retention run after the kill: exit %d: %s", code, stderr.String())
	}
	if k := erased(); k != n {
		t.Fatalf("%d of %d records purged after the second run", k, n)
	}
	a, err = openApp(ctx, appOptions{dev: true, dataDir: data, guard: "off"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	counted := 0
	records := regexp.MustCompile(`^records=(\d+) `)
	err = a.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		es, err := tx.AuditEntries(ctx, 1, 1<<40, 1<<20)
		for _, e := range es {
			if e.Action != vault.ActionPurge {
				continue
			}
			m := records.FindStringSubmatch(e.Reason)
			if m == nil {
				t.Errorf("purge entry %d: reason %q, want the counts", e.Seq, e.Reason)
				continue
			}
			k, _ := strconv.Atoi(m[1])
			counted += k
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if counted != n {
		t.Errorf("the purge entries count %d records, want each of the %d once", counted, n)
	}
	sum := func(set string) int64 {
		var total int64
		err := a.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
			cells, err := tx.Counts(ctx, set)
			for _, c := range cells {
				total += c
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return total
	}
	if r, l := sum(stats.Retained), sum(stats.Live); r != int64(n) || l != 0 {
		t.Errorf("the statistics count %d retained and %d live, want each of the %d records retained once, none live", r, l, n)
	}
}
