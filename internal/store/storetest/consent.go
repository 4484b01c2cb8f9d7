package storetest

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/consent"
	"github.com/coffre/coffre/internal/contact"
	"github.com/coffre/coffre/internal/store"
)

func getConsent(t *testing.T, s store.Store, id string) (*consent.Request, error) {
	t.Helper()
	var got *consent.Request
	err := s.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
		got, err = tx.GetConsent(ctx, id)
		return err
	})
	return got, err
}

func ids[T any](xs []T, id func(T) string) []string {
	out := []string{}
	for _, x := range xs {
		out = append(out, id(x))
	}
	return out
}

// consentRequests: a request reads back as stored; the latest of an
// operator, person and purpose is found; a status moves only from the
// status named (a decision, a use, an expiry: the first wins); a
// person's pending requests leave out the expired and the decided; the
// sweep's due list holds the pending past their expiry and the approved
// past their validity, and nothing closed.
func consentRequests(t *testing.T, s store.Store) {
	mk := func(id, subject, purpose string, created time.Time) *consent.Request {
		return &consent.Request{ID: id, Subject: subject, Operator: "op_1", Role: "hr-officer", Unit: "u1", Purpose: purpose,
			Reason: "ticket 7", Fields: []string{"given_name", "health_note"}, Status: consent.StatusPending, Created: created, Expires: created.Add(72 * time.Hour)}
	}
	r1, r2 := mk("cns_1", "sub_1", "oh", t0), mk("cns_2", "sub_1", "oh", t0.Add(time.Hour))
	r3, r4 := mk("cns_3", "sub_1", "other", t0.Add(2*time.Hour)), mk("cns_4", "sub_2", "oh", t0.Add(3*time.Hour))
	r4.Fields = nil
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, r := range []*consent.Request{r1, r2, r3, r4} {
			if err := tx.PutConsent(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.PutConsent(ctx, mk("cns_1", "sub_9", "oh", t0))
	}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a second request cns_1: %v, want ErrConflict", err)
	}
	for _, want := range []*consent.Request{r1, r4} {
		got, err := getConsent(t, s, want.ID)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("GetConsent(%s) = %+v, %v; want %+v", want.ID, got, err, want)
		}
	}
	if _, err := getConsent(t, s, "cns_none"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetConsent(cns_none): %v, want ErrNotFound", err)
	}
	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		for _, tt := range []struct{ op, subject, purpose, want string }{
			{"op_1", "sub_1", "oh", "cns_2"}, {"op_1", "sub_1", "other", "cns_3"}, {"op_1", "sub_2", "oh", "cns_4"},
			{"op_2", "sub_1", "oh", ""}, {"op_1", "sub_3", "oh", ""},
		} {
			got, err := tx.LatestConsent(ctx, tt.op, tt.subject, tt.purpose)
			if tt.want == "" && !errors.Is(err, store.ErrNotFound) || tt.want != "" && (err != nil || got.ID != tt.want) {
				t.Errorf("LatestConsent(%s, %s, %s) = %+v, %v; want %q", tt.op, tt.subject, tt.purpose, got, err, tt.want)
			}
		}
		return nil
	})

	// r2 approved: a second decision, and a use from pending, conflict.
	approved := *r2
	approved.Status, approved.Decided, approved.ValidUntil = consent.StatusApproved, t0.Add(2*time.Hour), t0.Add(26*time.Hour)
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateConsent(ctx, &approved, consent.StatusPending)
	})
	denied := *r2
	denied.Status, denied.Decided = consent.StatusDenied, t0.Add(3*time.Hour)
	for _, tt := range []struct {
		r    *consent.Request
		from string
		want error
	}{
		{&denied, consent.StatusPending, store.ErrConflict},
		{&consent.Request{ID: "cns_none", Status: consent.StatusDenied}, consent.StatusPending, store.ErrNotFound},
	} {
		if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.UpdateConsent(ctx, tt.r, tt.from) }); !errors.Is(err, tt.want) {
			t.Errorf("UpdateConsent(%s to %s from %s): %v, want %v", tt.r.ID, tt.r.Status, tt.from, err, tt.want)
		}
	}
	if got, err := getConsent(t, s, r2.ID); err != nil || !reflect.DeepEqual(got, &approved) {
		t.Fatalf("after the approval: %+v, %v; want %+v", got, err, &approved)
	}
	denied = *r3
	denied.Status, denied.Decided = consent.StatusDenied, t0.Add(3*time.Hour)
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateConsent(ctx, &denied, consent.StatusPending)
	})

	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		for _, tt := range []struct {
			subject string
			now     time.Time
			limit   int
			want    []string
		}{
			{"sub_1", t0.Add(4 * time.Hour), 10, []string{"cns_1"}}, // cns_2 approved, cns_3 denied
			{"sub_1", r1.Expires, 10, []string{}},                   // expired at its end
			{"sub_2", t0.Add(4 * time.Hour), 10, []string{"cns_4"}},
			{"sub_2", t0.Add(4 * time.Hour), 0, []string{}},
			{"sub_3", t0, 10, []string{}},
		} {
			got, err := tx.PendingConsents(ctx, tt.subject, tt.now, tt.limit)
			if err != nil || !slices.Equal(ids(got, func(r consent.Request) string { return r.ID }), tt.want) {
				t.Errorf("PendingConsents(%s, %s, %d) = %v, %v; want %v", tt.subject, tt.now, tt.limit, ids(got, func(r consent.Request) string { return r.ID }), err, tt.want)
			}
		}
		for _, tt := range []struct {
			now   time.Time
			limit int
			want  []string
		}{
			{t0.Add(time.Hour), 10, []string{}},
			{approved.ValidUntil, 10, []string{"cns_2"}},
			{r1.Expires, 10, []string{"cns_2", "cns_1"}},
			{r4.Expires, 10, []string{"cns_2", "cns_1", "cns_4"}}, // never cns_3, denied
			{r4.Expires, 2, []string{"cns_2", "cns_1"}},
		} {
			got, err := tx.DueConsents(ctx, tt.now, tt.limit)
			if err != nil || !slices.Equal(ids(got, func(r consent.Request) string { return r.ID }), tt.want) {
				t.Errorf("DueConsents(%s, %d) = %v, %v; want %v", tt.now, tt.limit, ids(got, func(r consent.Request) string { return r.ID }), err, tt.want)
			}
		}
		return nil
	})
	// Used: closed, and due no more.
	used := approved
	used.Status, used.Closed = consent.StatusUsed, t0.Add(5*time.Hour)
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateConsent(ctx, &used, consent.StatusApproved)
	})
	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		if got, err := tx.DueConsents(ctx, r4.Expires, 10); err != nil || slices.Contains(ids(got, func(r consent.Request) string { return r.ID }), "cns_2") {
			t.Errorf("DueConsents after the use = %v, %v; want without cns_2", ids(got, func(r consent.Request) string { return r.ID }), err)
		}
		return nil
	})
}

func getChange(t *testing.T, s store.Store, id string) (*contact.Change, error) {
	t.Helper()
	var got *contact.Change
	err := s.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
		got, err = tx.GetContactChange(ctx, id)
		return err
	})
	return got, err
}

// contactChanges: a change reads back as stored; a person has one pending
// change at most; the due list holds the pending changes past their
// date; closing one moves it from the status named only and drops its new
// values (the old ones stay until ForgetContactValues, after the delay);
// a closed change makes room for another.
func contactChanges(t *testing.T, s store.Store) {
	mk := func(id, subject string, effective time.Time) *contact.Change {
		return &contact.Change{ID: id, Subject: subject, Operator: "op_1", Role: "caseworker", Unit: "u1", Fields: []string{"email_pro", "phone"},
			New: []byte("sealed new " + id), Old: []byte("sealed old " + id), Status: contact.StatusPending, Created: t0, Effective: effective}
	}
	c1, c2 := mk("chg_1", "sub_1", t0.Add(72*time.Hour)), mk("chg_2", "sub_2", t0.Add(24*time.Hour))
	c2.Old = nil // a field the record lacked
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.PutContactChange(ctx, c1); err != nil {
			return err
		}
		return tx.PutContactChange(ctx, c2)
	})
	for _, c := range []*contact.Change{mk("chg_3", "sub_1", t0), mk("chg_1", "sub_3", t0)} {
		if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.PutContactChange(ctx, c) }); !errors.Is(err, store.ErrConflict) {
			t.Errorf("PutContactChange(%s of %s): %v, want ErrConflict (a pending change of the person, or the id, exists)", c.ID, c.Subject, err)
		}
	}
	for _, want := range []*contact.Change{c1, c2} {
		if got, err := getChange(t, s, want.ID); err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("GetContactChange(%s) = %+v, %v; want %+v", want.ID, got, err, want)
		}
	}
	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		if got, err := tx.PendingContactChange(ctx, "sub_1"); err != nil || got.ID != "chg_1" {
			t.Errorf("PendingContactChange(sub_1) = %+v, %v; want chg_1", got, err)
		}
		if _, err := tx.PendingContactChange(ctx, "sub_3"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("PendingContactChange(sub_3): %v, want ErrNotFound", err)
		}
		if _, err := tx.GetContactChange(ctx, "chg_none"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetContactChange(chg_none): %v, want ErrNotFound", err)
		}
		for _, tt := range []struct {
			now   time.Time
			limit int
			want  []string
		}{
			{t0, 10, []string{}},
			{c2.Effective, 10, []string{"chg_2"}},
			{c1.Effective, 10, []string{"chg_2", "chg_1"}},
			{c1.Effective, 1, []string{"chg_2"}},
		} {
			got, err := tx.DueContactChanges(ctx, tt.now, tt.limit)
			if err != nil || !slices.Equal(ids(got, func(c contact.Change) string { return c.ID }), tt.want) {
				t.Errorf("DueContactChanges(%s, %d) = %v, %v; want %v", tt.now, tt.limit, ids(got, func(c contact.Change) string { return c.ID }), err, tt.want)
			}
		}
		return nil
	})

	closed := t0.Add(72 * time.Hour)
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.CloseContactChange(ctx, "chg_1", contact.StatusPending, contact.StatusApplied, closed)
	})
	for _, tt := range []struct {
		id, from string
		want     error
	}{
		{"chg_1", contact.StatusPending, store.ErrConflict},
		{"chg_none", contact.StatusPending, store.ErrNotFound},
	} {
		err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			return tx.CloseContactChange(ctx, tt.id, tt.from, contact.StatusCancelled, closed)
		})
		if !errors.Is(err, tt.want) {
			t.Errorf("CloseContactChange(%s from %s): %v, want %v", tt.id, tt.from, err, tt.want)
		}
	}
	want := *c1
	want.Status, want.Closed, want.New = contact.StatusApplied, closed, nil
	if got, err := getChange(t, s, "chg_1"); err != nil || !reflect.DeepEqual(got, &want) {
		t.Fatalf("after the close: %+v, %v; want %+v", got, err, &want)
	}
	// Room for a new pending change of sub_1.
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.PutContactChange(ctx, mk("chg_3", "sub_1", t0.Add(100*time.Hour)))
	})

	// The old values go after the delay, and only for closed changes.
	var n1, n2 int
	update(t, s, func(ctx context.Context, tx store.Tx) (err error) {
		if n1, err = tx.ForgetContactValues(ctx, closed, 10); err != nil {
			return err
		}
		n2, err = tx.ForgetContactValues(ctx, closed.Add(time.Microsecond), 10)
		return err
	})
	if n1 != 0 || n2 != 1 {
		t.Errorf("ForgetContactValues at the close, just after = %d, %d; want 0, 1", n1, n2)
	}
	if got, _ := getChange(t, s, "chg_1"); got.Old != nil {
		t.Errorf("chg_1's old values after ForgetContactValues: %q, want none", got.Old)
	}
	if got, _ := getChange(t, s, "chg_3"); got.Old == nil || got.New == nil {
		t.Errorf("pending chg_3 lost its values: %+v", got)
	}
}
