package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/coffre/coffre/internal/breach"
	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/contain"
	"github.com/coffre/coffre/internal/drill"
	"github.com/coffre/coffre/internal/impact"
	"github.com/coffre/coffre/internal/incident"
	"github.com/coffre/coffre/internal/mailsink"
	"github.com/coffre/coffre/internal/outbox"
	"github.com/coffre/coffre/internal/store"
)

// rehearsalScenarios are the attacks a rehearsal answers: a scrape
// through compromised staff accounts, and a hijacked partner client.
var rehearsalScenarios = []string{"versailles-scrape", "partner-hijack"}

// rehearsal is a breach-response exercise on a scratch store: a server
// serving a synthetic directory, the drill's attacks against it, then the
// whole response to each.
type rehearsal struct {
	a    *app
	env  *drill.Env
	stop func()
}

// rehearsed is the response to one attack, with its times (wall clock,
// from the incident's opening).
type rehearsed struct {
	Scenario    string           `json:"scenario"`
	Incident    string           `json:"incident"`
	Exfiltrated int              `json:"exfiltrated"` // as the drill counted it
	Impact      *incident.Impact `json:"impact"`
	Letters     int64            `json:"letters"`
	// Seconds from the opening to containment done, to the impact, to a
	// ready report, and to every letter handed to the mail server.
	Contained float64 `json:"contained_s"`
	Impacted  float64 `json:"impact_s"`
	Reported  float64 `json:"report_s"`
	Delivered float64 `json:"letters_delivered_s"`
	people    []impact.Person
	report    *breach.Report
	accounts  []string
}

// startRehearsal loads people into a scratch store in dir and serves it,
// delivering mail to the SMTP server smtp.
func startRehearsal(ctx context.Context, dir string, people int, smtp config.SMTP, stderr io.Writer) (*rehearsal, error) {
	clock := drill.NewClock(time.Now())
	f, err := startNodes(ctx, 1, appOptions{dev: true, dataDir: dir, now: clock.Now})
	if err != nil {
		f.stop()
		return nil, err
	}
	a := f.apps[0]
	a.cfg.Delivery.SMTP = smtp
	a.cfg.Delivery.Rates.Email = 10000
	env, err := drillEnv(ctx, f.on, people, clock, stderr)
	if err == nil {
		err = f.serve(ctx, env)
	}
	if err != nil {
		f.stop()
		return nil, err
	}
	return &rehearsal{a: a, env: env, stop: f.stop}, nil
}

// run replays the attacks, then answers each: an incident naming the
// attacker's accounts from the attack's start, containment (sessions
// revoked, operators locked and their second factors erased, partners'
// credentials revoked), the impact
// once the log is signed, the initial report, the letters, delivered.
func (r *rehearsal) run(ctx context.Context, log io.Writer) ([]rehearsed, error) {
	d := drill.New(r.env, r.env.Clock.Now())
	d.Log = log
	rs, err := d.Run(ctx, rehearsalScenarios)
	if err != nil {
		return nil, err
	}
	var out []rehearsed
	for _, res := range rs {
		x, err := r.respond(ctx, res)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", res.Scenario, err)
		}
		out = append(out, *x)
	}
	return out, nil
}

// respond is the response to one attack.
func (r *rehearsal) respond(ctx context.Context, res drill.Result) (*rehearsed, error) {
	a := r.a
	x := &rehearsed{Scenario: res.Scenario, Exfiltrated: res.Exfiltrated, accounts: res.AccountIDs}
	scope := incident.Scope{Partners: res.Partners, From: res.Start.Add(-time.Minute)}
	for _, id := range res.AccountIDs {
		if !slices.Contains(res.Partners, id) {
			scope.Operators = append(scope.Operators, id)
		}
	}
	start := time.Now()
	inc, err := a.vault.OpenIncident(ctx, host, &incident.Incident{Title: "rehearsal: " + res.Scenario, Nature: []string{incident.Confidentiality},
		Aware: r.env.Clock.Now().UTC(), Detection: "guard alert (rehearsal)", Scope: scope})
	if err != nil {
		return nil, err
	}
	x.Incident = inc.ID
	c := &contain.Containment{Vault: a.vault, Auth: a.auth}
	acts := []string{contain.Revoke}
	if len(scope.Operators) > 0 {
		acts = append(acts, contain.Lock, contain.Reenrol)
	}
	if len(scope.Partners) > 0 {
		acts = append(acts, contain.RevokePartners)
	}
	for _, act := range acts {
		if _, err := c.Do(ctx, host, inc.ID, act, false); err != nil {
			return nil, fmt.Errorf("contain %s: %w", act, err)
		}
	}
	x.Contained = time.Since(start).Seconds()
	if err := r.signed(ctx); err != nil {
		return nil, err
	}
	ir, err := a.vault.Impact(ctx, host, inc.ID, a.signer.VerifierKey())
	if err != nil {
		return nil, err
	}
	x.Impact, x.people = &ir.Impact, ir.People
	x.Impacted = time.Since(start).Seconds()
	if x.report, err = a.vault.Report(ctx, host, inc.ID, incident.Initial, breachSettings(a.cfg), false); err != nil {
		return nil, err
	}
	x.Reported = time.Since(start).Seconds()
	l, err := a.vault.NotifyBreach(ctx, host, inc.ID, ir)
	if err != nil {
		return nil, err
	}
	x.Letters = l.People
	if err := r.delivered(ctx, inc.ID, l.People); err != nil {
		return nil, err
	}
	x.Delivered = time.Since(start).Seconds()
	return x, nil
}

// signed waits until the integrator has signed every entry written so far.
func (r *rehearsal) signed(ctx context.Context) error {
	last, err := r.env.LastSeq(ctx)
	if err != nil {
		return err
	}
	for deadline := time.Now().Add(time.Minute); ; {
		var size uint64
		err := r.a.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
			cp, err := tx.LatestCheckpoint(ctx)
			if cp != nil {
				size = cp.Size
			}
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		})
		switch {
		case err != nil:
			return err
		case size >= uint64(last):
			return nil
		case time.Now().After(deadline):
			return fmt.Errorf("the audit log was not signed up to entry %d within a minute", last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// delivered waits until the incident's n letters have left the queue
// (sent or dead).
func (r *rehearsal) delivered(ctx context.Context, id string, n int64) error {
	for deadline := time.Now().Add(2 * time.Minute); ; {
		var done int64
		err := r.a.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
			done = 0
			for after := int64(0); ; {
				ms, err := tx.Messages(ctx, after, 1000)
				if err != nil || len(ms) == 0 {
					return err
				}
				for _, m := range ms {
					if m.Kind == breach.LetterKind && m.Status != outbox.StatusPending {
						if lm, err := breach.DecodeLetter(m.Payload); err == nil && lm.Incident == id {
							done++
						}
					}
				}
				after = ms[len(ms)-1].ID
			}
		})
		switch {
		case err != nil:
			return err
		case done >= n:
			return nil
		case time.Now().After(deadline):
			return fmt.Errorf("%d of %d letters left the queue within 2 minutes", done, n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

const incidentDrillExample = "coffre incident drill --people 20000"

// runIncidentDrill is coffre incident drill: a tabletop exercise as a
// command.
func runIncidentDrill(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("incident drill", "[--people N] [--data DIR] [--json]", incidentDrillExample, stderr)
	people := fs.Int("people", 20000, "synthetic people in the directory")
	data := fs.String("data", "", "data `directory` (default: a temporary one, removed afterwards)")
	asJSON := fs.Bool("json", false, "print the results as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *people < 20000 || *people > 10_000_000 {
		return &usageError{msg: "--people must be between 20,000 and 10,000,000 (the scenarios need full units)", hint: incidentDrillExample}
	}
	dir := *data
	if dir == "" {
		tmp, err := os.MkdirTemp("", "coffre-incident-drill-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	sink, err := mailsink.Start("", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer sink.Close()
	r, err := startRehearsal(ctx, dir, *people, config.SMTP{Host: "127.0.0.1", Port: sink.Addr().Port, StartTLS: "none", From: "coffre@drill.localhost"}, stderr)
	if err != nil {
		return err
	}
	defer r.stop()
	out, err := r.run(ctx, stderr)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"people": *people, "responses": out})
	}
	fmt.Fprintf(stdout, "%-18s %-21s %11s %8s %8s %8s %10s %9s %7s %10s\n", "scenario", "incident", "exfiltrated", "exposed", "values", "letters", "contained", "impact", "report", "delivered")
	for _, x := range out {
		fmt.Fprintf(stdout, "%-18s %-21s %11d %8d %8d %8d %9.2fs %8.2fs %6.2fs %9.2fs\n", x.Scenario, x.Incident, x.Exfiltrated, x.Impact.Subjects, x.Impact.Records,
			x.Letters, x.Contained, x.Impacted, x.Reported, x.Delivered)
	}
	fmt.Fprintf(stdout, "\n%d people; times from each incident's opening (wall clock); the attack itself ran in simulated time.\n", *people)
	return nil
}
