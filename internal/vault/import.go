package vault

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/subject"
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
func (v *Vault) Import(ctx context.Context, a identity.Actor, rows []ImportRow) (ids []string, failed []RowError, err error) {
	b, err := v.PrepareImport(ctx, a, rows)
	if err != nil {
		return nil, nil, err
	}
	return v.CommitImport(ctx, b)
}

// ImportBatch is a validated, encrypted batch ready to commit.
type ImportBatch struct {
	actor  identity.Actor
	nums   []int     // the rows' numbers in the source
	sealed []*sealed // nil where the row failed validation
	failed []RowError
	now    time.Time
	// The blind-index entries of the batch sorted by hash: inserted in
	// key order, consecutive inserts land on the same or neighbouring
	// B-tree pages, which is what makes the bulk path fast.
	hashes   [][]byte
	owners   []string
	subjects []*subject.Row // in creation (row) order
}

// PrepareImport checks the import permission, validates and encrypts rows
// (on all cores). It writes nothing.
func (v *Vault) PrepareImport(ctx context.Context, a identity.Actor, rows []ImportRow) (*ImportBatch, error) {
	if err := v.can(a, policy.PermImport); err != nil {
		v.deny(ctx, a, audit.Entry{Actor: a.ID, Action: "import", Origin: a.Origin}, err)
		return nil, err
	}
	ids, err := v.newSubjectIDs(ctx, len(rows))
	if err != nil {
		return nil, err
	}
	b := &ImportBatch{actor: a, nums: make([]int, len(rows)), sealed: make([]*sealed, len(rows)), now: v.now().UTC()}
	errs := make([]error, len(rows))
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(rows); i += workers {
				r := rows[i]
				b.nums[i] = r.Num
				if errs[i] = v.checkFields(r.Unit, r.Fields); errs[i] != nil {
					continue
				}
				if b.sealed[i], errs[i] = v.seal(ids[i], r.Unit, r.Fields, b.now); errs[i] == nil {
					b.sealed[i].in = nil // the batch keeps no clear value
				}
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
	b.sortIndexes()
	return b, nil
}

// sortIndexes fills the batch's subjects and its index entries in hash
// order.
func (b *ImportBatch) sortIndexes() {
	type entry struct {
		key uint64 // the hash's first 8 bytes, big-endian: compares as the hash does
		s   *sealed
		i   int
	}
	var es []entry
	for _, s := range b.sealed {
		if s == nil {
			continue
		}
		b.subjects = append(b.subjects, s.row)
		for i, h := range s.indexes {
			es = append(es, entry{binary.BigEndian.Uint64(h), s, i})
		}
	}
	slices.SortFunc(es, func(x, y entry) int {
		if c := cmp.Compare(x.key, y.key); c != 0 {
			return c
		}
		return bytes.Compare(x.s.indexes[x.i], y.s.indexes[y.i])
	})
	b.hashes, b.owners = make([][]byte, len(es)), make([]string, len(es))
	for j, e := range es {
		b.hashes[j], b.owners[j] = e.s.indexes[e.i], e.s.row.ID
	}
}

// CommitImport writes a prepared batch in one transaction; see Import.
// With a [subject.Bulk] it first writes the whole batch with multi-row statements;
// if a lookup value of the batch is taken (or repeated within it), that
// transaction rolls back and the batch is written again row by row, so
// that the rows at fault are found and reported and the others written.
func (v *Vault) CommitImport(ctx context.Context, b *ImportBatch) (ids []string, failed []RowError, err error) {
	type committed struct {
		written   []string
		conflicts []RowError
	}
	var res committed
	for oneByOne := false; ; oneByOne = true {
		res, err = update(ctx, v.store, func(ctx context.Context, tx store.Tx) (committed, error) {
			var c committed
			if bulk, ok := tx.(subject.Bulk); ok && !oneByOne {
				if err := bulk.PutIndexes(ctx, b.hashes, b.owners); err != nil {
					return c, err
				}
				if err := bulk.PutSubjects(ctx, b.subjects); err != nil {
					return c, err
				}
				c.written = make([]string, 0, len(b.subjects))
				for _, s := range b.subjects {
					c.written = append(c.written, s.ID)
				}
			} else {
				for j, s := range b.sealed {
					if s == nil {
						continue
					}
					if err := s.put(ctx, tx); err != nil {
						if !errors.Is(err, store.ErrConflict) {
							return c, err
						}
						c.conflicts = append(c.conflicts, RowError{Num: b.nums[j], Reason: "a lookup value of this row already belongs to another subject"})
						continue
					}
					c.written = append(c.written, s.row.ID)
				}
			}
			e := audit.Entry{Time: b.now, Actor: b.actor.ID, Action: "import", Decision: "allow", Origin: b.actor.Origin,
				Reason: fmt.Sprintf("%d subjects created", len(c.written))}
			return c, tx.AppendAudit(ctx, &e)
		})
		if oneByOne || !errors.Is(err, store.ErrConflict) {
			break
		}
	}
	if err != nil {
		return nil, nil, unavailable(err)
	}
	return res.written, append(append([]RowError(nil), b.failed...), res.conflicts...), nil
}

// ImportAll imports the batches next returns until it returns no rows,
// preparing (validating, encrypting) a batch while the previous one
// commits; done sees each committed batch's result in order. It stops at
// the first error of next, done or a commit.
func (v *Vault) ImportAll(ctx context.Context, a identity.Actor, next func() ([]ImportRow, error), done func(ids []string, failed []RowError) error) error {
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
