package vault_test

import (
	"crypto/rand"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/public"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetemplate"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetest"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

// stepUpVault is a vault on the demo policy, changed by edit, with a
// settable clock, and one subject it holds.
func stepUpVault(t *testing.T, edit func(*policy.Policy)) (*vault.Vault, *clock, string) {
	t.Helper()
	cfg, err := config.Demo(nil)
	if err != nil {
		t.Fatal(err)
	}
	edit(cfg.Policy)
	seed := make([]byte, envelope.SeedSize)
	rand.Read(seed)
	keys, _ := envelope.NewKeyring(map[uint32][]byte{1: seed}, 1)
	st, err := sqlitetemplate.Open(ctx, filepath.Join(t.TempDir(), "k.db"), sqlite.Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := &clock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	v := vault.New(vault.Config{Store: st, Keys: keys, Policy: cfg.Policy, Now: clk.Now, StepUpFor: 5 * time.Minute})
	id, err := v.Create(ctx, hr, "u1", synth.Make(5, 1).Fields)
	if err != nil {
		t.Fatal(err)
	}
	return v, clk, id
}

// stepped is hr's actor whose session last proved factor at at, for the
// step-up group group ("" for the login's own factor).
func stepped(at time.Time, factor, group string) identity.Actor {
	a := hr
	a.SteppedUp, a.StepFactor, a.StepGroup = at, factor, group
	return a
}

// TestStepUpNamesThePurpose: a purpose with step_up is served only by a
// step-up that named a purpose of its group, within its window; the
// login's own factor never is. The demo's payroll is given a step-up of
// its own here (window 2m), besides workplace-adjustment's (5m).
func TestStepUpNamesThePurpose(t *testing.T) {
	const wa, pay = "workplace-adjustment", "payroll"
	own := func(p *policy.Policy) {
		p.Purposes[pay].StepUp, p.Purposes[pay].StepUpWindow = "any", 2*time.Minute
	}
	shared := func(p *policy.Policy) {
		own(p)
		p.Purposes[pay].StepUpGroup, p.Purposes[wa].StepUpGroup = "hr-special", "hr-special"
	}
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		edit    func(*policy.Policy)
		actor   identity.Actor
		after   time.Duration // the clock's advance before the reads
		allowed []string      // of wa and pay, those allowed
	}{
		{"login factor, at once", own, stepped(t0, "totp", ""), 0, nil},
		{"step-up naming no purpose", own, stepped(t0, "webauthn", ""), 0, nil},
		{"step-up for A serves A, not B", own, stepped(t0, "totp", wa), time.Minute, []string{wa}},
		{"step-up for B serves B, not A", own, stepped(t0, "totp", pay), time.Minute, []string{pay}},
		{"A's window, last instant", own, stepped(t0, "totp", wa), 5 * time.Minute, []string{wa}},
		{"A's window passed", own, stepped(t0, "totp", wa), 5*time.Minute + time.Second, nil},
		{"B's own window passed", own, stepped(t0, "totp", pay), 3 * time.Minute, nil},
		{"shared group serves both", shared, stepped(t0, "totp", "hr-special"), time.Minute, []string{wa, pay}},
		{"shared group, each its own window", shared, stepped(t0, "totp", "hr-special"), 3 * time.Minute, []string{wa}},
		{"a purpose's name is not its group's", shared, stepped(t0, "totp", wa), time.Minute, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, clk, id := stepUpVault(t, tt.edit)
			clk.Add(tt.after)
			for _, purpose := range []string{wa, pay} {
				_, err := v.Read(ctx, tt.actor, id, purpose, "file 12")
				want := strings.Contains(strings.Join(tt.allowed, " "), purpose)
				if want && err != nil || !want && !errors.Is(err, access.ErrStepUpRequired) {
					t.Errorf("Read(%s) at +%s got %v, want allowed %v", purpose, tt.after, err, want)
				}
				if hint := public.Hint(err, ""); !want && !strings.Contains(hint, `"purpose":"`+purpose+`"`) {
					t.Errorf("Read(%s) hint %q does not name the purpose", purpose, hint)
				}
			}
		})
	}
}

// TestPurposeDemandsSecurityKey: a purpose with step_up webauthn needs a
// security-key proof named for it; a fresh TOTP one is not enough, a stale
// key proof neither.
func TestPurposeDemandsSecurityKey(t *testing.T) {
	const wa = "workplace-adjustment"
	v, clk, id := stepUpVault(t, func(p *policy.Policy) { p.Purposes[wa].StepUp = "webauthn" })
	now := clk.Now()
	for _, tc := range []struct {
		name   string
		factor string
		ago    time.Duration
		ok     bool
	}{
		{"fresh TOTP", "totp", time.Minute, false},
		{"stale key", "webauthn", 10 * time.Minute, false},
		{"fresh key", "webauthn", time.Minute, true},
	} {
		_, err := v.Read(ctx, stepped(now.Add(-tc.ago), tc.factor, wa), id, wa, "file 12")
		if tc.ok != (err == nil) || !tc.ok && !errors.Is(err, access.ErrStepUpRequired) {
			t.Errorf("%s: %v", tc.name, err)
		}
		if hint := public.Hint(err, ""); !tc.ok && (!strings.Contains(hint, "webauthn") || strings.Contains(hint, "totp")) {
			t.Errorf("%s: hint %q, want the security key's step-up only", tc.name, hint)
		}
	}
}
