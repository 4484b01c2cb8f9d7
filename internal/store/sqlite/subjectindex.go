package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/store"
)

var _ audit.SubjectIndex = (*tx)(nil)

// subjectIndexRows per multi-row statement: 4 parameters each.
const subjectIndexRows = 1024

// SubjectHeads looks the subjects up in one statement (a JSON array of
// them), one descent of the primary key each, rather than a statement per
// subject: a step names up to 20,000.
func (t *tx) SubjectHeads(ctx context.Context, size uint64, subjects []string) (map[string]int64, error) {
	out := make(map[string]int64, len(subjects))
	if len(subjects) == 0 {
		return out, nil
	}
	list, err := json.Marshal(subjects)
	if err != nil {
		return nil, fmt.Errorf("subject heads: %w", err)
	}
	rows, err := t.rows(ctx, "subjectHeads", string(list), int64(min(size, 1<<62)))
	if err != nil {
		return nil, fmt.Errorf("subject heads: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		var seq sql.NullInt64
		if err := rows.Scan(&s, &seq); err != nil {
			return nil, fmt.Errorf("subject heads: %w", err)
		}
		if seq.Valid {
			out[s] = seq.Int64
		}
	}
	return out, rows.Err()
}

func (t *tx) PutSubjectIndex(ctx context.Context, from uint64, entries []audit.IndexEntry) error {
	if len(entries) == 0 {
		return nil
	}
	// In key order: each page of the primary key is visited once, in turn,
	// rather than once per row in a random order.
	sorted := slices.Clone(entries)
	slices.SortFunc(sorted, func(a, b audit.IndexEntry) int {
		return cmp.Or(strings.Compare(a.Subject, b.Subject), cmp.Compare(a.Seq, b.Seq))
	})
	args := make([]any, 0, 4*len(entries))
	for _, e := range sorted {
		if e.Pos < from {
			return fmt.Errorf("put subject index: entry %d at position %d, below the signed size %d", e.Seq, e.Pos, from)
		}
		args = append(args, e.Subject, e.Seq, int64(e.Pos), e.Prev)
	}
	// A row written ahead of a checkpoint that did not commit (at from or
	// beyond) is replaced; a signed one is not, and is not counted. An
	// upsert cannot abort, so it needs no statement journal.
	n, err := t.bulkExec(ctx, "INSERT INTO subject_index (subject, seq, pos, prev) VALUES ", "(?, ?, ?, ?)",
		" ON CONFLICT (subject, seq) DO UPDATE SET pos = excluded.pos, prev = excluded.prev WHERE subject_index.pos >= ?",
		len(entries), subjectIndexRows, args, int64(min(from, 1<<62)))
	if err != nil {
		return fmt.Errorf("put subject index: %w", err)
	}
	if n != int64(len(entries)) {
		// The caller's transaction (or savepoint) fails, leaving nothing.
		return fmt.Errorf("put subject index: %d of %d written, the others are signed: %w", n, len(entries), store.ErrConflict)
	}
	return nil
}

func (t *tx) SubjectIndex(ctx context.Context, subject string, size uint64, limit int) ([]audit.IndexEntry, error) {
	rows, err := t.rows(ctx, "subjectIndex", subject, int64(min(size, 1<<62)), limit)
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
		if _, err := t.exec(ctx, "putIndexTile", int64(tl.ID.Level), int64(tl.ID.Index), tl.Hashes); err != nil {
			return fmt.Errorf("put index tile %d/%d: %w", tl.ID.Level, tl.ID.Index, err)
		}
	}
	return nil
}

func (t *tx) GetIndexTiles(ctx context.Context, ids []audit.TileID) (map[audit.TileID]audit.Tile, error) {
	return t.getTiles(ctx, "getIndexTile", "getIndexTiles", ids)
}
