package audit

import (
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
)

// TileHeight is the number of tree levels a tile spans: a tile holds up to
// 256 hashes of one tree level, the bases of 8 levels of perfect subtrees
// (the layout of transparency-dev/tessera's tiles).
const TileHeight = 8

// TileWidth is the number of base hashes of a full tile.
const TileWidth = 1 << TileHeight

// TileID names a tile: tile level L holds tree level 8L, and tile Index k
// its nodes [256k, 256k+256).
type TileID struct {
	Level uint
	Index uint64
}

// Tile is a tile's base hashes, concatenated (32 bytes each); the tile at
// the right edge of the tree holds fewer than 256.
type Tile struct {
	ID     TileID
	Hashes []byte
}

// TileOf returns the tile holding node id's subtree base, and the range of
// base hashes [lo, hi) within that tile the node covers.
func TileOf(id compact.NodeID) (TileID, int, int) {
	level := id.Level / TileHeight
	j := id.Level % TileHeight
	first := id.Index << j // index of the first base node at level 8L
	lo := int(first % TileWidth)
	return TileID{Level: level, Index: first / TileWidth}, lo, lo + 1<<j
}

// NodeHash computes a perfect node's hash from its tile's base hashes.
func NodeHash(id compact.NodeID, t Tile) ([]byte, error) {
	_, lo, hi := TileOf(id)
	if hi*32 > len(t.Hashes) {
		return nil, fmt.Errorf("node %d/%d: tile %d/%d has %d hashes, needs %d", id.Level, id.Index, t.ID.Level, t.ID.Index, len(t.Hashes)/32, hi)
	}
	return subtreeRoot(t.Hashes[lo*32 : hi*32]), nil
}

// subtreeRoot hashes a power-of-two run of base hashes up to its root.
func subtreeRoot(b []byte) []byte {
	level := make([][]byte, 0, len(b)/32)
	for i := 0; i < len(b); i += 32 {
		level = append(level, b[i:i+32])
	}
	for len(level) > 1 {
		next := make([][]byte, 0, len(level)/2)
		for i := 0; i < len(level); i += 2 {
			next = append(next, Hasher.HashChildren(level[i], level[i+1]))
		}
		level = next
	}
	return level[0]
}

// Tiler extends the tree's tiles with new leaf hashes. It is given the
// right-edge tile of each tile level (possibly partial or absent) and
// returns every tile it changed.
type Tiler struct {
	edges map[uint]*Tile // right-edge tile per tile level
	dirty map[TileID]*Tile
}

// NewTiler starts from the right-edge tiles (see EdgeTiles) of a tree of
// size leaves. An edge tile holding more hashes than the tree of that size
// has (left by an integration that did not commit its checkpoint) is cut
// back to the size.
func NewTiler(size uint64, edges []Tile) *Tiler {
	t := &Tiler{edges: map[uint]*Tile{}, dirty: map[TileID]*Tile{}}
	for i := range edges {
		e := edges[i]
		n := int((size >> (TileHeight * e.ID.Level)) % TileWidth)
		e.Hashes = append([]byte(nil), e.Hashes[:min(len(e.Hashes), 32*n)]...)
		t.edges[e.ID.Level] = &e
	}
	return t
}

// EdgeTiles returns the IDs of the right-edge tiles of a tree of size
// leaves: the partial tile of each tile level, whose hashes the Tiler must
// be given to append after them.
func EdgeTiles(size uint64) []TileID {
	var ids []TileID
	for level, n := uint(0), size; n > 0; level, n = level+1, n>>TileHeight {
		if n%TileWidth != 0 {
			ids = append(ids, TileID{Level: level, Index: n / TileWidth})
		}
	}
	return ids
}

// Append adds a leaf hash at leaf index idx (which must follow the last).
func (t *Tiler) Append(idx uint64, leafHash []byte) { t.add(0, idx, leafHash) }

func (t *Tiler) add(level uint, idx uint64, h []byte) {
	id := TileID{Level: level, Index: idx / TileWidth}
	e := t.edges[level]
	if e == nil || e.ID != id {
		e = &Tile{ID: id}
		t.edges[level] = e
	}
	e.Hashes = append(e.Hashes, h...)
	t.dirty[id] = e
	if len(e.Hashes) == TileWidth*32 {
		// A full tile's root is the next tile level's base hash.
		t.add(level+1, idx/TileWidth, subtreeRoot(e.Hashes))
	}
}

// Changed returns the tiles appended to since NewTiler.
func (t *Tiler) Changed() []Tile {
	out := make([]Tile, 0, len(t.dirty))
	for _, d := range t.dirty {
		out = append(out, Tile{ID: d.ID, Hashes: append([]byte(nil), d.Hashes...)})
	}
	return out
}

// InclusionProof returns the RFC 6962 inclusion proof of leaf index in a
// tree of size, reading node hashes from tiles via get.
func InclusionProof(index, size uint64, get func([]TileID) (map[TileID]Tile, error)) ([][]byte, error) {
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, err
	}
	return rehash(nodes, get)
}

// ConsistencyProof returns the RFC 6962 consistency proof between tree
// sizes size1 ≤ size2.
func ConsistencyProof(size1, size2 uint64, get func([]TileID) (map[TileID]Tile, error)) ([][]byte, error) {
	nodes, err := proof.Consistency(size1, size2)
	if err != nil {
		return nil, err
	}
	return rehash(nodes, get)
}

func rehash(nodes proof.Nodes, get func([]TileID) (map[TileID]Tile, error)) ([][]byte, error) {
	var ids []TileID
	seen := map[TileID]bool{}
	for _, n := range nodes.IDs {
		id, _, _ := TileOf(n)
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	tiles, err := get(ids)
	if err != nil {
		return nil, err
	}
	hashes := make([][]byte, 0, len(nodes.IDs))
	for _, n := range nodes.IDs {
		id, _, _ := TileOf(n)
		h, err := NodeHash(n, tiles[id])
		if err != nil {
			return nil, err
		}
		hashes = append(hashes, h)
	}
	return nodes.Rehash(hashes, Hasher.HashChildren)
}
