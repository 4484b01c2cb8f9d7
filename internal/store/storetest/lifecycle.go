package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/store"
)

// lifecycle checks the life of an account: last logins, disabling and
// enabling (which restarts the inactivity clock), erasing an identity
// (the row and its id kept, the username free again), the paged list of
// accounts and caseload sizes.
func lifecycle(t *testing.T, s store.Store) {
	t1, t2, t3, t4 := t0.Add(time.Hour), t0.Add(2*time.Hour), t0.Add(3*time.Hour), t0.Add(4*time.Hour)
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, id := range []string{"op_c", "op_a", "op_b"} {
			if err := tx.PutOperator(ctx, &identity.Operator{ID: id, Username: "name-" + id, PasswordHash: "h", TOTPSecret: []byte("sealed"), Role: "r", Unit: "u", Created: t0}); err != nil {
				return err
			}
		}
		if err := tx.PutWebAuthn(ctx, &identity.WebAuthnCredential{ID: []byte("key-b"), Operator: "op_b", Name: "key", Credential: []byte("{}"), Created: t0}); err != nil {
			return err
		}
		if err := tx.PutRecoveryCodes(ctx, "op_b", [][]byte{[]byte("r1"), []byte("r2")}); err != nil {
			return err
		}
		if _, err := tx.LoginFailure(ctx, "op_b", t0, time.Hour); err != nil {
			return err
		}
		if err := tx.AssignCaseload(ctx, "op_a", []string{"sub_1", "sub_2", "sub_3"}, time.Time{}); err != nil {
			return err
		}
		return tx.PutSession(ctx, &identity.Session{Hash: []byte("sa"), Kind: identity.KindSession, Operator: "op_a", Created: t0, LastSeen: t0, Expires: t0.Add(time.Hour)})
	})
	get := func(id string) *identity.Operator {
		t.Helper()
		var o *identity.Operator
		err := s.View(ctx, func(ctx context.Context, tx store.Tx) error {
			var err error
			o, err = tx.GetOperator(ctx, id)
			return err
		})
		if err != nil {
			t.Fatalf("GetOperator(%s): %v", id, err)
		}
		return o
	}
	if o := get("op_a"); !o.LastLogin.IsZero() || !o.ActiveSince.IsZero() || !o.Deleted.IsZero() || o.Disabled {
		t.Errorf("a new operator: last login %v, active since %v, deleted %v, disabled %v; want zero times, enabled", o.LastLogin, o.ActiveSince, o.Deleted, o.Disabled)
	}

	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.RecordLogin(ctx, "op_a", t1); err != nil {
			return err
		}
		return tx.SetOperatorDisabled(ctx, "op_a", true, t2)
	})
	if o := get("op_a"); !o.LastLogin.Equal(t1) || !o.Disabled || !o.ActiveSince.IsZero() {
		t.Errorf("after a login and a disable: last login %v, disabled %v, active since %v; want %v, true, zero", o.LastLogin, o.Disabled, o.ActiveSince, t1)
	}
	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		if ses, err := tx.GetSession(ctx, []byte("sa")); err != nil || !ses.Disabled {
			t.Errorf("the session of a disabled operator = %+v, %v; want Disabled", ses, err)
		}
		return nil
	})
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.SetOperatorDisabled(ctx, "op_a", false, t3)
	})
	if o := get("op_a"); o.Disabled || !o.ActiveSince.Equal(t3) || !o.LastLogin.Equal(t1) {
		t.Errorf("after enable: disabled %v, active since %v, last login %v; want false, %v, %v", o.Disabled, o.ActiveSince, o.LastLogin, t3, t1)
	}

	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.EraseOperator(ctx, "op_b", "deleted:op_b", t4)
	})
	o := get("op_b")
	if o.Username != "deleted:op_b" || o.PasswordHash != "" || len(o.TOTPSecret) != 0 || !o.Disabled || !o.Deleted.Equal(t4) || o.Failures != 0 || o.ID != "op_b" {
		t.Errorf("erased operator = %+v; want the tombstone, no password or secret, disabled, deleted at %v, no failures", o, t4)
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if ks, err := tx.WebAuthnCredentials(ctx, "op_b"); err != nil || len(ks) != 0 {
			t.Errorf("security keys of an erased operator = %d, %v; want none", len(ks), err)
		}
		if n, err := tx.CountRecoveryCodes(ctx, "op_b"); err != nil || n != 0 {
			t.Errorf("recovery codes of an erased operator = %d, %v; want none", n, err)
		}
		if _, err := tx.GetOperatorByName(ctx, "name-op_b"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the erased username still names someone: %v", err)
		}
		// The name is free for a new account (another id).
		return tx.PutOperator(ctx, &identity.Operator{ID: "op_d", Username: "name-op_b", PasswordHash: "h", Role: "r", Unit: "u", Created: t4})
	})

	for _, tc := range []struct {
		name string
		fn   func(context.Context, store.Tx) error
	}{
		{"RecordLogin", func(ctx context.Context, tx store.Tx) error { return tx.RecordLogin(ctx, "op_none", t1) }},
		{"SetOperatorDisabled", func(ctx context.Context, tx store.Tx) error { return tx.SetOperatorDisabled(ctx, "op_none", true, t1) }},
		{"EraseOperator", func(ctx context.Context, tx store.Tx) error {
			return tx.EraseOperator(ctx, "op_none", "deleted:op_none", t1)
		}},
	} {
		if err := s.Update(ctx, tc.fn); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s of a missing operator = %v, want ErrNotFound", tc.name, err)
		}
	}

	var pages [][]string
	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		for after := ""; ; {
			os, err := tx.ListOperators(ctx, after, 3)
			if err != nil {
				t.Errorf("ListOperators(%q): %v", after, err)
				return nil
			}
			var ids []string
			for _, o := range os {
				ids = append(ids, o.ID)
			}
			pages = append(pages, ids)
			if len(os) < 3 {
				return nil
			}
			after = os[len(os)-1].ID
		}
	})
	if got := fmtPages(pages); got != "[op_a op_b op_c] [op_d]" {
		t.Errorf("ListOperators pages = %s, want [op_a op_b op_c] [op_d]", got)
	}
	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		os, err := tx.ListOperators(ctx, "", 10)
		if err != nil || len(os) != 4 || os[1].Username != "deleted:op_b" || !os[0].LastLogin.Equal(t1) || !os[1].Deleted.Equal(t4) {
			t.Errorf("ListOperators = %+v, %v; want 4 rows with their lifecycle times", os, err)
		}
		for id, want := range map[string]int{"op_a": 3, "op_c": 0, "op_none": 0} {
			if n, err := tx.CountCaseload(ctx, id, t0); err != nil || n != want {
				t.Errorf("CountCaseload(%s) = %d, %v; want %d", id, n, err, want)
			}
		}
		return nil
	})
}

func fmtPages(pages [][]string) string {
	out := ""
	for i, p := range pages {
		if i > 0 {
			out += " "
		}
		out += "["
		for j, id := range p {
			if j > 0 {
				out += " "
			}
			out += id
		}
		out += "]"
	}
	return out
}
