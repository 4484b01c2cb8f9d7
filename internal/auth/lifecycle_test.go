package auth_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/partner"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/vault"
	"github.com/pquerna/otp/totp"
)

// TestLifecycle walks the acts on accounts, in order, on both stores:
// who may make them on whom, what each refuses (every attempt audited),
// and what a login finds after each.
func TestLifecycle(t *testing.T) { onBothStores(t, testLifecycle) }

func testLifecycle(t *testing.T, s *auth.Service, now *time.Time) {
	cfg, err := config.Demo(nil)
	if err != nil {
		t.Fatal(err)
	}
	pol := cfg.Policy
	s.Limits = auth.Limits{MaxFailures: 1000, PerOrigin: 1000, LockFor: time.Hour}
	add := func(name, role string) *auth.NewOperator {
		t.Helper()
		op, err := s.AddReadyOperator(ctx, name, "pw-"+name, role, "u1")
		if err != nil {
			t.Fatal(err)
		}
		return op
	}
	admin, sec, cw := add("ada", "admin"), add("sam", "security-officer"), add("camille", "caseworker")
	ca, err := partner.NewCA(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	pt, err := s.AddPartner(ctx, ca, "mission-locale", "employment", "partner", "u1")
	if err != nil {
		t.Fatal(err)
	}
	adminA := identity.Actor{ID: admin.Operator.ID, Role: "admin", Origin: "10.0.0.1", SteppedUp: *now}
	secA := identity.Actor{ID: sec.Operator.ID, Role: "security-officer", Origin: "10.0.0.2"}
	// canLogin reports whether op gets a session with its password and
	// TOTP code (a fresh step each time).
	canLogin := func(op *auth.NewOperator) bool {
		t.Helper()
		*now = now.Add(30 * time.Second)
		lt, _, err := s.Login(ctx, op.Operator.Username, op.Password, "10.0.0.3")
		if err != nil {
			if !errors.Is(err, auth.ErrBadCredentials) {
				t.Fatalf("login of %s: %v, want ErrBadCredentials or a login token", op.Operator.Username, err)
			}
			return false
		}
		code, _ := totp.GenerateCode(op.TOTPSecret, *now)
		_, err = s.VerifyTOTP(ctx, lt, code, "10.0.0.3", "")
		return err == nil
	}
	from := lastSeq(t, s) + 1
	for _, tc := range []struct {
		name   string
		a      identity.Actor
		act    auth.Act
		ref    string
		reason string
		want   error // nil: done
		// decision is the audit entry's, reason its reason.
		decision, reason2 string
		// cwLogs: whether camille logs in afterwards.
		cwLogs bool
	}{
		{"disable", adminA, auth.Disable, cw.Operator.ID, "", nil, "allow", cw.Operator.ID, false},
		{"disable twice", adminA, auth.Disable, cw.Operator.ID, "", store.ErrConflict, "deny:conflict", cw.Operator.ID, false},
		{"enable", adminA, auth.Enable, cw.Operator.ID, "back from leave", nil, "allow", cw.Operator.ID + ": back from leave", true},
		{"enable an enabled account", adminA, auth.Enable, cw.Operator.ID, "", store.ErrConflict, "deny:conflict", cw.Operator.ID, true},
		{"disable oneself", adminA, auth.Disable, admin.Operator.ID, "", access.ErrForbidden, "deny:forbidden", admin.Operator.ID, true},
		{"disable a privileged account through the API", adminA, auth.Disable, sec.Operator.ID, "", access.ErrForbidden, "deny:forbidden", sec.Operator.ID, true},
		{"delete a partner", adminA, auth.Delete, pt.Partner.ID, "", access.ErrInvalid, "deny:invalid", pt.Partner.ID, true},
		{"disable a partner", adminA, auth.Disable, pt.Partner.ID, "", nil, "allow", pt.Partner.ID, true},
		{"disable an unknown operator", adminA, auth.Disable, "op_aaaaaaaaaaaaaaaa", "", store.ErrNotFound, "deny:not_found", "op_aaaaaaaaaaaaaaaa", true},
		{"lock without a reason", secA, auth.Lock, cw.Operator.ID, " ", access.ErrInvalid, "deny:invalid", cw.Operator.ID + ":  ", true},
		{"lock oneself", secA, auth.Lock, sec.Operator.ID, "test", access.ErrForbidden, "deny:forbidden", sec.Operator.ID + ": test", true},
		{"lock", secA, auth.Lock, cw.Operator.ID, "phished (ticket 42)", nil, "allow", cw.Operator.ID + ": phished (ticket 42)", false},
		{"lock twice", secA, auth.Lock, cw.Operator.ID, "again", store.ErrConflict, "deny:conflict", cw.Operator.ID + ": again", false},
		{"lock the administrator", secA, auth.Lock, admin.Operator.ID, "suspicious", nil, "allow", admin.Operator.ID + ": suspicious", false},
		{"host disables the security officer", auth.Host, auth.Disable, "sam", "left", nil, "allow", sec.Operator.ID + ": left", false},
		{"host: unknown name", auth.Host, auth.Disable, "nobody", "", store.ErrNotFound, "deny:not_found", "", false},
		{"host deletes by id", auth.Host, auth.Delete, cw.Operator.ID, "left", nil, "allow", cw.Operator.ID + ": left", false},
		{"enable a deleted account", auth.Host, auth.Enable, cw.Operator.ID, "", store.ErrConflict, "deny:conflict", cw.Operator.ID, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := lastSeq(t, s)
			_, err := s.Lifecycle(ctx, tc.a, pol, tc.act, tc.ref, tc.reason)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("%s %s by %s = %v, want %v", tc.act, tc.ref, tc.a.ID, err, tc.want)
			}
			es := auditFrom(t, s, before+1)
			if len(es) == 0 || es[0].Action != "operator."+string(tc.act) || es[0].Actor != tc.a.ID || es[0].Decision != tc.decision || es[0].Reason != tc.reason2 {
				t.Fatalf("audited %+v; want operator.%s by %s, %s, reason %q", es, tc.act, tc.a.ID, tc.decision, tc.reason2)
			}
			if got := canLogin(cw); got != tc.cwLogs {
				t.Errorf("camille logs in: %v, want %v", got, tc.cwLogs)
			}
		})
	}

	// A lock by hand does not lift with time (a lock after failed logins
	// does), and only a security officer lifts it.
	*now = now.Add(30 * 24 * time.Hour)
	if _, _, err := s.Login(ctx, "ada", admin.Password, "10.0.0.3"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Errorf("a month after a lock by hand the right password got %v, want ErrBadCredentials", err)
	}
	v := vault.New(vault.Config{Store: s.Store, Policy: pol, Now: func() time.Time { return *now }})
	if err := v.Unlock(ctx, identity.Actor{ID: "op_other", Role: "security-officer"}, admin.Operator.ID, "verified"); err != nil {
		t.Fatalf("unlock of a lock by hand: %v", err)
	}
	if !canLogin(admin) {
		t.Error("after the unlock the administrator does not log in")
	}

	// The deleted account: no identity left, its id in the log.
	var got *identity.Operator
	s.Store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		got, _ = tx.GetOperator(ctx, cw.Operator.ID)
		return nil
	})
	if got.Username != auth.Tombstone(cw.Operator.ID) || got.PasswordHash != "" || len(got.TOTPSecret) != 0 || got.Deleted.IsZero() {
		t.Errorf("deleted account = %+v, want the tombstone and no credentials", got)
	}
	if _, _, err := s.Login(ctx, auth.Tombstone(cw.Operator.ID), "", "10.0.0.3"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Errorf("login as the tombstone = %v", err)
	}

	// Lock alerts: one per lock by hand, with the lock's entry as evidence.
	var alerts []guard.Alert
	s.Store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		alerts, _ = tx.Alerts(ctx, 0, 100)
		return nil
	})
	var manual int
	for _, al := range alerts {
		if al.Code == guard.CodeManual && al.Action == "lock" && len(al.Evidence) == 1 {
			manual++
		}
	}
	if manual != 2 {
		t.Errorf("%d alerts of a lock by hand, want 2: %+v", manual, alerts)
	}
	// The logins after the acts are audited with the reason of their refusal.
	var denied []string
	for _, e := range auditFrom(t, s, from) {
		if e.Action == "login.password" && e.Actor == cw.Operator.ID && e.Decision != "allow" {
			denied = append(denied, e.Decision)
		}
	}
	if got := strings.Join(denied, " "); !strings.HasPrefix(got, "deny:disabled deny:disabled deny:locked") {
		t.Errorf("camille's refused logins: %s", got)
	}
}

// TestDisableAfter: an account without a login for DisableAfter is
// disabled at its next login attempt (audited as the system's act) or by
// the sweep; enabling it restarts the clock; partners are never swept.
func TestDisableAfter(t *testing.T) {
	now := time.Date(2026, 1, 5, 9, 0, 10, 0, time.UTC)
	s := newService(t, &now)
	s.DisableAfter = 90 * 24 * time.Hour
	s.Limits = auth.Limits{MaxFailures: 1000, PerOrigin: 1000}
	lea, _ := s.AddReadyOperator(ctx, "lea", "pw-lea-1234", "caseworker", "u1")
	max, _ := s.AddReadyOperator(ctx, "max", "pw-max-1234", "caseworker", "u1")
	ca, _ := partner.NewCA(make([]byte, 32))
	if _, err := s.AddPartner(ctx, ca, "cap-emploi", "disability", "partner", "u1"); err != nil {
		t.Fatal(err)
	}
	login := func(op *auth.NewOperator) error {
		t.Helper()
		lt, _, err := s.Login(ctx, op.Operator.Username, op.Password, "10.0.0.1")
		if err != nil {
			return err
		}
		code, _ := totp.GenerateCode(op.TOTPSecret, now)
		_, err = s.VerifyTOTP(ctx, lt, code, "10.0.0.1", "")
		return err
	}
	now = now.Add(89 * 24 * time.Hour)
	if err := login(lea); err != nil {
		t.Fatalf("day 89: %v", err)
	}
	if n, err := s.DisableInactive(ctx); err != nil || n != 0 {
		t.Fatalf("sweep on day 89 = %d, %v; want none", n, err)
	}
	now = now.Add(24 * time.Hour) // day 90: max never logged in
	if n, err := s.DisableInactive(ctx); err != nil || n != 1 {
		t.Fatalf("sweep on day 90 = %d, %v; want max", n, err)
	}
	if err := login(max); !errors.Is(err, auth.ErrBadCredentials) {
		t.Errorf("max after the sweep: %v", err)
	}
	if err := login(lea); err != nil {
		t.Errorf("lea logged in on day 89: %v", err)
	}
	now = now.Add(91 * 24 * time.Hour)
	from := lastSeq(t, s) + 1
	if _, _, err := s.Login(ctx, "lea", "pw-lea-1234", "10.0.0.1"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("lea after 91 days: %v, want ErrBadCredentials", err)
	}
	var got []string
	for _, e := range auditFrom(t, s, from) {
		got = append(got, fmt.Sprintf("%s %s %s %s", e.Actor, e.Action, e.Decision, e.Reason))
	}
	want := []string{"system operator.disable allow:inactive " + lea.Operator.ID + ": no login for 90d", lea.Operator.ID + " login.password deny:disabled "}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("audited\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n, _ := s.DisableInactive(ctx); n != 0 {
		t.Errorf("a second sweep disabled %d", n)
	}
	if _, err := s.Lifecycle(ctx, auth.Host, nil, auth.Enable, "lea", "came back"); err != nil {
		t.Fatal(err)
	}
	if err := login(lea); err != nil {
		t.Errorf("enabled again: %v", err)
	}
}

// TestReview: the report's caseloads and reads come from the store and
// the audit log; only allowed reads within the window count, whatever
// the log's length before it.
func TestReview(t *testing.T) {
	now := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	s := newService(t, &now)
	a, _ := s.AddReadyOperator(ctx, "anna", "pw-anna-1234", "caseworker", "u1")
	b, _ := s.AddReadyOperator(ctx, "bruno", "pw-bruno-123", "support", "u2")
	err := s.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tx.AssignCaseload(ctx, a.Operator.ID, []string{"sub_1", "sub_2"}, time.Time{}); err != nil {
			return err
		}
		// 120 days of reads, one every 12 hours, alternating; a denied one
		// and a lookup each day.
		start := now.Add(-120 * 24 * time.Hour)
		for i := range 240 {
			at := start.Add(time.Duration(i) * 12 * time.Hour)
			actor := a.Operator.ID
			if i%2 == 1 {
				actor = b.Operator.ID
			}
			for _, e := range []audit.Entry{
				{Time: at, Actor: actor, Action: "read", Subject: "sub_1", Decision: "allow"},
				{Time: at, Actor: actor, Action: "read", Subject: "sub_2", Decision: "deny:limited:rate"},
				{Time: at, Actor: actor, Action: "lookup", Decision: "allow"},
			} {
				if err := tx.AppendAudit(ctx, &e); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := s.Review(ctx, auth.Host, 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]auth.ReviewRow{}
	for _, r := range rows {
		got[r.Username] = r
	}
	// 30 days back from now: the entries at i = 180…239 (60 of them), half each.
	if r := got["anna"]; r.Caseload != 2 || r.Reads != 30 || r.Role != "caseworker" || r.Unit != "u1" {
		t.Errorf("anna = %+v, want caseload 2, 30 reads", r)
	}
	if r := got["bruno"]; r.Caseload != 0 || r.Reads != 30 {
		t.Errorf("bruno = %+v, want caseload 0, 30 reads", r)
	}
	es := auditFrom(t, s, lastSeq(t, s))
	if len(es) != 1 || es[0].Action != "operator.review" || es[0].Actor != "system" || es[0].Reason != "2 accounts, reads over 30d" {
		t.Errorf("the review is audited as %+v", es)
	}
}
