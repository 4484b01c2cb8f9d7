package drill

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/coffre/coffre/internal/audit"
)

// The attacks on the write paths: a change or a create that sets a lookup
// value answers 409 when someone holds it, a membership oracle; an erasure
// cannot be undone.

// leaked returns a leaked list of n work emails, a share real of them in
// the directory and the rest not (an older address, a typo), in shuffled
// order.
func (d *Drill) leaked(n int, real float64) []string {
	out := make([]string, 0, n)
	for len(out) < int(float64(n)*real) {
		out = append(out, d.Env.Emails[d.rng.IntN(len(d.Env.Emails))])
	}
	for len(out) < n {
		e := d.Env.Emails[d.rng.IntN(len(d.Env.Emails))]
		out = append(out, fmt.Sprintf("%d.%s", d.rng.IntN(90)+10, e))
	}
	d.rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// updateOracle: a stolen caseworker login tests a leaked list of (name,
// work email) pairs, 80% of them real, by setting the work email of a
// person of its own caseload (the record it may change at the least cost:
// no out-of-caseload budget) to each email in turn, with a reason: 409
// says the email belongs to someone, 202 that it is free (the change then
// waits out the cooling-off of a contact field). Four clients, as
// fast as the server answers.
func updateOracle(ctx context.Context, d *Drill, s *scenarioRun) error {
	a, err := d.account(ctx, s, "caseworker", d.units()[14], 250, "10.20.0.8")
	if err != nil {
		return err
	}
	target := a.Caseload[0]
	d.spoil(target) // its email changes
	emails := d.leaked(2000, 0.8)
	return hammer(ctx, d, a, 4, len(emails), func(se *session, i int) error {
		st, _, err := se.update(ctx, target, "case-update", attackReason, map[string]string{"email_pro": emails[i]})
		s.count(st)
		return err
	})
}

// createProbe: the same oracle through creates: a stolen caseworker login
// creates, in its own unit (the only one it may), a person for each email
// of a leaked list (80% real), four clients as fast as the server answers:
// 409 says the email exists.
func createProbe(ctx context.Context, d *Drill, s *scenarioRun) error {
	a, err := d.account(ctx, s, "caseworker", d.units()[15], 250, "10.20.0.9")
	if err != nil {
		return err
	}
	emails := d.leaked(2000, 0.8)
	return hammer(ctx, d, a, 4, len(emails), func(se *session, i int) error {
		given, family := nameOf(emails[i])
		_, st, err := se.create(ctx, a.Unit, map[string]string{"given_name": given, "family_name": family, "email_pro": emails[i]})
		s.count(st)
		return err
	})
}

// nameOf makes a plausible name from an email's local part
// ("marie.dupont3@…" → Marie, Dupont), as an attacker would fill a form.
func nameOf(email string) (given, family string) {
	local, _, _ := strings.Cut(email, "@")
	local = strings.TrimRight(strings.TrimLeft(local, "0123456789."), "0123456789")
	given, family, _ = strings.Cut(local, ".")
	if given == "" {
		given = "Marie"
	}
	if family == "" {
		family = "Martin"
	}
	return given, family
}

// oracleFigures counts, for the accounts of the run, the action's
// attempts whose lookup value was confirmed taken (409, and the conflict
// that locked: the lock entry follows it, and the attacker can tell the
// lock came from it; the refusals of a locked account, audited with the
// lock's code too, tell nothing) and those that proved it free (allowed).
func oracleFigures(action string) func(d *Drill, s *scenarioRun, es []audit.Entry, f map[string]int) {
	return func(_ *Drill, s *scenarioRun, es []audit.Entry, f map[string]int) {
		locks := s.locks(es)
		f["values_confirmed"], f["values_free"], f["attempts"] = 0, 0, 0
		for _, e := range es {
			if e.Action != action || !s.mine(e.Actor) {
				continue
			}
			f["attempts"]++
			switch {
			case e.Decision == "deny:conflict",
				e.Decision == "deny:locked:conflicts" && locks[e.Actor] == e.Seq+1:
				f["values_confirmed"]++
			case strings.HasPrefix(e.Decision, "allow"):
				f["values_free"]++
			}
		}
	}
}

// eraseSpree: a stolen HR officer login erases as many people as it can,
// with a reason, eight clients as fast as the server answers: its own
// caseload first (in scope: the least it must get past), then its unit,
// then anyone.
func eraseSpree(ctx context.Context, d *Drill, s *scenarioRun) error {
	unit := d.units()[16]
	a, err := d.account(ctx, s, "hr-officer", unit, 250, "10.20.0.10")
	if err != nil {
		return err
	}
	list := append([]string(nil), a.Caseload...)
	for _, j := range d.notIn(unit, a.Caseload) {
		list = append(list, d.Env.IDs[j])
	}
	list = append(list, d.Env.IDs...)
	list = list[:min(len(list), 1000)]
	return hammer(ctx, d, a, 8, len(list), func(se *session, i int) error {
		st, err := se.erase(ctx, list[i], attackReason)
		s.count(st)
		if st == http.StatusNoContent {
			d.spoil(list[i]) // gone for the scenarios after
		}
		return err
	})
}

// erasureFigures counts the people erased and, day by day, those beyond
// the role's erasures_per_day.
func erasureFigures(d *Drill, s *scenarioRun, es []audit.Entry, f map[string]int) {
	budget := d.Env.Limits["hr-officer"].ErasuresPerDay
	byDay := map[string]int{}
	f["erased"], f["erasures_refused"], f["erasures_per_day"], f["erased_beyond_budget"] = 0, 0, budget, 0
	for _, e := range es {
		if e.Action != "erase" || !s.mine(e.Actor) {
			continue
		}
		if !strings.HasPrefix(e.Decision, "allow") {
			f["erasures_refused"]++
			continue
		}
		f["erased"]++
		byDay[e.Time.In(d.Env.Location).Format("2006-01-02")]++
	}
	for _, n := range byDay {
		f["erased_beyond_budget"] += max(0, n-budget)
	}
}
