package drill

import (
	"maps"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/value"
)

func TestClockNeverGoesBack(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	c := NewClock(t0)
	c.Set(t0.Add(time.Hour))
	if got := c.Now(); got.Before(t0.Add(time.Hour)) || got.After(t0.Add(time.Hour+time.Second)) {
		t.Fatalf("after Set: %v", got)
	}
	c.Set(t0) // back: ignored
	if got := c.Now(); got.Before(t0.Add(time.Hour)) {
		t.Fatalf("the clock went back to %v", got)
	}
}

// TestAttackerArithmetic: the attacker who stays under every limit paces
// itself under the tightest of rate, velocity and hourly budgets, and reads
// no more per day than every daily budget allows.
func TestAttackerArithmetic(t *testing.T) {
	cw := guard.Limits{Rate: 1, SubjectsPerHour: 30, SubjectsPerDay: 100, OutOfCaseloadPerDay: 6, OutOfUnitPerDay: 2,
		UntrustedPerDay: 5, VelocitySubjects: 12, VelocityWindow: 10 * time.Minute}
	tests := []struct {
		name    string
		lim     guard.Limits
		trusted bool
		pace    time.Duration
		quota   quota
	}{
		{"trusted caseworker", cw, true, 126 * time.Second, quota{caseload: 92, unit: 6, outside: 2}},
		{"untrusted caseworker", cw, false, 126 * time.Second, quota{caseload: 0, unit: 5, outside: 0}},
		{"support desk: every subject in its scope", guard.Limits{AllUnits: true, Rate: 2, SubjectsPerHour: 60, SubjectsPerDay: 250, OutOfCaseloadPerDay: 20,
			UntrustedPerDay: 5, VelocitySubjects: 20, VelocityWindow: 10 * time.Minute}, true, 63 * time.Second, quota{caseload: 250}},
		{"velocity binds", guard.Limits{VelocitySubjects: 10, VelocityWindow: time.Hour, SubjectsPerDay: 10}, true, 378 * time.Second, quota{caseload: 0, unit: 10, outside: 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if p := pace(tt.lim); p != tt.pace {
				t.Errorf("pace = %s, want %s", p, tt.pace)
			}
			if q := dayQuota(tt.lim, tt.trusted); q != tt.quota {
				t.Errorf("quota = %+v, want %+v", q, tt.quota)
			}
		})
	}
}

// TestLegitimateValues: every value a legitimate day sets passes the demo
// schema's validation, and no two are alike (a legitimate change never
// conflicts).
func TestLegitimateValues(t *testing.T) {
	cfg, err := config.Demo(nil)
	if err != nil {
		t.Fatal(err)
	}
	d := &Drill{rng: rand.New(rand.NewPCG(1, 2))}
	seen := map[string]bool{}
	check := func(fields map[string]string) {
		for name, v := range fields {
			f, ok := cfg.Policy.Field(name)
			if !ok {
				t.Fatalf("no field %q in the demo schema", name)
			}
			if err := value.Validate(f, v); err != nil {
				t.Errorf("%s %q: %v", name, v, err)
			}
			if f.Lookup && seen[v] {
				t.Errorf("%s %q handed out twice", name, v)
			}
			seen[v] = true
		}
	}
	for range 500 {
		change, reason := d.change()
		if reason == "" {
			t.Errorf("change %v without a reason", change)
		}
		check(change)
		check(d.newPerson())
	}
	if got, want := freshPhone(1234567), "09 01 23 45 67"; got != want {
		t.Errorf("freshPhone(1234567) = %q, want %q", got, want)
	}
}

func TestNameOf(t *testing.T) {
	tests := []struct{ email, given, family string }{
		{"marie.dupont@ac-lyon.fr", "marie", "dupont"},
		{"jean-luc.blanc3@ac-nice.fr", "jean-luc", "blanc"},
		{"42.lucie.marchand@ac-rennes.fr", "lucie", "marchand"},
		{"x@example.org", "x", "Martin"},
	}
	for _, tt := range tests {
		if g, f := nameOf(tt.email); g != tt.given || f != tt.family {
			t.Errorf("nameOf(%q) = %q, %q; want %q, %q", tt.email, g, f, tt.given, tt.family)
		}
	}
}

// TestFigures: the scenarios' own figures, counted from audit entries.
func TestFigures(t *testing.T) {
	s := &scenarioRun{accounts: []*Account{{ID: "op_a"}}}
	day := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	e := func(seq int64, actor, action, decision string, at time.Time, fields ...string) audit.Entry {
		return audit.Entry{Seq: seq, Actor: actor, Action: action, Decision: decision, Time: at, Fields: fields}
	}
	t.Run("oracle", func(t *testing.T) {
		es := []audit.Entry{
			e(1, "op_a", "update", "deny:conflict", day),
			e(2, "op_a", "update", "allow", day),
			e(3, "op_b", "update", "deny:conflict", day),         // someone else
			e(4, "op_a", "update", "deny:locked:conflicts", day), // the conflict that locked
			e(5, "guard", "guard.lock", "lock:op_a", day),
			e(6, "op_a", "update", "deny:locked:conflicts", day), // refused: locked, tells nothing
			e(7, "op_a", "create", "deny:conflict", day),
		}
		f := map[string]int{}
		oracleFigures("update")(nil, s, es, f)
		if want := map[string]int{"values_confirmed": 2, "values_free": 1, "attempts": 4}; !maps.Equal(f, want) {
			t.Errorf("got %v, want %v", f, want)
		}
	})
	t.Run("erasures", func(t *testing.T) {
		d := &Drill{Env: &Env{Location: time.UTC, Limits: map[string]guard.Limits{"hr-officer": {ErasuresPerDay: 3}}}}
		var es []audit.Entry
		for i := range 5 {
			es = append(es, e(int64(i+1), "op_a", "erase", "allow", day))
		}
		es = append(es, e(6, "op_a", "erase", "deny:limited:erasures_per_day", day),
			e(7, "op_a", "erase", "allow:extension:ext_1", day.AddDate(0, 0, 1)))
		f := map[string]int{}
		erasureFigures(d, s, es, f)
		if want := map[string]int{"erased": 6, "erasures_refused": 1, "erasures_per_day": 3, "erased_beyond_budget": 2}; !maps.Equal(f, want) {
			t.Errorf("got %v, want %v", f, want)
		}
	})
	t.Run("combination", func(t *testing.T) {
		es := []audit.Entry{
			e(1, "op_a", "read", "allow", day, "birth_date", "given_name", "national_id"),
			e(2, "op_a", "stepup.totp", "allow", day),
			e(3, "op_a", "read", "allow", day, "health_note"),
			e(4, "op_a", "read", "allow", day, "birth_date", "national_id"), // another person: no health note
		}
		es[0].Subject, es[2].Subject, es[3].Subject = "sub_1", "sub_1", "sub_2"
		f := map[string]int{}
		combinationFigures(nil, s, es, f)
		if want := map[string]int{"people_assembled": 1, "health_notes_read": 1, "step_ups": 1}; !maps.Equal(f, want) {
			t.Errorf("got %v, want %v", f, want)
		}
	})
	t.Run("probing", func(t *testing.T) {
		es := []audit.Entry{
			e(1, "op_a", "login.password", "allow", day),
			e(2, "op_a", "read", "deny:forbidden", day),
			e(3, "op_a", "refused", "deny:invalid", day),
			e(4, "guard", "guard.lock", "lock:op_a", day),
			e(5, "op_a", "read", "deny:locked:refusals", day),
		}
		f := map[string]int{}
		probingFigures(nil, s, es, f)
		if want := map[string]int{"requests_before_lock": 2, "refusals_before_lock": 2}; !maps.Equal(f, want) {
			t.Errorf("got %v, want %v", f, want)
		}
	})
}

// TestPrint: the table, then each scenario's own figures on a line.
func TestPrint(t *testing.T) {
	var b strings.Builder
	Print(&b, []Result{
		{Scenario: "versailles-scrape", Kind: "attack", Exfiltrated: 12, Accounts: 1, LockedAccounts: 1, LockCodes: []string{"velocity"}, Bound: "exfiltrated ≤ 25", Pass: true},
		{Scenario: "update-oracle", Kind: "attack", Accounts: 1, Figures: map[string]int{"values_free": 3, "values_confirmed": 9}, Bound: "values confirmed ≤ 25, locked"},
	})
	out := b.String()
	for _, want := range []string{"exfiltrated ≤ 25: ok", "values confirmed ≤ 25, locked: FAILED", "\n\nupdate-oracle: values confirmed 9, values free 3\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("Print lacks %q:\n%s", want, out)
		}
	}
}

// TestReach: the accounts a rogue administrator reached, and the path of
// each at the time, come from its allowed acts in the audit log; refused
// acts, other administrators' acts and reasons that name no account reach
// nothing.
func TestReach(t *testing.T) {
	admins := []string{"op_admin"}
	steps := []struct {
		e    audit.Entry
		want map[string]string
	}{
		{audit.Entry{Actor: "op_admin", Action: "operator.add", Decision: "allow", Reason: "op_cw role caseworker"}, map[string]string{"op_cw": "mint"}},
		{audit.Entry{Actor: "op_admin", Action: "operator.add", Decision: "deny:limited:operators_per_day", Reason: "op_x role support"}, map[string]string{"op_cw": "mint"}},
		{audit.Entry{Actor: "op_other", Action: "operator.add", Decision: "allow", Reason: "op_y role support"}, map[string]string{"op_cw": "mint"}},
		{audit.Entry{Actor: "op_cw", Action: "extension.request", Decision: "allow:ext_1", Reason: "ext_1 (5000 subjects, 72 h): x"}, map[string]string{"op_cw": "extension"}},
		{audit.Entry{Actor: "op_admin", Action: "operator.add", Decision: "allow", Reason: "op_sup role supervisor"}, map[string]string{"op_cw": "extension", "op_sup": "mint"}},
		{audit.Entry{Actor: "op_sup", Action: "extension.approve", Decision: "allow:first:op_cw", Reason: "ext_1"}, map[string]string{"op_cw": "extension", "op_sup": "extension"}},
		{audit.Entry{Actor: "op_admin", Action: "operator.role", Decision: "allow", Reason: "op_sup supervisor→support unit u"}, map[string]string{"op_cw": "extension", "op_sup": "grant"}},
		{audit.Entry{Actor: "op_admin", Action: "operator.enable", Decision: "allow", Reason: "op_old: back from leave"}, map[string]string{"op_cw": "extension", "op_sup": "grant", "op_old": "enable"}},
		{audit.Entry{Actor: "op_admin", Action: "partner.add", Decision: "deny:forbidden", Reason: ""}, map[string]string{"op_cw": "extension", "op_sup": "grant", "op_old": "enable"}},
		{audit.Entry{Actor: "op_admin", Action: "partner.add", Decision: "allow", Reason: "op_p acme sector employment role partner"}, map[string]string{"op_cw": "extension", "op_sup": "grant", "op_old": "enable", "op_p": "partner"}},
		{audit.Entry{Actor: "op_admin", Action: "operator.enable", Decision: "allow", Reason: "(malformed operator id)"}, map[string]string{"op_cw": "extension", "op_sup": "grant", "op_old": "enable", "op_p": "partner"}},
	}
	paths := map[string]string{}
	for i, st := range steps {
		reach(paths, st.e, admins)
		if !maps.Equal(paths, st.want) {
			t.Fatalf("after entry %d (%s %s): %v, want %v", i, st.e.Action, st.e.Decision, paths, st.want)
		}
	}
}
