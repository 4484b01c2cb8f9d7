package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
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

const drillExample = "coffre drill --scenario versailles-scrape,caseworker-day --json"

func runDrill(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("drill", "[--scenario NAME,…] [--json] [--people N] [--scale N] [--data DIR]", drillExample, stderr)
	names := fs.String("scenario", "", "run only these scenarios (comma-separated): "+strings.Join(scenarioNames(), ", "))
	asJSON := fs.Bool("json", false, "print the results as JSON")
	people := fs.Int("people", 243000, "synthetic people in the directory")
	scale := fs.Int("scale", 1, "divide the legitimate scenarios' headcount by `N` (quicker runs)")
	data := fs.String("data", "", "data `directory` (default: a temporary one, removed afterwards)")
	if err := parse(fs, args); err != nil {
		return err
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
	a, err := openApp(ctx, appOptions{dev: true, dataDir: dir, bulkCache: bulkCacheKiB, now: clock.Now}, io.Discard)
	if err != nil {
		return err
	}
	defer a.close()
	// The drill's clients name their simulated origin in X-Forwarded-For.
	a.cfg.Guard.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	a.cfg.Partners.Listen, a.cfg.Partners.Hosts = "127.0.0.1:0", []string{"127.0.0.1"}
	env, err := a.drillEnv(ctx, *people, clock, stderr)
	if err != nil {
		return err
	}
	srvCtx, stop := context.WithCancel(ctx)
	defer stop()
	addr := make(chan string, 1)
	served := make(chan error, 1)
	go func() { served <- a.serve(srvCtx, "127.0.0.1:0", func(s string) { addr <- s }) }()
	select {
	case env.URL = <-addr:
		env.URL = "http://" + env.URL
		env.PartnerURL = "https://" + a.partnerAddr
	case err := <-served:
		return err
	}
	d := drill.New(env, clock.Now())
	d.Log = stderr
	d.Scale = *scale
	rs, err := d.Run(ctx, want)
	stop()
	<-served
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"people": *people, "wall_seconds": math.Round(time.Since(wall).Seconds()*10) / 10, "scenarios": rs}); err != nil {
			return err
		}
	} else {
		drill.Print(stdout, rs)
		fmt.Fprintf(stdout, "\n%d people, %s; records and lockouts counted from the audit log.\n", *people, time.Since(wall).Round(time.Second))
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

// drillEnv loads the directory and returns the drill's view of this app.
func (a *app) drillEnv(ctx context.Context, people int, clock *drill.Clock, stderr io.Writer) (*drill.Env, error) {
	env := &drill.Env{Clock: clock, Limits: a.cfg.Guard.Roles, Location: a.cfg.Guard.Location,
		IDs: make([]string, people), Units: make([]string, people), Emails: make([]string, people), Notes: make([]bool, people)}
	_, err := a.loadDemoPeople(ctx, people, stderr, func(first int, ids []string) error {
		copy(env.IDs[first:], ids)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for j := range people {
		if env.IDs[j] == "" {
			return nil, fmt.Errorf("drill: person %d has no id (was %s loaded by an earlier run? use a fresh --data)", j, a.cfg.DataDir)
		}
		p := synth.Make(demoSeed, j)
		env.Units[j], env.Emails[j], env.Notes[j] = p.Unit, p.Fields[synth.EmailPro], p.Fields[synth.HealthNote] != ""
	}
	canaryNext := people + 1000
	env.AddOperator = func(ctx context.Context, name, role, unit string) (*drill.Account, error) {
		op, err := a.auth.AddReadyOperator(ctx, name, "", role, unit)
		if err != nil {
			return nil, err
		}
		return &drill.Account{ID: op.Operator.ID, Name: name, Role: role, Unit: unit, Password: op.Password, Secret: op.TOTPSecret}, nil
	}
	env.Assign = func(ctx context.Context, operator string, subjects []string) error {
		res, err := a.vault.ChangeCaseload(ctx, identity.Actor{ID: "system", Role: "admin", Origin: "drill"}, vault.CaseloadChange{ID: operator, Rows: vault.CaseloadRows(subjects, time.Time{})})
		if err == nil && len(res.Failed) > 0 {
			err = fmt.Errorf("assign a caseload: %s", res.Failed[0].Error())
		}
		return err
	}
	env.CA = a.ca.Pool()
	env.AddPartner = func(ctx context.Context, name, sector, unit string) (*drill.PartnerCreds, error) {
		np, err := a.auth.AddPartner(ctx, a.ca, name, sector, "partner", unit)
		if err != nil {
			return nil, err
		}
		return &drill.PartnerCreds{ID: np.Partner.ID, APIKey: np.APIKey, CertPEM: np.Cert.CertPEM, KeyPEM: np.Cert.KeyPEM}, nil
	}
	env.Canaries = func(ctx context.Context, unit string, n int) ([]string, error) {
		rows := make([]vault.ImportRow, n)
		for i := range rows {
			p := synth.Make(demoSeed, canaryNext)
			canaryNext++
			rows[i] = vault.ImportRow{Num: i + 1, Unit: unit, Fields: p.Fields}
		}
		return a.vault.PlantCanaries(ctx, identity.Actor{ID: "system", Role: "admin", Origin: "drill"}, "", rows)
	}
	env.Audit = func(ctx context.Context, from int64) ([]audit.Entry, error) {
		var out []audit.Entry
		for {
			var page []audit.Entry
			err := a.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
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
		err := a.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
			var err error
			n, err = tx.LastAuditSeq(ctx)
			return err
		})
		return n, err
	}
	env.Pending = func(ctx context.Context) error {
		if _, err := a.vault.ExpireConsents(ctx, pendingBatch); err != nil {
			return err
		}
		_, err := a.vault.ApplyContactChanges(ctx, pendingBatch)
		return err
	}
	env.Disable = func(ctx context.Context, id, reason string) error {
		_, err := a.auth.Lifecycle(ctx, auth.Host, nil, auth.Disable, id, reason)
		return err
	}
	env.PersonCode = func(ctx context.Context, subject string) (string, error) {
		var code string
		err := a.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
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
		if err == nil && code == "" {
			err = fmt.Errorf("no code was sent to %s", subject)
		}
		return code, err
	}
	env.Locked = func(ctx context.Context, id string) (string, error) {
		var code string
		err := a.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
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
