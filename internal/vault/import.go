package vault

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/envelope"
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
	// Caseworker, if set, is the username of an operator of the row's unit
	// whose caseload the new person joins, until CaseworkerUntil (a date
	// or an RFC 3339 date-time, see [Vault.ParseUntil]; "" for no end).
	Caseworker, CaseworkerUntil string
}

// Columns of an import that assign the new person to a caseworker.
const (
	ColumnCaseworker      = "caseworker"
	ColumnCaseworkerUntil = "caseworker_until"
)

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
	// blind is the keyring's generations the entries were made under.
	blind *envelope.Blind
	// The blind-index entries of the batch sorted by hash: inserted in
	// key order, consecutive inserts land on the same or neighbouring
	// B-tree pages, which is what makes the bulk path fast. also and
	// alsoOwners are the other generation's, while the index is rebuilt.
	hashes     [][]byte
	owners     []string
	also       [][]byte
	alsoOwners []string
	subjects   []*subject.Row // in creation (row) order
	// assign[i] is the caseload sealed[i] joins, if any.
	assign []*importAssignment
}

// importAssignment is the caseload a new person joins.
type importAssignment struct {
	operator string // id
	until    time.Time
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
	b := &ImportBatch{actor: a, nums: make([]int, len(rows)), sealed: make([]*sealed, len(rows)), now: v.now().UTC(), blind: v.keys.Blind()}
	caseworkers, err := v.importCaseworkers(ctx, rows)
	if err != nil {
		return nil, err
	}
	errs := make([]error, len(rows))
	assign := make([]*importAssignment, len(rows))
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
				var as *importAssignment
				if as, errs[i] = v.importAssignment(r, caseworkers, b.now); errs[i] != nil {
					continue
				}
				if b.sealed[i], errs[i] = v.seal(b.blind, ids[i], r.Unit, r.Fields, b.now); errs[i] == nil {
					b.sealed[i].in = nil // the batch keeps no clear value
					if as != nil {
						assign[i] = as
					}
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
	if slices.ContainsFunc(assign, func(a *importAssignment) bool { return a != nil }) {
		b.assign = assign
	}
	b.sortIndexes()
	return b, nil
}

// sortIndexes fills the batch's subjects and its index entries in hash
// order.
func (b *ImportBatch) sortIndexes() {
	b.subjects = b.subjects[:0]
	for _, s := range b.sealed {
		if s != nil {
			b.subjects = append(b.subjects, s.row)
		}
	}
	b.hashes, b.owners = sortedEntries(b.sealed, func(s *sealed) [][]byte { return s.hashes })
	b.also, b.alsoOwners = sortedEntries(b.sealed, func(s *sealed) [][]byte { return s.also })
}

// sortedEntries returns the hashes of (a generation of) the subjects'
// entries in hash order, and their owners.
func sortedEntries(sealed []*sealed, hashes func(*sealed) [][]byte) ([][]byte, []string) {
	// Sorted as 16-byte keys with their place in hs, gathered after: a
	// batch has hundreds of thousands of entries.
	type entry struct {
		key uint64 // the hash's first 8 bytes, big-endian: compares as the hash does
		at  int
	}
	n := 0
	for _, s := range sealed {
		if s != nil {
			n += len(hashes(s))
		}
	}
	es, hs, ids := make([]entry, 0, n), make([][]byte, 0, n), make([]string, 0, n)
	for _, s := range sealed {
		if s == nil {
			continue
		}
		for _, h := range hashes(s) {
			es = append(es, entry{binary.BigEndian.Uint64(h), len(hs)})
			hs, ids = append(hs, h), append(ids, s.row.ID)
		}
	}
	// Radix sort on the keys, a byte a pass from the last (stable), then
	// hashes whose first 8 bytes are alike in whole-hash order.
	tmp := make([]entry, len(es))
	for shift := 0; shift < 64; shift += 8 {
		var at [257]int
		for _, e := range es {
			at[int(byte(e.key>>shift))+1]++
		}
		for i := 1; i < len(at); i++ {
			at[i] += at[i-1]
		}
		for _, e := range es {
			k := byte(e.key >> shift)
			tmp[at[k]] = e
			at[k]++
		}
		es, tmp = tmp, es
	}
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && es[j].key == es[j-1].key && bytes.Compare(hs[es[j].at], hs[es[j-1].at]) < 0; j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
	out, owners := make([][]byte, len(es)), make([]string, len(es))
	for j, e := range es {
		out[j], owners[j] = hs[e.at], ids[e.at]
	}
	return out, owners
}

// refresh makes the batch's entries again, from its sealed fields, when
// the keyring's generations are no longer those it was prepared with (a
// rebuild of the index began or switched meanwhile).
func (b *ImportBatch) refresh(v *Vault) error {
	cur := v.keys.Blind()
	if cur.Same(b.blind) {
		return nil
	}
	for _, s := range b.sealed {
		if s == nil {
			continue
		}
		if err := v.refresh(s); err != nil {
			return err
		}
	}
	b.blind = cur
	b.sortIndexes()
	return nil
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
	// written[j] says whether sealed[j] was written, for the assignments.
	var res committed
	for oneByOne := false; ; oneByOne = true {
		res, err = update(ctx, v.store, func(ctx context.Context, tx store.Tx) (committed, error) {
			var c committed
			if err := b.refresh(v); err != nil {
				return c, err
			}
			if bulk, ok := tx.(subject.Bulk); ok && !oneByOne {
				if err := bulk.PutIndexes(ctx, b.blind.Active(), b.hashes, b.owners); err != nil {
					return c, err
				}
				// A conflict in the other generation (a stale entry)
				// sends the batch row by row as well, where put replaces
				// it.
				if err := bulk.PutIndexes(ctx, b.blind.Also(), b.also, b.alsoOwners); err != nil {
					return c, err
				}
				if err := bulk.PutSubjects(ctx, b.subjects); err != nil {
					return c, err
				}
				c.written = make([]string, 0, len(b.subjects))
				for _, s := range b.subjects {
					c.written = append(c.written, s.ID)
				}
				if err := b.assignWritten(ctx, tx, func(int) bool { return true }); err != nil {
					return c, err
				}
			} else {
				done := make([]bool, len(b.sealed))
				for j, s := range b.sealed {
					if s == nil {
						continue
					}
					if err := v.put(ctx, tx, s); err != nil {
						if !errors.Is(err, store.ErrConflict) {
							return c, err
						}
						c.conflicts = append(c.conflicts, RowError{Num: b.nums[j], Reason: "a lookup value of this row already belongs to another subject"})
						continue
					}
					c.written = append(c.written, s.row.ID)
					done[j] = true
				}
				if err := b.assignWritten(ctx, tx, func(j int) bool { return done[j] }); err != nil {
					return c, err
				}
			}
			if err := v.countLive(ctx, tx, b.cells(c.written)); err != nil {
				return c, err
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

// cells counts the statistics cells of the batch's records written.
func (b *ImportBatch) cells(written []string) map[string]int64 {
	ids := make(map[string]bool, len(written))
	for _, id := range written {
		ids[id] = true
	}
	deltas := map[string]int64{}
	for _, s := range b.sealed {
		if s != nil && s.cell != "" && ids[s.row.ID] {
			deltas[s.cell]++
		}
	}
	return deltas
}

// importCaseworkers resolves the caseworkers the rows name, by username:
// the operator, or why it cannot hold a caseload.
func (v *Vault) importCaseworkers(ctx context.Context, rows []ImportRow) (map[string]caseworker, error) {
	var names []string
	for _, r := range rows {
		if r.Caseworker != "" && !slices.Contains(names, r.Caseworker) {
			names = append(names, r.Caseworker)
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	out := make(map[string]caseworker, len(names))
	err := v.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		for _, n := range names {
			op, err := tx.GetOperatorByName(ctx, n)
			switch {
			case errors.Is(err, store.ErrNotFound):
				out[n] = caseworker{why: "no such operator"}
			case err != nil:
				return err
			default:
				out[n] = caseworker{op: op, why: v.holdsCaseload(ctx, tx, op)}
			}
		}
		return nil
	})
	if err != nil {
		return nil, unavailable(fmt.Errorf("import caseworkers: %w", err))
	}
	return out, nil
}

// caseworker is an operator named by an import row, or why it cannot hold
// a caseload.
type caseworker struct {
	op  *identity.Operator
	why string
}

// importAssignment checks the caseload columns of r: nil when the row
// names no caseworker.
func (v *Vault) importAssignment(r ImportRow, cws map[string]caseworker, now time.Time) (*importAssignment, error) {
	if r.Caseworker == "" {
		if r.CaseworkerUntil != "" {
			return nil, &FieldError{Field: ColumnCaseworkerUntil, Reason: "given without a caseworker"}
		}
		return nil, nil
	}
	cw := cws[r.Caseworker]
	switch {
	case cw.op == nil:
		return nil, &FieldError{Field: ColumnCaseworker, Reason: cw.why}
	case cw.why != "":
		return nil, &FieldError{Field: ColumnCaseworker, Reason: "operator " + cw.why}
	case cw.op.Unit != r.Unit:
		return nil, &FieldError{Field: ColumnCaseworker, Reason: "not of the row's unit: a caseload holds people of one's unit"}
	}
	as := &importAssignment{operator: cw.op.ID}
	if r.CaseworkerUntil != "" {
		until, err := v.ParseUntil(r.CaseworkerUntil)
		var fe *FieldError
		if errors.As(err, &fe) {
			return nil, &FieldError{Field: ColumnCaseworkerUntil, Reason: fe.Reason}
		}
		if why := UntilReason(until, now); why != "" {
			return nil, &FieldError{Field: ColumnCaseworkerUntil, Reason: why}
		}
		as.until = until
	}
	return as, nil
}

// assignWritten assigns the written people of the batch (written(j)) to
// the caseloads their rows name, with an audit entry per caseworker.
func (b *ImportBatch) assignWritten(ctx context.Context, tx store.Tx, written func(j int) bool) error {
	if b.assign == nil {
		return nil
	}
	type key struct {
		op    string
		until time.Time
	}
	groups := map[key][]string{}
	var order []key
	for j, as := range b.assign {
		if as == nil || b.sealed[j] == nil || !written(j) {
			continue
		}
		k := key{as.operator, as.until}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], b.sealed[j].row.ID)
	}
	counts := map[string]int{}
	var ops []string
	for _, k := range order {
		if err := tx.AssignCaseload(ctx, k.op, groups[k], k.until); err != nil {
			return err
		}
		if counts[k.op] == 0 {
			ops = append(ops, k.op)
		}
		counts[k.op] += len(groups[k])
	}
	for _, op := range ops {
		e := audit.Entry{Time: b.now, Actor: b.actor.ID, Action: "caseload.assign", Decision: "allow", Origin: b.actor.Origin,
			Reason: fmt.Sprintf("%s: %d assigned (import)", op, counts[op])}
		if err := tx.AppendAudit(ctx, &e); err != nil {
			return err
		}
	}
	return nil
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
