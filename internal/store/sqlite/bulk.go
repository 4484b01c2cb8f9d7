package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/subject"
)

var _ subject.Bulk = (*tx)(nil)

func multiRow(head, row, tail string, n int) string {
	return head + strings.TrimSuffix(strings.Repeat(row+",", n), ",") + tail
}

// bulkStmt returns the prepared multi-row INSERT of n rows for table, made
// once per (statement, n) on the writer connection.
func (t *tx) bulkStmt(ctx context.Context, head, row, tail string, n int) (*sql.Stmt, error) {
	key := fmt.Sprintf("%s/%s/%d", head, tail, n)
	if st, ok := t.st.bulk[key]; ok {
		return st, nil
	}
	if t.st.conn == nil {
		return nil, fmt.Errorf("bulk statements need the write connection")
	}
	st, err := t.st.conn.PrepareContext(ctx, multiRow(head, row, tail, n))
	if err != nil {
		return nil, err
	}
	t.st.bulk[key] = st
	return st, nil
}

// bulkExec inserts n rows of args (the same number of arguments each)
// with multi-row statements of at most most rows, and returns the rows it
// changed. The rest shorter than most goes in pieces of powers of two, so
// that a few prepared statements serve every n. end is SQL after the rows
// (an ON CONFLICT clause), endArgs its parameters, in each statement.
func (t *tx) bulkExec(ctx context.Context, head, row, end string, n, most int, args []any, endArgs ...any) (int64, error) {
	ctx = noCancel(ctx)
	per := len(args) / n
	var changed int64
	for done := 0; done < n; {
		k := most
		for k > n-done {
			k /= 2
		}
		part := args[done*per : (done+k)*per]
		if len(endArgs) > 0 {
			part = append(part[:len(part):len(part)], endArgs...)
		}
		var res sql.Result
		var err error
		if t.st == nil {
			res, err = t.q.ExecContext(ctx, multiRow(head, row, end, k), part...)
		} else {
			var st *sql.Stmt
			if st, err = t.bulkStmt(ctx, head, row, end, k); err == nil {
				res, err = st.ExecContext(ctx, part...)
			}
		}
		if err != nil {
			return changed, err
		}
		c, err := res.RowsAffected()
		if err != nil {
			return changed, err
		}
		changed += c
		done += k
	}
	return changed, nil
}

// Rows per multi-row statement: SQLite allows 32,766 parameters.
const (
	indexRows   = 4096 // 3 parameters each
	subjectRows = 1024 // 8 parameters each
)

func (t *tx) PutIndexes(ctx context.Context, gen uint32, hashes [][]byte, subjects []string) error {
	if len(hashes) != len(subjects) {
		return fmt.Errorf("put indexes: %d hashes for %d subjects", len(hashes), len(subjects))
	}
	if len(hashes) == 0 {
		return nil
	}
	args := make([]any, 0, 3*len(hashes))
	for i := range hashes {
		seq, ok := t.ids.Seq(subjects[i])
		if !ok {
			return t.putIndexesOneByOne(ctx, gen, hashes, subjects)
		}
		args = append(args, hashes[i], seq, gen)
	}
	// INSERT OR IGNORE cannot abort, so it needs no statement journal (a
	// copy of every page it touches) and no existence check first; when it
	// wrote fewer rows than given, a hash was taken: remove the rows this
	// call wrote (matching hash and subject) and report the conflict.
	n, err := t.bulkExec(ctx, "INSERT OR IGNORE INTO lookup (hash, subject, gen) VALUES ", "(?, ?, ?)", "", len(hashes), indexRows, args)
	if err != nil {
		return fmt.Errorf("put indexes: %w", err)
	}
	if n == int64(len(hashes)) {
		return nil
	}
	return t.undoIndexes(ctx, hashes, subjects)
}

// putIndexesOneByOne is PutIndexes for subjects made before sequence ids.
func (t *tx) putIndexesOneByOne(ctx context.Context, gen uint32, hashes [][]byte, subjects []string) error {
	for i := range hashes {
		if err := t.PutIndex(ctx, gen, hashes[i], subjects[i]); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return t.undoIndexes(ctx, hashes[:i], subjects[:i])
			}
			return fmt.Errorf("put indexes: %w", err)
		}
	}
	return nil
}

// undoIndexes removes the entries of hashes that point at their subjects
// and reports the conflict that made it necessary.
func (t *tx) undoIndexes(ctx context.Context, hashes [][]byte, subjects []string) error {
	for i := range hashes {
		seq, legacy := t.subject(subjects[i])
		if _, err := t.exec(ctx, "deleteOwnIndex", seq, legacy, hashes[i]); err != nil {
			return fmt.Errorf("put indexes: undo: %w", err)
		}
	}
	return fmt.Errorf("put indexes: %w", store.ErrConflict)
}

func (t *tx) PutSubjects(ctx context.Context, rows []*subject.Row) error {
	if len(rows) == 0 {
		return nil
	}
	args := make([]any, 0, 8*len(rows))
	for _, s := range rows {
		seq, legacy, err := t.newRow(ctx, s.ID)
		if err != nil {
			return fmt.Errorf("put subjects: %w", err)
		}
		args = append(args, seq, legacy, s.Unit, s.DEK, s.DEKVersion, s.Fields, micros(s.Created), micros(s.Updated))
	}
	n, err := t.bulkExec(ctx, "INSERT OR IGNORE INTO subjects (seq, id, unit, dek, dek_version, fields, created, updated) VALUES ", "(?, ?, ?, ?, ?, ?, ?, ?)", "", len(rows), subjectRows, args)
	if err != nil {
		return fmt.Errorf("put subjects: %w", err)
	}
	if n != int64(len(rows)) {
		return fmt.Errorf("put subjects: %d of %d written: %w", n, len(rows), store.ErrConflict)
	}
	return nil
}
