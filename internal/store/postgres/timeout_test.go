package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/subject"
)

func openTimeouts(t *testing.T, u string, statement, lock time.Duration) *Store {
	t.Helper()
	s, err := Open(context.Background(), u, Options{IDs: testIDs(t), StatementTimeout: statement, LockTimeout: lock, MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestTimeoutsOnEveryConnection: every connection of the pool, not only
// the first, starts with the configured timeouts.
func TestTimeoutsOnEveryConnection(t *testing.T) {
	s := openTimeouts(t, migratedDB(t), 1500*time.Millisecond, 250*time.Millisecond)
	ctx := context.Background()
	var conns []*pgxpool.Conn
	defer func() {
		for _, c := range conns {
			c.Release()
		}
	}()
	for i := range 4 { // MaxConns: all of them held at once
		c, err := s.pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		var st, lt string
		if err := c.QueryRow(ctx, `SELECT current_setting('statement_timeout'), current_setting('lock_timeout')`).Scan(&st, &lt); err != nil {
			t.Fatal(err)
		}
		if st != "1500ms" || lt != "250ms" {
			t.Errorf("connection %d: statement_timeout %q, lock_timeout %q; want 1500ms, 250ms", i, st, lt)
		}
	}
}

// TestStatementTimeout: a statement that runs past the statement timeout
// is cut by the server, in a View and in an Update (the group commit's
// transaction), and fails as ErrUnavailable (the API's 503) with
// ErrTimeout; the store serves the next call.
func TestStatementTimeout(t *testing.T) {
	s := openTimeouts(t, migratedDB(t), 300*time.Millisecond, 0)
	ctx := context.Background()
	sleep := func(ctx context.Context, st store.Tx) error {
		_, err := st.(*tx).q.Exec(ctx, `SELECT pg_sleep(3)`)
		return err
	}
	for _, c := range []struct {
		name string
		call func(context.Context, func(context.Context, store.Tx) error) error
	}{{"View", s.View}, {"Update", s.Update}} {
		start := time.Now()
		err := c.call(ctx, sleep)
		took := time.Since(start)
		if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, ErrTimeout) {
			t.Errorf("%s of pg_sleep(3) = %v, want ErrUnavailable and ErrTimeout", c.name, err)
		}
		if took > 2*time.Second {
			t.Errorf("%s of pg_sleep(3) took %s, want about the 300ms timeout", c.name, took)
		}
	}
	err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.AppendAudit(ctx, &audit.Entry{Actor: "op_1", Action: "read", Decision: "allow"})
	})
	if err != nil {
		t.Fatalf("an Update after the timeouts: %v", err)
	}
}

// TestLockTimeout: an audit append waiting for the audit numbering's row,
// which another session holds, gives up after the lock timeout (well
// before the statement timeout) with ErrUnavailable and ErrTimeout, and
// succeeds once the lock is released.
func TestLockTimeout(t *testing.T) {
	u := migratedDB(t)
	s := openTimeouts(t, u, 10*time.Second, 200*time.Millisecond)
	ctx := context.Background()
	appendOne := func() error {
		return s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			return tx.AppendAudit(ctx, &audit.Entry{Actor: "op_1", Action: "read", Decision: "allow"})
		})
	}
	if err := appendOne(); err != nil {
		t.Fatal(err)
	}
	other, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	holder, err := other.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Exec(ctx, `LOCK TABLE audit_reserve IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = appendOne()
	took := time.Since(start)
	if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, ErrTimeout) {
		t.Errorf("an append while audit_reserve (the numbers) is locked = %v, want ErrUnavailable and ErrTimeout", err)
	}
	if took > 3*time.Second {
		t.Errorf("the append took %s, want about the 200ms lock timeout", took)
	}
	if err := holder.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := appendOne(); err != nil {
		t.Fatalf("an append after the lock's release: %v", err)
	}
}

// TestBulkStatementsUnbounded: an import's multi-row statements lift the
// statement timeout for the rest of their transaction (a batch on a large
// table outlasts a timeout sized for an access: 6,600,000 people into
// an import stopped there at the 5 s default); other transactions keep
// it.
func TestBulkStatementsUnbounded(t *testing.T) {
	s := openTimeouts(t, migratedDB(t), 300*time.Millisecond, 0)
	ctx := context.Background()
	show := func(st store.Tx) string {
		var v string
		if err := st.(*tx).q.QueryRow(ctx, `SHOW statement_timeout`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	err := s.Update(ctx, func(ctx context.Context, st store.Tx) error {
		if got := show(st); got != "300ms" {
			t.Errorf("statement_timeout before the bulk statement = %q, want 300ms", got)
		}
		row := &subject.Row{ID: st.(*tx).ids.ID(1), Unit: "u1", DEK: []byte{1}, DEKVersion: 1, Fields: []byte{2}, Created: time.Now(), Updated: time.Now()}
		if err := st.(subject.Bulk).PutSubjects(ctx, []*subject.Row{row}); err != nil {
			return err
		}
		if got := show(st); got != "0" {
			t.Errorf("statement_timeout after the bulk statement = %q, want 0 (off)", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.View(ctx, func(ctx context.Context, st store.Tx) error {
		if got := show(st); got != "300ms" {
			t.Errorf("statement_timeout of the next transaction = %q, want 300ms", got)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
