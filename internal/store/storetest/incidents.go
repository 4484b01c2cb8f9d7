package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/incident"
	"github.com/coffre/coffre/internal/store"
)

// incidents checks the breach register: an incident round-trips (scope,
// dates, impact counts) at version 1; an id is taken once; a change writes
// over the version it read, once; the register lists every incident,
// oldest first; a timeline numbers its events 1, 2, 3… per incident, also
// when appended concurrently, and refuses an unknown incident.
func incidents(t *testing.T, s store.Store) {
	mk := func(id string, opened time.Time) *incident.Incident {
		return &incident.Incident{ID: id, Title: "scrape " + id, Status: incident.Open, Nature: []string{incident.Confidentiality},
			Aware: opened.Add(-time.Hour), Opened: opened, OpenedBy: "op_1",
			Scope: incident.Scope{Operators: []string{"op_7"}, Origins: []string{"203.0.113.0/24"}, From: opened.Add(-48 * time.Hour)}}
	}
	a, b := mk("inc_aaaaaaaaaaaaaaaa", t0.Add(time.Hour)), mk("inc_bbbbbbbbbbbbbbbb", t0)
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, i := range []*incident.Incident{a, b} {
			if err := tx.PutIncident(ctx, i); err != nil {
				return err
			}
		}
		return nil
	})
	if a.Version != 1 {
		t.Errorf("a new incident's version = %d, want 1", a.Version)
	}
	err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.PutIncident(ctx, mk(a.ID, t0)) })
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("second PutIncident of one id: %v, want ErrConflict", err)
	}
	var got *incident.Incident
	view(t, s, func(ctx context.Context, tx store.Tx) (err error) { got, err = tx.GetIncident(ctx, a.ID); return err })
	if got.Title != a.Title || !got.Aware.Equal(a.Aware) || !got.Scope.From.Equal(a.Scope.From) || got.Scope.Origins[0] != "203.0.113.0/24" || got.Version != 1 {
		t.Errorf("GetIncident = %+v, want %+v", got, a)
	}

	// A change over the version read, then a stale one.
	got.Status = incident.Contained
	got.Impact = &incident.Impact{Subjects: 12, Records: 30, Fields: map[string]incident.FieldCount{"email_pro": {Subjects: 12, Clear: 12}}}
	stale := *got
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.UpdateIncident(ctx, got) })
	if got.Version != 2 {
		t.Errorf("version after a change = %d, want 2", got.Version)
	}
	err = s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.UpdateIncident(ctx, &stale) })
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("a change over a stale version: %v, want ErrConflict", err)
	}
	missing := *mk("inc_cccccccccccccccc", t0)
	err = s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.UpdateIncident(ctx, &missing) })
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a change of an unknown incident: %v, want ErrNotFound", err)
	}

	var all []incident.Incident
	view(t, s, func(ctx context.Context, tx store.Tx) (err error) { all, err = tx.Incidents(ctx); return err })
	if len(all) != 2 || all[0].ID != b.ID || all[1].ID != a.ID || all[1].Status != incident.Contained || all[1].Impact.Fields["email_pro"].Clear != 12 {
		t.Errorf("Incidents = %+v, want b then a (contained, with its impact)", all)
	}

	// Timelines: numbered per incident, concurrent appends included.
	var wg sync.WaitGroup
	for k := range 8 {
		wg.Go(func() {
			id := a.ID
			if k%2 == 1 {
				id = b.ID
			}
			e := &incident.Event{Incident: id, At: t0.Add(time.Duration(k) * time.Minute), Actor: "op_1", Kind: "seal", Detail: "sealed", Audit: int64(k + 1)}
			if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.AppendEvent(ctx, e) }); err != nil {
				t.Errorf("AppendEvent: %v", err)
			}
		})
	}
	wg.Wait()
	for _, id := range []string{a.ID, b.ID} {
		var es []incident.Event
		view(t, s, func(ctx context.Context, tx store.Tx) (err error) { es, err = tx.Events(ctx, id); return err })
		if len(es) != 4 {
			t.Fatalf("%s: %d events, want 4", id, len(es))
		}
		for k, e := range es {
			if e.Seq != k+1 || e.Incident != id || e.Kind != "seal" || e.Audit == 0 || e.At.IsZero() {
				t.Errorf("%s: event %d = %+v, want seq %d", id, k, e, k+1)
			}
		}
	}
	err = s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.AppendEvent(ctx, &incident.Event{Incident: "inc_cccccccccccccccc", At: t0, Actor: "op_1", Kind: "seal"})
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an event of an unknown incident: %v, want ErrNotFound", err)
	}
}

func view(t *testing.T, s store.Store, fn func(context.Context, store.Tx) error) {
	t.Helper()
	if err := s.View(ctx, fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}
