package vault

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/coffre/coffre/internal/policy"
)

// ImportRow is one record of a bulk import.
type ImportRow struct {
	Num    int // row number in the source, for error reports
	Unit   string
	Fields map[string]string
}

// RowError is a row that was not imported: its number, the field at fault
// (may be empty) and why. It never holds a value.
type RowError struct {
	Num    int
	Field  string
	Reason string
}

func (e RowError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("row %d: %s", e.Num, e.Reason)
	}
	return fmt.Sprintf("row %d: field %q: %s", e.Num, e.Field, e.Reason)
}

// Import creates the subjects of one batch in one transaction: the bulk
// write path. Rows that fail validation, or whose lookup value is already
// taken, are reported and skipped; the others are written. Either the whole
// batch (less its failed rows) is durable when Import returns, or nothing
// of it is: a crash never leaves a half-written record. One audit entry
// records the batch.
//
// Import is PrepareImport then CommitImport; a caller with several batches
// can prepare the next while the previous commits.
func (v *Vault) Import(ctx context.Context, a Actor, rows []ImportRow) (ids []string, failed []RowError, err error) {
	b, err := v.PrepareImport(ctx, a, rows)
	if err != nil {
		return nil, nil, err
	}
	return v.CommitImport(ctx, b)
}

// ImportBatch is a validated, encrypted batch ready to commit.
type ImportBatch struct {
	actor  Actor
	rows   []ImportRow
	sealed []*sealed // nil where the row failed validation
	failed []RowError
	now    time.Time
}

// PrepareImport checks the import permission, validates and encrypts rows
// (on all cores). It writes nothing.
func (v *Vault) PrepareImport(ctx context.Context, a Actor, rows []ImportRow) (*ImportBatch, error) {
	if err := v.can(a, policy.PermImport); err != nil {
		v.deny(ctx, AuditEntry{Actor: a.ID, Action: "import", Origin: a.Origin}, err)
		return nil, err
	}
	b := &ImportBatch{actor: a, rows: rows, sealed: make([]*sealed, len(rows)), now: v.now().UTC()}
	errs := make([]error, len(rows))
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(rows); i += workers {
				r := rows[i]
				if errs[i] = v.checkFields(r.Unit, r.Fields); errs[i] != nil {
					continue
				}
				b.sealed[i], errs[i] = v.seal(NewSubjectID(), r.Unit, r.Fields, b.now)
			}
		})
	}
	wg.Wait()
	for i, e := range errs {
		if e == nil {
			continue
		}
		var fe *FieldError
		if !errors.As(e, &fe) {
			return nil, fmt.Errorf("import row %d: %w", rows[i].Num, e)
		}
		b.failed = append(b.failed, RowError{Num: rows[i].Num, Field: fe.Field, Reason: fe.Reason})
	}
	return b, nil
}

// CommitImport writes a prepared batch in one transaction; see Import.
func (v *Vault) CommitImport(ctx context.Context, b *ImportBatch) (ids []string, failed []RowError, err error) {
	var conflicts []RowError
	var written []string
	err = v.store.Update(ctx, func(ctx context.Context, tx Tx) error {
		conflicts, written = conflicts[:0], written[:0]
		bulk, _ := tx.(BulkTx)
		for start := 0; start < len(b.sealed); start += bulkChunk {
			chunk := b.sealed[start:min(start+bulkChunk, len(b.sealed))]
			if bulk != nil {
				ok, err := putChunk(ctx, bulk, chunk)
				if err != nil {
					return err
				}
				if ok {
					for _, s := range chunk {
						if s != nil {
							written = append(written, s.row.ID)
						}
					}
					continue
				}
			}
			// One row at a time: no bulk interface, or a conflict in the chunk.
			for j, s := range chunk {
				if s == nil {
					continue
				}
				if err := s.put(ctx, tx); err != nil {
					if !errors.Is(err, ErrConflict) {
						return err
					}
					conflicts = append(conflicts, RowError{Num: b.rows[start+j].Num, Reason: "a lookup value of this row already belongs to another subject"})
					continue
				}
				written = append(written, s.row.ID)
			}
		}
		e := AuditEntry{Time: b.now, Actor: b.actor.ID, Action: "import", Decision: "allow", Origin: b.actor.Origin,
			Reason: fmt.Sprintf("%d subjects created", len(written))}
		return tx.AppendAudit(ctx, &e)
	})
	if err != nil {
		return nil, nil, unavailable(err)
	}
	return written, append(append([]RowError(nil), b.failed...), conflicts...), nil
}

// bulkChunk is the rows per multi-row statement (7 parameters a subject,
// 2 per index entry: well under SQLite's 32,766).
const bulkChunk = 128

// putChunk writes a chunk of sealed rows with multi-row statements. It
// reports false, having written nothing, when a lookup value of the chunk
// is taken, so the caller can retry row by row and name the row.
func putChunk(ctx context.Context, tx BulkTx, chunk []*sealed) (bool, error) {
	var hashes [][]byte
	var owners []string
	var subjects []*SubjectRow
	for _, s := range chunk {
		if s == nil {
			continue
		}
		subjects = append(subjects, s.row)
		for _, h := range s.indexes {
			hashes, owners = append(hashes, h), append(owners, s.row.ID)
		}
	}
	if err := tx.PutIndexes(ctx, hashes, owners); err != nil {
		if errors.Is(err, ErrConflict) {
			return false, nil
		}
		return false, err
	}
	if err := tx.PutSubjects(ctx, subjects); err != nil {
		return false, err
	}
	return true, nil
}

// ImportAll imports the batches next returns until it returns no rows,
// preparing (validating, encrypting) a batch while the previous one
// commits; done sees each committed batch's result in order. It stops at
// the first error of next, done or a commit.
func (v *Vault) ImportAll(ctx context.Context, a Actor, next func() ([]ImportRow, error), done func(ids []string, failed []RowError) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type prepared struct {
		b   *ImportBatch
		err error
	}
	ch := make(chan prepared, 1)
	go func() {
		defer close(ch)
		for {
			rows, err := next()
			if err == nil && len(rows) == 0 {
				return
			}
			var b *ImportBatch
			if err == nil {
				b, err = v.PrepareImport(ctx, a, rows)
			}
			select {
			case ch <- prepared{b, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	for p := range ch {
		if p.err != nil {
			return p.err
		}
		ids, failed, err := v.CommitImport(ctx, p.b)
		if err != nil {
			return err
		}
		if err := done(ids, failed); err != nil {
			return err
		}
	}
	return ctx.Err()
}
