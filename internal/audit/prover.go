package audit

import (
	"crypto/sha256"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
)

// Prover computes many inclusion proofs in one tree (a person's history:
// an entry's proof each), reading each tile once and computing each
// perfect node's hash once. A perfect node's hash never changes as the
// tree grows, so what it remembers holds for any size; a Prover is for one
// tree (the log, or the subject index log) and one reader, not for
// concurrent use.
type Prover struct {
	get   func([]TileID) (map[TileID]Tile, error)
	tiles map[TileID]Tile
	nodes map[compact.NodeID][]byte
}

// NewProver returns a Prover reading tiles through get.
func NewProver(get func([]TileID) (map[TileID]Tile, error)) *Prover {
	return &Prover{get: get, tiles: map[TileID]Tile{}, nodes: map[compact.NodeID][]byte{}}
}

// Inclusion returns the RFC 6962 inclusion proof of leaf index in a tree
// of size, as InclusionProof does.
func (p *Prover) Inclusion(index, size uint64) ([][]byte, error) {
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, err
	}
	var missing []TileID
	for _, n := range nodes.IDs {
		if _, ok := p.nodes[n]; ok {
			continue
		}
		id, _, _ := TileOf(n)
		if _, ok := p.tiles[id]; !ok && !containsTile(missing, id) {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		got, err := p.get(missing)
		if err != nil {
			return nil, err
		}
		for _, id := range missing {
			p.tiles[id] = got[id] // an absent tile is remembered as empty
		}
	}
	hashes := make([][]byte, 0, len(nodes.IDs))
	for _, n := range nodes.IDs {
		h, ok := p.nodes[n]
		if !ok {
			id, lo, hi := TileOf(n)
			t := p.tiles[id]
			if hi*32 > len(t.Hashes) {
				_, err := NodeHash(n, t) // the tile is short: NodeHash's error
				return nil, err
			}
			h = fastSubtreeRoot(t.Hashes[lo*32 : hi*32])
			p.nodes[n] = h
		}
		hashes = append(hashes, h)
	}
	return nodes.Rehash(hashes, Hasher.HashChildren)
}

func containsTile(ids []TileID, id TileID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// fastSubtreeRoot is subtreeRoot hashing in one buffer, without an
// allocation per node: RFC 6962's SHA-256(0x01 ‖ left ‖ right) up a
// power-of-two run of base hashes.
func fastSubtreeRoot(b []byte) []byte {
	n := len(b) / 32
	buf := make([]byte, len(b))
	copy(buf, b)
	var in [65]byte
	in[0] = 1 // RFC 6962 node prefix
	for ; n > 1; n /= 2 {
		for i := range n / 2 {
			copy(in[1:], buf[64*i:64*i+64])
			s := sha256.Sum256(in[:])
			copy(buf[32*i:], s[:])
		}
	}
	return buf[:32:32]
}
