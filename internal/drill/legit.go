package drill

import (
	"context"
	"fmt"
	"time"
)

// caseworkerWeek: 50 caseworkers over a working week, each handling 30–60
// people a day: mostly their caseload (93%), some of their unit (6%), a
// few of other units with a reason (1%); each person visited one to three
// times a day, a third found by email lookup first, one lookup in ten
// mistyped.
func caseworkerWeek(ctx context.Context, d *Drill, s *scenarioRun) error {
	n := max(50/d.Scale, 2)
	units := d.units()
	var accs []*Account
	for i := range n {
		unit := units[(20+i)%len(units)]
		a, err := d.account(ctx, s, "caseworker", unit, 250, fmt.Sprintf("10.1.%d.%d", i/200, 10+i%200))
		if err != nil {
			return err
		}
		accs = append(accs, a)
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
		}
	}
	return d.play(ctx, s, accs, evs, false)
}

// supportDesk: 20 support agents over two days, answering calls from
// anyone in the directory: one every 2–4 minutes in the 08:30–10:30 peak,
// one every 8–15 minutes after; each caller found by email lookup (one in
// twenty mistyped), read once, a fifth of them twice; one caller in ten
// calls back.
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
	var evs []event
	person := 0
	for i := range accs {
		var callers []int
		for day := range 2 {
			base := s.start.AddDate(0, 0, day)
			t := time.Date(base.Year(), base.Month(), base.Day(), 8, 30, 0, 0, d.Env.Location).Add(time.Duration(d.rng.IntN(120)) * time.Second)
			end := time.Date(base.Year(), base.Month(), base.Day(), 17, 30, 0, 0, d.Env.Location)
			peak := t.Add(2 * time.Hour)
			for t.Before(end) {
				person++
				j := d.anyone()
				if len(callers) > 0 && d.rng.Float64() < 0.1 {
					j = callers[d.rng.IntN(len(callers))]
				}
				callers = append(callers, j)
				e := event{at: t, acc: i, email: d.Env.Emails[j], typo: d.rng.Float64() < 0.05, purpose: "support-call", person: person}
				evs = append(evs, e)
				if d.rng.Float64() < 0.2 {
					r := event{at: t.Add(time.Duration(30+d.rng.IntN(150)) * time.Second), acc: i, id: d.Env.IDs[j], purpose: "support-call", person: person}
					evs = append(evs, r)
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

// emailOf returns the professional email of subject id.
func (d *Drill) emailOf(id string) string { return d.Env.Emails[d.indexOf(id)] }

// indexOf returns the directory index of subject id.
func (d *Drill) indexOf(id string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.index == nil {
		d.index = make(map[string]int, len(d.Env.IDs))
		for j, x := range d.Env.IDs {
			d.index[x] = j
		}
	}
	return d.index[id]
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
