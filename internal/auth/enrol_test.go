package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/partner"
	"github.com/coffre/coffre/internal/store"
	"github.com/pquerna/otp/totp"
)

// TestEnrol walks enrolments on both stores: an account created on the
// host or through the API holds no usable password and no second factor
// until its holder enrols with a code, which only the host or a second
// administrator receives; each refusal is audited, and the code works once
// and before it expires.
func TestEnrol(t *testing.T) { onBothStores(t, testEnrol) }

func testEnrol(t *testing.T, s *auth.Service, now *time.Time) {
	cfg, err := config.Demo(nil)
	if err != nil {
		t.Fatal(err)
	}
	pol := cfg.Policy
	s.Limits = auth.Limits{MaxFailures: 1000, PerOrigin: 1000}
	ada, err := s.AddReadyOperator(ctx, "ada", "pw-ada-123456", "admin", "u1")
	if err != nil {
		t.Fatal(err)
	}
	bob, err := s.AddReadyOperator(ctx, "bob", "pw-bob-123456", "admin", "u1")
	if err != nil {
		t.Fatal(err)
	}
	adaA := identity.Actor{ID: ada.Operator.ID, Role: "admin", Origin: "10.0.0.1", SteppedUp: *now}
	bobA := identity.Actor{ID: bob.Operator.ID, Role: "admin", Origin: "10.0.0.2", SteppedUp: *now}

	// loginWith reports whether username gets a session with password and
	// the TOTP code of secret (a fresh step each time).
	loginWith := func(username, password, secret string) bool {
		t.Helper()
		*now = now.Add(30 * time.Second)
		lt, _, err := s.Login(ctx, username, password, "10.0.0.9")
		if err != nil {
			if !errors.Is(err, auth.ErrBadCredentials) {
				t.Fatalf("login of %s: %v, want ErrBadCredentials or a login token", username, err)
			}
			return false
		}
		code, _ := totp.GenerateCode(secret, *now)
		_, err = s.VerifyTOTP(ctx, lt, code, "10.0.0.9", "")
		return err == nil
	}

	// On the host: the code comes back, nothing else.
	marie, err := s.AddOperator(ctx, "marie", "caseworker", "u1")
	if err != nil {
		t.Fatal(err)
	}
	if marie.Username != "marie" || !strings.HasPrefix(marie.Operator, "op_") || len(marie.Code) != 23 || !marie.Expires.Equal(now.Add(auth.DefaultEnrolFor)) {
		t.Fatalf("AddOperator = %+v; want a code expiring in 72 hours", marie)
	}
	if es := auditFrom(t, s, lastSeq(t, s)); es[0].Action != "operator.add" || es[0].Actor != "system" || es[0].Decision != "allow" || es[0].Reason != marie.Operator+" role caseworker" {
		t.Errorf("the host's add audited %+v", es[0])
	}
	if _, err := s.AddOperator(ctx, "marie", "caseworker", "u1"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a taken username = %v, want ErrConflict", err)
	}
	// Before enrolment no password logs in: the placeholder matches none.
	for _, pw := range []string{"", auth.PendingPassword, "anything-at-all"} {
		if _, _, err := s.Login(ctx, "marie", pw, "10.0.0.9"); !errors.Is(err, auth.ErrBadCredentials) {
			t.Errorf("login of a pending account with %q = %v, want ErrBadCredentials", pw, err)
		}
	}
	if es := auditFrom(t, s, lastSeq(t, s)); es[0].Action != "login.password" || es[0].Actor != marie.Operator || es[0].Decision != "deny:bad_credentials" {
		t.Errorf("a pending account's login audited %+v, want deny:bad_credentials as a wrong password", es[0])
	}

	// Through the API: the creator gets the account, no code.
	lea, err := s.AdminAddOperator(ctx, adaA, pol, "lea", "support", "u1")
	if err != nil {
		t.Fatal(err)
	}
	if lea.PasswordHash != auth.PendingPassword || len(lea.TOTPSecret) != 0 {
		t.Fatalf("AdminAddOperator = %+v; want a pending account", lea)
	}
	var leaCode *auth.EnrolmentCode
	const pw = "correct horse battery"
	spelled := strings.ToUpper(strings.ReplaceAll(marie.Code, "-", ""))
	for _, tc := range []struct {
		name string
		fn   func() error
		want error // nil: done
		// action, actor and decision of the audit entry ("": none)
		action, actor, decision string
	}{
		{"enrol an unknown name", func() error { _, err := s.Enrol(ctx, "nobody", marie.Code, pw, "10.0.0.5"); return err }, auth.ErrBadCredentials, "enrol", "unknown:", "deny:bad_credentials"},
		{"enrol with a wrong code", func() error {
			_, err := s.Enrol(ctx, "marie", "aaaaa-aaaaa-aaaaa-aaaaa", pw, "10.0.0.5")
			return err
		}, auth.ErrBadCredentials, "enrol", marie.Operator, "deny:bad_code"},
		{"enrol with no code at all", func() error { _, err := s.Enrol(ctx, "marie", "12345", pw, "10.0.0.5"); return err }, auth.ErrBadCredentials, "enrol", marie.Operator, "deny:bad_code"},
		{"enrol with another's code", func() error { _, err := s.Enrol(ctx, "lea", marie.Code, pw, "10.0.0.5"); return err }, auth.ErrBadCredentials, "enrol", lea.ID, "deny:not_approved"},
		{"a password too short", func() error { _, err := s.Enrol(ctx, "marie", marie.Code, "short pw", "10.0.0.5"); return err }, access.ErrInvalid, "", "", ""},
		{"a password too long", func() error {
			_, err := s.Enrol(ctx, "marie", marie.Code, strings.Repeat("x", auth.MaxPasswordBytes+1), "10.0.0.5")
			return err
		}, access.ErrInvalid, "", "", ""},
		{"the creator approves", func() error { _, err := s.ApproveEnrolment(ctx, adaA, pol, lea.ID); return err }, access.ErrForbidden, "operator.approve", ada.Operator.ID, "deny:forbidden"},
		{"approve an unknown account", func() error { _, err := s.ApproveEnrolment(ctx, bobA, pol, "op_aaaaaaaaaaaaaaaa"); return err }, store.ErrNotFound, "operator.approve", bob.Operator.ID, "deny:not_found"},
		{"approve a ready account", func() error { _, err := s.ApproveEnrolment(ctx, bobA, pol, ada.Operator.ID); return err }, store.ErrConflict, "operator.approve", bob.Operator.ID, "deny:conflict"},
		{"approve a host's account", func() error { _, err := s.ApproveEnrolment(ctx, bobA, pol, marie.Operator); return err }, store.ErrConflict, "operator.approve", bob.Operator.ID, "deny:conflict"},
		{"a second administrator approves", func() error {
			var err error
			leaCode, err = s.ApproveEnrolment(ctx, bobA, pol, lea.ID)
			return err
		}, nil, "operator.approve", bob.Operator.ID, "allow"},
		{"approve twice", func() error { _, err := s.ApproveEnrolment(ctx, bobA, pol, lea.ID); return err }, store.ErrConflict, "operator.approve", bob.Operator.ID, "deny:conflict"},
		{"enrol, the code typed in capitals without dashes", func() error { _, err := s.Enrol(ctx, "marie", spelled, pw, "10.0.0.5"); return err }, nil, "enrol", marie.Operator, "allow"},
		{"enrol again with the spent code", func() error { _, err := s.Enrol(ctx, "marie", marie.Code, pw, "10.0.0.5"); return err }, auth.ErrBadCredentials, "enrol", marie.Operator, "deny:no_enrolment"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := lastSeq(t, s)
			err := tc.fn()
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			es := auditFrom(t, s, before+1)
			switch {
			case tc.action == "" && len(es) != 0:
				t.Errorf("audited %+v, want nothing (refused before any work)", es)
			case tc.action != "" && (len(es) != 1 || es[0].Action != tc.action || !strings.HasPrefix(es[0].Actor, tc.actor) || es[0].Decision != tc.decision):
				t.Errorf("audited %+v; want one %s by %s, %s", es, tc.action, tc.actor, tc.decision)
			}
		})
	}
	if leaCode == nil || leaCode.Operator != lea.ID || leaCode.Username != "lea" {
		t.Fatalf("the approval gave %+v", leaCode)
	}

	// marie enrolled: her password and her TOTP log her in; nothing else.
	s.Store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		op, err := tx.GetOperator(ctx, marie.Operator)
		if err != nil || !auth.CheckPassword(op.PasswordHash, pw) || len(op.TOTPSecret) == 0 {
			t.Errorf("after enrolment: %v, %v; want the chosen password's hash and a TOTP secret", op, err)
		}
		return nil
	})

	// The approved code expires.
	*now = now.Add(auth.DefaultEnrolFor)
	if _, err := s.Enrol(ctx, "lea", leaCode.Code, pw, "10.0.0.5"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Errorf("an expired code = %v, want ErrBadCredentials", err)
	}
	if es := auditFrom(t, s, lastSeq(t, s)); es[0].Decision != "deny:expired" {
		t.Errorf("an expired code audited %+v", es[0])
	}

	// The host issues a new one (a factor reset), and it works.
	reset, err := s.ResetFactors(ctx, "lea")
	if err != nil {
		t.Fatal(err)
	}
	en, err := s.Enrol(ctx, "lea", reset.Code, pw, "10.0.0.5")
	if err != nil {
		t.Fatalf("enrol with a reset's code: %v", err)
	}
	if !loginWith("lea", pw, en.TOTPSecret) {
		t.Error("lea does not log in after her enrolment")
	}

	// A reset of an account in use: its sessions end, its password and
	// factors go, and only the new code brings it back.
	tok := loginSession(t, s, ada, *now)
	if err := s.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.PutRecoveryCodes(ctx, ada.Operator.ID, [][]byte{[]byte("r1")})
	}); err != nil {
		t.Fatal(err)
	}
	adaReset, err := s.ResetFactors(ctx, ada.Operator.ID)
	if err != nil {
		t.Fatal(err)
	}
	if es := auditFrom(t, s, lastSeq(t, s)); es[0].Action != "operator.reset" || es[0].Actor != "system" || es[0].Reason != ada.Operator.ID || es[0].Decision != "allow" {
		t.Errorf("the reset audited %+v", es[0])
	}
	if _, err := s.Authenticate(ctx, tok, "10.0.0.9", ""); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("a session after its account's reset = %v, want ErrUnauthenticated", err)
	}
	if loginWith("ada", ada.Password, ada.TOTPSecret) {
		t.Error("the old password and TOTP log in after a reset")
	}
	s.Store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		if n, err := tx.CountRecoveryCodes(ctx, ada.Operator.ID); err != nil || n != 0 {
			t.Errorf("recovery codes after a reset: %d, %v; want none", n, err)
		}
		return nil
	})
	en, err = s.Enrol(ctx, "ada", adaReset.Code, "a new passphrase for ada", "10.0.0.5")
	if err != nil {
		t.Fatal(err)
	}
	if !loginWith("ada", "a new passphrase for ada", en.TOTPSecret) {
		t.Error("ada does not log in after enrolling again")
	}

	// Refused resets, audited.
	ca, err := partner.NewCA(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	pt, err := s.AddPartner(ctx, ca, "mission-locale", "employment", "partner", "u1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lifecycle(ctx, auth.Host, pol, auth.Delete, "marie", "left"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ref      string
		want     error
		decision string
	}{
		{"nobody", store.ErrNotFound, "deny:not_found"},
		{pt.Partner.ID, access.ErrInvalid, "deny:invalid"},
		{marie.Operator, store.ErrConflict, "deny:conflict"},
	} {
		if _, err := s.ResetFactors(ctx, tc.ref); !errors.Is(err, tc.want) {
			t.Errorf("ResetFactors(%s) = %v, want %v", tc.ref, err, tc.want)
		}
		if es := auditFrom(t, s, lastSeq(t, s)); es[0].Action != "operator.reset" || es[0].Decision != tc.decision {
			t.Errorf("ResetFactors(%s) audited %+v, want %s", tc.ref, es[0], tc.decision)
		}
	}
	// A deleted account's name enrols no one.
	if _, err := s.Enrol(ctx, "marie", marie.Code, pw, "10.0.0.5"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Errorf("enrol of a deleted account = %v", err)
	}
}

// loginSession logs op in with its password and TOTP at now and returns
// the session token.
func loginSession(t *testing.T, s *auth.Service, op *auth.NewOperator, now time.Time) string {
	t.Helper()
	lt, _, err := s.Login(ctx, op.Operator.Username, op.Password, "10.0.0.9")
	if err != nil {
		t.Fatal(err)
	}
	code, _ := totp.GenerateCode(op.TOTPSecret, now)
	ses, err := s.VerifyTOTP(ctx, lt, code, "10.0.0.9", "")
	if err != nil {
		t.Fatal(err)
	}
	return ses.Token
}

// TestEnrolGuessing: wrong codes count as failed logins of the account and
// lock it as wrong passwords do (the right code then opens nothing, and
// is not spent, until the lock lapses); a disabled account's code opens
// nothing until it is enabled; failures from one address throttle it.
func TestEnrolGuessing(t *testing.T) {
	now := time.Date(2026, 11, 23, 9, 0, 10, 0, time.UTC)
	s := newService(t, &now)
	s.Limits = auth.Limits{MaxFailures: 3, LockFor: time.Hour, PerOrigin: 1000}
	code, err := s.AddOperator(ctx, "marie", "caseworker", "u1")
	if err != nil {
		t.Fatal(err)
	}
	const pw = "correct horse battery"
	for i := range 3 {
		if _, err := s.Enrol(ctx, "marie", "aaaaa-aaaaa-aaaaa-aaaa"+string(rune('a'+i)), pw, "10.0.0.5"); !errors.Is(err, auth.ErrBadCredentials) {
			t.Fatalf("guess %d = %v", i, err)
		}
	}
	var op *identity.Operator
	s.Store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		op, err = tx.GetOperator(ctx, code.Operator)
		return err
	})
	if op.Locked != auth.LockLoginFailures {
		t.Fatalf("after 3 wrong codes the account's lock is %q, want %s", op.Locked, auth.LockLoginFailures)
	}
	if _, err := s.Enrol(ctx, "marie", code.Code, pw, "10.0.0.5"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Errorf("the right code on a locked account = %v, want ErrBadCredentials", err)
	}
	if es := auditFrom(t, s, lastSeq(t, s)); es[0].Decision != "deny:locked" {
		t.Errorf("the right code on a locked account audited %+v", es[0])
	}
	now = now.Add(time.Hour)
	if _, err := s.Enrol(ctx, "marie", code.Code, pw, "10.0.0.5"); err != nil {
		t.Errorf("the right code once the lock lapsed = %v", err)
	}

	// Disabled: the right code opens nothing, and stays for later.
	lea, err := s.AddOperator(ctx, "lea", "caseworker", "u1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lifecycle(ctx, auth.Host, nil, auth.Disable, "lea", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enrol(ctx, "lea", lea.Code, pw, "10.0.0.5"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Errorf("enrol of a disabled account = %v", err)
	}
	if es := auditFrom(t, s, lastSeq(t, s)); es[0].Decision != "deny:disabled" {
		t.Errorf("enrol of a disabled account audited %+v", es[0])
	}
	if _, err := s.Lifecycle(ctx, auth.Host, nil, auth.Enable, "lea", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enrol(ctx, "lea", lea.Code, pw, "10.0.0.5"); err != nil {
		t.Errorf("enrol once enabled = %v", err)
	}

	// The login's throttle: failures from one address hold it back.
	s.Limits.PerOrigin = 2
	var te *auth.ThrottleError
	for i := range 3 {
		_, err = s.Enrol(ctx, "nobody", code.Code, pw, "10.0.0.66")
		if i < 2 && !errors.Is(err, auth.ErrBadCredentials) {
			t.Fatalf("attempt %d = %v", i, err)
		}
	}
	if !errors.As(err, &te) {
		t.Errorf("the third failure from one address within a minute = %v, want a ThrottleError", err)
	}
}

// TestEstablishedAccountApprover: with a minimum age, an administrator whose
// own account is newer cannot approve a new account; an established one
// can.
func TestEstablishedAccountApprover(t *testing.T) {
	now := time.Date(2026, 11, 23, 9, 0, 10, 0, time.UTC)
	s := newService(t, &now)
	s.ApproverMinAge = 7 * 24 * time.Hour
	cfg, err := config.Demo(nil)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := s.AddReadyOperator(ctx, "old", "pw-old-123456", "admin", "u1")
	now = now.Add(10 * 24 * time.Hour)
	maker, _ := s.AddReadyOperator(ctx, "maker", "pw-maker-123456", "admin", "u1")
	fresh, _ := s.AddReadyOperator(ctx, "fresh", "pw-fresh-123456", "admin", "u1")
	actor := func(o *auth.NewOperator) identity.Actor {
		return identity.Actor{ID: o.Operator.ID, Role: "admin", Origin: "10.0.0.1", SteppedUp: now}
	}
	lea, err := s.AdminAddOperator(ctx, actor(maker), cfg.Policy, "lea", "support", "u1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ApproveEnrolment(ctx, actor(fresh), cfg.Policy, lea.ID); !errors.Is(err, access.ErrForbidden) {
		t.Errorf("a new administrator approves: %v, want ErrForbidden", err)
	}
	if code, err := s.ApproveEnrolment(ctx, actor(old), cfg.Policy, lea.ID); err != nil || code.Code == "" {
		t.Errorf("an established administrator approves: %+v, %v", code, err)
	}
}
