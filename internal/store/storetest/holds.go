package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/hold"
	"github.com/coffre/coffre/internal/store"
)

// legalHolds checks the legal holds: a hold round-trips (sealed reason as
// bytes, operator, time); an id is taken once; a subject's holds oldest
// first, none for another; Held is true while one is in force; a hold
// lifts once (ErrConflict after, nothing changed), an unknown one is
// ErrNotFound; the lifted hold keeps its row.
func legalHolds(t *testing.T, s store.Store) {
	mk := func(id, subject string, placed time.Time) *hold.Hold {
		return &hold.Hold{ID: id, Subject: subject, Reason: []byte("sealed-" + id), PlacedBy: "op_1", Placed: placed}
	}
	a, b, c := mk("hold_a", "sub_1", t0.Add(time.Hour)), mk("hold_b", "sub_1", t0), mk("hold_c", "sub_2", t0)
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, h := range []*hold.Hold{a, b, c} {
			if err := tx.PutHold(ctx, h); err != nil {
				return err
			}
		}
		return nil
	})
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.PutHold(ctx, mk("hold_a", "sub_9", t0)) }); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a second hold_a: %v, want ErrConflict", err)
	}
	get := func(id string) (*hold.Hold, error) {
		var h *hold.Hold
		err := s.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
			h, err = tx.GetHold(ctx, id)
			return err
		})
		return h, err
	}
	same := func(got, want *hold.Hold) bool {
		return got.ID == want.ID && got.Subject == want.Subject && bytes.Equal(got.Reason, want.Reason) && got.PlacedBy == want.PlacedBy &&
			got.Placed.Equal(want.Placed) && got.LiftedBy == want.LiftedBy && got.Lifted.Equal(want.Lifted) && bytes.Equal(got.LiftReason, want.LiftReason)
	}
	got, err := get("hold_a")
	if err != nil || !same(got, a) || !got.InForce() {
		t.Errorf("GetHold(hold_a) got %+v, %v; want %+v in force", got, err, a)
	}
	if _, err := get("hold_none"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetHold(hold_none): %v, want ErrNotFound", err)
	}
	holds := func(subject string) []hold.Hold {
		var hs []hold.Hold
		if err := s.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
			hs, err = tx.SubjectHolds(ctx, subject)
			return err
		}); err != nil {
			t.Fatalf("SubjectHolds(%s): %v", subject, err)
		}
		return hs
	}
	if hs := holds("sub_1"); len(hs) != 2 || hs[0].ID != "hold_b" || hs[1].ID != "hold_a" {
		t.Errorf("SubjectHolds(sub_1) got %+v, want hold_b then hold_a", hs)
	}
	if hs := holds("sub_3"); len(hs) != 0 {
		t.Errorf("SubjectHolds(sub_3) got %+v, want none", hs)
	}
	held := func(subject string) bool {
		var h bool
		if err := s.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
			h, err = tx.Held(ctx, subject)
			return err
		}); err != nil {
			t.Fatalf("Held(%s): %v", subject, err)
		}
		return h
	}
	if !held("sub_1") || !held("sub_2") || held("sub_3") {
		t.Errorf("Held: sub_1 %v, sub_2 %v, sub_3 %v; want true, true, false", held("sub_1"), held("sub_2"), held("sub_3"))
	}
	lift := func(id string, at time.Time) error {
		return s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			return tx.LiftHold(ctx, id, "op_2", at, []byte("sealed-lift-"+id))
		})
	}
	at := t0.Add(2 * time.Hour)
	if err := lift("hold_c", at); err != nil {
		t.Fatalf("LiftHold(hold_c): %v", err)
	}
	if err := lift("hold_c", at.Add(time.Hour)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("LiftHold(hold_c) again: %v, want ErrConflict", err)
	}
	if err := lift("hold_none", at); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LiftHold(hold_none): %v, want ErrNotFound", err)
	}
	want := *c
	want.LiftedBy, want.Lifted, want.LiftReason = "op_2", at, []byte("sealed-lift-hold_c")
	if got, err := get("hold_c"); err != nil || !same(got, &want) || got.InForce() {
		t.Errorf("GetHold(hold_c) after its lift got %+v, %v; want %+v", got, err, want)
	}
	if held("sub_2") {
		t.Error("Held(sub_2) with its one hold lifted: got true, want false")
	}
	if err := lift("hold_b", at); err != nil {
		t.Fatalf("LiftHold(hold_b): %v", err)
	}
	if !held("sub_1") {
		t.Error("Held(sub_1) with hold_a still in force: got false, want true")
	}
	if hs := holds("sub_2"); len(hs) != 1 {
		t.Errorf("SubjectHolds(sub_2) after the lift got %d holds, want 1 (a lifted hold stays)", len(hs))
	}
}
