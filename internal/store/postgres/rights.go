package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffre/coffre/internal/rights"
	"github.com/coffre/coffre/internal/store"
)

const requestColumns = `id, subject, kind, fields, text, status, filed, due, extended, extend_reason, decided, decided_by, answer, lifted, courier, version`

func (t *tx) PutRequest(ctx context.Context, r *rights.Request) error {
	err := t.insertOne(ctx, "put request", `INSERT INTO rights_requests (id, subject, kind, fields, text, status, filed, due, extended, extend_reason, decided, decided_by, answer, lifted, courier, version)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 1)`,
		r.ID, r.Subject, r.Kind, strings.Join(r.Fields, ","), r.Text, r.Status, micros(r.Filed), micros(r.Due),
		microsOrZero(r.Extended), r.ExtendReason, microsOrZero(r.Decided), r.DecidedBy, r.Answer, microsOrZero(r.Lifted), r.Courier)
	if err == nil {
		r.Version = 1
	}
	return err
}

// scanRequest reads a row of requestColumns.
func scanRequest(sc interface{ Scan(...any) error }) (*rights.Request, error) {
	r := &rights.Request{}
	var fields string
	var filed, due, extended, decided, lifted int64
	if err := sc.Scan(&r.ID, &r.Subject, &r.Kind, &fields, &r.Text, &r.Status, &filed, &due, &extended, &r.ExtendReason,
		&decided, &r.DecidedBy, &r.Answer, &lifted, &r.Courier, &r.Version); err != nil {
		return nil, err
	}
	if fields != "" {
		r.Fields = strings.Split(fields, ",")
	}
	r.Filed, r.Due = fromMicros(filed), fromMicros(due)
	r.Extended, r.Decided, r.Lifted = zeroOrMicros(extended), zeroOrMicros(decided), zeroOrMicros(lifted)
	return r, nil
}

func (t *tx) GetRequest(ctx context.Context, id string) (*rights.Request, error) {
	r, err := scanRequest(t.q.QueryRow(ctx, `SELECT `+requestColumns+` FROM rights_requests WHERE id = $1`, id))
	if err != nil {
		return nil, notFound(err, "get request")
	}
	return r, nil
}

func (t *tx) requests(ctx context.Context, what, sql string, args ...any) ([]rights.Request, error) {
	rows, err := t.q.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []rights.Request
	for rows.Next() {
		r, err := scanRequest(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, *r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

func (t *tx) SubjectRequests(ctx context.Context, subject string) ([]rights.Request, error) {
	return t.requests(ctx, "subject requests", `SELECT `+requestColumns+` FROM rights_requests WHERE subject = $1 ORDER BY filed DESC, id`, subject)
}

func (t *tx) OpenRequests(ctx context.Context, afterDue time.Time, afterID string, limit int) ([]rights.Request, error) {
	return t.requests(ctx, "open requests", `SELECT `+requestColumns+` FROM rights_requests
		WHERE status = 'pending' AND (due, id) > ($1, $2) ORDER BY due, id LIMIT $3`, microsOrZero(afterDue), afterID, limit)
}

func (t *tx) UpdateRequest(ctx context.Context, r *rights.Request) error {
	n, err := t.exec(ctx, "update request", `UPDATE rights_requests SET status = $1, due = $2, extended = $3, extend_reason = $4, decided = $5,
		decided_by = $6, answer = $7, lifted = $8, courier = $9, version = version + 1 WHERE id = $10 AND version = $11`,
		r.Status, micros(r.Due), microsOrZero(r.Extended), r.ExtendReason, microsOrZero(r.Decided), r.DecidedBy,
		r.Answer, microsOrZero(r.Lifted), r.Courier, r.ID, r.Version)
	if err != nil {
		return err
	}
	if n == 0 {
		var one int
		switch err := t.q.QueryRow(ctx, `SELECT 1 FROM rights_requests WHERE id = $1`, r.ID).Scan(&one); {
		case errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("update request: %w", store.ErrNotFound)
		case err != nil:
			return fmt.Errorf("update request: %w", err)
		}
		return fmt.Errorf("update request: %w", store.ErrConflict)
	}
	r.Version++
	return nil
}

func (t *tx) ForgetCouriers(ctx context.Context, before time.Time) (int, error) {
	n, err := t.exec(ctx, "forget couriers", `UPDATE rights_requests SET courier = NULL WHERE courier IS NOT NULL AND decided < $1`, micros(before))
	return int(n), err
}

func (t *tx) PutLimit(ctx context.Context, l rights.Limit) error {
	if err := t.insertOne(ctx, "put limit", `INSERT INTO person_limits (subject, kind, target, created) VALUES ($1, $2, $3, $4)`,
		l.Subject, l.Kind, l.Target, micros(l.Created)); err != nil {
		return err
	}
	return t.touchSubject(ctx, l.Subject)
}

func (t *tx) DeleteLimit(ctx context.Context, l rights.Limit) error {
	if err := t.execOne(ctx, "delete limit", `DELETE FROM person_limits WHERE subject = $1 AND kind = $2 AND target = $3`, l.Subject, l.Kind, l.Target); err != nil {
		return err
	}
	return t.touchSubject(ctx, l.Subject)
}

func (t *tx) Limits(ctx context.Context, subject string) ([]rights.Limit, error) {
	rows, err := t.q.Query(ctx, `SELECT kind, target, created FROM person_limits WHERE subject = $1 ORDER BY kind, target`, subject)
	if err != nil {
		return nil, fmt.Errorf("limits: %w", err)
	}
	defer rows.Close()
	var out []rights.Limit
	for rows.Next() {
		l := rights.Limit{Subject: subject}
		var created int64
		if err := rows.Scan(&l.Kind, &l.Target, &created); err != nil {
			return nil, fmt.Errorf("limits: %w", err)
		}
		l.Created = fromMicros(created)
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("limits: %w", err)
	}
	return out, nil
}

func (t *tx) ClearLimits(ctx context.Context, subject string) error {
	if _, err := t.exec(ctx, "clear limits", `DELETE FROM person_limits WHERE subject = $1`, subject); err != nil {
		return err
	}
	return t.touchSubject(ctx, subject)
}
