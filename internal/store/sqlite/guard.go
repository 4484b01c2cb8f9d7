package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/store"
)

// writerCache is what the writer keeps in memory between groups. The guard
// states: every access reads and rewrites its operator's state, and the
// writer is the only one to write them (one process owns an SQLite file),
// so the writer keeps them decoded in memory, collects a group's new
// states and encodes and writes each operator's last state once, just
// before the group commits. And the audit sequence, since the writer
// numbers entries itself.
type writerCache struct {
	states  map[string]guard.State // committed
	pending map[string]guard.State // written by the running group
	// The audit sequence: seq is the last committed (when seqKnown),
	// next the last one the running group appended. The writer numbers
	// entries itself because the leaf it stores holds the number.
	seq, next int64
	seqKnown  bool
}

// writerMark is what a savepoint rollback restores.
type writerMark struct {
	pending map[string]guard.State
	next    int64
}

// begin starts a group.
func (c *writerCache) begin() { c.pending, c.next = nil, c.seq }

// mark returns what to restore when one function of a group is rolled back
// to its savepoint.
func (c *writerCache) mark() writerMark { return writerMark{maps.Clone(c.pending), c.next} }

func (c *writerCache) rollbackTo(m writerMark) { c.pending, c.next = m.pending, m.next }

// drop forgets the running group's writes (a rollback); the sequence is
// read again from the table.
func (c *writerCache) drop() { c.pending, c.seqKnown = nil, false }

// reset forgets everything, committed states too: another process wrote.
func (c *writerCache) reset() { c.states, c.pending, c.seqKnown = nil, nil, false }

// flush writes the running group's states, in the group's transaction,
// with multi-row upserts of 64, 32, … 1 rows (a statement costs more than a
// row; power-of-two sizes keep the prepared statements few).
func (c *writerCache) flush(ctx context.Context, t *tx) error {
	args := make([]any, 0, 2*len(c.pending))
	for op, st := range c.pending {
		args = append(args, op, st.Marshal())
	}
	const head, row, tail = "INSERT INTO guard_state (operator, state) VALUES ", "(?, ?)", " ON CONFLICT (operator) DO UPDATE SET state = excluded.state"
	for len(args) > 0 {
		n := 64
		for 2*n > len(args) {
			n /= 2
		}
		st, err := t.bulkStmt(ctx, head, row, tail, n)
		if err != nil {
			return err
		}
		if _, err := st.ExecContext(noCancel(ctx), args[:2*n]...); err != nil {
			return err
		}
		args = args[2*n:]
	}
	return nil
}

// committed makes the running group's states the committed ones.
func (c *writerCache) committed() {
	if c.states == nil {
		c.states = map[string]guard.State{}
	}
	if len(c.states) > 100_000 {
		clear(c.states) // bounded: states are read back from the table
	}
	maps.Copy(c.states, c.pending)
	c.pending = nil
	c.seq = c.next
}

// nextSeq returns the sequence number of the next audit entry of the
// running group.
func (c *writerCache) nextSeq(ctx context.Context, t *tx) (int64, error) {
	if !c.seqKnown {
		var last int64
		if err := t.row(ctx, "lastAuditSeq").Scan(&last); err != nil {
			return 0, err
		}
		c.seq, c.next, c.seqKnown = last, last, true
	}
	c.next++
	return c.next, nil
}

func (t *tx) GetGuard(ctx context.Context, operator string) (guard.State, error) {
	if t.cache != nil {
		if st, ok := t.cache.pending[operator]; ok {
			return st.Clip(), nil
		}
		if st, ok := t.cache.states[operator]; ok {
			return st.Clip(), nil
		}
	}
	var b []byte
	err := t.row(ctx, "getGuard", operator).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return guard.State{}, nil
	}
	if err != nil {
		return guard.State{}, fmt.Errorf("get guard state: %w", err)
	}
	st, err := guard.Unmarshal(b)
	if err != nil {
		return guard.State{}, fmt.Errorf("get guard state: %w", err)
	}
	return st, nil
}

func (t *tx) PutGuard(ctx context.Context, operator string, st guard.State) error {
	if t.cache != nil {
		if t.cache.pending == nil {
			t.cache.pending = map[string]guard.State{}
		}
		t.cache.pending[operator] = st.Clip()
		return nil
	}
	if _, err := t.exec(ctx, "putGuard", operator, st.Marshal()); err != nil {
		return fmt.Errorf("put guard state: %w", err)
	}
	return nil
}

func (t *tx) InCaseload(ctx context.Context, operator, subject string, at time.Time) (bool, error) {
	var one int
	err := t.row(ctx, "inCaseload", operator, subject, micros(at)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("caseload: %w", err)
	}
	return true, nil
}

func (t *tx) CaseloadUntil(ctx context.Context, operator, subject string) (time.Time, error) {
	var until int64
	if err := t.row(ctx, "caseloadUntil", operator, subject).Scan(&until); err != nil {
		return time.Time{}, notFound(err, "caseload until")
	}
	if until == 0 {
		return time.Time{}, nil
	}
	return fromMicros(until), nil
}

func (t *tx) AssignCaseload(ctx context.Context, operator string, subjects []string, until time.Time) error {
	for _, s := range subjects {
		if _, err := t.exec(ctx, "assignCaseload", operator, s, microsOrZero(until)); err != nil {
			return fmt.Errorf("assign caseload: %w", err)
		}
	}
	return nil
}

func (t *tx) RemoveCaseload(ctx context.Context, operator string, subjects []string) (int, error) {
	n := 0
	for _, s := range subjects {
		res, err := t.exec(ctx, "removeCaseload", operator, s)
		if err != nil {
			return 0, fmt.Errorf("remove caseload: %w", err)
		}
		k, _ := res.RowsAffected()
		n += int(k)
	}
	return n, nil
}

func (t *tx) PruneCaseload(ctx context.Context, operator string, keep []string) (int, error) {
	if keep == nil {
		keep = []string{}
	}
	list, err := json.Marshal(keep)
	if err != nil {
		return 0, fmt.Errorf("prune caseload: %w", err)
	}
	res, err := t.exec(ctx, "pruneCaseload", operator, string(list))
	if err != nil {
		return 0, fmt.Errorf("prune caseload: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

func (t *tx) CountCaseload(ctx context.Context, operator string, at time.Time) (int, error) {
	var n int
	if err := t.row(ctx, "countCaseload", operator, micros(at)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count caseload: %w", err)
	}
	return n, nil
}

func (t *tx) GetCanary(ctx context.Context, subject string) (string, error) {
	var partner string
	if err := t.row(ctx, "getCanary", subject).Scan(&partner); err != nil {
		return "", notFound(err, "get canary")
	}
	return partner, nil
}

func (t *tx) PutCanary(ctx context.Context, subject, partner string, at time.Time) error {
	seq, legacy := t.subject(subject)
	t.subjectChanged(subject)
	res, err := t.exec(ctx, "flagCanary", seq, legacy)
	if err != nil {
		return fmt.Errorf("put canary: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("put canary: %w", store.ErrNotFound)
	}
	_, err = t.exec(ctx, "putCanary", subject, partner, micros(at))
	if isConstraint(err) {
		return fmt.Errorf("put canary: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("put canary: %w", err)
	}
	return nil
}

func (t *tx) LockOperator(ctx context.Context, id, code string, at time.Time) error {
	res, err := t.exec(ctx, "lockOperator", code, micros(at), id)
	if err != nil {
		return fmt.Errorf("lock operator: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("lock operator: %w", store.ErrNotFound)
	}
	return nil
}

func (t *tx) PutAlert(ctx context.Context, a *guard.Alert) error {
	ev := make([]string, len(a.Evidence))
	for i, s := range a.Evidence {
		ev[i] = strconv.FormatInt(s, 10)
	}
	res, err := t.exec(ctx, "putAlert", micros(a.Time), a.Operator, a.Code, a.Severity, a.Action, strings.Join(ev, ","), a.Seq())
	if err != nil {
		return fmt.Errorf("put alert: %w", err)
	}
	a.ID, err = res.LastInsertId()
	return err
}

func (t *tx) Alerts(ctx context.Context, after int64, limit int) ([]guard.Alert, error) {
	return t.alerts(ctx, "alerts", after, limit)
}

func (t *tx) SequencedAlerts(ctx context.Context, from, to int64) ([]guard.Alert, error) {
	return t.alerts(ctx, "sequencedAlerts", from, to)
}

func (t *tx) alerts(ctx context.Context, query string, args ...any) ([]guard.Alert, error) {
	rows, err := t.rows(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	defer rows.Close()
	var out []guard.Alert
	for rows.Next() {
		var a guard.Alert
		var ts int64
		var ev string
		if err := rows.Scan(&a.ID, &ts, &a.Operator, &a.Code, &a.Severity, &a.Action, &ev); err != nil {
			return nil, fmt.Errorf("alerts: %w", err)
		}
		a.Time = fromMicros(ts)
		a.Evidence = []int64{}
		for f := range strings.SplitSeq(ev, ",") {
			if n, err := strconv.ParseInt(f, 10, 64); err == nil {
				a.Evidence = append(a.Evidence, n)
			}
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

func (t *tx) PutOutbox(ctx context.Context, kind string, payload []byte, at time.Time) error {
	if _, err := t.exec(ctx, "putOutbox", micros(at), kind, payload); err != nil {
		return fmt.Errorf("put outbox: %w", err)
	}
	return nil
}

func (t *tx) PutExtension(ctx context.Context, e *guard.Extension) error {
	_, err := t.exec(ctx, "putExtension", e.ID, e.Operator, e.Unit, e.Subjects, e.Hours, e.Reason, micros(e.Created))
	if isConstraint(err) {
		return fmt.Errorf("put extension: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("put extension: %w", err)
	}
	return nil
}

func (t *tx) GetExtension(ctx context.Context, id string) (*guard.Extension, error) {
	e := &guard.Extension{}
	var created, approved int64
	err := t.row(ctx, "getExtension", id).Scan(&e.ID, &e.Operator, &e.Unit, &e.Subjects, &e.Hours, &e.Reason, &created, &e.ApprovedBy, &approved, &e.FirstApprover)
	if err != nil {
		return nil, notFound(err, "get extension")
	}
	e.Created = fromMicros(created)
	if e.ApprovedBy != "" {
		e.ApprovedAt = fromMicros(approved)
	}
	return e, nil
}

func (t *tx) FirstApproval(ctx context.Context, id, by string) error {
	res, err := t.exec(ctx, "firstApproval", by, id)
	if err != nil {
		return fmt.Errorf("first approval: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := t.GetExtension(ctx, id); err != nil {
			return fmt.Errorf("first approval: %w", err)
		}
		return fmt.Errorf("first approval: approved already: %w", store.ErrConflict)
	}
	return nil
}

func (t *tx) PendingExtensions(ctx context.Context, unit string, limit int) ([]guard.Extension, error) {
	rows, err := t.rows(ctx, "pendingExtensions", unit, limit)
	if err != nil {
		return nil, fmt.Errorf("pending extensions: %w", err)
	}
	defer rows.Close()
	var out []guard.Extension
	for rows.Next() {
		var e guard.Extension
		var created int64
		if err := rows.Scan(&e.ID, &e.Operator, &e.Unit, &e.Subjects, &e.Hours, &e.Reason, &created, &e.FirstApprover); err != nil {
			return nil, fmt.Errorf("pending extensions: %w", err)
		}
		e.Created = fromMicros(created)
		out = append(out, e)
	}
	return out, rows.Err()
}

func (t *tx) ApproveExtension(ctx context.Context, id, by string, at time.Time) error {
	res, err := t.exec(ctx, "approveExtension", by, micros(at), id)
	if err != nil {
		return fmt.Errorf("approve extension: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := t.GetExtension(ctx, id); err != nil {
			return fmt.Errorf("approve extension: %w", err)
		}
		return fmt.Errorf("approve extension: already approved: %w", store.ErrConflict)
	}
	return nil
}
