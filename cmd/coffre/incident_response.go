package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/breach"
	"github.com/coffre/coffre/internal/contain"
	"github.com/coffre/coffre/internal/impact"
	"github.com/coffre/coffre/internal/incident"
	"github.com/coffre/coffre/internal/notice"
)

// runIncidentResponse runs the incident commands that act on an incident
// after its opening: contain, impact, report, notify, evidence.
func runIncidentResponse(ctx context.Context, sub string, args []string, stdout, stderr io.Writer) error {
	example := map[string]string{
		"contain":  "coffre incident contain inc_… revoke --dev",
		"impact":   "coffre incident impact inc_… --out exposed.jsonl --dev",
		"report":   "coffre incident report inc_… --phase initial --lang fr --dev",
		"notify":   "coffre incident notify inc_… --dry-run ./letters --dev",
		"evidence": "coffre incident evidence inc_… --out ./evidence --dev",
	}[sub]
	fs := newFlags("incident "+sub, "ID (see coffre incident --help)", example, stderr)
	var o appOptions
	o.flags(fs.StringVar, fs.BoolVar)
	asJSON := fs.Bool("json", false, "print the result as JSON")
	everyone := fs.Bool("everyone", false, "contain revoke: end every session, not the scope's only")
	out := fs.String("out", "", "impact: write each exposed person's fields to this `file` (JSON lines, mode 0600); evidence: write the bundle to this new directory")
	phase := fs.String("phase", incident.Initial, "report: initial, complementary or final")
	lang := fs.String("lang", "fr", "report: fr or en")
	filed := fs.Bool("filed", false, "report: record it as filed with the authorities (its clocks stop)")
	delay := fs.String("delay-reason", "", "report: why it comes more than 72 hours after awareness")
	dryRun := fs.String("dry-run", "", "notify: write sample letters to this `directory` and queue nothing")
	// The id (and contain's act) may come before the flags.
	var pos []string
	for len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		pos, args = append(pos, args[0]), args[1:]
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	pos = append(pos, fs.Args()...)
	want := 1
	if sub == "contain" {
		want = 2
	}
	switch {
	case len(pos) != want || !incident.ValidID(pos[0]):
		if sub == "contain" {
			return &usageError{msg: "want an incident id and an act: " + strings.Join(contain.Acts, ", "), hint: example}
		}
		return errIncidentID
	case *lang != "fr" && *lang != "en":
		return &usageError{msg: "--lang: fr or en", hint: example}
	case sub == "evidence" && *out == "":
		return &usageError{msg: "--out DIR is required: the directory to write the bundle to", hint: example}
	}
	id := pos[0]
	if sub == "evidence" {
		if err := emptyDir(*out); err != nil {
			return err
		}
	}
	a, err := openApp(ctx, o, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	switch sub {
	case "contain":
		c := &contain.Containment{Vault: a.vault, Auth: a.auth}
		res, err := c.Do(ctx, host, id, pos[1], *everyone)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(stdout, res)
		}
		fmt.Fprintf(stdout, "%s: %s\n", res.Act, res.Detail)
	case "impact":
		res, err := a.vault.Impact(ctx, host, id, a.signer.VerifierKey())
		if err != nil {
			return err
		}
		if *out != "" {
			if err := writeExposure(*out, res.People); err != nil {
				return err
			}
		}
		if *asJSON {
			return writeJSON(stdout, map[string]any{"impact": res.Impact, "notes": res.Notes, "out": *out})
		}
		writeImpact(stdout, &res.Impact, res.Notes)
		if *out != "" {
			fmt.Fprintf(stdout, "each person's exposure: %s (%d people; keep it as you keep the records)\n", *out, len(res.People))
		}
	case "report":
		s := breachSettings(a.cfg)
		s.DelayReason = *delay
		rep, err := a.vault.Report(ctx, host, id, *phase, s, *filed)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(stdout, rep)
		}
		fmt.Fprint(stdout, rep.Markdown(*lang))
		return nil
	case "notify":
		if err := notifyBreach(ctx, a, id, *dryRun, *asJSON, stdout); err != nil || *asJSON {
			return err
		}
	case "evidence":
		key := a.signer.VerifierKey()
		ev, err := a.vault.Evidence(ctx, host, id, key)
		if err != nil {
			return err
		}
		if err := writeEvidence(*out, ev, key); err != nil {
			return err
		}
		h := ev.Header
		if *asJSON {
			return writeJSON(stdout, map[string]any{"dir": *out, "entries": h.Entries, "in_window": h.Scanned, "checkpoint_size": h.Size})
		}
		fmt.Fprintf(stdout, "evidence of %s in %s: %d entries in scope (of %d in the window), each with its proof against the checkpoint of size %d\n", id, *out, h.Entries, h.Scanned, h.Size)
		fmt.Fprintf(stdout, "check it: coffre audit verify-evidence %s --key KEY (the published verifier key)\n", *out)
	}
	view, err := a.vault.Incident(ctx, host, id)
	if err != nil {
		return err
	}
	writeClocks(stdout, view.Clocks)
	return nil
}

// notifyBreach queues the incident's letters, or with dryRun writes
// samples: the impact is computed again first (the letters follow the
// log as it is now), and refused if it was never computed.
func notifyBreach(ctx context.Context, a *app, id, dryRun string, asJSON bool, stdout io.Writer) error {
	view, err := a.vault.Incident(ctx, host, id)
	if err != nil {
		return err
	}
	if view.Incident.Impact == nil {
		return fmt.Errorf("%w: compute it first: coffre incident impact %s", breach.ErrNoImpact, id)
	}
	res, err := a.vault.Impact(ctx, host, id, a.signer.VerifierKey())
	if err != nil {
		return err
	}
	if dryRun != "" {
		return sampleLetters(a, view.Incident, res.People, dryRun, stdout)
	}
	l, err := a.vault.NotifyBreach(ctx, host, id, res)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(stdout, l)
	}
	fmt.Fprintf(stdout, "letters queued to %d people on %s (art. 34); the delivery worker sends them, by email or SMS after each record\n", l.People, l.Queued.UTC().Format(time.RFC3339))
	if l.NoContact > 0 {
		fmt.Fprintf(stdout, "%d people have neither email nor phone on file: write to them by post (the letter is the one --dry-run shows)\n", l.NoContact)
	}
	return nil
}

// sampleLetters writes, for review, the letters of the first people
// exposed (five at most), in French and in English, as the delivery
// worker would write them (no address: the person's contact is read when
// a letter is sent).
func sampleLetters(a *app, inc *incident.Incident, people []impact.Person, dir string, stdout io.Writer) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	s := breachSettings(a.cfg)
	n := 0
	for _, p := range people {
		if len(p.Fields) == 0 || n == 5 {
			continue
		}
		n++
		var ex []breach.Exposure
		for _, f := range p.Fields {
			ex = append(ex, breach.Exposure{Field: f.Name, Clear: f.Clear, Mask: f.Mask})
		}
		for _, lang := range []string{"fr", "en"} {
			t := breach.Letter(inc, ex, notice.Contact{Email: "-", Lang: lang}, s, notice.Phrase(a.keys.Ring, p.Subject, lang))
			body := fmt.Sprintf("Subject: %s\n\n%s\n\n--- SMS ---\n%s\n", t.Subject, t.Body, t.SMS)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("letter-%d.%s.txt", n, lang)), []byte(body), 0o600); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(stdout, "%d sample letters in French and English in %s; nothing queued\n", n, dir)
	return nil
}

// writeExposure writes each person's exposure as JSON lines, mode 0600.
func writeExposure(path string, people []impact.Person) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	for _, p := range people {
		if err := enc.Encode(p); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

// writeImpact prints an impact's counts.
func writeImpact(w io.Writer, im *incident.Impact, notes []string) {
	fmt.Fprintf(w, "impact, verified against the checkpoint of %d entries (%d entries in the window, %d in scope):\n", im.LogSize, im.Scanned, im.Matched)
	fmt.Fprintf(w, "  %d people had fields returned (%d field values); %d more confirmed to exist; %d only attempted\n", im.Subjects, im.Records, im.Confirmed, im.Attempted)
	names := make([]string, 0, len(im.Fields))
	for f := range im.Fields {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		c := im.Fields[f]
		how := fmt.Sprintf("%d in clear", c.Clear)
		if c.Mask != "" {
			how += ", the others masked (" + c.Mask + ")"
		}
		fmt.Fprintf(w, "  %-16s %-9s %6d people: %s\n", f, c.Sensitivity, c.Subjects, how)
	}
	for _, m := range []struct {
		name string
		m    map[string]int64
	}{{"by unit", im.Units}, {"by channel", im.Channels}} {
		keys := make([]string, 0, len(m.m))
		for k := range m.m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s %d", k, m.m[k]))
		}
		if len(parts) > 0 {
			fmt.Fprintf(w, "  %s: %s\n", m.name, strings.Join(parts, ", "))
		}
	}
	if im.Told > 0 {
		fmt.Fprintf(w, "  already told of every access by a notice: %d\n", im.Told)
	}
	for _, n := range notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}
