// Package sqlite is Coffre's embedded store: one SQLite file in WAL mode,
// through the pure-Go modernc.org/sqlite driver (no cgo), with the schema
// migrations embedded in the binary.
//
// # Group commit
//
// Every write goes through one writer goroutine that owns the only write
// connection. It takes whatever Update calls queued while the previous
// commit was being made durable, runs each one's function inside its own
// SAVEPOINT within a single BEGIN IMMEDIATE transaction, then commits once
// (synchronous=FULL: the commit is on disk when Update returns). A function
// that fails is rolled back to its savepoint and the others commit; a
// failed COMMIT fails them all. A function that panics fails the same way,
// with store.ErrPanic, and the writer goes on. There is no fixed wait:
// under light load a batch holds one call, under heavy load one fsync
// covers hundreds, and that is how audited reads reach their throughput
// without weakening durability.
//
// Reads that need no write (View) use a separate pool of read-only
// connections, which WAL lets run beside the writer.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/group"
	"github.com/coffre/coffre/internal/store/sessioncache"
	"github.com/coffre/coffre/internal/subjectid"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// ErrClosed is returned by Update and View after Close, wrapped with
// store.ErrUnavailable.
var ErrClosed = group.ErrClosed

// The default page caches. A read of a random record walks the subjects
// table's interior pages (505 pages, 2 MB, for a million people) to one
// leaf: with a 2 MiB cache a reader read many of them from the OS again on
// every access; with 16 MiB they stay, and the audited read took 8% less
// CPU (docs/benchmarks.md, "The page caches"). The writer's pages are
// those the accesses and the integrator touch at random (records'
// activity, the subject index) and an import's: 64 MiB (16 to 192 MiB
// import 1,000,000 people at the same rate; 512 MiB and more are slower,
// the page cache's allocations in modernc.org/sqlite costing more than
// the reads from the OS they save). Together 128 MiB with the default
// four readers of a two-core machine.
const (
	defaultWriterCacheKiB = 64 << 10
	defaultReaderCacheKiB = 16 << 10
)

// Options tune the store. IDs is required; for the rest, the zero value
// is the production default.
type Options struct {
	// IDs makes and reads subject ids (the keyring's SubjectIDs).
	IDs *subjectid.Codec
	// CacheKiB is the page cache of each connection in KiB (default
	// 65536 for the writer, 16384 for each reader: see defaultCaches).
	CacheKiB int
	// Readers is the size of the read pool (default 2×GOMAXPROCS).
	Readers int
	// MaxBatch caps the Update calls in one group commit (default 512).
	MaxBatch int
	// Durability "full" (default) fsyncs every commit; "off" is for bulk
	// loads that can be redone (the import benchmark), never for serving.
	Durability string
	// Logger receives what the writer must report: a transaction function
	// that panicked (default slog.Default()).
	Logger *slog.Logger
}

// Store is the SQLite store. It implements store.Store.
type Store struct {
	path   string
	wdb    *sql.DB
	wconn  *sql.Conn
	rdb    *sql.DB
	q      *group.Queue // Update calls waiting for the writer
	closed sync.Once
	opts   Options
	stmts  *stmts      // on the write connection
	rstmts *stmts      // on the read pool
	cache  writerCache // the writer's guard states and audit numbering
	// changes are the subject rows' changes (fresh.go).
	changes changes
	// sessions caches the read pool's session checks (sessions.go).
	sessions sessioncache.Cache
	block    seqBlock // subject seqs reserved and not yet handed out
	// dataVersion is the writer connection's PRAGMA data_version when its
	// cache was last known good: it changes when another connection commits.
	dataVersion int64

	groups, requests atomic.Int64 // group commits and the Update calls they held
}

// Stats reports the group commits made so far and the Update calls they
// held; requests/groups is the mean group size.
func (s *Store) Stats() (groups, requests int64) { return s.groups.Load(), s.requests.Load() }

// PoolStats reports the read pool (the writer is one connection; its
// queue shows in Stats).
func (s *Store) PoolStats() store.PoolStats {
	st := s.rdb.Stats()
	return store.PoolStats{Max: st.MaxOpenConnections, InUse: st.InUse, Idle: st.Idle, Waits: st.WaitCount, Waited: st.WaitDuration}
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the database at path and migrates it.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if opts.IDs == nil {
		return nil, errors.New("open store: Options.IDs (the subject id codec) is required")
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 512
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Readers <= 0 {
		opts.Readers = 2 * runtime.GOMAXPROCS(0)
	}
	sync := "FULL"
	switch opts.Durability {
	case "", "full":
	case "off":
		sync = "OFF"
	default:
		return nil, fmt.Errorf("open store: durability %q: want full or off", opts.Durability)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
	}
	// Create the file owner-only: SQLite gives its -wal and -shm files the
	// database file's permissions.
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	f.Close()
	wcache, rcache := defaultWriterCacheKiB, defaultReaderCacheKiB
	if opts.CacheKiB > 0 {
		wcache, rcache = opts.CacheKiB, opts.CacheKiB
	}
	dsn := func(cache int, extra ...string) string {
		q := url.Values{}
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous("+sync+")")
		q.Add("_pragma", "foreign_keys(ON)")
		// Savepoint and statement journals in memory: on disk they cost a
		// write of every page a savepoint first touches.
		q.Add("_pragma", "temp_store(MEMORY)")
		q.Add("_pragma", fmt.Sprintf("cache_size(-%d)", cache))
		for _, e := range extra {
			q.Add("_pragma", e)
		}
		return "file:" + path + "?" + q.Encode()
	}
	wdb, err := sql.Open("sqlite", dsn(wcache))
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	wdb.SetMaxOpenConns(1)
	wconn, err := wdb.Conn(ctx)
	if err != nil {
		wdb.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := migrate(ctx, wconn); err != nil {
		wconn.Close()
		wdb.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	rdb, err := sql.Open("sqlite", dsn(rcache, "query_only(1)"))
	if err != nil {
		wconn.Close()
		wdb.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	rdb.SetMaxOpenConns(opts.Readers)
	rdb.SetMaxIdleConns(opts.Readers)
	st, err := prepare(ctx, wconn)
	if err != nil {
		rdb.Close()
		wconn.Close()
		wdb.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	rst, err := prepare(ctx, rdb)
	if err != nil {
		st.close()
		rdb.Close()
		wconn.Close()
		wdb.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	s := &Store{
		path: path, wdb: wdb, wconn: wconn, rdb: rdb, opts: opts, stmts: st, rstmts: rst,
		q: group.New(opts.MaxBatch),
	}
	go s.q.Run(s.commit)
	return s, nil
}

func (s *Store) tx(q querier, st *stmts, cache *writerCache) *tx {
	return &tx{q: q, st: st, cache: cache, ids: s.opts.IDs, changes: &s.changes, sessions: &s.sessions}
}

// Checkpoint copies the committed contents of the write-ahead log into
// the database file now, as far as readers allow, on a connection of its
// own (the writer also does, after any commit that leaves the log over
// 1,000 pages).
func (s *Store) Checkpoint(ctx context.Context) error {
	db, err := sql.Open("sqlite", "file:"+s.path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	defer db.Close()
	var busy, log, done int
	if err := db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &log, &done); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// seqBlock holds the subject seqs this process reserved in the database
// and has not handed out yet.
type seqBlock struct {
	mu      sync.Mutex
	ranges  [][2]int64    // [next, end) each, ascending
	pending chan struct{} // closed when the reservation in flight lands
}

func (b *seqBlock) avail() int64 {
	var n int64
	for _, r := range b.ranges {
		n += r[1] - r[0]
	}
	return n
}

// seqBlockSize is the least a process reserves at a time.
const seqBlockSize = 1024

// NewSubjectIDs returns n ids for new subjects, in creation order. The
// numbers come from blocks this process reserved in the database (a write
// transaction per block), so other processes on the same file never get
// them; subject rows are never deleted (erasure keeps a tombstone), so no
// number is handed out twice. One handed out but never written (a failed
// create, the rest of a block at exit) is a gap. Once a call leaves less
// than its own n, the next block is reserved in the background: a bulk
// import asks for its next batch's ids while the writer commits the
// previous one, and must not wait for that commit.
func (s *Store) NewSubjectIDs(ctx context.Context, n int) ([]string, error) {
	if n < 0 {
		return nil, fmt.Errorf("new subject ids: n = %d", n)
	}
	b := &s.block
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.avail() < int64(n) {
		if p := b.pending; p != nil {
			b.mu.Unlock()
			select {
			case <-p:
			case <-ctx.Done():
				b.mu.Lock()
				return nil, ctx.Err()
			}
			b.mu.Lock()
			continue
		}
		want := max(int64(n)-b.avail(), seqBlockSize)
		last, err := s.reserveSeqs(ctx, want)
		if err != nil {
			return nil, fmt.Errorf("new subject ids: %w", err)
		}
		b.ranges = append(b.ranges, [2]int64{last - want + 1, last + 1})
	}
	ids := make([]string, 0, n)
	for len(ids) < n {
		r := &b.ranges[0]
		for ; r[0] < r[1] && len(ids) < n; r[0]++ {
			ids = append(ids, s.opts.IDs.ID(r[0]))
		}
		if r[0] == r[1] {
			b.ranges = b.ranges[1:]
		}
	}
	if b.avail() < int64(n) && b.pending == nil {
		want := max(int64(n), seqBlockSize)
		p := make(chan struct{})
		b.pending = p
		go func() {
			last, err := s.reserveSeqs(context.WithoutCancel(ctx), want)
			b.mu.Lock()
			if err == nil { // else the next call reserves in its own time
				b.ranges = append(b.ranges, [2]int64{last - want + 1, last + 1})
			}
			b.pending = nil
			b.mu.Unlock()
			close(p)
		}()
	}
	return ids, nil
}

// reserveSeqs takes n subject seqs from the database's counter and
// returns the last.
func (s *Store) reserveSeqs(ctx context.Context, n int64) (int64, error) {
	var last int64
	err := s.Update(ctx, func(ctx context.Context, vt store.Tx) error {
		var err error
		last, err = vt.(*tx).reserveSeqs(ctx, n)
		return err
	})
	return last, err
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// goSteps are migration steps SQL cannot do, run after the file they are
// named by, in its transaction.
var goSteps = map[string]func(context.Context, *sql.Conn) error{
	"008_audit_leaf.sql":  migrateAuditLeaves,
	"024_tiles_rowid.sql": addTileStrata,
}

// addTileStrata gives each full tile of the log and of the subject index
// its stratum (audit.WithStratum), which tiles written from now on have.
func addTileStrata(ctx context.Context, c *sql.Conn) error {
	const batch = 1000
	for _, table := range []string{"tiles", "index_tiles"} {
		type row struct {
			level, idx int64
			hashes     []byte
		}
		for level, idx := int64(-1), int64(-1); ; {
			rows, err := c.QueryContext(ctx, `SELECT level, idx, hashes FROM `+table+` WHERE (level, idx) > (?, ?) AND length(hashes) = ? ORDER BY level, idx LIMIT ?`,
				level, idx, audit.TileWidth*32, batch)
			if err != nil {
				return err
			}
			var full []row
			for rows.Next() {
				var r row
				if err := rows.Scan(&r.level, &r.idx, &r.hashes); err != nil {
					rows.Close()
					return err
				}
				full = append(full, r)
			}
			if err := rows.Close(); err != nil {
				return err
			}
			for _, r := range full {
				if _, err := c.ExecContext(ctx, `UPDATE `+table+` SET hashes = ? WHERE level = ? AND idx = ?`, audit.WithStratum(r.hashes), r.level, r.idx); err != nil {
					return err
				}
			}
			if len(full) < batch {
				break
			}
			level, idx = full[len(full)-1].level, full[len(full)-1].idx
		}
	}
	return nil
}

// migrateAuditLeaves copies the audit entries of the column layout into
// audit_leaf as their leaves, and puts audit_leaf in audit's place.
func migrateAuditLeaves(ctx context.Context, c *sql.Conn) error {
	const batch = 10_000
	for from := int64(1); ; {
		rows, err := c.QueryContext(ctx, `SELECT seq, ts, actor, action, subject, purpose, reason, fields, decision, origin FROM audit WHERE seq >= ? ORDER BY seq LIMIT ?`, from, batch)
		if err != nil {
			return err
		}
		es, err := scanAuditColumns(rows)
		if err != nil {
			return err
		}
		for i := range es {
			if _, err := c.ExecContext(ctx, `INSERT INTO audit_leaf (seq, leaf) VALUES (?, ?)`, es[i].Seq, audit.LeafData(&es[i])); err != nil {
				return err
			}
		}
		if len(es) < batch {
			break
		}
		from = es[len(es)-1].Seq + 1
	}
	_, err := c.ExecContext(ctx, `DROP TABLE audit; ALTER TABLE audit_leaf RENAME TO audit`)
	return err
}

func migrate(ctx context.Context, c *sql.Conn) error {
	var version int
	if err := c.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	if version > len(names) {
		return fmt.Errorf("database schema version %d is newer than this binary's %d", version, len(names))
	}
	for i := version; i < len(names); i++ {
		body, err := migrations.ReadFile(names[i])
		if err != nil {
			return err
		}
		if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if _, err := c.ExecContext(ctx, string(body)); err != nil {
			c.ExecContext(ctx, "ROLLBACK")
			return fmt.Errorf("migration %s: %w", names[i], err)
		}
		if step := goSteps[path.Base(names[i])]; step != nil {
			if err := step(ctx, c); err != nil {
				c.ExecContext(ctx, "ROLLBACK")
				return fmt.Errorf("migration %s: %w", names[i], err)
			}
		}
		if _, err := c.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", i+1)); err != nil {
			c.ExecContext(ctx, "ROLLBACK")
			return fmt.Errorf("migration %s: %w", names[i], err)
		}
		if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
			return fmt.Errorf("migration %s: %w", names[i], err)
		}
	}
	return nil
}

// Update runs fn in the next group commit; see the package doc.
//
// An error that says the store cannot be written (a full disk, an I/O
// error, the store closed) wraps store.ErrUnavailable.
func (s *Store) Update(ctx context.Context, fn func(context.Context, store.Tx) error) error {
	return unavailable(s.q.Submit(ctx, fn))
}

// commit runs one group: see the package doc.
//
// It first runs the group's functions back to back with no savepoint (a
// savepoint costs two statements and a journal copy of the pages it
// touches). Should one fail, the transaction is rolled back and the group
// run again, this time each function in its own savepoint, so the others
// still commit. A function may therefore run twice; only the run that
// commits counts (store.Store documents this).
func (s *Store) commit(batch []*group.Request) {
	ctx := context.Background()
	s.groups.Add(1)
	s.requests.Add(int64(len(batch)))
	finish := func(err error) {
		if err != nil {
			s.cache.drop()
			s.changes.rolledBack()
		}
		for _, r := range batch {
			if err != nil && r.Err == nil {
				r.Err = err
			}
			r.Done()
		}
	}
	if err := s.runGroup(ctx, batch, false); err != nil {
		finish(err)
		return
	}
	failed := false
	for _, r := range batch {
		failed = failed || r.Err != nil
	}
	if failed && len(batch) > 1 {
		s.cache.drop()
		s.changes.rolledBack()
		if _, err := s.stmts.control("rollback").ExecContext(ctx); err != nil {
			finish(fmt.Errorf("rollback: %w", err))
			return
		}
		if err := s.runGroup(ctx, batch, true); err != nil {
			finish(err)
			return
		}
	} else if failed {
		// Alone in its transaction, a failed request rolls it all back.
		s.cache.drop()
		s.changes.rolledBack()
		_, err := s.stmts.control("rollback").ExecContext(ctx)
		finish(err)
		return
	}
	if err := s.cache.flush(ctx, s.tx(s.wconn, s.stmts, nil)); err != nil {
		s.stmts.control("rollback").ExecContext(ctx)
		finish(fmt.Errorf("write guard state: %w", err))
		return
	}
	if _, err := s.stmts.control("commit").ExecContext(ctx); err != nil {
		s.stmts.control("rollback").ExecContext(ctx)
		finish(fmt.Errorf("commit: %w", err))
		return
	}
	s.cache.committed()
	if s.changes.committed() {
		s.sessions.Changed()
	}
	finish(nil)
}

// runGroup begins a transaction and runs each request's function, leaving
// its outcome in r.Err; with savepoints, a failed function's writes are
// undone and the others kept. Without, the caller must roll back if any
// failed. An error return means the transaction is abandoned.
func (s *Store) runGroup(ctx context.Context, batch []*group.Request, savepoints bool) error {
	if _, err := s.stmts.control("begin").ExecContext(ctx); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	// Another process (an import, `coffre operator add` beside a server)
	// may have written since this writer's last group: then what the
	// cache holds (guard states, the audit sequence) is stale. Holding the
	// write lock, no one else commits until this group ends.
	var version int64
	if err := s.stmts.control("dataVersion").QueryRowContext(ctx).Scan(&version); err != nil {
		s.stmts.control("rollback").ExecContext(ctx)
		return fmt.Errorf("data version: %w", err)
	}
	if version != s.dataVersion {
		s.cache.reset()
		s.changes.foreign()
		s.sessions.Changed()
		s.dataVersion = version
	}
	s.cache.begin()
	tx := s.tx(s.wconn, s.stmts, &s.cache)
	for _, r := range batch {
		if !savepoints {
			if r.Err = r.Ctx.Err(); r.Err == nil {
				r.Err = group.Call(r.Ctx, s.opts.Logger, r.Fn, tx)
			}
			if r.Err != nil {
				return nil // the caller rolls back and retries with savepoints
			}
			continue
		}
		if err := s.runSavepoint(ctx, tx, r); err != nil {
			s.stmts.control("rollback").ExecContext(ctx)
			return err
		}
	}
	return nil
}

// runSavepoint runs one request of a group in its own savepoint, leaving
// its outcome in r.Err; an error return means the group's transaction can
// no longer be trusted.
func (s *Store) runSavepoint(ctx context.Context, tx *tx, r *group.Request) error {
	if errors.Is(r.Err, store.ErrPanic) {
		return nil // it panicked in the first run: not run again
	}
	if r.Err = r.Ctx.Err(); r.Err != nil {
		return nil
	}
	if _, err := s.stmts.control("savepoint").ExecContext(ctx); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	mark := s.cache.mark()
	if r.Err = group.Call(r.Ctx, s.opts.Logger, r.Fn, tx); r.Err != nil {
		s.cache.rollbackTo(mark)
		if _, err := s.stmts.control("rollbackTo").ExecContext(ctx); err != nil {
			return fmt.Errorf("rollback to savepoint: %w", err)
		}
	}
	if _, err := s.stmts.control("release").ExecContext(ctx); err != nil {
		return fmt.Errorf("release savepoint: %w", err)
	}
	return nil
}

// View runs fn on the read pool with prepared statements. Each statement
// reads the latest committed state on its own (no BEGIN/ROLLBACK around
// them: the session check on every request is one statement, and the two
// extra round trips cost more than the query). A panic in fn is
// recovered (see group.Call).
func (s *Store) View(ctx context.Context, fn func(context.Context, store.Tx) error) error {
	if s.q.Stopping() {
		return unavailable(ErrClosed)
	}
	return unavailable(group.Call(ctx, s.opts.Logger, fn, s.tx(s.rdb, s.rstmts, nil)))
}

// Close stops the writer after the group in progress (calls still queued
// get ErrClosed) and closes the database.
func (s *Store) Close() error {
	var err error
	s.closed.Do(func() {
		s.q.Stop()
		s.stmts.close()
		s.rstmts.close()
		err = errors.Join(s.rdb.Close(), s.wconn.Close(), s.wdb.Close())
	})
	return err
}

// Exec runs a statement on the write connection, outside group commit. It
// is for tests that inject failures (a trigger that makes the audit insert
// fail) and for maintenance.
func (s *Store) Exec(ctx context.Context, query string) error {
	return s.Update(ctx, func(ctx context.Context, _ store.Tx) error {
		s.changes.changedAll() // what the statement changed is unknown
		_, err := s.wconn.ExecContext(ctx, query)
		return err
	})
}
