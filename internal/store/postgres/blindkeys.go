package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/coffre/coffre/internal/reindex"
	"github.com/coffre/coffre/internal/subject"
	"github.com/jackc/pgx/v5"
)

func (t *tx) BlindKeys(ctx context.Context) ([]reindex.Gen, error) {
	rows, err := t.q.Query(ctx, `SELECT gen, sealed, state, created, changed, cursor, added, done FROM blind_keys ORDER BY gen`)
	if err != nil {
		return nil, fmt.Errorf("blind keys: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (reindex.Gen, error) {
		var g reindex.Gen
		var gen, created, changed, done int64
		err := r.Scan(&gen, &g.Sealed, &g.State, &created, &changed, &g.Cursor, &g.Added, &done)
		g.Gen = uint32(gen)
		g.Created, g.Changed, g.Done = zeroOrMicros(created), zeroOrMicros(changed), zeroOrMicros(done)
		return g, err
	})
	if err != nil {
		return nil, fmt.Errorf("blind keys: %w", err)
	}
	return out, nil
}

func (t *tx) PutBlindKey(ctx context.Context, g reindex.Gen) error {
	_, err := t.exec(ctx, "put blind key", `INSERT INTO blind_keys (gen, sealed, state, created, changed, cursor, added, done) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (gen) DO UPDATE SET sealed = $2, state = $3, created = $4, changed = $5, cursor = $6, added = $7, done = $8`,
		int64(g.Gen), g.Sealed, g.State, microsOrZero(g.Created), microsOrZero(g.Changed), g.Cursor, g.Added, microsOrZero(g.Done))
	return err
}

func (t *tx) LiveSubjects(ctx context.Context, after int64, limit int) ([]*subject.Row, error) {
	rows, err := t.q.Query(ctx, `SELECT seq, id, unit, dek, dek_version, fields, created, updated, `+activeColumn+`, canary FROM subjects WHERE seq > $1 AND NOT erased AND dek IS NOT NULL ORDER BY seq LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("live subjects: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*subject.Row, error) {
		s := &subject.Row{}
		var id *string
		var version, created, updated, active int64
		err := r.Scan(&s.Seq, &id, &s.Unit, &s.DEK, &version, &s.Fields, &created, &updated, &active, &s.Canary)
		s.DEKVersion = uint32(version)
		s.Created, s.Updated, s.Active = fromMicros(created), fromMicros(updated), zeroOrMicros(active)
		if id != nil {
			s.ID = *id
		} else {
			s.ID = t.ids.ID(s.Seq)
		}
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("live subjects: %w", err)
	}
	return out, nil
}

// AddIndexes locks the subject's row (FOR SHARE) before it inserts: an
// update or erasure that changed the row first makes it wait and then
// find the row changed; one that comes after waits for this transaction
// and then deletes what it added. The vault writes the row before its
// index entries for this reason.
func (t *tx) AddIndexes(ctx context.Context, gen uint32, seq int64, fields []byte, hashes [][]byte) (int64, bool, error) {
	keys := make([][subject.HashLen]byte, len(hashes))
	for i, h := range hashes {
		var err error
		if keys[i], err = hashKey(h); err != nil {
			return 0, false, fmt.Errorf("add indexes: %w", err)
		}
	}
	var one int
	err := t.q.QueryRow(ctx, `SELECT 1 FROM subjects WHERE seq = $1 AND NOT erased AND fields = $2 FOR SHARE`, seq, fields).Scan(&one)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, false, nil
	case err != nil:
		return 0, false, fmt.Errorf("add indexes: %w", err)
	}
	n, err := t.exec(ctx, "add indexes", `INSERT INTO lookup (hash, subject, gen) SELECT h, $2, $3 FROM unnest($1::uuid[]) AS h ON CONFLICT DO NOTHING`, keys, seq, int64(gen))
	if err != nil {
		return 0, false, err
	}
	return n, true, nil
}

func (t *tx) DropIndexes(ctx context.Context, gen uint32, limit int) (int64, error) {
	return t.exec(ctx, "drop indexes", `DELETE FROM lookup WHERE ctid IN (SELECT ctid FROM lookup WHERE gen = $1 LIMIT $2)`, int64(gen), limit)
}

func (t *tx) IndexGens(ctx context.Context) (map[uint32]int64, error) {
	rows, err := t.q.Query(ctx, `SELECT gen, count(*) FROM lookup GROUP BY gen`)
	if err != nil {
		return nil, fmt.Errorf("index generations: %w", err)
	}
	out := map[uint32]int64{}
	var gen, n int64
	_, err = pgx.ForEachRow(rows, []any{&gen, &n}, func() error {
		out[uint32(gen)] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("index generations: %w", err)
	}
	return out, nil
}
