package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/consent"
	"github.com/coffre/coffre/internal/contact"
	"github.com/coffre/coffre/internal/store"
)

// consentColumns are a consent request's columns, in scanConsent's order.
const consentColumns = `id, subject, operator, role, unit, purpose, reason, fields, status, created, expires, decided, valid_until, closed`

// changeColumns are a contact change's columns, in scanChange's order.
const changeColumns = `id, subject, operator, role, unit, fields, new_values, old_values, status, created, effective, closed`

// names is a comma-joined list of field names as stored.
func names(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func scanConsent(row scanner) (*consent.Request, error) {
	r := &consent.Request{}
	var fields string
	var created, expires, decided, validUntil, closed int64
	if err := row.Scan(&r.ID, &r.Subject, &r.Operator, &r.Role, &r.Unit, &r.Purpose, &r.Reason, &fields, &r.Status,
		&created, &expires, &decided, &validUntil, &closed); err != nil {
		return nil, err
	}
	r.Fields = names(fields)
	r.Created, r.Expires = fromMicros(created), fromMicros(expires)
	r.Decided, r.ValidUntil, r.Closed = zeroOrMicros(decided), zeroOrMicros(validUntil), zeroOrMicros(closed)
	return r, nil
}

func (t *tx) consents(rows *sql.Rows, err error, what string) ([]consent.Request, error) {
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
	_, err := t.exec(ctx, "putConsent", r.ID, r.Subject, r.Operator, r.Role, r.Unit, r.Purpose, r.Reason, strings.Join(r.Fields, ","), r.Status,
		micros(r.Created), micros(r.Expires), microsOrZero(r.Decided), microsOrZero(r.ValidUntil), microsOrZero(r.Closed), microsOrZero(r.Deadline()))
	if isConstraint(err) {
		return fmt.Errorf("put consent: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("put consent: %w", err)
	}
	return nil
}

func (t *tx) GetConsent(ctx context.Context, id string) (*consent.Request, error) {
	r, err := scanConsent(t.row(ctx, "getConsent", id))
	if err != nil {
		return nil, notFound(err, "get consent")
	}
	return r, nil
}

func (t *tx) LatestConsent(ctx context.Context, operator, subject, purpose string) (*consent.Request, error) {
	r, err := scanConsent(t.row(ctx, "latestConsent", operator, subject, purpose))
	if err != nil {
		return nil, notFound(err, "latest consent")
	}
	return r, nil
}

func (t *tx) UpdateConsent(ctx context.Context, r *consent.Request, from string) error {
	res, err := t.exec(ctx, "updateConsent", r.Status, microsOrZero(r.Decided), microsOrZero(r.ValidUntil), microsOrZero(r.Closed), microsOrZero(r.Deadline()), r.ID, from)
	if err != nil {
		return fmt.Errorf("update consent: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := t.GetConsent(ctx, r.ID); err != nil {
			return fmt.Errorf("update consent: %w", err)
		}
		return fmt.Errorf("update consent: not %s: %w", from, store.ErrConflict)
	}
	return nil
}

func (t *tx) PendingConsents(ctx context.Context, subject string, now time.Time, limit int) ([]consent.Request, error) {
	rows, err := t.rows(ctx, "pendingConsents", subject, micros(now), limit)
	return t.consents(rows, err, "pending consents")
}

func (t *tx) DueConsents(ctx context.Context, now time.Time, limit int) ([]consent.Request, error) {
	rows, err := t.rows(ctx, "dueConsents", micros(now), limit)
	return t.consents(rows, err, "due consents")
}

func scanChange(row scanner) (*contact.Change, error) {
	c := &contact.Change{}
	var fields string
	var created, effective, closed int64
	if err := row.Scan(&c.ID, &c.Subject, &c.Operator, &c.Role, &c.Unit, &fields, &c.New, &c.Old, &c.Status, &created, &effective, &closed); err != nil {
		return nil, err
	}
	c.Fields = names(fields)
	c.Created, c.Effective, c.Closed = fromMicros(created), fromMicros(effective), zeroOrMicros(closed)
	return c, nil
}

func (t *tx) PutContactChange(ctx context.Context, c *contact.Change) error {
	_, err := t.exec(ctx, "putContactChange", c.ID, c.Subject, c.Operator, c.Role, c.Unit, strings.Join(c.Fields, ","), c.New, c.Old, c.Status,
		micros(c.Created), micros(c.Effective), microsOrZero(c.Closed))
	if isConstraint(err) {
		return fmt.Errorf("put contact change: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("put contact change: %w", err)
	}
	return nil
}

func (t *tx) GetContactChange(ctx context.Context, id string) (*contact.Change, error) {
	c, err := scanChange(t.row(ctx, "getContactChange", id))
	if err != nil {
		return nil, notFound(err, "get contact change")
	}
	return c, nil
}

func (t *tx) PendingContactChange(ctx context.Context, subject string) (*contact.Change, error) {
	c, err := scanChange(t.row(ctx, "pendingContactChange", subject))
	if err != nil {
		return nil, notFound(err, "pending contact change")
	}
	return c, nil
}

func (t *tx) CloseContactChange(ctx context.Context, id, from, to string, at time.Time) error {
	res, err := t.exec(ctx, "closeContactChange", to, micros(at), id, from)
	if err != nil {
		return fmt.Errorf("close contact change: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := t.GetContactChange(ctx, id); err != nil {
			return fmt.Errorf("close contact change: %w", err)
		}
		return fmt.Errorf("close contact change: not %s: %w", from, store.ErrConflict)
	}
	return nil
}

func (t *tx) DueContactChanges(ctx context.Context, now time.Time, limit int) ([]contact.Change, error) {
	rows, err := t.rows(ctx, "dueContactChanges", micros(now), limit)
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
	res, err := t.exec(ctx, "forgetContactValues", micros(before), limit)
	if err != nil {
		return 0, fmt.Errorf("forget contact values: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}
