package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/sessioncache"
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

// TestSessionChangedByAnotherProcess: a change made by another process on
// the same file reaches the checks within sessioncache.For, with no write
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
	time.Sleep(sessioncache.For + 10*time.Millisecond)
	if ses, err := lookup(t, s, h); err != nil || !ses.Disabled {
		t.Errorf("%v after another process disabled the operator: %+v, %v", sessioncache.For, ses, err)
	}
}
