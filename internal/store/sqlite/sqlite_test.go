package sqlite

import (
	"context"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetest"
	"path/filepath"
	"testing"

	"github.com/coffre/coffre/internal/store/storetest"
	"github.com/coffre/coffre/internal/vault"
)

func openTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "coffre.db"), Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) vault.Store { return openTest(t) })
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	ctx := context.Background()
	s, err := Open(ctx, path, Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	e := &vault.AuditEntry{Actor: "op", Action: "read", Decision: "allow"}
	if err := s.Update(ctx, func(ctx context.Context, tx vault.Tx) error { return tx.AppendAudit(ctx, e) }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := s.Update(ctx, func(context.Context, vault.Tx) error { return nil }); err != ErrClosed {
		t.Fatalf("Update after Close = %v, want ErrClosed", err)
	}
	s, err = Open(ctx, path, Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	e2 := &vault.AuditEntry{Actor: "op", Action: "read", Decision: "allow"}
	if err := s.Update(ctx, func(ctx context.Context, tx vault.Tx) error { return tx.AppendAudit(ctx, e2) }); err != nil {
		t.Fatal(err)
	}
	if e2.Seq != 2 {
		t.Fatalf("after reopen Seq = %d, want 2", e2.Seq)
	}
}
