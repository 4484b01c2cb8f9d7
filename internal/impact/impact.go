// Package impact computes from the audit log what a breach exposed: which
// people had which of their fields returned to the incident's scope (the
// accounts, partners or addresses named, or every account), in clear or
// masked, within its window, the log verified first. The counts go to the
// incident ([incident.Impact]); the exact exposure of each person
// ([Person]) goes to a file the security officer names, and from there to
// the letters. Nothing here is logged or stored.
//
// # What counts as returned
//
// An entry in scope whose action is "read" and whose decision starts with
// "allow" (a read, a break-glass read, a read under an extension or a
// consent) returned the fields it names: the vault audits exactly the
// fields shown that the record holds. How each was shown (clear, or
// masked and by which mask) is the policy's treatment of the field under
// the entry's purpose ([Info.Treatment]). A lookup returns an id, not a
// field: the person's existence was confirmed ([Person.Found]), as when
// a read returned none of their fields, or when a request of theirs was
// opened (request.open shows its text). Denied or locked accesses naming
// a person are attempts. A read under a consent purpose that opened a
// request is audited "consent.request" and returned nothing.
//
// A person's own accesses (actor "subject:…"), and those of Coffre
// itself (system, auth, signin, guard…), are never in scope: only
// accounts' (operators and partners').
package impact

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/incident"
	"github.com/coffre/coffre/internal/notice"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/subjectid"
)

// Channels of an account ([incident.Impact.Channels]).
const (
	Operator = "operator"
	Partner  = "partner"
)

// Source is the audit log an impact is computed from.
type Source struct {
	Store store.Store
	// Key is the checkpoint verifier key (coffre audit key).
	Key string
}

// Account is what the impact counts of an account: its unit, and whether
// it is a partner's client.
type Account struct {
	Unit    string
	Partner bool
}

// Info is what an impact needs beside the log.
type Info struct {
	// Account returns an actor's account; ok is false for an actor that
	// is no account (a person, Coffre itself). Required; see
	// [StoreAccounts].
	Account func(ctx context.Context, actor string) (acc Account, ok bool, err error)
	// Treatment says how purpose returns field: in clear, or masked by
	// mask. Required; see [Treatments].
	Treatment func(purpose, field string) (clear bool, mask string)
	// Sensitivity returns a field's sensitivity ("" when unknown).
	// Optional.
	Sensitivity func(field string) string
	// Canaries are the canary records' ids: synthetic people, whose
	// accesses the impact leaves out of its people and counts (they are
	// the guard's traps, no one's data). Optional.
	Canaries map[string]bool
}

// Result is an impact: the counts and each person's exposure.
type Result struct {
	Impact incident.Impact
	// People are the people exposed, confirmed or attempted, by id.
	People []Person
	// Window is what was read of the log and verified; nil when the
	// scope names no access to look for (only a stolen store).
	Window *auditlog.WindowReport
	// Notes say in words what the counts do not (a stolen store, entries
	// not yet signed): ids and counts only.
	Notes []string
}

// Person is one person's exposure.
type Person struct {
	Subject string `json:"subject"`
	// Fields are the fields returned, by name.
	Fields []Field `json:"fields,omitempty"`
	// Found: a lookup found the person, or a read returned none of their
	// fields (their existence was confirmed). Request: a request of
	// theirs was opened (its text shown).
	Found   bool `json:"found,omitempty"`
	Request bool `json:"request,omitempty"`
	// Attempted: only attempts (denied or locked) named the person.
	Attempted bool `json:"attempted,omitempty"`
}

// Field is a field returned to the scope: in clear (at least once), or
// else masked by Mask (several masks: their names, sorted, joined by
// commas).
type Field struct {
	Name  string `json:"name"`
	Clear bool   `json:"clear"`
	Mask  string `json:"mask,omitempty"`
}

// Compute computes the impact of a breach of scope at now: it verifies
// the audit log's entries of the scope's window against the latest signed
// checkpoint ([auditlog.ScanWindow]: a *auditlog.TamperError names the
// first bad entry, and no impact is returned) and counts what they
// returned to the scope. For a stolen store, it counts the records in the
// store (Stored) and says in Notes what that means with the keys safe or
// not.
func Compute(ctx context.Context, src Source, scope incident.Scope, info Info, now time.Time) (*Result, error) {
	if err := scope.Validate(now); err != nil {
		return nil, err
	}
	if info.Account == nil || info.Treatment == nil {
		return nil, errors.New("impact: Info needs Account and Treatment")
	}
	m, err := NewMatcher(scope, info.Account)
	if err != nil {
		return nil, err
	}
	res := &Result{Impact: incident.Impact{Computed: now}}
	c := &counter{info: info, m: m, people: map[string]*person{}}
	if m.Any() {
		rep, err := auditlog.ScanWindow(ctx, src.Store, src.Key, scope.From, scope.To, func(e *audit.Entry) error {
			return c.add(ctx, e)
		})
		if err != nil {
			return nil, fmt.Errorf("impact: %w", err)
		}
		res.Window = rep
		res.Impact.LogSize, res.Impact.Checkpoint = int64(rep.Size), int64(rep.Size)
		res.Impact.Unintegrated = rep.Unintegrated
		res.Impact.Scanned, res.Impact.Matched = rep.InWindow, c.matched
		if rep.Unintegrated > 0 && rep.Last == int64(rep.Size) {
			res.Notes = append(res.Notes, fmt.Sprintf("%d entries after the checkpoint of size %d are not signed yet, and not counted: compute the impact again once the integrator has signed them.", rep.Unintegrated, rep.Size))
		}
	}
	c.fill(res)
	if err := c.told(ctx, src.Store, res); err != nil {
		return nil, fmt.Errorf("impact: notices sent: %w", err)
	}
	if scope.StoreStolen {
		err := src.Store.View(ctx, func(ctx context.Context, tx store.Tx) error {
			var err error
			res.Impact.Stored, err = tx.CountSubjects(ctx)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("impact: count records: %w", err)
		}
		if scope.KeysSafe {
			res.Notes = append(res.Notes, fmt.Sprintf("The store or a backup of it was taken: the records of %d people were in it, encrypted, and the keys could not have left with it (sealed shares, an HSM or a KMS): the data is unintelligible to whoever holds it (GDPR art. 34(3)(a)).", res.Impact.Stored))
		} else {
			res.Notes = append(res.Notes, fmt.Sprintf("The store or a backup of it was taken, and the keys may have left with it: the records of %d people, every field, are to be treated as exposed.", res.Impact.Stored))
		}
	}
	return res, nil
}

// Matcher decides which entries are a scope's accesses: those of an
// account (an operator or a partner, never a person's own nor Coffre's)
// that the scope names, or made from an origin within the scope's, or
// every account's under Everything. The window is not its to check. Both
// the impact and the evidence bundle of an incident use it, so that they
// count the same entries.
type Matcher struct {
	operators, partners map[string]bool
	origins             []netip.Prefix
	everything          bool
	account             func(ctx context.Context, actor string) (Account, bool, error)
	accounts            map[string]accountOf // remembered
}

// NewMatcher returns the matcher of scope; account says which actors are
// accounts (see [Info.Account], [StoreAccounts]). A Matcher remembers the
// accounts it looked up: use one per computation.
func NewMatcher(s incident.Scope, account func(ctx context.Context, actor string) (Account, bool, error)) (*Matcher, error) {
	if account == nil {
		return nil, errors.New("impact: a matcher needs the accounts")
	}
	m := &Matcher{operators: set(s.Operators), partners: set(s.Partners), everything: s.Everything,
		account: account, accounts: map[string]accountOf{}}
	for _, o := range s.Origins {
		p, err := incident.ParseOrigin(o)
		if err != nil {
			return nil, fmt.Errorf("impact: origin %q: %w", o, err)
		}
		m.origins = append(m.origins, p)
	}
	return m, nil
}

// Match reports whether e is an access of the scope, and the account that
// made it.
func (m *Matcher) Match(ctx context.Context, e *audit.Entry) (Account, bool, error) {
	named := m.operators[e.Actor] || m.partners[e.Actor]
	if !named && !m.everything && !m.byOrigin(e.Origin) {
		return Account{}, false, nil
	}
	acc, err := m.accountOf(ctx, e.Actor)
	return acc.Account, acc.ok, err // not ok: a person's own access, or Coffre's
}

func set(ids []string) map[string]bool {
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out
}

// Any reports whether the scope names accesses to look for (a stolen
// store alone names none).
func (m *Matcher) Any() bool {
	return m.everything || len(m.operators)+len(m.partners)+len(m.origins) > 0
}

// byOrigin reports whether an entry's origin is within the scope's.
func (m *Matcher) byOrigin(origin string) bool {
	if len(m.origins) == 0 || origin == "" {
		return false
	}
	a, err := netip.ParseAddr(origin)
	if err != nil {
		ap, err := netip.ParseAddrPort(origin)
		if err != nil {
			return false
		}
		a = ap.Addr()
	}
	a = a.Unmap()
	for _, p := range m.origins {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// accountOf is an actor's account, remembered.
type accountOf struct {
	Account
	ok bool
}

// person is what the entries in scope did to one person.
type person struct {
	fields   map[string]*Field
	masks    map[string][]string // masked fields' masks, sorted
	units    []string
	channels uint8 // 1 operator, 2 partner
	found    bool
	request  bool
	attempt  bool
	reads    []int64 // the entries that returned fields, for Told
}

// counter folds the window's entries into people.
type counter struct {
	info    Info
	m       *Matcher
	people  map[string]*person
	matched int64
}

func (m *Matcher) accountOf(ctx context.Context, actor string) (accountOf, error) {
	if a, ok := m.accounts[actor]; ok {
		return a, nil
	}
	var a accountOf
	var err error
	if actor != "" {
		a.Account, a.ok, err = m.account(ctx, actor)
		if err != nil {
			return a, fmt.Errorf("account %s: %w", actor, err)
		}
	}
	if m.partners[actor] {
		a.Partner, a.ok = true, true // named as a partner by the scope
	} else if m.operators[actor] {
		a.ok = true
	}
	m.accounts[actor] = a
	return a, nil
}

func (c *counter) add(ctx context.Context, e *audit.Entry) error {
	acc, ok, err := c.m.Match(ctx, e)
	if err != nil || !ok {
		return err
	}
	c.matched++
	if e.Subject == "" || !subjectid.Valid(e.Subject) || c.info.Canaries[e.Subject] {
		return nil // no one, a partner's pseudonym never resolved (an attempt on no one known), or a canary
	}
	allowed := strings.HasPrefix(e.Decision, "allow")
	p := c.people[e.Subject]
	get := func() *person {
		if p == nil {
			p = &person{}
			c.people[e.Subject] = p
		}
		return p
	}
	switch {
	case allowed && e.Action == "read" && len(e.Fields) > 0:
		p = get()
		p.reads = append(p.reads, e.Seq)
		if p.fields == nil {
			p.fields = map[string]*Field{}
		}
		for _, f := range e.Fields {
			clear, mask := c.info.Treatment(e.Purpose, f)
			x := p.fields[f]
			if x == nil {
				x = &Field{Name: f}
				p.fields[f] = x
			}
			switch {
			case clear:
				x.Clear = true
			case !slices.Contains(p.masks[f], mask):
				if p.masks == nil {
					p.masks = map[string][]string{}
				}
				p.masks[f] = append(p.masks[f], mask)
				slices.Sort(p.masks[f])
			}
		}
		unit := acc.Unit
		if acc.Partner {
			unit, p.channels = Partner, p.channels|2
		} else {
			p.channels |= 1
		}
		if !slices.Contains(p.units, unit) {
			p.units = append(p.units, unit)
		}
	case allowed && (e.Action == "read" || e.Action == "lookup"):
		get().found = true
	case allowed && e.Action == "request.open":
		get().request = true
	case !allowed && e.Decision != "deny:not_found":
		get().attempt = true
	}
	return nil
}

// told sets res.Impact.Told: the people exposed who had been sent a
// notice of every read that exposed them (notice.Key of its entry, sent
// and not yet pruned: sent messages are kept 30 days, so an older access
// counts as not told).
func (c *counter) told(ctx context.Context, s store.Store, res *Result) error {
	const batch = 1000
	var keys []string
	owner := map[string]string{}
	for id, p := range c.people {
		for _, seq := range p.reads {
			k := notice.Key(seq)
			keys, owner[k] = append(keys, k), id
		}
	}
	untold := map[string]bool{}
	for from := 0; from < len(keys); from += batch {
		part := keys[from:min(from+batch, len(keys))]
		var sent map[string]bool
		if err := s.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
			sent, err = tx.SentKeys(ctx, part)
			return err
		}); err != nil {
			return err
		}
		for _, k := range part {
			if !sent[k] {
				untold[owner[k]] = true
			}
		}
	}
	res.Impact.Told = 0
	for id, p := range c.people {
		if len(p.reads) > 0 && !untold[id] {
			res.Impact.Told++
		}
	}
	return nil
}

// fill sets the counts and the people of res.
func (c *counter) fill(res *Result) {
	im := &res.Impact
	ids := make([]string, 0, len(c.people))
	for id := range c.people {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	res.People = make([]Person, 0, len(ids))
	for _, id := range ids {
		p := c.people[id]
		out := Person{Subject: id, Found: p.found, Request: p.request}
		switch {
		case len(p.fields) > 0:
			im.Subjects++
		case p.found || p.request:
			im.Confirmed++
		default:
			out.Attempted = true
			im.Attempted++
		}
		for _, f := range p.fields {
			if !f.Clear {
				f.Mask = strings.Join(p.masks[f.Name], ",")
			}
			out.Fields = append(out.Fields, *f)
			im.Records++
			if im.Fields == nil {
				im.Fields = map[string]incident.FieldCount{}
			}
			fc := im.Fields[f.Name]
			fc.Subjects++
			if f.Clear {
				fc.Clear++
			} else {
				fc.Mask = joinSorted(fc.Mask, p.masks[f.Name])
			}
			if c.info.Sensitivity != nil {
				fc.Sensitivity = c.info.Sensitivity(f.Name)
			}
			im.Fields[f.Name] = fc
		}
		slices.SortFunc(out.Fields, func(a, b Field) int { return strings.Compare(a.Name, b.Name) })
		if len(p.fields) > 0 {
			if im.Units == nil {
				im.Units, im.Channels = map[string]int64{}, map[string]int64{}
			}
			for _, u := range p.units {
				im.Units[u]++
			}
			if p.channels&1 != 0 {
				im.Channels[Operator]++
			}
			if p.channels&2 != 0 {
				im.Channels[Partner]++
			}
		}
		res.People = append(res.People, out)
	}
}

// joinSorted adds masks to a comma-joined sorted list.
func joinSorted(list string, masks []string) string {
	var all []string
	if list != "" {
		all = strings.Split(list, ",")
	}
	for _, m := range masks {
		if !slices.Contains(all, m) {
			all = append(all, m)
		}
	}
	slices.Sort(all)
	return strings.Join(all, ",")
}

// Treatments returns [Info.Treatment] from a policy. A purpose or field
// the policy does not show (it changed since, or the entry is not what
// the policy allows) counts as returned in clear: the worst case, so that
// no one is told less than what may have been shown.
func Treatments(p *policy.Policy) func(purpose, field string) (bool, string) {
	return func(purpose, field string) (bool, string) {
		pu, ok := p.Purposes[purpose]
		if !ok {
			return true, ""
		}
		t, ok := pu.Fields[field]
		if !ok || t.Action != policy.Masked {
			return true, ""
		}
		return false, t.Mask
	}
}

// Sensitivities returns [Info.Sensitivity] from a policy.
func Sensitivities(p *policy.Policy) func(field string) string {
	return func(field string) string {
		f, _ := p.Field(field)
		return string(f.Sensitivity)
	}
}

// StoreAccounts returns [Info.Account] from the store's accounts: an
// operator's unit, a partner's client (an operator row too) in unit
// "partner"; an actor with no operator row is no account.
func StoreAccounts(s store.Store) func(ctx context.Context, actor string) (Account, bool, error) {
	return func(ctx context.Context, actor string) (Account, bool, error) {
		var a Account
		ok := false
		err := s.View(ctx, func(ctx context.Context, tx store.Tx) error {
			op, err := tx.GetOperator(ctx, actor)
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			a.Unit, ok = op.Unit, true
			_, err = tx.GetPartner(ctx, actor)
			switch {
			case err == nil:
				a.Partner, a.Unit = true, Partner
			case !errors.Is(err, store.ErrNotFound):
				return err
			}
			return nil
		})
		return a, ok, err
	}
}
