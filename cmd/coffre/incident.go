package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/incident"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/vault"
)

const incidentExample = `coffre incident open --title "scrape through an HR account" --operators camille --from 2026-11-28T08:00:00Z --dev`

// incidentHelp is `coffre incident --help`.
const incidentHelp = `Usage: coffre incident open --title TEXT (--operators U,… | --partners P,… | --origins CIDR,… | --everything | --store-stolen) --from TIME [--to TIME] [--aware TIME] [--nature N,…] [--detection TEXT]
       coffre incident list
       coffre incident show ID
       coffre incident scope ID (as open: --operators … --from …)
       coffre incident contain ID ACT [--everyone]
       coffre incident impact ID [--out FILE]
       coffre incident report ID [--phase initial|complementary|final] [--lang fr|en] [--json] [--filed] [--delay-reason TEXT]
       coffre incident notify ID [--dry-run DIR]
       coffre incident evidence ID --out DIR
       coffre incident drill [--people N]

Breach response, on the host (audited as the system; the API offers the
same to the security-officer and dpo roles: POST /v1/incidents).

  open    records an incident: when the organisation became aware of it
          (--aware, default now: the GDPR's 72-hour and NIS2's 24-hour,
          72-hour and one-month clocks start then), its nature
          (confidentiality, integrity, availability; default
          confidentiality) and its scope: the operators (usernames or ids),
          partners (ids) and origins (addresses or CIDRs) that were
          compromised, within the window --from … --to (no --to: ongoing);
          or --everything when the vector is unknown (every access in the
          window counts); or --store-stolen when the store or a backup was
          taken (--keys-safe: the keys could not have left with it).
  list    the breach register: every incident, notified or not (GDPR
          art. 33(5)).
  show    one incident: its scope, clocks and timeline.
  scope   replaces an incident's scope (the impact is then computed again).
  contain runs one act of containment, on the incident's timeline: revoke
          (the scope's sessions; --everyone: every session), lock or
          disable (the scope's operators), reenrol (the scope's operators'
          second factors erased: each enrols again with a new code,
          coffre operator enrol-code), revoke-partners (the scope's
          partners' key and certificate stop working at once: issue new
          ones with coffre partner rotate). Sealing a running server and
          rotating its root key are the API's (a security officer: POST
          /v1/incidents/ID/contain), or coffre seal.
  impact  verifies the audit log's entries of the scope's window against
          the latest signed checkpoint (and refuses on a log that fails,
          naming the first bad entry), then counts exactly which people had
          which fields returned to the scope, in clear or by which mask,
          and who was only attempted; --out FILE writes each person's
          exposure (ids and field names, JSON lines, mode 0600): never to
          a log.
  report  the report to the authorities: GDPR art. 33(3), the CNIL's form,
          NIS2's early warning, notification or final report, as Markdown
          (--lang) or JSON; a draft unless --filed, which records it as
          sent (its clocks stop). More than 72 hours after awareness it
          needs --delay-reason.
  notify  queues the art. 34 letter to each person whose fields were
          exposed, through the delivery worker (by email, else SMS;
          people with neither are counted, to write to by post); run
          twice, it queues nothing more. --dry-run DIR writes sample
          letters, French and English, and queues nothing.
  evidence
          the evidence bundle for a complaint: the scope's audit entries of
          its window (those the impact counts), each with its inclusion
          proof against the latest signed checkpoint, the checkpoint and
          the verifier key, and a README for the investigator (French and
          English), in a new directory (mode 0700, files 0600). Anyone
          holding the published key checks it offline: coffre audit
          verify-evidence DIR. Refused on a log that fails verification.
  drill   a tabletop exercise: on a scratch store, the drill's
          versailles-scrape and partner-hijack attacks, then the whole
          response to each (incident, containment, impact, report,
          letters delivered to a local mail sink), with its times.

Every command on one incident prints its clocks (a report holds them). Times are RFC 3339
(2026-11-28T08:00:00Z) or dates (2026-11-28, midnight UTC). The title and
the detection are one line each, and must hold no personal data.

Example:
  ` + incidentExample + `
  coffre incident show inc_… --dev
`

func runIncident(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(stderr, incidentHelp)
		return flag.ErrHelp
	}
	subs := []string{"open", "list", "show", "scope", "contain", "impact", "report", "notify", "evidence", "drill"}
	if len(args) == 0 || !slices.Contains(subs, args[0]) {
		return &usageError{msg: "want a subcommand: " + strings.Join(subs, ", "), hint: incidentExample}
	}
	sub := args[0]
	if sub == "drill" {
		return runIncidentDrill(ctx, args[1:], stdout, stderr)
	}
	if !slices.Contains([]string{"open", "list", "show", "scope"}, sub) {
		return runIncidentResponse(ctx, sub, args[1:], stdout, stderr)
	}
	fs := newFlags("incident "+sub, "(see coffre incident --help)", incidentExample, stderr)
	var o appOptions
	o.flags(fs.StringVar, fs.BoolVar)
	asJSON := fs.Bool("json", false, "print the result as JSON")
	var sf scopeFlags
	var title, aware, nature, detection string
	if sub == "open" || sub == "scope" {
		sf.add(fs)
	}
	if sub == "open" {
		fs.StringVar(&title, "title", "", "what happened, in one line with no personal data")
		fs.StringVar(&aware, "aware", "", "when the organisation became aware of the breach (`time`; default now): the clocks start then")
		fs.StringVar(&nature, "nature", incident.Confidentiality, "what the breach compromised: confidentiality, integrity, availability (comma-separated)")
		fs.StringVar(&detection, "detection", "", "how the breach was found (an alert, a report…), one line")
	}
	args = args[1:]
	if sub == "show" || sub == "scope" {
		args = argFirst(args)
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	id := ""
	switch {
	case (sub == "show" || sub == "scope") && (fs.NArg() != 1 || !incident.ValidID(fs.Arg(0))):
		return errIncidentID
	case (sub == "open" || sub == "list") && fs.NArg() != 0:
		return &usageError{msg: "unexpected argument " + fs.Arg(0), hint: incidentExample}
	case sub == "show" || sub == "scope":
		id = fs.Arg(0)
	}
	var scope incident.Scope
	if sub == "open" || sub == "scope" {
		var err error
		if scope, err = sf.scope(); err != nil {
			return err
		}
	}
	a, err := openApp(ctx, o, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	if err := a.resolveOperators(ctx, scope.Operators); err != nil {
		return err
	}
	now := time.Now()
	var view *vault.IncidentView
	switch sub {
	case "open":
		inc := &incident.Incident{Title: title, Detection: detection, Nature: splitList(nature), Scope: scope, Aware: now.UTC()}
		if aware != "" {
			if inc.Aware, err = parseTime(aware); err != nil {
				return &usageError{msg: "--aware: " + err.Error(), hint: incidentExample}
			}
		}
		if inc, err = a.vault.OpenIncident(ctx, host, inc); err != nil {
			return err
		}
		id = inc.ID
	case "scope":
		if _, err := a.vault.ChangeScope(ctx, host, id, scope); err != nil {
			return err
		}
	case "list":
		list, err := a.vault.Incidents(ctx, host)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(stdout, list)
		}
		if len(list) == 0 {
			fmt.Fprintln(stdout, "no incident")
		}
		for _, inc := range list {
			fmt.Fprintf(stdout, "%s  %-9s  aware %s  %s\n", inc.ID, inc.Status, inc.Aware.UTC().Format(time.RFC3339), inc.Title)
		}
		return nil
	}
	if view, err = a.vault.Incident(ctx, host, id); err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, view)
	}
	writeIncident(stdout, view, now)
	return nil
}

var errIncidentID = &usageError{msg: "want one incident id (inc_ and 16 letters and digits)", hint: "coffre incident list shows them"}

// scopeFlags are the flags of a scope (incident open and scope).
type scopeFlags struct {
	operators, partners, origins, from, to string
	everything, stolen, keysSafe           bool
}

func (f *scopeFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&f.operators, "operators", "", "compromised operators: usernames or ids, comma-separated")
	fs.StringVar(&f.partners, "partners", "", "compromised partners: ids, comma-separated")
	fs.StringVar(&f.origins, "origins", "", "attacker origins: addresses or CIDRs, comma-separated")
	fs.StringVar(&f.from, "from", "", "the window's start (`time`): when the breach began, or the earliest it may have")
	fs.StringVar(&f.to, "to", "", "the window's end (`time`); none: ongoing")
	fs.BoolVar(&f.everything, "everything", false, "every access in the window counts (the vector is unknown)")
	fs.BoolVar(&f.stolen, "store-stolen", false, "the store or a backup of it was taken")
	fs.BoolVar(&f.keysSafe, "keys-safe", false, "with --store-stolen: the keys could not have left with it (shares, HSM or KMS)")
}

// scope reads the flags into a scope; the vault checks it.
func (f *scopeFlags) scope() (incident.Scope, error) {
	s := incident.Scope{Operators: splitList(f.operators), Partners: splitList(f.partners), Origins: splitList(f.origins),
		Everything: f.everything, StoreStolen: f.stolen, KeysSafe: f.keysSafe}
	var err error
	if f.from == "" {
		return s, &usageError{msg: "--from is required: the window's start", hint: incidentExample}
	}
	if s.From, err = parseTime(f.from); err != nil {
		return s, &usageError{msg: "--from: " + err.Error(), hint: incidentExample}
	}
	if f.to != "" {
		if s.To, err = parseTime(f.to); err != nil {
			return s, &usageError{msg: "--to: " + err.Error(), hint: incidentExample}
		}
	}
	return s, nil
}

// resolveOperators replaces the usernames among ids with the operators'
// ids (an id is kept as it is; an unknown name too: the vault refuses it).
func (a *app) resolveOperators(ctx context.Context, ids []string) error {
	return a.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		for k, name := range ids {
			op, err := tx.GetOperatorByName(ctx, name)
			if errors.Is(err, store.ErrNotFound) {
				continue
			} else if err != nil {
				return err
			}
			ids[k] = op.ID
		}
		return nil
	})
}

// parseTime reads an RFC 3339 time or a date (midnight UTC).
func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("want an RFC 3339 time (2026-11-28T08:00:00Z) or a date (2026-11-28), not %q", s)
}

// splitList splits a comma-separated flag, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// writeIncident prints an incident, its clocks and its timeline.
func writeIncident(w io.Writer, v *vault.IncidentView, now time.Time) {
	inc := v.Incident
	fmt.Fprintf(w, "incident %s: %s\n", inc.ID, inc.Title)
	fmt.Fprintf(w, "  status %s; nature %s; aware %s; opened %s by %s\n", inc.Status, strings.Join(inc.Nature, ", "),
		inc.Aware.UTC().Format(time.RFC3339), inc.Opened.UTC().Format(time.RFC3339), inc.OpenedBy)
	fmt.Fprintf(w, "  scope: %s\n", vault.ScopeDetail(inc.Scope))
	if im := inc.Impact; im != nil {
		fmt.Fprintf(w, "  impact (log of %d entries): %d people exposed, %d field values; %d people only attempted\n", im.LogSize, im.Subjects, im.Records, im.Attempted)
	}
	writeClocks(w, v.Clocks)
	if len(v.Events) > 0 {
		fmt.Fprintln(w, "timeline:")
	}
	for _, e := range v.Events {
		fmt.Fprintf(w, "  %s  %-16s %s  (%s, audit entry %d)\n", e.At.UTC().Format(time.RFC3339), e.Kind, e.Detail, e.Actor, e.Audit)
	}
}

// writeClocks prints an incident's clocks: every incident command does.
func writeClocks(w io.Writer, cs []incident.Clock) {
	fmt.Fprintln(w, "clocks:")
	for _, c := range cs {
		state := ""
		switch {
		case !c.Done.IsZero() && c.Overdue:
			state = "done late, " + c.Done.UTC().Format(time.RFC3339)
		case !c.Done.IsZero():
			state = "done " + c.Done.UTC().Format(time.RFC3339)
		case c.Overdue:
			state = "OVERDUE by " + (-c.Left).Round(time.Minute).String()
		default:
			state = c.Left.Round(time.Minute).String() + " left"
		}
		fmt.Fprintf(w, "  %-20s due %s (%s): %s\n", c.Name, c.Due.UTC().Format(time.RFC3339), c.Law, state)
	}
}
