package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/store"
)

// identity checks second factors, session binding and step-up, session
// listing and mass revocation, and login-failure counting.
func identityRecords(t *testing.T, s store.Store) {
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, id := range []string{"op_1", "op_2"} {
			if err := tx.PutOperator(ctx, &identity.Operator{ID: id, Username: id, PasswordHash: "h", Role: "r", Unit: "u", Created: t0}); err != nil {
				return err
			}
		}
		for i, h := range []string{"s1", "s2", "s3"} {
			op := "op_1"
			if i == 2 {
				op = "op_2"
			}
			if err := tx.PutSession(ctx, &identity.Session{Hash: []byte(h), Kind: identity.KindSession, Operator: op, Created: t0.Add(time.Duration(i) * time.Minute),
				LastSeen: t0, Expires: t0.Add(time.Hour), Origin: "10.0.0.1", UserAgent: "ua/1", SteppedUp: t0, StepFactor: "totp", StepGroup: []string{"", "directory", "payroll"}[i]}); err != nil {
				return err
			}
		}
		return tx.PutSession(ctx, &identity.Session{Hash: []byte("l1"), Kind: identity.KindLogin, Operator: "op_1", Created: t0, LastSeen: t0, Expires: t0.Add(time.Minute)})
	})
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.SetChallenge(ctx, []byte("l1"), []byte("challenge")); err != nil {
			return err
		}
		if err := tx.StepUp(ctx, []byte("s1"), t0.Add(time.Hour), "webauthn", "hr-special", "10.0.0.2", "ua/2"); err != nil {
			return err
		}
		if err := tx.StepUp(ctx, []byte("s2"), t0.Add(time.Hour), "totp", "", "10.0.0.1", "ua/1"); err != nil {
			return err
		}
		if err := tx.StepUp(ctx, []byte("nope"), t0, "totp", "payroll", "", ""); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("step-up of a missing session: %v", err)
		}
		return nil
	})
	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		if l, err := tx.GetSession(ctx, []byte("l1")); err != nil || string(l.Challenge) != "challenge" {
			t.Errorf("login challenge = %+v, %v", l, err)
		}
		got, err := tx.GetSession(ctx, []byte("s1"))
		if err != nil || !got.SteppedUp.Equal(t0.Add(time.Hour)) || got.StepFactor != "webauthn" || got.StepGroup != "hr-special" || got.Origin != "10.0.0.2" || got.UserAgent != "ua/2" {
			t.Errorf("stepped-up session = %+v, %v", got, err)
		}
		// A step-up naming no purpose clears the group; s3 keeps the one
		// PutSession wrote.
		if got, err := tx.GetSession(ctx, []byte("s2")); err != nil || got.StepGroup != "" || got.StepFactor != "totp" {
			t.Errorf("session stepped up for no purpose = %+v, %v", got, err)
		}
		if got, err := tx.GetSession(ctx, []byte("s3")); err != nil || got.StepGroup != "payroll" || !got.SteppedUp.Equal(t0) {
			t.Errorf("session put with a step group = %+v, %v", got, err)
		}
		ss, err := tx.OperatorSessions(ctx, "op_1")
		if err != nil || len(ss) != 2 || string(ss[0].Hash) != "s2" || string(ss[1].Hash) != "s1" || ss[1].UserAgent != "ua/2" || ss[1].StepGroup != "hr-special" {
			t.Errorf("OperatorSessions = %+v, %v; want s2, s1 (no login row)", ss, err)
		}
		return nil
	})
	var removed int
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		removed, err = tx.DeleteAllSessions(ctx, "op_2")
		return err
	})
	if removed != 3 {
		t.Errorf("DeleteAllSessions removed %d, want 3 (op_1's two sessions and its login row)", removed)
	}
	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.GetSession(ctx, []byte("s3")); err != nil {
			t.Errorf("the kept operator's session: %v", err)
		}
		return nil
	})

	// WebAuthn credentials and recovery codes.
	c := &identity.WebAuthnCredential{ID: []byte{1, 2, 3}, Operator: "op_1", Name: "yubikey", Credential: []byte(`{"id":"AQID"}`), Created: t0}
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutWebAuthn(ctx, c) })
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.PutWebAuthn(ctx, c) }); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate credential: %v", err)
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateWebAuthn(ctx, c.ID, []byte(`{"id":"AQID","n":7}`), 7, t0.Add(time.Minute))
	})
	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		cs, err := tx.WebAuthnCredentials(ctx, "op_1")
		if err != nil || len(cs) != 1 || cs[0].SignCount != 7 || !cs[0].LastUsed.Equal(t0.Add(time.Minute)) || cs[0].Name != "yubikey" || string(cs[0].Credential) != `{"id":"AQID","n":7}` {
			t.Errorf("credentials = %+v, %v", cs, err)
		}
		if cs, _ := tx.WebAuthnCredentials(ctx, "op_2"); len(cs) != 0 {
			t.Errorf("op_2 has %d credentials", len(cs))
		}
		return nil
	})
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.DeleteWebAuthn(ctx, "op_2", c.ID) }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another operator deletes the credential: %v", err)
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteWebAuthn(ctx, "op_1", c.ID) })

	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.PutRecoveryCodes(ctx, "op_1", [][]byte{[]byte("a"), []byte("b")})
	})
	var uses []bool
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		uses = nil
		for _, h := range []string{"a", "a", "c", "b"} {
			ok, err := tx.UseRecoveryCode(ctx, "op_1", []byte(h))
			if err != nil {
				return err
			}
			uses = append(uses, ok)
		}
		if ok, _ := tx.UseRecoveryCode(ctx, "op_2", []byte("b")); ok {
			t.Error("another operator used op_1's code")
		}
		if n, err := tx.CountRecoveryCodes(ctx, "op_1"); n != 0 || err != nil {
			t.Errorf("unused codes left: %d, %v", n, err)
		}
		return nil
	})
	if !slices.Equal(uses, []bool{true, false, false, true}) {
		t.Errorf("recovery code uses = %v", uses)
	}

	// Login failures: counted within the window, restarted after it.
	var counts []int
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		counts = nil
		for _, at := range []time.Duration{0, time.Minute, 2 * time.Minute, 20 * time.Minute} {
			n, err := tx.LoginFailure(ctx, "op_1", t0.Add(at), 15*time.Minute)
			if err != nil {
				return err
			}
			counts = append(counts, n)
		}
		if _, err := tx.LoginFailure(ctx, "op_9", t0, time.Minute); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("failure of a missing operator: %v", err)
		}
		return nil
	})
	if !slices.Equal(counts, []int{1, 2, 3, 1}) {
		t.Errorf("failure counts = %v, want 1 2 3 1", counts)
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.SetOperatorRole(ctx, "op_9", "r", "u", t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("role of a missing operator: %v", err)
		}
		if err := tx.SetOperatorRole(ctx, "op_1", "auditor", "u2", t0.Add(time.Hour)); err != nil {
			return err
		}
		return tx.ResetLoginFailures(ctx, "op_1")
	})
	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		if op, _ := tx.GetOperator(ctx, "op_1"); op.Failures != 0 || op.Role != "auditor" || op.Unit != "u2" || !op.RoleSince.Equal(t0.Add(time.Hour)) {
			t.Errorf("after reset and role change: %+v", op)
		}
		return nil
	})
}

// auditLeaves: the stored leaf is the entry's canonical encoding; a
// subject's history matches the id exactly (not as a substring).
func auditLeaves(t *testing.T, s store.Store) {
	subjects := []string{"sub_a", "sub_ab", "", "sub_a", "sub_b"}
	var want []audit.Entry
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		want = want[:0]
		for i, sub := range subjects {
			e := audit.Entry{Time: t0.Add(time.Duration(i) * time.Second), Actor: "op_1", Action: "read", Subject: sub, Decision: "allow", Fields: []string{"a"}}
			if err := tx.AppendAudit(ctx, &e); err != nil {
				return err
			}
			want = append(want, e)
		}
		return nil
	})
	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		var seqs []int64
		err := tx.AuditLeaves(ctx, 2, 5, func(seq int64, leaf []byte) error {
			seqs = append(seqs, seq)
			if got := audit.LeafData(&want[seq-1]); string(got) != string(leaf) {
				t.Errorf("leaf %d = %q, want %q", seq, leaf, got)
			}
			return nil
		})
		if err != nil || !slices.Equal(seqs, []int64{2, 3, 4}) {
			t.Errorf("AuditLeaves(2, 5) = %v, %v", seqs, err)
		}
		es, err := tx.SubjectAudit(ctx, "sub_a", 10)
		if err != nil || len(es) != 2 || es[0].Seq != 4 || es[1].Seq != 1 {
			t.Errorf("SubjectAudit(sub_a) = %+v, %v; want entries 4 and 1", es, err)
		}
		if es, _ := tx.SubjectAudit(ctx, "sub_a", 1); len(es) != 1 || es[0].Seq != 4 {
			t.Errorf("SubjectAudit limit 1 = %+v", es)
		}
		return nil
	})
}
