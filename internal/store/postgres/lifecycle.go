package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/coffre/coffre/internal/identity"
)

// zeroOrMicros reads a time stored as microseconds, 0 being the zero time.
func zeroOrMicros(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return fromMicros(v)
}

func (t *tx) SetOperatorDisabled(ctx context.Context, id string, disabled bool, at time.Time) error {
	return t.execOne(ctx, "set disabled", `UPDATE operators SET disabled = $1, active_since = CASE WHEN $1 THEN active_since ELSE $2 END WHERE id = $3`, disabled, micros(at), id)
}

func (t *tx) EraseOperator(ctx context.Context, id, tombstone string, at time.Time) error {
	if err := t.execOne(ctx, "erase operator", `UPDATE operators SET username = $1, password_hash = '', totp_secret = NULL, disabled = TRUE, deleted = $2, failures = 0, failures_since = 0 WHERE id = $3`, tombstone, micros(at), id); err != nil {
		return err
	}
	if _, err := t.exec(ctx, "erase operator", `DELETE FROM webauthn_credentials WHERE operator = $1`, id); err != nil {
		return err
	}
	if _, err := t.exec(ctx, "erase operator", `DELETE FROM recovery_codes WHERE operator = $1`, id); err != nil {
		return err
	}
	_, err := t.exec(ctx, "erase operator", `DELETE FROM enrolments WHERE operator = $1`, id)
	return err
}

func (t *tx) RecordLogin(ctx context.Context, id string, at time.Time) error {
	return t.execOne(ctx, "record login", `UPDATE operators SET last_login = $1 WHERE id = $2`, micros(at), id)
}

func (t *tx) ListOperators(ctx context.Context, after string, limit int) ([]identity.Operator, error) {
	rows, err := t.q.Query(ctx, `SELECT `+operatorColumns+` FROM operators WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
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
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list operators: %w", err)
	}
	return out, nil
}
