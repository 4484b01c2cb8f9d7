package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/coffre/coffre/internal/identity"
)

// operatorColumns are the columns scanOperator reads, in its order.
const operatorColumns = `id, username, password_hash, totp_secret, totp_step, role, unit, created, disabled, locked, locked_at, failures, failures_since, last_login, active_since, deleted, role_since`

// zeroOrMicros reads a time stored as microseconds, 0 being the zero time.
func zeroOrMicros(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return fromMicros(v)
}

func (t *tx) SetOperatorDisabled(ctx context.Context, id string, disabled bool, at time.Time) error {
	return t.updateOne(ctx, "setDisabled", disabled, micros(at), id)
}

func (t *tx) EraseOperator(ctx context.Context, id, tombstone string, at time.Time) error {
	if err := t.updateOne(ctx, "eraseOperator", tombstone, micros(at), id); err != nil {
		return err
	}
	if _, err := t.exec(ctx, "eraseWebAuthn", id); err != nil {
		return fmt.Errorf("erase operator: %w", err)
	}
	if _, err := t.exec(ctx, "deleteRecovery", id); err != nil {
		return fmt.Errorf("erase operator: %w", err)
	}
	if _, err := t.exec(ctx, "deleteEnrolment", id); err != nil {
		return fmt.Errorf("erase operator: %w", err)
	}
	return nil
}

func (t *tx) RecordLogin(ctx context.Context, id string, at time.Time) error {
	return t.updateOne(ctx, "recordLogin", micros(at), id)
}

func (t *tx) ListOperators(ctx context.Context, after string, limit int) ([]identity.Operator, error) {
	rows, err := t.rows(ctx, "listOperators", after, limit)
	if err != nil {
		return nil, fmt.Errorf("list operators: %w", err)
	}
	defer rows.Close()
	var out []identity.Operator
	for rows.Next() {
		o, err := scanOperator(rows)
		if err != nil {
			return nil, fmt.Errorf("list operators: %w", err)
		}
		out = append(out, *o)
	}
	return out, rows.Err()
}
