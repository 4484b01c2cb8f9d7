package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/coffre/coffre/internal/hold"
	"github.com/coffre/coffre/internal/store"
)

const holdColumns = `id, subject, reason, placed_by, placed_at, lifted_by, lifted_at, lift_reason`

func (t *tx) PutHold(ctx context.Context, h *hold.Hold) error {
	res, err := t.exec(ctx, "putHold", h.ID, h.Subject, h.Reason, h.PlacedBy, micros(h.Placed))
	if err != nil {
		return fmt.Errorf("put hold: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("put hold: %w", store.ErrConflict)
	}
	return nil
}

// scanHold reads a row of holdColumns.
func scanHold(sc interface{ Scan(...any) error }) (*hold.Hold, error) {
	h := &hold.Hold{}
	var placed, lifted int64
	if err := sc.Scan(&h.ID, &h.Subject, &h.Reason, &h.PlacedBy, &placed, &h.LiftedBy, &lifted, &h.LiftReason); err != nil {
		return nil, err
	}
	h.Placed, h.Lifted = fromMicros(placed), zeroOrMicros(lifted)
	return h, nil
}

func (t *tx) GetHold(ctx context.Context, id string) (*hold.Hold, error) {
	h, err := scanHold(t.row(ctx, "getHold", id))
	if err != nil {
		return nil, notFound(err, "get hold")
	}
	return h, nil
}

func (t *tx) SubjectHolds(ctx context.Context, subject string) ([]hold.Hold, error) {
	rows, err := t.rows(ctx, "subjectHolds", subject)
	if err != nil {
		return nil, fmt.Errorf("subject holds: %w", err)
	}
	defer rows.Close()
	var out []hold.Hold
	for rows.Next() {
		h, err := scanHold(rows)
		if err != nil {
			return nil, fmt.Errorf("subject holds: %w", err)
		}
		out = append(out, *h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("subject holds: %w", err)
	}
	return out, nil
}

func (t *tx) LiftHold(ctx context.Context, id, by string, at time.Time, reason []byte) error {
	res, err := t.exec(ctx, "liftHold", by, micros(at), reason, id)
	if err != nil {
		return fmt.Errorf("lift hold: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		var one int
		switch err := t.row(ctx, "holdExists", id).Scan(&one); {
		case errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("lift hold: %w", store.ErrNotFound)
		case err != nil:
			return fmt.Errorf("lift hold: %w", err)
		}
		return fmt.Errorf("lift hold: %w", store.ErrConflict)
	}
	return nil
}

func (t *tx) Held(ctx context.Context, subject string) (bool, error) {
	var held bool
	if err := t.row(ctx, "held", subject).Scan(&held); err != nil {
		return false, fmt.Errorf("held: %w", err)
	}
	return held, nil
}
