package drill

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/audit"
)

// consentPurpose is the demo's purpose that asks for the person's consent
// and allows break-glass (the health note, for occupational health).
const consentPurpose = "occupational-health"

// withNotes lists the people holding a health note, in the order an
// attacker of unit with caseload would want them: the caseload first,
// then the unit, then anyone; at most max.
func (d *Drill) withNotes(unit string, caseload []string, max int) []string {
	var list []string
	for _, id := range caseload {
		if d.Env.Notes[d.indexOf(id)] {
			list = append(list, id)
		}
	}
	for _, j := range d.notIn(unit, caseload) {
		if d.Env.Notes[j] {
			list = append(list, d.Env.IDs[j])
		}
	}
	for j, id := range d.Env.IDs {
		if d.Env.Notes[j] && d.Env.Units[j] != unit {
			list = append(list, id)
		}
	}
	return list[:min(len(list), max)]
}

// consentBreakGlass: a stolen HR officer login goes after health notes
// without the people's consent (the attacker holds the TOTP secret too,
// and steps up whenever asked). It breaks the glass for each person
// holding a note (Coffre-Break-Glass, a plausible emergency typed from
// the hint); once that is refused, it sends consent requests instead,
// hoping someone approves a request they did not expect (nobody does
// here). One client, as fast as the server answers, on the worst list:
// the people with a health note, its caseload first.
func consentBreakGlass(ctx context.Context, d *Drill, s *scenarioRun) error {
	unit := d.units()[19]
	a, err := d.account(ctx, s, "hr-officer", unit, 250, "10.20.0.13")
	if err != nil {
		return err
	}
	list := d.withNotes(unit, a.Caseload, 1000)
	glass := true
	return hammer(ctx, d, a, 1, len(list), func(se *session, i int) error {
		for range 3 {
			hdr := headers(consentPurpose, attackReason)
			if glass {
				hdr["Coffre-Break-Glass"] = "malaise au poste, urgence"
			}
			st, code, err := se.call(ctx, "GET", "/v1/subjects/"+list[i], hdr, nil, nil)
			s.count(st)
			switch {
			case err != nil:
				return err
			case st == http.StatusUnauthorized && code == "step_up_required":
				// A code works once: the next comes with the next step.
				d.Env.Clock.Set(d.Env.Clock.Now().Add(30 * time.Second))
				st, err := se.stepUp(ctx, consentPurpose)
				s.count(st)
				if err != nil || st != http.StatusNoContent {
					return err
				}
			case st == http.StatusTooManyRequests && glass:
				glass = false // the day's break-glass is spent: ask instead
			default:
				return nil
			}
		}
		return nil
	})
}

// consentFigures counts, from the audit log, the health notes returned to
// the run's accounts without the person's consent (break-glass), the
// break-glass reads refused, and the people sent a consent request.
func consentFigures(_ *Drill, s *scenarioRun, es []audit.Entry, f map[string]int) {
	notes, asked := map[string]bool{}, map[string]bool{}
	f["break_glass_refused"] = 0
	for _, e := range es {
		if !s.mine(e.Actor) {
			continue
		}
		switch {
		case e.Action == "read" && e.Decision == "allow:break_glass":
			for _, name := range e.Fields {
				if name == "health_note" {
					notes[e.Subject] = true
				}
			}
		case e.Action == "read" && strings.HasSuffix(e.Decision, ":break_glass"):
			f["break_glass_refused"]++
		case e.Action == "consent.request" && strings.HasPrefix(e.Decision, "allow"):
			asked[e.Subject] = true
		}
	}
	f["health_notes_without_consent"], f["people_asked"] = len(notes), len(asked)
}
