package auditlog

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/pace"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/subject"
)

// When Run records the records' activity by default: see
// docs/design.md ("The records' activity, recorded in batches").
const (
	DefaultActivityEntries = 200_000
	DefaultActivityEvery   = time.Hour
	// activityChunk bounds the entries one pass of RecordActivity reads
	// into memory; a longer stretch takes several passes.
	activityChunk = 500_000
)

// activityDue records the activity when it is due: once the integrated
// entries past the mark reach ActivityEntries, ActivityEvery after Run
// last recorded it, and at Run's first step (so that a server restarted
// often still records what its last run left). size is the tree size
// after the step.
func (in *Integrator) activityDue(ctx context.Context, size uint64) error {
	now := in.now()
	entries, every := in.ActivityEntries, in.ActivityEvery
	if entries <= 0 {
		entries = DefaultActivityEntries
	}
	if every <= 0 {
		every = DefaultActivityEvery
	}
	var mark int64
	if err := in.Store.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
		mark, err = tx.ActivityMark(ctx)
		return err
	}); err != nil {
		return err
	}
	if int64(size) <= mark || int64(size)-mark < int64(entries) && !in.recorded.IsZero() && now.Sub(in.recorded) < every {
		return nil
	}
	in.recorded = now
	_, err := in.RecordActivity(ctx)
	return err
}

// RecordActivity records on the records the activity of the integrated
// entries past the activity mark (Activity; none when it is nil), and
// moves the mark to the latest checkpoint; it returns how many records it
// touched. It reads the entries on the read side, a stretch of at most
// activityChunk at a time, and records each record's latest day once, in
// record order, in transactions of at most IndexRows records with a rest
// after each, as a step writes its index rows; the mark moves in the last
// one. Recording a day is idempotent (a record keeps the later day), so a
// pass that stops before its mark moves, or that another integrator
// overtook, does no harm: the next pass reads the same entries again.
func (in *Integrator) RecordActivity(ctx context.Context) (int, error) {
	touched := 0
	for {
		var from, to int64
		days := map[string]time.Time{}
		err := in.Store.View(ctx, func(ctx context.Context, tx store.Tx) error {
			clear(days)
			var err error
			if from, err = tx.ActivityMark(ctx); err != nil {
				return err
			}
			cp, err := tx.LatestCheckpoint(ctx)
			switch {
			case errors.Is(err, store.ErrNotFound):
				to = from
				return nil
			case err != nil:
				return err
			}
			if to = min(int64(cp.Size), from+activityChunk); to <= from || in.Activity == nil {
				return nil
			}
			return tx.AuditLeaves(ctx, from+1, to+1, func(seq int64, leaf []byte) error {
				a, err := audit.LeafAccess(leaf)
				if err != nil {
					return fmt.Errorf("entry %d: %w", seq, err)
				}
				if day, ok := in.Activity(a); ok && day.After(days[a.Subject]) {
					days[a.Subject] = day
				}
				return nil
			})
		})
		if err != nil {
			return touched, fmt.Errorf("record activity: %w", err)
		}
		if to <= from {
			return touched, nil
		}
		ids := slices.Sorted(maps.Keys(days))
		n := in.indexRows()
		moved := false
		for i := 0; ; i += n {
			last := i+n >= len(ids)
			var held time.Duration
			err := in.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
				t0 := time.Now()
				defer func() { held += time.Since(t0) }() // a group run again runs it twice
				batch := ids[i:min(i+n, len(ids))]
				touches := make([]subject.Touch, len(batch))
				for j, id := range batch {
					touches[j] = subject.Touch{ID: id, Day: days[id]}
				}
				if err := tx.TouchSubjects(ctx, touches); err != nil {
					return err
				}
				if !last {
					return nil
				}
				var err error
				moved, err = tx.MoveActivityMark(ctx, from, to)
				return err
			})
			if err != nil {
				return touched, fmt.Errorf("record activity: %w", err)
			}
			if last {
				break
			}
			pace.Rest(ctx, in.rest(), held)
		}
		touched += len(ids)
		if !moved {
			return touched, nil // another integrator recorded them and moved the mark on
		}
	}
}
