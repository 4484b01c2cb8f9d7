package auditlog_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/bench"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetest"
)

// BenchmarkCatchUp measures what an integrator catching up costs the
// writes beside it: a log of 1,000,000 entries about 200,000 subjects,
// integrated, then 100,000 more to catch up in steps of 20,000 while 32
// writers, each at most one audited access per 5 ms (about the read
// benchmark's rate), append entries. It reports the writers' latency
// (write-p99-ms, write-max-ms), the longest an integrator transaction
// held the writer (hold-max-ms) and the catch-up's time (catchup-s), for
// a step's index rows in one transaction (rows=all: as before they were
// bounded) and in transactions of DefaultIndexRows with DefaultRest.
// b.N is ignored: one catch-up per run (-benchtime 1x; -count for more).
//
//	go test ./internal/auditlog -run '^$' -bench CatchUp -benchtime 1x -count 3
func BenchmarkCatchUp(b *testing.B) {
	base := filepath.Join(b.TempDir(), "base.db")
	catchUpLog(b, base)
	for _, c := range []struct {
		name string
		rows int
		rest float64
	}{
		{"rows=all", 1 << 30, -1},
		{fmt.Sprintf("rows=%d", auditlog.DefaultIndexRows), 0, 0},
	} {
		b.Run(c.name, func(b *testing.B) {
			db := filepath.Join(b.TempDir(), "c.db")
			raw, err := os.ReadFile(base)
			if err == nil {
				err = os.WriteFile(db, raw, 0o600)
			}
			if err != nil {
				b.Fatal(err)
			}
			st, err := sqlite.Open(ctx, db, sqlite.Options{IDs: sqlitetest.IDs()})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			held := &holdStore{Store: st}
			in := &auditlog.Integrator{Store: held, Signer: catchUpSigner, IndexRows: c.rows, Rest: c.rest}
			var last int64
			st.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
				last, err = tx.LastAuditSeq(ctx)
				return err
			})
			stop := make(chan struct{})
			lat := catchUpWriters(b, st, stop)
			b.ResetTimer()
			t0 := time.Now()
			for size := uint64(0); size < uint64(last); {
				if size, err = in.Step(ctx); err != nil {
					b.Fatal(err)
				}
			}
			took := time.Since(t0)
			close(stop)
			l := lat()
			b.ReportMetric(float64(bench.Percentile(l, 0.99).Microseconds())/1000, "write-p99-ms")
			b.ReportMetric(float64(bench.Percentile(l, 1).Microseconds())/1000, "write-max-ms")
			b.ReportMetric(float64(held.max.Microseconds())/1000, "hold-max-ms")
			b.ReportMetric(took.Seconds(), "catchup-s")
		})
	}
}

var catchUpSigner, _ = audit.NewSigner(auditlog.Origin, bytes.Repeat([]byte{9}, 32))

func catchUpEntry(n int, r *rand.Rand) *audit.Entry {
	return &audit.Entry{Time: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Millisecond), Actor: "op_bench", Action: "read",
		Subject: fmt.Sprintf("sub_%026d", r.IntN(200_000)), Purpose: "case-handling", Reason: "bench",
		Fields: []string{"given_name", "family_name", "email_pro", "phone", "birth_date"}, Decision: "allow", Origin: "127.0.0.1"}
}

// catchUpLog makes the store at path: 1,000,000 entries integrated, then
// 100,000 more.
func catchUpLog(b *testing.B, path string) {
	st, err := sqlite.Open(ctx, path, sqlite.Options{IDs: sqlitetest.IDs()})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	r := rand.New(rand.NewPCG(1, 2))
	add := func(n int) {
		for done := 0; done < n; done += 100_000 {
			err := st.Update(ctx, func(ctx context.Context, tx store.Tx) error {
				for i := range 100_000 {
					if err := tx.AppendAudit(ctx, catchUpEntry(done+i, r)); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	add(1_000_000)
	in := &auditlog.Integrator{Store: st, Signer: catchUpSigner, MaxBatch: 200_000, IndexRows: 200_000, Rest: -1}
	for size := uint64(0); size < 1_000_000; {
		if size, err = in.Step(ctx); err != nil {
			b.Fatal(err)
		}
	}
	add(100_000)
	if err := st.Checkpoint(ctx); err != nil {
		b.Fatal(err)
	}
}

// catchUpWriters starts 32 writers appending an entry each at most every
// 5 ms until stop; the returned func waits for them and returns their
// latencies, sorted.
func catchUpWriters(b *testing.B, st store.Store, stop <-chan struct{}) func() []time.Duration {
	var mu sync.Mutex
	var all []time.Duration
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 3))
			var mine []time.Duration
			defer func() { mu.Lock(); all = append(all, mine...); mu.Unlock() }()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				t0 := time.Now()
				e := catchUpEntry(n, r)
				if err := st.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.AppendAudit(ctx, e) }); err != nil {
					b.Error(err)
					return
				}
				mine = append(mine, time.Since(t0))
				time.Sleep(5*time.Millisecond - time.Since(t0))
			}
		})
	}
	return func() []time.Duration {
		wg.Wait()
		slices.Sort(all)
		return all
	}
}

// holdStore records the longest time a transaction function held the
// writer.
type holdStore struct {
	store.Store
	mu  sync.Mutex
	max time.Duration
}

func (s *holdStore) Update(ctx context.Context, fn func(context.Context, store.Tx) error) error {
	return s.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		t0 := time.Now()
		defer func() {
			s.mu.Lock()
			s.max = max(s.max, time.Since(t0))
			s.mu.Unlock()
		}()
		return fn(ctx, tx)
	})
}
