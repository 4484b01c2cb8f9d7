package storetest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/rights"
	"github.com/coffre/coffre/internal/store"
)

// rightsRequests checks the persons' requests and the limits on their
// records: a request round-trips (sealed texts as bytes, times, fields);
// an id is taken once; a subject's requests newest first; the queue holds
// pending requests only, earliest due first, paged by (due, id); a
// decision writes over the version it read, once; the sealed addresses
// of requests decided before a time are dropped; a limit is added once,
// read by subject in kind and target order, removed once, and all of a
// subject's cleared.
func rightsRequests(t *testing.T, s store.Store) {
	day := 24 * time.Hour
	mk := func(id, subject string, filed time.Time) *rights.Request {
		return &rights.Request{ID: id, Subject: subject, Kind: rights.Rectification, Fields: []string{"address", "phone"}, Text: []byte("sealed-" + id),
			Status: rights.Pending, Filed: filed, Due: filed.Add(30 * day)}
	}
	reqs := []*rights.Request{
		mk("req_a", "sub_1", t0), mk("req_b", "sub_1", t0.Add(day)), mk("req_c", "sub_2", t0.Add(day)), mk("req_d", "sub_2", t0.Add(3*day)),
	}
	reqs[2].Fields, reqs[2].Text, reqs[2].Kind = nil, nil, rights.Erasure
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, r := range reqs {
			if err := tx.PutRequest(ctx, r); err != nil {
				return err
			}
			if r.Version != 1 {
				t.Errorf("a new request's version = %d, want 1", r.Version)
			}
		}
		return nil
	})
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.PutRequest(ctx, mk("req_a", "sub_9", t0)) }); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a second request req_a: %v, want ErrConflict", err)
	}
	get := func(id string) (*rights.Request, error) {
		var r *rights.Request
		err := s.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
			r, err = tx.GetRequest(ctx, id)
			return err
		})
		return r, err
	}
	same := func(got, want *rights.Request) bool {
		return got.ID == want.ID && got.Subject == want.Subject && got.Kind == want.Kind && slices.Equal(got.Fields, want.Fields) &&
			bytes.Equal(got.Text, want.Text) && got.Status == want.Status && got.Filed.Equal(want.Filed) && got.Due.Equal(want.Due) &&
			got.Extended.Equal(want.Extended) && bytes.Equal(got.ExtendReason, want.ExtendReason) && got.Decided.Equal(want.Decided) &&
			got.DecidedBy == want.DecidedBy && bytes.Equal(got.Answer, want.Answer) && got.Lifted.Equal(want.Lifted) &&
			bytes.Equal(got.Courier, want.Courier) && got.Version == want.Version
	}
	for _, want := range reqs {
		if got, err := get(want.ID); err != nil || !same(got, want) {
			t.Errorf("GetRequest(%s) = %+v, %v; want %+v", want.ID, got, err, want)
		}
	}
	if _, err := get("req_none"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetRequest(req_none): %v, want ErrNotFound", err)
	}
	ids := func(rs []rights.Request) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	view := func(fn func(context.Context, store.Tx) ([]rights.Request, error)) []string {
		t.Helper()
		var rs []rights.Request
		if err := s.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
			rs, err = fn(ctx, tx)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return ids(rs)
	}
	if got := view(func(ctx context.Context, tx store.Tx) ([]rights.Request, error) {
		return tx.SubjectRequests(ctx, "sub_1")
	}); !slices.Equal(got, []string{"req_b", "req_a"}) {
		t.Errorf("SubjectRequests(sub_1) = %v, want req_b, req_a (newest first)", got)
	}
	if got := view(func(ctx context.Context, tx store.Tx) ([]rights.Request, error) {
		return tx.SubjectRequests(ctx, "sub_none")
	}); len(got) != 0 {
		t.Errorf("SubjectRequests(sub_none) = %v, want none", got)
	}

	// A decision: accepted, with an answer and a courier; a second one
	// over the same version loses.
	dec := *reqs[2]
	dec.Status, dec.Decided, dec.DecidedBy, dec.Answer, dec.Courier = rights.Accepted, t0.Add(2*day), "op_dpo", []byte("sealed answer"), []byte("sealed address")
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.UpdateRequest(ctx, &dec) })
	if dec.Version != 2 {
		t.Errorf("version after a decision = %d, want 2", dec.Version)
	}
	if got, err := get("req_c"); err != nil || !same(got, &dec) {
		t.Errorf("decided request = %+v, %v; want %+v", got, err, dec)
	}
	late := *reqs[2] // read at version 1
	late.Status = rights.Refused
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.UpdateRequest(ctx, &late) }); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a decision over a stale version: %v, want ErrConflict", err)
	}
	none := rights.Request{ID: "req_none", Status: rights.Accepted, Version: 1}
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.UpdateRequest(ctx, &none) }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a decision on no request: %v, want ErrNotFound", err)
	}
	ext := *reqs[3]
	ext.Extended, ext.ExtendReason, ext.Due = t0.Add(4*day), []byte("sealed reason"), t0.Add(90*day)
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.UpdateRequest(ctx, &ext) })

	// The queue: pending only (req_c is decided), by due then id, paged.
	open := func(after time.Time, id string, limit int) []string {
		return view(func(ctx context.Context, tx store.Tx) ([]rights.Request, error) {
			return tx.OpenRequests(ctx, after, id, limit)
		})
	}
	if got := open(time.Time{}, "", 10); !slices.Equal(got, []string{"req_a", "req_b", "req_d"}) {
		t.Errorf("OpenRequests = %v, want req_a, req_b, req_d", got)
	}
	if got := open(time.Time{}, "", 2); !slices.Equal(got, []string{"req_a", "req_b"}) {
		t.Errorf("OpenRequests limit 2 = %v, want req_a, req_b", got)
	}
	if got := open(reqs[1].Due, "req_b", 10); !slices.Equal(got, []string{"req_d"}) {
		t.Errorf("OpenRequests after req_b = %v, want req_d", got)
	}
	// Two requests due at the same time are ordered by id.
	twin := mk("req_a2", "sub_3", t0)
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutRequest(ctx, twin) })
	if got := open(reqs[0].Due, "req_a", 10); !slices.Equal(got, []string{"req_a2", "req_b", "req_d"}) {
		t.Errorf("OpenRequests after req_a = %v, want req_a2, req_b, req_d", got)
	}

	// Couriers of requests decided before a time are dropped.
	var n int
	update(t, s, func(ctx context.Context, tx store.Tx) (err error) {
		n, err = tx.ForgetCouriers(ctx, t0.Add(2*day))
		return err
	})
	if got, _ := get("req_c"); n != 0 || got.Courier == nil {
		t.Errorf("ForgetCouriers before the decision dropped %d, courier %q; want none dropped", n, got.Courier)
	}
	update(t, s, func(ctx context.Context, tx store.Tx) (err error) {
		n, err = tx.ForgetCouriers(ctx, t0.Add(2*day+time.Microsecond))
		return err
	})
	if got, _ := get("req_c"); n != 1 || got.Courier != nil || !bytes.Equal(got.Answer, dec.Answer) {
		t.Errorf("ForgetCouriers after the decision dropped %d, courier %q, answer %q; want 1 dropped, the answer kept", n, got.Courier, got.Answer)
	}

	// Limits.
	ls := []rights.Limit{
		{Subject: "sub_1", Kind: rights.LimitUnit, Target: "u2", Created: t0},
		{Subject: "sub_1", Kind: rights.LimitPartner, Target: "op_p", Created: t0.Add(time.Hour)},
		{Subject: "sub_1", Kind: rights.LimitRestricted, Target: "req_a", Created: t0.Add(2 * time.Hour)},
		{Subject: "sub_2", Kind: rights.LimitUnit, Target: "u2", Created: t0},
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, l := range ls {
			if err := tx.PutLimit(ctx, l); err != nil {
				return err
			}
		}
		return nil
	})
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.PutLimit(ctx, ls[0]) }); !errors.Is(err, store.ErrConflict) {
		t.Errorf("the same limit twice: %v, want ErrConflict", err)
	}
	limits := func(subject string) []rights.Limit {
		t.Helper()
		var out []rights.Limit
		if err := s.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
			out, err = tx.Limits(ctx, subject)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got := limits("sub_1"); len(got) != 3 || got[0] != ls[1] || got[1] != ls[2] || got[2] != ls[0] {
		t.Errorf("Limits(sub_1) = %+v, want partner, restricted, unit", got)
	}
	if got := limits("sub_none"); len(got) != 0 {
		t.Errorf("Limits(sub_none) = %+v, want none", got)
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteLimit(ctx, ls[1]) })
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.DeleteLimit(ctx, ls[1]) }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("removing a limit twice: %v, want ErrNotFound", err)
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.ClearLimits(ctx, "sub_1") })
	if got := limits("sub_1"); len(got) != 0 {
		t.Errorf("Limits after ClearLimits = %+v, want none", got)
	}
	if got := limits("sub_2"); len(got) != 1 {
		t.Errorf("ClearLimits(sub_1) touched sub_2: %+v", got)
	}
}
