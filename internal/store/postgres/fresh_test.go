package postgres

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/rights"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/subject"
)

// TestPreReadVerifiedAtCommit: a record read before its group is taken as
// current inside it (Unchanged) only until the group's end, where its
// stamp is checked. A change since — by another transaction, to the
// person's limits, or earlier in the same group — runs the group again
// without trusting the pre-read; an unchanged record commits in one run.
func TestPreReadVerifiedAtCommit(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	rows := bulkRows(t, s, 2)
	a := rows[0]
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.PutSubject(ctx, a) }); err != nil {
		t.Fatal(err)
	}
	preRead := func() (bool, uint64) {
		t.Helper()
		var limited bool
		var stamp uint64
		err := s.View(ctx, func(ctx context.Context, tx store.Tx) error {
			r, l, st, err := tx.(subject.Stamped).GetSubjectStamped(ctx, a.ID)
			if err == nil && r.ID != a.ID {
				err = errors.New("another record")
			}
			limited, stamp = l, st
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return limited, stamp
	}
	// access runs one group that first does change (if set), then asks
	// whether the pre-read under stamp is current; it returns what each
	// run of the group was told.
	access := func(stamp uint64, change func(context.Context, store.Tx) error) []bool {
		t.Helper()
		var told []bool
		err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			if change != nil {
				if err := change(ctx, tx); err != nil {
					return err
				}
			}
			told = append(told, tx.(subject.Fresh).Unchanged(a.ID, stamp))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return told
	}
	replace := func(ctx context.Context, tx store.Tx) error {
		b := *a
		b.Fields, b.Updated = []byte("changed"), time.Now()
		return tx.ReplaceSubject(ctx, &b)
	}

	_, stamp := preRead()
	if told := access(stamp, nil); !slices.Equal(told, []bool{true}) {
		t.Fatalf("unchanged record: runs told %v, want [true]", told)
	}
	if err := s.Update(ctx, replace); err != nil {
		t.Fatal(err)
	}
	if told := access(stamp, nil); !slices.Equal(told, []bool{true, false}) {
		t.Fatalf("record changed since its pre-read: runs told %v, want [true false] (checked at commit, run again)", told)
	}

	limited, stamp := preRead()
	if limited {
		t.Fatal("limited before any limit")
	}
	restrict := rights.Limit{Subject: a.ID, Kind: rights.LimitRestricted, Target: "req_1", Created: time.Now()}
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.PutLimit(ctx, restrict) }); err != nil {
		t.Fatal(err)
	}
	if told := access(stamp, nil); !slices.Equal(told, []bool{true, false}) {
		t.Fatalf("limit put since the pre-read: runs told %v, want [true false]", told)
	}
	if limited, stamp = preRead(); !limited {
		t.Fatal("not limited after a limit was put")
	}
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.DeleteLimit(ctx, restrict) }); err != nil {
		t.Fatal(err)
	}
	if told := access(stamp, nil); !slices.Equal(told, []bool{true, false}) {
		t.Fatalf("limit lifted since the pre-read: runs told %v, want [true false]", told)
	}

	_, stamp = preRead()
	if told := access(stamp, replace); !slices.Equal(told, []bool{true, false}) {
		t.Fatalf("record changed earlier in the same group: runs told %v, want [true false]", told)
	}

	// An id given from elsewhere is never taken from a pre-read.
	given := rows[len(rows)-1]
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.PutSubject(ctx, given) }); err != nil {
		t.Fatal(err)
	}
	err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		if tx.(subject.Fresh).Unchanged(given.ID, 1) {
			return errors.New("a record of a given id taken as current")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
