package auditlog

import (
	"context"
	"errors"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/store"
)

// Status is the audit log's state, for metrics and readiness.
type Status struct {
	Sequenced     int64         // entries sequenced (the last Seq)
	Integrated    uint64        // entries in the latest checkpoint
	Lag           time.Duration // age of the oldest entry not yet in a checkpoint (0 if none)
	CheckpointAge time.Duration // time since the latest checkpoint was made (0 if none)
	HasCheckpoint bool
}

// ReadStatus reads the log's state: two indexed reads, fine for a scrape
// or a readiness probe.
func ReadStatus(ctx context.Context, s store.Store, now time.Time) (*Status, error) {
	st := &Status{}
	err := s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		last, err := tx.LatestCheckpoint(ctx)
		switch {
		case errors.Is(err, store.ErrNotFound):
			last = &audit.StoredCheckpoint{}
		case err != nil:
			return err
		default:
			st.HasCheckpoint = true
			st.CheckpointAge = now.Sub(last.Created)
		}
		st.Integrated = last.Size
		next, err := tx.AuditEntries(ctx, int64(last.Size)+1, int64(last.Size)+2, 1)
		if err != nil {
			return err
		}
		if len(next) > 0 {
			st.Lag = now.Sub(next[0].Time)
		}
		st.Sequenced, err = tx.LastAuditSeq(ctx)
		return err
	})
	return st, err
}
