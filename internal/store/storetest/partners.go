package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/store"
)

// partners checks partner records, credential replacement and pseudonyms.
func partners(t *testing.T, s store.Store) {
	p := &identity.Partner{ID: "op_p1", Name: "mission-locale", Sector: "employment", KeyHash: []byte("k1"), CertSerial: "0a", Created: t0}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.PutOperator(ctx, &identity.Operator{ID: "op_p1", Username: "partner:mission-locale", PasswordHash: "!", Role: "partner", Unit: "u1", Created: t0}); err != nil {
			return err
		}
		return tx.PutPartner(ctx, p)
	})
	dup := *p
	dup.ID = "op_p2"
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.PutPartner(ctx, &dup) }); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate name: %v", err)
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.SetPartnerCredentials(ctx, "op_p1", []byte("k2"), "0b"); err != nil {
			return err
		}
		if err := tx.SetPartnerCredentials(ctx, "op_zz", []byte("k3"), "0c"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("credentials of a missing partner: %v", err)
		}
		if err := tx.PutPseudonym(ctx, "employment", "psn_a", "sub_1"); err != nil {
			return err
		}
		return tx.PutPseudonym(ctx, "employment", "psn_a", "sub_1")
	})
	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.GetPartnerByKey(ctx, []byte("k2"))
		if err != nil || got.ID != "op_p1" || got.CertSerial != "0b" || got.Sector != "employment" || !got.Created.Equal(t0) {
			t.Errorf("by new key = %+v, %v", got, err)
		}
		if _, err := tx.GetPartnerByKey(ctx, []byte("k1")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("old key still finds the partner: %v", err)
		}
		if got, err := tx.GetPartnerByName(ctx, "mission-locale"); err != nil || got.ID != "op_p1" {
			t.Errorf("by name = %+v, %v", got, err)
		}
		if sub, err := tx.ResolvePseudonym(ctx, "employment", "psn_a"); err != nil || sub != "sub_1" {
			t.Errorf("resolve = %q, %v", sub, err)
		}
		if _, err := tx.ResolvePseudonym(ctx, "health", "psn_a"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("another sector resolves the pseudonym: %v", err)
		}
		return nil
	})
}
