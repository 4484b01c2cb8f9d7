package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/store"
)

func (t *tx) DeleteAllSessions(ctx context.Context, except string) (int, error) {
	res, err := t.exec(ctx, "deleteAllSessions", except)
	if err != nil {
		return 0, fmt.Errorf("delete all sessions: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func (t *tx) OperatorSessions(ctx context.Context, operator string) ([]identity.Session, error) {
	rows, err := t.rows(ctx, "operatorSessions", operator)
	if err != nil {
		return nil, fmt.Errorf("operator sessions: %w", err)
	}
	defer rows.Close()
	var out []identity.Session
	for rows.Next() {
		s, err := scanSession(rows, true)
		if err != nil {
			return nil, fmt.Errorf("operator sessions: %w", err)
		}
		out = append(out, *s)
	}
	return out, rows.Err()
}

func (t *tx) SetChallenge(ctx context.Context, hash, challenge []byte) error {
	return t.updateOne(ctx, "setChallenge", challenge, hash)
}

func (t *tx) StepUp(ctx context.Context, hash []byte, at time.Time, factor, group, origin, userAgent string) error {
	return t.updateOne(ctx, "stepUp", micros(at), factor, group, origin, userAgent, hash)
}

func (t *tx) updateOne(ctx context.Context, stmt string, args ...any) error {
	res, err := t.exec(ctx, stmt, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", stmt, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%s: %w", stmt, store.ErrNotFound)
	}
	return nil
}

func (t *tx) PutWebAuthn(ctx context.Context, c *identity.WebAuthnCredential) error {
	_, err := t.exec(ctx, "putWebAuthn", c.ID, c.Operator, c.Name, c.Credential, c.SignCount, micros(c.Created))
	if isConstraint(err) {
		return fmt.Errorf("put webauthn credential: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("put webauthn credential: %w", err)
	}
	return nil
}

func (t *tx) WebAuthnCredentials(ctx context.Context, operator string) ([]identity.WebAuthnCredential, error) {
	rows, err := t.rows(ctx, "webAuthnOf", operator)
	if err != nil {
		return nil, fmt.Errorf("webauthn credentials: %w", err)
	}
	defer rows.Close()
	var out []identity.WebAuthnCredential
	for rows.Next() {
		var c identity.WebAuthnCredential
		var created, used int64
		if err := rows.Scan(&c.ID, &c.Operator, &c.Name, &c.Credential, &c.SignCount, &created, &used); err != nil {
			return nil, fmt.Errorf("webauthn credentials: %w", err)
		}
		c.Created = fromMicros(created)
		if used != 0 {
			c.LastUsed = fromMicros(used)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func (t *tx) UpdateWebAuthn(ctx context.Context, id, credential []byte, signCount uint32, at time.Time) error {
	res, err := t.exec(ctx, "updateWebAuthn", credential, signCount, micros(at), id)
	if err != nil {
		return fmt.Errorf("update webauthn credential: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("update webauthn credential: %w", store.ErrNotFound)
	}
	return nil
}

func (t *tx) DeleteWebAuthn(ctx context.Context, operator string, id []byte) error {
	res, err := t.exec(ctx, "deleteWebAuthn", operator, id)
	if err != nil {
		return fmt.Errorf("delete webauthn credential: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("delete webauthn credential: %w", store.ErrNotFound)
	}
	return nil
}

func (t *tx) PutRecoveryCodes(ctx context.Context, operator string, hashes [][]byte) error {
	if _, err := t.exec(ctx, "deleteRecovery", operator); err != nil {
		return fmt.Errorf("put recovery codes: %w", err)
	}
	for _, h := range hashes {
		if _, err := t.exec(ctx, "putRecovery", operator, h); err != nil {
			return fmt.Errorf("put recovery codes: %w", err)
		}
	}
	return nil
}

func (t *tx) UseRecoveryCode(ctx context.Context, operator string, hash []byte) (bool, error) {
	res, err := t.exec(ctx, "useRecovery", operator, hash)
	if err != nil {
		return false, fmt.Errorf("use recovery code: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (t *tx) CountRecoveryCodes(ctx context.Context, operator string) (int, error) {
	var n int
	if err := t.row(ctx, "countRecovery", operator).Scan(&n); err != nil {
		return 0, fmt.Errorf("count recovery codes: %w", err)
	}
	return n, nil
}

func (t *tx) LoginFailure(ctx context.Context, id string, at time.Time, window time.Duration) (int, error) {
	cut := micros(at.Add(-window))
	var n int
	if err := t.row(ctx, "loginFailure", cut, cut, micros(at), id).Scan(&n); err != nil {
		return 0, notFound(err, "login failure")
	}
	return n, nil
}

func (t *tx) CountOrigin(ctx context.Context, key string, now time.Time, every time.Duration) (int, time.Time, error) {
	if _, err := t.exec(ctx, "pruneOrigins", micros(now)); err != nil {
		return 0, time.Time{}, fmt.Errorf("count origin: %w", err)
	}
	var n int
	var until int64
	if err := t.row(ctx, "countOrigin", key, micros(now.Add(every))).Scan(&n, &until); err != nil {
		return 0, time.Time{}, fmt.Errorf("count origin: %w", err)
	}
	return n, time.UnixMicro(until).UTC(), nil
}

func (t *tx) OriginCount(ctx context.Context, key string, now time.Time) (int, time.Time, error) {
	var n int
	var until int64
	err := t.row(ctx, "originCount", key, micros(now)).Scan(&n, &until)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, nil
	}
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("origin count: %w", err)
	}
	return n, time.UnixMicro(until).UTC(), nil
}

func (t *tx) HoldOrigin(ctx context.Context, key string, now time.Time) (bool, error) {
	res, err := t.exec(ctx, "holdOrigin", key, micros(now))
	if err != nil {
		return false, fmt.Errorf("hold origin: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (t *tx) PutRegular(ctx context.Context, key string, at, before time.Time) error {
	if _, err := t.exec(ctx, "pruneRegulars", micros(before)); err != nil {
		return fmt.Errorf("put regular: %w", err)
	}
	if _, err := t.exec(ctx, "putRegular", key, micros(at)); err != nil {
		return fmt.Errorf("put regular: %w", err)
	}
	return nil
}

func (t *tx) Regular(ctx context.Context, key string) (time.Time, error) {
	var at int64
	err := t.row(ctx, "regular", key).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("regular: %w", err)
	}
	return time.UnixMicro(at).UTC(), nil
}

func (t *tx) ResetLoginFailures(ctx context.Context, id string) error {
	return t.updateOne(ctx, "resetFailures", id)
}

func (t *tx) SetOperatorRole(ctx context.Context, id, role, unit string, at time.Time) error {
	return t.updateOne(ctx, "setRole", role, unit, micros(at), id)
}
