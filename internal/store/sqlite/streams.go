package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/coffre/coffre/internal/store"
)

func (t *tx) ClaimStream(ctx context.Context, sink, owner string, now, until time.Time) (int64, bool, error) {
	if _, err := t.exec(ctx, "claimStream", sink, owner, micros(until), micros(now)); err != nil {
		return 0, false, fmt.Errorf("claim stream: %w", err)
	}
	var next int64
	var holder string
	if err := t.row(ctx, "getStream", sink).Scan(&next, &holder); err != nil {
		return 0, false, fmt.Errorf("claim stream: %w", err)
	}
	return next, holder == owner, nil
}

func (t *tx) AdvanceStream(ctx context.Context, sink, owner string, next int64) error {
	res, err := t.exec(ctx, "advanceStream", next, sink, owner)
	if err != nil {
		return fmt.Errorf("advance stream: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("advance stream %s: not %s's: %w", sink, owner, store.ErrConflict)
	}
	return nil
}
