package postgres

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/outbox"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/group"
	"github.com/coffre/coffre/internal/store/postgres/pgtest"
	"github.com/coffre/coffre/internal/store/sessioncache"
	"github.com/coffre/coffre/internal/store/storetest"
	"github.com/coffre/coffre/internal/subjectid"
)

// testIDs is a subject id codec under a fixed key.
func testIDs(t testing.TB) *subjectid.Codec {
	c, err := subjectid.New(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func openTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), migratedDB(t), Options{IDs: testIDs(t), Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTest(t) })
}

// TestGroupKeepsDeferredRows runs one group by hand: the second function
// appends, reads the audit log (which writes the group's pending entries
// inside its savepoint) and fails. The others' entries must survive its
// rollback, numbered without a gap.
func TestGroupKeepsDeferredRows(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	boom := errors.New("boom")
	appendOne := func(actor string, after func(context.Context, store.Tx) error) *group.Request {
		return group.NewRequest(ctx, func(ctx context.Context, tx store.Tx) error {
			if err := tx.AppendAudit(ctx, &audit.Entry{Actor: actor, Action: "read", Decision: "allow"}); err != nil {
				return err
			}
			if after != nil {
				return after(ctx, tx)
			}
			return nil
		})
	}
	batch := []*group.Request{
		appendOne("op_a", nil),
		appendOne("op_b", func(ctx context.Context, tx store.Tx) error {
			if _, err := tx.AuditEntries(ctx, 1, 100, 100); err != nil {
				return err
			}
			return boom
		}),
		appendOne("op_c", nil),
	}
	if err := s.runGroup(ctx, batch, false); err != nil {
		t.Fatal(err)
	}
	if batch[0].Err != nil || !errors.Is(batch[1].Err, boom) || batch[2].Err != nil {
		t.Fatalf("errors %v, %v, %v; want nil, boom, nil", batch[0].Err, batch[1].Err, batch[2].Err)
	}
	var got []string
	err := s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		es, err := tx.AuditEntries(ctx, 1, 100, 100)
		for i, e := range es {
			if e.Seq != int64(i+1) {
				t.Errorf("entry %d has seq %d", i, e.Seq)
			}
			got = append(got, e.Actor)
		}
		return err
	})
	if err != nil || len(got) != 2 || got[0] != "op_a" || got[1] != "op_c" {
		t.Fatalf("audit after the group: %v, %v; want op_a, op_c", got, err)
	}
}

// TestTwoServersCountGuardStates runs two stores on one database, as two
// servers would, each adding one to the same operator's guard state from
// many goroutines: no increment may be lost.
func TestTwoServersCountGuardStates(t *testing.T) {
	pgURL := migratedDB(t)
	ctx := context.Background()
	var stores []*Store
	for range 2 {
		s, err := Open(ctx, pgURL, Options{IDs: testIDs(t)})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores = append(stores, s)
	}
	const per = 60
	var wg sync.WaitGroup
	errs := make(chan error, 2*per)
	for i := range 2 * per {
		s := stores[i%2]
		wg.Go(func() {
			errs <- s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
				st, err := tx.GetGuard(ctx, "op_1")
				if err != nil {
					return err
				}
				st.DaySubjects++
				if err := tx.AppendAudit(ctx, &audit.Entry{Actor: "op_1", Action: "read", Decision: "allow"}); err != nil {
					return err
				}
				return tx.PutGuard(ctx, "op_1", st)
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var st guard.State
	stores[0].View(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		st, err = tx.GetGuard(ctx, "op_1")
		return err
	})
	if n := st.DaySubjects; n != 2*per {
		t.Fatalf("guard state counts %d increments, want %d", n, 2*per)
	}
}

// migratedDB is a database of the test's own on the test server, with
// this binary's schema (package pgtest).
func migratedDB(t testing.TB) string {
	return pgtest.Migrated(t, Digest(), Migrate)
}

// emptySchema is an empty schema of the test's own on the test server,
// for the tests of migrations themselves.
func emptySchema(t testing.TB) string {
	u, _ := pgtest.Schema(t, "coffre_test_")
	return u
}

// TestGroupKeepsDeferredMessages runs one group by hand: each function
// queues a message (deferred to the group's end), the second then claims
// (which writes the pending messages inside its savepoint) and fails. Its
// message must go with its rollback, the others' must stay.
func TestGroupKeepsDeferredMessages(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	boom := errors.New("boom")
	now := time.Now()
	queue := func(key string, after func(context.Context, store.Tx) error) *group.Request {
		return group.NewRequest(ctx, func(ctx context.Context, tx store.Tx) error {
			err := tx.PutMessage(ctx, &outbox.Message{Kind: "k", Channel: outbox.ChannelPerson, Recipient: "sub_x", Key: key, Payload: []byte(key), Next: now, Created: now})
			if err != nil || after == nil {
				return err
			}
			return after(ctx, tx)
		})
	}
	batch := []*group.Request{
		queue("a", nil),
		queue("b", func(ctx context.Context, tx store.Tx) error {
			ms, err := tx.Claim(ctx, "w", now, time.Minute, 10)
			if err != nil {
				return err
			}
			if len(ms) != 2 {
				t.Errorf("claim inside the group: %d messages, want 2 (its own and the first)", len(ms))
			}
			return boom
		}),
		queue("c", nil),
	}
	if err := s.runGroup(ctx, batch, false); err != nil {
		t.Fatal(err)
	}
	if batch[0].Err != nil || !errors.Is(batch[1].Err, boom) || batch[2].Err != nil {
		t.Fatalf("errors %v, %v, %v; want nil, boom, nil", batch[0].Err, batch[1].Err, batch[2].Err)
	}
	var got []string
	err := s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		ms, err := tx.Messages(ctx, 0, 10)
		for _, m := range ms {
			got = append(got, m.Key)
			if m.LeaseOwner != "" {
				t.Errorf("message %s leased by %q after the claim's rollback", m.Key, m.LeaseOwner)
			}
		}
		return err
	})
	if err != nil || !slices.Equal(got, []string{"a", "c"}) {
		t.Fatalf("messages after the group: %v, %v; want a, c", got, err)
	}
}

// TestSessionChangedByAnotherServer: a change another server on the same
// database makes to a session's operator reaches this server's checks,
// answered from its session cache until then, within sessioncache.For.
func TestSessionChangedByAnotherServer(t *testing.T) {
	ctx := context.Background()
	u := migratedDB(t)
	open := func() *Store {
		s, err := Open(ctx, u, Options{IDs: testIDs(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open(), open()
	h, t0 := []byte("session-hash"), time.Now().UTC()
	if err := a.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tx.PutOperator(ctx, &identity.Operator{ID: "op_1", Username: "op1", PasswordHash: "h", Role: "caseworker", Unit: "u1", Created: t0}); err != nil {
			return err
		}
		return tx.PutSession(ctx, &identity.Session{Hash: h, Kind: identity.KindSession, Operator: "op_1", Created: t0, LastSeen: t0, Expires: t0.Add(time.Hour)})
	}); err != nil {
		t.Fatal(err)
	}
	lookup := func() (*identity.Session, error) {
		var ses *identity.Session
		err := a.View(ctx, func(ctx context.Context, tx store.Tx) error {
			var err error
			ses, err = tx.GetSession(ctx, h)
			return err
		})
		return ses, err
	}
	if ses, err := lookup(); err != nil || ses.Disabled {
		t.Fatalf("lookup = %+v, %v", ses, err)
	}
	if err := b.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.SetOperatorDisabled(ctx, "op_1", true, time.Now())
	}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(sessioncache.For + 10*time.Millisecond)
	if ses, err := lookup(); err != nil || !ses.Disabled {
		t.Errorf("%v after another server disabled the operator: %+v, %v", sessioncache.For, ses, err)
	}
}
