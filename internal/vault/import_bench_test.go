package vault_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetest"

	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

func BenchmarkImport(b *testing.B) {
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
	v := vault.New(vault.Config{Store: st, Keys: keys, Policy: cfg.Policy})
	a := identity.Actor{ID: "bench", Role: "admin"}
	b.ResetTimer()
	const batch = 20000
	i := 0
	next := func() ([]vault.ImportRow, error) {
		n := min(batch, b.N-i)
		rows := make([]vault.ImportRow, n)
		for j := range rows {
			p := synth.Make(1, i+j)
			rows[j] = vault.ImportRow{Num: i + j, Unit: p.Unit, Fields: p.Fields}
		}
		i += n
		return rows, nil
	}
	err = v.ImportAll(ctx, a, next, func(_ []string, failed []vault.RowError) error {
		if len(failed) > 0 {
			return fmt.Errorf("%d rows failed: %v", len(failed), failed[0])
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}
