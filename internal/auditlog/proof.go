package auditlog

import (
	"context"
	"errors"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/public"
	"github.com/coffre/coffre/internal/store"
)

// ErrBeyondCheckpoint is returned for a proof about a tree size larger than
// the latest checkpoint's: only signed sizes can be proved.
var ErrBeyondCheckpoint = errors.New("size beyond the latest checkpoint")

// InclusionProof returns the proof that leaf index is in the tree of size.
func InclusionProof(ctx context.Context, s store.Store, index, size uint64) ([][]byte, error) {
	if index >= size {
		return nil, public.Errorf(access.ErrInvalid, "invalid input: index %d is not below size %d", index, size)
	}
	return prove(ctx, s, size, func(get func([]audit.TileID) (map[audit.TileID]audit.Tile, error)) ([][]byte, error) {
		return audit.InclusionProof(index, size, get)
	})
}

// ConsistencyProof returns the proof that the tree of size from is a prefix
// of the tree of size to.
func ConsistencyProof(ctx context.Context, s store.Store, from, to uint64) ([][]byte, error) {
	if from == 0 || from > to {
		return nil, public.Errorf(access.ErrInvalid, "invalid input: want 1 ≤ from ≤ to")
	}
	return prove(ctx, s, to, func(get func([]audit.TileID) (map[audit.TileID]audit.Tile, error)) ([][]byte, error) {
		return audit.ConsistencyProof(from, to, get)
	})
}

func prove(ctx context.Context, s store.Store, size uint64, build func(get func([]audit.TileID) (map[audit.TileID]audit.Tile, error)) ([][]byte, error)) ([][]byte, error) {
	var out [][]byte
	err := s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		last, err := tx.LatestCheckpoint(ctx)
		if errors.Is(err, store.ErrNotFound) || err == nil && size > last.Size {
			return ErrBeyondCheckpoint
		}
		if err != nil {
			return err
		}
		out, err = build(func(ids []audit.TileID) (map[audit.TileID]audit.Tile, error) { return tx.GetTiles(ctx, ids) })
		return err
	})
	return out, err
}
