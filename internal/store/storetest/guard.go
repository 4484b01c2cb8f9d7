package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/store"
)

// guards checks the guard's tables: state, caseloads, canaries, locks
// (seen by GetSession), alerts and extensions.
func guards(t *testing.T, s store.Store) {
	o := &identity.Operator{ID: "op_1", Username: "alice", PasswordHash: "h", Role: "caseworker", Unit: "u1", Created: t0}
	ses := &identity.Session{Hash: []byte("h1"), Kind: identity.KindSession, Operator: "op_1", Created: t0, LastSeen: t0, Expires: t0.Add(time.Hour)}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.PutOperator(ctx, o); err != nil {
			return err
		}
		if err := tx.PutSubject(ctx, newRow("sub_c")); err != nil {
			return err
		}
		if err := tx.PutSubject(ctx, newRow("sub_a")); err != nil {
			return err
		}
		return tx.PutSession(ctx, ses)
	})
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if st, err := tx.GetGuard(ctx, "op_1"); err != nil || !reflect.DeepEqual(st, guard.State{}) {
			t.Errorf("GetGuard before any = %+v, %v; want the zero state", st, err)
		}
		if err := tx.PutGuard(ctx, "op_1", marked(1, 2)); err != nil {
			return err
		}
		if err := tx.PutGuard(ctx, "op_1", marked(1, 3)); err != nil {
			return err
		}
		if err := tx.AssignCaseload(ctx, "op_1", []string{"sub_a", "sub_b", "sub_a"}, time.Time{}); err != nil {
			return err
		}
		if err := tx.PutCanary(ctx, "sub_c", "partner-x", t0); err != nil {
			return err
		}
		if err := tx.PutCanary(ctx, "sub_c", "", t0); !errors.Is(err, store.ErrConflict) {
			t.Errorf("duplicate canary: %v, want ErrConflict", err)
		}
		if err := tx.PutCanary(ctx, "sub_zz", "", t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("canary of a missing subject: %v, want ErrNotFound", err)
		}
		if err := tx.LockOperator(ctx, "op_1", "velocity", t0); err != nil {
			return err
		}
		if err := tx.LockOperator(ctx, "op_9", "velocity", t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("lock of a missing operator: %v, want ErrNotFound", err)
		}
		for _, code := range []string{"velocity", "canary"} {
			if err := tx.PutAlert(ctx, &guard.Alert{Time: t0, Operator: "op_1", Code: code, Severity: "high", Action: "lock", Evidence: []int64{3, 4}}); err != nil {
				return err
			}
		}
		for _, ev := range [][]int64{{9}, {2, 7}, {}} {
			if err := tx.PutAlert(ctx, &guard.Alert{Time: t0, Operator: "op_1", Code: "new_origin", Severity: "warning", Action: "alert", Evidence: ev}); err != nil {
				return err
			}
		}
		return tx.PutOutbox(ctx, "alert", []byte(`{}`), t0)
	})
	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		if st, err := tx.GetGuard(ctx, "op_1"); err != nil || !reflect.DeepEqual(st, marked(1, 3)) {
			t.Errorf("GetGuard = %+v, %v; want the last state", st, err)
		}
		for sub, want := range map[string]bool{"sub_a": true, "sub_b": true, "sub_c": false} {
			if in, err := tx.InCaseload(ctx, "op_1", sub, t0); err != nil || in != want {
				t.Errorf("InCaseload(%s) = %v, %v", sub, in, err)
			}
		}
		if in, _ := tx.InCaseload(ctx, "op_2", "sub_a", t0); in {
			t.Error("caseload leaks to another operator")
		}
		if p, err := tx.GetCanary(ctx, "sub_c"); err != nil || p != "partner-x" {
			t.Errorf("GetCanary = %q, %v", p, err)
		}
		if _, err := tx.GetCanary(ctx, "sub_a"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetCanary of a real subject: %v, want ErrNotFound", err)
		}
		for id, want := range map[string]bool{"sub_a": false, "sub_c": true} {
			if r, err := tx.GetSubject(ctx, id); err != nil || r.Canary != want {
				t.Errorf("GetSubject(%s).Canary = %v, %v; want %v", id, r.Canary, err, want)
			}
		}
		op, err := tx.GetOperator(ctx, "op_1")
		if err != nil || op.Locked != "velocity" || !op.LockedAt.Equal(t0) {
			t.Errorf("locked operator = %+v, %v", op, err)
		}
		got, err := tx.GetSession(ctx, []byte("h1"))
		if err != nil || got.Locked != "velocity" {
			t.Errorf("session of a locked operator = %+v, %v", got, err)
		}
		al, err := tx.Alerts(ctx, 0, 2)
		if err != nil || len(al) != 2 || al[0].Code != "velocity" || al[1].Code != "canary" || !slices.Equal(al[0].Evidence, []int64{3, 4}) || !al[0].Time.Equal(t0) || al[0].ID >= al[1].ID {
			t.Errorf("Alerts = %+v, %v", al, err)
		}
		if al, _ := tx.Alerts(ctx, al[0].ID, 1); len(al) != 1 || al[0].Code != "canary" {
			t.Errorf("Alerts after the first = %+v", al)
		}
		// Raised with entries 4, 4, 9, 7 and none: 4 to 8 holds the first
		// two (by id), then that of 7.
		seqd, err := tx.SequencedAlerts(ctx, 4, 9)
		if err != nil || len(seqd) != 3 || seqd[0].Code != "velocity" || seqd[1].Code != "canary" || !slices.Equal(seqd[2].Evidence, []int64{2, 7}) {
			t.Errorf("SequencedAlerts(4, 9) = %+v, %v", seqd, err)
		}
		if seqd, err := tx.SequencedAlerts(ctx, 9, 10); err != nil || len(seqd) != 1 || seqd[0].Seq() != 9 {
			t.Errorf("SequencedAlerts(9, 10) = %+v, %v", seqd, err)
		}
		if seqd, err := tx.SequencedAlerts(ctx, 10, 100); err != nil || len(seqd) != 0 {
			t.Errorf("SequencedAlerts past the last = %+v, %v", seqd, err)
		}
		return nil
	})
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.LockOperator(ctx, "op_1", "", t0) })
	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		if op, _ := tx.GetOperator(ctx, "op_1"); op.Locked != "" {
			t.Errorf("after unlock: %+v", op)
		}
		return nil
	})

	e := &guard.Extension{ID: "ext_1", Operator: "op_1", Unit: "u1", Subjects: 500, Hours: 8, Reason: "mailing", Created: t0}
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutExtension(ctx, e) })
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.PutExtension(ctx, e) }); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate extension: %v", err)
	}
	// Pending in their unit, oldest first: ext_1 and a later one; neither
	// another unit's nor, once approved, ext_0.
	for _, x := range []*guard.Extension{
		{ID: "ext_2", Operator: "op_6", Unit: "u1", Subjects: 20, Hours: 2, Reason: "relance", Created: t0.Add(time.Second)},
		{ID: "ext_3", Operator: "op_7", Unit: "u2", Subjects: 20, Hours: 2, Reason: "other unit", Created: t0},
		{ID: "ext_0", Operator: "op_8", Unit: "u1", Subjects: 20, Hours: 2, Reason: "approved", Created: t0.Add(-time.Hour)},
	} {
		update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutExtension(ctx, x) })
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.ApproveExtension(ctx, "ext_0", "op_2", t0) })
	pending := func(unit string, limit int) []string {
		var ids []string
		s.View(ctx, func(ctx context.Context, tx store.Tx) error {
			l, err := tx.PendingExtensions(ctx, unit, limit)
			if err != nil {
				t.Errorf("PendingExtensions(%q): %v", unit, err)
			}
			for _, x := range l {
				ids = append(ids, x.ID)
				if x.ID == "ext_1" && (x.Operator != "op_1" || x.Subjects != 500 || x.Hours != 8 || x.Reason != "mailing" || !x.Created.Equal(t0) || x.FirstApprover != "op_4") {
					t.Errorf("PendingExtensions: ext_1 = %+v", x)
				}
			}
			return nil
		})
		return ids
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.FirstApproval(ctx, "ext_1", "op_4") })
	if got := pending("u1", 10); !slices.Equal(got, []string{"ext_1", "ext_2"}) {
		t.Errorf("PendingExtensions(u1) = %v, want [ext_1 ext_2]", got)
	}
	if got := pending("u1", 1); !slices.Equal(got, []string{"ext_1"}) {
		t.Errorf("PendingExtensions(u1, 1) = %v, want [ext_1]", got)
	}
	if got := pending("u9", 10); len(got) != 0 {
		t.Errorf("PendingExtensions(u9) = %v, want none", got)
	}
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.FirstApproval(ctx, "ext_1", "op_5") }); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a second first approval: %v, want ErrConflict", err)
	}
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.FirstApproval(ctx, "ext_9", "op_5") }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("first approval of a missing request: %v, want ErrNotFound", err)
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.ApproveExtension(ctx, "ext_1", "op_2", t0.Add(time.Minute))
	})
	if got := pending("u1", 10); !slices.Equal(got, []string{"ext_2"}) {
		t.Errorf("PendingExtensions(u1) after approving ext_1 = %v, want [ext_2]", got)
	}
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.ApproveExtension(ctx, "ext_1", "op_3", t0) }); !errors.Is(err, store.ErrConflict) {
		t.Errorf("second approval: %v, want ErrConflict", err)
	}
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.ApproveExtension(ctx, "ext_9", "op_3", t0) }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("approval of a missing request: %v, want ErrNotFound", err)
	}
	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.GetExtension(ctx, "ext_1")
		if err != nil || got.ApprovedBy != "op_2" || got.FirstApprover != "op_4" || got.Subjects != 500 || got.Reason != "mailing" || !got.ApprovedAt.Equal(t0.Add(time.Minute)) {
			t.Errorf("GetExtension = %+v, %v", got, err)
		}
		return nil
	})
}

// guardStateGroups: guard states written by functions that fail do not
// survive, whatever the grouping, and those of the others do, as seen by
// later transactions and by reads.
func guardStateGroups(t *testing.T, s store.Store) {
	const n = 24
	errFail := errors.New("fail")
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
				op := fmt.Sprintf("op_%02d", i)
				if err := tx.PutGuard(ctx, op, marked(i, 1)); err != nil {
					return err
				}
				if err := tx.PutGuard(ctx, op, marked(i, 2)); err != nil {
					return err
				}
				if st, err := tx.GetGuard(ctx, op); err != nil || !reflect.DeepEqual(st, marked(i, 2)) {
					return fmt.Errorf("read back in the transaction: %+v, %v", st, err)
				}
				if i%3 == 0 {
					return errFail
				}
				return nil
			})
			if (i%3 == 0) != errors.Is(err, errFail) || err != nil && !errors.Is(err, errFail) {
				t.Errorf("update %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	check := func(what string, tx store.Tx) {
		for i := range n {
			st, err := tx.GetGuard(ctx, fmt.Sprintf("op_%02d", i))
			want := marked(i, 2)
			if i%3 == 0 {
				want = guard.State{}
			}
			if err != nil || !reflect.DeepEqual(st, want) {
				t.Errorf("%s: state of op_%02d = %+v, %v; want %+v", what, i, st, err, want)
			}
		}
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error { check("in a later transaction", tx); return nil })
	s.View(ctx, func(ctx context.Context, tx store.Tx) error { check("in a read", tx); return nil })
}

// marked is a guard state told apart by two numbers, with a slice of
// each kind the state holds.
func marked(a, b int) guard.State {
	return guard.State{HourSubjects: a, DaySubjects: b, Recent: []int64{int64(a)}, Origins: []uint64{uint64(b)},
		Evidence: []int64{int64(a), int64(b)}, Visits: []byte{1, 2, 3, 4, 5, 6, byte(b)}, ValueLast: []byte{byte(a)}}
}
