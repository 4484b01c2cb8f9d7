package sqlite

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetest"
)

// TestIdentityWritesAreKnown: the statements found to write sessions or
// operators (which move the session cache on) are every one that does.
func TestIdentityWritesAreKnown(t *testing.T) {
	for _, name := range []string{"putSession", "setChallenge", "stepUp", "touchSession", "deleteSession", "deleteOpSession",
		"deleteAllSessions", "putOperator", "lockOperator", "setDisabled", "setRole", "eraseOperator"} {
		if !identityWrites[name] {
			t.Errorf("statement %s writes sessions or operators and does not move the session cache on", name)
		}
	}
	if identityWrites["getSession"] || identityWrites["touchSubjectSess"] {
		t.Error("a read, or a write of subject_sessions, moves the session cache on")
	}
}

func sessionStore(t *testing.T, path string) (*Store, []byte) {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, path, Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	h := []byte("session-hash")
	t0 := time.Now().UTC()
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tx.PutOperator(ctx, &identity.Operator{ID: "op_1", Username: "op1", PasswordHash: "h", Role: "caseworker", Unit: "u1", Created: t0}); err != nil {
			return err
		}
		return tx.PutSession(ctx, &identity.Session{Hash: h, Kind: identity.KindSession, Operator: "op_1", Created: t0, LastSeen: t0, Expires: t0.Add(time.Hour)})
	}); err != nil {
		t.Fatal(err)
	}
	return s, h
}

// lookup is the session check of a request: GetSession on the read pool.
func lookup(t *testing.T, s *Store, h []byte) (*identity.Session, error) {
	t.Helper()
	var ses *identity.Session
	err := s.View(context.Background(), func(ctx context.Context, tx store.Tx) error {
		var err error
		ses, err = tx.GetSession(ctx, h)
		return err
	})
	return ses, err
}

// TestSessionChangesSeenAtOnce: whatever this process changes about a
// session or its operator is seen by the very next check, cache or not.
func TestSessionChangesSeenAtOnce(t *testing.T) {
	later := time.Now().UTC().Add(time.Minute).Truncate(time.Microsecond)
	for _, c := range []struct {
		name   string
		change func(ctx context.Context, tx store.Tx, h []byte) error
		check  func(*identity.Session, error) bool
	}{
		{"logout", func(ctx context.Context, tx store.Tx, h []byte) error { return tx.DeleteSession(ctx, h) },
			func(_ *identity.Session, err error) bool { return err != nil }},
		{"locked", func(ctx context.Context, tx store.Tx, _ []byte) error {
			return tx.LockOperator(ctx, "op_1", "velocity", later)
		},
			func(s *identity.Session, _ error) bool { return s != nil && s.Locked == "velocity" }},
		{"disabled", func(ctx context.Context, tx store.Tx, _ []byte) error {
			return tx.SetOperatorDisabled(ctx, "op_1", true, later)
		},
			func(s *identity.Session, _ error) bool { return s != nil && s.Disabled }},
		{"role changed", func(ctx context.Context, tx store.Tx, _ []byte) error {
			return tx.SetOperatorRole(ctx, "op_1", "auditor", "u2", later)
		}, func(s *identity.Session, _ error) bool { return s != nil && s.Role == "auditor" && s.Unit == "u2" }},
		{"touched", func(ctx context.Context, tx store.Tx, h []byte) error { return tx.TouchSession(ctx, h, later, false) },
			func(s *identity.Session, _ error) bool { return s != nil && s.LastSeen.Equal(later) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, h := sessionStore(t, filepath.Join(t.TempDir(), "c.db"))
			for range 2 { // the second is served from the cache
				if ses, err := lookup(t, s, h); err != nil || ses.Role != "caseworker" || !bytes.Equal(ses.Hash, h) {
					t.Fatalf("lookup = %+v, %v", ses, err)
				}
			}
			if err := s.Update(context.Background(), func(ctx context.Context, tx store.Tx) error { return c.change(ctx, tx, h) }); err != nil {
				t.Fatal(err)
			}
			if ses, err := lookup(t, s, h); !c.check(ses, err) {
				t.Errorf("the check after the change = %+v, %v", ses, err)
			}
		})
	}
}

// TestSessionChangedByAnotherProcess: a change made by another process on
// the same file reaches the checks within sessionCacheFor, with no write
// of this process in between.
func TestSessionChangedByAnotherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	s, h := sessionStore(t, path)
	if _, err := lookup(t, s, h); err != nil {
		t.Fatal(err)
	}
	other, err := Open(context.Background(), path, Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Update(context.Background(), func(ctx context.Context, tx store.Tx) error {
		return tx.SetOperatorDisabled(ctx, "op_1", true, time.Now())
	}); err != nil {
		t.Fatal(err)
	}
	other.Close()
	time.Sleep(sessionCacheFor + 10*time.Millisecond)
	if ses, err := lookup(t, s, h); err != nil || !ses.Disabled {
		t.Errorf("%v after another process disabled the operator: %+v, %v", sessionCacheFor, ses, err)
	}
}
