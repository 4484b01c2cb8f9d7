package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/contact"
	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/subjectid"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

// newVault opens a vault (no guard) over a store in a fresh schema.
func newVault(tb testing.TB) (*vault.Vault, *Store) {
	tb.Helper()
	cfg, keys := demoKeys(tb)
	st, err := Open(context.Background(), migratedDB(tb), Options{IDs: keys.SubjectIDs()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return vault.New(vault.Config{Store: st, Keys: keys, Policy: cfg.Policy}), st
}

// demoKeys returns the demo's configuration and a keyring with a new
// root key.
func demoKeys(tb testing.TB) (*config.Config, *envelope.Keyring) {
	tb.Helper()
	cfg, err := config.Demo(nil)
	if err != nil {
		tb.Fatal(err)
	}
	seed := make([]byte, envelope.SeedSize)
	rand.Read(seed)
	keys, err := envelope.NewKeyring(map[uint32][]byte{1: seed}, 1)
	if err != nil {
		tb.Fatal(err)
	}
	return cfg, keys
}

// sharedStores opens n stores on one fresh schema: n nodes.
func sharedStores(t *testing.T, n int, ids *subjectid.Codec) []*Store {
	t.Helper()
	u := migratedDB(t)
	var out []*Store
	for range n {
		s, err := Open(context.Background(), u, Options{IDs: ids})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		out = append(out, s)
	}
	return out
}

// vaultNodes opens n vaults with the demo's configuration and one
// keyring, each on its own store on one fresh schema: n nodes. edit, if
// set, changes each vault's configuration.
func vaultNodes(t *testing.T, n int, edit func(*config.Config, *vault.Config)) ([]*vault.Vault, []*Store) {
	t.Helper()
	cfg, keys := demoKeys(t)
	stores := sharedStores(t, n, keys.SubjectIDs())
	var out []*vault.Vault
	for _, s := range stores {
		c := vault.Config{Store: s, Keys: keys, Policy: cfg.Policy}
		if edit != nil {
			edit(cfg, &c)
		}
		out = append(out, vault.New(c))
	}
	return out, stores
}

// TestVaultOnPostgres runs the vault's paths that lean on the store the
// hardest: a bulk import, an import whose fast path fails on a taken value
// and goes on row by row in the same transaction, lookups and reads from
// many goroutines, each audited with gapless numbers.
func TestVaultOnPostgres(t *testing.T) {
	ctx := context.Background()
	v, st := newVault(t)
	hr := identity.Actor{ID: "op_hr", Role: "hr-officer", Unit: "ac-versailles", Origin: "10.0.0.2"}
	worker := identity.Actor{ID: "op_w", Role: "caseworker", Unit: "ac-versailles", Origin: "10.0.0.1"}

	var rows []vault.ImportRow
	for i := range 1200 {
		p := synth.Make(21, i)
		rows = append(rows, vault.ImportRow{Num: i + 2, Unit: p.Unit, Fields: p.Fields})
	}
	ids, failed, err := v.Import(ctx, hr, rows)
	if err != nil || len(ids) != len(rows) || len(failed) != 0 {
		t.Fatalf("import: %d written, %v, %v", len(ids), failed, err)
	}
	var more []vault.ImportRow
	for i := range 50 {
		p := synth.Make(21, len(rows)+i)
		more = append(more, vault.ImportRow{Num: i + 2, Unit: p.Unit, Fields: p.Fields})
	}
	more[10].Fields["email_pro"] = rows[3].Fields["email_pro"]
	more[30].Fields["phone"] = rows[4].Fields["phone"]
	ids2, failed, err := v.Import(ctx, hr, more)
	if err != nil || len(ids2) != len(more)-2 || len(failed) != 2 || failed[0].Num != more[10].Num || failed[1].Num != more[30].Num {
		t.Fatalf("import with two taken values: %d written, failed %+v, %v", len(ids2), failed, err)
	}

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Go(func() {
			for i := g; i < 200; i += 8 {
				id, err := v.Lookup(ctx, worker, "directory", "", "email_pro", rows[i].Fields["email_pro"])
				if err == nil && id != ids[i] {
					err = errors.New("lookup found another subject")
				}
				if err == nil {
					var view *vault.View
					view, err = v.Read(ctx, worker, id, "directory", "")
					if err == nil && view.Fields["family_name"] != rows[i].Fields["family_name"] {
						err = errors.New("read another subject's record")
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var n int
	err = st.View(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.AuditLeaves(ctx, 1, 1<<62, func(seq int64, _ []byte) error {
			if n++; seq != int64(n) {
				return errors.New("gap in the audit numbering")
			}
			return nil
		})
	})
	if err != nil || n != 2+400 {
		t.Fatalf("audit: %d entries, %v; want 402 (2 imports, 200 lookups, 200 reads)", n, err)
	}
}

// BenchmarkVaultRead measures audited reads through the vault over
// PostgreSQL (no HTTP) from 32 goroutines: the writer's group commit
// against a real server. For a profile: -cpuprofile.
func BenchmarkVaultRead(b *testing.B) {
	ctx := context.Background()
	v, _ := newVault(b)
	rows := make([]vault.ImportRow, 10000)
	for i := range rows {
		p := synth.Make(23, i)
		rows[i] = vault.ImportRow{Num: i, Unit: p.Unit, Fields: p.Fields}
	}
	ids, _, err := v.Import(ctx, identity.Actor{ID: "bench", Role: "admin"}, rows)
	if err != nil {
		b.Fatal(err)
	}
	reader := identity.Actor{ID: "op_bench", Role: "caseworker", Unit: "ac-versailles", Origin: "127.0.0.1"}
	var n atomic.Int64
	b.SetParallelism(16) // 32 goroutines on two cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Read(ctx, reader, ids[int(n.Add(1))%len(ids)], "directory", ""); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// TestConsentOnPostgres: an approval serves one read however many race
// for it (the others answer with a request), and concurrent changes of a
// person's contact fields fold into one pending change; each a
// transaction of the group commit on a real server.
func TestConsentOnPostgres(t *testing.T) {
	ctx := context.Background()
	v, st := newVault(t)
	hr := identity.Actor{ID: "op_hr", Role: "hr-officer", Unit: "ac-versailles", Origin: "10.0.0.2",
		SteppedUp: time.Now(), StepFactor: "totp", StepGroup: "occupational-health"}
	worker := identity.Actor{ID: "op_w", Role: "caseworker", Unit: "ac-versailles", Origin: "10.0.0.1"}
	p := synth.Make(31, 1)
	id, err := v.Create(ctx, hr, p.Unit, p.Fields)
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Read(ctx, hr, id, "occupational-health", "referral")
	var pending *vault.ConsentPending
	if !errors.As(err, &pending) {
		t.Fatalf("read: %v, want a consent request", err)
	}
	if _, err := v.DecideConsent(ctx, id, "10.9.9.9", pending.Request.ID, true); err != nil {
		t.Fatal(err)
	}
	var views, asked atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := v.Read(ctx, hr, id, "occupational-health", "referral")
			var p *vault.ConsentPending
			switch {
			case err == nil:
				views.Add(1)
			case errors.As(err, &p):
				asked.Add(1)
			default:
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if views.Load() != 1 || asked.Load() != 7 {
		t.Fatalf("%d views and %d requests, want 1 and 7", views.Load(), asked.Load())
	}

	for i := range 4 {
		wg.Go(func() {
			if _, err := v.Update(ctx, worker, id, "case-update", "ticket", map[string]*string{"phone": ptr(fmt.Sprintf("+33 6 00 00 00 0%d", i))}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	var changes []contact.Change
	st.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
		changes, err = tx.DueContactChanges(ctx, time.Now().Add(100*time.Hour), 10)
		return err
	})
	if len(changes) != 1 {
		t.Fatalf("%d pending contact changes, want 1", len(changes))
	}
}

func ptr(s string) *string { return &s }

// TestContactChangeAppliedOnceAcrossNodes: two nodes apply the same due
// contact change at once. One applies it; the other finds it applied
// (it waits on the change's row, closed first) instead of writing the
// new lookup value a second time, which failed its whole transaction
// (seen in `coffre drill --nodes 3`).
func TestContactChangeAppliedOnceAcrossNodes(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	nodes, _ := vaultNodes(t, 2, func(_ *config.Config, c *vault.Config) { c.Now = clock })
	hr := identity.Actor{ID: "op_hr", Role: "hr-officer", Unit: "ac-versailles", Origin: "10.0.0.2"}
	for round := range 5 {
		p := synth.Make(31, round)
		id, err := nodes[0].Create(ctx, hr, "ac-versailles", p.Fields)
		if err != nil {
			t.Fatal(err)
		}
		email := fmt.Sprintf("round-%d@example.org", round)
		up, err := nodes[0].Update(ctx, hr, id, "hr-records", "ticket 1", map[string]*string{"email_pro": &email})
		if err != nil || up.Change == "" {
			t.Fatalf("update of a contact field = %+v, %v; want a pending change", up, err)
		}
		mu.Lock()
		now = now.Add(73 * time.Hour)
		mu.Unlock()
		var wg sync.WaitGroup
		var applied atomic.Int64
		errs := make(chan error, len(nodes))
		for _, v := range nodes {
			wg.Go(func() {
				n, err := v.ApplyContactChanges(ctx, 10)
				applied.Add(int64(n))
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("round %d: a node applying the change: %v", round, err)
			}
		}
		if applied.Load() != 1 {
			t.Fatalf("round %d: applied %d times, want once", round, applied.Load())
		}
		got, err := nodes[1].Lookup(ctx, hr, "directory", "", "email_pro", email)
		if err != nil || got != id {
			t.Fatalf("round %d: lookup of the new address = %q, %v; want %s", round, got, err, id)
		}
	}
}
