package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/coffre/coffre/internal/store/sqlite/sqlitetest"
)

// TestEveryStatementPrepares: the statements are prepared on their first
// use, not when the store opens; each must still be valid SQL for the
// schema, on the writer's connection and on the read pool.
func TestEveryStatementPrepares(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "c.db"), Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for name := range queries {
		for _, st := range []*stmts{s.stmts, s.rstmts} {
			if _, err := st.stmt(t.Context(), name); err != nil {
				t.Error(err)
			}
		}
	}
	if _, err := s.stmts.stmt(t.Context(), "noSuchStatement"); err == nil {
		t.Error("a statement that is not in queries prepared")
	}
}
