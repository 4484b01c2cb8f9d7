package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/coffre/coffre/internal/vault"
)

var _ vault.BulkTx = (*tx)(nil)

func multiRow(head, row, tail string, n int) string {
	return head + strings.TrimSuffix(strings.Repeat(row+",", n), ",") + tail
}

// bulkStmt returns the prepared multi-row INSERT of n rows for table, made
// once per (table, n) on the writer connection.
func (t *tx) bulkStmt(ctx context.Context, head, row, tail string, n int) (*sql.Stmt, error) {
	key := fmt.Sprintf("%s/%d", head, n)
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

// bulkExec runs a multi-row statement and returns the rows it changed.
func (t *tx) bulkExec(ctx context.Context, head, row string, n int, args []any) (int64, error) {
	ctx = noCancel(ctx)
	var res sql.Result
	var err error
	if t.st == nil {
		res, err = t.q.ExecContext(ctx, multiRow(head, row, "", n), args...)
	} else {
		var st *sql.Stmt
		if st, err = t.bulkStmt(ctx, head, row, "", n); err == nil {
			res, err = st.ExecContext(ctx, args...)
		}
	}
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (t *tx) PutIndexes(ctx context.Context, hashes [][]byte, subjects []string) error {
	if len(hashes) != len(subjects) {
		return fmt.Errorf("put indexes: %d hashes for %d subjects", len(hashes), len(subjects))
	}
	if len(hashes) == 0 {
		return nil
	}
	// INSERT OR IGNORE cannot abort, so it needs no statement journal (a
	// copy of every page it touches) and no existence check first; when it
	// wrote fewer rows than given, a hash was taken: remove the rows this
	// call wrote (matching hash and subject) and report the conflict.
	args := make([]any, 0, 2*len(hashes))
	for i := range hashes {
		args = append(args, hashes[i], subjects[i])
	}
	n, err := t.bulkExec(ctx, "INSERT OR IGNORE INTO blind_index (hash, subject) VALUES ", "(?, ?)", len(hashes), args)
	if err != nil {
		return fmt.Errorf("put indexes: %w", err)
	}
	if n == int64(len(hashes)) {
		return nil
	}
	for i := range hashes {
		if _, err := t.exec(ctx, "deleteOwnIndex", hashes[i], subjects[i]); err != nil {
			return fmt.Errorf("put indexes: undo: %w", err)
		}
	}
	return fmt.Errorf("put indexes: %w", vault.ErrConflict)
}

func (t *tx) PutSubjects(ctx context.Context, rows []*vault.SubjectRow) error {
	if len(rows) == 0 {
		return nil
	}
	args := make([]any, 0, 7*len(rows))
	for _, s := range rows {
		args = append(args, s.ID, s.Unit, s.DEK, s.DEKVersion, s.Fields, micros(s.Created), micros(s.Updated))
	}
	n, err := t.bulkExec(ctx, "INSERT OR IGNORE INTO subjects (id, unit, dek, dek_version, fields, created, updated) VALUES ", "(?, ?, ?, ?, ?, ?, ?)", len(rows), args)
	if err != nil {
		return fmt.Errorf("put subjects: %w", err)
	}
	if n != int64(len(rows)) {
		// A random 128-bit id already taken: fail the whole transaction
		// rather than leave a partial chunk.
		return fmt.Errorf("put subjects: %d of %d written (id collision)", n, len(rows))
	}
	return nil
}
