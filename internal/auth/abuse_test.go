package auth_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/vault"
	"github.com/pquerna/otp/totp"
)

// TestFailureLock: repeated failed logins lock the account; during the
// lock even the right password gets the same answer as a wrong one (no
// oracle); the lock lifts with time, and a success resets the count.
func TestFailureLock(t *testing.T) {
	now := time.Date(2026, 11, 23, 9, 0, 10, 0, time.UTC)
	s := newService(t, &now)
	s.Limits = auth.Limits{MaxFailures: 5, FailureWindow: 15 * time.Minute, LockFor: time.Hour, PerOrigin: 1000}
	op, _ := s.AddReadyOperator(ctx, "marie", "pw-marie-123", "caseworker", "u1")
	for i := range 5 {
		now = now.Add(time.Second)
		if _, _, err := s.Login(ctx, "marie", fmt.Sprint("guess", i), "10.0.0.1"); !errors.Is(err, auth.ErrBadCredentials) {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	if _, _, err := s.Login(ctx, "marie", "pw-marie-123", "10.0.0.1"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("right password on a locked account: %v, want the same ErrBadCredentials", err)
	}
	var got *identity.Operator
	s.Store.View(ctx, func(ctx2 context.Context, tx store.Tx) error {
		got, _ = tx.GetOperator(ctx2, op.Operator.ID)
		return nil
	})
	if got.Locked != auth.LockLoginFailures {
		t.Fatalf("lock = %q", got.Locked)
	}
	now = now.Add(time.Hour + time.Minute)
	lt, _, err := s.Login(ctx, "marie", "pw-marie-123", "10.0.0.1")
	if err != nil {
		t.Fatalf("after the lock expired: %v", err)
	}
	code, _ := totp.GenerateCode(op.TOTPSecret, now)
	if _, err := s.VerifyTOTP(ctx, lt, code, "10.0.0.1", ""); err != nil {
		t.Fatal(err)
	}
	s.Store.View(ctx, func(ctx2 context.Context, tx store.Tx) error {
		got, _ = tx.GetOperator(ctx2, op.Operator.ID)
		return nil
	})
	if got.Locked != "" || got.Failures != 0 {
		t.Errorf("after a success: lock %q, failures %d", got.Locked, got.Failures)
	}
}

// TestSecondFactorFailuresCount: wrong codes count like wrong passwords.
func TestSecondFactorFailuresCount(t *testing.T) {
	now := time.Date(2026, 11, 23, 9, 0, 10, 0, time.UTC)
	s := newService(t, &now)
	s.Limits = auth.Limits{MaxFailures: 4, PerOrigin: 1000}
	s.MaxAttempts = 2
	s.AddReadyOperator(ctx, "marie", "pw-marie-123", "caseworker", "u1")
	for range 2 {
		lt, _, err := s.Login(ctx, "marie", "pw-marie-123", "10.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			s.VerifyTOTP(ctx, lt, "000000", "10.0.0.1", "")
		}
	}
	if _, _, err := s.Login(ctx, "marie", "pw-marie-123", "10.0.0.1"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("after 4 wrong codes: %v, want the account locked (ErrBadCredentials)", err)
	}
}

// TestOriginThrottle: an address with many failures is throttled before
// any password work, except for accounts that logged in from it before.
func TestOriginThrottle(t *testing.T) {
	now := time.Date(2026, 11, 23, 9, 0, 10, 0, time.UTC)
	s := newService(t, &now)
	s.Limits = auth.Limits{MaxFailures: 1000, PerOrigin: 5}
	regular, _ := s.AddReadyOperator(ctx, "regular", "pw-regular-1", "caseworker", "u1")
	s.AddReadyOperator(ctx, "newcomer", "pw-newcomer-1", "caseworker", "u1")
	lt, _, _ := s.Login(ctx, "regular", "pw-regular-1", "10.0.0.1")
	code, _ := totp.GenerateCode(regular.TOTPSecret, now)
	if _, err := s.VerifyTOTP(ctx, lt, code, "10.0.0.1", ""); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		s.Login(ctx, "nobody", fmt.Sprint("x", i), "10.0.0.1")
	}
	var te *auth.ThrottleError
	if _, _, err := s.Login(ctx, "newcomer", "pw-newcomer-1", "10.0.0.1"); !errors.As(err, &te) || te.RetryAfter <= 0 || te.RetryAfter > time.Minute {
		t.Fatalf("newcomer from a throttled address: %v", err)
	}
	if _, _, err := s.Login(ctx, "regular", "pw-regular-1", "10.0.0.1"); err != nil {
		t.Fatalf("a regular of the address: %v", err)
	}
	if _, _, err := s.Login(ctx, "newcomer", "pw-newcomer-1", "10.0.0.2"); err != nil {
		t.Fatalf("another address: %v", err)
	}
	now = now.Add(time.Minute)
	if _, _, err := s.Login(ctx, "newcomer", "pw-newcomer-1", "10.0.0.1"); err != nil {
		t.Fatalf("the next minute: %v", err)
	}
	if s.Throttled() != 1 {
		t.Errorf("throttled %d, want 1", s.Throttled())
	}
}

// TestOriginThrottleAcrossNodes: the per-address throttle is counted in
// the store: failures spread over three nodes add up, a node started
// afterwards refuses too, the first refusal is audited once whichever
// node makes it, and a regular who logged in through one node is exempt
// on the others.
func TestOriginThrottleAcrossNodes(t *testing.T) {
	onBothStores(t, func(t *testing.T, s *auth.Service, now *time.Time) {
		s.Limits = auth.Limits{MaxFailures: 1000, PerOrigin: 6}
		node := func() *auth.Service {
			return &auth.Service{Store: s.Store, Keys: s.Keys, Params: s.Params, Now: s.Now, Idle: s.Idle, Max: s.Max, Limits: s.Limits}
		}
		nodes := []*auth.Service{s, node(), node()}
		regular, _ := s.AddReadyOperator(ctx, "regular", "pw-regular-1", "caseworker", "u1")
		s.AddReadyOperator(ctx, "newcomer", "pw-newcomer-1", "caseworker", "u1")
		lt, _, err := nodes[1].Login(ctx, "regular", "pw-regular-1", "10.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		code, _ := totp.GenerateCode(regular.TOTPSecret, *now)
		if _, err := nodes[1].VerifyTOTP(ctx, lt, code, "10.0.0.1", ""); err != nil {
			t.Fatal(err)
		}
		from := lastSeq(t, s) + 1
		for i := range 6 {
			if _, _, err := nodes[i%3].Login(ctx, "nobody", fmt.Sprint("x", i), "10.0.0.1"); !errors.Is(err, auth.ErrBadCredentials) {
				t.Fatalf("failure %d on node %d: %v", i, i%3, err)
			}
		}
		nodes = append(nodes, node()) // started after the failures
		var te *auth.ThrottleError
		for i, n := range nodes {
			if _, _, err := n.Login(ctx, "newcomer", "pw-newcomer-1", "10.0.0.1"); !errors.As(err, &te) {
				t.Fatalf("node %d, after 6 failures over 3 nodes: %v, want a ThrottleError", i, err)
			}
		}
		if _, _, err := nodes[2].Login(ctx, "regular", "pw-regular-1", "10.0.0.1"); err != nil {
			t.Fatalf("a regular (through node 1) on node 2: %v", err)
		}
		var throttled int
		for _, e := range auditFrom(t, s, from) {
			if e.Action == "login.throttle" {
				throttled++
			}
		}
		if throttled != 1 {
			t.Errorf("%d login.throttle entries for one address and minute over 4 nodes, want 1", throttled)
		}
		*now = now.Add(time.Minute)
		if _, _, err := nodes[3].Login(ctx, "newcomer", "pw-newcomer-1", "10.0.0.1"); err != nil {
			t.Fatalf("the next minute: %v", err)
		}
	})
}

// TestRoleDemandsSecurityKey: a role that accepts only WebAuthn offers no
// TOTP and refuses a valid TOTP code.
func TestRoleDemandsSecurityKey(t *testing.T) {
	now := time.Date(2026, 11, 23, 9, 0, 10, 0, time.UTC)
	s := newService(t, &now)
	s.RoleFactors = func(role string) []string {
		if role == "security-officer" {
			return []string{auth.FactorWebAuthn}
		}
		return nil
	}
	op, _ := s.AddReadyOperator(ctx, "sam", "pw-sam-12345", "security-officer", "u1")
	lt, mfa, err := s.Login(ctx, "sam", "pw-sam-12345", "10.0.0.1")
	if err != nil || slices.Contains(mfa, auth.FactorTOTP) {
		t.Fatalf("factors %v, %v: want no totp", mfa, err)
	}
	code, _ := totp.GenerateCode(op.TOTPSecret, now)
	if _, err := s.VerifyTOTP(ctx, lt, code, "10.0.0.1", ""); !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("a valid TOTP code for a key-only role: %v", err)
	}
}

// TestUnlockResetsFailures: a security officer's unlock of a failure lock
// starts the count afresh (one more typo does not lock again).
func TestUnlockResetsFailures(t *testing.T) {
	now := time.Date(2026, 11, 23, 9, 0, 10, 0, time.UTC)
	s := newService(t, &now)
	s.Limits = auth.Limits{MaxFailures: 3, PerOrigin: 1000}
	op, _ := s.AddReadyOperator(ctx, "marie", "pw-marie-123", "caseworker", "u1")
	for i := range 3 {
		s.Login(ctx, "marie", fmt.Sprint("guess", i), "10.0.0.1")
	}
	cfg, _ := config.Demo(nil)
	v := vault.New(vault.Config{Store: s.Store, Keys: nil, Policy: cfg.Policy, Now: func() time.Time { return now }})
	sec := identity.Actor{ID: "op_sec", Role: "security-officer", Origin: "10.0.0.9"}
	if err := v.Unlock(ctx, sec, op.Operator.ID, "called the user"); err != nil {
		t.Fatal(err)
	}
	s.Login(ctx, "marie", "typo", "10.0.0.1")
	if _, _, err := s.Login(ctx, "marie", "pw-marie-123", "10.0.0.1"); err != nil {
		t.Fatalf("after an unlock and one typo: %v", err)
	}
}

// TestEveryLoginAudited: each attempt at the password step, for an
// existing account or a name no account has, is one audit entry of the
// same shape; an unknown name is audited under its keyed pseudonym, and no
// entry holds an attempted username in clear.
// It runs on both stores: an unknown name's failure count matches no row
// of either.
func TestEveryLoginAudited(t *testing.T) {
	onBothStores(t, func(t *testing.T, s *auth.Service, _ *time.Time) { testEveryLoginAudited(t, s) })
}

func testEveryLoginAudited(t *testing.T, s *auth.Service) {
	s.Limits = auth.Limits{MaxFailures: 1000, PerOrigin: 1000}
	op, _ := s.AddReadyOperator(ctx, "marie.curie", "pw-marie-123", "caseworker", "u1")
	from := lastSeq(t, s) + 1
	names := []string{"marie.curie", "pierre@example.org", "marie.curie", "Marie.Curie", "pierre@example.org", "irene"}
	for i, name := range names {
		if _, _, err := s.Login(ctx, name, fmt.Sprint("guess-", i), "10.0.0.1"); !errors.Is(err, auth.ErrBadCredentials) {
			t.Fatalf("Login(%q) got %v, want ErrBadCredentials", name, err)
		}
	}
	es := auditFrom(t, s, from)
	if len(es) != len(names) {
		t.Fatalf("%d audit entries for %d attempts: %+v", len(es), len(names), es)
	}
	actors := map[string]string{} // name → actor
	for i, e := range es {
		if e.Action != "login.password" || e.Decision != "deny:bad_credentials" || e.Origin != "10.0.0.1" {
			t.Errorf("entry %d = %s %s from %s, want login.password deny:bad_credentials from 10.0.0.1", i, e.Action, e.Decision, e.Origin)
		}
		name := names[i]
		if a, ok := actors[name]; ok && a != e.Actor {
			t.Errorf("attempts for %q audited as %q and %q, want one actor", name, a, e.Actor)
		}
		actors[name] = e.Actor
	}
	if actors["marie.curie"] != op.Operator.ID {
		t.Errorf("existing user audited as %q, want %s", actors["marie.curie"], op.Operator.ID)
	}
	seen := map[string]bool{}
	for _, name := range []string{"pierre@example.org", "Marie.Curie", "irene"} {
		a := actors[name]
		if hex, ok := strings.CutPrefix(a, "unknown:"); !ok || len(hex) != 16 || strings.Trim(hex, "0123456789abcdef") != "" || seen[a] {
			t.Errorf("unknown user %q audited as %q, want a distinct unknown:<16 hex digits>", name, a)
		}
		seen[a] = true
	}
	s.Store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.AuditLeaves(ctx, from, 1<<62, func(seq int64, leaf []byte) error {
			for _, name := range names {
				if bytes.Contains(bytes.ToLower(leaf), []byte(strings.ToLower(name))) {
					t.Errorf("audit entry %d holds the attempted username %q", seq, name)
				}
			}
			return nil
		})
	})
}

// TestThrottleAuditedOncePerMinute: the first attempt the per-address
// throttle refuses in a minute is audited; the next ones are only counted.
func TestThrottleAuditedOncePerMinute(t *testing.T) {
	now := time.Date(2026, 11, 23, 9, 0, 10, 0, time.UTC)
	s := newService(t, &now)
	s.Limits = auth.Limits{MaxFailures: 1000, PerOrigin: 2}
	from := lastSeq(t, s) + 1
	for i := range 6 {
		s.Login(ctx, "nobody", fmt.Sprint("x", i), "10.0.0.1")
	}
	now = now.Add(time.Minute)
	for i := range 4 {
		s.Login(ctx, "nobody", fmt.Sprint("y", i), "10.0.0.1")
	}
	var got []string
	for _, e := range auditFrom(t, s, from) {
		got = append(got, e.Action+" "+e.Decision)
	}
	want := []string{"login.password deny:bad_credentials", "login.password deny:bad_credentials", "login.throttle deny:throttled",
		"login.password deny:bad_credentials", "login.password deny:bad_credentials", "login.throttle deny:throttled"}
	if !slices.Equal(got, want) {
		t.Errorf("audit got\n%q\nwant\n%q", got, want)
	}
	if s.Throttled() != 6 {
		t.Errorf("throttled %d, want 6", s.Throttled())
	}
}

// TestFailureLockUnderRerun: a store may run a transaction twice; the
// failure that reaches the limit still locks the account.
func TestFailureLockUnderRerun(t *testing.T) {
	now := time.Date(2026, 11, 23, 9, 0, 10, 0, time.UTC)
	s := newService(t, &now)
	s.Limits = auth.Limits{MaxFailures: 3, PerOrigin: 1000}
	op, _ := s.AddReadyOperator(ctx, "marie", "pw-marie-123", "caseworker", "u1")
	s.Store = rerunStore{s.Store}
	for i := range 3 {
		s.Login(ctx, "marie", fmt.Sprint("guess", i), "10.0.0.1")
	}
	var got *identity.Operator
	s.Store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		got, _ = tx.GetOperator(ctx, op.Operator.ID)
		return nil
	})
	if got.Locked != auth.LockLoginFailures {
		t.Errorf("after 3 failures under rerun: lock %q, want %q", got.Locked, auth.LockLoginFailures)
	}
}

// rerunStore runs every write transaction twice, as a store's group
// commit may: the first run is rolled back.
type rerunStore struct{ store.Store }

var errRerun = errors.New("rerun")

func (r rerunStore) Update(ctx context.Context, fn func(context.Context, store.Tx) error) error {
	err := r.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := fn(ctx, tx); err != nil {
			return err
		}
		return errRerun
	})
	if !errors.Is(err, errRerun) {
		return err
	}
	return r.Store.Update(ctx, fn)
}

func lastSeq(t *testing.T, s *auth.Service) int64 {
	t.Helper()
	var n int64
	if err := s.Store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		n, err = tx.LastAuditSeq(ctx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

func auditFrom(t *testing.T, s *auth.Service, from int64) []audit.Entry {
	t.Helper()
	var es []audit.Entry
	if err := s.Store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		es, err = tx.AuditEntries(ctx, from, 1<<62, 10_000)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return es
}
