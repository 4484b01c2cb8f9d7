package importer

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestProgressNotTerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var buf bytes.Buffer
	for _, p := range []*Progress{NewProgress(&buf, 1000), NewProgress(f, 1000)} {
		for i := range 100 {
			p.Update(int64(i*10), i, 0)
		}
		p.Finish()
	}
	if buf.Len() != 0 {
		t.Errorf("Progress wrote %q to a buffer", buf.String())
	}
	if fi, err := f.Stat(); err != nil || fi.Size() != 0 {
		t.Errorf("Progress wrote %d bytes to a file (%v)", fi.Size(), err)
	}
}

func TestProgressLine(t *testing.T) {
	for _, tt := range []struct {
		done, total  int64
		rows, failed int
		elapsed      time.Duration
		want         string
	}{
		{450, 1000, 123456, 3, 2374 * time.Millisecond, "[=============>                ] 45% 123,456 rows 3 failed 52,003 rows/s"},
		{0, 1000, 0, 0, 0, "[>                             ] 0% 0 rows 0 failed"},
		{1000, 1000, 1234567, 1000, time.Second, "[==============================] 100% 1,234,567 rows 1,000 failed 1,234,567 rows/s"},
		{2000, 1000, 1, 0, time.Second, "[==============================] 100% 1 rows 0 failed 1 rows/s"},
		{500, 0, 12, 1, time.Second, "12 rows 1 failed 12 rows/s"},
	} {
		if got := progressLine(tt.done, tt.total, tt.rows, tt.failed, tt.elapsed); got != tt.want {
			t.Errorf("progressLine(%d, %d, %d, %d, %v)\n got %q\nwant %q", tt.done, tt.total, tt.rows, tt.failed, tt.elapsed, got, tt.want)
		}
	}
}

func TestGroup(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 12: "12", 999: "999", 1000: "1,000", 123456: "123,456", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := group(n); got != want {
			t.Errorf("group(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestProgressTerminal draws on a buffer posing as a terminal, with a
// fake clock.
func TestProgressTerminal(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(0, 0)
	p := &Progress{w: &buf, total: 100, tty: true, now: func() time.Time { return now }, start: now}

	p.Update(10, 1000, 0) // first update draws
	if !strings.HasPrefix(buf.String(), "\r[===>") {
		t.Fatalf("first Update drew %q", buf.String())
	}
	n := buf.Len()
	now = now.Add(50 * time.Millisecond)
	p.Update(20, 2000, 0)
	if buf.Len() != n {
		t.Errorf("Update 50ms later redrew: %q", buf.String()[n:])
	}
	now = now.Add(60 * time.Millisecond)
	p.Update(30, 3000, 1)
	if buf.Len() == n || !strings.Contains(buf.String()[n:], "30% 3,000 rows 1 failed") {
		t.Errorf("Update 110ms later drew %q", buf.String()[n:])
	}
	width := p.drawn
	buf.Reset()
	p.Finish()
	if want := "\r" + strings.Repeat(" ", width) + "\r"; buf.String() != want {
		t.Errorf("Finish wrote %q, want %q", buf.String(), want)
	}
	buf.Reset()
	p.Finish()
	if buf.Len() != 0 {
		t.Errorf("second Finish wrote %q", buf.String())
	}
}
