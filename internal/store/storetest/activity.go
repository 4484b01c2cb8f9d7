package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/subject"
)

// subjectActivity checks the record's activity: none at first; a touch
// sets the day, an earlier day changes nothing, a later one moves it on;
// LiveSubjects returns the events a retention rule counts from (created,
// updated, active) and the canary flag; an erased record is not touched.
func subjectActivity(t *testing.T, s store.Store) {
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, id := range []string{"sub_1", "sub_2"} {
			if err := tx.PutSubject(ctx, newRow(id)); err != nil {
				return err
			}
		}
		return nil
	})
	day := func(n int) time.Time { return t0.Truncate(24*time.Hour).AddDate(0, 0, n) }
	active := func(id string) time.Time {
		t.Helper()
		r, err := getSubject(t, s, id)
		if err != nil {
			t.Fatal(err)
		}
		return r.Active
	}
	if a := active("sub_1"); !a.IsZero() {
		t.Fatalf("new record: Active %v, want zero", a)
	}
	for _, tc := range []struct {
		touch, want time.Time
	}{{day(3), day(3)}, {day(1), day(3)}, {day(5), day(5)}} {
		update(t, s, func(ctx context.Context, tx store.Tx) error {
			return tx.TouchSubjects(ctx, []subject.Touch{{ID: "sub_1", Day: tc.touch}})
		})
		if a := active("sub_1"); !a.Equal(tc.want) {
			t.Errorf("touched on %v: Active %v, want %v", tc.touch, a, tc.want)
		}
	}
	if a := active("sub_2"); !a.IsZero() {
		t.Errorf("untouched record: Active %v, want zero", a)
	}
	var rows []*subject.Row
	if err := s.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
		rows, err = tx.LiveSubjects(ctx, 0, 10)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].ID != "sub_1" || !rows[0].Active.Equal(day(5)) || !rows[0].Created.Equal(t0) || !rows[0].Updated.Equal(t0) || !rows[1].Active.IsZero() {
		t.Errorf("LiveSubjects: %+v, want sub_1 (active %v, created and updated %v) and sub_2", rows, day(5), t0)
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.EraseSubject(ctx, "sub_2", t0); err != nil {
			return err
		}
		return tx.TouchSubjects(ctx, []subject.Touch{{ID: "sub_2", Day: day(9)}})
	})
	if a := active("sub_2"); !a.IsZero() {
		t.Errorf("erased record touched: Active %v, want zero", a)
	}
	// Several at once, as the integrator writes them: each its own day,
	// an earlier one ignored, an erased or unknown subject skipped, the
	// rest written.
	ids := newIDs(t, s, 2)
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, id := range append(ids, "sub_3") {
			if err := tx.PutSubject(ctx, newRow(id)); err != nil {
				return err
			}
		}
		return nil
	})
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.TouchSubjects(ctx, []subject.Touch{{ID: "sub_1", Day: day(4)}, {ID: ids[0], Day: day(6)}, {ID: "sub_2", Day: day(7)},
			{ID: "sub_nobody", Day: day(7)}, {ID: ids[1], Day: day(8)}, {ID: "sub_3", Day: day(2)}})
	})
	for id, want := range map[string]time.Time{"sub_1": day(5), ids[0]: day(6), "sub_2": {}, ids[1]: day(8), "sub_3": day(2)} {
		if a := active(id); !a.Equal(want) {
			t.Errorf("touched together: %s Active %v, want %v", id, a, want)
		}
	}
}

// activityMark checks the activity mark: 0 on a new store; it moves only
// from where it is, so that of two integrators recording the same entries
// one moves it and the other learns it was overtaken.
func activityMark(t *testing.T, s store.Store) {
	mark := func() int64 {
		t.Helper()
		var m int64
		if err := s.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
			m, err = tx.ActivityMark(ctx)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return m
	}
	if m := mark(); m != 0 {
		t.Fatalf("new store: activity mark %d, want 0", m)
	}
	for _, tc := range []struct {
		from, to int64
		moved    bool
		want     int64
	}{{0, 5, true, 5}, {0, 7, false, 5}, {5, 9, true, 9}, {5, 12, false, 9}} {
		var moved bool
		update(t, s, func(ctx context.Context, tx store.Tx) (err error) {
			moved, err = tx.MoveActivityMark(ctx, tc.from, tc.to)
			return err
		})
		if m := mark(); moved != tc.moved || m != tc.want {
			t.Errorf("move %d → %d: moved %v, mark %d; want %v, %d", tc.from, tc.to, moved, m, tc.moved, tc.want)
		}
	}
}
