package postgres

import (
	"context"
	"time"

	"github.com/coffre/coffre/internal/identity"
)

func (t *tx) PutEnrolment(ctx context.Context, e *identity.Enrolment) error {
	return t.execOne(ctx, "put enrolment", `INSERT INTO enrolments (operator, requested_by, created, approved_by, code_hash, expires)
		SELECT $1::text, $2::text, $3::bigint, $4::text, $5::bytea, $6::bigint WHERE EXISTS (SELECT 1 FROM operators WHERE id = $1)
		ON CONFLICT (operator) DO UPDATE SET requested_by = excluded.requested_by, created = excluded.created,
		approved_by = excluded.approved_by, code_hash = excluded.code_hash, expires = excluded.expires`,
		e.Operator, e.RequestedBy, micros(e.Created), e.ApprovedBy, e.CodeHash, microsOrZero(e.Expires))
}

func (t *tx) GetEnrolment(ctx context.Context, operator string) (*identity.Enrolment, error) {
	e := &identity.Enrolment{}
	var created, expires int64
	err := t.q.QueryRow(ctx, `SELECT operator, requested_by, created, approved_by, code_hash, expires FROM enrolments WHERE operator = $1`, operator).
		Scan(&e.Operator, &e.RequestedBy, &created, &e.ApprovedBy, &e.CodeHash, &expires)
	if err != nil {
		return nil, notFound(err, "get enrolment")
	}
	e.Created, e.Expires = fromMicros(created), zeroOrMicros(expires)
	return e, nil
}

func (t *tx) ApproveEnrolment(ctx context.Context, operator, approver string, codeHash []byte, expires time.Time) error {
	return t.execOne(ctx, "approve enrolment", `UPDATE enrolments SET approved_by = $1, code_hash = $2, expires = $3 WHERE operator = $4 AND approved_by = ''`,
		approver, codeHash, micros(expires), operator)
}

func (t *tx) SpendEnrolment(ctx context.Context, operator string, codeHash []byte, at time.Time) (bool, error) {
	n, err := t.exec(ctx, "spend enrolment", `DELETE FROM enrolments WHERE operator = $1 AND approved_by <> '' AND code_hash = $2 AND expires > $3`, operator, codeHash, micros(at))
	return n == 1, err
}

func (t *tx) SetCredentials(ctx context.Context, id, passwordHash string, totpSecret []byte) error {
	return t.execOne(ctx, "set credentials", `UPDATE operators SET password_hash = $1, totp_secret = $2 WHERE id = $3`, passwordHash, totpSecret, id)
}

func (t *tx) ClearFactors(ctx context.Context, id string) error {
	if _, err := t.exec(ctx, "clear factors", `DELETE FROM webauthn_credentials WHERE operator = $1`, id); err != nil {
		return err
	}
	_, err := t.exec(ctx, "clear factors", `DELETE FROM recovery_codes WHERE operator = $1`, id)
	return err
}
