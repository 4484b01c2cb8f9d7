package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/coffre/coffre/internal/identity"
)

func (t *tx) PutEnrolment(ctx context.Context, e *identity.Enrolment) error {
	return t.updateOne(ctx, "putEnrolment", e.Operator, e.RequestedBy, micros(e.Created), e.ApprovedBy, e.CodeHash, microsOrZero(e.Expires))
}

func (t *tx) GetEnrolment(ctx context.Context, operator string) (*identity.Enrolment, error) {
	e := &identity.Enrolment{}
	var created, expires int64
	err := t.row(ctx, "getEnrolment", operator).Scan(&e.Operator, &e.RequestedBy, &created, &e.ApprovedBy, &e.CodeHash, &expires)
	if err != nil {
		return nil, notFound(err, "get enrolment")
	}
	e.Created, e.Expires = fromMicros(created), zeroOrMicros(expires)
	return e, nil
}

func (t *tx) ApproveEnrolment(ctx context.Context, operator, approver string, codeHash []byte, expires time.Time) error {
	return t.updateOne(ctx, "approveEnrolment", approver, codeHash, micros(expires), operator)
}

func (t *tx) SpendEnrolment(ctx context.Context, operator string, codeHash []byte, at time.Time) (bool, error) {
	res, err := t.exec(ctx, "spendEnrolment", operator, codeHash, micros(at))
	if err != nil {
		return false, fmt.Errorf("spend enrolment: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("spend enrolment: %w", err)
	}
	return n == 1, nil
}

func (t *tx) SetCredentials(ctx context.Context, id, passwordHash string, totpSecret []byte) error {
	return t.updateOne(ctx, "setCredentials", passwordHash, totpSecret, id)
}

func (t *tx) ClearFactors(ctx context.Context, id string) error {
	if _, err := t.exec(ctx, "eraseWebAuthn", id); err != nil {
		return fmt.Errorf("clear factors: %w", err)
	}
	if _, err := t.exec(ctx, "deleteRecovery", id); err != nil {
		return fmt.Errorf("clear factors: %w", err)
	}
	return nil
}
