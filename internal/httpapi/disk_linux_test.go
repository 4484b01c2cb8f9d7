//go:build linux

package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetest"
)

// smallDisk mounts a tmpfs of size bytes on a temporary directory for the
// test, or skips it: mounting needs root (or CAP_SYS_ADMIN).
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a full disk needs a small filesystem of the test's own: mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		t.Skipf("cannot mount a tmpfs on %s (%v): no full-disk test here", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fill writes a file in dir until the filesystem is full.
func fill(t *testing.T, dir string) string {
	t.Helper()
	name := filepath.Join(dir, "filler")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill %s: %v", name, err)
			}
			return name
		}
	}
}

// TestDiskFull runs the SQLite store on a small tmpfs and fills it: a
// read whose audit entry cannot be written answers 503 unavailable (not
// 500), /readyz answers 503 within a second of it and says that reads are
// refused, and both recover once space is freed.
func TestDiskFull(t *testing.T) {
	dir := smallDisk(t, "4m")
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "coffre.db"), sqlite.Options{IDs: sqlitetest.IDs(), Readers: 2})
	if err != nil {
		t.Fatalf("sqlite.Open on the tmpfs: %v", err)
	}
	e := newEnvOpts(t, envOptions{store: st, readiness: true, start: time.Now()})
	cw, id := e.oneReader(t, 2)

	filler := fill(t, dir)
	// Each read appends an audit entry; the log's file grows until a
	// commit finds no room (the write-ahead log reuses what it has, so it
	// may take a while).
	var failedAt time.Time
	var res *response
	for i := 0; i < 100_000; i++ {
		if res, err = e.send(req{Method: "GET", Path: "/v1/subjects/" + id, Token: cw, Purpose: "case-handling"}); err != nil {
			t.Fatal(err)
		}
		if res.Status != http.StatusOK {
			failedAt = time.Now()
			t.Logf("the first read refused was read %d", i+1)
			break
		}
	}
	if failedAt.IsZero() {
		t.Fatal("100,000 reads on a full disk all succeeded")
	}
	if res.Err = checkError(t, "read on a full disk", res); res.Status != http.StatusServiceUnavailable || res.Err.Code != "unavailable" {
		t.Fatalf("read on a full disk: %d %s, want 503 unavailable: %s", res.Status, res.Err.Code, res.Body)
	}
	status, ae := e.readyz(t)
	if took := time.Since(failedAt); status != http.StatusServiceUnavailable || took > time.Second {
		t.Errorf("/readyz after the failed append: %d %s after %s, want 503 within 1 s", status, ae.Code, took)
	}
	if ae.Code != "audit_unwritable" || ae.Message == "" || ae.Hint == "" {
		t.Errorf("/readyz on a full disk: %+v, want audit_unwritable with a message and a hint", ae)
	}
	t.Logf("/readyz on a full disk: %s: %s (%s)", ae.Code, ae.Message, ae.Hint)
	for range 5 {
		r := e.call(t, req{Method: "GET", Path: "/v1/subjects/" + id, Token: cw, Purpose: "case-handling"})
		r.want(t, http.StatusServiceUnavailable, "unavailable")
		if status, _ := e.readyz(t); status != http.StatusServiceUnavailable {
			t.Errorf("/readyz while reads are refused: %d, want 503", status)
		}
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	e.readView(t, cw, id, "case-handling", "")
	if took, status, ae := e.waitReady(t, http.StatusOK, 5*time.Second); status != http.StatusOK {
		t.Errorf("after space is freed: /readyz = %d %s after %s, want 200", status, ae.Code, took)
	}
}
