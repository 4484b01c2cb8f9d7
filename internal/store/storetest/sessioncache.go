package storetest

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/store"
)

// sessionChangesSeenAtOnce: whatever the store changes about a session
// or its operator is seen by the very next check (GetSession in a View,
// as a request makes it), though the checks before were answered from a
// cache (package sessioncache).
func sessionChangesSeenAtOnce(t *testing.T, s store.Store) {
	later := time.Now().UTC().Add(time.Minute).Truncate(time.Microsecond)
	lookup := func(h []byte) (*identity.Session, error) {
		var ses *identity.Session
		err := s.View(ctx, func(ctx context.Context, tx store.Tx) error {
			var err error
			ses, err = tx.GetSession(ctx, h)
			return err
		})
		return ses, err
	}
	for i, c := range []struct {
		name   string
		change func(ctx context.Context, tx store.Tx, op string, h []byte) error
		check  func(*identity.Session, error) bool
	}{
		{"logout", func(ctx context.Context, tx store.Tx, _ string, h []byte) error { return tx.DeleteSession(ctx, h) },
			func(_ *identity.Session, err error) bool { return err != nil }},
		{"locked", func(ctx context.Context, tx store.Tx, op string, _ []byte) error {
			return tx.LockOperator(ctx, op, "velocity", later)
		}, func(s *identity.Session, _ error) bool { return s != nil && s.Locked == "velocity" }},
		{"disabled", func(ctx context.Context, tx store.Tx, op string, _ []byte) error {
			return tx.SetOperatorDisabled(ctx, op, true, later)
		}, func(s *identity.Session, _ error) bool { return s != nil && s.Disabled }},
		{"role changed", func(ctx context.Context, tx store.Tx, op string, _ []byte) error {
			return tx.SetOperatorRole(ctx, op, "auditor", "u2", later)
		}, func(s *identity.Session, _ error) bool { return s != nil && s.Role == "auditor" && s.Unit == "u2" }},
		{"touched", func(ctx context.Context, tx store.Tx, _ string, h []byte) error {
			return tx.TouchSession(ctx, h, later, false)
		},
			func(s *identity.Session, _ error) bool { return s != nil && s.LastSeen.Equal(later) }},
		{"all sessions ended", func(ctx context.Context, tx store.Tx, _ string, _ []byte) error {
			_, err := tx.DeleteAllSessions(ctx, "op_nobody")
			return err
		}, func(_ *identity.Session, err error) bool { return err != nil }},
	} {
		t.Run(c.name, func(t *testing.T) {
			op, h := fmt.Sprintf("op_cache%d", i), []byte(fmt.Sprintf("cached-session-%d", i))
			t0 := time.Now().UTC()
			update(t, s, func(ctx context.Context, tx store.Tx) error {
				if err := tx.PutOperator(ctx, &identity.Operator{ID: op, Username: op, PasswordHash: "h", Role: "caseworker", Unit: "u1", Created: t0}); err != nil {
					return err
				}
				return tx.PutSession(ctx, &identity.Session{Hash: h, Kind: identity.KindSession, Operator: op, Created: t0, LastSeen: t0, Expires: t0.Add(time.Hour)})
			})
			for range 2 { // the second may be answered from the cache
				if ses, err := lookup(h); err != nil || ses.Role != "caseworker" || !bytes.Equal(ses.Hash, h) {
					t.Fatalf("lookup = %+v, %v", ses, err)
				}
			}
			update(t, s, func(ctx context.Context, tx store.Tx) error { return c.change(ctx, tx, op, h) })
			if ses, err := lookup(h); !c.check(ses, err) {
				t.Errorf("the check after the change = %+v, %v", ses, err)
			}
		})
	}
}
