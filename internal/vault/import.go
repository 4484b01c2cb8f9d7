package vault

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"

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
func (v *Vault) Import(ctx context.Context, a Actor, rows []ImportRow) (ids []string, failed []RowError, err error) {
	if err := v.can(a, policy.PermImport); err != nil {
		v.deny(ctx, AuditEntry{Actor: a.ID, Action: "import", Origin: a.Origin}, err)
		return nil, nil, err
	}
	now := v.now().UTC()
	sealedRows := make([]*sealed, len(rows))
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
				sealedRows[i], errs[i] = v.seal(NewSubjectID(), r.Unit, r.Fields, now)
			}
		})
	}
	wg.Wait()
	for i, e := range errs {
		if e == nil {
			continue
		}
		var fe *FieldError
		if errors.As(e, &fe) {
			failed = append(failed, RowError{Num: rows[i].Num, Field: fe.Field, Reason: fe.Reason})
			continue
		}
		return nil, nil, fmt.Errorf("import row %d: %w", rows[i].Num, e)
	}
	var conflicts []RowError
	var written []string
	err = v.store.Update(ctx, func(ctx context.Context, tx Tx) error {
		conflicts, written = conflicts[:0], written[:0]
		for i, s := range sealedRows {
			if s == nil {
				continue
			}
			if err := s.put(ctx, tx); err != nil {
				if !errors.Is(err, ErrConflict) {
					return err
				}
				conflicts = append(conflicts, RowError{Num: rows[i].Num, Reason: "a lookup value of this row already belongs to another subject"})
				continue
			}
			written = append(written, s.row.ID)
		}
		e := AuditEntry{Time: now, Actor: a.ID, Action: "import", Decision: "allow", Origin: a.Origin,
			Reason: fmt.Sprintf("%d subjects created", len(written))}
		return tx.AppendAudit(ctx, &e)
	})
	if err != nil {
		return nil, nil, unavailable(err)
	}
	failed = append(failed, conflicts...)
	return written, failed, nil
}
