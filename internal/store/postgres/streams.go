package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffre/coffre/internal/store"
)

func (t *tx) ClaimStream(ctx context.Context, sink, owner string, now, until time.Time) (int64, bool, error) {
	// The upsert locks the row, so two servers claiming at once take turns;
	// the one that finds the other's lease in force leaves it, and reads it.
	var next int64
	var holder string
	err := t.q.QueryRow(ctx, `INSERT INTO audit_streams AS s (sink, next, owner, until) VALUES ($1, 1, $2, $3)
		ON CONFLICT (sink) DO UPDATE SET owner = excluded.owner, until = excluded.until
		WHERE s.owner IN ('', excluded.owner) OR s.until < $4
		RETURNING next, owner`, sink, owner, micros(until), micros(now)).Scan(&next, &holder)
	switch {
	case err == nil:
		return next, holder == owner, nil
	case !errors.Is(err, pgx.ErrNoRows):
		return 0, false, fmt.Errorf("claim stream: %w", err)
	}
	if err = t.q.QueryRow(ctx, `SELECT next, owner FROM audit_streams WHERE sink = $1`, sink).Scan(&next, &holder); err != nil {
		return 0, false, fmt.Errorf("claim stream: %w", err)
	}
	return next, holder == owner, nil
}

func (t *tx) AdvanceStream(ctx context.Context, sink, owner string, next int64) error {
	n, err := t.exec(ctx, "advance stream", `UPDATE audit_streams SET next = GREATEST(next, $1) WHERE sink = $2 AND owner = $3`, next, sink, owner)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("advance stream %s: not %s's: %w", sink, owner, store.ErrConflict)
	}
	return nil
}
