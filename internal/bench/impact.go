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
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/impact"
	"github.com/coffre/coffre/internal/incident"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/store"
)

// ImpactFile, in a data directory, describes the log [ImpactBench] built
// there (JSON, [ImpactData]), so that a later run reuses it.
const ImpactFile = "bench-impact"

// ImpactData is what [ImpactFile] holds.
type ImpactData struct {
	Store     string   `json:"store"` // "sqlite" or "postgres" (never a URL)
	Entries   int      `json:"entries"`
	Days      int      `json:"days"`
	People    int      `json:"people"`
	Attackers []string `json:"attackers"`
	Reads     int      `json:"reads"`      // by each attacker, on the attack day
	AttackDay string   `json:"attack_day"` // YYYY-MM-DD (UTC)
	// Exposed is the distinct people the attackers read, each returned
	// ImpactFields.
	Exposed          int     `json:"exposed"`
	AppendSeconds    float64 `json:"append_seconds"`
	IntegrateSeconds float64 `json:"integrate_seconds"`
}

// ImpactFields are the fields each read of the benchmark returns.
var ImpactFields = []string{"given_name", "family_name", "email_pro", "phone", "birth_date"}

// ReadImpactData reads dir's [ImpactFile].
func ReadImpactData(dir string) (*ImpactData, error) {
	b, err := os.ReadFile(filepath.Join(dir, ImpactFile))
	if err != nil {
		return nil, err
	}
	var d ImpactData
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("read %s: %w", ImpactFile, err)
	}
	return &d, nil
}

// WriteImpactData keeps d in dir's [ImpactFile].
func WriteImpactData(dir string, d *ImpactData) error {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, ImpactFile), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", ImpactFile, err)
	}
	return nil
}

// impactT0 is the time of the benchmark log's first entry.
var impactT0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// ImpactBench measures a breach's impact (impact.Compute: the window's
// entries verified against the signed checkpoint, then counted) in a large
// log. [ImpactBench.Build] writes Entries entries shaped like reads, spread
// evenly over Days days, by 50 caseworkers in 5 units about People
// people, except that on the middle day, from 09:00 to 17:00, Attackers
// other operators read Reads distinct people each from 203.0.113.0/24;
// then it integrates them as the server's integrator would.
// [ImpactBench.Measure] times Runs impacts of the attack day for the
// attackers, and for every account, and checks the counts.
type ImpactBench struct {
	Store     store.Store
	Signer    *audit.Signer
	Policy    *policy.Policy
	Entries   int
	Days      int
	People    int
	Attackers int
	Reads     int
	Runs      int
	// Step is the integrator's batch while building (default 200,000).
	Step int
	Log  io.Writer // progress
}

// Build writes the entries and integrates them, filling d.
func (b *ImpactBench) Build(ctx context.Context, d *ImpactData) error {
	var last int64
	if err := b.Store.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
		last, err = tx.LastAuditSeq(ctx)
		return err
	}); err != nil {
		return fmt.Errorf("build impact log: %w", err)
	}
	n := b.Entries - int(last)
	switch {
	case last > 1000:
		return fmt.Errorf("build impact log: the store's audit log already holds %d entries: give an empty store", last)
	case b.Attackers*b.Reads > b.People || 3*b.Attackers*b.Reads > n/b.Days:
		return fmt.Errorf("build impact log: %d attackers × %d reads need at least as many people (%d) and three times as many entries a day (%d)", b.Attackers, b.Reads, b.People, n/b.Days)
	}
	ids, err := b.Store.NewSubjectIDs(ctx, b.People)
	if err != nil {
		return fmt.Errorf("build impact log: %w", err)
	}
	// The accounts: caseworkers in five units, the attackers in a sixth.
	var staff []string
	for i := range 50 {
		staff = append(staff, fmt.Sprintf("op_bench_cw%02d", i))
	}
	for i := range b.Attackers {
		d.Attackers = append(d.Attackers, fmt.Sprintf("op_bench_x%02d", i))
	}
	err = b.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		for i, id := range append(slices.Clone(staff), d.Attackers...) {
			unit := fmt.Sprintf("unit-%d", i%5)
			if i >= len(staff) {
				unit = "unit-x"
			}
			if err := tx.PutOperator(ctx, &identity.Operator{ID: id, Username: id, Role: "caseworker", Unit: unit, Created: impactT0}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("build impact log: operators: %w", err)
	}
	// Entry i is at impactT0 + i·gap; the attackers' reads replace the
	// caseworkers' at evenly spread positions of the attack day's office
	// hours.
	gap := time.Duration(b.Days) * 24 * time.Hour / time.Duration(n)
	attackDay := impactT0.Add(time.Duration(b.Days/2) * 24 * time.Hour)
	lo, hi := int(attackDay.Add(9*time.Hour).Sub(impactT0)/gap), int(attackDay.Add(17*time.Hour).Sub(impactT0)/gap)
	total := b.Attackers * b.Reads
	attack := make(map[int]int, total) // entry offset → the attack's read number
	for k := range total {
		attack[lo+k*(hi-lo)/total] = k
	}
	rng := rand.New(rand.NewPCG(Seed, 15))
	start := time.Now()
	const batch = 100_000
	for done := 0; done < n; {
		k := min(batch, n-done)
		err := b.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			for i := range k {
				off := done + i
				e := &audit.Entry{Time: impactT0.Add(time.Duration(off) * gap), Actor: staff[rng.IntN(len(staff))], Action: "read",
					Subject: ids[rng.IntN(len(ids))], Purpose: "case-handling", Reason: "ticket 4521", Fields: ImpactFields,
					Decision: "allow", Origin: fmt.Sprintf("10.1.%d.%d", off%7, off%200)}
				if r, ok := attack[off]; ok {
					e.Actor, e.Subject, e.Origin = d.Attackers[r%b.Attackers], ids[r], fmt.Sprintf("203.0.113.%d", 1+r%b.Attackers)
				}
				if err := tx.AppendAudit(ctx, e); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("build impact log: entries: %w", err)
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
	in := &auditlog.Integrator{Store: b.Store, Signer: b.Signer, MaxBatch: step, IndexRows: step, Rest: -1}
	start = time.Now()
	for size, shown := uint64(0), uint64(0); size < uint64(b.Entries); {
		if size, err = in.Step(ctx); err != nil {
			return fmt.Errorf("build impact log: %w", err)
		}
		if size/1_000_000 > shown/1_000_000 || size >= uint64(b.Entries) {
			fmt.Fprintf(b.Log, "integrated %9d / %d  %6.1f s\n", size, b.Entries, time.Since(start).Seconds())
			shown = size
		}
	}
	d.IntegrateSeconds = time.Since(start).Seconds()
	d.Entries, d.Days, d.People, d.Reads, d.Exposed = b.Entries, b.Days, b.People, b.Reads, total
	d.AttackDay = attackDay.Format(time.DateOnly)
	return nil
}

// ImpactRun is one scope's timings.
type ImpactRun struct {
	Scope    string
	P50, Max time.Duration
	Impact   incident.Impact
	Window   auditlog.WindowReport
}

// ImpactReport is an [ImpactBench.Measure]'s outcome.
type ImpactReport struct {
	Data ImpactData
	Runs int
	// Attackers is the attackers' scope; Everything every account's.
	Attackers, Everything ImpactRun
}

// Measure times b.Runs impacts of the attack day for each scope and checks
// the attackers' counts against what Build wrote.
func (b *ImpactBench) Measure(ctx context.Context, d *ImpactData) (*ImpactReport, error) {
	day, err := time.Parse(time.DateOnly, d.AttackDay)
	if err != nil {
		return nil, fmt.Errorf("measure impact: attack day %q: %w", d.AttackDay, err)
	}
	key := b.Signer.VerifierKey()
	info := impact.Info{Account: impact.StoreAccounts(b.Store), Treatment: impact.Treatments(b.Policy), Sensitivity: impact.Sensitivities(b.Policy)}
	rep := &ImpactReport{Data: *d, Runs: b.Runs}
	now := day.Add(30 * 24 * time.Hour)
	for _, sc := range []struct {
		run   *ImpactRun
		name  string
		scope incident.Scope
	}{
		{&rep.Attackers, "attackers", incident.Scope{Operators: d.Attackers, From: day, To: day.Add(24 * time.Hour)}},
		{&rep.Everything, "everything", incident.Scope{Everything: true, From: day, To: day.Add(24 * time.Hour)}},
	} {
		var lat []time.Duration
		for range b.Runs {
			t := time.Now()
			res, err := impact.Compute(ctx, impact.Source{Store: b.Store, Key: key}, sc.scope, info, now)
			if err != nil {
				return nil, fmt.Errorf("measure impact (%s): %w", sc.name, err)
			}
			lat = append(lat, time.Since(t))
			sc.run.Impact, sc.run.Window = res.Impact, *res.Window
		}
		slices.Sort(lat)
		sc.run.Scope, sc.run.P50, sc.run.Max = sc.name, Percentile(lat, 0.5), Percentile(lat, 1)
	}
	a := rep.Attackers.Impact
	if a.Subjects != int64(d.Exposed) || a.Records != int64(d.Exposed*len(ImpactFields)) || a.Matched != int64(d.Exposed) {
		return nil, fmt.Errorf("measure impact: the attackers exposed %d people, %d records in %d entries; the build wrote %d people, %d records, %d entries",
			a.Subjects, a.Records, a.Matched, d.Exposed, d.Exposed*len(ImpactFields), d.Exposed)
	}
	return rep, nil
}

func (r *ImpactReport) fields() map[string]any {
	run := func(x ImpactRun) map[string]any {
		return map[string]any{"p50_ms": msf(x.P50), "max_ms": msf(x.Max), "scanned": x.Impact.Scanned, "matched": x.Impact.Matched,
			"subjects": x.Impact.Subjects, "records": x.Impact.Records, "read": x.Window.Scanned, "probes": x.Window.Probes}
	}
	return map[string]any{
		"store": r.Data.Store, "entries": r.Data.Entries, "days": r.Data.Days, "people": r.Data.People, "runs": r.Runs,
		"log_size": r.Attackers.Impact.LogSize, "attackers": run(r.Attackers), "everything": run(r.Everything),
		"build_append_s": r.Data.AppendSeconds, "build_integrate_s": r.Data.IntegrateSeconds,
	}
}

// WriteJSON prints the report as bench impact --json does (one line).
func (r *ImpactReport) WriteJSON(w io.Writer) error { return json.NewEncoder(w).Encode(r.fields()) }

// WriteText prints the report as bench impact does.
func (r *ImpactReport) WriteText(w io.Writer) {
	fmt.Fprintf(w, "incident impact in a log of %d entries over %d days (%s, %d people), window: %s, one day:\n",
		r.Attackers.Impact.LogSize, r.Data.Days, r.Data.Store, r.Data.People, r.Data.AttackDay)
	for _, x := range []ImpactRun{r.Attackers, r.Everything} {
		fmt.Fprintf(w, "  %-10s p50 %s, max %s (%d runs): %d entries in the window (%d read and verified: %d…%d, %d probes), %d in scope; %d people, %d records\n",
			x.Scope, ms(x.P50), ms(x.Max), r.Runs, x.Impact.Scanned, x.Window.Scanned, x.Window.First, x.Window.Last, x.Window.Probes,
			x.Impact.Matched, x.Impact.Subjects, x.Impact.Records)
	}
	fmt.Fprintf(w, "  attackers: %d operators, %d reads each, counts exact\n", len(r.Data.Attackers), r.Data.Reads)
	fmt.Fprintf(w, "  build: entries %.1f s, integration %.1f s\n", r.Data.AppendSeconds, r.Data.IntegrateSeconds)
}
