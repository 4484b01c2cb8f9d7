package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/coffre/coffre/internal/audit"
)

func (t *tx) PutEpoch(ctx context.Context, ep *audit.Epoch) error {
	return t.insertOne(ctx, fmt.Sprintf("put epoch %d", ep.Number), `INSERT INTO audit_epochs (number, first_seq, last_seq, opened_at, closed_at, root) VALUES ($1, $2, $3, $4, $5, $6)`,
		ep.Number, ep.First, ep.Last, micros(ep.Opened), micros(ep.Closed), ep.Root)
}

func (t *tx) ListEpochs(ctx context.Context) ([]audit.Epoch, error) {
	rows, err := t.q.Query(ctx, `SELECT number, first_seq, last_seq, opened_at, closed_at, root, deleted_at FROM audit_epochs ORDER BY number`)
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
	return t.execOne(ctx, fmt.Sprintf("mark epoch %d deleted", number), `UPDATE audit_epochs SET deleted_at = $1 WHERE number = $2`, micros(at), number)
}

func (t *tx) DeleteAudit(ctx context.Context, last int64, limit int) (int, error) {
	n, err := t.exec(ctx, "delete audit entries", `DELETE FROM audit WHERE seq IN (SELECT seq FROM audit WHERE seq <= $1 ORDER BY seq LIMIT $2)`, last, limit)
	return int(n), err
}

func (t *tx) DeleteSubjectIndex(ctx context.Context, last int64, subject string, seq int64, limit int) (string, int64, int, error) {
	rows, err := t.q.Query(ctx, `SELECT subject, seq FROM subject_index WHERE (subject, seq) > ($1, $2) ORDER BY subject, seq LIMIT $3`, subject, seq, limit)
	if err != nil {
		return "", 0, 0, fmt.Errorf("delete subject index: %w", err)
	}
	var subjects []string
	var seqs []int64
	for rows.Next() {
		var s string
		var q int64
		if err := rows.Scan(&s, &q); err != nil {
			rows.Close()
			return "", 0, 0, fmt.Errorf("delete subject index: %w", err)
		}
		subjects, seqs = append(subjects, s), append(seqs, q)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", 0, 0, fmt.Errorf("delete subject index: %w", err)
	}
	if len(seqs) == 0 {
		return "", 0, 0, nil
	}
	n, err := t.exec(ctx, "delete subject index",
		`DELETE FROM subject_index WHERE (subject, seq) IN (SELECT * FROM unnest($1::text[], $2::bigint[])) AND seq <= $3`, subjects, seqs, last)
	if err != nil {
		return "", 0, 0, err
	}
	return subjects[len(subjects)-1], seqs[len(seqs)-1], int(n), nil
}

func (t *tx) DeleteTiles(ctx context.Context, index bool, level uint, below uint64, limit int) (int, error) {
	table := "tiles"
	if index {
		table = "index_tiles"
	}
	n, err := t.exec(ctx, "delete tiles", `DELETE FROM `+table+` WHERE (level, idx) IN (SELECT level, idx FROM `+table+` WHERE level = $1 AND idx < $2 LIMIT $3)`,
		int64(level), int64(below), limit)
	return int(n), err
}

func (t *tx) TrimCheckpoints(ctx context.Context, after, upTo uint64, limit int) (uint64, int, error) {
	rows, err := t.q.Query(ctx, `UPDATE checkpoints SET leaves = ''::bytea WHERE size IN (SELECT size FROM checkpoints WHERE size > $1 AND size <= $2 AND length(leaves) > 0 ORDER BY size LIMIT $3) RETURNING size`,
		int64(after), int64(upTo), limit)
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
	rows, err := t.q.Query(ctx, `SELECT subject, prev FROM subject_index WHERE seq >= $1 AND prev > 0 AND prev < $1`, from)
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
