package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/store"
)

// caseloads checks the assignments of subjects to operators: an end
// (until) that counts at the access time, a new end replacing the old,
// removal, pruning to a kept set, counts, and a rolled-back assignment.
func caseloads(t *testing.T, s store.Store) {
	later, end := t0.Add(time.Hour), t0.Add(2*time.Hour)
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.AssignCaseload(ctx, "op_1", []string{"sub_a", "sub_b", "sub_a"}, end); err != nil {
			return err
		}
		if err := tx.AssignCaseload(ctx, "op_1", []string{"sub_c"}, time.Time{}); err != nil {
			return err
		}
		return tx.AssignCaseload(ctx, "op_2", []string{"sub_a", "sub_d"}, later)
	})
	check := func(what string, op string, at time.Time, want map[string]bool, count int) {
		t.Helper()
		s.View(ctx, func(ctx context.Context, tx store.Tx) error {
			for sub, w := range want {
				if in, err := tx.InCaseload(ctx, op, sub, at); err != nil || in != w {
					t.Errorf("%s: InCaseload(%s, %s, %s) = %v, %v; want %v", what, op, sub, at.Format(time.Kitchen), in, err, w)
				}
			}
			if n, err := tx.CountCaseload(ctx, op, at); err != nil || n != count {
				t.Errorf("%s: CountCaseload(%s, %s) = %d, %v; want %d", what, op, at.Format(time.Kitchen), n, err, count)
			}
			return nil
		})
	}
	check("assigned", "op_1", t0, map[string]bool{"sub_a": true, "sub_b": true, "sub_c": true, "sub_d": false}, 3)
	check("assigned", "op_2", t0, map[string]bool{"sub_a": true, "sub_b": false, "sub_d": true}, 2)
	// At the end the assignment no longer counts; one without an end does.
	check("at the end", "op_1", end, map[string]bool{"sub_a": false, "sub_b": false, "sub_c": true}, 1)
	check("at the end", "op_2", later, map[string]bool{"sub_a": false, "sub_d": false}, 0)
	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		if u, err := tx.CaseloadUntil(ctx, "op_1", "sub_a"); err != nil || !u.Equal(end) {
			t.Errorf("CaseloadUntil(sub_a) = %v, %v; want %v", u, err, end)
		}
		if u, err := tx.CaseloadUntil(ctx, "op_1", "sub_c"); err != nil || !u.IsZero() {
			t.Errorf("CaseloadUntil(sub_c) = %v, %v; want the zero time (no end)", u, err)
		}
		if _, err := tx.CaseloadUntil(ctx, "op_1", "sub_d"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("CaseloadUntil of no assignment: %v, want ErrNotFound", err)
		}
		return nil
	})

	// A new end replaces the old, later or earlier; an expired assignment
	// assigned again counts again.
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.AssignCaseload(ctx, "op_1", []string{"sub_a"}, end.Add(time.Hour)); err != nil {
			return err
		}
		if err := tx.AssignCaseload(ctx, "op_1", []string{"sub_c"}, later); err != nil {
			return err
		}
		return tx.AssignCaseload(ctx, "op_2", []string{"sub_d", "sub_d"}, end)
	})
	check("moved", "op_1", end, map[string]bool{"sub_a": true, "sub_b": false, "sub_c": false}, 1)
	check("moved", "op_2", later, map[string]bool{"sub_a": false, "sub_d": true}, 1)

	// Removal counts the rows it removed, expired ones too; another
	// operator's stay.
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		n, err := tx.RemoveCaseload(ctx, "op_1", []string{"sub_b", "sub_x", "sub_b"})
		if err != nil || n != 1 {
			t.Errorf("RemoveCaseload = %d, %v; want 1", n, err)
		}
		if n, err := tx.RemoveCaseload(ctx, "op_1", nil); err != nil || n != 0 {
			t.Errorf("RemoveCaseload(nil) = %d, %v; want 0", n, err)
		}
		return err
	})
	check("removed", "op_1", t0, map[string]bool{"sub_a": true, "sub_b": false, "sub_c": true}, 2)
	check("removed", "op_2", t0, map[string]bool{"sub_a": true, "sub_d": true}, 2)

	// Pruning keeps the listed subjects only, of that operator only.
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		n, err := tx.PruneCaseload(ctx, "op_1", []string{"sub_c", "sub_zz"})
		if err != nil || n != 1 {
			t.Errorf("PruneCaseload = %d, %v; want 1", n, err)
		}
		return err
	})
	check("pruned", "op_1", t0, map[string]bool{"sub_a": false, "sub_c": true}, 1)
	check("pruned", "op_2", t0, map[string]bool{"sub_a": true, "sub_d": true}, 2)
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		n, err := tx.PruneCaseload(ctx, "op_2", nil)
		if err != nil || n != 2 {
			t.Errorf("PruneCaseload(nil) = %d, %v; want 2", n, err)
		}
		return err
	})
	check("emptied", "op_2", t0, map[string]bool{"sub_a": false, "sub_d": false}, 0)

	// A failed transaction assigns nothing.
	boom := errors.New("boom")
	err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tx.AssignCaseload(ctx, "op_3", []string{"sub_a"}, time.Time{}); err != nil {
			return err
		}
		if _, err := tx.PruneCaseload(ctx, "op_1", nil); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want boom", err)
	}
	check("rolled back", "op_3", t0, map[string]bool{"sub_a": false}, 0)
	check("rolled back", "op_1", t0, map[string]bool{"sub_c": true}, 1)
}
