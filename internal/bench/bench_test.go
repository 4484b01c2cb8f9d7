package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var s []time.Duration
	for i := 1; i <= 100; i++ {
		s = append(s, time.Duration(i))
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{0.5, 50}, {0.99, 99}, {1, 100}, {0.001, 1}} {
		if got := Percentile(s, c.p); got != c.want {
			t.Errorf("Percentile(1..100, %v) got %d, want %d", c.p, got, c.want)
		}
	}
	if got := Percentile(nil, 0.5); got != 0 {
		t.Errorf("Percentile(nil) got %d, want 0", got)
	}
}

func TestIDsRoundTrip(t *testing.T) {
	ids := []string{"sub_0123456789abcdefghjkmnpqrs", "sub_zzzzzzzzzzzzzzzzzzzzzzzzzz"}
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	if err := WriteIDs(w, ids); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	path := filepath.Join(t.TempDir(), "ids")
	os.WriteFile(path, buf.Bytes(), 0o600)
	got, err := ReadIDs(path)
	if err != nil || strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Errorf("ReadIDs got %v, %v, want %v", got, err, ids)
	}
	os.WriteFile(path, []byte("sub_x\n"), 0o600)
	if _, err := ReadIDs(path); err == nil {
		t.Error("ReadIDs of a malformed id: got no error")
	}
}

func TestProcMemory(t *testing.T) {
	m, err := ProcMemory(os.Getpid())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if m.RSS <= 0 || m.Peak < m.RSS {
		t.Errorf("ProcMemory(self) got %+v, want 0 < RSS ≤ Peak", m)
	}
}

func TestRunCountsErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" || r.Header.Get("Coffre-Purpose") != "p" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if strings.HasSuffix(r.URL.Path, "bad") {
			http.Error(w, "nope", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	l := &Reads{Client: srv.Client(), BaseURL: srv.URL, Token: "tok", Purpose: "p", IDs: []string{"good", "bad"}}
	r, err := l.Run(context.Background(), 4, 50*time.Millisecond, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if r.Reads == 0 || r.Errors == 0 || r.ByStatus[http.StatusServiceUnavailable] != r.Errors || !strings.Contains(r.FirstError, "503") {
		t.Errorf("Run got reads %d, errors %d %v (%q), want both > 0, all 503", r.Reads, r.Errors, r.ByStatus, r.FirstError)
	}
	if r.Percentile(0.5) <= 0 || r.Max() < r.Percentile(0.99) {
		t.Errorf("latencies p50 %s p99 %s max %s: want 0 < p50 ≤ p99 ≤ max", r.Percentile(0.5), r.Percentile(0.99), r.Max())
	}
}

func TestPrepareDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "b")
	if err := PrepareDir(dir, false); err != nil {
		t.Fatalf("PrepareDir(new) got %v, want nil", err)
	}
	if _, err := os.Stat(filepath.Join(dir, IDsFile)); err != nil {
		t.Errorf("PrepareDir(new) left no %s: %v", IDsFile, err)
	}
	var de *DirError
	if err := PrepareDir(dir, false); !errors.As(err, &de) || de.NotBench {
		t.Errorf("PrepareDir(used, fresh=false) got %v, want a DirError", err)
	}
	os.WriteFile(filepath.Join(dir, "x"), nil, 0o600)
	if err := PrepareDir(dir, true); err != nil {
		t.Errorf("PrepareDir(used, fresh=true) got %v, want nil", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); err == nil {
		t.Error("PrepareDir(used, fresh=true) kept the earlier files")
	}
	mine := t.TempDir()
	os.WriteFile(filepath.Join(mine, "keep"), nil, 0o600)
	if err := PrepareDir(mine, true); !errors.As(err, &de) || !de.NotBench {
		t.Errorf("PrepareDir(not a benchmark, fresh=true) got %v, want a DirError with NotBench", err)
	}
	if _, err := os.Stat(filepath.Join(mine, "keep")); err != nil {
		t.Error("PrepareDir deleted a directory bench import did not make")
	}
}

func TestOperatorRoundTrip(t *testing.T) {
	dir := t.TempDir()
	op := Operator{Username: "bench", Password: "pw", TOTPSecret: "JBSWY3DPEHPK3PXP"}
	if err := WriteOperator(dir, op); err != nil {
		t.Fatal(err)
	}
	got, err := ReadOperator(dir)
	if err != nil || got != op {
		t.Errorf("ReadOperator got %+v, %v, want %+v", got, err, op)
	}
	if _, err := ReadOperator(t.TempDir()); err == nil {
		t.Error("ReadOperator of an empty directory: got no error")
	}
}
