package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/subjectauth"
)

func (t *tx) PutSigninCode(ctx context.Context, c *subjectauth.Code) error {
	if _, err := t.exec(ctx, "putSigninCode", c.Token, c.Contact, c.Subject, c.Hash, micros(c.Created), micros(c.Expires)); err != nil {
		if isConstraint(err) {
			return fmt.Errorf("put signin code: %w", store.ErrConflict)
		}
		return fmt.Errorf("put signin code: %w", err)
	}
	return nil
}

func (t *tx) GetSigninCode(ctx context.Context, token []byte) (*subjectauth.Code, error) {
	c := &subjectauth.Code{Token: token}
	var created, expires, used int64
	err := t.row(ctx, "getSigninCode", token).Scan(&c.Contact, &c.Subject, &c.Hash, &created, &expires, &c.Attempts, &used)
	if err != nil {
		return nil, notFound(err, "get signin code")
	}
	c.Created, c.Expires, c.Used = fromMicros(created), fromMicros(expires), zeroOrMicros(used)
	return c, nil
}

func (t *tx) SigninCodeAttempt(ctx context.Context, token []byte) (int, error) {
	var n int
	if err := t.row(ctx, "codeAttempt", token).Scan(&n); err != nil {
		return 0, notFound(err, "signin code attempt")
	}
	return n, nil
}

func (t *tx) SpendSigninCode(ctx context.Context, token []byte, at time.Time) (bool, error) {
	res, err := t.exec(ctx, "spendCode", token, micros(at))
	if err != nil {
		return false, fmt.Errorf("spend signin code: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("spend signin code: %w", err)
	}
	return n == 1, nil
}

func scanLimit(r *sql.Row) (subjectauth.Limit, error) {
	var l subjectauth.Limit
	var since, failed, until int64
	err := r.Scan(&l.Requests, &since, &l.Failures, &failed, &until)
	l.Since, l.FailedAt, l.LockedUntil = zeroOrMicros(since), zeroOrMicros(failed), zeroOrMicros(until)
	return l, err
}

func (t *tx) SigninRequest(ctx context.Context, key string, at time.Time, window time.Duration) (subjectauth.Limit, error) {
	l, err := scanLimit(t.row(ctx, "signinRequest", key, micros(at), micros(at.Add(-window))))
	if err != nil {
		return l, fmt.Errorf("signin request: %w", err)
	}
	return l, nil
}

func (t *tx) SigninFailure(ctx context.Context, key string, at time.Time, window time.Duration) (subjectauth.Limit, error) {
	l, err := scanLimit(t.row(ctx, "signinFailure", key, micros(at), micros(at.Add(-window))))
	if err != nil {
		return l, fmt.Errorf("signin failure: %w", err)
	}
	return l, nil
}

func (t *tx) LockSignin(ctx context.Context, key string, until time.Time) error {
	if _, err := t.exec(ctx, "lockSignin", key, microsOrZero(until)); err != nil {
		return fmt.Errorf("lock signin: %w", err)
	}
	return nil
}

func (t *tx) SigninLimit(ctx context.Context, key string) (subjectauth.Limit, error) {
	l, err := scanLimit(t.row(ctx, "signinLimit", key))
	if errors.Is(err, sql.ErrNoRows) {
		return subjectauth.Limit{}, nil
	}
	if err != nil {
		return l, fmt.Errorf("signin limit: %w", err)
	}
	return l, nil
}

func (t *tx) PutSubjectSession(ctx context.Context, s *subjectauth.Session) error {
	_, err := t.exec(ctx, "putSubjectSession", s.Hash, s.Subject, s.Method, micros(s.Created), micros(s.LastSeen), micros(s.Expires), s.Origin, s.UserAgent)
	if err != nil {
		if isConstraint(err) {
			return fmt.Errorf("put subject session: %w", store.ErrConflict)
		}
		return fmt.Errorf("put subject session: %w", err)
	}
	return nil
}

func (t *tx) GetSubjectSession(ctx context.Context, hash []byte) (*subjectauth.Session, error) {
	s := &subjectauth.Session{Hash: hash}
	var created, seen, expires int64
	err := t.row(ctx, "getSubjectSession", hash).Scan(&s.Subject, &s.Method, &created, &seen, &expires, &s.Origin, &s.UserAgent)
	if err != nil {
		return nil, notFound(err, "get subject session")
	}
	s.Created, s.LastSeen, s.Expires = fromMicros(created), fromMicros(seen), fromMicros(expires)
	return s, nil
}

func (t *tx) TouchSubjectSession(ctx context.Context, hash []byte, at time.Time) error {
	return t.updateOne(ctx, "touchSubjectSess", micros(at), hash)
}

func (t *tx) DeleteSubjectSession(ctx context.Context, hash []byte) error {
	if _, err := t.exec(ctx, "deleteSubjectSess", hash); err != nil {
		return fmt.Errorf("delete subject session: %w", err)
	}
	return nil
}

func (t *tx) DeleteSubjectSessions(ctx context.Context, subject string) (int, error) {
	res, err := t.exec(ctx, "deleteSubjectAll", subject)
	if err != nil {
		return 0, fmt.Errorf("delete subject sessions: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func (t *tx) PurgeSignin(ctx context.Context, before time.Time, limit int) (int, error) {
	var total int64
	for _, q := range []string{"purgeSigninCodes", "purgeSubjectSess", "purgeSigninLimits"} {
		res, err := t.exec(ctx, q, micros(before), limit)
		if err != nil {
			return int(total), fmt.Errorf("purge signin: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return int(total), nil
}
