package audit

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/transparency-dev/merkle/proof"
)

// TestTileProofs builds tiles the way the integrator does (batches, each
// starting from the stored edge tiles), then checks inclusion and
// consistency proofs read from the tiles against the reference tree.
func TestTileProofs(t *testing.T) {
	const n = 256*256 + 300 // three tile levels, partial edges
	store := map[TileID]Tile{}
	var leaves [][]byte
	batches := []int{1, 255, 1, 1000, 64000, n - 65257}
	for _, b := range batches {
		var edges []Tile
		for _, id := range EdgeTiles(uint64(len(leaves))) {
			if tl, ok := store[id]; ok {
				edges = append(edges, tl)
			}
		}
		tl := NewTiler(uint64(len(leaves)), edges)
		for range b {
			h := Hasher.HashLeaf(fmt.Appendf(nil, "leaf %d", len(leaves)))
			tl.Append(uint64(len(leaves)), h)
			leaves = append(leaves, h)
		}
		for _, c := range tl.Changed() {
			store[c.ID] = c
		}
	}
	if len(leaves) != n {
		t.Fatalf("%d leaves, want %d", len(leaves), n)
	}
	get := func(ids []TileID) (map[TileID]Tile, error) {
		out := map[TileID]Tile{}
		for _, id := range ids {
			out[id] = store[id]
		}
		return out, nil
	}
	roots := map[uint64][]byte{}
	root := func(size uint64) []byte {
		if r, ok := roots[size]; ok {
			return r
		}
		roots[size] = refRoot(leaves[:size])
		return roots[size]
	}
	for _, c := range []struct{ index, size uint64 }{
		{0, 1}, {0, 2}, {5, 300}, {255, 256}, {256, 257}, {1000, 65536}, {65535, 65536}, {12345, n}, {n - 1, n}, {65800, n - 10},
	} {
		p, err := InclusionProof(c.index, c.size, get)
		if err != nil {
			t.Fatalf("inclusion %d/%d: %v", c.index, c.size, err)
		}
		if err := proof.VerifyInclusion(Hasher, c.index, c.size, leaves[c.index], p, root(c.size)); err != nil {
			t.Errorf("inclusion %d/%d does not verify: %v", c.index, c.size, err)
		}
	}
	// Several proofs at once, sharing nodes, from tiles with their strata
	// and from tiles written before strata (base hashes only).
	indexes := []uint64{0, 1, 255, 256, 12345, 12346, 65535, 65800, n - 1}
	for _, strata := range []bool{true, false} {
		if !strata {
			for id, tl := range store {
				if len(tl.Hashes) == FullTileBytes {
					store[id] = Tile{ID: id, Hashes: tl.Hashes[:TileWidth*32]}
				}
			}
		}
		ps, err := InclusionProofs(indexes, n, get)
		if err != nil {
			t.Fatalf("inclusion proofs (strata %t): %v", strata, err)
		}
		for i, index := range indexes {
			if err := proof.VerifyInclusion(Hasher, index, n, leaves[index], ps[i], root(n)); err != nil {
				t.Errorf("inclusion %d/%d of several (strata %t) does not verify: %v", index, n, strata, err)
			}
		}
	}
	for _, c := range []struct{ a, b uint64 }{{1, 2}, {3, 300}, {256, 65536}, {1000, n}, {65536, n}, {n - 1, n}} {
		p, err := ConsistencyProof(c.a, c.b, get)
		if err != nil {
			t.Fatalf("consistency %d→%d: %v", c.a, c.b, err)
		}
		if err := proof.VerifyConsistency(Hasher, c.a, c.b, p, root(c.a), root(c.b)); err != nil {
			t.Errorf("consistency %d→%d does not verify: %v", c.a, c.b, err)
		}
	}
}

// TestSubtreeRoot: the in-place hashing of a run of base hashes gives the
// reference tree's root for every run a tile holds, and leaves its input
// as it was.
func TestSubtreeRoot(t *testing.T) {
	var leaves [][]byte
	var run []byte
	for i := range TileWidth {
		h := Hasher.HashLeaf(fmt.Appendf(nil, "leaf %d", i))
		leaves = append(leaves, h)
		run = append(run, h...)
	}
	for n := 1; n <= TileWidth; n *= 2 {
		in := bytes.Clone(run[:32*n])
		if got, want := subtreeRoot(in), refRoot(leaves[:n]); !bytes.Equal(got, want) {
			t.Errorf("subtreeRoot of %d hashes = %x, want %x", n, got, want)
		}
		if !bytes.Equal(in, run[:32*n]) {
			t.Errorf("subtreeRoot of %d hashes changed its input", n)
		}
	}
	// A full tile's stratum: its nodes 4 levels up, in order.
	full := WithStratum(run)
	if len(full) != FullTileBytes || !bytes.Equal(full[:len(run)], run) {
		t.Fatalf("WithStratum: %d bytes, base kept %t", len(full), bytes.Equal(full[:len(run)], run))
	}
	for i := range TileWidth >> StratumHeight {
		want := refRoot(leaves[16*i : 16*i+16])
		if got := full[len(run)+32*i : len(run)+32*i+32]; !bytes.Equal(got, want) {
			t.Errorf("stratum hash %d = %x, want %x", i, got, want)
		}
	}
}
