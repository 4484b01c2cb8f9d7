package postgres

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/coffre/coffre/internal/audit"
)

// Audit numbering across servers, without a lock held across a
// transaction (migration 022; docs/design.md, "Audit numbering on
// PostgreSQL").
//
// Each store (server) reserves blocks of numbers with one short statement
// of its own ([numbers.reserve]) and numbers its groups' entries from
// them, lowest first: an entry's Seq is final when AppendAudit returns, as
// the vault needs (a notice, a guard's evidence and the caller's View
// carry it), and no row stays locked until the group commits. A number
// leaves a store's hands in one of three ways only: its entry commits; the
// store voids it (an entry of action [VoidAction], written ON CONFLICT DO
// NOTHING: a number whose group failed and that the store will not use
// again, or that it holds while idle); or, when the store's lease in
// audit_nodes has run out (its machine died), the sequencer voids it. The
// primary key on audit.seq settles any race between a late commit and a
// void: one of them writes the number, the other fails or does nothing.
//
// The log is therefore gap-free up to the contiguous prefix of the audit
// table, and that prefix is what the store calls the log (LastAuditSeq,
// AuditLeaves and AuditEntries stop at its end, see frontier): entries
// committed above a number still in flight wait there, durable, until it
// is written or voided. The sequencer, run by one store at a time (the
// holder of an advisory lock, on a connection of its own: when that
// connection or its server dies the lock is released and another store
// takes over), moves audit_head.seq up to the prefix's end (so that the
// next scan starts there), drops the blocks below it, and voids the
// blocks of dead stores found at its end. None of its steps depends on
// the lock for correctness (each is monotonic or ON CONFLICT DO NOTHING):
// the lock only saves the other stores the work.

// VoidAction is the action of the entry that fills an audit number whose
// server reserved it and never wrote it (its transaction failed, or it
// died): the log stays gap-free, and the void says so where the gap would
// be.
const VoidAction = "audit.void"

// voidLeaf is the leaf of the void entry for seq.
func voidLeaf(seq int64, at time.Time) []byte {
	return audit.LeafData(&audit.Entry{Seq: seq, Time: at, Actor: "audit", Action: VoidAction, Decision: "void"})
}

// nowMicros is PostgreSQL's clock in Unix microseconds: leases are read
// and written on the database's one clock, not the servers'.
const nowMicros = `(extract(epoch from clock_timestamp()) * 1000000)::bigint`

// span is the numbers lo…hi.
type span struct{ lo, hi int64 }

// numbers hands out one store's audit numbers.
type numbers struct {
	pool *pgxpool.Pool
	node string // this store's name in audit_blocks and audit_nodes
	log  *slog.Logger

	mu       sync.Mutex
	free     []span  // held and unused, sorted, disjoint
	lost     []int64 // to void: a void that failed, tried again
	chunk    int64   // the next reservation's size
	reserved time.Time
	lastUse  time.Time // the last take, or the end of the last group
	groups   int       // groups in progress: the store is not idle
}

// enter and leave bracket a group: a group waiting on a lock (another
// server's, on an operator's guard state) is not idle, and must not see
// its numbers voided under it.
func (n *numbers) enter() {
	n.mu.Lock()
	n.groups++
	n.mu.Unlock()
}

func (n *numbers) leave() {
	n.mu.Lock()
	n.groups--
	n.lastUse = time.Now()
	n.mu.Unlock()
}

// maxChunk caps a reservation: what an idle store may void at once.
const maxChunk = 256

func newNumbers(pool *pgxpool.Pool, node string, log *slog.Logger) *numbers {
	return &numbers{pool: pool, node: node, log: log, chunk: 1}
}

// newNode names a store in audit_blocks and audit_nodes, and its
// connections (application_name "coffre " and the name).
func newNode() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// take returns the lowest number held, reserving a block first if none is.
func (n *numbers) take(ctx context.Context) (int64, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.lastUse = time.Now()
	if len(n.free) == 0 {
		// Busy (the last block went within 100 ms): twice as many.
		if time.Since(n.reserved) < 100*time.Millisecond {
			n.chunk = min(2*n.chunk, maxChunk)
		}
		if err := n.reserve(ctx, n.chunk); err != nil {
			return 0, err
		}
		n.reserved = time.Now()
	}
	s := &n.free[0]
	seq := s.lo
	if s.lo++; s.lo > s.hi {
		n.free = n.free[1:]
	}
	return seq, nil
}

// reserve takes the next size numbers of the log and records the block as
// this store's, in one statement committed without waiting for its WAL to
// reach the disk: should PostgreSQL crash before it does, the reservation
// is lost, but so is every entry numbered from it (a commit flushes the
// WAL written before it), and the numbers are handed out again.
func (n *numbers) reserve(ctx context.Context, size int64) error {
	var lo, hi int64
	err := n.pool.QueryRow(ctx, `WITH c AS (SELECT set_config('synchronous_commit', 'off', true)),
		r AS (UPDATE audit_reserve SET last = last + $1 FROM c RETURNING last)
		INSERT INTO audit_blocks (lo, hi, node) SELECT last - $1 + 1, last, $2 FROM r RETURNING lo, hi`, size, n.node).Scan(&lo, &hi)
	if err != nil {
		return fmt.Errorf("reserve audit numbers: %w", err)
	}
	n.free = append(n.free, span{lo, hi})
	return nil
}

// giveBack returns numbers a group took and did not write (its savepoint
// or its transaction rolled back): the next group takes them first.
func (n *numbers) giveBack(seqs []int64) {
	if len(seqs) == 0 {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, s := range seqs {
		n.free = append(n.free, span{s, s})
	}
	n.free = merge(n.free)
}

// merge sorts spans and joins the adjacent ones.
func merge(spans []span) []span {
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.lo, b.lo) })
	out := spans[:0]
	for _, s := range spans {
		if k := len(out); k > 0 && out[k-1].hi+1 >= s.lo {
			out[k-1].hi = max(out[k-1].hi, s.hi)
			continue
		}
		out = append(out, s)
	}
	return out
}

// void writes void entries for seqs, skipping those written already (a
// group whose COMMIT failed may have committed). What it cannot write is
// kept and tried again by release.
func (n *numbers) void(ctx context.Context, seqs []int64) {
	if len(seqs) == 0 {
		return
	}
	if err := writeVoids(ctx, n.pool, seqs); err != nil {
		n.log.Warn("audit numbers not voided yet; trying again", "count", len(seqs), "error", err)
		n.mu.Lock()
		n.lost = append(n.lost, seqs...)
		n.mu.Unlock()
	}
}

// abandon voids every number the store holds (where unwritten): one of
// them was found written, so its lease ran out and the sequencer may have
// voided them all.
func (n *numbers) abandon(ctx context.Context) {
	n.mu.Lock()
	var seqs []int64
	for _, s := range n.free {
		for v := s.lo; v <= s.hi; v++ {
			seqs = append(seqs, v)
		}
	}
	n.free, n.chunk = nil, 1
	n.mu.Unlock()
	n.void(ctx, seqs)
}

// execer is a pool or a connection.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func writeVoids(ctx context.Context, q execer, seqs []int64) error {
	now := time.Now()
	leaves := make([][]byte, len(seqs))
	for i, s := range seqs {
		leaves[i] = voidLeaf(s, now)
	}
	_, err := q.Exec(ctx, `INSERT INTO audit (seq, leaf) SELECT * FROM unnest($1::bigint[], $2::bytea[]) ON CONFLICT (seq) DO NOTHING`, seqs, leaves)
	return err
}

// release hands back what the store holds when no group has run for idle
// (and everything when idle is 0, at Close): held numbers at the
// top of the reservation are unreserved (a single server never voids
// one), the others are voided, so that no number held by a live but idle
// store keeps the log's prefix from growing.
func (n *numbers) release(ctx context.Context, idle time.Duration) {
	n.mu.Lock()
	if len(n.free) == 0 && len(n.lost) == 0 || idle > 0 && (n.groups > 0 || time.Since(n.lastUse) < idle) {
		n.mu.Unlock()
		return
	}
	free, lost := n.free, n.lost
	n.free, n.lost, n.chunk = nil, nil, 1
	// Held while unreserving: a take in between would reserve above.
	defer n.mu.Unlock()
	var toVoid []int64
	if k := len(free); k > 0 {
		top := free[k-1]
		var ok bool
		err := n.pool.QueryRow(ctx, `WITH c AS (SELECT set_config('synchronous_commit', 'off', true)),
			u AS (UPDATE audit_reserve SET last = $1 - 1 FROM c WHERE last = $2 RETURNING last),
			d AS (DELETE FROM audit_blocks WHERE lo >= $1 AND node = $3 AND EXISTS (SELECT 1 FROM u)),
			s AS (UPDATE audit_blocks SET hi = $1 - 1 WHERE lo < $1 AND hi >= $1 AND node = $3 AND EXISTS (SELECT 1 FROM u))
			SELECT EXISTS (SELECT 1 FROM u)`, top.lo, top.hi, n.node).Scan(&ok)
		if err == nil && ok {
			free = free[:k-1]
		}
	}
	for _, s := range free {
		for v := s.lo; v <= s.hi; v++ {
			toVoid = append(toVoid, v)
		}
	}
	toVoid = append(toVoid, lost...)
	if len(toVoid) > 0 {
		if err := writeVoids(ctx, n.pool, toVoid); err != nil {
			n.log.Warn("audit numbers not voided yet; trying again", "count", len(toVoid), "error", err)
			n.lost = append(n.lost, toVoid...)
		}
	}
}

// renew extends this store's lease on its numbers.
func (n *numbers) renew(ctx context.Context, lease time.Duration) error {
	_, err := n.pool.Exec(ctx, `WITH c AS (SELECT set_config('synchronous_commit', 'off', true))
		INSERT INTO audit_nodes (node, until) SELECT $1, `+nowMicros+` + $2 FROM c
		ON CONFLICT (node) DO UPDATE SET until = excluded.until`, n.node, lease.Microseconds())
	return err
}

// logMark is a number up to which every number has its row or had it
// (an epoch's entries may be deleted once closed: a closed epoch ends
// where the prefix ended when it closed).
const logMark = `SELECT greatest((SELECT seq FROM audit_head), (SELECT coalesce(max(last_seq), 0) FROM audit_epochs))`

// frontier is the end of the audit table's contiguous prefix: the
// largest n such that every number up to n has its row (as this
// transaction sees the table), starting from head, which must be such a
// number (audit_head.seq, or a frontier).
func frontier(ctx context.Context, q querier, head int64) (int64, error) {
	const step = 100000
	for {
		var n int64
		err := q.QueryRow(ctx, `SELECT count(*) FROM (SELECT seq - row_number() OVER (ORDER BY seq) AS d
			FROM (SELECT seq FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2) a) b WHERE d = $1`, head, step).Scan(&n)
		if err != nil {
			return 0, fmt.Errorf("audit frontier: %w", err)
		}
		head += n
		if n < step {
			return head, nil
		}
	}
}

// sequencer runs the sequencer's steps while this store holds the
// advisory lock of its schema, on a connection of its own.
type sequencer struct {
	cfg   *pgx.ConnConfig
	log   *slog.Logger
	conn  *pgx.Conn // nil: not connected
	mu    sync.Mutex
	pid   uint32 // the connection's backend, for tests
	state string // "", "follower" or "leader"
	last  int64  // where the prefix ended in the last round
}

// newSequencer makes a sequencer whose connection commits without
// waiting for the WAL flush: what it writes (the mark, the blocks it
// drops, voids) can be lost in a crash only with what came after it in
// the WAL, and is then done again; a flush per round would compete with
// the groups' own.
func newSequencer(cfg *pgx.ConnConfig, log *slog.Logger) *sequencer {
	c := cfg.Copy()
	c.RuntimeParams["synchronous_commit"] = "off"
	return &sequencer{cfg: c, log: log}
}

// sequencerLock keys the advisory lock, per schema (tests and tenants
// share a database).
const sequencerLock = `hashtextextended('coffre audit sequencer ' || current_schema(), 0)`

// tick runs one round: it connects if need be, takes the lock if free
// and, when it holds it, runs a step. It reports errors after dropping
// the connection (the lock goes with it).
func (q *sequencer) tick(ctx context.Context) error {
	if q.conn == nil {
		c, err := pgx.ConnectConfig(ctx, q.cfg)
		if err != nil {
			return fmt.Errorf("audit sequencer: connect: %w", err)
		}
		q.conn = c
		q.mu.Lock()
		q.pid, q.state = c.PgConn().PID(), "follower"
		q.mu.Unlock()
	}
	err := q.round(ctx)
	if err != nil {
		q.drop()
	}
	return err
}

func (q *sequencer) round(ctx context.Context) error {
	q.mu.Lock()
	leader := q.state == "leader"
	q.mu.Unlock()
	if !leader {
		var got bool
		if err := q.conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(`+sequencerLock+`)`).Scan(&got); err != nil {
			return fmt.Errorf("audit sequencer: %w", err)
		}
		if !got {
			return nil
		}
		q.mu.Lock()
		q.state = "leader"
		q.mu.Unlock()
	}
	return sequenceStep(ctx, q.conn, &q.last)
}

func (q *sequencer) drop() {
	if q.conn != nil {
		q.conn.Close(context.Background())
		q.conn = nil
	}
	q.mu.Lock()
	q.pid, q.state = 0, ""
	q.mu.Unlock()
}

// leading reports whether the sequencer holds the lock, and its backend.
func (q *sequencer) leading() (bool, uint32) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.state == "leader", q.pid
}

// sequenceStep moves audit_head.seq to the end of the contiguous prefix,
// drops the blocks below it and, when the prefix ends where it ended in
// the last round (*last), voids the block found at its end if its store's
// lease has run out; again until no such block is found.
func sequenceStep(ctx context.Context, c *pgx.Conn, last *int64) error {
	for {
		var head int64
		if err := c.QueryRow(ctx, logMark).Scan(&head); err != nil {
			return fmt.Errorf("audit sequencer: %w", err)
		}
		f, err := frontier(ctx, c, head)
		if err != nil {
			return err
		}
		if f > head {
			if _, err := c.Exec(ctx, `WITH u AS (UPDATE audit_head SET seq = $1 WHERE seq < $1)
				DELETE FROM audit_blocks WHERE hi <= $1`, f); err != nil {
				return fmt.Errorf("audit sequencer: %w", err)
			}
		}
		// A hole is looked into only when the prefix has not grown since
		// the last round: a moving prefix has no dead store's block at
		// its end.
		moved := f != *last
		*last = f
		if moved {
			return nil
		}
		var lo, hi int64
		err = c.QueryRow(ctx, `SELECT b.lo, b.hi FROM audit_blocks b LEFT JOIN audit_nodes n ON n.node = b.node
			WHERE b.lo <= $1 AND b.hi >= $1 AND coalesce(n.until, 0) < `+nowMicros, f+1).Scan(&lo, &hi)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("audit sequencer: %w", err)
		}
		// A dead store's block: void what it did not write.
		rows, err := c.Query(ctx, `SELECT g FROM generate_series($1::bigint, $2::bigint) g WHERE NOT EXISTS (SELECT 1 FROM audit WHERE seq = g)`, max(lo, f+1), hi)
		if err != nil {
			return fmt.Errorf("audit sequencer: %w", err)
		}
		missing, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("audit sequencer: %w", err)
		}
		if err := writeVoids(ctx, c, missing); err != nil {
			return fmt.Errorf("audit sequencer: void: %w", err)
		}
		if _, err := c.Exec(ctx, `DELETE FROM audit_blocks WHERE lo = $1`, lo); err != nil {
			return fmt.Errorf("audit sequencer: %w", err)
		}
	}
}
