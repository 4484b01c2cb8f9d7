// Package drill replays attacks and legitimate working days against a
// running Coffre over HTTP and measures, from the audit log, what left the
// server: records exfiltrated before lockout, and false lockouts (DESIGN §9).
//
// Scenarios that span days run on a simulated clock that the server shares
// ([Clock]): the drill sets it to each event's time instead of sleeping.
// Every scenario starts on a fresh Monday morning with fresh accounts, so
// that one scenario's budgets and locks do not leak into the next.
package drill

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/guard"
)

// Clock is a simulated clock: it runs in real time from the last Set.
type Clock struct {
	mu  sync.Mutex
	sim time.Time
	at  time.Time
}

// NewClock returns a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{sim: t, at: time.Now()} }

// Now is the simulated time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sim.Add(time.Since(c.at))
}

// Set moves the clock to t; it never goes back.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := c.sim.Add(time.Since(c.at)); t.Before(now) {
		t = now
	}
	c.sim, c.at = t, time.Now()
}

// moved is a work email's replacement, taking effect at at (zero: at
// once); applied once the server's pass ran after at.
type moved struct {
	email   string
	at      time.Time
	applied bool
}

// Account is a drill operator with its credentials.
type Account struct {
	ID, Name, Role, Unit string
	Password, Secret     string
	Caseload             []string
	Origin               string // the address it connects from
}

// Env is what the drill needs of the server it targets: the HTTP address,
// the shared clock, the directory (the attacker's leaked list) and
// administrative access for setting up accounts and reading the audit log.
type Env struct {
	URL string
	// Nodes are the base URLs of further servers sharing URL's store:
	// requests go to each in turn (round-robin), attackers' and
	// legitimate users' alike.
	Nodes []string
	Clock *Clock
	// People is the directory: IDs[j] is person j, with Units[j] and
	// Emails[j] (its professional email).
	IDs, Units, Emails []string
	// Notes[j] says whether person j has a health note (special-category
	// data): the list an attacker after it would want.
	Notes []bool
	// Limits are the guard's limits by role, as configured.
	Limits map[string]guard.Limits
	// Location is the guard's time zone.
	Location *time.Location

	AddOperator func(ctx context.Context, name, role, unit string) (*Account, error)
	Assign      func(ctx context.Context, operator string, subjects []string) error
	// Canaries plants n canaries in unit and returns their ids.
	Canaries func(ctx context.Context, unit string, n int) ([]string, error)
	// Audit returns the entries with seq ≥ from.
	Audit   func(ctx context.Context, from int64) ([]audit.Entry, error)
	LastSeq func(ctx context.Context) (int64, error)
	// Settle, when set, returns once every entry appended so far is in
	// the log Audit reads (several nodes: each numbers from its own
	// blocks, and the log ends where a number is not written yet).
	Settle func(ctx context.Context) error
	// Locked returns an operator's lock code ("" when not locked).
	Locked func(ctx context.Context, operator string) (string, error)
	// Disable disables an account on the host, as a security officer
	// does after an alert.
	Disable func(ctx context.Context, operator, reason string) error
	// Pending runs the server's pass over consent requests and contact
	// changes now, as its minute tick does (nil: leave it to the tick).
	Pending func(ctx context.Context) error

	// PartnerURL is the partner listener (https), trusted through CA;
	// PartnerNodes those of the further servers, taken in turn too.
	PartnerURL   string
	PartnerNodes []string
	CA           *x509.CertPool
	// AddPartner registers a partner organisation and returns its
	// credentials.
	AddPartner func(ctx context.Context, name, sector, unit string) (*PartnerCreds, error)
	// PersonCode returns the newest one-time code sent to a person: what
	// their mailbox or phone holds (a stolen credential).
	PersonCode func(ctx context.Context, subject string) (string, error)
}

// PartnerCreds are a partner's client credentials.
type PartnerCreds struct {
	ID              string
	APIKey          string
	CertPEM, KeyPEM []byte
}

// Result is one scenario's outcome, counted from the audit log.
type Result struct {
	Scenario string `json:"scenario"`
	Kind     string `json:"kind"` // attack or legitimate
	// Exfiltrated is the number of distinct subjects whose data was
	// returned to the scenario's accounts (attacks).
	Exfiltrated int `json:"exfiltrated"`
	// ExfiltratedOutOfScope counts those outside the reading account's
	// caseload.
	ExfiltratedOutOfScope int `json:"exfiltrated_out_of_scope"`
	LockedAccounts        int `json:"locked_accounts"`
	FalseLockouts         int `json:"false_lockouts"`
	// SecondsToLockout is the simulated time from the scenario's start to
	// the first lock; null when nothing was locked.
	SecondsToLockout *float64 `json:"seconds_to_lockout"`
	// AfterCanary counts subjects returned after the first canary touch
	// (canary scenario).
	AfterCanary *int `json:"exfiltrated_after_canary,omitempty"`

	// RecordsRead counts the distinct subjects returned to the
	// scenario's accounts, legitimate or not.
	RecordsRead int `json:"records_read"`
	Accounts    int `json:"accounts"`
	// AccountIDs are the scenario's accounts (operators' and partners'
	// ids), Partners those of them that are partner clients, Start the
	// scenario's start in simulated time: an incident's scope.
	AccountIDs []string  `json:"account_ids"`
	Partners   []string  `json:"partner_ids,omitempty"`
	Start      time.Time `json:"start"`
	Requests   int       `json:"requests"`
	Limited    int       `json:"limited"` // 429 answers
	Reads      int       `json:"reads"`   // records returned (with repeats)
	LookupHits int       `json:"lookup_hits"`
	LockCodes  []string  `json:"lock_codes"`
	// Figures are a scenario's own counts (credential stuffing).
	Figures map[string]int `json:"figures,omitempty"`
	Bound   string         `json:"bound"`
	Pass    bool           `json:"pass"`
	Seconds float64        `json:"wall_seconds"`
}

// Scenario is one drill.
type Scenario struct {
	Name string
	Kind string
	// Bound states what the issue asks, for the report.
	Bound string
	// Slow scenarios run only when named (--scenario).
	Slow bool
	// Lead is how long before its Monday morning the scenario's setup
	// starts (a caseload assigned on the working days before, say); the
	// clock starts there.
	Lead time.Duration
	run  func(ctx context.Context, d *Drill, s *scenarioRun) error
	// measure, if set, adds the scenario's own figures to f, counted from
	// the audit entries of its run.
	measure func(d *Drill, s *scenarioRun, es []audit.Entry, f map[string]int)
	pass    func(r *Result) bool
}

// Scenarios lists every scenario, attacks first.
func Scenarios() []Scenario { return scenarios }

// Drill runs scenarios against an Env.
type Drill struct {
	Env *Env
	// Log receives progress lines (may be nil).
	Log io.Writer
	// Scale divides the legitimate scenarios' headcount (tests); 1 by default.
	Scale int

	rng    *rand.Rand
	byUnit map[string][]int
	used   map[int]bool // people already in a caseload or canary role
	// spoiled are people an attack changed or erased.
	spoiled map[int]bool
	// moved maps the work emails of the directory that a legitimate
	// change replaced to the new ones (people give their current email).
	moved  map[string]moved
	week   time.Time // the Monday of the next scenario
	nameN  int
	fresh  int            // values no one holds, handed out so far
	index  map[string]int // subject id → person
	client *client
	// partners are the partner listeners, taken in turn.
	partners *nodes
	mu       sync.Mutex
}

// New returns a drill over env, starting on the Monday after start.
func New(env *Env, start time.Time) *Drill {
	d := &Drill{Env: env, Scale: 1, rng: rand.New(rand.NewPCG(1, 2)), byUnit: map[string][]int{}, used: map[int]bool{}, spoiled: map[int]bool{}, moved: map[string]moved{}}
	for j, u := range env.Units {
		d.byUnit[u] = append(d.byUnit[u], j)
	}
	t := start.In(env.Location)
	t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, env.Location)
	for t.Weekday() != time.Monday || !t.After(start) {
		t = t.AddDate(0, 0, 1)
	}
	d.week = t
	d.client = newClient(env)
	d.partners = newNodes(env.PartnerURL, env.PartnerNodes, nil)
	return d
}

// scenarioRun is the state of one running scenario.
type scenarioRun struct {
	start time.Time
	// from is the sequence number of the run's first audit entry.
	from int64
	// admins are the administrators whose acts gave the run accounts
	// (rogue-admin): see [reachOf].
	admins   []string
	accounts []*Account
	canaries []string
	figures  map[string]int
	mu       sync.Mutex
	requests int
	limited  int
}

// mine reports whether actor is one of the run's accounts.
func (s *scenarioRun) mine(actor string) bool {
	for _, a := range s.accounts {
		if a.ID == actor {
			return true
		}
	}
	return false
}

// locks returns, for each of the run's accounts that was locked in es
// (by the guard or the login), the sequence number of its first lock
// entry.
func (s *scenarioRun) locks(es []audit.Entry) map[string]int64 {
	out := map[string]int64{}
	for _, e := range es {
		op := strings.TrimPrefix(e.Decision, "lock:")
		if (e.Action == "guard.lock" || e.Action == "login.lock") && s.mine(op) && out[op] == 0 {
			out[op] = e.Seq
		}
	}
	return out
}

func (s *scenarioRun) count(status int) {
	s.mu.Lock()
	s.requests++
	if status == 429 {
		s.limited++
	}
	s.mu.Unlock()
}

// Run runs the named scenarios (all when names is empty).
func (d *Drill) Run(ctx context.Context, names []string) ([]Result, error) {
	var out []Result
	for _, sc := range scenarios {
		if len(names) > 0 && !slices.Contains(names, sc.Name) || len(names) == 0 && sc.Slow {
			continue
		}
		r, err := d.runOne(ctx, sc)
		if err != nil {
			return out, fmt.Errorf("scenario %s: %w", sc.Name, err)
		}
		out = append(out, *r)
	}
	return out, nil
}

func (d *Drill) logf(format string, args ...any) {
	if d.Log != nil {
		fmt.Fprintf(d.Log, format+"\n", args...)
	}
}

func (d *Drill) runOne(ctx context.Context, sc Scenario) (*Result, error) {
	wall := time.Now()
	for d.week.Add(8 * time.Hour).Add(-sc.Lead).Before(d.Env.Clock.Now()) {
		d.week = d.week.AddDate(0, 0, 7) // the clock never goes back: the setup waits a week
	}
	start := d.week.Add(8 * time.Hour) // Monday 08:00
	d.week = d.week.AddDate(0, 0, 14)  // the next scenario: two weeks on
	d.Env.Clock.Set(start.Add(-sc.Lead))
	from, err := d.Env.LastSeq(ctx)
	if err != nil {
		return nil, err
	}
	s := &scenarioRun{start: start, from: from + 1}
	d.logf("drill: %s ...", sc.Name)
	if err := sc.run(ctx, d, s); err != nil {
		return nil, err
	}
	r, err := d.count(ctx, sc, s, from+1)
	if err != nil {
		return nil, err
	}
	r.Seconds = time.Since(wall).Seconds()
	r.Pass = sc.pass(r)
	d.logf("drill: %s: exfiltrated %d (out of scope %d), locked %d, %.1fs", sc.Name, r.Exfiltrated, r.ExfiltratedOutOfScope, r.LockedAccounts, r.Seconds)
	return r, nil
}

// count computes the result from the audit log.
func (d *Drill) count(ctx context.Context, sc Scenario, s *scenarioRun, from int64) (*Result, error) {
	if d.Env.Settle != nil {
		if err := d.Env.Settle(ctx); err != nil {
			return nil, err
		}
	}
	es, err := d.Env.Audit(ctx, from)
	if err != nil {
		return nil, err
	}
	r := &Result{Scenario: sc.Name, Kind: sc.Kind, Bound: sc.Bound, Accounts: len(s.accounts), Requests: s.requests, Limited: s.limited, LockCodes: []string{}, Figures: s.figures}
	r.Start = s.start
	byID := map[string]*Account{}
	caseload := map[string]map[string]bool{}
	for _, a := range s.accounts {
		r.AccountIDs = append(r.AccountIDs, a.ID)
		if a.Role == "partner" {
			r.Partners = append(r.Partners, a.ID)
		}
		byID[a.ID] = a
		caseload[a.ID] = map[string]bool{}
		for _, id := range a.Caseload {
			caseload[a.ID][id] = true
		}
	}
	canaries := map[string]bool{}
	for _, c := range s.canaries {
		canaries[c] = true
	}
	// Several nodes number entries from blocks of their own: the log's
	// order is not the order in time, so "first" and "after" go by the
	// entries' times.
	var firstLock, canaryAt time.Time
	for _, e := range es {
		switch {
		case e.Action == "guard.lock" && byID[strings.TrimPrefix(e.Decision, "lock:")] != nil:
			if firstLock.IsZero() || e.Time.Before(firstLock) {
				firstLock = e.Time
			}
		case e.Action == "read" && byID[e.Actor] != nil && canaries[e.Subject]:
			if canaryAt.IsZero() || e.Time.Before(canaryAt) {
				canaryAt = e.Time
			}
		}
	}
	exfil, outOf := map[string]bool{}, map[string]bool{}
	after := map[string]bool{}
	for _, e := range es {
		if e.Action == "guard.lock" {
			continue
		}
		a := byID[e.Actor]
		if a == nil {
			continue
		}
		if e.Action == "lookup" && strings.HasPrefix(e.Decision, "allow") {
			r.LookupHits++
		}
		if e.Action != "read" {
			continue
		}
		if !strings.HasPrefix(e.Decision, "allow") || len(e.Fields) == 0 {
			continue
		}
		r.Reads++
		exfil[e.Subject] = true
		if !caseload[a.ID][e.Subject] {
			outOf[e.Subject] = true
		}
		if !canaryAt.IsZero() && e.Time.After(canaryAt) {
			after[e.Subject] = true
		}
	}
	r.RecordsRead = len(exfil)
	if sc.Kind == "attack" {
		r.Exfiltrated, r.ExfiltratedOutOfScope = len(exfil), len(outOf)
	}
	if !firstLock.IsZero() {
		secs := firstLock.Sub(s.start).Seconds()
		r.SecondsToLockout = &secs
	}
	if len(canaries) > 0 {
		n := len(after)
		r.AfterCanary = &n
	}
	for _, a := range s.accounts {
		code, err := d.Env.Locked(ctx, a.ID)
		if err != nil {
			return nil, err
		}
		if code != "" {
			r.LockedAccounts++
			r.LockCodes = append(r.LockCodes, code)
		}
	}
	slices.Sort(r.LockCodes)
	r.LockCodes = slices.Compact(r.LockCodes)
	if sc.Kind == "legitimate" {
		r.FalseLockouts = r.LockedAccounts
	}
	if sc.measure != nil {
		if r.Figures == nil {
			r.Figures = map[string]int{}
		}
		sc.measure(d, s, es, r.Figures)
	}
	return r, nil
}

// account creates an operator of role in unit, with a caseload of n
// people of the unit (assigned on the host, as the nightly sync does),
// connecting from origin.
func (d *Drill) account(ctx context.Context, s *scenarioRun, role, unit string, n int, origin string) (*Account, error) {
	a, err := d.staff(ctx, s, role, unit, n, origin)
	if err != nil {
		return nil, err
	}
	if len(a.Caseload) > 0 {
		if err := d.Env.Assign(ctx, a.ID, a.Caseload); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// staff creates an operator of role in unit on the host, connecting from
// origin, and sets aside n people of the unit for its caseload without
// assigning them (see [Drill.assignThroughAPI]).
func (d *Drill) staff(ctx context.Context, s *scenarioRun, role, unit string, n int, origin string) (*Account, error) {
	d.mu.Lock()
	d.nameN++
	name := fmt.Sprintf("drill-%s-%d", role, d.nameN)
	var load []string
	for _, j := range d.byUnit[unit] {
		if len(load) == n {
			break
		}
		if !d.used[j] && !d.spoiled[j] {
			d.used[j] = true
			load = append(load, d.Env.IDs[j])
		}
	}
	d.mu.Unlock()
	a, err := d.Env.AddOperator(ctx, name, role, unit)
	if err != nil {
		return nil, err
	}
	a.Origin, a.Caseload = origin, load
	s.mu.Lock()
	s.accounts = append(s.accounts, a)
	s.mu.Unlock()
	return a, nil
}

// units returns the directory's units, largest first.
func (d *Drill) units() []string {
	var us []string
	for u := range d.byUnit {
		us = append(us, u)
	}
	slices.SortFunc(us, func(a, b string) int {
		if n := len(d.byUnit[b]) - len(d.byUnit[a]); n != 0 {
			return n
		}
		return strings.Compare(a, b)
	})
	return us
}

// Print writes the report table.
func Print(w io.Writer, rs []Result) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tkind\texfiltrated\tout of caseload\tlocked\tfalse lockouts\tto lockout\tlock codes\trecords read\t429s\trequests\tbound\t")
	for _, r := range rs {
		lock := "-"
		if r.SecondsToLockout != nil {
			lock = (time.Duration(*r.SecondsToLockout * float64(time.Second))).Round(time.Second).String()
		}
		verdict := "ok"
		if !r.Pass {
			verdict = "FAILED"
		}
		codes := strings.Join(r.LockCodes, ",")
		if codes == "" {
			codes = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d/%d\t%d\t%s\t%s\t%d\t%d\t%d\t%s: %s\t\n", r.Scenario, r.Kind, r.Exfiltrated, r.ExfiltratedOutOfScope,
			r.LockedAccounts, r.Accounts, r.FalseLockouts, lock, codes, r.RecordsRead, r.Limited, r.Requests, r.Bound, verdict)
	}
	tw.Flush()
	sep := "\n"
	for _, r := range rs {
		if len(r.Figures) == 0 {
			continue
		}
		fmt.Fprint(w, sep)
		sep = ""
		var fs []string
		for _, k := range slices.Sorted(maps.Keys(r.Figures)) {
			fs = append(fs, fmt.Sprintf("%s %d", strings.ReplaceAll(k, "_", " "), r.Figures[k]))
		}
		fmt.Fprintf(w, "%s: %s\n", r.Scenario, strings.Join(fs, ", "))
	}
}
