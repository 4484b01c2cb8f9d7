package vault_test

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"runtime/debug"
	"testing"

	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetest"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

// gcPercent reads the collector's target.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// TestImportAllGC: ImportAll raises the collector's target while it runs
// and restores it after, keeps a higher one or GOGC=off, and two imports
// at once restore the target the first one found.
func TestImportAllGC(t *testing.T) {
	ctx := context.Background()
	cfg, err := config.Demo(nil)
	if err != nil {
		t.Fatal(err)
	}
	seed := make([]byte, 32)
	rand.Read(seed)
	keys, _ := envelope.NewKeyring(map[uint32][]byte{1: seed}, 1)
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "c.db"), sqlite.Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	v := vault.New(vault.Config{Store: st, Keys: keys, Policy: cfg.Policy})
	a := identity.Actor{ID: "op_hr", Role: "admin"}
	n := 0
	batches := func(k int) func() ([]vault.ImportRow, error) {
		left := k
		return func() ([]vault.ImportRow, error) {
			if left == 0 {
				return nil, nil
			}
			left--
			p := synth.Make(3, n)
			n++
			return []vault.ImportRow{{Num: n, Unit: p.Unit, Fields: p.Fields}}, nil
		}
	}
	defer debug.SetGCPercent(gcPercent())
	for _, c := range []struct{ before, during int }{{100, vault.ImportGOGC}, {50, vault.ImportGOGC}, {800, 800}, {-1, -1}} {
		debug.SetGCPercent(c.before)
		var during []int
		err := v.ImportAll(ctx, a, batches(2), func(ids []string, failed []vault.RowError) error {
			during = append(during, gcPercent())
			if len(during) == 1 { // a second import inside the first, ending before it
				return v.ImportAll(ctx, a, batches(1), func([]string, []vault.RowError) error {
					during = append(during, gcPercent())
					return nil
				})
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range during {
			if p != c.during {
				t.Errorf("GOGC %d: target %d during import (%d of %d), want %d", c.before, p, i+1, len(during), c.during)
			}
		}
		if len(during) != 3 {
			t.Errorf("GOGC %d: %d batches seen, want 3", c.before, len(during))
		}
		if got := gcPercent(); got != c.before {
			t.Errorf("GOGC %d: target %d after the imports, want it back", c.before, got)
		}
	}
}
