package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/subject"
)

// The import's bulk writes (subject.Bulk) are COPY statements: the rows
// stream to the server in 64 KiB messages as they are encoded, where a
// multi-row INSERT … unnest sends each column as one array parameter
// (tens of megabytes built, and grown, in memory first), and the server
// writes several heap rows per WAL record (heap_multi_insert) instead of
// one. COPY has no ON CONFLICT: a taken or repeated key fails the
// statement, which is what both methods report (ErrConflict).

// copier is a transaction, or a savepoint, that can COPY (pgx.Tx); the
// pool a View runs on is not one.
type copier interface {
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
	Begin(ctx context.Context) (pgx.Tx, error)
}

// copyTx returns the transaction's COPY, or an error in a View.
func (t *tx) copyTx(what string) (copier, error) {
	c, ok := t.q.(copier)
	if !ok || !t.write {
		return nil, fmt.Errorf("%s: not in an Update", what)
	}
	return c, nil
}

// copyErr maps a failed COPY's error: a unique violation is ErrConflict.
func copyErr(what string, err error) error {
	if isUnique(err) {
		return fmt.Errorf("%s: %w", what, store.ErrConflict)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// PutIndexes writes the entries with one COPY in a savepoint: a taken or
// repeated hash fails the COPY, the savepoint rolls back, and the
// transaction goes on without any of the entries (subject.Bulk's
// contract).
func (t *tx) PutIndexes(ctx context.Context, gen uint32, hashes [][]byte, subjects []string) error {
	if len(hashes) != len(subjects) {
		return fmt.Errorf("put indexes: %d hashes for %d subjects", len(hashes), len(subjects))
	}
	if len(hashes) == 0 {
		return nil
	}
	seqs := make([]int64, len(subjects))
	for i, id := range subjects {
		n, ok := t.ids.Seq(id)
		if !ok {
			return t.putIndexesOneByOne(ctx, gen, hashes, subjects)
		}
		seqs[i] = n
	}
	c, err := t.copyTx("put indexes")
	if err != nil {
		return err
	}
	if err := t.bulk(ctx); err != nil {
		return err
	}
	sp, err := c.Begin(ctx)
	if err != nil {
		return fmt.Errorf("put indexes: savepoint: %w", err)
	}
	g := int64(gen)
	row := make([]any, 3) // reused: pgx encodes a row before it asks for the next
	_, err = sp.CopyFrom(ctx, pgx.Identifier{"lookup"}, []string{"hash", "subject", "gen"},
		pgx.CopyFromSlice(len(hashes), func(i int) ([]any, error) {
			row[0], row[1], row[2] = hashes[i], seqs[i], g
			return row, nil
		}))
	if err != nil {
		if rerr := sp.Rollback(ctx); rerr != nil {
			return fmt.Errorf("put indexes: %w", errors.Join(err, rerr))
		}
		return copyErr("put indexes", err)
	}
	if err := sp.Commit(ctx); err != nil {
		return fmt.Errorf("put indexes: release savepoint: %w", err)
	}
	return nil
}

// putIndexesOneByOne is PutIndexes for subjects with ids given from
// elsewhere.
func (t *tx) putIndexesOneByOne(ctx context.Context, gen uint32, hashes [][]byte, subjects []string) error {
	for i := range hashes {
		err := t.PutIndex(ctx, gen, hashes[i], subjects[i])
		if errors.Is(err, store.ErrConflict) {
			for j := range i {
				seq, given := t.subject(subjects[j])
				if _, err := t.exec(ctx, "put indexes: undo", `DELETE FROM lookup WHERE hash = $3 AND subject = `+subjectSeq, seq, given, hashes[j]); err != nil {
					return err
				}
			}
			return fmt.Errorf("put indexes: %w", store.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("put indexes: %w", err)
		}
	}
	return nil
}

// PutSubjects writes the rows with one COPY. A taken id fails it, and
// with it the transaction (subject.Bulk's contract: the caller fails its
// transaction).
func (t *tx) PutSubjects(ctx context.Context, rows []*subject.Row) error {
	if len(rows) == 0 {
		return nil
	}
	c, err := t.copyTx("put subjects")
	if err != nil {
		return err
	}
	if err := t.bulk(ctx); err != nil {
		return err
	}
	seqs := make([]int64, len(rows))
	given := make([]*string, len(rows))
	for i, s := range rows {
		seq, g, err := t.newRow(ctx, s.ID)
		if err != nil {
			return fmt.Errorf("put subjects: %w", err)
		}
		seqs[i] = seq
		if g != nil {
			given[i] = &s.ID
		}
	}
	row := make([]any, 8)
	n, err := c.CopyFrom(ctx, pgx.Identifier{"subjects"}, []string{"seq", "id", "unit", "dek", "dek_version", "fields", "created", "updated"},
		pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
			s := rows[i]
			row[0], row[1], row[2], row[3] = seqs[i], given[i], s.Unit, s.DEK
			row[4], row[5], row[6], row[7] = int64(s.DEKVersion), s.Fields, micros(s.Created), micros(s.Updated)
			return row, nil
		}))
	if err != nil {
		return copyErr("put subjects", err)
	}
	if n != int64(len(rows)) {
		return fmt.Errorf("put subjects: %d of %d written", n, len(rows))
	}
	return nil
}
