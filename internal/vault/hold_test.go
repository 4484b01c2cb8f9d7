package vault_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/rights"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/vault"
)

// TestLegalHold: a hold blocks the erasure and the accepted erasure
// request (nothing erased, the record still read) until lifted; its
// reasons are sealed and shown to the hold's holders, never audited.
func TestLegalHold(t *testing.T) {
	e := newRightsEnv(t)
	p := e.person()
	const why, lift = "Contentieux prud'homal RG 26/00417", "Jugement définitif rendu"
	e.tick()
	h, err := e.v.PlaceHold(ctx, e.dpo, p.Subject, why)
	if err != nil {
		t.Fatalf("PlaceHold: %v", err)
	}
	if h.Subject != p.Subject || h.Reason != why || h.PlacedBy != e.dpo.ID || !h.InForce || h.AuditSeq == 0 || h.Placed.IsZero() {
		t.Errorf("PlaceHold got %+v", h)
	}
	if en := e.lastEntry(); en.Action != "hold.place" || en.Decision != "allow" || en.Subject != p.Subject || en.Reason != h.ID {
		t.Errorf("hold.place entry got %+v, want allowed, naming the hold's id only", en)
	}
	if e.rawContains([]byte("prud'homal")) {
		t.Error("the hold's reason is stored in clear")
	}

	// Erasure refused: 409 legal_hold, audited, nothing erased.
	e.tick()
	err = e.v.Erase(ctx, e.dpo, p.Subject, "demande de la personne")
	if !errors.Is(err, vault.ErrHeld) || !errors.Is(err, store.ErrConflict) || !strings.Contains(publicMessage(err), "legal hold") {
		t.Fatalf("Erase of a held subject: %v, want ErrHeld", err)
	}
	if en := e.lastEntry(); en.Action != "erase" || en.Decision != "deny:legal_hold" {
		t.Errorf("refused erasure's entry got %+v, want deny:legal_hold", en)
	}
	if row := e.row(p.Subject); row.Erased || row.DEK == nil {
		t.Fatal("a held record was erased")
	}
	if err := e.read(e.dpo, p.Subject, "rights-review", "ticket 1"); err != nil {
		t.Errorf("reading the held record: %v", err)
	}
	// An erasure request accepted: refused too, the request stays open.
	er := e.file(p, rights.Erasure, nil, "")
	if _, err := e.decide(e.dpo, er.ID, rights.Accept, ""); !errors.Is(err, vault.ErrHeld) {
		t.Fatalf("accepting the erasure of a held subject: %v, want ErrHeld", err)
	}
	if en := e.lastEntry(); en.Action != "request.decide" || en.Decision != "deny:legal_hold" {
		t.Errorf("refused decision's entry got %+v, want deny:legal_hold", en)
	}
	e.tick()
	if r, err := e.v.OpenRequest(ctx, e.dpo, er.ID); err != nil || r.Status != rights.Pending {
		t.Errorf("the erasure request after the refusal got %+v, %v; want pending", r, err)
	}
	if row := e.row(p.Subject); row.Erased {
		t.Fatal("a held record was erased by a request")
	}

	// The list, then the lift.
	e.tick()
	hs, err := e.v.Holds(ctx, e.dpo, p.Subject)
	if err != nil || len(hs) != 1 || hs[0].ID != h.ID || hs[0].Reason != why || !hs[0].InForce {
		t.Fatalf("Holds got %+v, %v; want the one hold in force", hs, err)
	}
	if en := e.lastEntry(); en.Action != "hold.list" || en.Decision != "allow" || en.Subject != p.Subject {
		t.Errorf("hold.list entry got %+v", en)
	}
	e.tick()
	l, err := e.v.LiftHold(ctx, e.dpo, h.ID, lift)
	if err != nil || l.InForce || l.LiftedBy != e.dpo.ID || l.LiftReason != lift || l.Reason != why || l.Lifted == nil {
		t.Fatalf("LiftHold got %+v, %v", l, err)
	}
	if en := e.lastEntry(); en.Action != "hold.lift" || en.Decision != "allow" || en.Subject != p.Subject || en.Reason != h.ID {
		t.Errorf("hold.lift entry got %+v", en)
	}
	e.tick()
	if _, err := e.v.LiftHold(ctx, e.dpo, h.ID, lift); !errors.Is(err, vault.ErrLifted) {
		t.Errorf("lifting again: %v, want ErrLifted", err)
	}
	if en := e.lastEntry(); en.Action != "hold.lift" || en.Decision != "deny:conflict" {
		t.Errorf("second lift's entry got %+v", en)
	}

	// Lifted: the request's erasure goes through.
	if _, err := e.decide(e.dpo, er.ID, rights.Accept, ""); err != nil {
		t.Fatalf("accepting the erasure once the hold is lifted: %v", err)
	}
	if row := e.row(p.Subject); !row.Erased {
		t.Error("the record is not erased once the hold is lifted")
	}
	if e.rawContains([]byte("définitif")) {
		t.Error("the lift's reason is stored in clear")
	}
}

// TestEraseAfterLift: Vault.Erase works once the hold is lifted. The
// person's art. 15 package shows the hold, in force then lifted, with its
// dates and never its reason.
func TestEraseAfterLift(t *testing.T) {
	e := newRightsEnv(t)
	p := e.person()
	e.tick()
	h, err := e.v.PlaceHold(ctx, e.dpo, p.Subject, "case 12")
	if err != nil {
		t.Fatal(err)
	}
	holds := func() []vault.HoldDates {
		t.Helper()
		e.tick()
		d, err := e.v.MyData(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if js, _ := json.Marshal(d); strings.Contains(string(js), "case 12") {
			t.Error("the person's package holds the hold's reason")
		}
		return d.Holds
	}
	if hs := holds(); len(hs) != 1 || !hs[0].InForce || !hs[0].Placed.Equal(h.Placed) || hs[0].Lifted != nil {
		t.Errorf("MyData holds %+v, want the one hold in force since %v", hs, h.Placed)
	}
	e.tick()
	if _, err := e.v.LiftHold(ctx, e.dpo, h.ID, "case 12 closed"); err != nil {
		t.Fatal(err)
	}
	if hs := holds(); len(hs) != 1 || hs[0].InForce || hs[0].Lifted == nil {
		t.Errorf("MyData holds %+v after the lift, want it lifted", hs)
	}
	e.tick()
	if err := e.v.Erase(ctx, e.dpo, p.Subject, "case 12 closed"); err != nil {
		t.Fatalf("Erase after the lift: %v", err)
	}
	if row := e.row(p.Subject); !row.Erased {
		t.Error("not erased")
	}
}

// TestHoldRefused: what is refused before anything is held, each refusal
// audited. Each runs in a vault of its own: the dpo's refusals count
// towards its hard margin, which locks after a few.
func TestHoldRefused(t *testing.T) {
	var e *rightsEnv
	var p vault.Person
	tests := []struct {
		name   string
		call   func() error
		want   error
		action string
		dec    string
	}{
		{"place without the permission", func() error { _, err := e.v.PlaceHold(ctx, e.hr, p.Subject, "case 1"); return err }, access.ErrForbidden, "hold.place", "deny:forbidden"},
		{"list without the permission", func() error { _, err := e.v.Holds(ctx, e.cw, p.Subject); return err }, access.ErrForbidden, "hold.list", "deny:forbidden"},
		{"lift without the permission", func() error {
			_, err := e.v.LiftHold(ctx, e.cw, "hold_0000000000000000", "done")
			return err
		}, access.ErrForbidden, "hold.lift", "deny:forbidden"},
		{"unknown subject", func() error { _, err := e.v.PlaceHold(ctx, e.dpo, unknownSubject(), "case 1"); return err }, store.ErrNotFound, "hold.place", "deny:not_found"},
		{"list of an unknown subject", func() error { _, err := e.v.Holds(ctx, e.dpo, unknownSubject()); return err }, store.ErrNotFound, "hold.list", "deny:not_found"},
		{"unknown hold", func() error {
			_, err := e.v.LiftHold(ctx, e.dpo, "hold_0000000000000000", "done")
			return err
		}, store.ErrNotFound, "hold.lift", "deny:not_found"},
		{"malformed subject", func() error { _, err := e.v.PlaceHold(ctx, e.dpo, "sub_x", "case 1"); return err }, access.ErrInvalid, "hold.place", "deny:invalid"},
		{"malformed hold", func() error { _, err := e.v.LiftHold(ctx, e.dpo, "req_1", "done"); return err }, access.ErrInvalid, "hold.lift", "deny:invalid"},
		{"no reason", func() error { _, err := e.v.PlaceHold(ctx, e.dpo, p.Subject, " "); return err }, access.ErrReasonRequired, "hold.place", "deny:reason_required"},
		{"reason too long", func() error {
			_, err := e.v.PlaceHold(ctx, e.dpo, p.Subject, strings.Repeat("x", 201))
			return err
		}, access.ErrInvalid, "hold.place", "deny:invalid"},
		{"control characters", func() error { _, err := e.v.PlaceHold(ctx, e.dpo, p.Subject, "case\x1b[2J"); return err }, access.ErrInvalid, "hold.place", "deny:invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e = newRightsEnv(t)
			p = e.person()
			e.tick()
			if err := tt.call(); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if en := e.lastEntry(); en.Action != tt.action || en.Decision != tt.dec {
				t.Errorf("entry got %s %s, want %s %s", en.Action, en.Decision, tt.action, tt.dec)
			}
			e.tick()
			if hs, err := e.v.Holds(ctx, e.dpo, p.Subject); err != nil || len(hs) != 0 {
				t.Errorf("Holds after the refusal got %+v, %v; want none", hs, err)
			}
		})
	}
}
