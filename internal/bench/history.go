package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/store"
)

// HistoryFile, in a data directory, describes the log [HistoryBench]
// built there (JSON, [HistoryData]): a later run, or the HTTP benchmark of
// a person's history, reuses the directory and finds its targets in it.
const HistoryFile = "bench-history"

// HistoryData is what [HistoryFile] holds.
type HistoryData struct {
	Entries        int      `json:"entries"`         // the log's size after the build
	SubjectEntries int      `json:"subject_entries"` // entries about each target
	Targets        []string `json:"targets"`         // people with SubjectEntries entries each, spread across the log
	People         int      `json:"people"`          // the people the other entries are about
	// How long the build took, in seconds: the people's import, writing
	// the entries, integrating them (checkpoints and the subject index).
	ImportSeconds    float64 `json:"import_seconds"`
	AppendSeconds    float64 `json:"append_seconds"`
	IntegrateSeconds float64 `json:"integrate_seconds"`
}

// ReadHistoryData reads dir's [HistoryFile].
func ReadHistoryData(dir string) (*HistoryData, error) {
	b, err := os.ReadFile(filepath.Join(dir, HistoryFile))
	if err != nil {
		return nil, err
	}
	var d HistoryData
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("read %s: %w", HistoryFile, err)
	}
	if len(d.Targets) == 0 {
		return nil, fmt.Errorf("read %s: no targets", HistoryFile)
	}
	return &d, nil
}

// WriteHistoryData keeps d in dir's [HistoryFile].
func WriteHistoryData(dir string, d *HistoryData) error {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, HistoryFile), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", HistoryFile, err)
	}
	return nil
}

// HistoryBench measures a person's history (auditlog.SubjectHistory: the
// subject index rows, the stored leaves, two inclusion proofs per entry)
// in a large log. [HistoryBench.Build] fills the store: entries shaped
// like reads, each about one of People, except that Targets of them have
// exactly SubjectEntries entries each, evenly spread from the log's start
// to its end; then it integrates them as the server's integrator would
// (signed checkpoints, tiles, the subject index), in large steps.
// [HistoryBench.Measure] times Queries histories of the targets in turn
// and verifies one of each offline.
type HistoryBench struct {
	Store  store.Store
	Signer *audit.Signer
	// People are the ids of the people the entries are about (those bench
	// import made); Build takes the targets among them.
	People         []string
	Entries        int // the log's size after the build
	SubjectEntries int // entries about each target
	Targets        int // how many targets (the first is "the" target)
	Queries        int // histories to time
	// Step is the integrator's batch while building (default 200,000).
	Step int
	// DBPath is the SQLite database file, for its size; "" for none.
	DBPath string
	Log    io.Writer // progress
}

// Build writes the entries and integrates them; d's Entries,
// SubjectEntries, Targets, People and the times are filled in.
func (b *HistoryBench) Build(ctx context.Context, d *HistoryData) error {
	var last int64 // the import's entries come first
	if err := b.Store.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
		last, err = tx.LastAuditSeq(ctx)
		return err
	}); err != nil {
		return fmt.Errorf("build history log: %w", err)
	}
	n := b.Entries - int(last)
	switch {
	case b.SubjectEntries < 1 || b.Targets < 1:
		return errors.New("build history log: want at least one target and one entry each")
	case n < b.SubjectEntries*(b.Targets+1):
		return fmt.Errorf("build history log: %d entries leave no room to spread %d targets' %d entries each (the log already holds %d)", b.Entries, b.Targets, b.SubjectEntries, last)
	case len(b.People) <= 2*b.Targets:
		return fmt.Errorf("build history log: %d people for %d targets: want more people than twice the targets", len(b.People), b.Targets)
	}
	// The targets, spread over the people; the others are everyone else.
	targets := make([]string, b.Targets)
	isTarget := map[string]bool{}
	for t := range targets {
		targets[t] = b.People[(2*t+1)*len(b.People)/(2*b.Targets)]
		isTarget[targets[t]] = true
	}
	others := make([]string, 0, len(b.People)-len(targets))
	for _, p := range b.People {
		if !isTarget[p] {
			others = append(others, p)
		}
	}
	// Entry k of target t is at offset k·gap + (t+1)·gap/(T+1) of the
	// entries written: evenly spread, the targets apart.
	gap := n / b.SubjectEntries
	at := make(map[int]string, b.Targets*b.SubjectEntries)
	for t, s := range targets {
		for k := range b.SubjectEntries {
			at[k*gap+(t+1)*gap/(b.Targets+1)] = s
		}
	}
	rng := rand.New(rand.NewPCG(Seed, 14))
	t0 := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	start := time.Now()
	const batch = 100_000
	for done := 0; done < n; {
		k := min(batch, n-done)
		err := b.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			for i := range k {
				subject, ok := at[done+i]
				if !ok {
					subject = others[rng.IntN(len(others))]
				}
				e := &audit.Entry{Time: t0.Add(time.Duration(done+i) * time.Millisecond), Actor: "op_bench", Action: "read",
					Subject: subject, Purpose: "case-handling", Reason: "ticket 4521",
					Fields: []string{"given_name", "family_name", "email_pro", "phone", "birth_date"}, Decision: "allow", Origin: "127.0.0.1"}
				if err := tx.AppendAudit(ctx, e); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("build history log: entries: %w", err)
		}
		done += k
		if done%1_000_000 < batch || done == n {
			fmt.Fprintf(b.Log, "entries    %9d / %d  %6.1f s\n", done, n, time.Since(start).Seconds())
		}
	}
	d.AppendSeconds = time.Since(start).Seconds()

	step := b.Step
	if step <= 0 {
		step = 200_000
	}
	// Nothing to leave the writer to: steps as large as memory allows, and
	// each step's rows in one transaction, without rest.
	in := &auditlog.Integrator{Store: b.Store, Signer: b.Signer, MaxBatch: step, IndexRows: step, Rest: -1}
	start = time.Now()
	for size, shown := uint64(0), uint64(0); size < uint64(b.Entries); {
		var err error
		if size, err = in.Step(ctx); err != nil {
			return fmt.Errorf("build history log: %w", err)
		}
		if size/1_000_000 > shown/1_000_000 || size == uint64(b.Entries) {
			fmt.Fprintf(b.Log, "integrated %9d / %d  %6.1f s\n", size, b.Entries, time.Since(start).Seconds())
			shown = size
		}
	}
	d.IntegrateSeconds = time.Since(start).Seconds()
	d.Entries, d.SubjectEntries, d.Targets, d.People = b.Entries, b.SubjectEntries, targets, len(b.People)
	return nil
}

// HistoryReport is a [HistoryBench.Measure]'s outcome.
type HistoryReport struct {
	Data      HistoryData
	Size      uint64 // the latest checkpoint's log size
	IndexSize uint64 // and its subject index's
	DBBytes   int64  // database file and write-ahead log (SQLite only)
	Queries   int
	// Latencies of SubjectHistory; First is the slowest of each target's
	// first history (the least cached).
	P50, P99, Max, First time.Duration
	HistoryBytes         int           // the largest history, as JSON
	Verified             int           // histories verified offline (one per target)
	VerifyP50            time.Duration // VerifyHistory's time, a person's side
}

// Measure times Queries histories of the targets in d, in turn, each
// checked to hold SubjectEntries entries, and verifies the first of each
// target offline against the signer's key, its newest entry given.
func (b *HistoryBench) Measure(ctx context.Context, d *HistoryData) (*HistoryReport, error) {
	rep := &HistoryReport{Data: *d, Queries: b.Queries}
	if err := b.Store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		c, err := tx.LatestCheckpoint(ctx)
		if err != nil {
			return err
		}
		if c.Index == nil {
			return auditlog.ErrNoIndex
		}
		rep.Size, rep.IndexSize = c.Size, c.Index.Size
		return nil
	}); err != nil {
		return nil, fmt.Errorf("measure histories: %w", err)
	}
	lat := make([]time.Duration, 0, b.Queries)
	var verify []time.Duration
	for q := range b.Queries {
		subject := d.Targets[q%len(d.Targets)]
		t := time.Now()
		h, err := auditlog.SubjectHistory(ctx, b.Store, subject, 0)
		took := time.Since(t)
		if err != nil {
			return nil, fmt.Errorf("measure histories: %w", err)
		}
		lat = append(lat, took)
		if len(h.Entries) != d.SubjectEntries {
			return nil, fmt.Errorf("measure histories: target %d's history holds %d entries, want %d", q%len(d.Targets), len(h.Entries), d.SubjectEntries)
		}
		if q >= len(d.Targets) {
			continue
		}
		rep.First = max(rep.First, took)
		raw, err := json.Marshal(h)
		if err != nil {
			return nil, err
		}
		rep.HistoryBytes = max(rep.HistoryBytes, len(raw))
		newest := &auditlog.Newest{Seq: h.Entries[0].Seq, LeafHash: audit.Hasher.HashLeaf(h.Entries[0].Leaf)}
		t = time.Now()
		if _, err := auditlog.VerifyHistory(h, b.Signer.VerifierKey(), newest); err != nil {
			return nil, fmt.Errorf("measure histories: target %d: %w", q, err)
		}
		verify = append(verify, time.Since(t))
		rep.Verified++
	}
	slices.Sort(lat)
	slices.Sort(verify)
	rep.P50, rep.P99, rep.Max = Percentile(lat, 0.50), Percentile(lat, 0.99), Percentile(lat, 1)
	rep.VerifyP50 = Percentile(verify, 0.50)
	if b.DBPath != "" {
		for _, suffix := range []string{"", "-wal"} {
			if st, err := os.Stat(b.DBPath + suffix); err == nil {
				rep.DBBytes += st.Size()
			}
		}
	}
	return rep, nil
}

func (r *HistoryReport) fields() map[string]any {
	return map[string]any{
		"entries": r.Size, "index_size": r.IndexSize, "subject_entries": r.Data.SubjectEntries,
		"targets": len(r.Data.Targets), "people": r.Data.People, "db_bytes": r.DBBytes, "queries": r.Queries,
		"p50_ms": msf(r.P50), "p99_ms": msf(r.P99), "max_ms": msf(r.Max), "first_max_ms": msf(r.First),
		"history_bytes": r.HistoryBytes, "verified": r.Verified, "verify_p50_ms": msf(r.VerifyP50),
		"build_import_s": r.Data.ImportSeconds, "build_append_s": r.Data.AppendSeconds, "build_integrate_s": r.Data.IntegrateSeconds,
	}
}

// WriteJSON prints the report as bench history --json does (one line).
func (r *HistoryReport) WriteJSON(w io.Writer) error { return json.NewEncoder(w).Encode(r.fields()) }

// WriteText prints the report as bench history does.
func (r *HistoryReport) WriteText(w io.Writer) {
	fmt.Fprintf(w, "person's history in a log of %d entries (subject index of %d, %d people; database %.1f MB):\n",
		r.Size, r.IndexSize, r.Data.People, float64(r.DBBytes)/1e6)
	fmt.Fprintf(w, "  SubjectHistory of %d entries: p50 %s, p99 %s, max %s (%d queries over %d targets; slowest first query %s)\n",
		r.Data.SubjectEntries, ms(r.P50), ms(r.P99), ms(r.Max), r.Queries, len(r.Data.Targets), ms(r.First))
	fmt.Fprintf(w, "  history file %d bytes; %d verified offline, p50 %s\n", r.HistoryBytes, r.Verified, ms(r.VerifyP50))
	fmt.Fprintf(w, "  build: import %.1f s, entries %.1f s, integration %.1f s\n", r.Data.ImportSeconds, r.Data.AppendSeconds, r.Data.IntegrateSeconds)
}
