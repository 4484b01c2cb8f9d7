package drill

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/audit"
)

// caseworkerWeek: 50 caseworkers over a working week, each handling 30–60
// people a day: mostly their caseload (93%), some of their unit (6%), a
// few of other units with a reason (1%); each person visited one to three
// times a day, a third found by email lookup first, one lookup in ten
// mistyped. One person in twelve has something changed on the first visit
// (a move, a new phone, a new job, a corrected email: see [Drill.change]),
// and a caseworker creates a new person in its unit on about one day in
// three, then opens the new record.
//
// The caseloads (250 people each) are assigned through the API by the
// units' supervisors on the working days before (see
// [Drill.assignThroughAPI]), not on the host: the production path, with
// its guard and budgets.
func caseworkerWeek(ctx context.Context, d *Drill, s *scenarioRun) error {
	n := max(50/d.Scale, 2)
	units := d.units()
	var accs []*Account
	for i := range n {
		unit := units[(20+i)%len(units)]
		a, err := d.staff(ctx, s, "caseworker", unit, 250, fmt.Sprintf("10.1.%d.%d", i/200, 10+i%200))
		if err != nil {
			return err
		}
		accs = append(accs, a)
	}
	if err := d.assignThroughAPI(ctx, s, accs); err != nil {
		return err
	}
	var evs []event
	person := 0
	for i, a := range accs {
		others := d.notIn(a.Unit, a.Caseload)
		for day := range 5 {
			base := s.start.AddDate(0, 0, day)
			morning := time.Date(base.Year(), base.Month(), base.Day(), 8, 30, 0, 0, d.Env.Location)
			people := 30 + d.rng.IntN(31)
			for range people {
				person++
				e := event{acc: i, purpose: "case-handling", person: person}
				j := -1
				switch r := d.rng.Float64(); {
				case r < 0.93:
					e.id = a.Caseload[d.rng.IntN(len(a.Caseload))]
				case r < 0.99:
					j = others[d.rng.IntN(len(others))]
				default:
					j = d.anyone()
					e.reason = "transfer request " + fmt.Sprint(1000+d.rng.IntN(9000))
				}
				if j >= 0 {
					e.id = d.Env.IDs[j]
				}
				e.at = morning.Add(time.Duration(d.rng.Int64N(int64(8*time.Hour + 30*time.Minute))))
				first := e
				if d.rng.Float64() < 1.0/3 {
					first.email = d.emailOf(e.id)
					first.typo = d.rng.Float64() < 0.1
				}
				if d.rng.Float64() < 1.0/12 {
					first.change, first.changeReason = d.change()
				}
				evs = append(evs, first)
				t := e.at
				for range d.rng.IntN(3) { // repeat visits later that day
					t = t.Add(5*time.Minute + time.Duration(d.rng.Int64N(int64(2*time.Hour))))
					if t.Hour() >= 18 {
						break
					}
					r := e
					r.at = t
					evs = append(evs, r)
				}
			}
			if d.rng.Float64() < 0.3 {
				person++
				at := morning.Add(time.Duration(d.rng.Int64N(int64(8 * time.Hour))))
				evs = append(evs, event{at: at, acc: i, purpose: "case-handling", person: person, create: d.newPerson()})
			}
		}
	}
	return d.play(ctx, s, accs, evs, false)
}

// assignThroughAPI assigns the caseloads set aside for accs (see
// [Drill.staff]) as a team does: one supervisor of each unit (created on
// the host, one of the scenario's accounts, so that a lock of it counts as
// a false lockout too) sends PUT /v1/operators/{id}/caseload at 09:00 on
// the working days before the scenario's Monday, each assignment until a
// month after it. A supervisor assigns at most its role's
// assignments_per_day people a day (demo: 300, one caseload of 250) and 500
// a request, so a unit with two caseworkers is set up over two days, the
// Thursday and the Friday: the budget is what bounds a team lead's day,
// and the drill keeps to it rather than raising it or adding team leads.
func (d *Drill) assignThroughAPI(ctx context.Context, s *scenarioRun, accs []*Account) error {
	lim := d.Env.Limits["supervisor"]
	budget := lim.AssignmentsPerDay
	if budget <= 0 || budget > maxAssignBatch {
		budget = maxAssignBatch
	}
	until := s.start.AddDate(0, 1, 0)
	type job struct {
		sup, to *Account
		ids     []string
		day     int // working days before the Monday, 1 = the last one
	}
	var jobs []job
	var units []string
	byUnit := map[string][]*Account{}
	for _, a := range accs {
		if byUnit[a.Unit] == nil {
			units = append(units, a.Unit)
		}
		byUnit[a.Unit] = append(byUnit[a.Unit], a)
	}
	for i, u := range units {
		sup, err := d.staff(ctx, s, "supervisor", u, 0, fmt.Sprintf("10.1.250.%d", 10+i%200))
		if err != nil {
			return err
		}
		// Pack the unit's caseloads into days of at most budget people,
		// in requests of at most maxAssignBatch, then count the days back
		// from the Friday before.
		first, day, left := len(jobs), 0, 0
		for _, a := range byUnit[u] {
			for ids := a.Caseload; len(ids) > 0; {
				if left == 0 {
					day, left = day+1, budget
				}
				k := min(len(ids), left)
				jobs = append(jobs, job{sup: sup, to: a, ids: ids[:k], day: day})
				ids, left = ids[k:], left-k
			}
		}
		for j := first; j < len(jobs); j++ {
			jobs[j].day = day - jobs[j].day + 1
		}
	}
	// Working days before the Monday, latest first.
	var days []time.Time
	for t := s.start.AddDate(0, 0, -1); len(days) < 5; t = t.AddDate(0, 0, -1) {
		at := time.Date(t.Year(), t.Month(), t.Day(), 9, 0, 0, 0, d.Env.Location)
		if lim.Hours.Open(at) {
			days = append(days, at)
		}
	}
	slices.SortStableFunc(jobs, func(a, b job) int { return b.day - a.day })
	type daySession struct {
		sup *Account
		day int
	}
	sessions := map[daySession]*session{} // a login a day: yesterday's session is over
	for i, j := range jobs {
		if j.day > len(days) {
			return fmt.Errorf("unit %s: %d days of assignments do not fit the week before", j.sup.Unit, j.day)
		}
		d.Env.Clock.Set(days[j.day-1].Add(time.Duration(i) * time.Second))
		k := daySession{j.sup, j.day}
		se := sessions[k]
		if se == nil {
			se = &session{c: d.client, a: j.sup}
			sessions[k] = se
		}
		st, code, err := se.assignCaseload(ctx, j.to.ID, j.ids, until)
		s.count(st)
		if err != nil {
			return err
		}
		if st != http.StatusOK {
			return fmt.Errorf("supervisor %s assigning %d people to %s: %d %s", j.sup.Name, len(j.ids), j.to.Name, st, code)
		}
	}
	return nil
}

// maxAssignBatch is the most ids PUT /v1/operators/{id}/caseload takes.
const maxAssignBatch = 500

// supportDesk: 20 support agents over two days, answering calls from
// anyone in the directory: one every 2–4 minutes in the 08:30–10:30 peak,
// one every 8–15 minutes after; each caller found by email lookup (one in
// twenty mistyped), read once, a fifth of them twice; one caller in ten
// calls back.
//
// One call in fifteen asks for a change (a move, a new phone, …). The help
// desk may not change records (the support role reads only), so the agent
// files a ticket for the caller's caseworker, who opens the record and
// makes the change 20 to 90 minutes later: 10 caseworkers of different
// units handle these tickets, and the callers who ask for a change are
// people of their caseloads.
func supportDesk(ctx context.Context, d *Drill, s *scenarioRun) error {
	n := max(20/d.Scale, 2)
	var accs []*Account
	for i := range n {
		a, err := d.account(ctx, s, "support", d.units()[i%len(d.units())], 0, fmt.Sprintf("10.2.0.%d", 10+i))
		if err != nil {
			return err
		}
		accs = append(accs, a)
	}
	back := max(10/d.Scale, 2)
	for i := range back {
		a, err := d.account(ctx, s, "caseworker", d.units()[(5+3*i)%len(d.units())], 250, fmt.Sprintf("10.2.1.%d", 10+i))
		if err != nil {
			return err
		}
		accs = append(accs, a)
	}
	var evs []event
	person := 0
	for i := range n {
		var callers []int
		for day := range 2 {
			base := s.start.AddDate(0, 0, day)
			t := time.Date(base.Year(), base.Month(), base.Day(), 8, 30, 0, 0, d.Env.Location).Add(time.Duration(d.rng.IntN(120)) * time.Second)
			end := time.Date(base.Year(), base.Month(), base.Day(), 17, 30, 0, 0, d.Env.Location)
			peak := t.Add(2 * time.Hour)
			for t.Before(end) {
				person++
				j := d.anyone()
				ticket := d.rng.Float64() < 1.0/15
				caseworker := n + d.rng.IntN(back)
				switch {
				case ticket:
					load := accs[caseworker].Caseload
					j = d.indexOf(load[d.rng.IntN(len(load))])
				case len(callers) > 0 && d.rng.Float64() < 0.1:
					j = callers[d.rng.IntN(len(callers))]
				}
				callers = append(callers, j)
				e := event{at: t, acc: i, email: d.Env.Emails[j], typo: d.rng.Float64() < 0.05, purpose: "support-call", person: person}
				evs = append(evs, e)
				if d.rng.Float64() < 0.2 {
					r := event{at: t.Add(time.Duration(30+d.rng.IntN(150)) * time.Second), acc: i, id: d.Env.IDs[j], purpose: "support-call", person: person}
					evs = append(evs, r)
				}
				if ticket {
					c := event{at: t.Add(time.Duration(20+d.rng.IntN(70)) * time.Minute), acc: caseworker, id: d.Env.IDs[j], purpose: "case-handling", person: person}
					c.change, c.changeReason = d.change()
					evs = append(evs, c)
				}
				gap := 8*time.Minute + time.Duration(d.rng.IntN(7*60))*time.Second
				if t.Before(peak) {
					gap = 2*time.Minute + time.Duration(d.rng.IntN(120))*time.Second
				}
				t = t.Add(gap)
			}
		}
	}
	return d.play(ctx, s, accs, evs, false)
}

// change returns a change a caseworker makes to a person's record, and
// its reason: a move (40%), a new phone (25%), a new job (15%), a new
// personal email (10%), a corrected work email (10%). The new values are
// unique: no one holds them.
func (d *Drill) change() (map[string]string, string) {
	d.mu.Lock()
	d.fresh++
	n := d.fresh
	r := d.rng.Float64()
	ticket := 1000 + d.rng.IntN(9000)
	d.mu.Unlock()
	switch {
	case r < 0.4:
		return map[string]string{"address": fmt.Sprintf("%d rue des Tilleuls, %05d Ville-Neuve", 1+n%180, 10000+n%80000)}, fmt.Sprintf("moved: proof of address, ticket %d", ticket)
	case r < 0.65:
		return map[string]string{"phone": freshPhone(n)}, fmt.Sprintf("new phone number, ticket %d", ticket)
	case r < 0.8:
		return map[string]string{"employer": "Collège Jean Moulin", "job_title": "Conseillère principale d'éducation"}, fmt.Sprintf("new post, ticket %d", ticket)
	case r < 0.9:
		return map[string]string{"email_personal": fmt.Sprintf("nouvelle.adresse%d@example.org", n)}, fmt.Sprintf("new personal email, ticket %d", ticket)
	default:
		return map[string]string{"email_pro": fmt.Sprintf("prenom.nom.corrige%d@example.org", n)}, fmt.Sprintf("work email corrected, ticket %d", ticket)
	}
}

// freshPhone is phone number n: 09 and 8 digits, a prefix the directory
// does not use (its numbers are mobiles: 06 and 07).
func freshPhone(n int) string {
	n %= 100_000_000
	return fmt.Sprintf("09 %02d %02d %02d %02d", n/1_000_000, n/10_000%100, n/100%100, n%100)
}

// newPerson returns the fields of a person a caseworker creates: names,
// a work email, a phone and an address no one holds.
func (d *Drill) newPerson() map[string]string {
	d.mu.Lock()
	d.fresh++
	n := d.fresh
	d.mu.Unlock()
	return map[string]string{
		"given_name":  "Camille",
		"family_name": "Nouvel",
		"email_pro":   fmt.Sprintf("camille.nouvel%d@example.org", n),
		"phone":       freshPhone(n),
		"address":     fmt.Sprintf("%d avenue de la Gare, %05d Ville-Neuve", 1+n%180, 10000+n%80000),
		"employer":    "Lycée Victor Hugo",
		"job_title":   "Professeur de mathématiques",
	}
}

// emailOf returns the professional email of subject id.
func (d *Drill) emailOf(id string) string { return d.Env.Emails[d.indexOf(id)] }

// move records that the work email of subject id (of the directory) is
// email from at on (a change of a contact field waits out its
// cooling-off; the zero time: at once).
func (d *Drill) move(id, email string, at time.Time) {
	j, ok := d.lookupIndex(id)
	if !ok {
		return
	}
	d.mu.Lock()
	d.moved[d.Env.Emails[j]] = moved{email: email, at: at}
	d.mu.Unlock()
}

// current returns the work email a person gives now: the one that
// replaced email once the change took effect, else email. The first time
// a change is due, the server's pass runs (Env.Pending), as its minute
// tick would have by then.
func (d *Drill) current(ctx context.Context, email string) (string, error) {
	d.mu.Lock()
	m, ok := d.moved[email]
	d.mu.Unlock()
	if !ok {
		return email, nil
	}
	if m.at.IsZero() || m.applied {
		return m.email, nil
	}
	if d.Env.Clock.Now().Before(m.at) {
		return email, nil
	}
	if d.Env.Pending != nil {
		if err := d.Env.Pending(ctx); err != nil {
			return "", err
		}
	}
	d.mu.Lock()
	m.applied = true
	d.moved[email] = m
	d.mu.Unlock()
	return m.email, nil
}

// indexOf returns the directory index of subject id, which must be a
// person of the directory.
func (d *Drill) indexOf(id string) int {
	j, ok := d.lookupIndex(id)
	if !ok {
		panic("drill: " + id + " is not in the directory")
	}
	return j
}

// lookupIndex returns the directory index of subject id.
func (d *Drill) lookupIndex(id string) (int, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.index == nil {
		d.index = make(map[string]int, len(d.Env.IDs))
		for j, x := range d.Env.IDs {
			d.index[x] = j
		}
	}
	j, ok := d.index[id]
	return j, ok
}

// spoil marks people an attack changed or erased: the legitimate days
// that draw people from the whole directory leave them out (a caller whose
// record was erased does not call).
func (d *Drill) spoil(ids ...string) {
	for _, id := range ids {
		j := d.indexOf(id)
		d.mu.Lock()
		d.spoiled[j] = true
		d.mu.Unlock()
	}
}

// anyone draws a person of the directory that no attack spoiled.
func (d *Drill) anyone() int {
	for {
		j := d.rng.IntN(len(d.Env.IDs))
		d.mu.Lock()
		bad := d.spoiled[j]
		d.mu.Unlock()
		if !bad {
			return j
		}
	}
}

// dayFigures counts what the legitimate accounts changed and created
// (and the changes and creates refused, whatever the reason), the people
// they assigned to caseloads through the API (and the assignments
// refused), and their soft limits by code (limited_<code>): what a tight
// budget costs a working day.
func dayFigures(_ *Drill, s *scenarioRun, es []audit.Entry, f map[string]int) {
	f["updates"], f["creates"], f["writes_refused"] = 0, 0, 0
	for _, e := range es {
		if !s.mine(e.Actor) {
			continue
		}
		write := e.Action == "update" || e.Action == "create"
		switch {
		case e.Action == "caseload.assign" && strings.HasPrefix(e.Decision, "allow"):
			f["assigned"] += assignedCount(e.Reason)
		case e.Action == "caseload.assign":
			f["assignments_refused"]++
		case e.Action == "update" && strings.HasPrefix(e.Decision, "allow"):
			f["updates"]++
		case e.Action == "create" && strings.HasPrefix(e.Decision, "allow"):
			f["creates"]++
		case write:
			f["writes_refused"]++
		}
		if strings.HasPrefix(e.Decision, "deny:limited:") {
			f["limited_"+strings.TrimPrefix(e.Decision, "deny:limited:")]++
		}
	}
}

// assignedCount reads the number of people of a caseload.assign entry's
// reason ("op_…: 250 subjects until …"); 0 if it says none.
func assignedCount(reason string) int {
	_, rest, _ := strings.Cut(reason, ": ")
	num, _, _ := strings.Cut(rest, " ")
	n, _ := strconv.Atoi(num)
	return n
}
