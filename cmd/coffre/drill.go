package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/drill"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/me"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

const drillExample = "coffre drill --scenario versailles-scrape,caseworker-day --json\n  coffre drill --nodes 3 --store postgres://localhost/drill --kill-sequencer 30s"

func runDrill(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("drill", "[--scenario NAME,…] [--json] [--people N] [--scale N] [--data DIR] [--nodes N --store URL [--kill-sequencer D]]", drillExample, stderr)
	names := fs.String("scenario", "", "run only these scenarios (comma-separated): "+strings.Join(scenarioNames(), ", "))
	asJSON := fs.Bool("json", false, "print the results as JSON")
	people := fs.Int("people", 243000, "synthetic people in the directory")
	scale := fs.Int("scale", 1, "divide the legitimate scenarios' headcount by `N` (quicker runs)")
	data := fs.String("data", "", "data `directory` (default: a temporary one, removed afterwards)")
	nodes := fs.Int("nodes", 1, "serve the drill from `N` servers sharing one PostgreSQL database (--store); every client's requests go to each in turn")
	storeURL := fs.String("store", "", "the store: a postgres:// `URL` of an empty database (default: SQLite in the data directory)")
	kill := fs.Duration("kill-sequencer", 0, "kill the node that runs the audit sequencer this long (wall time) into the drill, then check the log has no gap and no duplicate (--nodes 2 or more)")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case *nodes < 1 || *nodes > 5:
		return &usageError{msg: "--nodes must be between 1 and 5"}
	case *nodes > 1 && !strings.HasPrefix(*storeURL, "postgres"):
		return &usageError{msg: "--nodes 2 or more need a shared store", hint: "add --store postgres://…/DB, an empty database"}
	case *storeURL != "" && !strings.HasPrefix(*storeURL, "postgres"):
		return &usageError{msg: "--store must be a postgres:// URL (the default is SQLite in the data directory)"}
	case *kill < 0 || (*kill > 0 && *nodes < 2):
		return &usageError{msg: "--kill-sequencer needs --nodes 2 or more (a positive duration)", hint: "coffre drill --nodes 3 --store postgres://… --kill-sequencer 30s"}
	}
	var want []string
	if *names != "" {
		for n := range strings.SplitSeq(*names, ",") {
			if !slices.Contains(scenarioNames(), n) {
				return &usageError{msg: fmt.Sprintf("unknown scenario %q", n), hint: "scenarios: " + strings.Join(scenarioNames(), ", ")}
			}
			want = append(want, n)
		}
	}
	if *scale < 1 || *scale > 25 {
		return &usageError{msg: "--scale must be between 1 and 25"}
	}
	if *people < 20000 || *people > 10_000_000 {
		return &usageError{msg: "--people must be between 20,000 and 10,000,000 (the scenarios need full units)"}
	}
	dir := *data
	if dir == "" {
		tmp, err := os.MkdirTemp("", "coffre-drill-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	wall := time.Now()
	clock := drill.NewClock(time.Now())
	fleet, err := startNodes(ctx, *nodes, appOptions{dev: true, dataDir: dir, store: *storeURL, now: clock.Now})
	defer fleet.stop()
	if err != nil {
		return err
	}
	env, err := drillEnv(ctx, fleet.on, *people, clock, stderr)
	if err != nil {
		return err
	}
	if *nodes > 1 {
		env.Settle = func(ctx context.Context) error {
			_, err := fleet.settle(ctx, env)
			return err
		}
	}
	if err := fleet.serve(ctx, env); err != nil {
		return err
	}
	d := drill.New(env, clock.Now())
	d.Log = stderr
	d.Scale = *scale
	var killed chan killReport
	ran := make(chan struct{})
	if *kill > 0 {
		killed = make(chan killReport, 1)
		go func() { killed <- fleet.killLeader(ctx, *kill, ran, stderr) }()
	}
	rs, err := d.Run(ctx, want)
	close(ran)
	if err != nil {
		return err
	}
	var kr *killReport
	if killed != nil {
		r := <-killed
		if r.err != nil {
			return r.err
		}
		if r.Node < 0 {
			return errors.New("drill: the drill ended before --kill-sequencer's time: nothing was killed (use a shorter duration)")
		}
		if r.Log, err = fleet.checkLog(ctx, env); err != nil {
			return err
		}
		kr = &r
	}
	fleet.stop()
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		out := map[string]any{"people": *people, "nodes": *nodes, "wall_seconds": math.Round(time.Since(wall).Seconds()*10) / 10, "scenarios": rs}
		if kr != nil {
			out["killed"] = kr
		}
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		drill.Print(stdout, rs)
		fmt.Fprintf(stdout, "\n%d people, %d node(s), %s; records and lockouts counted from the audit log.\n", *people, *nodes, time.Since(wall).Round(time.Second))
		if kr != nil {
			fmt.Fprintf(stdout, "killed node %d (the sequencer's) %s in; the log verifies: %d entries (%d voids), no gap, no duplicate.\n",
				kr.Node, kr.At, kr.Log.Entries, kr.Log.Voids)
		}
	}
	for _, r := range rs {
		if !r.Pass {
			return errors.New("drill: a scenario exceeded its bound")
		}
	}
	return nil
}

func scenarioNames() []string {
	var out []string
	for _, s := range drill.Scenarios() {
		out = append(out, s.Name)
	}
	return out
}

// drillEnv loads the directory through on and returns the drill's view
// of it. Its functions act through on at each call: with several nodes,
// on a node still running.
func drillEnv(ctx context.Context, on func(func(*app) error) error, people int, clock *drill.Clock, stderr io.Writer) (*drill.Env, error) {
	env := &drill.Env{Clock: clock, IDs: make([]string, people), Units: make([]string, people), Emails: make([]string, people), Notes: make([]bool, people)}
	err := on(func(a *app) error {
		env.Limits, env.Location, env.CA = a.cfg.Guard.Roles, a.cfg.Guard.Location, a.ca.Pool()
		_, err := a.loadDemoPeople(ctx, people, stderr, func(first int, ids []string) error {
			copy(env.IDs[first:], ids)
			return nil
		})
		if err != nil {
			return err
		}
		for j := range people {
			if env.IDs[j] == "" {
				return fmt.Errorf("drill: person %d has no id (was %s loaded by an earlier run? use a fresh --data)", j, a.cfg.DataDir)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for j := range people {
		p := synth.Make(demoSeed, j)
		env.Units[j], env.Emails[j], env.Notes[j] = p.Unit, p.Fields[synth.EmailPro], p.Fields[synth.HealthNote] != ""
	}
	system := identity.Actor{ID: "system", Role: "admin", Origin: "drill"}
	canaryNext := people + 1000
	env.AddOperator = func(ctx context.Context, name, role, unit string) (acc *drill.Account, err error) {
		err = on(func(a *app) error {
			op, err := a.auth.AddReadyOperator(ctx, name, "", role, unit)
			if err == nil {
				acc = &drill.Account{ID: op.Operator.ID, Name: name, Role: role, Unit: unit, Password: op.Password, Secret: op.TOTPSecret}
			}
			return err
		})
		return acc, err
	}
	env.Assign = func(ctx context.Context, operator string, subjects []string) error {
		return on(func(a *app) error {
			res, err := a.vault.ChangeCaseload(ctx, system, vault.CaseloadChange{ID: operator, Rows: vault.CaseloadRows(subjects, time.Time{})})
			if err == nil && len(res.Failed) > 0 {
				err = fmt.Errorf("assign a caseload: %s", res.Failed[0].Error())
			}
			return err
		})
	}
	env.AddPartner = func(ctx context.Context, name, sector, unit string) (creds *drill.PartnerCreds, err error) {
		err = on(func(a *app) error {
			np, err := a.auth.AddPartner(ctx, a.ca, name, sector, "partner", unit)
			if err == nil {
				creds = &drill.PartnerCreds{ID: np.Partner.ID, APIKey: np.APIKey, CertPEM: np.Cert.CertPEM, KeyPEM: np.Cert.KeyPEM}
			}
			return err
		})
		return creds, err
	}
	env.Canaries = func(ctx context.Context, unit string, n int) (ids []string, err error) {
		rows := make([]vault.ImportRow, n)
		for i := range rows {
			p := synth.Make(demoSeed, canaryNext)
			canaryNext++
			rows[i] = vault.ImportRow{Num: i + 1, Unit: unit, Fields: p.Fields}
		}
		err = on(func(a *app) error {
			var err error
			ids, err = a.vault.PlantCanaries(ctx, system, "", rows)
			return err
		})
		return ids, err
	}
	// view runs fn in a read transaction of a node still running.
	view := func(ctx context.Context, fn func(context.Context, store.Tx) error) error {
		return on(func(a *app) error { return a.store.View(ctx, fn) })
	}
	env.Audit = func(ctx context.Context, from int64) ([]audit.Entry, error) {
		var out []audit.Entry
		for {
			var page []audit.Entry
			err := view(ctx, func(ctx context.Context, tx store.Tx) error {
				var err error
				page, err = tx.AuditEntries(ctx, from, math.MaxInt64, 10000)
				return err
			})
			if err != nil {
				return nil, err
			}
			out = append(out, page...)
			if len(page) < 10000 {
				return out, nil
			}
			from = page[len(page)-1].Seq + 1
		}
	}
	env.LastSeq = func(ctx context.Context) (int64, error) {
		var n int64
		err := view(ctx, func(ctx context.Context, tx store.Tx) error {
			var err error
			n, err = tx.LastAuditSeq(ctx)
			return err
		})
		return n, err
	}
	env.Pending = func(ctx context.Context) error {
		return on(func(a *app) error {
			if _, err := a.vault.ExpireConsents(ctx, pendingBatch); err != nil {
				return err
			}
			_, err := a.vault.ApplyContactChanges(ctx, pendingBatch)
			return err
		})
	}
	env.Disable = func(ctx context.Context, id, reason string) error {
		return on(func(a *app) error {
			_, err := a.auth.Lifecycle(ctx, auth.Host, nil, auth.Disable, id, reason)
			return err
		})
	}
	env.PersonCode = func(ctx context.Context, subject string) (code string, err error) {
		err = on(func(a *app) error {
			return a.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
				for after := int64(0); ; {
					ms, err := tx.Messages(ctx, after, 1000)
					if err != nil || len(ms) == 0 {
						return err
					}
					for _, m := range ms {
						if m.Kind == me.CodeKind && m.Recipient == subject {
							if code, _, err = me.OpenCode(a.keys.Ring, m); err != nil {
								return err
							}
						}
					}
					after = ms[len(ms)-1].ID
				}
			})
		})
		if err == nil && code == "" {
			err = fmt.Errorf("no code was sent to %s", subject)
		}
		return code, err
	}
	env.Locked = func(ctx context.Context, id string) (code string, err error) {
		err = view(ctx, func(ctx context.Context, tx store.Tx) error {
			op, err := tx.GetOperator(ctx, id)
			if err == nil {
				code = op.Locked
			}
			return err
		})
		return code, err
	}
	return env, nil
}
