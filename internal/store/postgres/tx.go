package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/outbox"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/sessioncache"
	"github.com/coffre/coffre/internal/subject"
	"github.com/coffre/coffre/internal/subjectid"
)

// querier is what tx runs statements on: a transaction (Update) or the
// pool (View: each read sees committed data on its own).
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// tx implements store.Tx and subject.Bulk on one PostgreSQL transaction,
// or for a View on the pool.
type tx struct {
	q     querier
	ids   *subjectid.Codec
	write bool        // an Update's transaction (a View's is read-only)
	g     *groupState // the group commit's deferred writes; nil in a View
	nums  *numbers    // the store's audit numbers
	// sessions is the store's session cache, which a View's GetSession
	// reads through (package sessioncache); nil in an Update.
	sessions *sessioncache.Cache
}

// bulk lifts the statement timeout for the rest of the transaction
// before a multi-row statement of an import: a batch of tens of
// thousands of rows is tens of thousands of statements' work, and on a
// large table it outlasts a timeout sized for an access (imports run on
// the host, not on a request's path). The lock timeout stays. It runs
// before each such statement (one trivial statement a batch): a savepoint
// rolled back in a group commit takes a SET LOCAL with it.
func (t *tx) bulk(ctx context.Context) error {
	_, err := t.exec(ctx, "bulk: no statement timeout", `SET LOCAL statement_timeout = 0`)
	return err
}

// groupState holds what a group defers to one statement each just before
// it commits: the audit entries it appended (numbered from the store's
// reserved numbers, see sequence.go: no lock is held for the numbering),
// the guard states it wrote and the messages it queued (a person's notice
// at each read). That leaves a read two statements of its own (its guard
// state, its subject) instead of six.
type groupState struct {
	taken  []int64  // the audit numbers the group took, written or pending
	seqs   []int64  // pending audit rows
	leaves [][]byte //
	guards map[string][]byte
	msgs   []*outbox.Message // pending deliveries rows
	// fresh are the records read before the group that Unchanged
	// accepted, to verify before COMMIT (queueFresh); distrust: the
	// group runs again after one changed, and accepts none.
	fresh    []freshCheck
	distrust bool
	// identity: a statement wrote sessions or operators (watchedTx).
	identity bool
}

// groupMark is what a savepoint rollback restores. It copies the pending
// rows: a function that reads the audit log writes them (flushAudit) in
// its savepoint, and if that is rolled back they must be pending again.
type groupMark struct {
	taken  int
	seqs   []int64
	leaves [][]byte
	guards map[string][]byte
	msgs   []*outbox.Message
}

func (g *groupState) mark() groupMark {
	return groupMark{len(g.taken), slices.Clone(g.seqs), slices.Clone(g.leaves), maps.Clone(g.guards), slices.Clone(g.msgs)}
}

// rollbackTo restores m and returns the audit numbers taken since: their
// rows went with the savepoint, and the store gives them to the next
// entries.
func (g *groupState) rollbackTo(m groupMark) []int64 {
	back := slices.Clone(g.taken[m.taken:])
	g.taken, g.seqs, g.leaves, g.guards, g.msgs = g.taken[:m.taken], m.seqs, m.leaves, m.guards, m.msgs
	return back
}

// flushAudit writes the pending audit rows.
func (t *tx) flushAudit(ctx context.Context) error {
	var p pipeline
	t.queueAudit(&p)
	return p.send(ctx, t.q)
}

// queueAudit queues the pending audit rows' statement, if any.
func (t *tx) queueAudit(p *pipeline) {
	g := t.g
	if g == nil || len(g.seqs) == 0 {
		return
	}
	p.exec("append audit", `INSERT INTO audit (seq, leaf) SELECT * FROM unnest($1::bigint[], $2::bytea[])`, g.seqs, g.leaves)
	g.seqs, g.leaves = nil, nil
}

// flush checks the records read before the group and writes everything
// it deferred, in one round trip (see pipeline); the writer calls it
// just before COMMIT. errStale if a record changed.
func (t *tx) flush(ctx context.Context) error {
	var p pipeline
	t.queueFresh(&p)
	t.queueAudit(&p)
	t.queueMessages(&p)
	if len(t.g.guards) > 0 {
		ops := make([]string, 0, len(t.g.guards))
		states := make([][]byte, 0, len(t.g.guards))
		for op, st := range t.g.guards {
			ops, states = append(ops, op), append(states, st)
		}
		p.exec("put guard state", `INSERT INTO guard_state (operator, state) SELECT * FROM unnest($1::text[], $2::bytea[])
		ON CONFLICT (operator) DO UPDATE SET state = excluded.state`, ops, states)
		clear(t.g.guards)
	}
	return p.send(ctx, t.q)
}

var (
	_ store.Tx     = (*tx)(nil)
	_ subject.Bulk = (*tx)(nil)
)

// subjectSeq is the seq of the subject named by ($1, $2): its seq and NULL
// when its id is a sequence id, or NULL and the id it was given.
const subjectSeq = `coalesce($1::bigint, (SELECT seq FROM subjects WHERE id = $2::text))`

// sameID matches the row of ($1, $2): made here (no id), or given $2.
const sameID = `id IS NOT DISTINCT FROM $2::text`

func isCode(err error, code string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code
}

func isUnique(err error) bool { return isCode(err, "23505") }

func notFound(err error, what string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// exec runs a statement and returns the rows it changed.
func (t *tx) exec(ctx context.Context, what, sql string, args ...any) (int64, error) {
	tag, err := t.q.Exec(ctx, sql, args...)
	if err != nil {
		if isUnique(err) {
			return 0, fmt.Errorf("%s: %w", what, store.ErrConflict)
		}
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	return tag.RowsAffected(), nil
}

// execOne runs a statement that must change one row, else ErrNotFound.
func (t *tx) execOne(ctx context.Context, what, sql string, args ...any) error {
	n, err := t.exec(ctx, what, sql, args...)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}

// insertOne runs an INSERT … ON CONFLICT DO NOTHING that must add one
// row, else ErrConflict. A unique violation raised as an error would abort
// the whole transaction in PostgreSQL, and callers go on after a conflict
// (the import's row-by-row path does).
func (t *tx) insertOne(ctx context.Context, what, sql string, args ...any) error {
	n, err := t.exec(ctx, what, sql+` ON CONFLICT DO NOTHING`, args...)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrConflict)
	}
	return nil
}

// subject returns the arguments ($1, $2) that name subject id.
func (t *tx) subject(id string) (seq, given any) {
	if n, ok := t.ids.Seq(id); ok {
		return n, nil
	}
	return nil, id
}

// newRow returns the seq and id column of a new subject row: an id given
// from elsewhere takes the next number of the shared counter.
func (t *tx) newRow(ctx context.Context, id string) (int64, any, error) {
	if n, ok := t.ids.Seq(id); ok {
		return n, nil, nil
	}
	var seq int64
	if err := t.q.QueryRow(ctx, `UPDATE subject_counter SET last = last + 1 RETURNING last`).Scan(&seq); err != nil {
		return 0, nil, err
	}
	return seq, id, nil
}

func (t *tx) PutSubject(ctx context.Context, s *subject.Row) error {
	seq, given, err := t.newRow(ctx, s.ID)
	if err != nil {
		return fmt.Errorf("put subject: %w", err)
	}
	return t.insertOne(ctx, "put subject", `INSERT INTO subjects (seq, id, unit, dek, dek_version, fields, created, updated) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		seq, given, s.Unit, s.DEK, int64(s.DEKVersion), s.Fields, micros(s.Created), micros(s.Updated))
}

func (t *tx) ReplaceSubject(ctx context.Context, s *subject.Row) error {
	seq, given := t.subject(s.ID)
	return t.execOne(ctx, "replace subject", `UPDATE subjects SET unit = $3, dek = $4, dek_version = $5, fields = $6, updated = $7 WHERE seq = `+subjectSeq+` AND `+sameID+` AND NOT erased`,
		seq, given, s.Unit, s.DEK, int64(s.DEKVersion), s.Fields, micros(s.Updated))
}

func (t *tx) GetSubject(ctx context.Context, id string) (*subject.Row, error) {
	seq, given := t.subject(id)
	return scanSubject(t.q.QueryRow(ctx, `SELECT `+subjectColumns+` FROM subjects WHERE seq = `+subjectSeq+` AND `+sameID, seq, given), id)
}

// subjectColumns are the columns scanSubject reads, first in a SELECT
// FROM subjects.
const subjectColumns = `seq, unit, dek, dek_version, fields, created, updated, ` + activeColumn + `, erased, canary`

// activeColumn is the record's last activity (subject_activity), 0 for
// none, in a SELECT FROM subjects.
const activeColumn = `coalesce((SELECT day FROM subject_activity a WHERE a.seq = subjects.seq), 0)`

// scanSubject scans a row of subject id that starts with subjectColumns;
// extra receive the columns after them.
func scanSubject(r pgx.Row, id string, extra ...any) (*subject.Row, error) {
	s := &subject.Row{ID: id}
	var created, updated, active, ver int64
	if err := r.Scan(append([]any{&s.Seq, &s.Unit, &s.DEK, &ver, &s.Fields, &created, &updated, &active, &s.Erased, &s.Canary}, extra...)...); err != nil {
		return nil, notFound(err, "get subject")
	}
	s.DEKVersion = uint32(ver)
	s.Created, s.Updated, s.Active = fromMicros(created), fromMicros(updated), zeroOrMicros(active)
	return s, nil
}

// TouchSubjects writes every touch in one statement: a batch of the
// integrator's is thousands of records, and a statement each would hold
// the writer (and its group's accesses) for a round trip each.
func (t *tx) TouchSubjects(ctx context.Context, touches []subject.Touch) error {
	if len(touches) == 0 {
		return nil
	}
	seqs, given, days := make([]*int64, len(touches)), make([]*string, len(touches)), make([]int64, len(touches))
	for i, tc := range touches {
		if seq, ok := t.ids.Seq(tc.ID); ok {
			seqs[i] = &seq
		} else {
			given[i] = &tc.ID // an id given from elsewhere
		}
		days[i] = micros(tc.Day)
	}
	if _, err := t.q.Exec(ctx, `INSERT INTO subject_activity AS a (seq, day)
		SELECT s.seq, max(v.day)
		FROM (SELECT coalesce(u.seq, (SELECT seq FROM subjects WHERE id = u.id)) AS seq, u.id, u.day
			FROM unnest($1::bigint[], $2::text[], $3::bigint[]) AS u(seq, id, day)) v
		JOIN subjects s ON s.seq = v.seq AND s.id IS NOT DISTINCT FROM v.id AND NOT s.erased
		GROUP BY s.seq
		ON CONFLICT (seq) DO UPDATE SET day = excluded.day WHERE a.day < excluded.day`, seqs, given, days); err != nil {
		return fmt.Errorf("touch subjects: %w", err)
	}
	return nil
}

func (t *tx) ActivityMark(ctx context.Context) (int64, error) {
	var seq int64
	if err := t.q.QueryRow(ctx, `SELECT seq FROM activity_mark`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("activity mark: %w", err)
	}
	return seq, nil
}

func (t *tx) MoveActivityMark(ctx context.Context, from, to int64) (bool, error) {
	tag, err := t.q.Exec(ctx, `UPDATE activity_mark SET seq = $2 WHERE seq = $1`, from, to)
	if err != nil {
		return false, fmt.Errorf("move activity mark: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

func (t *tx) EraseSubject(ctx context.Context, id string, at time.Time) error {
	seq, given := t.subject(id)
	return t.execOne(ctx, "erase subject", `UPDATE subjects SET dek = NULL, fields = NULL, erased = TRUE, updated = $3 WHERE seq = `+subjectSeq+` AND `+sameID+` AND NOT erased`, seq, given, micros(at))
}

func (t *tx) PutIndex(ctx context.Context, gen uint32, hash []byte, subject string) error {
	seq, ok := t.ids.Seq(subject)
	if !ok { // an id given from elsewhere: its subject must exist
		err := t.q.QueryRow(ctx, `SELECT seq FROM subjects WHERE id = $1`, subject).Scan(&seq)
		if err != nil {
			return notFound(err, "put index: subject")
		}
	}
	key, err := hashKey(hash)
	if err != nil {
		return fmt.Errorf("put index: %w", err)
	}
	return t.insertOne(ctx, "put index", `INSERT INTO lookup (hash, subject, gen) VALUES ($1, $2, $3)`, key, seq, int64(gen))
}

// hashKey is a blind index hash as the lookup table keeps it: a uuid,
// which pgx sends from a [16]byte (migration 025).
func hashKey(h []byte) ([subject.HashLen]byte, error) {
	if len(h) != subject.HashLen {
		return [subject.HashLen]byte{}, fmt.Errorf("blind index hash of %d bytes, want %d", len(h), subject.HashLen)
	}
	return [subject.HashLen]byte(h), nil
}

func (t *tx) LookupIndex(ctx context.Context, hash []byte) (string, error) {
	key, err := hashKey(hash)
	if err != nil { // no entry has such a hash
		return "", fmt.Errorf("lookup index: %w", store.ErrNotFound)
	}
	var seq int64
	var given *string
	if err := t.q.QueryRow(ctx, `SELECT l.subject, s.id FROM lookup l LEFT JOIN subjects s ON s.seq = l.subject WHERE l.hash = $1`, key).Scan(&seq, &given); err != nil {
		return "", notFound(err, "lookup index")
	}
	if given != nil {
		return *given, nil
	}
	return t.ids.ID(seq), nil
}

func (t *tx) DeleteIndex(ctx context.Context, hash []byte) error {
	key, err := hashKey(hash)
	if err != nil {
		return nil // no entry has such a hash
	}
	_, err = t.exec(ctx, "delete index", `DELETE FROM lookup WHERE hash = $1`, key)
	return err
}

func (t *tx) AppendAudit(ctx context.Context, e *audit.Entry) error {
	seq, err := t.nums.take(ctx)
	if err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	e.Seq = seq
	if g := t.g; g != nil {
		g.taken = append(g.taken, seq)
		g.seqs, g.leaves = append(g.seqs, seq), append(g.leaves, audit.LeafData(e))
		return nil
	}
	if _, err := t.q.Exec(ctx, `INSERT INTO audit (seq, leaf) VALUES ($1, $2)`, seq, audit.LeafData(e)); err != nil {
		e.Seq = 0
		t.nums.void(context.WithoutCancel(ctx), []int64{seq})
		return fmt.Errorf("append audit: %w", err)
	}
	return nil
}

// logEnd is the end of the log as this transaction sees it: the
// contiguous prefix of the audit table (see sequence.go).
func (t *tx) logEnd(ctx context.Context) (int64, error) {
	var head int64
	if err := t.q.QueryRow(ctx, logMark).Scan(&head); err != nil {
		return 0, fmt.Errorf("audit head: %w", err)
	}
	return frontier(ctx, t.q, head)
}

// capToLog lowers to, an exclusive bound, to the log's end plus one, when
// it reaches past audit_head (below it every number has its row).
func (t *tx) capToLog(ctx context.Context, to int64) (int64, error) {
	var head int64
	if err := t.q.QueryRow(ctx, logMark).Scan(&head); err != nil {
		return 0, fmt.Errorf("audit head: %w", err)
	}
	if to <= head+1 {
		return to, nil
	}
	end, err := frontier(ctx, t.q, head)
	if err != nil {
		return 0, err
	}
	return min(to, end+1), nil
}

// leaves decodes the leaves of rows, keeping those keep accepts, at most
// limit (0: all).
func leaves(rows pgx.Rows, keep func(*audit.Entry) bool, limit int) ([]audit.Entry, error) {
	defer rows.Close()
	var out []audit.Entry
	for rows.Next() {
		e, err := audit.ParseLeaf(rows.RawValues()[0])
		if err != nil {
			return nil, fmt.Errorf("read audit: %w", err)
		}
		if keep != nil && !keep(&e) {
			continue
		}
		out = append(out, e)
		if limit > 0 && len(out) == limit {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read audit: %w", err)
	}
	return out, nil
}

func (t *tx) AuditEntries(ctx context.Context, from, to int64, limit int) ([]audit.Entry, error) {
	if err := t.flushAudit(ctx); err != nil {
		return nil, err
	}
	to, err := t.capToLog(ctx, to)
	if err != nil {
		return nil, fmt.Errorf("audit entries: %w", err)
	}
	rows, err := t.q.Query(ctx, `SELECT leaf FROM audit WHERE seq >= $1 AND seq < $2 ORDER BY seq LIMIT $3`, from, to, limit)
	if err != nil {
		return nil, fmt.Errorf("audit entries: %w", err)
	}
	return leaves(rows, nil, 0)
}

func (t *tx) AuditLeaves(ctx context.Context, from, to int64, fn func(seq int64, leaf []byte) error) error {
	if err := t.flushAudit(ctx); err != nil {
		return err
	}
	from = max(from, 1)
	if to <= from {
		return nil
	}
	to, err := t.capToLog(ctx, to)
	if err != nil {
		return fmt.Errorf("audit leaves: %w", err)
	}
	if to <= from {
		return nil
	}
	// The LIMIT, which the range implies (seqs are distinct integers),
	// keeps the plan an ordered index scan whatever the statistics: on a
	// table not analysed since a bulk load (autovacuum off or behind) the
	// planner guesses a third of the table, and sorts a parallel bitmap
	// scan compiled by JIT, 40 ms for one row (a breach's window search
	// reads about 46 such rows; see docs/benchmarks.md, "Issue 15").
	rows, err := t.q.Query(ctx, `SELECT seq, leaf FROM audit WHERE seq >= $1 AND seq < $2 ORDER BY seq LIMIT $3`, from, to, to-from)
	if err != nil {
		return fmt.Errorf("audit leaves: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		raw := rows.RawValues() // binary format: seq is 8 bytes big-endian
		if len(raw[0]) != 8 {
			return fmt.Errorf("audit leaves: seq of %d bytes", len(raw[0]))
		}
		seq := int64(uint64(raw[0][0])<<56 | uint64(raw[0][1])<<48 | uint64(raw[0][2])<<40 | uint64(raw[0][3])<<32 |
			uint64(raw[0][4])<<24 | uint64(raw[0][5])<<16 | uint64(raw[0][6])<<8 | uint64(raw[0][7]))
		if err := fn(seq, raw[1]); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (t *tx) LastAuditSeq(ctx context.Context) (int64, error) {
	if err := t.flushAudit(ctx); err != nil {
		return 0, err
	}
	n, err := t.logEnd(ctx)
	if err != nil {
		return 0, fmt.Errorf("last audit seq: %w", err)
	}
	return n, nil
}

func (t *tx) SubjectAudit(ctx context.Context, subject string, limit int) ([]audit.Entry, error) {
	if err := t.flushAudit(ctx); err != nil {
		return nil, err
	}
	if subject == "" {
		return nil, nil
	}
	// The leaf holds the id as it is: position narrows the scan, the
	// decoded entry decides.
	rows, err := t.q.Query(ctx, `SELECT leaf FROM audit WHERE position($1::bytea in leaf) > 0 ORDER BY seq DESC`, []byte(subject))
	if err != nil {
		return nil, fmt.Errorf("subject audit: %w", err)
	}
	return leaves(rows, func(e *audit.Entry) bool { return e.Subject == subject }, limit)
}

const operatorColumns = `id, username, password_hash, totp_secret, totp_step, role, unit, created, disabled, locked, locked_at, failures, failures_since, last_login, active_since, deleted, role_since`

func (t *tx) PutOperator(ctx context.Context, o *identity.Operator) error {
	return t.insertOne(ctx, "put operator", `INSERT INTO operators (id, username, password_hash, totp_secret, totp_step, role, unit, created, disabled) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		o.ID, o.Username, o.PasswordHash, o.TOTPSecret, o.TOTPStep, o.Role, o.Unit, micros(o.Created), o.Disabled)
}

func (t *tx) operator(ctx context.Context, where string, arg any) (*identity.Operator, error) {
	o, err := scanOperator(t.q.QueryRow(ctx, `SELECT `+operatorColumns+` FROM operators WHERE `+where+` = $1`, arg))
	if err != nil {
		return nil, notFound(err, "get operator")
	}
	return o, nil
}

// scanOperator reads a row of operatorColumns.
func scanOperator(r pgx.Row) (*identity.Operator, error) {
	o := &identity.Operator{}
	var created, lockedAt, since, failures, lastLogin, activeSince, deleted, roleSince int64
	err := r.Scan(&o.ID, &o.Username, &o.PasswordHash, &o.TOTPSecret, &o.TOTPStep, &o.Role, &o.Unit, &created, &o.Disabled, &o.Locked, &lockedAt, &failures, &since, &lastLogin, &activeSince, &deleted, &roleSince)
	if err != nil {
		return nil, err
	}
	o.Failures = int(failures)
	if o.Failures > 0 {
		o.FailuresSince = fromMicros(since)
	}
	o.Created = fromMicros(created)
	if o.Locked != "" {
		o.LockedAt = fromMicros(lockedAt)
	}
	o.LastLogin, o.ActiveSince, o.Deleted, o.RoleSince = zeroOrMicros(lastLogin), zeroOrMicros(activeSince), zeroOrMicros(deleted), zeroOrMicros(roleSince)
	return o, nil
}

func (t *tx) GetOperator(ctx context.Context, id string) (*identity.Operator, error) {
	return t.operator(ctx, "id", id)
}

func (t *tx) GetOperatorByName(ctx context.Context, username string) (*identity.Operator, error) {
	return t.operator(ctx, "username", username)
}

func (t *tx) AdvanceTOTP(ctx context.Context, id string, step int64) (bool, error) {
	n, err := t.exec(ctx, "advance totp", `UPDATE operators SET totp_step = $1 WHERE id = $2 AND totp_step < $1`, step, id)
	return n == 1, err
}

func (t *tx) CountSubjects(ctx context.Context) (int64, error) {
	var n int64
	if err := t.q.QueryRow(ctx, `SELECT count(*) FROM subjects WHERE NOT erased AND NOT canary`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count subjects: %w", err)
	}
	return n, nil
}

func (t *tx) CanarySubjects(ctx context.Context) ([]string, error) {
	return t.subjectIDs(ctx, "canaries", `SELECT seq, id FROM subjects WHERE canary`)
}

func (t *tx) KeylessSubjects(ctx context.Context, after string, limit int) ([]string, error) {
	seq, given := t.subject(after)
	if after == "" {
		seq, given = int64(0), nil
	}
	return t.subjectIDs(ctx, "keyless subjects", `SELECT seq, id FROM subjects WHERE seq > coalesce(`+subjectSeq+`, 0) AND NOT erased AND dek IS NULL ORDER BY seq LIMIT $3`, seq, given, limit)
}

func (t *tx) DeleteIndexesOf(ctx context.Context, ids []string) (int64, error) {
	seqs, given := make([]int64, 0, len(ids)), []string{}
	for _, id := range ids {
		if seq, ok := t.ids.Seq(id); ok {
			seqs = append(seqs, seq)
		} else {
			given = append(given, id) // an id given from elsewhere
		}
	}
	return t.exec(ctx, "delete indexes of", `DELETE FROM lookup WHERE subject = ANY($1::bigint[])
		OR subject IN (SELECT seq FROM subjects WHERE id = ANY($2::text[]))`, seqs, given)
}

// subjectIDs runs query, which selects subjects' seq and id, and returns
// their ids (what names it in errors).
func (t *tx) subjectIDs(ctx context.Context, what, query string, args ...any) ([]string, error) {
	rows, err := t.q.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var seq int64
		var id *string
		if err := rows.Scan(&seq, &id); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if id != nil {
			out = append(out, *id)
		} else {
			out = append(out, t.ids.ID(seq))
		}
	}
	return out, rows.Err()
}

func (t *tx) CountOperators(ctx context.Context) (int, error) {
	var n int
	if err := t.q.QueryRow(ctx, `SELECT count(*) FROM operators`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count operators: %w", err)
	}
	return n, nil
}

func (t *tx) UnitExists(ctx context.Context, unit string) (bool, error) {
	var ok bool
	if err := t.q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM operators WHERE unit = $1)`, unit).Scan(&ok); err != nil {
		return false, fmt.Errorf("unit exists: %w", err)
	}
	return ok, nil
}

func (t *tx) SetOperatorRole(ctx context.Context, id, role, unit string, at time.Time) error {
	return t.execOne(ctx, "set role", `UPDATE operators SET role = $1, unit = $2, role_since = $3 WHERE id = $4`, role, unit, micros(at), id)
}

func (t *tx) PutSession(ctx context.Context, s *identity.Session) error {
	return t.insertOne(ctx, "put session", `INSERT INTO sessions (hash, kind, operator, created, last_seen, expires, attempts, origin, user_agent, stepped_up, step_factor, step_group) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		s.Hash, string(s.Kind), s.Operator, micros(s.Created), micros(s.LastSeen), micros(s.Expires), s.Attempts, s.Origin, s.UserAgent, microsOrZero(s.SteppedUp), s.StepFactor, s.StepGroup)
}

const sessionColumns = `s.kind, s.operator, s.created, s.last_seen, s.expires, s.attempts, s.origin, s.user_agent, s.challenge, s.stepped_up, s.step_factor, s.step_group, o.role, o.unit, o.disabled, o.locked`

// scanSession reads a session row of sessionColumns (with the hash
// first, withHash).
func scanSession(r pgx.Row, withHash bool) (*identity.Session, error) {
	s := &identity.Session{}
	var kind string
	var created, seen, expires, stepped, attempts int64
	dest := []any{&kind, &s.Operator, &created, &seen, &expires, &attempts, &s.Origin, &s.UserAgent, &s.Challenge, &stepped, &s.StepFactor, &s.StepGroup, &s.Role, &s.Unit, &s.Disabled, &s.Locked}
	if withHash {
		dest = append([]any{&s.Hash}, dest...)
	}
	if err := r.Scan(dest...); err != nil {
		return nil, err
	}
	s.Kind, s.Attempts = identity.SessionKind(kind), int(attempts)
	s.Created, s.LastSeen, s.Expires = fromMicros(created), fromMicros(seen), fromMicros(expires)
	if stepped != 0 {
		s.SteppedUp = fromMicros(stepped)
	}
	return s, nil
}

func (t *tx) GetSession(ctx context.Context, hash []byte) (*identity.Session, error) {
	var gen uint64
	var read time.Time
	if t.sessions != nil {
		gen, read = t.sessions.Gen(), time.Now()
		if s, ok := t.sessions.Get(hash, gen); ok {
			return s, nil
		}
	}
	s, err := scanSession(t.q.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions s JOIN operators o ON o.id = s.operator WHERE s.hash = $1`, hash), false)
	if err != nil {
		return nil, notFound(err, "get session")
	}
	s.Hash = hash
	if t.sessions != nil {
		t.sessions.Put(s, gen, read)
	}
	return s, nil
}

func (t *tx) TouchSession(ctx context.Context, hash []byte, lastSeen time.Time, attempt bool) error {
	inc := 0
	if attempt {
		inc = 1
	}
	return t.execOne(ctx, "touch session", `UPDATE sessions SET last_seen = $1, attempts = attempts + $2 WHERE hash = $3`, micros(lastSeen), inc, hash)
}

func (t *tx) DeleteSession(ctx context.Context, hash []byte) error {
	_, err := t.exec(ctx, "delete session", `DELETE FROM sessions WHERE hash = $1`, hash)
	return err
}

func (t *tx) DeleteOperatorSessions(ctx context.Context, operator string) error {
	_, err := t.exec(ctx, "delete operator sessions", `DELETE FROM sessions WHERE operator = $1`, operator)
	return err
}

func (t *tx) DeleteAllSessions(ctx context.Context, except string) (int, error) {
	n, err := t.exec(ctx, "delete all sessions", `DELETE FROM sessions WHERE operator != $1`, except)
	return int(n), err
}

func (t *tx) OperatorSessions(ctx context.Context, operator string) ([]identity.Session, error) {
	rows, err := t.q.Query(ctx, `SELECT s.hash, `+sessionColumns+` FROM sessions s JOIN operators o ON o.id = s.operator WHERE s.operator = $1 AND s.kind = 'session' ORDER BY s.created DESC`, operator)
	if err != nil {
		return nil, fmt.Errorf("operator sessions: %w", err)
	}
	defer rows.Close()
	var out []identity.Session
	for rows.Next() {
		s, err := scanSession(rows, true)
		if err != nil {
			return nil, fmt.Errorf("operator sessions: %w", err)
		}
		out = append(out, *s)
	}
	return out, rows.Err()
}

func (t *tx) SetChallenge(ctx context.Context, hash, challenge []byte) error {
	return t.execOne(ctx, "set challenge", `UPDATE sessions SET challenge = $1 WHERE hash = $2`, challenge, hash)
}

func (t *tx) StepUp(ctx context.Context, hash []byte, at time.Time, factor, group, origin, userAgent string) error {
	return t.execOne(ctx, "step up", `UPDATE sessions SET stepped_up = $1, step_factor = $2, step_group = $3, origin = $4, user_agent = $5 WHERE hash = $6`, micros(at), factor, group, origin, userAgent, hash)
}

func (t *tx) PutWebAuthn(ctx context.Context, c *identity.WebAuthnCredential) error {
	return t.insertOne(ctx, "put webauthn credential", `INSERT INTO webauthn_credentials (id, operator, name, credential, sign_count, created) VALUES ($1, $2, $3, $4, $5, $6)`,
		c.ID, c.Operator, c.Name, c.Credential, int64(c.SignCount), micros(c.Created))
}

func (t *tx) WebAuthnCredentials(ctx context.Context, operator string) ([]identity.WebAuthnCredential, error) {
	rows, err := t.q.Query(ctx, `SELECT id, operator, name, credential, sign_count, created, last_used FROM webauthn_credentials WHERE operator = $1 ORDER BY created, id`, operator)
	if err != nil {
		return nil, fmt.Errorf("webauthn credentials: %w", err)
	}
	defer rows.Close()
	var out []identity.WebAuthnCredential
	for rows.Next() {
		var c identity.WebAuthnCredential
		var count, created, used int64
		if err := rows.Scan(&c.ID, &c.Operator, &c.Name, &c.Credential, &count, &created, &used); err != nil {
			return nil, fmt.Errorf("webauthn credentials: %w", err)
		}
		c.SignCount, c.Created = uint32(count), fromMicros(created)
		if used != 0 {
			c.LastUsed = fromMicros(used)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func (t *tx) UpdateWebAuthn(ctx context.Context, id, credential []byte, signCount uint32, at time.Time) error {
	return t.execOne(ctx, "update webauthn credential", `UPDATE webauthn_credentials SET credential = $1, sign_count = $2, last_used = $3 WHERE id = $4`, credential, int64(signCount), micros(at), id)
}

func (t *tx) DeleteWebAuthn(ctx context.Context, operator string, id []byte) error {
	return t.execOne(ctx, "delete webauthn credential", `DELETE FROM webauthn_credentials WHERE operator = $1 AND id = $2`, operator, id)
}

func (t *tx) PutRecoveryCodes(ctx context.Context, operator string, hashes [][]byte) error {
	if _, err := t.exec(ctx, "put recovery codes", `DELETE FROM recovery_codes WHERE operator = $1`, operator); err != nil {
		return err
	}
	if len(hashes) == 0 {
		return nil
	}
	_, err := t.exec(ctx, "put recovery codes", `INSERT INTO recovery_codes (operator, hash) SELECT $1, h FROM unnest($2::bytea[]) AS h`, operator, hashes)
	return err
}

func (t *tx) UseRecoveryCode(ctx context.Context, operator string, hash []byte) (bool, error) {
	n, err := t.exec(ctx, "use recovery code", `UPDATE recovery_codes SET used = TRUE WHERE operator = $1 AND hash = $2 AND NOT used`, operator, hash)
	return n == 1, err
}

func (t *tx) CountRecoveryCodes(ctx context.Context, operator string) (int, error) {
	var n int
	if err := t.q.QueryRow(ctx, `SELECT count(*) FROM recovery_codes WHERE operator = $1 AND NOT used`, operator).Scan(&n); err != nil {
		return 0, fmt.Errorf("count recovery codes: %w", err)
	}
	return n, nil
}

func (t *tx) LoginFailure(ctx context.Context, id string, at time.Time, window time.Duration) (int, error) {
	var n int
	err := t.q.QueryRow(ctx, `UPDATE operators SET failures = CASE WHEN failures_since < $1 THEN 1 ELSE failures + 1 END,
		failures_since = CASE WHEN failures_since < $1 THEN $2 ELSE failures_since END WHERE id = $3 RETURNING failures`,
		micros(at.Add(-window)), micros(at), id).Scan(&n)
	if err != nil {
		return 0, notFound(err, "login failure")
	}
	return n, nil
}

func (t *tx) CountOrigin(ctx context.Context, key string, now time.Time, every time.Duration) (int, time.Time, error) {
	if _, err := t.exec(ctx, "count origin", `DELETE FROM origin_counts WHERE until <= $1`, micros(now)); err != nil {
		return 0, time.Time{}, err
	}
	var n int
	var until int64
	err := t.q.QueryRow(ctx, `INSERT INTO origin_counts (key, until, n) VALUES ($1, $2, 1) ON CONFLICT (key) DO UPDATE SET n = origin_counts.n + 1 RETURNING n, until`,
		key, micros(now.Add(every))).Scan(&n, &until)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("count origin: %w", err)
	}
	return n, fromMicros(until), nil
}

func (t *tx) OriginCount(ctx context.Context, key string, now time.Time) (int, time.Time, error) {
	var n int
	var until int64
	err := t.q.QueryRow(ctx, `SELECT n, until FROM origin_counts WHERE key = $1 AND until > $2`, key, micros(now)).Scan(&n, &until)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, time.Time{}, nil
	}
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("origin count: %w", err)
	}
	return n, fromMicros(until), nil
}

func (t *tx) HoldOrigin(ctx context.Context, key string, now time.Time) (bool, error) {
	n, err := t.exec(ctx, "hold origin", `UPDATE origin_counts SET held = 1 WHERE key = $1 AND until > $2 AND held = 0`, key, micros(now))
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

func (t *tx) PutRegular(ctx context.Context, key string, at, before time.Time) error {
	if _, err := t.exec(ctx, "put regular", `DELETE FROM login_regulars WHERE at < $1`, micros(before)); err != nil {
		return err
	}
	_, err := t.exec(ctx, "put regular", `INSERT INTO login_regulars (key, at) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET at = excluded.at`, key, micros(at))
	return err
}

func (t *tx) Regular(ctx context.Context, key string) (time.Time, error) {
	var at int64
	err := t.q.QueryRow(ctx, `SELECT at FROM login_regulars WHERE key = $1`, key).Scan(&at)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("regular: %w", err)
	}
	return time.UnixMicro(at).UTC(), nil
}

func (t *tx) ResetLoginFailures(ctx context.Context, id string) error {
	return t.execOne(ctx, "reset login failures", `UPDATE operators SET failures = 0, failures_since = 0 WHERE id = $1`, id)
}

func (t *tx) PutCheckpoint(ctx context.Context, c *audit.StoredCheckpoint) error {
	rng := bytes.Join(c.Range, nil)
	if rng == nil {
		rng = []byte{}
	}
	lv := c.Leaves
	if lv == nil {
		lv = []byte{}
	}
	var ifrom, isize *int64
	var iroot, irng []byte
	if c.Index != nil {
		from, size := c.Index.From, int64(c.Index.Size)
		ifrom, isize, iroot = &from, &size, c.Index.Root
		if irng = bytes.Join(c.IndexRange, nil); irng == nil {
			irng = []byte{}
		}
	}
	return t.insertOne(ctx, "put checkpoint", `INSERT INTO checkpoints (size, root, note, compact_range, leaves, created, index_from, index_size, index_root, index_range) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		int64(c.Size), c.Root, c.Note, rng, lv, micros(c.Created), ifrom, isize, iroot, irng)
}

func scanCheckpoint(r pgx.Row) (*audit.StoredCheckpoint, error) {
	c := &audit.StoredCheckpoint{}
	var size, created int64
	var rng, iroot, irng []byte
	var ifrom, isize *int64
	if err := r.Scan(&size, &c.Root, &c.Note, &rng, &c.Leaves, &created, &ifrom, &isize, &iroot, &irng); err != nil {
		return nil, err
	}
	var err error
	if c.Range, err = splitHashes(rng); err != nil {
		return nil, fmt.Errorf("checkpoint %d: range: %w", size, err)
	}
	if ifrom != nil && isize != nil {
		c.Index = &audit.IndexHead{From: *ifrom, Size: uint64(*isize), Root: iroot}
		if c.IndexRange, err = splitHashes(irng); err != nil {
			return nil, fmt.Errorf("checkpoint %d: index range: %w", size, err)
		}
	}
	c.Size, c.Created = uint64(size), fromMicros(created)
	return c, nil
}

// splitHashes cuts concatenated 32-byte hashes apart.
func splitHashes(b []byte) ([][]byte, error) {
	if len(b)%32 != 0 {
		return nil, fmt.Errorf("%d bytes, not a multiple of 32", len(b))
	}
	var out [][]byte
	for i := 0; i < len(b); i += 32 {
		out = append(out, b[i:i+32])
	}
	return out, nil
}

// checkpointLock keys the transaction-level advisory lock an Update takes
// before it reads the latest checkpoint, per schema.
const checkpointLock = `hashtextextended('coffre audit checkpoints ' || current_schema(), 0)`

// LatestCheckpoint, in an Update, first takes the checkpoint lock of the
// schema until the transaction ends: the integrators of several servers
// each check in an Update that the latest checkpoint is still the one
// they built on before writing theirs and its tiles, and under read
// committed two of them would both pass the check and overwrite each
// other's tiles (`coffre audit verify` then failed on a two-node store).
// The lock makes the second wait for the first's COMMIT, and its read,
// a new snapshot, then sees the first's checkpoint.
func (t *tx) LatestCheckpoint(ctx context.Context) (*audit.StoredCheckpoint, error) {
	if t.write {
		if _, err := t.q.Exec(ctx, `SELECT pg_advisory_xact_lock(`+checkpointLock+`)`); err != nil {
			return nil, fmt.Errorf("latest checkpoint: %w", err)
		}
	}
	c, err := scanCheckpoint(t.q.QueryRow(ctx, `SELECT size, root, note, compact_range, ''::bytea, created, index_from, index_size, index_root, index_range FROM checkpoints ORDER BY size DESC LIMIT 1`))
	if err != nil {
		return nil, notFound(err, "latest checkpoint")
	}
	return c, nil
}

func (t *tx) CheckpointsAfter(ctx context.Context, after uint64, limit int) ([]audit.StoredCheckpoint, error) {
	rows, err := t.q.Query(ctx, `SELECT size, root, note, compact_range, leaves, created, index_from, index_size, index_root, index_range FROM checkpoints WHERE size > $1 ORDER BY size LIMIT $2`, int64(after), limit)
	if err != nil {
		return nil, fmt.Errorf("checkpoints: %w", err)
	}
	defer rows.Close()
	var out []audit.StoredCheckpoint
	for rows.Next() {
		c, err := scanCheckpoint(rows)
		if err != nil {
			return nil, fmt.Errorf("checkpoints: %w", err)
		}
		out = append(out, *c)
	}
	return out, rows.Err()
}

func (t *tx) PutTiles(ctx context.Context, tiles []audit.Tile) error {
	for _, tl := range tiles {
		if _, err := t.exec(ctx, "put tile", `INSERT INTO tiles (level, idx, hashes) VALUES ($1, $2, $3) ON CONFLICT (level, idx) DO UPDATE SET hashes = excluded.hashes`,
			int64(tl.ID.Level), int64(tl.ID.Index), tl.Hashes); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) GetTiles(ctx context.Context, ids []audit.TileID) (map[audit.TileID]audit.Tile, error) {
	return t.getTiles(ctx, "tiles", ids)
}

// getTiles reads tiles of table in one query, however many: a person's
// history needs hundreds.
func (t *tx) getTiles(ctx context.Context, table string, ids []audit.TileID) (map[audit.TileID]audit.Tile, error) {
	out := make(map[audit.TileID]audit.Tile, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	levels, idxs := make([]int64, len(ids)), make([]int64, len(ids))
	for i, id := range ids {
		levels[i], idxs[i] = int64(id.Level), int64(id.Index)
	}
	rows, err := t.q.Query(ctx, `SELECT t.level, t.idx, t.hashes FROM unnest($1::bigint[], $2::bigint[]) AS w(level, idx)
		JOIN `+table+` t ON t.level = w.level AND t.idx = w.idx`, levels, idxs)
	if err != nil {
		return nil, fmt.Errorf("get %d tiles: %w", len(ids), err)
	}
	defer rows.Close()
	for rows.Next() {
		var level, idx int64
		var h []byte
		if err := rows.Scan(&level, &idx, &h); err != nil {
			return nil, fmt.Errorf("get %d tiles: %w", len(ids), err)
		}
		id := audit.TileID{Level: uint(level), Index: uint64(idx)}
		out[id] = audit.Tile{ID: id, Hashes: h}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("get %d tiles: %w", len(ids), err)
	}
	return out, nil
}

// GetGuard reads an operator's guard state. In an Update it locks the
// state's row until the transaction ends, so that two servers (or two
// requests) never both count from the same state: the first access of an
// operator makes the row to lock.
func (t *tx) GetGuard(ctx context.Context, operator string) (guard.State, error) {
	b, err := t.guardBytes(ctx, operator)
	if err != nil {
		return guard.State{}, err
	}
	st, err := guard.Unmarshal(b)
	if err != nil {
		return guard.State{}, fmt.Errorf("get guard state: %w", err)
	}
	return st, nil
}

// guardBytes reads an operator's stored guard state (nil if none): see
// GetGuard.
func (t *tx) guardBytes(ctx context.Context, operator string) ([]byte, error) {
	if t.g != nil {
		if b, ok := t.g.guards[operator]; ok {
			return b, nil // written earlier in the group, whose lock holds the row
		}
	}
	q := `SELECT state FROM guard_state WHERE operator = $1`
	if t.write {
		q += ` FOR UPDATE`
	}
	var b []byte
	err := t.q.QueryRow(ctx, q, operator).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) && t.write {
		if _, err := t.exec(ctx, "get guard state", `INSERT INTO guard_state (operator, state) VALUES ($1, '') ON CONFLICT DO NOTHING`, operator); err != nil {
			return nil, err
		}
		err = t.q.QueryRow(ctx, q, operator).Scan(&b)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get guard state: %w", err)
	}
	if len(b) == 0 {
		return nil, nil
	}
	return b, nil
}

func (t *tx) PutGuard(ctx context.Context, operator string, st guard.State) error {
	state := st.Marshal()
	if t.g != nil {
		if t.g.guards == nil {
			t.g.guards = map[string][]byte{}
		}
		t.g.guards[operator] = state
		return nil
	}
	_, err := t.exec(ctx, "put guard state", `INSERT INTO guard_state (operator, state) VALUES ($1, $2) ON CONFLICT (operator) DO UPDATE SET state = excluded.state`, operator, state)
	return err
}

func (t *tx) InCaseload(ctx context.Context, operator, subject string, at time.Time) (bool, error) {
	var in bool
	if err := t.q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM caseload WHERE operator = $1 AND subject = $2 AND (until = 0 OR until > $3))`, operator, subject, micros(at)).Scan(&in); err != nil {
		return false, fmt.Errorf("caseload: %w", err)
	}
	return in, nil
}

func (t *tx) CaseloadUntil(ctx context.Context, operator, subject string) (time.Time, error) {
	var until int64
	if err := t.q.QueryRow(ctx, `SELECT until FROM caseload WHERE operator = $1 AND subject = $2`, operator, subject).Scan(&until); err != nil {
		return time.Time{}, notFound(err, "caseload until")
	}
	if until == 0 {
		return time.Time{}, nil
	}
	return fromMicros(until), nil
}

func (t *tx) AssignCaseload(ctx context.Context, operator string, subjects []string, until time.Time) error {
	// DISTINCT: an upsert may not touch one row twice in a statement.
	_, err := t.exec(ctx, "assign caseload", `INSERT INTO caseload (operator, subject, until) SELECT DISTINCT $1, s, $3::bigint FROM unnest($2::text[]) AS s
		ON CONFLICT (operator, subject) DO UPDATE SET until = excluded.until`, operator, subjects, microsOrZero(until))
	return err
}

func (t *tx) RemoveCaseload(ctx context.Context, operator string, subjects []string) (int, error) {
	n, err := t.exec(ctx, "remove caseload", `DELETE FROM caseload WHERE operator = $1 AND subject = ANY($2::text[])`, operator, subjects)
	return int(n), err
}

func (t *tx) PruneCaseload(ctx context.Context, operator string, keep []string) (int, error) {
	if keep == nil {
		keep = []string{}
	}
	n, err := t.exec(ctx, "prune caseload", `DELETE FROM caseload WHERE operator = $1 AND subject <> ALL($2::text[])`, operator, keep)
	return int(n), err
}

func (t *tx) CountCaseload(ctx context.Context, operator string, at time.Time) (int, error) {
	var n int
	if err := t.q.QueryRow(ctx, `SELECT count(*) FROM caseload WHERE operator = $1 AND (until = 0 OR until > $2)`, operator, micros(at)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count caseload: %w", err)
	}
	return n, nil
}

func (t *tx) GetCanary(ctx context.Context, subject string) (string, error) {
	var partner string
	if err := t.q.QueryRow(ctx, `SELECT partner FROM canaries WHERE subject = $1`, subject).Scan(&partner); err != nil {
		return "", notFound(err, "get canary")
	}
	return partner, nil
}

func (t *tx) PutCanary(ctx context.Context, subject, partner string, at time.Time) error {
	seq, given := t.subject(subject)
	if err := t.execOne(ctx, "put canary", `UPDATE subjects SET canary = TRUE WHERE seq = `+subjectSeq+` AND `+sameID, seq, given); err != nil {
		return err
	}
	return t.insertOne(ctx, "put canary", `INSERT INTO canaries (subject, partner, created) VALUES ($1, $2, $3)`, subject, partner, micros(at))
}

func (t *tx) LockOperator(ctx context.Context, id, code string, at time.Time) error {
	return t.execOne(ctx, "lock operator", `UPDATE operators SET locked = $1, locked_at = $2 WHERE id = $3`, code, micros(at), id)
}

func (t *tx) PutAlert(ctx context.Context, a *guard.Alert) error {
	ev := a.Evidence
	if ev == nil {
		ev = []int64{}
	}
	err := t.q.QueryRow(ctx, `INSERT INTO alerts (ts, operator, code, severity, action, evidence, seq) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		micros(a.Time), a.Operator, a.Code, a.Severity, a.Action, ev, a.Seq()).Scan(&a.ID)
	if err != nil {
		return fmt.Errorf("put alert: %w", err)
	}
	return nil
}

func (t *tx) Alerts(ctx context.Context, after int64, limit int) ([]guard.Alert, error) {
	return t.alerts(ctx, `SELECT id, ts, operator, code, severity, action, evidence FROM alerts WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
}

func (t *tx) SequencedAlerts(ctx context.Context, from, to int64) ([]guard.Alert, error) {
	return t.alerts(ctx, `SELECT id, ts, operator, code, severity, action, evidence FROM alerts WHERE seq >= $1 AND seq < $2 ORDER BY seq, id`, from, to)
}

func (t *tx) alerts(ctx context.Context, query string, args ...any) ([]guard.Alert, error) {
	rows, err := t.q.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	defer rows.Close()
	var out []guard.Alert
	for rows.Next() {
		var a guard.Alert
		var ts int64
		if err := rows.Scan(&a.ID, &ts, &a.Operator, &a.Code, &a.Severity, &a.Action, &a.Evidence); err != nil {
			return nil, fmt.Errorf("alerts: %w", err)
		}
		a.Time = fromMicros(ts)
		if a.Evidence == nil {
			a.Evidence = []int64{}
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

func (t *tx) PutOutbox(ctx context.Context, kind string, payload []byte, at time.Time) error {
	_, err := t.exec(ctx, "put outbox", `INSERT INTO outbox (ts, kind, payload) VALUES ($1, $2, $3)`, micros(at), kind, payload)
	return err
}

func (t *tx) PutExtension(ctx context.Context, e *guard.Extension) error {
	return t.insertOne(ctx, "put extension", `INSERT INTO extensions (id, operator, unit, subjects, hours, reason, created) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		e.ID, e.Operator, e.Unit, e.Subjects, e.Hours, e.Reason, micros(e.Created))
}

func (t *tx) GetExtension(ctx context.Context, id string) (*guard.Extension, error) {
	e := &guard.Extension{}
	var created, approved, subjects, hours int64
	err := t.q.QueryRow(ctx, `SELECT id, operator, unit, subjects, hours, reason, created, approved_by, approved_at, first_approver FROM extensions WHERE id = $1`, id).
		Scan(&e.ID, &e.Operator, &e.Unit, &subjects, &hours, &e.Reason, &created, &e.ApprovedBy, &approved, &e.FirstApprover)
	if err != nil {
		return nil, notFound(err, "get extension")
	}
	e.Subjects, e.Hours, e.Created = int(subjects), int(hours), fromMicros(created)
	if e.ApprovedBy != "" {
		e.ApprovedAt = fromMicros(approved)
	}
	return e, nil
}

func (t *tx) FirstApproval(ctx context.Context, id, by string) error {
	n, err := t.exec(ctx, "first approval", `UPDATE extensions SET first_approver = $1 WHERE id = $2 AND first_approver = '' AND approved_by = ''`, by, id)
	if err != nil {
		return err
	}
	if n == 0 {
		if _, err := t.GetExtension(ctx, id); err != nil {
			return fmt.Errorf("first approval: %w", err)
		}
		return fmt.Errorf("first approval: approved already: %w", store.ErrConflict)
	}
	return nil
}

func (t *tx) PendingExtensions(ctx context.Context, unit string, limit int) ([]guard.Extension, error) {
	rows, err := t.q.Query(ctx, `SELECT id, operator, unit, subjects, hours, reason, created, first_approver FROM extensions WHERE unit = $1 AND approved_by = '' ORDER BY created, id LIMIT $2`, unit, limit)
	if err != nil {
		return nil, fmt.Errorf("pending extensions: %w", err)
	}
	defer rows.Close()
	var out []guard.Extension
	for rows.Next() {
		var e guard.Extension
		var created, subjects, hours int64
		if err := rows.Scan(&e.ID, &e.Operator, &e.Unit, &subjects, &hours, &e.Reason, &created, &e.FirstApprover); err != nil {
			return nil, fmt.Errorf("pending extensions: %w", err)
		}
		e.Subjects, e.Hours, e.Created = int(subjects), int(hours), fromMicros(created)
		out = append(out, e)
	}
	return out, rows.Err()
}

func (t *tx) ApproveExtension(ctx context.Context, id, by string, at time.Time) error {
	n, err := t.exec(ctx, "approve extension", `UPDATE extensions SET approved_by = $1, approved_at = $2 WHERE id = $3 AND approved_by = ''`, by, micros(at), id)
	if err != nil {
		return err
	}
	if n == 0 {
		if _, err := t.GetExtension(ctx, id); err != nil {
			return fmt.Errorf("approve extension: %w", err)
		}
		return fmt.Errorf("approve extension: already approved: %w", store.ErrConflict)
	}
	return nil
}

func (t *tx) PutPartner(ctx context.Context, p *identity.Partner) error {
	return t.insertOne(ctx, "put partner", `INSERT INTO partners (id, name, sector, key_hash, cert_serial, created) VALUES ($1, $2, $3, $4, $5, $6)`,
		p.ID, p.Name, p.Sector, p.KeyHash, p.CertSerial, micros(p.Created))
}

func (t *tx) partner(ctx context.Context, where string, arg any) (*identity.Partner, error) {
	p := &identity.Partner{}
	var created int64
	err := t.q.QueryRow(ctx, `SELECT id, name, sector, key_hash, cert_serial, created FROM partners WHERE `+where+` = $1`, arg).
		Scan(&p.ID, &p.Name, &p.Sector, &p.KeyHash, &p.CertSerial, &created)
	if err != nil {
		return nil, notFound(err, "get partner")
	}
	p.Created = fromMicros(created)
	return p, nil
}

func (t *tx) GetPartner(ctx context.Context, id string) (*identity.Partner, error) {
	return t.partner(ctx, "id", id)
}

func (t *tx) GetPartnerByName(ctx context.Context, name string) (*identity.Partner, error) {
	return t.partner(ctx, "name", name)
}

func (t *tx) GetPartnerByKey(ctx context.Context, keyHash []byte) (*identity.Partner, error) {
	return t.partner(ctx, "key_hash", keyHash)
}

func (t *tx) SetPartnerCredentials(ctx context.Context, id string, keyHash []byte, serial string) error {
	return t.execOne(ctx, "set partner credentials", `UPDATE partners SET key_hash = $1, cert_serial = $2 WHERE id = $3`, keyHash, serial, id)
}

func (t *tx) PutPseudonym(ctx context.Context, sector, pseudonym, subject string) error {
	_, err := t.exec(ctx, "put pseudonym", `INSERT INTO pseudonyms (sector, pseudonym, subject) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, sector, pseudonym, subject)
	return err
}

func (t *tx) ResolvePseudonym(ctx context.Context, sector, pseudonym string) (string, error) {
	var s string
	if err := t.q.QueryRow(ctx, `SELECT subject FROM pseudonyms WHERE sector = $1 AND pseudonym = $2`, sector, pseudonym).Scan(&s); err != nil {
		return "", notFound(err, "resolve pseudonym")
	}
	return s, nil
}
