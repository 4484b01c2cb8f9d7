package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/store"
)

func (t *tx) PutCheckpoint(ctx context.Context, c *audit.StoredCheckpoint) error {
	rng := bytes.Join(c.Range, nil)
	if rng == nil {
		rng = []byte{}
	}
	leaves := c.Leaves
	if leaves == nil {
		leaves = []byte{}
	}
	var ifrom, isize any
	var iroot, irng []byte
	if c.Index != nil {
		ifrom, isize, iroot = c.Index.From, int64(c.Index.Size), c.Index.Root
		if irng = bytes.Join(c.IndexRange, nil); irng == nil {
			irng = []byte{}
		}
	}
	_, err := t.exec(ctx, "putCheckpoint", int64(c.Size), c.Root, c.Note, rng, leaves, micros(c.Created), ifrom, isize, iroot, irng)
	if isConstraint(err) {
		return fmt.Errorf("put checkpoint: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("put checkpoint: %w", err)
	}
	return nil
}

func scanCheckpoint(scan func(...any) error) (*audit.StoredCheckpoint, error) {
	c := &audit.StoredCheckpoint{}
	var size, created int64
	var rng, iroot, irng []byte
	var ifrom, isize sql.NullInt64
	if err := scan(&size, &c.Root, &c.Note, &rng, &c.Leaves, &created, &ifrom, &isize, &iroot, &irng); err != nil {
		return nil, err
	}
	var err error
	if c.Range, err = splitHashes(rng); err != nil {
		return nil, fmt.Errorf("checkpoint %d: range: %w", size, err)
	}
	if ifrom.Valid {
		c.Index = &audit.IndexHead{From: ifrom.Int64, Size: uint64(isize.Int64), Root: iroot}
		if c.IndexRange, err = splitHashes(irng); err != nil {
			return nil, fmt.Errorf("checkpoint %d: index range: %w", size, err)
		}
	}
	c.Size, c.Created = uint64(size), fromMicros(created)
	return c, nil
}

// splitHashes cuts concatenated 32-byte hashes apart.
func splitHashes(b []byte) ([][]byte, error) {
	if len(b)%32 != 0 {
		return nil, fmt.Errorf("%d bytes, not a multiple of 32", len(b))
	}
	var out [][]byte
	for i := 0; i < len(b); i += 32 {
		out = append(out, b[i:i+32])
	}
	return out, nil
}

func (t *tx) LatestCheckpoint(ctx context.Context) (*audit.StoredCheckpoint, error) {
	c, err := scanCheckpoint(t.row(ctx, "latestCheckpoint").Scan)
	if err != nil {
		return nil, notFound(err, "latest checkpoint")
	}
	return c, nil
}

func (t *tx) CheckpointsAfter(ctx context.Context, after uint64, limit int) ([]audit.StoredCheckpoint, error) {
	rows, err := t.rows(ctx, "checkpointsAfter", int64(after), limit)
	if err != nil {
		return nil, fmt.Errorf("checkpoints: %w", err)
	}
	defer rows.Close()
	var out []audit.StoredCheckpoint
	for rows.Next() {
		c, err := scanCheckpoint(rows.Scan)
		if err != nil {
			return nil, fmt.Errorf("checkpoints: %w", err)
		}
		out = append(out, *c)
	}
	return out, rows.Err()
}

func (t *tx) PutTiles(ctx context.Context, tiles []audit.Tile) error {
	for _, tl := range tiles {
		if _, err := t.exec(ctx, "putTile", int64(tl.ID.Level), int64(tl.ID.Index), tl.Hashes); err != nil {
			return fmt.Errorf("put tile %d/%d: %w", tl.ID.Level, tl.ID.Index, err)
		}
	}
	return nil
}

func (t *tx) GetTiles(ctx context.Context, ids []audit.TileID) (map[audit.TileID]audit.Tile, error) {
	return t.getTiles(ctx, "getTile", "getTiles", ids)
}

// getTiles reads tiles by one statement for one id, else by one statement
// for them all (a JSON array of [level, idx] pairs): a person's history
// needs hundreds.
func (t *tx) getTiles(ctx context.Context, one, many string, ids []audit.TileID) (map[audit.TileID]audit.Tile, error) {
	out := make(map[audit.TileID]audit.Tile, len(ids))
	switch len(ids) {
	case 0:
		return out, nil
	case 1:
		var h []byte
		err := t.row(ctx, one, int64(ids[0].Level), int64(ids[0].Index)).Scan(&h)
		if errors.Is(err, sql.ErrNoRows) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("get tile %d/%d: %w", ids[0].Level, ids[0].Index, err)
		}
		out[ids[0]] = audit.Tile{ID: ids[0], Hashes: h}
		return out, nil
	}
	pairs := make([][2]uint64, len(ids))
	for i, id := range ids {
		pairs[i] = [2]uint64{uint64(id.Level), id.Index}
	}
	list, err := json.Marshal(pairs)
	if err != nil {
		return nil, fmt.Errorf("get tiles: %w", err)
	}
	rows, err := t.rows(ctx, many, string(list))
	if err != nil {
		return nil, fmt.Errorf("get %d tiles: %w", len(ids), err)
	}
	defer rows.Close()
	for rows.Next() {
		var level, idx int64
		var h []byte
		if err := rows.Scan(&level, &idx, &h); err != nil {
			return nil, fmt.Errorf("get %d tiles: %w", len(ids), err)
		}
		id := audit.TileID{Level: uint(level), Index: uint64(idx)}
		out[id] = audit.Tile{ID: id, Hashes: h}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("get %d tiles: %w", len(ids), err)
	}
	return out, nil
}
