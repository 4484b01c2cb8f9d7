package vault_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetest"

	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

// BenchmarkRead measures audited reads through the vault (no HTTP) with 32
// concurrent readers: the group-commit writer's capacity, without the guard
// ("core") and with it ("guard": every check runs, with limits that never
// bind, for 32 operators of one unit reading their own caseloads and
// others').
func BenchmarkRead(b *testing.B) {
	b.Run("core", func(b *testing.B) { benchmarkRead(b, false, false) })
	b.Run("guard", func(b *testing.B) { benchmarkRead(b, true, false) })
	// Every read is its record's first of the day under an activity
	// purpose: each writes the record's last activity (the worst case).
	b.Run("activity", func(b *testing.B) { benchmarkRead(b, false, true) })
}

func benchmarkRead(b *testing.B, guarded, activity bool) {
	ctx := context.Background()
	cfg, _ := config.Demo(nil)
	seed := make([]byte, 32)
	rand.Read(seed)
	keys, _ := envelope.NewKeyring(map[uint32][]byte{1: seed}, 1)
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "c.db"), sqlite.Options{IDs: sqlitetest.IDs()})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	var g *vault.Guard
	if guarded {
		g = &vault.Guard{Limits: map[string]guard.Limits{"caseworker": {
			Rate: 1e9, Burst: 1e9, SubjectsPerHour: 1e9, SubjectsPerDay: 1e9, OutOfCaseloadPerDay: 1e9, OutOfUnitPerDay: 1e9,
			UntrustedPerDay: 1e9, LookupsPerHour: 1e9, MissesPerHour: 1e9, VelocitySubjects: 63, VelocityWindow: time.Nanosecond,
			EnumerationRun: 1000, HardMargin: 1e9,
		}}}
	}
	var n, op atomic.Int64
	c := vault.Config{Store: st, Keys: keys, Policy: cfg.Policy, Guard: g}
	const people = 10000
	if activity {
		// A day later at each pass over the people.
		start := time.Now()
		c.Now = func() time.Time { return start.AddDate(0, 0, int(n.Load()/people)) }
		c.Retention = &vault.Retention{Activity: []string{"case-handling"}}
	}
	v := vault.New(c)
	rows := make([]vault.ImportRow, people)
	for i := range rows {
		p := synth.Make(3, i)
		rows[i] = vault.ImportRow{Num: i, Unit: p.Unit, Fields: p.Fields}
	}
	ids, _, err := v.Import(ctx, identity.Actor{ID: "bench", Role: "admin"}, rows)
	if err != nil {
		b.Fatal(err)
	}
	const operators = 32
	for o := range operators {
		id := fmt.Sprintf("op_bench%02d", o)
		st.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			return tx.PutOperator(ctx, &identity.Operator{ID: id, Username: id, PasswordHash: "x", Role: "caseworker", Unit: synth.Make(3, 0).Unit})
		})
		if err := st.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			return tx.AssignCaseload(ctx, id, ids[o*200:o*200+200], time.Time{})
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		a := identity.Actor{ID: fmt.Sprintf("op_bench%02d", op.Add(1)%operators), Role: "caseworker", Unit: synth.Make(3, 0).Unit, Origin: "127.0.0.1"}
		for pb.Next() {
			i := n.Add(1)
			if _, err := v.Read(ctx, a, ids[int(i)%len(ids)], "case-handling", "bench"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
