package drill

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coffre/coffre/internal/audit"
)

// probe is one request of the policy-probing attacker.
type probe struct {
	method, path    string
	purpose, reason string
	body            any
}

// policyProbing: a stolen caseworker login maps what it may do, one
// request after the other: purposes its role lacks, fields its write
// purpose may not change, a purpose that does not exist, malformed ids,
// routes its role may not call. Every answer is a refusal (nothing is
// read); the attacker goes round its list until it cannot log in any more.
func policyProbing(ctx context.Context, d *Drill, s *scenarioRun) error {
	a, err := d.account(ctx, s, "caseworker", d.units()[17], 250, "10.20.0.11")
	if err != nil {
		return err
	}
	id := a.Caseload[0]
	probes := []probe{
		{method: "GET", path: "/v1/subjects/" + id, purpose: "payroll", reason: attackReason},
		{method: "PATCH", path: "/v1/subjects/" + id, purpose: "case-update", reason: attackReason, body: map[string]any{"fields": map[string]string{"national_id": "184127645108946"}}},
		{method: "GET", path: "/v1/subjects/" + id, purpose: "workplace-adjustment", reason: attackReason},
		{method: "GET", path: "/v1/subjects/sub_00000000", purpose: "case-handling"},
		{method: "DELETE", path: "/v1/subjects/" + id, reason: attackReason},
		{method: "GET", path: "/v1/audit/entries?from=1&to=1000"},
		{method: "PATCH", path: "/v1/subjects/" + id, purpose: "hr-records", reason: attackReason, body: map[string]any{"fields": map[string]string{"job_title": "Directeur"}}},
		{method: "GET", path: "/v1/subjects/" + id, purpose: "export", reason: attackReason},
		{method: "GET", path: "/v1/alerts"},
		{method: "PATCH", path: "/v1/subjects/" + id, purpose: "case-update", reason: attackReason, body: map[string]any{"fields": map[string]string{"salary": "1"}}},
		{method: "POST", path: "/v1/operators", body: map[string]string{"name": "helper", "role": "hr-officer", "unit": a.Unit}},
		{method: "GET", path: "/v1/subjects/" + strings.ToUpper(id), purpose: "case-handling"},
	}
	return hammer(ctx, d, a, 1, 10*len(probes), func(se *session, i int) error {
		p := probes[i%len(probes)]
		st, _, err := se.call(ctx, p.method, p.path, headers(p.purpose, p.reason), p.body, nil)
		s.count(st)
		return err
	})
}

// probingFigures counts the requests of the run's accounts that reached
// the audit log before the lock (the locking one included), and those of
// them that were refused.
func probingFigures(_ *Drill, s *scenarioRun, es []audit.Entry, f map[string]int) {
	locks := s.locks(es)
	f["requests_before_lock"], f["refusals_before_lock"] = 0, 0
	for _, e := range es {
		lock := locks[e.Actor]
		if !s.mine(e.Actor) || strings.HasPrefix(e.Action, "login.") || lock != 0 && e.Seq > lock {
			continue
		}
		f["requests_before_lock"]++
		if strings.HasPrefix(e.Decision, "deny:") {
			f["refusals_before_lock"]++
		}
	}
}

// purposeCombination: a stolen HR officer login assembles, for as many
// people as it can, the national id and birth date (payroll) and the
// health note (workplace-adjustment, which asks for a reason and a fresh
// second factor: the attacker holds the TOTP secret too, and steps up
// whenever asked). Eight clients as fast as the server answers, on the
// worst list there is: the people holding a health note, of its caseload
// first, then of its unit, then anyone.
func purposeCombination(ctx context.Context, d *Drill, s *scenarioRun) error {
	unit := d.units()[18]
	a, err := d.account(ctx, s, "hr-officer", unit, 250, "10.20.0.12")
	if err != nil {
		return err
	}
	list := d.withNotes(unit, a.Caseload, 1000)
	var mu sync.Mutex
	stepped := 0 // step-ups so far
	// read reads id for purpose, stepping up once when asked to (one
	// client at a time: a code works once, and the next one comes with the
	// next 30-second step).
	read := func(se *session, id, purpose string) (int, error) {
		for range 2 {
			mu.Lock()
			seen := stepped
			mu.Unlock()
			st, code, err := se.readCode(ctx, id, purpose, attackReason)
			s.count(st)
			if err != nil || st != http.StatusUnauthorized || code != "step_up_required" {
				return st, err
			}
			mu.Lock()
			if stepped == seen {
				d.Env.Clock.Set(d.Env.Clock.Now().Add(30 * time.Second))
				st, err := se.stepUp(ctx, purpose)
				s.count(st)
				if err != nil || st != http.StatusNoContent {
					mu.Unlock()
					return st, err
				}
				stepped++
			}
			mu.Unlock()
		}
		return http.StatusUnauthorized, nil
	}
	return hammer(ctx, d, a, 8, len(list), func(se *session, i int) error {
		if st, err := read(se, list[i], "payroll"); err != nil || st != http.StatusOK {
			return err
		}
		_, err := read(se, list[i], "workplace-adjustment")
		return err
	})
}

// combinationFigures counts the people whose national id, birth date and
// health note were all returned to the run's accounts, the health notes
// returned, and the step-ups proved.
func combinationFigures(_ *Drill, s *scenarioRun, es []audit.Entry, f map[string]int) {
	got := map[string]map[string]bool{}
	f["people_assembled"], f["health_notes_read"], f["step_ups"] = 0, 0, 0
	for _, e := range es {
		if !s.mine(e.Actor) {
			continue
		}
		if strings.HasPrefix(e.Action, "stepup.") && e.Decision == "allow" {
			f["step_ups"]++
		}
		if e.Action != "read" || !strings.HasPrefix(e.Decision, "allow") {
			continue
		}
		if got[e.Subject] == nil {
			got[e.Subject] = map[string]bool{}
		}
		for _, name := range e.Fields {
			got[e.Subject][name] = true
		}
	}
	for _, fs := range got {
		if fs["health_note"] {
			f["health_notes_read"]++
		}
		if fs["national_id"] && fs["birth_date"] && fs["health_note"] {
			f["people_assembled"]++
		}
	}
}
