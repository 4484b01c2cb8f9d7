package audit

import (
	"bytes"
	"crypto/sha256"
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
// the right edge of the tree holds fewer than 256. A full tile's base
// hashes are followed by its stratum: the hashes of its 16 nodes
// StratumHeight levels up (each the root of 16 base hashes), so that a
// node of the tile is hashed from at most 16 hashes, not up to 128 (a
// proof needs about 22 hashes per tile instead of about 250). The stratum
// is not Tessera's: tiles stay Coffre's own storage. A full tile written
// without one (before it existed) still serves, hashed from its base.
type Tile struct {
	ID     TileID
	Hashes []byte
}

// StratumHeight is the level, within a tile, of the nodes of its stratum.
const StratumHeight = 4

// stratumWidth is the number of hashes of a stratum.
const stratumWidth = TileWidth >> StratumHeight

// FullTileBytes is the length of a full tile's Hashes with its stratum.
const FullTileBytes = (TileWidth + stratumWidth) * 32

// WithStratum returns a full tile's base hashes (TileWidth of them)
// followed by its stratum.
func WithStratum(base []byte) []byte {
	out := make([]byte, 0, FullTileBytes)
	out = append(out, base...)
	run := 32 << StratumHeight
	for i := 0; i < len(base); i += run {
		out = append(out, subtreeRoot(base[i:i+run])...)
	}
	return out
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

// NodeHash computes a perfect node's hash from its tile's hashes: from
// the stratum when the node is at or above it, else from the base.
func NodeHash(id compact.NodeID, t Tile) ([]byte, error) {
	_, lo, hi := TileOf(id)
	base := t.Hashes
	switch n := len(t.Hashes); {
	case n == FullTileBytes && hi-lo >= stratumWidth:
		s := t.Hashes[TileWidth*32:]
		return subtreeRoot(s[lo/stratumWidth*32 : hi/stratumWidth*32]), nil
	case n == FullTileBytes:
		base = t.Hashes[:TileWidth*32]
	case n%32 != 0 || n > TileWidth*32:
		return nil, fmt.Errorf("node %d/%d: tile %d/%d of %d bytes: neither hashes nor a full tile with its stratum", id.Level, id.Index, t.ID.Level, t.ID.Index, n)
	}
	if hi*32 > len(base) {
		return nil, fmt.Errorf("node %d/%d: tile %d/%d has %d hashes, needs %d", id.Level, id.Index, t.ID.Level, t.ID.Index, len(base)/32, hi)
	}
	return subtreeRoot(base[lo*32 : hi*32]), nil
}

// subtreeRoot hashes a power-of-two run of base hashes up to its root:
// RFC 6962's interior node hash, SHA-256(0x01 ‖ left ‖ right), level by
// level in one buffer (Hasher.HashChildren allocates a hasher and a
// result per node, which cost more than the hashing: a proof from tiles
// hashes about 250 nodes per tile).
func subtreeRoot(b []byte) []byte {
	if len(b) == 32 {
		return b[:32:32]
	}
	buf := make([]byte, len(b)/2)
	var in [1 + 2*32]byte
	in[0] = 1 // rfc6962.RFC6962NodeHashPrefix
	for src := b; ; {
		n := len(src) / 64
		for i := range n {
			copy(in[1:], src[64*i:64*i+64])
			h := sha256.Sum256(in[:])
			copy(buf[32*i:], h[:]) // at or before the pair just read: in place is safe
		}
		if n == 1 {
			return buf[:32:32]
		}
		src = buf[:32*n]
	}
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
		// A full tile keeps its stratum, and its root, hashed from the
		// stratum, is the next tile level's base hash.
		e.Hashes = WithStratum(e.Hashes)
		t.add(level+1, idx/TileWidth, subtreeRoot(e.Hashes[TileWidth*32:]))
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

// InclusionProofs returns the inclusion proofs of several leaf indexes in
// a tree of size: the tiles they need in one call of get, and each node
// hashed once however many of the proofs hold it (the entries of a
// person's history share the upper part of their proofs, and all of it
// when they are near each other).
func InclusionProofs(indexes []uint64, size uint64, get func([]TileID) (map[TileID]Tile, error)) ([][][]byte, error) {
	all := make([]proof.Nodes, len(indexes))
	var ids []TileID
	seen := map[TileID]bool{}
	for i, index := range indexes {
		nodes, err := proof.Inclusion(index, size)
		if err != nil {
			return nil, err
		}
		all[i] = nodes
		for _, n := range nodes.IDs {
			if id, _, _ := TileOf(n); !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	tiles, err := get(ids)
	if err != nil {
		return nil, err
	}
	memo := map[compact.NodeID][]byte{}
	out := make([][][]byte, len(indexes))
	for i, nodes := range all {
		hashes := make([][]byte, 0, len(nodes.IDs))
		for _, n := range nodes.IDs {
			h, ok := memo[n]
			if ok {
				h = bytes.Clone(h) // each proof its own hashes
			} else {
				id, _, _ := TileOf(n)
				if h, err = NodeHash(n, tiles[id]); err != nil {
					return nil, err
				}
				memo[n] = h
			}
			hashes = append(hashes, h)
		}
		if out[i], err = nodes.Rehash(hashes, Hasher.HashChildren); err != nil {
			return nil, err
		}
	}
	return out, nil
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
