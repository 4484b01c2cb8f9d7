package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/store"
)

func (t *tx) PutEpoch(ctx context.Context, ep *audit.Epoch) error {
	res, err := t.exec(ctx, "putEpoch", ep.Number, ep.First, ep.Last, micros(ep.Opened), micros(ep.Closed), ep.Root)
	if err != nil {
		return fmt.Errorf("put epoch: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("put epoch %d: %w", ep.Number, store.ErrConflict)
	}
	return nil
}

func (t *tx) ListEpochs(ctx context.Context) ([]audit.Epoch, error) {
	rows, err := t.rows(ctx, "epochs")
	if err != nil {
		return nil, fmt.Errorf("epochs: %w", err)
	}
	defer rows.Close()
	var out []audit.Epoch
	for rows.Next() {
		var ep audit.Epoch
		var opened, closed, deleted int64
		if err := rows.Scan(&ep.Number, &ep.First, &ep.Last, &opened, &closed, &ep.Root, &deleted); err != nil {
			return nil, fmt.Errorf("epochs: %w", err)
		}
		ep.Opened, ep.Closed, ep.Deleted = fromMicros(opened), fromMicros(closed), zeroOrMicros(deleted)
		out = append(out, ep)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("epochs: %w", err)
	}
	return out, nil
}

func (t *tx) MarkEpochDeleted(ctx context.Context, number int64, at time.Time) error {
	res, err := t.exec(ctx, "markEpochDeleted", micros(at), number)
	if err != nil {
		return fmt.Errorf("mark epoch deleted: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("mark epoch %d deleted: %w", number, store.ErrNotFound)
	}
	return nil
}

func (t *tx) DeleteAudit(ctx context.Context, last int64, limit int) (int, error) {
	res, err := t.exec(ctx, "deleteAudit", last, limit)
	if err != nil {
		return 0, fmt.Errorf("delete audit entries: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil // the newest entries stay: the next number is unchanged
}

func (t *tx) DeleteSubjectIndex(ctx context.Context, last int64, subject string, seq int64, limit int) (string, int64, int, error) {
	rows, err := t.rows(ctx, "subjectIndexAfter", subject, seq, limit)
	if err != nil {
		return "", 0, 0, fmt.Errorf("delete subject index: %w", err)
	}
	type key struct {
		subject string
		seq     int64
	}
	var keys []key
	for rows.Next() {
		var k key
		if err := rows.Scan(&k.subject, &k.seq); err != nil {
			rows.Close()
			return "", 0, 0, fmt.Errorf("delete subject index: %w", err)
		}
		keys = append(keys, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", 0, 0, fmt.Errorf("delete subject index: %w", err)
	}
	if len(keys) == 0 {
		return "", 0, 0, nil
	}
	n := 0
	for _, k := range keys {
		if k.seq > last {
			continue
		}
		if _, err := t.exec(ctx, "deleteIndexRow", k.subject, k.seq); err != nil {
			return "", 0, 0, fmt.Errorf("delete subject index: %w", err)
		}
		n++
	}
	end := keys[len(keys)-1]
	return end.subject, end.seq, n, nil
}

func (t *tx) DeleteTiles(ctx context.Context, index bool, level uint, below uint64, limit int) (int, error) {
	q := "deleteTiles"
	if index {
		q = "deleteIndexTiles"
	}
	res, err := t.exec(ctx, q, int64(level), int64(below), limit)
	if err != nil {
		return 0, fmt.Errorf("delete tiles: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

func (t *tx) TrimCheckpoints(ctx context.Context, after, upTo uint64, limit int) (uint64, int, error) {
	rows, err := t.rows(ctx, "trimCheckpoints", int64(after), int64(upTo), limit)
	if err != nil {
		return after, 0, fmt.Errorf("trim checkpoints: %w", err)
	}
	defer rows.Close()
	last, n := after, 0
	for rows.Next() {
		var size int64
		if err := rows.Scan(&size); err != nil {
			return after, 0, fmt.Errorf("trim checkpoints: %w", err)
		}
		last, n = max(last, uint64(size)), n+1
	}
	if err := rows.Err(); err != nil {
		return after, 0, fmt.Errorf("trim checkpoints: %w", err)
	}
	return last, n, nil
}

func (t *tx) SubjectLinks(ctx context.Context, from int64) (map[string]int64, error) {
	rows, err := t.rows(ctx, "subjectLinks", from)
	if err != nil {
		return nil, fmt.Errorf("subject links: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var s string
		var prev int64
		if err := rows.Scan(&s, &prev); err != nil {
			return nil, fmt.Errorf("subject links: %w", err)
		}
		out[s] = prev
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("subject links: %w", err)
	}
	return out, nil
}
