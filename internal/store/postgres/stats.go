package postgres

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// AddCounts upserts the cells in one statement, in cell order: two
// transactions adding to the same cells lock them in the same order.
func (t *tx) AddCounts(ctx context.Context, set string, deltas map[string]int64) error {
	cells := make([]string, 0, len(deltas))
	for _, c := range slices.Sorted(maps.Keys(deltas)) {
		if deltas[c] != 0 {
			cells = append(cells, c)
		}
	}
	if len(cells) == 0 {
		return nil
	}
	ns := make([]int64, len(cells))
	for i, c := range cells {
		ns[i] = deltas[c]
	}
	_, err := t.q.Exec(ctx, `INSERT INTO stat_cells (cellset, cell, count)
		SELECT $1, c, n FROM unnest($2::text[], $3::bigint[]) AS u(c, n) ORDER BY c COLLATE "C"
		ON CONFLICT (cellset, cell) DO UPDATE SET count = stat_cells.count + excluded.count`, set, cells, ns)
	if err != nil {
		return fmt.Errorf("add counts: %w", err)
	}
	return nil
}

func (t *tx) Counts(ctx context.Context, set string) (map[string]int64, error) {
	rows, err := t.q.Query(ctx, `SELECT cell, count FROM stat_cells WHERE cellset = $1`, set)
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
	if _, err := t.q.Exec(ctx, `DELETE FROM stat_cells WHERE cellset = $1`, set); err != nil {
		return fmt.Errorf("replace counts: %w", err)
	}
	return t.AddCounts(ctx, set, counts)
}

func (t *tx) CountsVersion(ctx context.Context) (string, error) {
	var v string
	switch err := t.q.QueryRow(ctx, `SELECT version FROM stat_version`).Scan(&v); {
	case errors.Is(err, pgx.ErrNoRows):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("counts version: %w", err)
	}
	return v, nil
}

func (t *tx) SetCountsVersion(ctx context.Context, version string) error {
	_, err := t.q.Exec(ctx, `INSERT INTO stat_version (one, version) VALUES (1, $1) ON CONFLICT (one) DO UPDATE SET version = excluded.version`, version)
	if err != nil {
		return fmt.Errorf("set counts version: %w", err)
	}
	return nil
}

// SpendBudget makes the period's row, then charges it with a conditional
// UPDATE: the row's lock serialises concurrent charges, and the condition
// is checked again on the row as it stands once the lock is taken.
func (t *tx) SpendBudget(ctx context.Context, analyst string, period time.Time, cost, limit int64) (int64, bool, error) {
	if _, err := t.q.Exec(ctx, `INSERT INTO stat_budgets (analyst, period, spent) VALUES ($1, $2, 0) ON CONFLICT DO NOTHING`, analyst, period.Unix()); err != nil {
		return 0, false, fmt.Errorf("spend budget: %w", err)
	}
	var spent int64
	err := t.q.QueryRow(ctx, `UPDATE stat_budgets SET spent = spent + $3 WHERE analyst = $1 AND period = $2 AND spent + $3 <= $4 RETURNING spent`,
		analyst, period.Unix(), cost, limit).Scan(&spent)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		spent, err = t.BudgetSpent(ctx, analyst, period)
		return spent, false, err
	case err != nil:
		return 0, false, fmt.Errorf("spend budget: %w", err)
	}
	return spent, true, nil
}

func (t *tx) BudgetSpent(ctx context.Context, analyst string, period time.Time) (int64, error) {
	var spent int64
	switch err := t.q.QueryRow(ctx, `SELECT spent FROM stat_budgets WHERE analyst = $1 AND period = $2`, analyst, period.Unix()).Scan(&spent); {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("budget spent: %w", err)
	}
	return spent, nil
}
