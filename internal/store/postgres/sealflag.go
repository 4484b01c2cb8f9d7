package postgres

import (
	"context"
	"fmt"
	"time"
)

func (t *tx) MarkSealed(ctx context.Context, at time.Time) error {
	return t.execOne(ctx, "mark sealed", `UPDATE seal_flag SET generation = generation + 1, sealed_at = $1 WHERE id = 1`, micros(at))
}

func (t *tx) MarkUnsealed(ctx context.Context) (int64, error) {
	var gen int64
	if err := t.q.QueryRow(ctx, `UPDATE seal_flag SET sealed_at = 0 WHERE id = 1 RETURNING generation`).Scan(&gen); err != nil {
		return 0, fmt.Errorf("mark unsealed: %w", err)
	}
	return gen, nil
}

func (t *tx) SealFlag(ctx context.Context) (int64, time.Time, error) {
	var gen, at int64
	if err := t.q.QueryRow(ctx, `SELECT generation, sealed_at FROM seal_flag WHERE id = 1`).Scan(&gen, &at); err != nil {
		return 0, time.Time{}, fmt.Errorf("seal flag: %w", err)
	}
	return gen, zeroOrMicros(at), nil
}
