package sqlite

import (
	"context"
	"testing"

	"github.com/coffre/coffre/internal/store"
)

// TestReadPoolMapsTheFile: the read pool's connections map the database
// file (ReadMapMiB), the writer's does not.
func TestReadPoolMapsTheFile(t *testing.T) {
	s := openTest(t)
	var read, write int64
	if err := s.rdb.QueryRowContext(context.Background(), "PRAGMA mmap_size").Scan(&read); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(context.Background(), func(ctx context.Context, _ store.Tx) error {
		return s.wconn.QueryRowContext(ctx, "PRAGMA mmap_size").Scan(&write)
	}); err != nil {
		t.Fatal(err)
	}
	if read < 1<<30 || write != 0 {
		t.Errorf("mmap_size: read pool %d, writer %d; want at least 1 GiB and 0", read, write)
	}
}
