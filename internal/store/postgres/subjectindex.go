package postgres

import (
	"context"
	"fmt"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/store"
)

var _ audit.SubjectIndex = (*tx)(nil)

func (t *tx) SubjectHeads(ctx context.Context, size uint64, subjects []string) (map[string]int64, error) {
	out := make(map[string]int64, len(subjects))
	if len(subjects) == 0 {
		return out, nil
	}
	// One index descent per subject (the newest row the index log of size
	// $2 holds, by the primary key), not a scan of every entry of the
	// subjects named; rows a step wrote ahead of a checkpoint that did not
	// commit are skipped.
	rows, err := t.q.Query(ctx, `SELECT s, h FROM unnest($1::text[]) AS s,
		LATERAL (SELECT seq AS h FROM subject_index WHERE subject = s AND pos < $2 ORDER BY seq DESC LIMIT 1) m`, subjects, int64(min(size, 1<<62)))
	if err != nil {
		return nil, fmt.Errorf("subject heads: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		var seq int64
		if err := rows.Scan(&s, &seq); err != nil {
			return nil, fmt.Errorf("subject heads: %w", err)
		}
		out[s] = seq
	}
	return out, rows.Err()
}

func (t *tx) PutSubjectIndex(ctx context.Context, from uint64, entries []audit.IndexEntry) error {
	if len(entries) == 0 {
		return nil
	}
	subjects, seqs := make([]string, len(entries)), make([]int64, len(entries))
	pos, prev := make([]int64, len(entries)), make([]int64, len(entries))
	for i, e := range entries {
		if e.Pos < from {
			return fmt.Errorf("put subject index: entry %d at position %d, below the signed size %d", e.Seq, e.Pos, from)
		}
		subjects[i], seqs[i], pos[i], prev[i] = e.Subject, e.Seq, int64(e.Pos), e.Prev
	}
	// A row written ahead of a checkpoint that did not commit (at from or
	// beyond) is replaced; a signed one is not, and is not counted.
	n, err := t.exec(ctx, "put subject index", `INSERT INTO subject_index (subject, seq, pos, prev)
		SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[])
		ON CONFLICT (subject, seq) DO UPDATE SET pos = excluded.pos, prev = excluded.prev WHERE subject_index.pos >= $5`,
		subjects, seqs, pos, prev, int64(min(from, 1<<62)))
	if err != nil {
		return err
	}
	if n != int64(len(entries)) {
		// The caller's transaction fails, leaving nothing.
		return fmt.Errorf("put subject index: %d of %d written, the others are signed: %w", n, len(entries), store.ErrConflict)
	}
	return nil
}

func (t *tx) SubjectIndex(ctx context.Context, subject string, size uint64, limit int) ([]audit.IndexEntry, error) {
	rows, err := t.q.Query(ctx, `SELECT seq, pos, prev FROM subject_index WHERE subject = $1 AND pos < $2 ORDER BY seq DESC LIMIT $3`,
		subject, int64(min(size, 1<<62)), limit)
	if err != nil {
		return nil, fmt.Errorf("subject index: %w", err)
	}
	defer rows.Close()
	var out []audit.IndexEntry
	for rows.Next() {
		e := audit.IndexEntry{Subject: subject}
		var pos int64
		if err := rows.Scan(&e.Seq, &pos, &e.Prev); err != nil {
			return nil, fmt.Errorf("subject index: %w", err)
		}
		e.Pos = uint64(pos)
		out = append(out, e)
	}
	return out, rows.Err()
}

func (t *tx) PutIndexTiles(ctx context.Context, tiles []audit.Tile) error {
	for _, tl := range tiles {
		if _, err := t.exec(ctx, "put index tile", `INSERT INTO index_tiles (level, idx, hashes) VALUES ($1, $2, $3) ON CONFLICT (level, idx) DO UPDATE SET hashes = excluded.hashes`,
			int64(tl.ID.Level), int64(tl.ID.Index), tl.Hashes); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) GetIndexTiles(ctx context.Context, ids []audit.TileID) (map[audit.TileID]audit.Tile, error) {
	return t.getTiles(ctx, "index_tiles", ids)
}
