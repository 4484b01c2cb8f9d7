package bench

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

// AuditBench measures the audit log at scale in a fresh SQLite store:
// integration rate, full verification rate, and inclusion-proof latency.
type AuditBench struct {
	Entries int    // audit entries to create, shaped like reads
	Proofs  int    // inclusion proofs to time
	Dir     string // deleted first
	Log     io.Writer
}

// AuditReport is an [AuditBench]'s outcome.
type AuditReport struct {
	Entries       int
	IntegrateRate float64 // entries/s
	VerifyRate    float64 // entries/s
	Checkpoints   int
	ProofP50      time.Duration
	ProofP99      time.Duration
	Proofs        int
	ProofsChecked int // proofs checked against the signed root
}

// Run creates the entries, integrates them into signed checkpoints,
// verifies the whole log and times the proofs.
func (b *AuditBench) Run(ctx context.Context) (*AuditReport, error) {
	if err := os.RemoveAll(b.Dir); err != nil {
		return nil, err
	}
	seed := make([]byte, envelope.SeedSize)
	keys, err := envelope.NewKeyring(map[uint32][]byte{1: seed}, 1)
	if err != nil {
		return nil, err
	}
	st, err := sqlite.Open(ctx, filepath.Join(b.Dir, "coffre.db"), sqlite.Options{IDs: keys.SubjectIDs()})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	signer, err := audit.NewSigner(auditlog.Origin, seed)
	if err != nil {
		return nil, err
	}
	// Entries shaped like reads: ids, a purpose, field names.
	start := time.Now()
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	for done := 0; done < b.Entries; {
		batch := min(100_000, b.Entries-done)
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
			return nil, err
		}
		done += batch
	}
	fmt.Fprintf(b.Log, "created %d entries in %s\n", b.Entries, time.Since(start).Round(time.Millisecond))

	// No reads to leave the writer to: the integrator's own rate.
	in := &auditlog.Integrator{Store: st, Signer: signer, MaxBatch: 100_000, Rest: -1}
	start = time.Now()
	for size := uint64(0); size < uint64(b.Entries); {
		if size, err = in.Step(ctx); err != nil {
			return nil, err
		}
	}
	integrate := time.Since(start)

	start = time.Now()
	rep, err := auditlog.Verify(ctx, st, signer.VerifierKey())
	if err != nil {
		return nil, err
	}
	verify := time.Since(start)

	var entries []audit.Entry
	var root []byte
	size := uint64(b.Entries)
	lat := make([]time.Duration, 0, b.Proofs)
	rng := rand.New(rand.NewPCG(1, 2))
	st.View(ctx, func(ctx context.Context, tx store.Tx) error {
		c, err := tx.LatestCheckpoint(ctx)
		if err == nil {
			root = c.Root
		}
		return err
	})
	for range b.Proofs {
		idx := rng.Uint64N(size)
		t := time.Now()
		p, err := auditlog.InclusionProof(ctx, st, idx, size)
		lat = append(lat, time.Since(t))
		if err != nil {
			return nil, err
		}
		if len(entries) < 100 { // check a sample against the signed root
			es := []audit.Entry{}
			st.View(ctx, func(ctx context.Context, tx store.Tx) error {
				es, err = tx.AuditEntries(ctx, int64(idx)+1, int64(idx)+2, 1)
				return err
			})
			if err := proof.VerifyInclusion(audit.Hasher, idx, size, audit.LeafHash(&es[0]), p, root); err != nil {
				return nil, fmt.Errorf("proof of %d does not verify: %w", idx, err)
			}
			entries = append(entries, es...)
		}
	}
	slices.Sort(lat)
	pct := func(q float64) time.Duration { return lat[int(q*float64(len(lat)-1))] }
	return &AuditReport{
		Entries: b.Entries, IntegrateRate: float64(b.Entries) / integrate.Seconds(),
		VerifyRate: float64(rep.Entries) / verify.Seconds(), Checkpoints: rep.Checkpoints,
		ProofP50: pct(0.5), ProofP99: pct(0.99), Proofs: b.Proofs, ProofsChecked: len(entries),
	}, nil
}

func (r *AuditReport) fields() map[string]any {
	return map[string]any{
		"entries": r.Entries, "integrate_entries_per_sec": r.IntegrateRate,
		"verify_entries_per_sec": r.VerifyRate, "checkpoints": r.Checkpoints,
		"proof_p50_ms": r.ProofP50.Seconds() * 1000, "proof_p99_ms": r.ProofP99.Seconds() * 1000,
	}
}

// WriteJSON prints the report as bench audit --json does (one line).
func (r *AuditReport) WriteJSON(w io.Writer) error { return json.NewEncoder(w).Encode(r.fields()) }

// WriteText prints the report as bench audit does.
func (r *AuditReport) WriteText(w io.Writer) {
	res := r.fields()
	fmt.Fprintf(w, "audit log of %d entries:\n  integrate  %.0f entries/s\n  verify     %.0f entries/s (%d checkpoints)\n  inclusion proof p50 %.3f ms, p99 %.3f ms (%d proofs, %d checked against the signed root)\n",
		r.Entries, res["integrate_entries_per_sec"], res["verify_entries_per_sec"], r.Checkpoints, res["proof_p50_ms"], res["proof_p99_ms"], r.Proofs, r.ProofsChecked)
}
