package sqlite

import (
	"context"
	"fmt"
	"time"
)

func (t *tx) MarkSealed(ctx context.Context, at time.Time) error {
	return t.updateOne(ctx, "markSealed", micros(at))
}

func (t *tx) MarkUnsealed(ctx context.Context) (int64, error) {
	if err := t.updateOne(ctx, "markUnsealed"); err != nil {
		return 0, err
	}
	gen, _, err := t.SealFlag(ctx)
	return gen, err
}

func (t *tx) SealFlag(ctx context.Context) (int64, time.Time, error) {
	var gen, at int64
	if err := t.row(ctx, "sealFlag").Scan(&gen, &at); err != nil {
		return 0, time.Time{}, fmt.Errorf("seal flag: %w", err)
	}
	return gen, zeroOrMicros(at), nil
}
