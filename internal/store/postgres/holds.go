package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffre/coffre/internal/hold"
	"github.com/coffre/coffre/internal/store"
)

const holdColumns = `id, subject, reason, placed_by, placed_at, lifted_by, lifted_at, lift_reason`

func (t *tx) PutHold(ctx context.Context, h *hold.Hold) error {
	return t.insertOne(ctx, "put hold", `INSERT INTO legal_holds (id, subject, reason, placed_by, placed_at) VALUES ($1, $2, $3, $4, $5)`,
		h.ID, h.Subject, h.Reason, h.PlacedBy, micros(h.Placed))
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
	h, err := scanHold(t.q.QueryRow(ctx, `SELECT `+holdColumns+` FROM legal_holds WHERE id = $1`, id))
	if err != nil {
		return nil, notFound(err, "get hold")
	}
	return h, nil
}

func (t *tx) SubjectHolds(ctx context.Context, subject string) ([]hold.Hold, error) {
	rows, err := t.q.Query(ctx, `SELECT `+holdColumns+` FROM legal_holds WHERE subject = $1 ORDER BY placed_at, id`, subject)
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
	n, err := t.exec(ctx, "lift hold", `UPDATE legal_holds SET lifted_by = $1, lifted_at = $2, lift_reason = $3 WHERE id = $4 AND lifted_at = 0`,
		by, micros(at), reason, id)
	if err != nil || n > 0 {
		return err
	}
	var one int
	switch err := t.q.QueryRow(ctx, `SELECT 1 FROM legal_holds WHERE id = $1`, id).Scan(&one); {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("lift hold: %w", store.ErrNotFound)
	case err != nil:
		return fmt.Errorf("lift hold: %w", err)
	}
	return fmt.Errorf("lift hold: %w", store.ErrConflict)
}

func (t *tx) Held(ctx context.Context, subject string) (bool, error) {
	var held bool
	if err := t.q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM legal_holds WHERE subject = $1 AND lifted_at = 0)`, subject).Scan(&held); err != nil {
		return false, fmt.Errorf("held: %w", err)
	}
	return held, nil
}
