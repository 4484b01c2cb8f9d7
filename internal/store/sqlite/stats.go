package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

func (t *tx) AddCounts(ctx context.Context, set string, deltas map[string]int64) error {
	for _, cell := range slices.Sorted(maps.Keys(deltas)) {
		if d := deltas[cell]; d != 0 {
			if _, err := t.exec(ctx, "addCount", set, cell, d); err != nil {
				return fmt.Errorf("add counts: %w", err)
			}
		}
	}
	return nil
}

func (t *tx) Counts(ctx context.Context, set string) (map[string]int64, error) {
	rows, err := t.rows(ctx, "counts", set)
	if err != nil {
		return nil, fmt.Errorf("counts: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var cell string
		var n int64
		if err := rows.Scan(&cell, &n); err != nil {
			return nil, fmt.Errorf("counts: %w", err)
		}
		out[cell] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("counts: %w", err)
	}
	return out, nil
}

func (t *tx) ReplaceCounts(ctx context.Context, set string, counts map[string]int64) error {
	if _, err := t.exec(ctx, "clearCounts", set); err != nil {
		return fmt.Errorf("replace counts: %w", err)
	}
	return t.AddCounts(ctx, set, counts)
}

func (t *tx) CountsVersion(ctx context.Context) (string, error) {
	var v string
	switch err := t.row(ctx, "countsVersion").Scan(&v); {
	case errors.Is(err, sql.ErrNoRows):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("counts version: %w", err)
	}
	return v, nil
}

func (t *tx) SetCountsVersion(ctx context.Context, version string) error {
	if _, err := t.exec(ctx, "setVersion", version); err != nil {
		return fmt.Errorf("set counts version: %w", err)
	}
	return nil
}

func (t *tx) SpendBudget(ctx context.Context, analyst string, period time.Time, cost, limit int64) (int64, bool, error) {
	if _, err := t.exec(ctx, "openBudget", analyst, period.Unix()); err != nil {
		return 0, false, fmt.Errorf("spend budget: %w", err)
	}
	var spent int64
	switch err := t.row(ctx, "spendBudget", analyst, period.Unix(), cost, limit).Scan(&spent); {
	case errors.Is(err, sql.ErrNoRows):
		spent, err = t.BudgetSpent(ctx, analyst, period)
		return spent, false, err
	case err != nil:
		return 0, false, fmt.Errorf("spend budget: %w", err)
	}
	return spent, true, nil
}

func (t *tx) BudgetSpent(ctx context.Context, analyst string, period time.Time) (int64, error) {
	var spent int64
	switch err := t.row(ctx, "budgetSpent", analyst, period.Unix()).Scan(&spent); {
	case errors.Is(err, sql.ErrNoRows):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("budget spent: %w", err)
	}
	return spent, nil
}
