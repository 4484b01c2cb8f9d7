package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/transparency-dev/merkle/proof"
)

// runBenchAudit measures the audit log at scale: integration rate, full
// verification rate, and inclusion-proof latency.
func runBenchAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench audit", "[--entries N] [--data DIR] [--proofs N] [--json]",
		"coffre bench audit --entries 10000000 --data /tmp/coffre-audit-bench", stderr)
	n := fs.Int("entries", 10_000_000, "audit entries to create")
	data := fs.String("data", "./coffre-audit-bench", "fresh benchmark `directory` (deleted first)")
	proofs := fs.Int("proofs", 10_000, "inclusion proofs to time")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *n < 1 || *n > 100_000_000 || *proofs < 1 || *proofs > 1_000_000 {
		return &usageError{msg: "--entries must be 1 to 100,000,000 and --proofs 1 to 1,000,000"}
	}
	if err := os.RemoveAll(*data); err != nil {
		return err
	}
	seed := make([]byte, envelope.SeedSize)
	keys, err := envelope.NewKeyring(map[uint32][]byte{1: seed}, 1)
	if err != nil {
		return err
	}
	st, err := sqlite.Open(ctx, filepath.Join(*data, "coffre.db"), sqlite.Options{IDs: keys.SubjectIDs(), WriterCacheKiB: bulkCacheKiB})
	if err != nil {
		return err
	}
	defer st.Close()
	signer, err := audit.NewSigner(auditlog.Origin, seed)
	if err != nil {
		return err
	}
	// Entries shaped like reads: ids, a purpose, field names.
	start := time.Now()
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	for done := 0; done < *n; {
		batch := min(100_000, *n-done)
		err := st.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			for i := range batch {
				e := &audit.Entry{Time: t0.Add(time.Duration(done+i) * time.Millisecond), Actor: "op_bench", Action: "read",
					Subject: fmt.Sprintf("sub_%026d", done+i), Purpose: "case-handling", Reason: "ticket 4521",
					Fields: []string{"given_name", "family_name", "email_pro", "phone", "birth_date"}, Decision: "allow", Origin: "127.0.0.1"}
				if err := tx.AppendAudit(ctx, e); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		done += batch
	}
	fmt.Fprintf(stderr, "created %d entries in %s\n", *n, time.Since(start).Round(time.Millisecond))

	in := &auditlog.Integrator{Store: st, Signer: signer, MaxBatch: 100_000}
	start = time.Now()
	for size := uint64(0); size < uint64(*n); {
		if size, err = in.Step(ctx); err != nil {
			return err
		}
	}
	integrate := time.Since(start)

	start = time.Now()
	rep, err := auditlog.Verify(ctx, st, signer.VerifierKey())
	if err != nil {
		return err
	}
	verify := time.Since(start)

	var entries []audit.Entry
	var root []byte
	size := uint64(*n)
	lat := make([]time.Duration, 0, *proofs)
	rng := rand.New(rand.NewPCG(1, 2))
	st.View(ctx, func(ctx context.Context, tx store.Tx) error {
		c, err := tx.LatestCheckpoint(ctx)
		if err == nil {
			root = c.Root
		}
		return err
	})
	for range *proofs {
		idx := rng.Uint64N(size)
		t := time.Now()
		p, err := auditlog.InclusionProof(ctx, st, idx, size)
		lat = append(lat, time.Since(t))
		if err != nil {
			return err
		}
		if len(entries) < 100 { // check a sample against the signed root
			es := []audit.Entry{}
			st.View(ctx, func(ctx context.Context, tx store.Tx) error {
				es, err = tx.AuditEntries(ctx, int64(idx)+1, int64(idx)+2, 1)
				return err
			})
			if err := proof.VerifyInclusion(audit.Hasher, idx, size, audit.LeafHash(&es[0]), p, root); err != nil {
				return fmt.Errorf("proof of %d does not verify: %w", idx, err)
			}
			entries = append(entries, es...)
		}
	}
	slices.Sort(lat)
	pct := func(q float64) time.Duration { return lat[int(q*float64(len(lat)-1))] }
	res := map[string]any{
		"entries": *n, "integrate_entries_per_sec": float64(*n) / integrate.Seconds(),
		"verify_entries_per_sec": float64(rep.Entries) / verify.Seconds(), "checkpoints": rep.Checkpoints,
		"proof_p50_ms": pct(0.5).Seconds() * 1000, "proof_p99_ms": pct(0.99).Seconds() * 1000,
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	fmt.Fprintf(stdout, "audit log of %d entries:\n  integrate  %.0f entries/s\n  verify     %.0f entries/s (%d checkpoints)\n  inclusion proof p50 %.3f ms, p99 %.3f ms (%d proofs, %d checked against the signed root)\n",
		*n, res["integrate_entries_per_sec"], res["verify_entries_per_sec"], rep.Checkpoints, res["proof_p50_ms"], res["proof_p99_ms"], *proofs, len(entries))
	return nil
}
