package metrics_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/incident"
	"github.com/coffre/coffre/internal/metrics"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetemplate"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetest"
)

// TestIncidentClocks: /metrics shows the clocks of the incidents not
// closed, time left by incident and clock, and leaves out a clock whose
// report was filed and a closed incident.
func TestIncidentClocks(t *testing.T) {
	ctx := context.Background()
	st, err := sqlitetemplate.Open(ctx, filepath.Join(t.TempDir(), "c.db"), sqlite.Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC()
	open := &incident.Incident{ID: "inc_aaaaaaaaaaaaaaaa", Title: "t", Status: incident.Contained, Aware: now.Add(-10 * time.Hour), Opened: now,
		Reports: []incident.Report{{Phase: incident.Final, At: now}}}
	closed := &incident.Incident{ID: "inc_bbbbbbbbbbbbbbbb", Title: "t", Status: incident.Closed, Aware: now.Add(-100 * time.Hour), Opened: now}
	if err := st.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tx.PutIncident(ctx, open); err != nil {
			return err
		}
		return tx.PutIncident(ctx, closed)
	}); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	metrics.Handler(st, slog.New(slog.NewTextHandler(io.Discard, nil)), nil).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	text := rec.Body.String()
	left := func(clock string) (float64, bool) {
		m := regexp.MustCompile(`coffre_incident_deadline_seconds\{clock="` + clock + `",incident="inc_aaaaaaaaaaaaaaaa"\} (\S+)`).FindStringSubmatch(text)
		if m == nil {
			return 0, false
		}
		v, err := strconv.ParseFloat(m[1], 64)
		return v, err == nil
	}
	if v, ok := left("gdpr-notification"); !ok || v < 61.9*3600 || v > 62*3600 {
		t.Errorf("gdpr-notification: %v %v, want about 62 h left", v, ok)
	}
	if v, ok := left("nis2-early-warning"); !ok || v < 13.9*3600 || v > 14*3600 {
		t.Errorf("nis2-early-warning: %v %v, want about 14 h left", v, ok)
	}
	if _, ok := left("nis2-final-report"); ok {
		t.Error("a clock whose report was filed is shown")
	}
	if regexp.MustCompile(`inc_bbbbbbbbbbbbbbbb`).MatchString(text) || !regexp.MustCompile(`(?m)^coffre_incidents_open 1$`).MatchString(text) {
		t.Errorf("want one incident open and the closed one left out:\n%s", text)
	}
}

// TestGroupCommits: the store's group commits and the writes they held,
// as counted by the store.
func TestGroupCommits(t *testing.T) {
	ctx := context.Background()
	st, err := sqlitetemplate.Open(ctx, filepath.Join(t.TempDir(), "c.db"), sqlite.Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for range 3 {
		if err := st.Update(ctx, func(context.Context, store.Tx) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	rec := httptest.NewRecorder()
	metrics.Handler(st, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, metrics.GroupCommits(st)).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	g, r := st.Stats()
	for _, want := range []string{"coffre_store_group_commits_total " + strconv.FormatInt(g, 10), "coffre_store_group_requests_total " + strconv.FormatInt(r, 10)} {
		if !strings.Contains(rec.Body.String(), want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if r < 3 || g < 1 {
		t.Errorf("Stats() = %d groups, %d requests after 3 updates", g, r)
	}
}

// TestPool: reads that wait for the one pooled connection are counted,
// with their wait, and the pool's connections shown by state.
func TestPool(t *testing.T) {
	ctx := context.Background()
	st, err := sqlitetemplate.Open(ctx, filepath.Join(t.TempDir(), "c.db"), sqlite.Options{IDs: sqlitetest.IDs(), Readers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	read := func(ctx context.Context, tx store.Tx) error {
		_, err := tx.LastAuditSeq(ctx)
		return err
	}
	for deadline := time.Now().Add(10 * time.Second); st.PoolStats().Waits == 0; {
		if time.Now().After(deadline) {
			t.Fatal("8 readers of one connection never waited")
		}
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 50 {
					if err := st.View(ctx, read); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	// The scrape reads the store too, on the same pool: its figures lie
	// between those before and after it.
	before := st.PoolStats()
	rec := httptest.NewRecorder()
	metrics.Handler(st, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, metrics.Pool(st)).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	text, ps := rec.Body.String(), st.PoolStats()
	if !strings.Contains(text, `coffre_store_pool_connections{state="max"} 1`+"\n") {
		t.Errorf("/metrics lacks the pool's size:\n%s", text)
	}
	for name, bounds := range map[string][2]float64{
		"coffre_store_pool_waits_total":        {float64(before.Waits), float64(ps.Waits)},
		"coffre_store_pool_wait_seconds_total": {before.Waited.Seconds(), ps.Waited.Seconds()},
	} {
		m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindStringSubmatch(text)
		if m == nil {
			t.Errorf("/metrics lacks %s", name)
			continue
		}
		if v, err := strconv.ParseFloat(m[1], 64); err != nil || v < bounds[0] || v > bounds[1] {
			t.Errorf("%s = %s, want between %g and %g", name, m[1], bounds[0], bounds[1])
		}
	}
	if !regexp.MustCompile(`(?m)^coffre_store_pool_connections\{state="in_use"\} [01]$`).MatchString(text) || !regexp.MustCompile(`(?m)^coffre_store_pool_connections\{state="idle"\} [01]$`).MatchString(text) {
		t.Errorf("/metrics lacks the pool's connections in use and idle:\n%s", text)
	}
	if ps.Waited <= 0 {
		t.Errorf("PoolStats = %+v: waits without a wait", ps)
	}
}
