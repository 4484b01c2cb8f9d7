package me_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/me"
	"github.com/coffre/coffre/internal/store"
)

// BenchmarkRequestCode compares a code request for a contact on a record
// with one for a contact on none, alternating (the no-oracle claim: the
// same work but one queued message). It reports each side's median.
func BenchmarkRequestCode(b *testing.B) {
	e := newEnv(b, me.Settings{PerContact: 1 << 30, PerOrigin: 1 << 30})
	known := e.people[0].Fields["email_pro"]
	var tk, tu []time.Duration
	for i := 0; b.Loop(); i++ {
		contact := known
		if i%2 == 1 {
			contact = fmt.Sprintf("nobody%d@example.org", i)
		}
		t0 := time.Now()
		if _, err := e.svc.RequestCode(ctx, contact, "192.0.2.7"); err != nil {
			b.Fatal(err)
		}
		if d := time.Since(t0); i%2 == 0 {
			tk = append(tk, d)
		} else {
			tu = append(tu, d)
		}
	}
	med := func(ds []time.Duration) float64 {
		if len(ds) == 0 {
			return 0
		}
		slices.Sort(ds)
		return float64(ds[len(ds)/2].Microseconds())
	}
	b.ReportMetric(med(tk), "known-p50-µs")
	b.ReportMetric(med(tu), "unknown-p50-µs")
}

// BenchmarkHistory measures GET /v1/me/accesses's work (the audit of the
// read, the rows of the subject index, each entry's leaf and two proofs,
// the summaries) for a person with 100 entries in a log of
// COFFRE_BENCH_HISTORY_ENTRIES entries (default 1,000,000), each of the
// others about another person. It reports the median and p99.
func BenchmarkHistory(b *testing.B) {
	total := 1_000_000
	if v := os.Getenv("COFFRE_BENCH_HISTORY_ENTRIES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1000 {
			b.Fatalf("COFFRE_BENCH_HISTORY_ENTRIES=%q: want a number ≥ 1000", v)
		}
		total = n
	}
	e := newEnv(b, me.Settings{PerContact: 1 << 30, PerOrigin: 1 << 30})
	p := e.signIn(b, 0)
	every := total / 100
	t0 := e.clock.Now()
	for from := 0; from < total; from += 10_000 {
		err := e.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			for i := from; i < min(from+10_000, total); i++ {
				sub := fmt.Sprintf("sub_%026d", i)
				if i%every == 0 {
					sub = p.Subject
				}
				en := &audit.Entry{Time: t0.Add(time.Duration(i) * time.Millisecond), Actor: "op_bench", Action: "read", Subject: sub,
					Purpose: "case-handling", Fields: []string{"given_name", "family_name", "phone"}, Decision: "allow", Origin: "10.0.0.1"}
				if err := tx.AppendAudit(ctx, en); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	signer, _ := audit.NewSigner(auditlog.Origin, make([]byte, 32))
	in := &auditlog.Integrator{Store: e.store, Signer: signer}
	start := time.Now()
	for {
		size, err := in.Step(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if size >= uint64(total) {
			break
		}
	}
	b.Logf("a log of %d entries, integrated in %v", total, time.Since(start).Round(time.Second))
	var ds []time.Duration
	for b.Loop() {
		t := time.Now()
		h, err := e.svc.History(ctx, p)
		if err != nil {
			b.Fatal(err)
		}
		ds = append(ds, time.Since(t))
		if len(h.Entries) < 100 {
			b.Fatalf("%d entries in the history, want 100 or more", len(h.Entries))
		}
	}
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(ds[len(ds)*99/100].Microseconds())/1000, "p99-ms")
}
