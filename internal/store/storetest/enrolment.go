package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/store"
)

// enrolments checks the enrolments of accounts waiting for their holder:
// one per operator (a new one replaces it), approved once, a code spent
// once and only before it expires, the credentials it sets, the factors a
// reset clears, and an erased account's enrolment gone with it.
func enrolments(t *testing.T, s store.Store) {
	t1, t2 := t0.Add(time.Hour), t0.Add(72*time.Hour)
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, id := range []string{"op_a", "op_b"} {
			if err := tx.PutOperator(ctx, &identity.Operator{ID: id, Username: "name-" + id, PasswordHash: "!enrol", Role: "r", Unit: "u", Created: t0}); err != nil {
				return err
			}
			if err := tx.PutEnrolment(ctx, &identity.Enrolment{Operator: id, RequestedBy: "op_admin", Created: t0}); err != nil {
				return err
			}
		}
		return nil
	})
	get := func(id string) (*identity.Enrolment, error) {
		t.Helper()
		var e *identity.Enrolment
		err := s.View(ctx, func(ctx context.Context, tx store.Tx) error {
			var err error
			e, err = tx.GetEnrolment(ctx, id)
			return err
		})
		return e, err
	}
	if e, err := get("op_a"); err != nil || e.RequestedBy != "op_admin" || !e.Created.Equal(t0) || e.ApprovedBy != "" || e.CodeHash != nil || !e.Expires.IsZero() {
		t.Errorf("a new enrolment = %+v, %v; want requested by op_admin at %v, not approved, no code", e, err, t0)
	}

	hash := []byte("0123456789abcdef0123456789abcdef")
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.ApproveEnrolment(ctx, "op_a", "op_second", hash, t2)
	})
	if e, err := get("op_a"); err != nil || e.ApprovedBy != "op_second" || !bytes.Equal(e.CodeHash, hash) || !e.Expires.Equal(t2) || e.RequestedBy != "op_admin" {
		t.Errorf("an approved enrolment = %+v, %v; want approved by op_second, its hash, expiring at %v", e, err, t2)
	}
	spend := func(id string, h []byte, at time.Time) bool {
		t.Helper()
		var ok bool
		update(t, s, func(ctx context.Context, tx store.Tx) error {
			var err error
			ok, err = tx.SpendEnrolment(ctx, id, h, at)
			return err
		})
		return ok
	}
	for _, tc := range []struct {
		name string
		fn   func(context.Context, store.Tx) error
		want error
	}{
		{"approve twice", func(ctx context.Context, tx store.Tx) error {
			return tx.ApproveEnrolment(ctx, "op_a", "op_third", []byte("x"), t2)
		}, store.ErrNotFound},
		{"approve none", func(ctx context.Context, tx store.Tx) error {
			return tx.ApproveEnrolment(ctx, "op_none", "op_third", []byte("x"), t2)
		}, store.ErrNotFound},
		{"enrolment of no operator", func(ctx context.Context, tx store.Tx) error {
			return tx.PutEnrolment(ctx, &identity.Enrolment{Operator: "op_none", RequestedBy: "system", Created: t0})
		}, store.ErrNotFound},
		{"credentials of no operator", func(ctx context.Context, tx store.Tx) error { return tx.SetCredentials(ctx, "op_none", "h", nil) }, store.ErrNotFound},
		{"get none", func(ctx context.Context, tx store.Tx) error {
			_, err := tx.GetEnrolment(ctx, "op_none")
			return err
		}, store.ErrNotFound},
	} {
		if err := s.Update(ctx, tc.fn); !errors.Is(err, tc.want) {
			t.Errorf("%s = %v, want %v", tc.name, err, tc.want)
		}
	}
	if e, _ := get("op_a"); e.ApprovedBy != "op_second" {
		t.Errorf("a second approval changed the first: %+v", e)
	}
	switch {
	case spend("op_b", nil, t1):
		t.Error("an enrolment not approved was spent")
	case spend("op_a", []byte("wrong"), t1):
		t.Error("an enrolment was spent with another hash")
	case spend("op_b", hash, t1):
		t.Error("an enrolment was spent with another operator's hash")
	case spend("op_a", hash, t2):
		t.Error("an enrolment was spent at its expiry")
	case !spend("op_a", hash, t1):
		t.Error("an approved enrolment with its hash, before its expiry, was not spent")
	case spend("op_a", hash, t1):
		t.Error("an enrolment was spent twice")
	}
	if _, err := get("op_a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a spent enrolment = %v, want ErrNotFound", err)
	}

	// A new enrolment replaces the one waiting.
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.PutEnrolment(ctx, &identity.Enrolment{Operator: "op_b", RequestedBy: "system", Created: t1, ApprovedBy: "system", CodeHash: hash, Expires: t2})
	})
	if e, err := get("op_b"); err != nil || e.RequestedBy != "system" || e.ApprovedBy != "system" || !e.Created.Equal(t1) || !bytes.Equal(e.CodeHash, hash) {
		t.Errorf("a replaced enrolment = %+v, %v; want the new one", e, err)
	}

	// Credentials set, and factors cleared.
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.SetCredentials(ctx, "op_a", "$argon2id$new", []byte("sealed")); err != nil {
			return err
		}
		if err := tx.PutWebAuthn(ctx, &identity.WebAuthnCredential{ID: []byte("key-a"), Operator: "op_a", Name: "key", Credential: []byte("{}"), Created: t0}); err != nil {
			return err
		}
		return tx.PutRecoveryCodes(ctx, "op_a", [][]byte{[]byte("r1")})
	})
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		o, err := tx.GetOperator(ctx, "op_a")
		if err != nil || o.PasswordHash != "$argon2id$new" || string(o.TOTPSecret) != "sealed" {
			t.Errorf("after SetCredentials: %+v, %v; want the new hash and secret", o, err)
		}
		if err := tx.SetCredentials(ctx, "op_a", "!enrol", nil); err != nil {
			return err
		}
		return tx.ClearFactors(ctx, "op_a")
	})
	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		o, err := tx.GetOperator(ctx, "op_a")
		if err != nil || o.PasswordHash != "!enrol" || len(o.TOTPSecret) != 0 {
			t.Errorf("after a reset: %+v, %v; want the placeholder and no secret", o, err)
		}
		if ks, err := tx.WebAuthnCredentials(ctx, "op_a"); err != nil || len(ks) != 0 {
			t.Errorf("security keys after ClearFactors = %d, %v; want none", len(ks), err)
		}
		if n, err := tx.CountRecoveryCodes(ctx, "op_a"); err != nil || n != 0 {
			t.Errorf("recovery codes after ClearFactors = %d, %v; want none", n, err)
		}
		return nil
	})

	// Erasing an account erases its enrolment.
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.EraseOperator(ctx, "op_b", "deleted:op_b", t1)
	})
	if _, err := get("op_b"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the enrolment of an erased account = %v, want ErrNotFound", err)
	}
}
