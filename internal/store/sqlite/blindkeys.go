package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/coffre/coffre/internal/reindex"
	"github.com/coffre/coffre/internal/subject"
)

func (t *tx) BlindKeys(ctx context.Context) ([]reindex.Gen, error) {
	rows, err := t.rows(ctx, "blindKeys")
	if err != nil {
		return nil, fmt.Errorf("blind keys: %w", err)
	}
	defer rows.Close()
	var out []reindex.Gen
	for rows.Next() {
		var g reindex.Gen
		var created, changed, done int64
		if err := rows.Scan(&g.Gen, &g.Sealed, &g.State, &created, &changed, &g.Cursor, &g.Added, &done); err != nil {
			return nil, fmt.Errorf("blind keys: %w", err)
		}
		g.Created, g.Changed, g.Done = zeroOrMicros(created), zeroOrMicros(changed), zeroOrMicros(done)
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("blind keys: %w", err)
	}
	return out, nil
}

func (t *tx) PutBlindKey(ctx context.Context, g reindex.Gen) error {
	if _, err := t.exec(ctx, "putBlindKey", g.Gen, g.Sealed, g.State, microsOrZero(g.Created), microsOrZero(g.Changed), g.Cursor, g.Added, microsOrZero(g.Done)); err != nil {
		return fmt.Errorf("put blind key: %w", err)
	}
	return nil
}

func (t *tx) LiveSubjects(ctx context.Context, after int64, limit int) ([]*subject.Row, error) {
	rows, err := t.rows(ctx, "liveSubjects", after, limit)
	if err != nil {
		return nil, fmt.Errorf("live subjects: %w", err)
	}
	defer rows.Close()
	var out []*subject.Row
	for rows.Next() {
		r := &subject.Row{}
		var id sql.NullString
		var created int64
		if err := rows.Scan(&r.Seq, &id, &r.Unit, &r.DEK, &r.DEKVersion, &r.Fields, &created, &r.Canary); err != nil {
			return nil, fmt.Errorf("live subjects: %w", err)
		}
		r.Created = fromMicros(created)
		if id.Valid {
			r.ID = id.String
		} else {
			r.ID = t.ids.ID(r.Seq)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("live subjects: %w", err)
	}
	return out, nil
}

// AddIndexes needs no row lock: SQLite has one writer, so nothing
// changes the subject between the check and the insert.
func (t *tx) AddIndexes(ctx context.Context, gen uint32, seq int64, fields []byte, hashes [][]byte) (int64, bool, error) {
	var one int
	switch err := t.row(ctx, "sameFields", seq, fields).Scan(&one); {
	case errors.Is(err, sql.ErrNoRows):
		return 0, false, nil
	case err != nil:
		return 0, false, fmt.Errorf("add indexes: %w", err)
	}
	var added int64
	for _, h := range hashes {
		res, err := t.exec(ctx, "addIndex", h, seq, gen)
		if err != nil {
			return added, false, fmt.Errorf("add indexes: %w", err)
		}
		n, _ := res.RowsAffected()
		added += n
	}
	return added, true, nil
}

func (t *tx) DropIndexes(ctx context.Context, gen uint32, limit int) (int64, error) {
	res, err := t.exec(ctx, "dropIndexes", gen, limit)
	if err != nil {
		return 0, fmt.Errorf("drop indexes: %w", err)
	}
	return res.RowsAffected()
}

func (t *tx) IndexGens(ctx context.Context) (map[uint32]int64, error) {
	rows, err := t.rows(ctx, "indexGens")
	if err != nil {
		return nil, fmt.Errorf("index generations: %w", err)
	}
	defer rows.Close()
	out := map[uint32]int64{}
	for rows.Next() {
		var g uint32
		var n int64
		if err := rows.Scan(&g, &n); err != nil {
			return nil, fmt.Errorf("index generations: %w", err)
		}
		out[g] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("index generations: %w", err)
	}
	return out, nil
}
