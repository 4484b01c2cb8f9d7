package drill

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/guard"
)

// rogueAdmin: a stolen administrator session (the demo role admin, which
// holds the operators permission; the attacker passed its password and
// TOTP and holds the TOTP secret) harvests records through the accounts
// the administration API gives it. It starts with nothing else: every
// account it reads with is one it minted, granted a role, enabled or
// registered, and it reads with one only when the API handed it the
// account's credentials.
//
// Fast, on the Monday morning, with one stolen admin session: every path
// back to back, as fast as the server answers (see [rogue.fast]); then
// whatever it holds reads as fast as it can. The lock's alert brings a
// security officer, who disables the accounts that administrator created
// (on the host). Slow, from the Tuesday, with another stolen admin session
// (the first is locked) and within every budget of the administrator's
// role: each working day, the day's operators, roles and partners, acts a
// quarter of an hour apart, refusals under the hard margin, inside office
// hours (see [rogue.slow]); the accounts it holds read just under their own
// budgets, the partners as partner-hijack does.
//
// The paths: mint (POST /v1/operators, support accounts: they read the
// whole organisation), the extension pair (a caseworker and two
// supervisors of one unit: the caseworker asks for 5,000 people over 72
// hours, the supervisors approve, one of them assigns the caseworker a
// caseload), grant (PATCH /v1/operators/{id}: the pair's supervisors,
// their work done, become support accounts on the roles budget rather than
// the operators one), partner (POST /v1/partners under hr-officer, then
// caseworker, then partner, whose credentials it receives; read through the
// partner listener) and enable (the accounts the security officer
// disabled). Counted from the audit log: every record returned to an
// account an administrator of the run created, granted, enabled or
// registered, or to the administrators themselves ([reachOf]).
//
// When the creation of an account answers without credentials (an account
// pending a second administrator's approval), the attacker has nothing to
// log in with: the path yields nothing, and the scenario says so.
func rogueAdmin(ctx context.Context, d *Drill, s *scenarioRun) error {
	if d.Env.PartnerURL == "" || d.Env.Disable == nil {
		return fmt.Errorf("the server has no partner listener, or the drill cannot disable accounts on the host")
	}
	units := d.units()
	r := &rogue{d: d, s: s, byID: map[string]*held{}, unit: units[19%len(units)], pairUnit: units[12%len(units)], partnerUnit: units[4%len(units)]}
	s.figures = map[string]int{"credentials_received": 0, "pending": 0}
	if err := r.fast(ctx); err != nil {
		return err
	}
	// The security officer, alerted by the lock, disables on the host
	// what the locked administrator created.
	d.Env.Clock.Set(s.start.Add(4 * time.Hour))
	es, err := d.Env.Audit(ctx, s.from)
	if err != nil {
		return err
	}
	for id := range reachOf(es, s.admins) {
		if err := d.Env.Disable(ctx, id, "created by a locked administrator"); err != nil {
			return err
		}
		r.disabled = append(r.disabled, id)
	}
	slices.Sort(r.disabled)
	if err := r.slow(ctx, 3); err != nil {
		return err
	}
	// Every account the administrators reached is one of the run's, read
	// or not: counted, and its lock reported.
	es, err = d.Env.Audit(ctx, s.from)
	if err != nil {
		return err
	}
	for _, h := range r.held {
		if h.acc != nil {
			s.accounts = append(s.accounts, h.acc)
		}
	}
	for id, path := range reachOf(es, s.admins) {
		if !s.mine(id) {
			s.accounts = append(s.accounts, &Account{ID: id, Role: path})
		}
	}
	return nil
}

// rogue is the state of a rogue-admin run.
type rogue struct {
	d     *Drill
	s     *scenarioRun
	admin *session
	// adminDone: the admin session is lost for good (locked: the password
	// no longer logs in).
	adminDone atomic.Bool
	held      []*held
	byID      map[string]*held
	// disabled are the accounts the security officer disabled.
	disabled []string
	// unit is where it mints support accounts (they read every unit
	// anyway); pairUnit the extension pair's; partnerUnit the partners'.
	unit, pairUnit, partnerUnit string
	mu                          sync.Mutex
}

// held is an account the attacker can use: a staff account (acc) or a
// partner (creds), and the path it came through.
type held struct {
	acc   *Account
	creds *PartnerCreds
	unit  string
	path  string
	// ext: an approved extension stretches its budgets.
	ext bool
	// read are the people it read or planned to (the attacker reads each
	// once); dead: locked, it no longer logs in.
	read map[string]bool
	dead bool
	pull *puller
}

func (r *rogue) add(h *held) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h.read = map[string]bool{}
	r.held = append(r.held, h)
	id := h.id()
	r.byID[id] = h
}

func (h *held) id() string {
	if h.creds != nil {
		return h.creds.ID
	}
	return h.acc.ID
}

// newAdmin creates on the host the administrator whose session is stolen.
func (r *rogue) newAdmin(ctx context.Context, origin string) error {
	r.d.mu.Lock()
	r.d.nameN++
	name := fmt.Sprintf("drill-admin-%d", r.d.nameN)
	r.d.mu.Unlock()
	a, err := r.d.Env.AddOperator(ctx, name, "admin", "dsi")
	if err != nil {
		return err
	}
	a.Origin = origin
	r.s.accounts = append(r.s.accounts, a)
	r.s.admins = append(r.s.admins, a.ID)
	r.admin = &session{c: r.d.client, a: a}
	r.adminDone.Store(false)
	return nil
}

// act runs one administrative call of the stolen session (see
// [rogue.actWith]).
func (r *rogue) act(call func(se *session) (int, string, error)) (int, string, error) {
	return r.actWith(r.admin, call)
}

// actWith runs one administrative call through se, a stolen admin
// session, unless the session is lost (status 0); a session that expired
// is logged into again once. A lock loses the session for good.
func (r *rogue) actWith(se *session, call func(se *session) (int, string, error)) (int, string, error) {
	if r.adminDone.Load() {
		return 0, "", nil
	}
	st, code, err := call(se)
	if err == nil && st == http.StatusUnauthorized && se.token == "" && se.loginStatus == http.StatusOK {
		r.s.count(st)
		st, code, err = call(se) // the session expired: log in again
	}
	r.s.count(st)
	if st == http.StatusLocked || se.token == "" && se.loginStatus == http.StatusLocked {
		r.adminDone.Store(true)
	}
	return st, code, err
}

// name returns a fresh username for an account of role.
func (r *rogue) name(role string) string {
	r.d.mu.Lock()
	defer r.d.mu.Unlock()
	r.d.nameN++
	return fmt.Sprintf("rogue-%s-%d", role, r.d.nameN)
}

// mint creates an operator of role in unit through se, a stolen admin
// session, and, when the answer carries its credentials, holds it (path
// mint).
func (r *rogue) mint(ctx context.Context, se *session, role, unit string) (*held, error) {
	name := r.name(role)
	var c *created
	st, code, err := r.actWith(se, func(se *session) (int, string, error) {
		var st int
		var code string
		var err error
		c, st, code, err = se.createOperator(ctx, name, role, unit)
		return st, code, err
	})
	if err != nil || st != http.StatusCreated {
		if st != 0 && st != http.StatusLocked && st != http.StatusUnauthorized {
			r.d.logf("rogue-admin: create %s: %d %s", role, st, code)
		}
		return nil, err
	}
	secret := c.secret()
	r.mu.Lock()
	first := false
	if secret == "" {
		r.s.figures["pending"]++
		first = r.s.figures["pending"] == 1
	} else {
		r.s.figures["credentials_received"]++
	}
	r.mu.Unlock()
	if secret == "" {
		if first {
			r.d.logf("rogue-admin: the creation of an account answers %q without credentials: nothing to log in with, the accounts it creates yield nothing", c.Status)
		}
		return nil, nil
	}
	h := &held{acc: &Account{ID: c.ID, Name: name, Role: role, Unit: unit, Password: c.Password, Secret: secret, Origin: se.a.Origin}, unit: unit, path: "mint"}
	r.add(h)
	return h, nil
}

// fast: the first stolen admin session, every path back to back as fast
// as the server answers, then everything it holds reads as fast as it
// can.
func (r *rogue) fast(ctx context.Context) error {
	d := r.d
	if err := r.newAdmin(ctx, "10.30.0.5"); err != nil {
		return err
	}
	d.Env.Clock.Set(r.s.start)
	// Mint: ten support accounts, four clients at once.
	err := hammer(ctx, d, r.admin.a, 4, 10, func(se *session, i int) error {
		_, err := r.mint(ctx, se, "support", r.unit)
		return err
	})
	if err != nil {
		return err
	}
	if err := r.extensionPair(ctx, 0); err != nil {
		return err
	}
	if err := r.grantPair(ctx, 0); err != nil {
		return err
	}
	if err := r.partner(ctx, []string{"hr-officer", "caseworker", "partner"}, 0); err != nil {
		return err
	}
	if r.adminDone.Load() {
		d.logf("rogue-admin: the first admin session is locked")
	}
	// Everything it holds reads as fast as it can, eight clients each:
	// the whole directory in shuffled order (no id or creation order to
	// detect), its caseload first.
	for _, h := range slices.Clone(r.held) {
		if h.creds != nil {
			if h.pull, err = d.newPuller(h.creds, h.unit); err != nil {
				return err
			}
			if _, err := h.pull.burst(ctx, r.s); err != nil {
				return err
			}
			continue
		}
		list := r.targets(h, quota{caseload: 3000, unit: 3000, outside: 3000}, 3000)
		purpose := purposeOf(h.acc.Role)
		err := hammer(ctx, d, h.acc, 8, len(list), func(se *session, i int) error {
			st, err := se.read(ctx, list[i], purpose, attackReason)
			r.s.count(st)
			return err
		})
		if err != nil && !errors.Is(err, errNoLogin) {
			return err
		}
	}
	return nil
}

// extensionPair mints a caseworker and two supervisors of one unit (an
// extension of 5,000 people needs two approvers); the caseworker asks for
// 5,000 people over 72 hours, both supervisors approve with a fresh TOTP
// code, and the first supervisor assigns the caseworker as many people of
// the unit as its day's budget allows. Acts are gap apart (0: back to
// back).
func (r *rogue) extensionPair(ctx context.Context, gap time.Duration) error {
	var pair []*held
	for _, role := range []string{"caseworker", "supervisor", "supervisor"} {
		h, err := r.mint(ctx, r.admin, role, r.pairUnit)
		if err != nil {
			return err
		}
		if h != nil {
			h.path = "extension"
			pair = append(pair, h)
		}
		r.wait(gap)
	}
	switch {
	case len(pair) == 3:
	case r.adminDone.Load():
		r.d.logf("rogue-admin: extension pair: the admin session is lost")
		return nil
	default:
		r.d.logf("rogue-admin: extension pair: %d of its 3 accounts came with credentials: nothing to ask or approve with", len(pair))
		return nil
	}
	cw, sups := pair[0], pair[1:]
	se := &session{c: r.d.client, a: cw.acc}
	ext, st, code, err := se.requestExtension(ctx, 5000, 72, "rentrée: bulk review of the unit's files")
	r.s.count(st)
	if err != nil || st != http.StatusCreated {
		r.d.logf("rogue-admin: extension request: %d %s", st, code)
		return err
	}
	approved := false
	for _, sup := range sups {
		ss := &session{c: r.d.client, a: sup.acc}
		if ok, err := ss.ensure(ctx); err != nil || !ok {
			return err
		}
		r.d.Env.Clock.Set(r.d.Env.Clock.Now().Add(31 * time.Second)) // a later TOTP step than the login's
		st, code, err := ss.approveExtension(ctx, ext)
		r.s.count(st)
		if err != nil {
			return err
		}
		switch st {
		case http.StatusOK:
			approved = true
		case http.StatusAccepted:
		default:
			r.d.logf("rogue-admin: extension approval: %d %s", st, code)
		}
	}
	cw.ext = approved
	// The first supervisor fills the caseworker's caseload: people of the
	// unit, as many as its day allows.
	n := min(maxAssignBatch, 300)
	if lim, ok := r.d.Env.Limits["supervisor"]; ok && lim.AssignmentsPerDay > 0 {
		n = min(n, lim.AssignmentsPerDay)
	}
	var ids []string
	for _, j := range r.d.notIn(r.pairUnit, nil) {
		if len(ids) == n {
			break
		}
		ids = append(ids, r.d.Env.IDs[j])
	}
	ss := &session{c: r.d.client, a: sups[0].acc}
	st, code, err = ss.assignCaseload(ctx, cw.acc.ID, ids, r.d.Env.Clock.Now().AddDate(0, 1, 0))
	r.s.count(st)
	if err != nil {
		return err
	}
	if st == http.StatusOK {
		cw.acc.Caseload = ids
	} else {
		r.d.logf("rogue-admin: caseload assignment: %d %s", st, code)
	}
	return nil
}

// grantPair gives the extension pair's supervisors the support role: their
// approval given, they read the whole organisation on the roles budget.
func (r *rogue) grantPair(ctx context.Context, gap time.Duration) error {
	for _, h := range slices.Clone(r.held) {
		if h.path != "extension" || h.acc.Role != "supervisor" {
			continue
		}
		st, code, err := r.act(func(se *session) (int, string, error) { return se.setRole(ctx, h.acc.ID, "support", h.acc.Unit) })
		if err != nil {
			return err
		}
		if st == http.StatusOK {
			h.acc.Role, h.path = "support", "grant"
		} else if st != 0 {
			r.d.logf("rogue-admin: grant support: %d %s", st, code)
		}
		r.wait(gap)
	}
	return nil
}

// partner registers a partner under each of roles in turn until one is
// accepted, and holds it.
func (r *rogue) partner(ctx context.Context, roles []string, gap time.Duration) error {
	for _, role := range roles {
		name := r.name("partner")
		var creds *PartnerCreds
		st, code, err := r.act(func(se *session) (int, string, error) {
			var st int
			var code string
			var err error
			creds, st, code, err = se.addPartner(ctx, name, "employment", r.partnerUnit, role)
			return st, code, err
		})
		if err != nil {
			return err
		}
		r.wait(gap)
		if creds != nil {
			r.add(&held{creds: creds, unit: r.partnerUnit, path: "partner"})
			return nil
		}
		if st != 0 {
			r.d.logf("rogue-admin: partner under role %s: %d %s", role, st, code)
		}
	}
	return nil
}

// wait moves the clock gap on (administrative acts a quarter of an hour
// apart stay under the burst alert).
func (r *rogue) wait(gap time.Duration) {
	if gap > 0 {
		r.d.Env.Clock.Set(r.d.Env.Clock.Now().Add(gap))
	}
}

// slow: a second stolen admin session (the first is locked) over days
// working days from the Tuesday, within every budget of its role: each day
// at 09:00 the day's partner, then operators, then roles, a quarter of an
// hour apart; the first day's two refused partner roles stay under the
// hard margin. Then everything it holds reads until the offices close,
// just under its own budgets.
func (r *rogue) slow(ctx context.Context, days int) error {
	d := r.d
	if err := r.newAdmin(ctx, "10.30.0.6"); err != nil {
		return err
	}
	lim := d.Env.Limits["admin"]
	budget := func(n, def int) int {
		if n <= 0 {
			return def
		}
		return n
	}
	operators, roles := budget(lim.OperatorsPerDay, 3), budget(lim.RolesPerDay, 5)
	const gap = 15 * time.Minute
	for day := range days {
		base := r.s.start.AddDate(0, 0, 1+day)
		d.Env.Clock.Set(time.Date(base.Year(), base.Month(), base.Day(), 9, 0, 0, 0, d.Env.Location))
		partnerRoles := []string{"partner"}
		if day == 0 {
			partnerRoles = []string{"hr-officer", "caseworker", "partner"}
		}
		if err := r.partner(ctx, partnerRoles, gap); err != nil {
			return err
		}
		left := roles
		if day == 0 && operators >= 3 {
			if err := r.extensionPair(ctx, gap); err != nil {
				return err
			}
			// Enable what the security officer disabled, leaving two roles
			// for the pair's supervisors.
			for _, id := range r.disabled[:min(len(r.disabled), max(roles-2, 0))] {
				st, code, err := r.act(func(se *session) (int, string, error) { return se.enable(ctx, id, "back from leave") })
				if err != nil {
					return err
				}
				if h := r.byID[id]; st == http.StatusOK && h != nil {
					h.path, h.dead = "enable", false
				} else if st != http.StatusOK {
					d.logf("rogue-admin: enable: %d %s", st, code)
				}
				left--
				r.wait(gap)
			}
			if left >= 2 {
				if err := r.grantPair(ctx, gap); err != nil {
					return err
				}
			}
		} else {
			for range operators {
				if _, err := r.mint(ctx, r.admin, "support", r.unit); err != nil {
					return err
				}
				r.wait(gap)
			}
		}
		if err := r.readDay(ctx, d.Env.Clock.Now().Add(gap)); err != nil {
			return err
		}
	}
	return nil
}

// readDay has every account it holds read from from until its working
// hours end that day, just under its budgets: a partner as partner-hijack
// does (a burst, then a try every ten minutes); a staff account new people
// in shuffled order, its caseload first, paced under its rate, velocity and
// hourly budgets and no more than its daily ones, or, under an approved
// extension, as many as its velocity allows.
func (r *rogue) readDay(ctx context.Context, from time.Time) error {
	d := r.d
	var accs []*Account
	var evs []event
	for _, h := range r.held {
		if h.dead {
			continue
		}
		i := len(accs)
		if h.creds != nil {
			accs = append(accs, &Account{ID: h.creds.ID, Role: "partner", Unit: h.unit})
			lim := d.Env.Limits["partner"]
			first := h.pull == nil
			if first {
				var err error
				if h.pull, err = d.newPuller(h.creds, h.unit); err != nil {
					return err
				}
			}
			pl := h.pull
			for t := from; lim.Hours.Open(t) && t.Day() == from.Day(); t = t.Add(10 * time.Minute) {
				e := event{at: t, acc: i, do: func(ctx context.Context) (int, error) { return pl.pull(ctx, r.s) }}
				if first {
					e.do, first = func(ctx context.Context) (int, error) { return pl.burst(ctx, r.s) }, false
				}
				evs = append(evs, e)
			}
			continue
		}
		accs = append(accs, h.acc)
		lim, ok := d.Env.Limits[h.acc.Role]
		if !ok {
			continue
		}
		p, q := pace(lim), dayQuota(lim, true)
		n := q.total()
		if h.ext {
			// Under the extension the daily and hourly budgets stretch:
			// rate and velocity are left.
			p = extensionPace(lim)
			n = int(24 * time.Hour / p)
			q = quota{caseload: n, unit: n, outside: n}
		}
		purpose := purposeOf(h.acc.Role)
		list := r.targets(h, q, n)
		t := lim.Hours.Next(from)
		for _, id := range list {
			if !lim.Hours.Open(t) || t.Day() != from.Day() {
				break
			}
			e := event{at: t, acc: i, id: id, purpose: purpose}
			if !lim.AllUnits && d.Env.Units[d.indexOf(id)] != h.acc.Unit {
				e.reason = attackReason
			}
			evs = append(evs, e)
			t = t.Add(p)
		}
	}
	if err := d.play(ctx, r.s, accs, evs, true); err != nil {
		return err
	}
	for _, h := range r.held {
		code, err := d.Env.Locked(ctx, h.id())
		if err != nil {
			return err
		}
		h.dead = code != ""
	}
	return nil
}

// targets returns up to n people h has not read yet, marked as read: of
// its caseload up to q.caseload, of the rest of its unit up to q.unit, of
// other units up to q.outside; each part shuffled. For a role that serves
// every unit, anyone, up to q.caseload.
func (r *rogue) targets(h *held, q quota, n int) []string {
	d := r.d
	var out []string
	take := func(id string, k *int) {
		if len(out) < n && *k > 0 && !h.read[id] {
			h.read[id] = true
			out = append(out, id)
			*k--
		}
	}
	load := slices.Clone(h.acc.Caseload)
	d.rng.Shuffle(len(load), func(i, j int) { load[i], load[j] = load[j], load[i] })
	for _, id := range load {
		take(id, &q.caseload)
	}
	if d.Env.Limits[h.acc.Role].AllUnits {
		for tries := 0; q.caseload > 0 && tries < 4*n; tries++ {
			take(d.Env.IDs[d.anyone()], &q.caseload)
		}
		return out
	}
	unit := d.notIn(h.acc.Unit, h.acc.Caseload)
	d.rng.Shuffle(len(unit), func(i, j int) { unit[i], unit[j] = unit[j], unit[i] })
	for _, j := range unit {
		take(d.Env.IDs[j], &q.unit)
	}
	for tries := 0; q.outside > 0 && tries < 4*n; tries++ {
		if j := d.anyone(); d.Env.Units[j] != h.acc.Unit {
			take(d.Env.IDs[j], &q.outside)
		}
	}
	return out
}

// purposeOf is the purpose an attacker declares for a role's reads.
func purposeOf(role string) string {
	if role == "support" {
		return "support-call"
	}
	return "case-handling"
}

// extensionPace is the interval at which an account under an approved
// extension stays under its rate and velocity (the extension stretches
// the rest; the growth of the velocity bound it brings is left unused).
func extensionPace(lim guard.Limits) time.Duration {
	p := time.Second
	if lim.Rate > 0 {
		p = max(p, time.Duration(float64(time.Second)/lim.Rate))
	}
	if lim.VelocitySubjects > 0 {
		p = max(p, lim.VelocityWindow/time.Duration(lim.VelocitySubjects))
	}
	return p + p/20
}

// reachOf returns the accounts the administrators admins reached in es,
// each with its path (see [reach]).
func reachOf(es []audit.Entry, admins []string) map[string]string {
	out := map[string]string{}
	for _, e := range es {
		reach(out, e, admins)
	}
	return out
}

// reach updates paths, the accounts the administrators admins reached so
// far, with entry e: an account created (mint), granted a role (grant),
// enabled (enable), registered as a partner (partner), and, among those
// created, one that asks for or approves an extension (extension). A
// later grant or enabling takes the place of the earlier path.
func reach(paths map[string]string, e audit.Entry, admins []string) {
	allowed := strings.HasPrefix(e.Decision, "allow")
	if !slices.Contains(admins, e.Actor) {
		if paths[e.Actor] == "mint" && allowed && (e.Action == "extension.request" || e.Action == "extension.approve") {
			paths[e.Actor] = "extension"
		}
		return
	}
	id, _, _ := strings.Cut(e.Reason, " ")
	id = strings.TrimSuffix(id, ":")
	if !allowed || !strings.HasPrefix(id, "op_") {
		return
	}
	switch e.Action {
	case "operator.add":
		paths[id] = "mint"
	case "operator.role":
		paths[id] = "grant"
	case "operator.enable":
		paths[id] = "enable"
	case "partner.add":
		paths[id] = "partner"
	}
}

// adminFigures counts, from the audit log, what each path of rogue-admin
// got: accounts minted, roles granted, accounts enabled, partners
// registered and the partner roles refused, extensions approved, people
// assigned to caseloads, the administrators' refusals (429s among them)
// and locks, the reached accounts locked, and the distinct records
// returned through each path (a read counts for the path its account
// came through at the time), and in the fast and the slow phase.
func adminFigures(d *Drill, s *scenarioRun, es []audit.Entry, f map[string]int) {
	paths := map[string]string{}
	admin := func(id string) bool { return slices.Contains(s.admins, id) }
	for _, k := range []string{"accounts_minted", "roles_granted", "enabled", "partners_registered", "partner_roles_refused",
		"extensions_approved", "caseload_assigned", "admin_refusals", "admin_limited", "admin_limited_slow", "admins_locked", "accounts_locked"} {
		f[k] = 0
	}
	records := map[string]map[string]bool{}
	for _, p := range []string{"all", "fast", "slow", "mint", "extension", "grant", "enable", "partner", "admin"} {
		records[p] = map[string]bool{}
	}
	base := s.start.In(d.Env.Location)
	slowFrom := time.Date(base.Year(), base.Month(), base.Day()+1, 0, 0, 0, 0, d.Env.Location)
	for _, e := range es {
		reach(paths, e, s.admins)
		allowed := strings.HasPrefix(e.Decision, "allow")
		switch {
		case admin(e.Actor) && allowed:
			switch e.Action {
			case "operator.add":
				f["accounts_minted"]++
			case "operator.role":
				f["roles_granted"]++
			case "operator.enable":
				f["enabled"]++
			case "partner.add":
				f["partners_registered"]++
			}
		case admin(e.Actor):
			f["admin_refusals"]++
			if strings.HasPrefix(e.Decision, "deny:limited:") {
				f["admin_limited"]++
				if !e.Time.Before(slowFrom) {
					f["admin_limited_slow"]++
				}
			}
			if e.Action == "partner.add" && e.Decision == "deny:forbidden" {
				f["partner_roles_refused"]++
			}
		case e.Action == "guard.lock" || e.Action == "login.lock":
			op := strings.TrimPrefix(e.Decision, "lock:")
			if admin(op) {
				f["admins_locked"]++
			} else if paths[op] != "" {
				f["accounts_locked"]++
			}
		case paths[e.Actor] != "" && allowed && e.Action == "extension.approve" && !strings.HasPrefix(e.Decision, "allow:first:"):
			f["extensions_approved"]++
		case paths[e.Actor] != "" && allowed && e.Action == "caseload.assign":
			f["caseload_assigned"] += assignedCount(e.Reason)
		}
		path := paths[e.Actor]
		if admin(e.Actor) {
			path = "admin"
		}
		if path == "" || e.Action != "read" || !allowed || len(e.Fields) == 0 {
			continue
		}
		records[path][e.Subject] = true
		records["all"][e.Subject] = true
		if e.Time.Before(slowFrom) {
			records["fast"][e.Subject] = true
		} else {
			records["slow"][e.Subject] = true
		}
	}
	for p, set := range records {
		f["records_"+p] = len(set)
	}
}
