package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffre/coffre/internal/subjectauth"
)

func (t *tx) PutSigninCode(ctx context.Context, c *subjectauth.Code) error {
	_, err := t.exec(ctx, "put signin code", `INSERT INTO signin_codes (token, contact, subject, hash, created, expires) VALUES ($1, $2, $3, $4, $5, $6)`,
		c.Token, c.Contact, c.Subject, c.Hash, micros(c.Created), micros(c.Expires))
	return err
}

func (t *tx) GetSigninCode(ctx context.Context, token []byte) (*subjectauth.Code, error) {
	c := &subjectauth.Code{Token: token}
	var created, expires, used int64
	err := t.q.QueryRow(ctx, `SELECT contact, subject, hash, created, expires, attempts, used FROM signin_codes WHERE token = $1`, token).
		Scan(&c.Contact, &c.Subject, &c.Hash, &created, &expires, &c.Attempts, &used)
	if err != nil {
		return nil, notFound(err, "get signin code")
	}
	c.Created, c.Expires, c.Used = fromMicros(created), fromMicros(expires), zeroOrMicros(used)
	return c, nil
}

func (t *tx) SigninCodeAttempt(ctx context.Context, token []byte) (int, error) {
	var n int
	err := t.q.QueryRow(ctx, `UPDATE signin_codes SET attempts = attempts + 1 WHERE token = $1 RETURNING attempts`, token).Scan(&n)
	if err != nil {
		return 0, notFound(err, "signin code attempt")
	}
	return n, nil
}

func (t *tx) SpendSigninCode(ctx context.Context, token []byte, at time.Time) (bool, error) {
	n, err := t.exec(ctx, "spend signin code", `UPDATE signin_codes SET used = $2 WHERE token = $1 AND used = 0`, token, micros(at))
	return n == 1, err
}

const limitColumns = `requests, since, failures, failed_at, locked_until`

func scanLimit(r pgx.Row) (subjectauth.Limit, error) {
	var l subjectauth.Limit
	var since, failed, until int64
	err := r.Scan(&l.Requests, &since, &l.Failures, &failed, &until)
	l.Since, l.FailedAt, l.LockedUntil = zeroOrMicros(since), zeroOrMicros(failed), zeroOrMicros(until)
	return l, err
}

// SigninRequest counts in one statement: concurrent requests for one key
// wait on its row and each sees the count with its own.
func (t *tx) SigninRequest(ctx context.Context, key string, at time.Time, window time.Duration) (subjectauth.Limit, error) {
	l, err := scanLimit(t.q.QueryRow(ctx, `INSERT INTO signin_limits (key, requests, since) VALUES ($1, 1, $2)
		ON CONFLICT (key) DO UPDATE SET
			requests = CASE WHEN signin_limits.since <= $3 THEN 1 ELSE signin_limits.requests + 1 END,
			since = CASE WHEN signin_limits.since <= $3 THEN $2 ELSE signin_limits.since END
		RETURNING `+limitColumns, key, micros(at), micros(at.Add(-window))))
	if err != nil {
		return l, fmt.Errorf("signin request: %w", err)
	}
	return l, nil
}

func (t *tx) SigninFailure(ctx context.Context, key string, at time.Time, window time.Duration) (subjectauth.Limit, error) {
	l, err := scanLimit(t.q.QueryRow(ctx, `INSERT INTO signin_limits (key, failures, failed_at) VALUES ($1, 1, $2)
		ON CONFLICT (key) DO UPDATE SET
			failures = CASE WHEN signin_limits.failed_at <= $3 THEN 1 ELSE signin_limits.failures + 1 END,
			failed_at = CASE WHEN signin_limits.failed_at <= $3 THEN $2 ELSE signin_limits.failed_at END
		RETURNING `+limitColumns, key, micros(at), micros(at.Add(-window))))
	if err != nil {
		return l, fmt.Errorf("signin failure: %w", err)
	}
	return l, nil
}

func (t *tx) LockSignin(ctx context.Context, key string, until time.Time) error {
	_, err := t.exec(ctx, "lock signin", `INSERT INTO signin_limits (key, locked_until) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET locked_until = $2, failures = 0, failed_at = 0`, key, microsOrZero(until))
	return err
}

func (t *tx) SigninLimit(ctx context.Context, key string) (subjectauth.Limit, error) {
	l, err := scanLimit(t.q.QueryRow(ctx, `SELECT `+limitColumns+` FROM signin_limits WHERE key = $1`, key))
	if errors.Is(err, pgx.ErrNoRows) {
		return subjectauth.Limit{}, nil
	}
	if err != nil {
		return l, fmt.Errorf("signin limit: %w", err)
	}
	return l, nil
}

func (t *tx) PutSubjectSession(ctx context.Context, s *subjectauth.Session) error {
	_, err := t.exec(ctx, "put subject session", `INSERT INTO subject_sessions (hash, subject, method, created, last_seen, expires, origin, user_agent)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		s.Hash, s.Subject, s.Method, micros(s.Created), micros(s.LastSeen), micros(s.Expires), s.Origin, s.UserAgent)
	return err
}

func (t *tx) GetSubjectSession(ctx context.Context, hash []byte) (*subjectauth.Session, error) {
	s := &subjectauth.Session{Hash: hash}
	var created, seen, expires int64
	err := t.q.QueryRow(ctx, `SELECT subject, method, created, last_seen, expires, origin, user_agent FROM subject_sessions WHERE hash = $1`, hash).
		Scan(&s.Subject, &s.Method, &created, &seen, &expires, &s.Origin, &s.UserAgent)
	if err != nil {
		return nil, notFound(err, "get subject session")
	}
	s.Created, s.LastSeen, s.Expires = fromMicros(created), fromMicros(seen), fromMicros(expires)
	return s, nil
}

func (t *tx) TouchSubjectSession(ctx context.Context, hash []byte, at time.Time) error {
	return t.execOne(ctx, "touch subject session", `UPDATE subject_sessions SET last_seen = $1 WHERE hash = $2`, micros(at), hash)
}

func (t *tx) DeleteSubjectSession(ctx context.Context, hash []byte) error {
	_, err := t.exec(ctx, "delete subject session", `DELETE FROM subject_sessions WHERE hash = $1`, hash)
	return err
}

func (t *tx) DeleteSubjectSessions(ctx context.Context, subject string) (int, error) {
	n, err := t.exec(ctx, "delete subject sessions", `DELETE FROM subject_sessions WHERE subject = $1`, subject)
	return int(n), err
}

func (t *tx) PurgeSignin(ctx context.Context, before time.Time, limit int) (int, error) {
	var total int64
	for _, q := range []string{
		`DELETE FROM signin_codes WHERE token IN (SELECT token FROM signin_codes WHERE expires < $1 LIMIT $2)`,
		`DELETE FROM subject_sessions WHERE hash IN (SELECT hash FROM subject_sessions WHERE expires < $1 LIMIT $2)`,
		`DELETE FROM signin_limits WHERE key IN (SELECT key FROM signin_limits WHERE since < $1 AND failed_at < $1 AND locked_until < $1 LIMIT $2)`,
	} {
		n, err := t.exec(ctx, "purge signin", q, micros(before), limit)
		if err != nil {
			return int(total), err
		}
		total += n
	}
	return int(total), nil
}
