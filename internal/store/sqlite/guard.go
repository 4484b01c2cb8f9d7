package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/vault"
)

func (t *tx) GetGuard(ctx context.Context, operator string) ([]byte, error) {
	var b []byte
	err := t.row(ctx, "getGuard", operator).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get guard state: %w", err)
	}
	return b, nil
}

func (t *tx) PutGuard(ctx context.Context, operator string, state []byte) error {
	if _, err := t.exec(ctx, "putGuard", operator, state); err != nil {
		return fmt.Errorf("put guard state: %w", err)
	}
	return nil
}

func (t *tx) InCaseload(ctx context.Context, operator, subject string) (bool, error) {
	var one int
	err := t.row(ctx, "inCaseload", operator, subject).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("caseload: %w", err)
	}
	return true, nil
}

func (t *tx) AssignCaseload(ctx context.Context, operator string, subjects []string) error {
	for _, s := range subjects {
		if _, err := t.exec(ctx, "assignCaseload", operator, s); err != nil {
			return fmt.Errorf("assign caseload: %w", err)
		}
	}
	return nil
}

func (t *tx) GetCanary(ctx context.Context, subject string) (string, error) {
	var partner string
	if err := t.row(ctx, "getCanary", subject).Scan(&partner); err != nil {
		return "", notFound(err, "get canary")
	}
	return partner, nil
}

func (t *tx) PutCanary(ctx context.Context, subject, partner string, at time.Time) error {
	_, err := t.exec(ctx, "putCanary", subject, partner, micros(at))
	if isConstraint(err) {
		return fmt.Errorf("put canary: %w", vault.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("put canary: %w", err)
	}
	return nil
}

func (t *tx) LockOperator(ctx context.Context, id, code string, at time.Time) error {
	res, err := t.exec(ctx, "lockOperator", code, micros(at), id)
	if err != nil {
		return fmt.Errorf("lock operator: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("lock operator: %w", vault.ErrNotFound)
	}
	return nil
}

func (t *tx) PutAlert(ctx context.Context, a *vault.Alert) error {
	ev := make([]string, len(a.Evidence))
	for i, s := range a.Evidence {
		ev[i] = strconv.FormatInt(s, 10)
	}
	res, err := t.exec(ctx, "putAlert", micros(a.Time), a.Operator, a.Code, a.Severity, a.Action, strings.Join(ev, ","))
	if err != nil {
		return fmt.Errorf("put alert: %w", err)
	}
	a.ID, err = res.LastInsertId()
	return err
}

func (t *tx) Alerts(ctx context.Context, after int64, limit int) ([]vault.Alert, error) {
	rows, err := t.rows(ctx, "alerts", after, limit)
	if err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	defer rows.Close()
	var out []vault.Alert
	for rows.Next() {
		var a vault.Alert
		var ts int64
		var ev string
		if err := rows.Scan(&a.ID, &ts, &a.Operator, &a.Code, &a.Severity, &a.Action, &ev); err != nil {
			return nil, fmt.Errorf("alerts: %w", err)
		}
		a.Time = fromMicros(ts)
		a.Evidence = []int64{}
		for f := range strings.SplitSeq(ev, ",") {
			if n, err := strconv.ParseInt(f, 10, 64); err == nil {
				a.Evidence = append(a.Evidence, n)
			}
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

func (t *tx) PutOutbox(ctx context.Context, kind string, payload []byte, at time.Time) error {
	if _, err := t.exec(ctx, "putOutbox", micros(at), kind, payload); err != nil {
		return fmt.Errorf("put outbox: %w", err)
	}
	return nil
}

func (t *tx) PutExtension(ctx context.Context, e *vault.Extension) error {
	_, err := t.exec(ctx, "putExtension", e.ID, e.Operator, e.Unit, e.Subjects, e.Hours, e.Reason, micros(e.Created))
	if isConstraint(err) {
		return fmt.Errorf("put extension: %w", vault.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("put extension: %w", err)
	}
	return nil
}

func (t *tx) GetExtension(ctx context.Context, id string) (*vault.Extension, error) {
	e := &vault.Extension{}
	var created, approved int64
	err := t.row(ctx, "getExtension", id).Scan(&e.ID, &e.Operator, &e.Unit, &e.Subjects, &e.Hours, &e.Reason, &created, &e.ApprovedBy, &approved)
	if err != nil {
		return nil, notFound(err, "get extension")
	}
	e.Created = fromMicros(created)
	if e.ApprovedBy != "" {
		e.ApprovedAt = fromMicros(approved)
	}
	return e, nil
}

func (t *tx) ApproveExtension(ctx context.Context, id, by string, at time.Time) error {
	res, err := t.exec(ctx, "approveExtension", by, micros(at), id)
	if err != nil {
		return fmt.Errorf("approve extension: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := t.GetExtension(ctx, id); err != nil {
			return fmt.Errorf("approve extension: %w", err)
		}
		return fmt.Errorf("approve extension: already approved: %w", vault.ErrConflict)
	}
	return nil
}
