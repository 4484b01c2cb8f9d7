package logburst_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/logburst"
)

// lines is a concurrency-safe log buffer.
type lines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lines) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Split(strings.TrimSpace(l.buf.String()), "\n")
}

func TestBurstLoggedOnceWithCount(t *testing.T) {
	out := &lines{}
	h := logburst.New(slog.NewTextHandler(out, nil), logburst.Options{Window: time.Hour})
	log := slog.New(h)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				log.Error("request failed", "route", "GET /v1/subjects/{id}", "code", "unavailable", "operator", i, "error", errors.New("dial tcp: connection refused"))
			}
		}()
	}
	wg.Wait()
	log.Error("request failed", "route", "POST /v1/auth/login", "code", "unavailable")
	log.Info("request refused", "route", "GET /v1/subjects/{id}", "code", "not_found")
	log.Info("request refused", "route", "GET /v1/subjects/{id}", "code", "not_found")
	if got := out.lines(); len(got) != 4 {
		t.Fatalf("before the window ends: %d lines, want 4 (one per route, both infos):\n%s", len(got), strings.Join(got, "\n"))
	}
	h.Flush()
	got := out.lines()
	if len(got) != 5 {
		t.Fatalf("after Flush: %d lines, want 5:\n%s", len(got), strings.Join(got, "\n"))
	}
	if !strings.Contains(got[4], "repeated=7999") || !strings.Contains(got[4], `route="GET /v1/subjects/{id}"`) || !strings.Contains(got[4], "level=ERROR") {
		t.Errorf("summary line = %q, want the route, level and repeated=7999", got[4])
	}
	h.Flush()
	if got := out.lines(); len(got) != 5 {
		t.Errorf("a second Flush logged %d more lines", len(got)-5)
	}
	log.Error("request failed", "route", "GET /v1/subjects/{id}", "code", "unavailable")
	if got := out.lines(); len(got) != 6 {
		t.Errorf("the first record after a burst ended was not logged")
	}
}

func TestWindowEndsByItself(t *testing.T) {
	out := &lines{}
	log := slog.New(logburst.New(slog.NewTextHandler(out, nil), logburst.Options{Window: 50 * time.Millisecond}))
	for range 3 {
		log.Warn("not ready", "route", "GET /readyz")
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(out.lines()) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := out.lines()
	if len(got) != 2 || !strings.Contains(got[1], "repeated=2") {
		t.Fatalf("lines = %q, want the first and a repeated=2 summary", got)
	}
}

func TestWithAttrsSharesCounts(t *testing.T) {
	out := &lines{}
	h := logburst.New(slog.NewTextHandler(out, nil), logburst.Options{Window: time.Hour})
	a := slog.New(h).With("component", "integrator")
	b := slog.New(h).With("component", "api")
	for range 10 {
		a.Error("store failed")
		b.Error("store failed")
	}
	if got := out.lines(); len(got) != 2 {
		t.Fatalf("%d lines, want one per component:\n%s", len(got), strings.Join(got, "\n"))
	}
	h.Flush()
	if got := out.lines(); len(got) != 4 || !strings.Contains(got[2]+got[3], "component=integrator") {
		t.Fatalf("after Flush: %q", got)
	}
}
