package drill

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffre/coffre/internal/guard"
)

var scenarios = []Scenario{
	{Name: "versailles-scrape", Kind: "attack", Bound: "exfiltrated ≤ 25", run: versaillesScrape,
		pass: func(r *Result) bool { return r.Exfiltrated <= 25 }},
	{Name: "slow-scrape", Kind: "attack", Bound: "out of caseload ≤ 50 in a week", run: slowScrape,
		pass: func(r *Result) bool { return r.ExfiltratedOutOfScope <= 50 }},
	{Name: "leaked-emails", Kind: "attack", Bound: "exfiltrated ≤ 25", run: leakedEmails,
		pass: func(r *Result) bool { return r.Exfiltrated <= 25 }},
	{Name: "console-scrape", Kind: "attack", Bound: "exfiltrated ≤ 25, locked", run: consoleScrape,
		pass: func(r *Result) bool { return r.Exfiltrated <= 25 && r.LockedAccounts == 1 }},
	{Name: "many-accounts", Kind: "attack", Bound: "exfiltrated ≤ 100 in all", run: manyAccounts,
		pass: func(r *Result) bool { return r.Exfiltrated <= 100 }},
	{Name: "partner-hijack", Kind: "attack", Bound: "exfiltrated ≤ 25 before the lock", run: partnerHijack,
		pass: func(r *Result) bool { return r.Exfiltrated <= 25 && r.LockedAccounts == 1 }},
	{Name: "canary", Kind: "attack", Bound: "nothing after the canary", run: canary,
		pass: func(r *Result) bool {
			return r.AfterCanary != nil && *r.AfterCanary == 0 && r.LockedAccounts == r.Accounts
		}},
	{Name: "update-oracle", Kind: "attack", Bound: "values confirmed ≤ 25, locked", run: updateOracle, measure: oracleFigures("update"),
		pass: func(r *Result) bool { return r.Figures["values_confirmed"] <= 25 && r.LockedAccounts == 1 }},
	{Name: "erase-spree", Kind: "attack", Bound: "erased beyond the daily budget ≤ 5, locked", run: eraseSpree, measure: erasureFigures,
		pass: func(r *Result) bool { return r.Figures["erased_beyond_budget"] <= 5 && r.LockedAccounts == 1 }},
	{Name: "create-probe", Kind: "attack", Bound: "values confirmed ≤ 25, locked", run: createProbe, measure: oracleFigures("create"),
		pass: func(r *Result) bool { return r.Figures["values_confirmed"] <= 25 && r.LockedAccounts == 1 }},
	{Name: "policy-probing", Kind: "attack", Bound: "locked within 10 requests, nothing read", run: policyProbing, measure: probingFigures,
		pass: func(r *Result) bool {
			return r.LockedAccounts == 1 && r.Figures["requests_before_lock"] <= 10 && r.Exfiltrated == 0
		}},
	{Name: "purpose-combination", Kind: "attack", Bound: "people with national id, birth date and health note ≤ 25, locked", run: purposeCombination, measure: combinationFigures,
		pass: func(r *Result) bool { return r.Figures["people_assembled"] <= 25 && r.LockedAccounts == 1 }},
	{Name: "consent-break-glass", Kind: "attack", Bound: "health notes without consent ≤ 2, people asked ≤ 25, locked", run: consentBreakGlass, measure: consentFigures,
		pass: func(r *Result) bool {
			return r.Figures["health_notes_without_consent"] <= 2 && r.Figures["people_asked"] <= 25 && r.LockedAccounts == 1
		}},
	{Name: "rogue-admin", Kind: "attack", Bound: "records through what the admin API gives ≤ 25 in all", run: rogueAdmin, measure: adminFigures,
		pass: func(r *Result) bool { return r.Exfiltrated <= 25 }},
	{Name: "person-signin", Kind: "attack", Bound: "no oracle; ≤ 30 answers an address an hour; no session by guessing, the contact locked; ≤ 5 codes a person an hour; nothing of others through a person's session", run: personSignin,
		pass: func(r *Result) bool {
			f := r.Figures
			return f["oracle_distinguishable"] == 0 && f["answered_before_limit"] <= 30 && f["sessions_obtained"] == 0 && f["contact_locks"] >= 1 &&
				f["codes_to_one_person"] <= 5 && f["other_people_reached"] == 0 && r.Exfiltrated == 0
		}},
	{Name: "credential-stuffing", Kind: "attack", Slow: true, Bound: "no session; targets locked; regulars log in", run: credentialStuffing,
		pass: func(r *Result) bool {
			f := r.Figures
			return f["sessions_obtained"] == 0 && f["targets_locked"] == f["targets"] && f["regular_logins_failed"] == 0 && f["regular_logins_ok"] > 0
		}},
	{Name: "caseworker-day", Kind: "legitimate", Bound: "0 false lockouts", Lead: 7 * 24 * time.Hour, run: caseworkerWeek, measure: dayFigures,
		pass: func(r *Result) bool { return r.FalseLockouts == 0 }},
	{Name: "support-desk", Kind: "legitimate", Bound: "0 false lockouts", run: supportDesk, measure: dayFigures,
		pass: func(r *Result) bool { return r.FalseLockouts == 0 }},
}

// errNoLogin: the account cannot log in (locked, disabled).
var errNoLogin = errors.New("cannot log in")

// attackReason is what an attacker types as Coffre-Reason: they read the
// hint of the first refusal and copy a plausible ticket number.
const attackReason = "dossier 2291"

// hammer logs a in once and has workers clients share its stolen token,
// each calling step(session, i) for i = 0, 1, … n-1 as fast as the server
// answers, until n is reached or the account cannot log in again (locked).
func hammer(ctx context.Context, d *Drill, a *Account, workers, n int, step func(se *session, i int) error) error {
	first, err := d.client.login(ctx, a)
	if err != nil {
		return err
	}
	if first.token == "" {
		return fmt.Errorf("login of %s: status %d: %w", a.Name, first.loginStatus, errNoLogin)
	}
	var next atomic.Int64
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			se := &session{c: d.client, a: a, token: first.token}
			for !stop.Load() {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := step(se, i); err != nil {
					errs <- err
					stop.Store(true)
					return
				}
				if se.token == "" && se.loginStatus != http.StatusOK && se.loginStatus != 0 {
					stop.Store(true) // locked out (or the login failed)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// scrape reads list (at most max of it) with workers clients sharing one
// stolen session.
func scrape(ctx context.Context, d *Drill, s *scenarioRun, a *Account, list []string, workers, max int) error {
	return hammer(ctx, d, a, workers, min(len(list), max), func(se *session, i int) error {
		st, err := se.read(ctx, list[i], "case-handling", attackReason)
		s.count(st)
		return err
	})
}

// versaillesScrape: one stolen caseworker session reads ids as fast as it
// can. The attacker holds the worst list there is: the victim's own
// caseload first, then the rest of its unit, then everyone, in creation
// order (an export of ids).
func versaillesScrape(ctx context.Context, d *Drill, s *scenarioRun) error {
	unit := d.units()[0]
	a, err := d.account(ctx, s, "caseworker", unit, 250, "10.20.0.5")
	if err != nil {
		return err
	}
	list := slices.Clone(a.Caseload)
	for _, j := range d.byUnit[unit] {
		list = append(list, d.Env.IDs[j])
	}
	list = append(list, d.Env.IDs...)
	return scrape(ctx, d, s, a, list, 8, 3000)
}

// leakedEmails: lookups from a list of 5,000 emails, 30% not in the vault,
// each hit read at once; stolen credentials used from outside.
func leakedEmails(ctx context.Context, d *Drill, s *scenarioRun) error {
	a, err := d.account(ctx, s, "caseworker", d.units()[1], 250, "203.0.113.20")
	if err != nil {
		return err
	}
	emails := make([]string, 0, 5000)
	for len(emails) < 3500 {
		emails = append(emails, d.Env.Emails[d.rng.IntN(len(d.Env.Emails))])
	}
	for len(emails) < 5000 {
		e := d.Env.Emails[d.rng.IntN(len(d.Env.Emails))]
		emails = append(emails, fmt.Sprintf("%d.%s", d.rng.IntN(90)+10, e)) // not in the vault
	}
	d.rng.Shuffle(len(emails), func(i, j int) { emails[i], emails[j] = emails[j], emails[i] })
	return hammer(ctx, d, a, 4, len(emails), func(se *session, i int) error {
		id, st, err := se.lookup(ctx, "email_pro", emails[i], "directory")
		s.count(st)
		if err != nil || st != http.StatusOK {
			return err
		}
		st, err = se.read(ctx, id, "case-handling", attackReason)
		s.count(st)
		return err
	})
}

// pace is the interval at which an attacker who knows lim stays under the
// rate, velocity and hourly budgets.
func pace(lim guard.Limits) time.Duration {
	p := time.Second
	if lim.Rate > 0 {
		p = max(p, time.Duration(float64(time.Second)/lim.Rate))
	}
	if lim.VelocitySubjects > 0 {
		p = max(p, lim.VelocityWindow/time.Duration(lim.VelocitySubjects))
	}
	if lim.SubjectsPerHour > 0 {
		p = max(p, time.Hour/time.Duration(lim.SubjectsPerHour))
	}
	return p + p/20
}

// quota is how many new subjects of each kind an attacker who knows lim
// reads in a day: the most every budget allows.
type quota struct{ caseload, unit, outside int }

func (q quota) total() int { return q.caseload + q.unit + q.outside }

func dayQuota(lim guard.Limits, trusted bool) quota {
	capOr := func(n, def int) int {
		if n <= 0 {
			return def
		}
		return n
	}
	total := capOr(lim.SubjectsPerDay, 1000)
	if !trusted {
		total = min(total, capOr(lim.UntrustedPerDay, total))
	}
	if lim.AllUnits {
		return quota{caseload: total} // every subject counts as in the caseload
	}
	q := quota{unit: capOr(lim.OutOfCaseloadPerDay, 1000), outside: capOr(lim.OutOfUnitPerDay, 1000)}
	q.unit = min(q.unit, total)
	q.outside = min(q.outside, total-q.unit)
	q.caseload = total - q.unit - q.outside
	return q
}

// underBudgets runs accounts (in parallel, in simulated time) each reading,
// day after day for days, the most its budgets allow: caseload people not
// read yet, people of its unit, people of other units (with a reason), in
// shuffled order, paced under the rate, velocity and hourly budgets and
// inside working hours. An attacker who knows every limit.
func underBudgets(ctx context.Context, d *Drill, s *scenarioRun, accounts []*Account, trusted bool, days int) error {
	lim := d.Env.Limits[accounts[0].Role]
	p := pace(lim)
	q := dayQuota(lim, trusted)
	var evs []event
	for i, a := range accounts {
		left := slices.Clone(a.Caseload)
		d.rng.Shuffle(len(left), func(x, y int) { left[x], left[y] = left[y], left[x] })
		unitOthers := d.notIn(a.Unit, a.Caseload)
		for day := range days {
			base := s.start.AddDate(0, 0, day)
			open := time.Date(base.Year(), base.Month(), base.Day(), 0, 0, 0, 0, d.Env.Location)
			t := lim.Hours.Next(open.Add(time.Minute))
			if t.Before(s.start) {
				t = s.start
			}
			t = t.Add(time.Duration(i) * time.Second)
			if t.Day() != open.Day() {
				continue // closed all day
			}
			var today []event
			for range min(q.caseload, len(left)) {
				today = append(today, event{acc: i, id: left[0], purpose: "case-handling"})
				left = left[1:]
			}
			for range q.unit {
				j := unitOthers[d.rng.IntN(len(unitOthers))]
				today = append(today, event{acc: i, id: d.Env.IDs[j], purpose: "case-handling"})
			}
			for range q.outside {
				today = append(today, event{acc: i, id: d.Env.IDs[d.rng.IntN(len(d.Env.IDs))], purpose: "case-handling", reason: attackReason})
			}
			d.rng.Shuffle(len(today), func(x, y int) { today[x], today[y] = today[y], today[x] })
			for k := range today {
				if !lim.Hours.Open(t) {
					break
				}
				today[k].at = t
				evs = append(evs, today[k])
				t = t.Add(p)
			}
		}
	}
	return d.play(ctx, s, accounts, evs, true)
}

// slowScrape: one stolen account reading just under every limit for a
// simulated week, from the victim's own (trusted) network.
func slowScrape(ctx context.Context, d *Drill, s *scenarioRun) error {
	a, err := d.account(ctx, s, "caseworker", d.units()[2], 250, "10.20.0.6")
	if err != nil {
		return err
	}
	return underBudgets(ctx, d, s, []*Account{a}, true, 7)
}

// manyAccounts: 10 stolen accounts, each from its own address outside the
// trusted networks, coordinated to stay under each budget for a working
// day.
func manyAccounts(ctx context.Context, d *Drill, s *scenarioRun) error {
	var accs []*Account
	for i := range 10 {
		a, err := d.account(ctx, s, "caseworker", d.units()[3+i], 250, fmt.Sprintf("203.0.113.%d", 30+i))
		if err != nil {
			return err
		}
		accs = append(accs, a)
	}
	return underBudgets(ctx, d, s, accs, false, 1)
}

// canary: a careful scraper of its own unit (paced under the budgets)
// whose list holds a canary early on.
func canary(ctx context.Context, d *Drill, s *scenarioRun) error {
	unit := d.units()[13]
	a, err := d.account(ctx, s, "caseworker", unit, 250, "10.20.0.7")
	if err != nil {
		return err
	}
	cs, err := d.Env.Canaries(ctx, unit, 3)
	if err != nil {
		return err
	}
	s.canaries = cs
	list := slices.Clone(a.Caseload[:3])
	list = append(list, cs[0])
	list = append(list, a.Caseload[3:20]...)
	p := pace(d.Env.Limits["caseworker"])
	var evs []event
	t := s.start.Add(time.Hour)
	for _, id := range list {
		evs = append(evs, event{at: t, id: id, purpose: "case-handling"})
		t = t.Add(p)
	}
	return d.play(ctx, s, []*Account{a}, evs, true)
}

// event is one request of an account at a simulated time. A lookup event
// looks email up; when found and id is empty, the read that follows reads
// what it found.
type event struct {
	at      time.Time
	acc     int
	id      string // read this subject
	email   string // look this email up first
	typo    bool   // the lookup is mistyped: a miss, then the right lookup
	purpose string
	reason  string
	person  int // a legitimate day's person (to skip the rest of its visits after a 429)
	// change, if set, is what the account then changes of the person it
	// read (under case-update, with changeReason).
	change       map[string]string
	changeReason string
	// create, if set: the account creates this person in its own unit,
	// then reads it back (the event has no id).
	create map[string]string
	// do, if set, is the event: it returns the status of its last
	// request (a partner's pull through the partner listener).
	do func(ctx context.Context) (int, error)
}

// play runs events in simulated time: events of the same simulated minute
// run concurrently across accounts, each account's in order. An attacker
// (attack) stops an account for good on a lock and for the day on a 429;
// a legitimate worker skips the person that got a 429.
func (d *Drill) play(ctx context.Context, s *scenarioRun, accounts []*Account, evs []event, attack bool) error {
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].at.Before(evs[j].at) })
	sessions := make([]*session, len(accounts))
	for i, a := range accounts {
		sessions[i] = &session{c: d.client, a: a}
	}
	type skip struct {
		day    int
		person int
	}
	var mu sync.Mutex
	stopped := make([]bool, len(accounts))
	pausedDay := make([]int, len(accounts))
	skipped := map[skip]bool{}
	for i := 0; i < len(evs); {
		minute := evs[i].at.Truncate(time.Minute)
		j := i
		byAcc := map[int][]event{}
		for j < len(evs) && evs[j].at.Truncate(time.Minute).Equal(minute) {
			byAcc[evs[j].acc] = append(byAcc[evs[j].acc], evs[j])
			j++
		}
		i = j
		d.Env.Clock.Set(minute)
		var wg sync.WaitGroup
		sem := make(chan struct{}, 16)
		errs := make(chan error, len(byAcc))
		for acc, list := range byAcc {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				se := sessions[acc]
				for _, e := range list {
					day := e.at.YearDay()
					mu.Lock()
					skipIt := stopped[acc] || attack && pausedDay[acc] == day || !attack && skipped[skip{day, e.person}]
					mu.Unlock()
					if skipIt {
						continue
					}
					d.Env.Clock.Set(e.at)
					st, err := d.doEvent(ctx, s, se, e)
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					switch {
					case st == http.StatusLocked || se.token == "" && se.loginStatus == http.StatusLocked:
						stopped[acc] = true
					case st == http.StatusTooManyRequests && attack:
						pausedDay[acc] = day
					case st == http.StatusTooManyRequests:
						skipped[skip{day, e.person}] = true
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return err
		}
	}
	return nil
}

// doEvent runs one event and returns the status of its last request.
func (d *Drill) doEvent(ctx context.Context, s *scenarioRun, se *session, e event) (int, error) {
	if e.do != nil {
		return e.do(ctx)
	}
	id := e.id
	if e.create != nil {
		created, st, err := se.create(ctx, se.a.Unit, e.create)
		s.count(st)
		if err != nil || st != http.StatusCreated {
			return st, err
		}
		id = created
	}
	if e.email != "" {
		email, err := d.current(ctx, e.email)
		if err != nil {
			return 0, err
		}
		if e.typo {
			_, st, err := se.lookup(ctx, "email_pro", "x"+email, e.purpose)
			s.count(st)
			if err != nil || st != http.StatusNotFound {
				return st, err
			}
		}
		found, st, err := se.lookup(ctx, "email_pro", email, e.purpose)
		s.count(st)
		if err != nil || st != http.StatusOK {
			return st, err
		}
		if id == "" {
			id = found
		}
	}
	if id == "" {
		return http.StatusOK, nil
	}
	st, err := se.read(ctx, id, e.purpose, e.reason)
	s.count(st)
	if err != nil || st != http.StatusOK || e.change == nil {
		return st, err
	}
	st, pending, err := se.update(ctx, id, "case-update", e.changeReason, e.change)
	s.count(st)
	if v, ok := e.change["email_pro"]; ok && (st == http.StatusNoContent || st == http.StatusAccepted) {
		d.move(id, v, pending["email_pro"])
	}
	return st, err
}

// notIn returns the people of unit outside caseload that no attack
// spoiled.
func (d *Drill) notIn(unit string, caseload []string) []int {
	in := map[string]bool{}
	for _, id := range caseload {
		in[id] = true
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []int
	for _, j := range d.byUnit[unit] {
		if !in[d.Env.IDs[j]] && !d.spoiled[j] {
			out = append(out, j)
		}
	}
	return out
}
