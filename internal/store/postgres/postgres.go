// Package postgres is the PostgreSQL store, for production: several Coffre
// servers may share one database. It implements store.Store with pgx and
// passes the same conformance suite as the SQLite store (package
// store/storetest), against a real server.
//
// Update calls are committed in groups, as in the SQLite store: one writer
// per server runs the functions queued while the previous group committed
// in one transaction, so that a group waits for one WAL flush, not one per
// call. Audit entries are numbered from blocks of numbers each server
// reserves, so that no lock is held from a group's first append until its
// COMMIT and servers do not queue behind one another; the log stays
// gap-free and duplicate-free across servers and their deaths (numbers a
// server cannot write are voided, by itself or, once its lease has run
// out, by the sequencer that one server runs at a time): see sequence.go
// and VoidAction. Should a
// function fail, the group runs again with a savepoint around each
// function. A group that fails with a serialization failure or a
// deadlock runs again from the start; store.Store allows both. A function
// that panics fails alone, with store.ErrPanic, and is not run again.
//
// Open applies the schema migrations the database lacks, under an
// advisory lock so that servers starting together apply each once (see
// Migrate), or with Options.NoMigrate refuses a database that lacks some.
// Every pooled connection starts with the statement and lock timeouts of
// Options, so that a query or lock wait that would hang a request fails,
// with store.ErrUnavailable and ErrTimeout, instead.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/group"
	"github.com/coffre/coffre/internal/store/sessioncache"
	"github.com/coffre/coffre/internal/subjectid"
)

//go:embed migrations/*.sql
var migrations embed.FS

// ErrClosed is returned by Update and View after Close, wrapped with
// store.ErrUnavailable.
var ErrClosed = group.ErrClosed

// Options tune the store. IDs is required.
type Options struct {
	// IDs makes and reads subject ids (the keyring's SubjectIDs).
	IDs *subjectid.Codec
	// MaxConns caps the connection pool (default: pgxpool's, the larger of
	// 4 and the number of CPUs); MinConns is how many it keeps open when
	// idle (default 0).
	MaxConns, MinConns int32
	// StatementTimeout and LockTimeout, when set, are PostgreSQL's
	// statement_timeout and lock_timeout on every connection of the pool,
	// sent when it connects, so that every transaction runs under them (0:
	// the server's, the role's or the URL's own setting). A statement or
	// a lock wait they cut fails with store.ErrUnavailable and ErrTimeout.
	// Migrations run without them.
	StatementTimeout, LockTimeout time.Duration
	// NoMigrate makes Open refuse, with ErrPendingMigrations, a database
	// that lacks some of this binary's migrations, instead of applying
	// them (configuration store_migrate: manual; see Migrate).
	NoMigrate bool
	// Retries is how many times a transaction that failed with a
	// serialization failure or deadlock is run again (default 5).
	Retries int
	// MaxBatch caps the Update calls in one group commit (default 256).
	MaxBatch int
	// Logger receives what the writer must report: a transaction function
	// that panicked (default slog.Default()).
	Logger *slog.Logger
	// AuditLease is how long the audit numbers a store holds stay its own
	// without word from it: when a server dies, the sequencer voids the
	// numbers it held this long after its last renewal (default 10 s; it
	// renews every quarter of it). See sequence.go.
	AuditLease time.Duration
	// SequencerEvery is how often a store runs a round of the sequencer
	// (taking its lock if free; moving the log's mark when it holds it;
	// default 100 ms). A fifth of it is how long a store holds audit
	// numbers while idle before it releases them.
	SequencerEvery time.Duration
}

// Store is the PostgreSQL store. It implements store.Store.
type Store struct {
	pool   *pgxpool.Pool
	opts   Options
	q      *group.Queue // Update calls waiting for the writer
	nums   *numbers     // this store's audit numbers
	seqr   *sequencer
	stop   context.CancelFunc // stops the sequencing loop
	done   chan struct{}      // closed when it has stopped
	closed sync.Once
	// sessions caches the sessions Views look up (package sessioncache):
	// a change by this store is seen at once, by another server within
	// sessioncache.For.
	sessions sessioncache.Cache

	groups, requests atomic.Int64 // group commits and the Update calls they held
}

// Stats reports the group commits so far and the Update calls they held
// (their ratio: calls a commit).
func (s *Store) Stats() (groups, requests int64) { return s.groups.Load(), s.requests.Load() }

// PoolStats reports the connection pool.
func (s *Store) PoolStats() store.PoolStats {
	st := s.pool.Stat()
	return store.PoolStats{Max: int(st.MaxConns()), InUse: int(st.AcquiredConns()), Idle: int(st.IdleConns()), Waits: st.EmptyAcquireCount(), Waited: st.EmptyAcquireWaitTime()}
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at url (postgres://…), creating or
// migrating the schema (see Migrate), unless Options.NoMigrate.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	if opts.IDs == nil {
		return nil, errors.New("open store: Options.IDs (the subject id codec) is required")
	}
	if opts.Retries <= 0 {
		opts.Retries = 5
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.AuditLease <= 0 {
		opts.AuditLease = 10 * time.Second
	}
	if opts.SequencerEvery <= 0 {
		opts.SequencerEvery = 100 * time.Millisecond
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if opts.MinConns > 0 {
		cfg.MinConns = min(opts.MinConns, cfg.MaxConns)
	}
	setTimeouts(cfg.ConnConfig, opts.StatementTimeout, opts.LockTimeout)
	node := newNode()
	cfg.ConnConfig.RuntimeParams["application_name"] = appName(node)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := openSchema(ctx, pool, opts); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open store %s: %w", redact(url), err)
	}
	s := &Store{pool: pool, opts: opts, q: group.New(opts.MaxBatch), nums: newNumbers(pool, node, opts.Logger),
		seqr: newSequencer(pool.Config().ConnConfig, opts.Logger), done: make(chan struct{})}
	s.q.Separate = true // see store.Alone
	if err := s.nums.renew(ctx, opts.AuditLease); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open store: %w", unavailable(err))
	}
	lctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	go s.sequence(lctx)
	go s.q.Run(s.commit)
	return s, nil
}

// sequence renews the store's lease on its audit numbers, releases those
// it holds while idle, and runs the sequencer's rounds, until ctx ends.
func (s *Store) sequence(ctx context.Context) {
	defer close(s.done)
	defer s.seqr.drop()
	idle := s.opts.SequencerEvery / 5
	tick := time.NewTicker(idle)
	defer tick.Stop()
	renewed := time.Now()
	var failing bool // report a failing round once, not every tick
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if time.Since(renewed) >= s.opts.AuditLease/4 {
			if err := s.nums.renew(ctx, s.opts.AuditLease); err == nil {
				renewed = time.Now()
			}
		}
		s.nums.release(ctx, idle)
		if n%5 != 0 {
			continue
		}
		err := s.seqr.tick(ctx)
		if err != nil && !failing && ctx.Err() == nil {
			s.opts.Logger.Warn("audit sequencer round failed; trying again", "error", err)
		}
		failing = err != nil
	}
}

// redact drops a password from a connection URL for error messages.
func redact(url string) string {
	cfg, err := pgconn.ParseConfig(url)
	if err != nil {
		return "postgres://…"
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}

// Update runs fn in the next group commit; see the package doc.
//
// An error that says the server cannot be reached or written wraps
// store.ErrUnavailable.
func (s *Store) Update(ctx context.Context, fn func(context.Context, store.Tx) error) error {
	return unavailable(s.q.Submit(ctx, fn))
}

// commit runs a group until it commits or fails for good, and answers
// its requests.
func (s *Store) commit(batch []*group.Request) {
	s.groups.Add(1)
	s.requests.Add(int64(len(batch)))
	s.nums.enter()
	defer s.nums.leave()
	ctx := context.Background()
	err := s.runGroup(ctx, batch, false)
	for i, stale := 0, false; (retryable(err) || errors.Is(err, errStale)) && i < s.opts.Retries; i++ {
		stale = stale || errors.Is(err, errStale)
		err = s.runGroup(ctx, batch, stale)
	}
	for _, r := range batch {
		if err != nil {
			r.Err = err
		}
		r.Done()
	}
}

// group runs the batch's functions in one transaction and commits it:
// first back to back; if one fails, again from a fresh transaction with a
// savepoint around each, so that the others still commit. It returns an
// error when the group as a whole failed (a retryable one if a function
// met a serialization failure or deadlock, errStale if a record read
// before it changed). distrust: no record read before the group is taken
// as current (the run after errStale).
func (s *Store) runGroup(ctx context.Context, batch []*group.Request, distrust bool) error {
	for _, savepoints := range []bool{false, true} {
		ptx, err := s.pool.Begin(ctx)
		if err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		t := &tx{ids: s.opts.IDs, write: true, g: &groupState{distrust: distrust}, nums: s.nums}
		t.q = watchedTx{ptx, &t.g.identity}
		// rollback ends the transaction unwritten: its audit numbers go
		// to the next entries.
		rollback := func() {
			ptx.Rollback(ctx)
			s.nums.giveBack(t.g.taken)
		}
		failed := false
		for _, r := range batch {
			if errors.Is(r.Err, store.ErrPanic) {
				failed = true // it panicked in an earlier run: not run again
				continue
			}
			if r.Err = r.Ctx.Err(); r.Err != nil {
				failed = true
				continue
			}
			fctx := context.WithoutCancel(r.Ctx) // a cancel mid-statement would break the shared transaction
			if !savepoints {
				r.Err = group.Call(fctx, s.opts.Logger, r.Fn, t)
				if failed = r.Err != nil; failed {
					break
				}
				continue
			}
			sp, err := ptx.Begin(ctx)
			if err != nil {
				rollback()
				return fmt.Errorf("savepoint: %w", err)
			}
			mark := t.g.mark()
			if r.Err = group.Call(fctx, s.opts.Logger, r.Fn, &tx{q: watchedTx{sp, &t.g.identity}, ids: s.opts.IDs, write: true, g: t.g, nums: s.nums}); r.Err != nil {
				if retryable(r.Err) {
					rollback()
					return r.Err
				}
				back := t.g.rollbackTo(mark)
				if err = sp.Rollback(ctx); err == nil {
					s.nums.giveBack(back)
				} else {
					t.g.taken = append(t.g.taken, back...) // given back with the transaction's
				}
			} else {
				err = sp.Commit(ctx)
			}
			if err != nil {
				rollback()
				return fmt.Errorf("savepoint: %w", err)
			}
		}
		if failed && !savepoints {
			rollback()
			if len(batch) == 1 {
				if retryable(batch[0].Err) {
					return batch[0].Err
				}
				return nil // its own error is its answer
			}
			continue
		}
		if err := t.flush(ctx); errors.Is(err, errStale) {
			rollback() // nothing written: the numbers are given back
			return err
		} else if err != nil {
			// Not given back: a number already written (voided by the
			// sequencer, this store's lease having run out) would fail
			// again. Voided here where unwritten.
			ptx.Rollback(ctx)
			if isUnique(err) {
				s.nums.abandon(ctx)
			}
			s.nums.void(ctx, t.g.taken)
			return err
		}
		err = ptx.Commit(ctx)
		if t.g.identity {
			s.sessions.Changed() // before the callers are answered; also if it may have committed
		}
		if err != nil {
			// It may have committed (the connection broke after the
			// COMMIT left): the numbers are voided where unwritten.
			s.nums.void(ctx, t.g.taken)
			return fmt.Errorf("commit: %w", err)
		}
		return nil
	}
	return nil
}

// View runs fn on the pool: each read sees the latest committed data on
// its own (store.Store promises no snapshot across a View's reads, and a
// BEGIN and ROLLBACK around them would cost two round trips). A panic in
// fn is recovered (see group.Call).
func (s *Store) View(ctx context.Context, fn func(context.Context, store.Tx) error) error {
	if s.q.Stopping() {
		return unavailable(ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return unavailable(group.Call(ctx, s.opts.Logger, fn, &tx{q: s.pool, ids: s.opts.IDs, nums: s.nums, sessions: &s.sessions}))
}

// retryable reports a failure that running the transaction again may cure.
func retryable(err error) bool { return isCode(err, "40001") || isCode(err, "40P01") }

// NewSubjectIDs returns n ids for new subjects, in creation order, from a
// counter row every server shares. Subject rows are never deleted, so no
// number is handed out twice; one handed out and never written is a gap.
func (s *Store) NewSubjectIDs(ctx context.Context, n int) ([]string, error) {
	if n < 0 {
		return nil, fmt.Errorf("new subject ids: n = %d", n)
	}
	if n == 0 {
		return []string{}, nil
	}
	var last int64
	if err := s.pool.QueryRow(ctx, `UPDATE subject_counter SET last = last + $1 RETURNING last`, n).Scan(&last); err != nil {
		return nil, fmt.Errorf("new subject ids: %w", unavailable(err))
	}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = s.opts.IDs.ID(last - int64(n) + 1 + int64(i))
	}
	return ids, nil
}

// Close stops the writer after the group in progress (calls still queued
// get ErrClosed) and closes the pool;
// Update and View then return ErrClosed.
func (s *Store) Close() error {
	s.closed.Do(func() {
		s.q.Stop()
		s.stop()
		<-s.done
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.nums.release(ctx, 0)
		s.pool.Close()
	})
	return nil
}

// appName is the application_name of a store's connections.
func appName(node string) string { return "coffre " + node }

// Leading reports whether this store runs the audit sequencer now (holds
// its advisory lock): the node a failover drill kills.
func (s *Store) Leading() bool {
	ok, _ := s.seqr.leading()
	return ok
}

// Kill stops the store as the death of its process would: its
// connections are terminated by the server (open transactions roll back,
// the sequencer's lock is freed), its loops stop, and nothing is released
// (the audit numbers it held are voided by the sequencer once its lease
// runs out). For failover drills; the store is unusable afterwards.
func (s *Store) Kill(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig)
	if err != nil {
		return fmt.Errorf("kill store: %w", err)
	}
	defer conn.Close(ctx)
	s.closed.Do(func() {
		_, err = conn.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()`, appName(s.nums.node))
		s.q.Stop()
		s.stop()
		<-s.done
		s.pool.Close()
	})
	if err != nil {
		return fmt.Errorf("kill store: %w", err)
	}
	return nil
}

func micros(t time.Time) int64 { return t.UnixMicro() }

// microsOrZero stores the zero time as 0.
func microsOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }
