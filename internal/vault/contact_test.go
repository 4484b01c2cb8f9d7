package vault_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/contact"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

func ptr(s string) *string { return &s }

// TestContactChangeWaits: a change of a contact field is pending, sealed
// (nothing of the address in the store in clear), told to the address it
// replaces, and folds into a later change of the same person, whose
// clock restarts; setting the values back cancels it; a value another
// person holds is refused at once, a malformed one too.
func TestContactChangeWaits(t *testing.T) {
	g := newGuarded(t)
	ids := g.subjects("u1", 2)
	g.assign(t, cw.ID, ids)
	id := ids[0]
	before := synth.Make(11, 1).Fields
	taken := synth.Make(11, 2).Fields["email_pro"]
	t0 := g.clock.Now()

	u, err := g.v.Update(ctx, cw, id, "case-update", "ticket 31", map[string]*string{"email_pro": ptr("neuve@example.org"), "job_title": ptr("Juriste")})
	if err != nil || u.Change == "" || !slices.Equal(u.Applied, []string{"job_title"}) || !u.Pending["email_pro"].Equal(t0.Add(72*time.Hour)) {
		t.Fatalf("Update = %+v, %v", u, err)
	}
	first := u.Change
	ms := g.messages(t, contact.Kind)
	if len(ms) != 1 || ms[0].Key != contact.Key(first) || ms[0].Recipient != id {
		t.Fatalf("messages %+v", ms)
	}
	if m, err := contact.Decode(ms[0].Payload); err != nil || m.Change != first || !slices.Equal(m.Fields, []string{"email_pro"}) || strings.Contains(string(ms[0].Payload), "@") {
		t.Fatalf("payload %s, %v", ms[0].Payload, err)
	}
	// The sender resolves the old address.
	c, err := g.v.ContactForChange(ctx, id, first)
	if err != nil || c.Email != before["email_pro"] {
		t.Fatalf("ContactForChange = %+v, %v; want the old email %s", c, err, before["email_pro"])
	}
	if _, err := g.v.ContactForChange(ctx, ids[1], first); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ContactForChange for another person: %v", err)
	}
	// No address in clear in the change.
	var stored *contact.Change
	g.store.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
		stored, err = tx.GetContactChange(ctx, first)
		return err
	})
	if sealed := string(stored.New) + string(stored.Old); strings.Contains(sealed, "neuve@example.org") || strings.Contains(sealed, before["email_pro"]) {
		t.Error("an address in clear in the stored change")
	}

	// Refused at once: a value someone holds, a malformed one.
	g.clock.Add(time.Hour)
	if _, err := g.v.Update(ctx, cw, id, "case-update", "ticket 31", map[string]*string{"email_pro": &taken}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a taken value: %v, want ErrConflict", err)
	}
	var fe *vault.FieldError
	if _, err := g.v.Update(ctx, cw, id, "case-update", "ticket 31", map[string]*string{"phone": ptr("call me")}); !errors.As(err, &fe) || fe.Field != "phone" {
		t.Fatalf("a malformed phone: %v, want a FieldError on phone", err)
	}

	// A second change folds the first in; the clock restarts.
	g.clock.Add(time.Hour)
	u, err = g.v.Update(ctx, cw, id, "case-update", "ticket 32", map[string]*string{"phone": ptr("+33 6 12 34 56 78")})
	if err != nil || u.Change == first || len(u.Pending) != 2 || !u.Pending["phone"].Equal(g.clock.Now().Add(72*time.Hour)) || !u.Pending["email_pro"].Equal(u.Pending["phone"]) {
		t.Fatalf("second Update = %+v, %v", u, err)
	}
	second := u.Change
	g.store.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
		stored, err = tx.GetContactChange(ctx, first)
		return err
	})
	if stored.Status != contact.StatusSuperseded || stored.New != nil {
		t.Errorf("the first change: %+v, want superseded without its new values", stored)
	}
	// The same change again: left as it is (no message, no new clock).
	g.clock.Add(time.Hour)
	again, err := g.v.Update(ctx, cw, id, "case-update", "ticket 32", map[string]*string{"phone": ptr("+33 6 12 34 56 78")})
	if err != nil || again.Change != second || !again.Pending["phone"].Equal(u.Pending["phone"]) {
		t.Fatalf("the same change again: %+v, %v; want %s unchanged", again, err, second)
	}
	if n := len(g.messages(t, contact.Kind)); n != 2 {
		t.Errorf("%d contact change messages, want 2", n)
	}
	// Both values back: cancelled.
	u, err = g.v.Update(ctx, cw, id, "case-update", "ticket 33", map[string]*string{"phone": ptr(before["phone"]), "email_pro": ptr(before["email_pro"])})
	if err != nil || u.Change != "" {
		t.Fatalf("values set back: %+v, %v; want no pending change", u, err)
	}
	if p, _ := g.v.PendingContactChanges(ctx, id); len(p) != 0 {
		t.Errorf("pending after the values were set back: %+v", p)
	}
	var decisions []string
	for _, e := range g.entries(t, "update") {
		decisions = append(decisions, strings.SplitN(e.Decision, ":", 2)[0]+":"+strings.Join(strings.SplitN(e.Decision, ":", 3)[1:2], ""))
	}
	want := []string{"allow:pending", "deny:conflict", "deny:invalid", "allow:pending", "allow:pending", "allow:cancelled"}
	if !slices.Equal(decisions, want) {
		t.Errorf("update decisions %v, want %v", decisions, want)
	}
	if got := g.entries(t, "update"); got[4].Decision != "allow:pending:"+second || got[5].Decision != "allow:cancelled:"+second {
		t.Errorf("entries %+v, %+v", got[4], got[5])
	}
}

// TestContactChangeApplies: the pass applies a change at its date, in the
// record and the blind index; a change whose new value another person
// took meanwhile fails; the person cancels their own pending change, not
// someone else's, once; an erasure cancels it.
func TestContactChangeApplies(t *testing.T) {
	g := newGuarded(t)
	ids := g.subjects("u1", 4)
	g.assign(t, cw.ID, ids)
	before := synth.Make(11, 1).Fields
	if _, err := g.v.Update(ctx, cw, ids[0], "case-update", "t", map[string]*string{"email_pro": ptr("a.neuve@example.org")}); err != nil {
		t.Fatal(err)
	}
	u, err := g.v.Update(ctx, cw, ids[1], "case-update", "t", map[string]*string{"email_pro": ptr("b.neuve@example.org")})
	if err != nil {
		t.Fatal(err)
	}
	cancelled, err := g.v.Update(ctx, cw, ids[2], "case-update", "t", map[string]*string{"email_personal": nil})
	if err != nil {
		t.Fatal(err)
	}
	erased, err := g.v.Update(ctx, cw, ids[3], "case-update", "t", map[string]*string{"phone": ptr("+33 7 00 00 00 01")})
	if err != nil {
		t.Fatal(err)
	}
	// Meanwhile someone else gets b.neuve@ (created: not a pending change).
	p := synth.Make(11, 99)
	p.Fields["email_pro"] = "b.neuve@example.org"
	if _, err := g.v.Create(ctx, hr, "u1", p.Fields); err != nil {
		t.Fatal(err)
	}
	// The person cancels: not someone else's, not twice.
	for _, tt := range []struct {
		subject, id string
		want        error
	}{
		{ids[0], cancelled.Change, store.ErrNotFound},
		{ids[2], "chg_bad", access.ErrInvalid},
		{ids[2], cancelled.Change, nil},
		{ids[2], cancelled.Change, store.ErrConflict},
	} {
		if err := g.v.CancelContactChange(ctx, tt.subject, "10.9.9.9", tt.id); !errors.Is(err, tt.want) || tt.want == nil && err != nil {
			t.Errorf("CancelContactChange(%s, %s): %v, want %v", tt.subject, tt.id, err, tt.want)
		}
	}
	if err := g.v.Erase(ctx, hr, ids[3], "art. 17"); err != nil {
		t.Fatal(err)
	}
	g.clock.Add(72 * time.Hour)
	if n, err := g.v.ApplyContactChanges(ctx, 10); err != nil || n != 1 {
		t.Fatalf("ApplyContactChanges = %d, %v; want 1", n, err)
	}
	if got, err := g.v.Lookup(ctx, hr, "directory", "", "email_pro", "a.neuve@example.org"); err != nil || got != ids[0] {
		t.Errorf("the applied change's value: %q, %v", got, err)
	}
	if _, err := g.v.Lookup(ctx, hr, "directory", "", "email_pro", before["email_pro"]); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the replaced value still found: %v", err)
	}
	var got []string
	for _, e := range g.entries(t, "contact.apply") {
		got = append(got, e.Reason+" "+e.Decision)
	}
	if len(got) != 2 || !slices.Contains(got, u.Change+" deny:conflict") {
		t.Errorf("apply entries %v, want one applied and %s failed on a conflict", got, u.Change)
	}
	var statuses []string
	g.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		for _, id := range []string{u.Change, cancelled.Change, erased.Change} {
			c, err := tx.GetContactChange(ctx, id)
			if err != nil {
				return err
			}
			statuses = append(statuses, c.Status)
		}
		return nil
	})
	if want := []string{contact.StatusFailed, contact.StatusCancelled, contact.StatusCancelled}; !slices.Equal(statuses, want) {
		t.Errorf("statuses %v, want %v", statuses, want)
	}
	if es := g.entries(t, "contact.cancel"); len(es) != 4 || es[2].Decision != "allow" || es[2].Actor != ids[2] {
		t.Errorf("cancel entries %+v", es)
	}
	// The old values are kept a while for a late message, then dropped.
	if _, err := g.v.ContactForChange(ctx, ids[0], firstChange(t, g, ids[0])); err != nil {
		t.Errorf("ContactForChange just after the change: %v", err)
	}
	g.clock.Add(vault.OldContactKept + time.Second)
	if _, err := g.v.ApplyContactChanges(ctx, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := g.v.ContactForChange(ctx, ids[0], firstChange(t, g, ids[0])); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ContactForChange once the old values are dropped: %v, want ErrNotFound (the message goes nowhere)", err)
	}
}

// firstChange is the id of the contact change message queued for id.
func firstChange(t *testing.T, g *guarded, id string) string {
	t.Helper()
	for _, m := range g.messages(t, contact.Kind) {
		if m.Recipient == id {
			c, err := contact.Decode(m.Payload)
			if err != nil {
				t.Fatal(err)
			}
			return c.Change
		}
	}
	t.Fatalf("no contact change message for %s", id)
	return ""
}
