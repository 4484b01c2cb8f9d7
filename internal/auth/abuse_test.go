package auth_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

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
	op, _ := s.AddOperator(ctx, "marie", "pw-marie-123", "caseworker", "u1")
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
	s.AddOperator(ctx, "marie", "pw-marie-123", "caseworker", "u1")
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
	regular, _ := s.AddOperator(ctx, "regular", "pw-regular-1", "caseworker", "u1")
	s.AddOperator(ctx, "newcomer", "pw-newcomer-1", "caseworker", "u1")
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
	op, _ := s.AddOperator(ctx, "sam", "pw-sam-12345", "security-officer", "u1")
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
	op, _ := s.AddOperator(ctx, "marie", "pw-marie-123", "caseworker", "u1")
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
