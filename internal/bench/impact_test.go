package bench

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetest"
)

// TestImpactBench builds a small log and measures it: Measure checks the
// attackers' counts against what Build wrote.
func TestImpactBench(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "coffre.db"), sqlite.Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	signer, _ := audit.NewSigner(auditlog.Origin, bytes.Repeat([]byte{7}, 32))
	cfg, err := config.Demo(nil)
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	b := &ImpactBench{Store: st, Signer: signer, Policy: cfg.Policy, Entries: 20_000, Days: 4, People: 1000, Attackers: 2, Reads: 100, Runs: 1, Step: 5000, Log: &log}
	d := &ImpactData{Store: "sqlite"}
	if err := b.Build(ctx, d); err != nil {
		t.Fatal(err)
	}
	rep, err := b.Measure(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.Attackers.Impact; got.Subjects != 200 || got.Scanned < 4000 || got.Scanned > 6000 || rep.Everything.Impact.Matched != got.Scanned {
		t.Fatalf("attackers %+v, everything %+v", got, rep.Everything.Impact)
	}
	var out bytes.Buffer
	rep.WriteText(&out)
	if !strings.Contains(out.String(), "counts exact") {
		t.Fatalf("report %s", out.String())
	}
}
