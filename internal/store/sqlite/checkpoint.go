package sqlite

import (
	"bytes"
	"context"
	"fmt"

	"github.com/coffre/coffre/internal/vault"
)

func (t *tx) PutCheckpoint(ctx context.Context, c *vault.StoredCheckpoint) error {
	rng := bytes.Join(c.Range, nil)
	if rng == nil {
		rng = []byte{}
	}
	leaves := c.Leaves
	if leaves == nil {
		leaves = []byte{}
	}
	_, err := t.exec(ctx, "putCheckpoint", int64(c.Size), c.Root, c.Note, rng, leaves, micros(c.Created))
	if isConstraint(err) {
		return fmt.Errorf("put checkpoint: %w", vault.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("put checkpoint: %w", err)
	}
	return nil
}

func scanCheckpoint(scan func(...any) error) (*vault.StoredCheckpoint, error) {
	c := &vault.StoredCheckpoint{}
	var size, created int64
	var rng []byte
	if err := scan(&size, &c.Root, &c.Note, &rng, &c.Leaves, &created); err != nil {
		return nil, err
	}
	if len(rng)%32 != 0 {
		return nil, fmt.Errorf("checkpoint %d: range of %d bytes", size, len(rng))
	}
	for i := 0; i < len(rng); i += 32 {
		c.Range = append(c.Range, rng[i:i+32])
	}
	c.Size, c.Created = uint64(size), fromMicros(created)
	return c, nil
}

func (t *tx) LatestCheckpoint(ctx context.Context) (*vault.StoredCheckpoint, error) {
	c, err := scanCheckpoint(t.row(ctx, "latestCheckpoint").Scan)
	if err != nil {
		return nil, notFound(err, "latest checkpoint")
	}
	return c, nil
}

func (t *tx) CheckpointsAfter(ctx context.Context, after uint64, limit int) ([]vault.StoredCheckpoint, error) {
	rows, err := t.rows(ctx, "checkpointsAfter", int64(after), limit)
	if err != nil {
		return nil, fmt.Errorf("checkpoints: %w", err)
	}
	defer rows.Close()
	var out []vault.StoredCheckpoint
	for rows.Next() {
		c, err := scanCheckpoint(rows.Scan)
		if err != nil {
			return nil, fmt.Errorf("checkpoints: %w", err)
		}
		out = append(out, *c)
	}
	return out, rows.Err()
}
