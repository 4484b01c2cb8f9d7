package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/rights"
	"github.com/coffre/coffre/internal/store"
)

const requestColumns = `id, subject, kind, fields, text, status, filed, due, extended, extend_reason, decided, decided_by, answer, lifted, courier, version`

func (t *tx) PutRequest(ctx context.Context, r *rights.Request) error {
	res, err := t.exec(ctx, "putRequest", r.ID, r.Subject, r.Kind, strings.Join(r.Fields, ","), r.Text, r.Status, micros(r.Filed), micros(r.Due),
		microsOrZero(r.Extended), r.ExtendReason, microsOrZero(r.Decided), r.DecidedBy, r.Answer, microsOrZero(r.Lifted), r.Courier)
	if err != nil {
		return fmt.Errorf("put request: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("put request: %w", store.ErrConflict)
	}
	r.Version = 1
	return nil
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
	r, err := scanRequest(t.row(ctx, "getRequest", id))
	if err != nil {
		return nil, notFound(err, "get request")
	}
	return r, nil
}

func (t *tx) requests(ctx context.Context, what, name string, args ...any) ([]rights.Request, error) {
	rows, err := t.rows(ctx, name, args...)
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
	return t.requests(ctx, "subject requests", "subjectRequests", subject)
}

func (t *tx) OpenRequests(ctx context.Context, afterDue time.Time, afterID string, limit int) ([]rights.Request, error) {
	return t.requests(ctx, "open requests", "openRequests", microsOrZero(afterDue), afterID, limit)
}

func (t *tx) UpdateRequest(ctx context.Context, r *rights.Request) error {
	res, err := t.exec(ctx, "updateRequest", r.Status, micros(r.Due), microsOrZero(r.Extended), r.ExtendReason, microsOrZero(r.Decided), r.DecidedBy,
		r.Answer, microsOrZero(r.Lifted), r.Courier, r.ID, r.Version)
	if err != nil {
		return fmt.Errorf("update request: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		var one int
		switch err := t.row(ctx, "requestExists", r.ID).Scan(&one); {
		case errors.Is(err, sql.ErrNoRows):
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
	res, err := t.exec(ctx, "forgetCouriers", micros(before))
	if err != nil {
		return 0, fmt.Errorf("forget couriers: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func (t *tx) PutLimit(ctx context.Context, l rights.Limit) error {
	t.subjectChanged(l.Subject)
	res, err := t.exec(ctx, "putLimit", l.Subject, l.Kind, l.Target, micros(l.Created))
	if err != nil {
		return fmt.Errorf("put limit: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("put limit: %w", store.ErrConflict)
	}
	return nil
}

func (t *tx) DeleteLimit(ctx context.Context, l rights.Limit) error {
	t.subjectChanged(l.Subject)
	res, err := t.exec(ctx, "deleteLimit", l.Subject, l.Kind, l.Target)
	if err != nil {
		return fmt.Errorf("delete limit: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("delete limit: %w", store.ErrNotFound)
	}
	return nil
}

func (t *tx) Limits(ctx context.Context, subject string) ([]rights.Limit, error) {
	rows, err := t.rows(ctx, "limits", subject)
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
	t.subjectChanged(subject)
	if _, err := t.exec(ctx, "clearLimits", subject); err != nil {
		return fmt.Errorf("clear limits: %w", err)
	}
	return nil
}
