package vault_test

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

// BenchmarkRead measures audited reads through the vault (no HTTP) with 32
// concurrent readers: the group-commit writer's capacity.
func BenchmarkRead(b *testing.B) {
	ctx := context.Background()
	cfg, _ := config.Demo(nil)
	seed := make([]byte, 32)
	rand.Read(seed)
	keys, _ := envelope.NewKeyring(map[uint32][]byte{1: seed}, 1)
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "c.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	v := vault.New(vault.Config{Store: st, Keys: keys, Policy: cfg.Policy})
	rows := make([]vault.ImportRow, 10000)
	for i := range rows {
		p := synth.Make(3, i)
		rows[i] = vault.ImportRow{Num: i, Unit: p.Unit, Fields: p.Fields}
	}
	ids, _, err := v.Import(ctx, vault.Actor{ID: "bench", Role: "admin"}, rows)
	if err != nil {
		b.Fatal(err)
	}
	a := vault.Actor{ID: "op_bench", Role: "caseworker", Origin: "127.0.0.1"}
	var n atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			if _, err := v.Read(ctx, a, ids[int(i)%len(ids)], "case-handling", ""); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
