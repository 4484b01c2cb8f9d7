package audit

import (
	"fmt"

	"github.com/transparency-dev/merkle/compact"
)

var rangeFactory = compact.RangeFactory{Hash: Hasher.HashChildren}

// Tree is the right edge of the log's Merkle tree: the compact range of
// the perfect subtrees covering leaves [0, size). It takes O(log size)
// hashes to keep, and appending never re-hashes earlier leaves.
type Tree struct{ r *compact.Range }

// NewTree returns a tree of size leaves from its compact range hashes (as
// returned by Hashes); an empty tree takes size 0 and no hashes.
func NewTree(size uint64, hashes [][]byte) (*Tree, error) {
	r, err := rangeFactory.NewRange(0, size, hashes)
	if err != nil {
		return nil, fmt.Errorf("tree of %d leaves: %w", size, err)
	}
	return &Tree{r: r}, nil
}

// Append adds a leaf hash.
func (t *Tree) Append(leafHash []byte) error { return t.r.Append(leafHash, nil) }

// Size returns the number of leaves.
func (t *Tree) Size() uint64 { return t.r.End() }

// Root returns the RFC 6962 root hash.
func (t *Tree) Root() []byte {
	if t.r.End() == 0 {
		return Hasher.EmptyRoot()
	}
	root, err := t.r.GetRootHash(nil)
	if err != nil {
		panic(err) // only for an invalid range, which NewTree refuses
	}
	return root
}

// Hashes returns the compact range hashes, to store with a checkpoint.
func (t *Tree) Hashes() [][]byte { return t.r.Hashes() }
