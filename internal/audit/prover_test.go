package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"testing"
)

// TestProver: a Prover's proofs are InclusionProof's, for every leaf of
// trees of several sizes, each tile read once, and a short tile is an
// error as it is for InclusionProof.
func TestProver(t *testing.T) {
	const n = 3*TileWidth*TileWidth/64 + 77 // two tile levels, the edge tiles partial
	tree, _ := NewTree(0, nil)
	tiler := NewTiler(0, nil)
	for i := range uint64(n) {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], i)
		h := Hasher.HashLeaf(b[:])
		tiler.Append(i, h)
		tree.Append(h)
	}
	tiles := map[TileID]Tile{}
	for _, tl := range tiler.Changed() {
		tiles[tl.ID] = tl
	}
	reads := map[TileID]int{}
	get := func(ids []TileID) (map[TileID]Tile, error) {
		out := map[TileID]Tile{}
		for _, id := range ids {
			reads[id]++
			if tl, ok := tiles[id]; ok {
				out[id] = tl
			}
		}
		return out, nil
	}
	for _, size := range []uint64{1, 2, 255, 256, 257, 2048, n} {
		p := NewProver(get)
		clear(reads)
		for _, idx := range []uint64{0, size / 3, size / 2, size - 1} {
			want, err := InclusionProof(idx, size, func(ids []TileID) (map[TileID]Tile, error) {
				out := map[TileID]Tile{}
				for _, id := range ids {
					out[id] = tiles[id]
				}
				return out, nil
			})
			if err != nil {
				t.Fatalf("InclusionProof(%d, %d): %v", idx, size, err)
			}
			got, err := p.Inclusion(idx, size)
			if err != nil || !slices.EqualFunc(got, want, bytes.Equal) {
				t.Fatalf("Inclusion(%d, %d) = %x, %v; want %x", idx, size, got, err, want)
			}
		}
		for id, k := range reads {
			if k != 1 {
				t.Errorf("size %d: tile %v read %d times", size, id, k)
			}
		}
	}
	short := map[TileID]Tile{}
	for id, tl := range tiles {
		short[id] = Tile{ID: id, Hashes: tl.Hashes[:32]}
	}
	p := NewProver(func(ids []TileID) (map[TileID]Tile, error) { return short, nil })
	if _, err := p.Inclusion(100, 300); err == nil {
		t.Error("a proof from short tiles: no error")
	}
}

// TestFastSubtreeRoot: the same roots as subtreeRoot.
func TestFastSubtreeRoot(t *testing.T) {
	for _, k := range []int{1, 2, 4, 8, 128, 256} {
		b := make([]byte, 32*k)
		for i := range k {
			s := sha256.Sum256([]byte(fmt.Sprint(i)))
			copy(b[32*i:], s[:])
		}
		if got, want := fastSubtreeRoot(b), subtreeRoot(b); !bytes.Equal(got, want) {
			t.Errorf("fastSubtreeRoot of %d = %x, want %x", k, got, want)
		}
	}
}

func BenchmarkSubtreeRoot(b *testing.B) {
	in := bytes.Repeat([]byte{7}, 32*128)
	b.Run("subtreeRoot", func(b *testing.B) {
		for b.Loop() {
			subtreeRoot(in)
		}
	})
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			fastSubtreeRoot(in)
		}
	})
}
