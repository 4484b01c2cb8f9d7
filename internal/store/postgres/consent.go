package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffre/coffre/internal/consent"
	"github.com/coffre/coffre/internal/contact"
	"github.com/coffre/coffre/internal/store"
)

// consentColumns are a consent request's columns, in scanConsent's order.
const consentColumns = `id, subject, operator, role, unit, purpose, reason, fields, status, created, expires, decided, valid_until, closed`

// changeColumns are a contact change's columns, in scanChange's order.
const changeColumns = `id, subject, operator, role, unit, fields, new_values, old_values, status, created, effective, closed`

// fieldNames is a comma-joined list of field names as stored.
func fieldNames(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func scanConsent(row pgx.Row) (*consent.Request, error) {
	r := &consent.Request{}
	var fields string
	var created, expires, decided, validUntil, closed int64
	if err := row.Scan(&r.ID, &r.Subject, &r.Operator, &r.Role, &r.Unit, &r.Purpose, &r.Reason, &fields, &r.Status,
		&created, &expires, &decided, &validUntil, &closed); err != nil {
		return nil, err
	}
	r.Fields = fieldNames(fields)
	r.Created, r.Expires = fromMicros(created), fromMicros(expires)
	r.Decided, r.ValidUntil, r.Closed = zeroOrMicros(decided), zeroOrMicros(validUntil), zeroOrMicros(closed)
	return r, nil
}

func (t *tx) consents(ctx context.Context, what, sql string, args ...any) ([]consent.Request, error) {
	rows, err := t.q.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []consent.Request
	for rows.Next() {
		r, err := scanConsent(rows)
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

func (t *tx) PutConsent(ctx context.Context, r *consent.Request) error {
	return t.insertOne(ctx, "put consent", `INSERT INTO consents (id, subject, operator, role, unit, purpose, reason, fields, status, created, expires, decided, valid_until, closed, deadline)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		r.ID, r.Subject, r.Operator, r.Role, r.Unit, r.Purpose, r.Reason, strings.Join(r.Fields, ","), r.Status,
		micros(r.Created), micros(r.Expires), microsOrZero(r.Decided), microsOrZero(r.ValidUntil), microsOrZero(r.Closed), microsOrZero(r.Deadline()))
}

func (t *tx) GetConsent(ctx context.Context, id string) (*consent.Request, error) {
	r, err := scanConsent(t.q.QueryRow(ctx, `SELECT `+consentColumns+` FROM consents WHERE id = $1`, id))
	if err != nil {
		return nil, notFound(err, "get consent")
	}
	return r, nil
}

func (t *tx) LatestConsent(ctx context.Context, operator, subject, purpose string) (*consent.Request, error) {
	r, err := scanConsent(t.q.QueryRow(ctx, `SELECT `+consentColumns+` FROM consents WHERE operator = $1 AND subject = $2 AND purpose = $3
		ORDER BY created DESC, id DESC LIMIT 1`, operator, subject, purpose))
	if err != nil {
		return nil, notFound(err, "latest consent")
	}
	return r, nil
}

func (t *tx) UpdateConsent(ctx context.Context, r *consent.Request, from string) error {
	n, err := t.exec(ctx, "update consent", `UPDATE consents SET status = $1, decided = $2, valid_until = $3, closed = $4, deadline = $5 WHERE id = $6 AND status = $7`,
		r.Status, microsOrZero(r.Decided), microsOrZero(r.ValidUntil), microsOrZero(r.Closed), microsOrZero(r.Deadline()), r.ID, from)
	if err != nil {
		return err
	}
	if n == 0 {
		if _, err := t.GetConsent(ctx, r.ID); err != nil {
			return fmt.Errorf("update consent: %w", err)
		}
		return fmt.Errorf("update consent: not %s: %w", from, store.ErrConflict)
	}
	return nil
}

func (t *tx) PendingConsents(ctx context.Context, subject string, now time.Time, limit int) ([]consent.Request, error) {
	return t.consents(ctx, "pending consents", `SELECT `+consentColumns+` FROM consents WHERE subject = $1 AND status = 'pending' AND expires > $2
		ORDER BY created DESC, id DESC LIMIT $3`, subject, micros(now), limit)
}

func (t *tx) DueConsents(ctx context.Context, now time.Time, limit int) ([]consent.Request, error) {
	return t.consents(ctx, "due consents", `SELECT `+consentColumns+` FROM consents WHERE status IN ('pending', 'approved') AND deadline <= $1
		ORDER BY deadline, id LIMIT $2`, micros(now), limit)
}

func scanChange(row pgx.Row) (*contact.Change, error) {
	c := &contact.Change{}
	var fields string
	var created, effective, closed int64
	if err := row.Scan(&c.ID, &c.Subject, &c.Operator, &c.Role, &c.Unit, &fields, &c.New, &c.Old, &c.Status, &created, &effective, &closed); err != nil {
		return nil, err
	}
	c.Fields = fieldNames(fields)
	c.Created, c.Effective, c.Closed = fromMicros(created), fromMicros(effective), zeroOrMicros(closed)
	return c, nil
}

func (t *tx) PutContactChange(ctx context.Context, c *contact.Change) error {
	return t.insertOne(ctx, "put contact change", `INSERT INTO contact_changes (id, subject, operator, role, unit, fields, new_values, old_values, status, created, effective, closed)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		c.ID, c.Subject, c.Operator, c.Role, c.Unit, strings.Join(c.Fields, ","), c.New, c.Old, c.Status,
		micros(c.Created), micros(c.Effective), microsOrZero(c.Closed))
}

func (t *tx) GetContactChange(ctx context.Context, id string) (*contact.Change, error) {
	c, err := scanChange(t.q.QueryRow(ctx, `SELECT `+changeColumns+` FROM contact_changes WHERE id = $1`, id))
	if err != nil {
		return nil, notFound(err, "get contact change")
	}
	return c, nil
}

func (t *tx) PendingContactChange(ctx context.Context, subject string) (*contact.Change, error) {
	c, err := scanChange(t.q.QueryRow(ctx, `SELECT `+changeColumns+` FROM contact_changes WHERE subject = $1 AND status = 'pending'`, subject))
	if err != nil {
		return nil, notFound(err, "pending contact change")
	}
	return c, nil
}

func (t *tx) CloseContactChange(ctx context.Context, id, from, to string, at time.Time) error {
	n, err := t.exec(ctx, "close contact change", `UPDATE contact_changes SET status = $1, closed = $2, new_values = NULL WHERE id = $3 AND status = $4`,
		to, micros(at), id, from)
	if err != nil {
		return err
	}
	if n == 0 {
		if _, err := t.GetContactChange(ctx, id); err != nil {
			return fmt.Errorf("close contact change: %w", err)
		}
		return fmt.Errorf("close contact change: not %s: %w", from, store.ErrConflict)
	}
	return nil
}

func (t *tx) DueContactChanges(ctx context.Context, now time.Time, limit int) ([]contact.Change, error) {
	rows, err := t.q.Query(ctx, `SELECT `+changeColumns+` FROM contact_changes WHERE status = 'pending' AND effective <= $1
		ORDER BY effective, id LIMIT $2`, micros(now), limit)
	if err != nil {
		return nil, fmt.Errorf("due contact changes: %w", err)
	}
	defer rows.Close()
	var out []contact.Change
	for rows.Next() {
		c, err := scanChange(rows)
		if err != nil {
			return nil, fmt.Errorf("due contact changes: %w", err)
		}
		out = append(out, *c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("due contact changes: %w", err)
	}
	return out, nil
}

func (t *tx) ForgetContactValues(ctx context.Context, before time.Time, limit int) (int, error) {
	n, err := t.exec(ctx, "forget contact values", `UPDATE contact_changes SET old_values = NULL WHERE id IN
		(SELECT id FROM contact_changes WHERE old_values IS NOT NULL AND status <> 'pending' AND closed < $1 LIMIT $2)`, micros(before), limit)
	return int(n), err
}
