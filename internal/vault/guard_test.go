package vault_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetest"

	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetemplate"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

// errOf is the error of an update.
func errOf(_ vault.Updated, err error) error { return err }

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// guarded is a vault with the guard on, over a store that can be reopened.
type guarded struct {
	t     *testing.T
	path  string
	keys  *envelope.Keyring
	clock *clock
	store *sqlite.Store
	v     *vault.Vault
	lim   map[string]guard.Limits
	n     int // subjects made
	// approverAge is Guard.ApproverMinAge.
	approverAge time.Duration
}

var (
	cw  = identity.Actor{ID: "op_cw", Role: "caseworker", Unit: "u1", Origin: "10.0.0.5"}
	sec = identity.Actor{ID: "op_sec", Role: "security-officer", Unit: "u1", Origin: "10.0.0.6"}
)

func guardLimits() map[string]guard.Limits {
	return map[string]guard.Limits{"caseworker": {
		SubjectsPerHour: 30, SubjectsPerDay: 100,
		OutOfCaseloadPerDay: 3, OutOfUnitPerDay: 2, UntrustedPerDay: 5,
		LookupsPerHour: 40, MissesPerHour: 4,
		VelocitySubjects: 8, VelocityWindow: 10 * time.Minute,
		EnumerationRun: 10, HardMargin: 4,
	}}
}

func newGuarded(t *testing.T, mods ...func(*guard.Limits)) *guarded {
	t.Helper()
	lim := guardLimits()
	cwl := lim["caseworker"]
	for _, m := range mods {
		m(&cwl)
	}
	lim["caseworker"] = cwl
	seed := make([]byte, envelope.SeedSize)
	rand.Read(seed)
	keys, err := envelope.NewKeyring(map[uint32][]byte{1: seed}, 1)
	if err != nil {
		t.Fatal(err)
	}
	g := &guarded{t: t, path: filepath.Join(t.TempDir(), "g.db"), keys: keys, clock: &clock{t: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}, lim: lim}
	g.open()
	t.Cleanup(func() { g.store.Close() })
	for _, a := range []identity.Actor{cw, sec, hr} {
		err := g.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			return tx.PutOperator(ctx, &identity.Operator{ID: a.ID, Username: a.ID, PasswordHash: "x", Role: a.Role, Unit: a.Unit, Created: g.clock.Now()})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return g
}

// open (re)opens the store and builds a fresh vault on it: a restart.
func (g *guarded) open() {
	g.t.Helper()
	if g.store != nil {
		g.store.Close()
	}
	st, err := sqlitetemplate.Open(ctx, g.path, sqlite.Options{IDs: sqlitetest.IDs()})
	if err != nil {
		g.t.Fatal(err)
	}
	g.store = st
	g.v = g.node()
}

// node is another vault on the same store: another node, or the same one
// restarted.
func (g *guarded) node() *vault.Vault {
	g.t.Helper()
	cfg, err := config.Demo(nil)
	if err != nil {
		g.t.Fatal(err)
	}
	return vault.New(vault.Config{Store: g.store, Keys: g.keys, Policy: cfg.Policy, Now: g.clock.Now, Guard: &vault.Guard{
		Limits:           g.lim,
		Trusted:          func(o string) bool { return strings.HasPrefix(o, "10.") },
		TwoApproversOver: 500,
		ApproverMinAge:   g.approverAge,
	}})
}

// subjects creates n subjects in unit.
func (g *guarded) subjects(unit string, n int) []string {
	g.t.Helper()
	ids := make([]string, n)
	for i := range ids {
		g.n++
		p := synth.Make(11, g.n)
		id, err := g.v.Create(ctx, hr, unit, p.Fields)
		if err != nil {
			g.t.Fatal(err)
		}
		ids[i] = id
	}
	return ids
}

func (g *guarded) read(a identity.Actor, id, reason string) error {
	g.clock.Add(90 * time.Second)
	_, err := g.v.Read(ctx, a, id, "case-handling", reason)
	return err
}

// assign assigns ids to operator from the host, with no end.
func (g *guarded) assign(t *testing.T, operator string, ids []string) {
	t.Helper()
	res, err := g.v.ChangeCaseload(ctx, identity.Actor{ID: "system", Origin: "test"}, vault.CaseloadChange{ID: operator, Rows: vault.CaseloadRows(ids, time.Time{})})
	if err != nil || len(res.Failed) > 0 || res.Assigned != len(ids) {
		t.Fatalf("assign: %+v, %v", res, err)
	}
}

func (g *guarded) operator(id string) *identity.Operator {
	var op *identity.Operator
	g.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		op, err = tx.GetOperator(ctx, id)
		return err
	})
	return op
}

func TestGuardScopes(t *testing.T) {
	g := newGuarded(t)
	mine, unit, other := g.subjects("u1", 3), g.subjects("u1", 5), g.subjects("u2", 4)
	g.assign(t, cw.ID, mine)
	for _, id := range mine {
		if err := g.read(cw, id, ""); err != nil {
			t.Fatalf("caseload read: %v", err)
		}
	}
	// Repeat visits are free, whatever the budget.
	for range 10 {
		if err := g.read(cw, mine[0], ""); err != nil {
			t.Fatalf("repeat visit: %v", err)
		}
	}
	// In the unit, outside the caseload: 3 a day.
	for i, id := range unit {
		err := g.read(cw, id, "")
		var le *access.LimitError
		switch {
		case i < 3 && err != nil:
			t.Fatalf("unit read %d: %v", i, err)
		case i >= 3 && (!errors.As(err, &le) || le.Code != guard.CodeOutOfCaseload || le.RetryAfter <= 0):
			t.Fatalf("unit read %d: %v, want a 429 on out_of_caseload", i, err)
		}
	}
	// Outside the unit: a reason is required, and 2 a day.
	if err := g.read(cw, other[0], ""); !errors.Is(err, access.ErrReasonRequired) {
		t.Fatalf("out of unit without a reason: %v", err)
	}
	if g.operator(cw.ID).Locked != "" {
		t.Fatal("locked too early")
	}
	for i, id := range other[:2] {
		if err := g.read(cw, id, "ticket 7"); err != nil {
			t.Fatalf("out-of-unit read %d with a reason: %v", i, err)
		}
	}
	// Two refusals so far (out_of_caseload ×2) and one reason_required: the
	// next refusal reaches the hard margin (4) and locks.
	err := g.read(cw, other[2], "ticket 7")
	if !errors.Is(err, access.ErrLocked) {
		t.Fatalf("past the margin: %v, want ErrLocked", err)
	}
	if op := g.operator(cw.ID); op.Locked != guard.CodeOutOfUnit {
		t.Fatalf("operator lock = %q", op.Locked)
	}
	// A locked operator reads nothing, not even its caseload.
	if err := g.read(cw, mine[0], ""); !errors.Is(err, access.ErrLocked) {
		t.Fatalf("caseload read while locked: %v", err)
	}
}

func TestGuardLockSurvivesRestartAndUnlock(t *testing.T) {
	g := newGuarded(t)
	mine := g.subjects("u1", 12)
	g.assign(t, cw.ID, mine)
	// A session to be revoked by the lock.
	g.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.PutSession(ctx, &identity.Session{Hash: []byte("tok"), Kind: identity.KindSession, Operator: cw.ID, Created: g.clock.Now(), LastSeen: g.clock.Now(), Expires: g.clock.Now().Add(time.Hour)})
	})
	var allowed int
	var err error
	for _, id := range mine {
		g.clock.Add(5 * time.Second) // fast: velocity
		if _, err = g.v.Read(ctx, cw, id, "case-handling", ""); err != nil {
			break
		}
		allowed++
	}
	if !errors.Is(err, access.ErrLocked) || allowed != 8 {
		t.Fatalf("fast reads: %d allowed then %v; want 8 then ErrLocked", allowed, err)
	}
	es := auditEntries(t, g.store)
	var lockSeq int64
	var readSeqs []int64
	for _, e := range es {
		if e.Action == "read" && e.Actor == cw.ID && e.Decision == "allow" {
			readSeqs = append(readSeqs, e.Seq)
		}
		if e.Action == "guard.lock" && e.Decision == "lock:"+cw.ID && e.Reason == guard.CodeVelocity {
			lockSeq = e.Seq
		}
	}
	if lockSeq == 0 {
		t.Fatal("no guard.lock audit entry")
	}
	last := es[len(es)-1]
	if last.Seq != lockSeq {
		t.Errorf("the lock entry is not the last: %+v", last)
	}
	var alerts []guard.Alert
	if alerts, err = g.v.Alerts(ctx, sec, 0, 10); err != nil || len(alerts) != 1 {
		t.Fatalf("alerts = %+v, %v", alerts, err)
	}
	if a := alerts[0]; a.Code != guard.CodeVelocity || a.Operator != cw.ID || a.Action != "lock" || len(a.Evidence) != 9 || a.Evidence[0] != readSeqs[0] {
		t.Errorf("alert = %+v; want the 8 reads and the refused one as evidence (reads %v)", a, readSeqs)
	}
	if _, err := g.v.Alerts(ctx, cw, 0, 10); !errors.Is(err, access.ErrForbidden) {
		t.Errorf("caseworker reads alerts: %v", err)
	}
	g.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.GetSession(ctx, []byte("tok")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("session after lock: %v, want revoked", err)
		}
		return nil
	})

	// Restart: the lock holds.
	g.open()
	if err := g.read(cw, mine[0], ""); !errors.Is(err, access.ErrLocked) {
		t.Fatalf("after restart: %v, want ErrLocked", err)
	}
	// Only a security officer unlocks, with a reason, and not themself.
	if err := g.v.Unlock(ctx, cw, cw.ID, "please"); !errors.Is(err, access.ErrForbidden) {
		t.Errorf("self unlock by the caseworker: %v", err)
	}
	if err := g.v.Unlock(ctx, sec, cw.ID, ""); !errors.Is(err, access.ErrReasonRequired) {
		t.Errorf("unlock without reason: %v", err)
	}
	if err := g.v.Unlock(ctx, sec, sec.ID, "x"); !errors.Is(err, access.ErrForbidden) {
		t.Errorf("unlock of oneself: %v", err)
	}
	if err := g.v.Unlock(ctx, sec, cw.ID, "INC-42: user confirmed, new password"); err != nil {
		t.Fatalf("unlock: %v", err)
	}
	if err := g.v.Unlock(ctx, sec, cw.ID, "again"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("unlock of an unlocked operator: %v", err)
	}
	if err := g.read(cw, mine[0], ""); err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	if alerts, _ := g.v.Alerts(ctx, sec, alerts[0].ID, 10); len(alerts) != 1 || alerts[0].Action != "unlock" {
		t.Errorf("unlock alert = %+v", alerts)
	}
}

func TestGuardBudgetSurvivesRestart(t *testing.T) {
	g := newGuarded(t)
	other := g.subjects("u2", 3)
	for _, id := range other[:2] {
		if err := g.read(cw, id, "ticket"); err != nil {
			t.Fatal(err)
		}
	}
	g.open()
	var le *access.LimitError
	if err := g.read(cw, other[2], "ticket"); !errors.As(err, &le) || le.Code != guard.CodeOutOfUnit {
		t.Fatalf("third out-of-unit read after a restart: %v, want 429 out_of_unit", err)
	}
	// The refused read was audited as such and returned no fields.
	es := auditEntries(t, g.store)
	last := es[len(es)-1]
	if last.Subject != other[2] || last.Decision != "deny:limited:out_of_unit" || len(last.Fields) != 0 {
		t.Errorf("audit of the refused read = %+v", last)
	}
}

func TestGuardCanary(t *testing.T) {
	g := newGuarded(t)
	ids := g.subjects("u1", 3)
	g.assign(t, cw.ID, ids)
	canary := ids[1]
	g.store.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.PutCanary(ctx, canary, "", g.clock.Now()) })
	if err := g.read(cw, ids[0], ""); err != nil {
		t.Fatal(err)
	}
	if err := g.read(cw, canary, ""); !errors.Is(err, access.ErrLocked) {
		t.Fatalf("canary read: %v, want ErrLocked", err)
	}
	if err := g.read(cw, ids[2], ""); !errors.Is(err, access.ErrLocked) {
		t.Fatalf("read after the canary: %v, want ErrLocked", err)
	}
	al, _ := g.v.Alerts(ctx, sec, 0, 10)
	if len(al) != 1 || al[0].Code != guard.CodeCanary || al[0].Severity != "critical" {
		t.Errorf("alerts = %+v", al)
	}
}

func TestGuardLookups(t *testing.T) {
	tests := []struct {
		name   string
		lookup func(i int) string // the i-th email looked up
		canary bool
		found  int // lookups answered before the verdict
		want   error
		code   string
	}{
		{"misses lock", func(i int) string { return "nobody." + string(rune('a'+i*7%26)) + "@example.org" }, false, 0, access.ErrLocked, guard.CodeProbing},
		{"alphabetical values lock", func(i int) string { return "nobody." + string(rune('a'+i)) + "@example.org" }, false, 0, access.ErrLocked, guard.CodeValueOrder},
		{"a canary lookup locks", nil, true, 0, access.ErrLocked, guard.CodeCanary},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGuarded(t, func(l *guard.Limits) {
				if tt.code == guard.CodeValueOrder {
					l.MissesPerHour = 0 // only the order detector
				}
			})
			p := synth.Make(99, 1)
			id, err := g.v.Create(ctx, hr, "u1", p.Fields)
			if err != nil {
				t.Fatal(err)
			}
			if tt.canary {
				g.store.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.PutCanary(ctx, id, "partner-a", g.clock.Now()) })
				tt.lookup = func(int) string { return p.Fields["email_pro"] }
			}
			var n int
			for ; n < 30; n++ {
				g.clock.Add(time.Minute)
				_, err = g.v.Lookup(ctx, cw, "directory", "", "email_pro", tt.lookup(n))
				if !errors.Is(err, store.ErrNotFound) {
					break
				}
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("after %d lookups: %v, want %v", n, err, tt.want)
			}
			if op := g.operator(cw.ID); op.Locked != tt.code {
				t.Errorf("lock code %q, want %q", op.Locked, tt.code)
			}
		})
	}
}

// TestGuardAcrossNodes: what the guard remembers between accesses lives
// in the store, so requests spread over nodes, and a restart, are decided
// as on one node: a repeat visit is free whichever node served the first,
// and values looked up in order lock at the same count. The order key of
// a looked-up value (its first bytes) is stored sealed, never plain.
func TestGuardAcrossNodes(t *testing.T) {
	g := newGuarded(t, func(l *guard.Limits) { l.MissesPerHour = 0 })
	nodes := []*vault.Vault{g.v, g.node(), g.node()}
	ids := g.subjects("u1", 2)
	g.assign(t, cw.ID, ids)
	for i := range 12 {
		g.clock.Add(time.Minute)
		if _, err := nodes[i%3].Read(ctx, cw, ids[i%2], "case-handling", ""); err != nil {
			t.Fatalf("read %d on node %d: %v", i, i%3, err)
		}
	}
	if st := g.guardState(cw.ID); st.HourSubjects != 2 || st.DaySubjects != 2 {
		t.Errorf("two subjects read 12 times over 3 nodes: %d this hour, %d today; want 2, 2", st.HourSubjects, st.DaySubjects)
	}

	var err error
	n := 0
	for ; n < 30; n++ {
		g.clock.Add(time.Minute)
		if n == 5 {
			g.open() // a restart mid-run
			nodes[0] = g.v
			nodes[1], nodes[2] = g.node(), g.node()
		}
		_, err = nodes[n%3].Lookup(ctx, cw, "directory", "", "email_pro", "nobody."+string(rune('a'+n))+"@example.org")
		if !errors.Is(err, store.ErrNotFound) {
			break
		}
	}
	if !errors.Is(err, access.ErrLocked) || n != 10 || g.operator(cw.ID).Locked != guard.CodeValueOrder {
		t.Fatalf("alphabetical lookups over 3 nodes and a restart: %v after %d, lock %q; want locked at the 11th (a run of 10) on %s",
			err, n, g.operator(cw.ID).Locked, guard.CodeValueOrder)
	}
	stored := g.guardState(cw.ID)
	raw := stored.Marshal() // as stored
	if plain := []byte("nobody.j"); len(raw) == 0 || bytes.Contains(raw, plain) || bytes.Contains(raw, []byte("nobody.")) {
		t.Errorf("the stored guard state holds a looked-up value's bytes: %q", raw)
	}
}

// guardState is an operator's stored guard state.
func (g *guarded) guardState(op string) guard.State {
	g.t.Helper()
	var st guard.State
	err := g.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		st, err = tx.GetGuard(ctx, op)
		return err
	})
	if err != nil {
		g.t.Fatal(err)
	}
	return st
}

// TestGuardCreateConflicts: a create whose value is taken answers 409,
// which says the value exists, so the guard counts every create that sets
// a lookup value as a lookup; once the lookup budget is spent every such
// create is refused, taken value or not, and the refusal says nothing.
func TestGuardCreateConflicts(t *testing.T) {
	g := newGuarded(t)
	g.lim["hr-officer"] = guard.Limits{LookupsPerHour: 4, MissesPerHour: 10}
	g.open()
	taken := synth.Make(31, 0)
	if _, err := g.v.Create(ctx, hr, "u1", taken.Fields); err != nil {
		t.Fatal(err)
	}
	if _, err := g.v.Create(ctx, hr, "u1", synth.Make(31, 1).Fields); err != nil {
		t.Fatal(err)
	}
	probe := synth.Make(31, 100).Fields
	probe["email_pro"] = taken.Fields["email_pro"]
	for i := range 2 {
		if _, err := g.v.Create(ctx, hr, "u1", probe); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("probe %d: %v, want ErrConflict", i, err)
		}
	}
	var le *access.LimitError
	if _, err := g.v.Create(ctx, hr, "u1", probe); !errors.As(err, &le) || le.Code != guard.CodeLookups {
		t.Fatalf("third probe: %v, want the lookup budget's limit", err)
	}
	if _, err := g.v.Create(ctx, hr, "u1", synth.Make(31, 200).Fields); !errors.As(err, &le) {
		t.Fatalf("a free value once the budget is spent: %v, want the same limit (no oracle)", err)
	}
	g.clock.Add(time.Hour)
	if _, err := g.v.Create(ctx, hr, "u1", synth.Make(31, 201).Fields); err != nil {
		t.Fatalf("an hour later: %v", err)
	}
	want := []string{"allow", "allow", "deny:conflict", "deny:conflict",
		"deny:limited:" + guard.CodeLookups, "deny:limited:" + guard.CodeLookups, "allow"}
	if got := g.decisions("create"); !slices.Equal(got, want) {
		t.Fatalf("create decisions in the audit log:\n%v\nwant\n%v", got, want)
	}
}

// decisions lists the audit decisions of action, in order.
func (g *guarded) decisions(action string) []string {
	var out []string
	for _, e := range auditEntries(g.t, g.store) {
		if e.Action == action {
			out = append(out, e.Decision)
		}
	}
	return out
}

// TestGuardWrites: creates in one's own unit within the day's budget;
// conflicts lock as probes; updates and erasures within their budgets,
// refused outside one's unit without a reason; refusals of the policy
// count towards the hard margin.
func TestGuardWrites(t *testing.T) {
	t.Run("creates", func(t *testing.T) {
		g := newGuarded(t)
		g.lim["hr-officer"] = guard.Limits{CreatesPerDay: 2, MissesPerHour: 1, LookupsPerHour: 100}
		g.open()
		if _, err := g.v.Create(ctx, hr, "u2", synth.Make(32, 0).Fields); !errors.Is(err, access.ErrForbidden) {
			t.Fatalf("create in another unit: %v, want ErrForbidden", err)
		}
		taken := synth.Make(32, 1)
		for i := range 2 {
			if _, err := g.v.Create(ctx, hr, "u1", synth.Make(32, 1+i).Fields); err != nil {
				t.Fatal(err)
			}
		}
		var le *access.LimitError
		if _, err := g.v.Create(ctx, hr, "u1", synth.Make(32, 3).Fields); !errors.As(err, &le) || le.Code != guard.CodeCreates {
			t.Fatalf("third create: %v, want the creates budget's limit", err)
		}
		g.clock.Add(24 * time.Hour)
		probe := synth.Make(32, 9).Fields
		probe["email_pro"] = taken.Fields["email_pro"]
		if _, err := g.v.Create(ctx, hr, "u1", probe); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("first conflict: %v", err)
		}
		if _, err := g.v.Create(ctx, hr, "u1", probe); !errors.Is(err, access.ErrLocked) {
			t.Fatalf("second conflict: %v, want the lock", err)
		}
		// A role whose limits say all_units creates in any unit with staff.
		g.lim["hr-officer"] = guard.Limits{AllUnits: true}
		g.open()
		desk := identity.Actor{ID: "op_hr2", Role: "hr-officer", Unit: "u9", Origin: "10.0.0.7"}
		if _, err := g.v.Create(ctx, desk, "nowhere", synth.Make(32, 20).Fields); !errors.Is(err, access.ErrInvalid) {
			t.Fatalf("create in a unit without staff: %v, want ErrInvalid", err)
		}
		if _, err := g.v.Create(ctx, desk, cw.Unit, synth.Make(32, 21).Fields); err != nil {
			t.Fatalf("create in a unit with staff: %v", err)
		}
		want := []string{"deny:forbidden", "allow", "allow", "deny:limited:" + guard.CodeCreates, "deny:conflict", "deny:locked:" + guard.CodeConflicts, "deny:invalid", "allow"}
		if got := g.decisions("create"); !slices.Equal(got, want) {
			t.Fatalf("decisions %v, want %v", got, want)
		}
	})
	t.Run("updates and erasures", func(t *testing.T) {
		g := newGuarded(t)
		mine, other := g.subjects("u1", 1)[0], g.subjects("u2", 1)[0]
		g.lim["hr-officer"] = guard.Limits{UpdatesPerHour: 2, ErasuresPerDay: 1, OutOfUnitPerDay: 5, LookupsPerHour: 100, MissesPerHour: 100}
		g.open()
		addr := "1 rue de la Paix, 75002 Paris"
		change := map[string]*string{"address": &addr}
		if _, err := g.v.Update(ctx, hr, other, "hr-records", "", change); !errors.Is(err, access.ErrReasonRequired) {
			t.Fatalf("update without a reason: %v", err)
		}
		if _, err := g.v.Update(ctx, hr, mine, "hr-records", "move 12", change); err != nil {
			t.Fatal(err)
		}
		job := "Gestionnaire"
		if _, err := g.v.Update(ctx, cw, other, "case-update", "", map[string]*string{"job_title": &job}); !errors.Is(err, access.ErrReasonRequired) {
			t.Fatalf("caseworker's update outside the unit without a reason: %v", err)
		}
		if err := g.v.Erase(ctx, hr, other, ""); !errors.Is(err, access.ErrReasonRequired) {
			t.Fatalf("erase without a reason: %v", err)
		}
		if _, err := g.v.Update(ctx, hr, other, "hr-records", "move 13", change); err != nil {
			t.Fatalf("update outside the unit with a reason: %v", err)
		}
		var le *access.LimitError
		if _, err := g.v.Update(ctx, hr, mine, "hr-records", "move 14", change); !errors.As(err, &le) || le.Code != guard.CodeUpdatesHour {
			t.Fatalf("third update: %v, want the updates budget's limit", err)
		}
		if err := g.v.Erase(ctx, hr, other, "art. 17 request 1"); err != nil {
			t.Fatal(err)
		}
		if err := g.v.Erase(ctx, hr, other, "art. 17 request 1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("erase of an erased subject: %v, want ErrNotFound", err)
		}
		if err := g.v.Erase(ctx, hr, mine, "art. 17 request 2"); !errors.As(err, &le) || le.Code != guard.CodeErasures {
			t.Fatalf("second erasure: %v, want the erasures budget's limit", err)
		}
		if got, want := g.decisions("erase"), []string{"deny:reason_required", "allow", "deny:not_found", "deny:limited:" + guard.CodeErasures}; !slices.Equal(got, want) {
			t.Fatalf("erase decisions %v, want %v", got, want)
		}
	})
	t.Run("update oracle", func(t *testing.T) {
		// Once the lookup budget is spent, an update that sets a lookup
		// value is refused alike whether the value is taken or free.
		g := newGuarded(t)
		ids := g.subjects("u1", 2)
		taken := synth.Make(11, 1).Fields["email_pro"] // the first subject's
		g.lim["caseworker"] = guard.Limits{LookupsPerHour: 2, MissesPerHour: 10}
		g.open()
		email := func(v string) map[string]*string { return map[string]*string{"email_pro": &v} }
		if _, err := g.v.Update(ctx, cw, ids[1], "case-update", "t", email(taken)); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("taken value: %v, want ErrConflict", err)
		}
		if _, err := g.v.Update(ctx, cw, ids[1], "case-update", "t", email("libre.1@example.org")); err != nil {
			t.Fatalf("free value: %v", err)
		}
		var le *access.LimitError
		for _, v := range []string{taken, "libre.2@example.org"} {
			if _, err := g.v.Update(ctx, cw, ids[1], "case-update", "t", email(v)); !errors.As(err, &le) || le.Code != guard.CodeLookups {
				t.Fatalf("over the lookup budget: %v, want the same limit for a taken and a free value", err)
			}
		}
		job := "Gestionnaire"
		if _, err := g.v.Update(ctx, cw, ids[1], "case-update", "t", map[string]*string{"job_title": &job}); err != nil {
			t.Fatalf("a change of no lookup field: %v", err)
		}
	})
	t.Run("policy refusals lock", func(t *testing.T) {
		g := newGuarded(t)
		id := g.subjects("u1", 1)[0]
		g.lim["caseworker"] = guard.Limits{HardMargin: 3}
		g.open()
		errs := []error{
			errOf(g.v.Update(ctx, cw, id, "payroll", "x", map[string]*string{"phone": nil})),
			g.v.Erase(ctx, cw, id, "x"),
			errOf(g.v.Update(ctx, cw, "sub_bad", "case-update", "x", map[string]*string{"phone": nil})),
		}
		if !errors.Is(errs[0], access.ErrForbidden) || !errors.Is(errs[1], access.ErrForbidden) || !errors.Is(errs[2], access.ErrLocked) {
			t.Fatalf("refusals: %v, want forbidden, forbidden, then the lock", errs)
		}
		if _, err := g.v.Read(ctx, cw, id, "directory", ""); !errors.Is(err, access.ErrLocked) {
			t.Fatalf("read once locked: %v", err)
		}
	})
}

// TestExtensionTwoApprovers: an extension over the size needs two
// approvers, distinct; the first approval alone stretches nothing.
func TestExtensionTwoApprovers(t *testing.T) {
	g := newGuarded(t)
	sup1 := identity.Actor{ID: "op_s1", Role: "supervisor", Unit: "u1", Origin: "10.0.0.8"}
	sup2 := identity.Actor{ID: "op_s2", Role: "supervisor", Unit: "u1", Origin: "10.0.0.9"}
	small, err := g.v.RequestExtension(ctx, cw, 500, 8, "mailing 1")
	if err != nil {
		t.Fatal(err)
	}
	if e, err := g.v.ApproveExtension(ctx, sup1, small.ID); err != nil || e.ApprovedBy != sup1.ID {
		t.Fatalf("500 subjects, one approver: %+v, %v", e, err)
	}
	big, err := g.v.RequestExtension(ctx, cw, 501, 8, "mailing 2")
	if err != nil {
		t.Fatal(err)
	}
	e, err := g.v.ApproveExtension(ctx, sup1, big.ID)
	if err != nil || e.ApprovedBy != "" || e.FirstApprover != sup1.ID {
		t.Fatalf("first approval: %+v, %v; want it pending", e, err)
	}
	if _, err := g.v.ApproveExtension(ctx, sup1, big.ID); !errors.Is(err, access.ErrForbidden) {
		t.Fatalf("the same approver twice: %v, want ErrForbidden", err)
	}
	if e, err = g.v.ApproveExtension(ctx, sup2, big.ID); err != nil || e.ApprovedBy != sup2.ID || e.FirstApprover != sup1.ID {
		t.Fatalf("second approval: %+v, %v", e, err)
	}
	if got, want := g.decisions("extension.approve"), []string{"allow:" + cw.ID, "allow:first:" + cw.ID, "deny:forbidden", "allow:" + cw.ID}; !slices.Equal(got, want) {
		t.Errorf("audited %q, want %q", got, want)
	}
}

// TestCheckAdmin: administrative acts draw on the day's budget of their
// kind, in the act's transaction, and the refusal past it counts towards
// the hard margin.
func TestCheckAdmin(t *testing.T) {
	g := newGuarded(t)
	g.lim["admin"] = guard.Limits{OperatorsPerDay: 1, HardMargin: 2}
	g.open()
	adm := identity.Actor{ID: "op_adm", Role: "admin", Unit: "u1", Origin: "10.0.0.4"}
	if err := g.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.PutOperator(ctx, &identity.Operator{ID: adm.ID, Username: "adm", PasswordHash: "x", Role: adm.Role, Unit: adm.Unit, Created: g.clock.Now()})
	}); err != nil {
		t.Fatal(err)
	}
	act := func() (string, error) {
		var decision string
		var refusal error
		err := g.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			c, err := g.v.CheckAdmin(ctx, tx, adm, guard.ActOperator)
			if err != nil {
				return err
			}
			decision, refusal = c.AuditDecision(), c.Refusal()
			e := audit.Entry{Time: g.clock.Now(), Actor: adm.ID, Action: "operator.add", Decision: decision}
			if err := tx.AppendAudit(ctx, &e); err != nil {
				return err
			}
			return c.Finish(ctx, tx, e.Seq)
		})
		if err != nil {
			t.Fatal(err)
		}
		return decision, refusal
	}
	var got []string
	for range 3 {
		d, _ := act()
		got = append(got, d)
	}
	want := []string{"allow", "deny:limited:" + guard.CodeOperators, "deny:locked:" + guard.CodeOperators}
	if !slices.Equal(got, want) {
		t.Errorf("decisions %q, want %q", got, want)
	}
	if _, err := act(); !errors.Is(err, access.ErrLocked) {
		t.Errorf("once locked: %v, want ErrLocked", err)
	}
}

// TestEstablishedApprover: an approver whose account, or its role, is newer
// than the minimum age is refused; an established one approves.
func TestEstablishedApprover(t *testing.T) {
	g := newGuarded(t)
	g.approverAge = 7 * 24 * time.Hour
	g.open()
	put := func(id string, created time.Time) identity.Actor {
		a := identity.Actor{ID: id, Role: "supervisor", Unit: "u1", Origin: "10.0.0.8"}
		if err := g.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			return tx.PutOperator(ctx, &identity.Operator{ID: id, Username: id, PasswordHash: "x", Role: a.Role, Unit: a.Unit, Created: created})
		}); err != nil {
			t.Fatal(err)
		}
		return a
	}
	now := g.clock.Now()
	minted := put("op_new", now.Add(-time.Hour))
	old := put("op_old", now.Add(-30*24*time.Hour))
	promoted := put("op_prom", now.Add(-30*24*time.Hour))
	if err := g.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.SetOperatorRole(ctx, promoted.ID, "supervisor", "u1", now.Add(-24*time.Hour))
	}); err != nil {
		t.Fatal(err)
	}
	e, err := g.v.RequestExtension(ctx, cw, 50, 8, "mailing")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []identity.Actor{minted, promoted} {
		if _, err := g.v.ApproveExtension(ctx, a, e.ID); !errors.Is(err, access.ErrForbidden) {
			t.Errorf("%s approves: %v, want ErrForbidden", a.ID, err)
		}
	}
	if got, err := g.v.ApproveExtension(ctx, old, e.ID); err != nil || got.ApprovedBy != old.ID {
		t.Errorf("an established approver: %+v, %v", got, err)
	}
}
