package metrics_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auditstream"
	"github.com/coffre/coffre/internal/incident"
	"github.com/coffre/coffre/internal/metrics"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetemplate"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetest"
)

// TestDashboardMetrics: every metric docs/grafana-dashboard.json queries
// is one /metrics serves (a renamed metric would leave a panel empty).
func TestDashboardMetrics(t *testing.T) {
	b, err := os.ReadFile("../../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	ctx := context.Background()
	st, err := sqlitetemplate.Open(ctx, filepath.Join(t.TempDir(), "c.db"), sqlite.Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	if err := st.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		// A checkpoint, so that its age is served.
		if err := tx.PutCheckpoint(ctx, &audit.StoredCheckpoint{Size: 1, Root: make([]byte, 32), Note: []byte("note"), Created: now}); err != nil {
			return err
		}
		return tx.PutIncident(ctx, &incident.Incident{ID: "inc_aaaaaaaaaaaaaaaa", Title: "t", Status: incident.Open, Aware: now, Opened: now})
	}); err != nil {
		t.Fatal(err)
	}
	rq := metrics.NewRequests()
	rq.Observe("api", "GET /v1/subjects/{id}", "GET", 200, "", time.Millisecond)
	dec := metrics.NewDecisions()
	dec.Decided("read", "lock", "velocity")
	streams := func() []auditstream.Status { return []auditstream.Status{{Sink: "syslog:siem:6514", Streaming: true}} }
	rec := httptest.NewRecorder()
	metrics.Handler(st, slog.New(slog.NewTextHandler(io.Discard, nil)), streams, rq, metrics.BuildInfo("v1", "abc", "2026-12-01", "go1.26"), metrics.GroupCommits(st), metrics.Pool(st), dec).
		ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	served := map[string]bool{}
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, kind, _ := strings.Cut(name, " ")
			served[name] = true
			if kind == "histogram" {
				served[name+"_bucket"] = true
			}
		}
	}
	names := regexp.MustCompile(`\bcoffre_[a-z0-9_]+`)
	queried := 0
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			for _, m := range names.FindAllString(tg.Expr, -1) {
				queried++
				if !served[m] {
					t.Errorf("panel %q queries %s, which /metrics does not serve", p.Title, m)
				}
			}
		}
	}
	if queried < 10 {
		t.Errorf("the dashboard queries %d Coffre metrics, want its panels to", queried)
	}
}
