package vault_test

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetest"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

// BenchmarkPurge purges b.N expired records (the demo's rules, imported
// six years ago) in batches of 500, alone on a SQLite store: the purge
// engine's own cost per record, reported as records/s.
func BenchmarkPurge(b *testing.B) {
	ctx := context.Background()
	cfg, err := config.Demo(nil)
	if err != nil {
		b.Fatal(err)
	}
	seed := make([]byte, 32)
	rand.Read(seed)
	keys, _ := envelope.NewKeyring(map[uint32][]byte{1: seed}, 1)
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "c.db"), sqlite.Options{IDs: sqlitetest.IDs()})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	then := time.Now().AddDate(-6, 0, 0)
	past := func() time.Time { return then }
	v := vault.New(vault.Config{Store: st, Keys: keys, Policy: cfg.Policy, Now: past,
		Retention: &vault.Retention{Record: cfg.Retention.Record, Activity: cfg.Retention.Activity}})
	a := identity.Actor{ID: "bench", Role: "admin"}
	for from := 0; from < b.N; from += 20000 {
		rows := make([]vault.ImportRow, 0, 20000)
		for i := from; i < min(b.N, from+20000); i++ {
			p := synth.Make(1, i)
			rows = append(rows, vault.ImportRow{Num: i + 1, Unit: p.Unit, Fields: p.Fields})
		}
		if _, failed, err := v.Import(ctx, a, rows); err != nil || len(failed) > 0 {
			b.Fatalf("import: %v, %d failed", err, len(failed))
		}
	}
	b.ResetTimer()
	p, err := v.Purge(ctx, time.Now, 500, 0, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if p.Records != b.N {
		b.Fatalf("purged %d of %d", p.Records, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
