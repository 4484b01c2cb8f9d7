package vault

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"slices"
	"testing"

	"github.com/coffre/coffre/internal/subject"
)

// importSealed makes n people of k random hashes each; every fifth hash
// shares its first 8 bytes with the one before (the radix sort's keys
// tie), and a nil stands for a row that failed validation.
func importSealed(n, k int) []*sealed {
	var ss []*sealed
	var prev []byte
	for i := range n {
		s := &sealed{row: &subject.Row{ID: fmt.Sprint("sub_", i)}}
		for j := range k {
			h := make([]byte, 32)
			rand.Read(h)
			if (i*k+j)%5 == 4 {
				copy(h, prev[:8])
			}
			s.hashes, prev = append(s.hashes, h), h
		}
		ss = append(ss, s)
	}
	ss = append(ss, nil) // a row that failed validation
	return ss
}

// TestSortedEntries: the batch's entries come out in hash order, each
// with its owner, none lost.
func TestSortedEntries(t *testing.T) {
	ss := importSealed(3000, 4)
	hs, owners := sortedEntries(ss, func(s *sealed) [][]byte { return s.hashes })
	if len(hs) != 12000 || len(owners) != 12000 {
		t.Fatalf("%d hashes, %d owners; want 12000", len(hs), len(owners))
	}
	if !slices.IsSortedFunc(hs, bytes.Compare) {
		t.Fatal("entries not in hash order")
	}
	owner := map[string]string{}
	for _, s := range ss[:len(ss)-1] {
		for _, h := range s.hashes {
			owner[string(h)] = s.row.ID
		}
	}
	for i, h := range hs {
		if owner[string(h)] != owners[i] {
			t.Fatalf("entry %d: owner %s, want %s", i, owners[i], owner[string(h)])
		}
		delete(owner, string(h))
	}
	if len(owner) != 0 {
		t.Fatalf("%d entries lost", len(owner))
	}
}

func BenchmarkSortedEntries(b *testing.B) {
	ss := importSealed(50_000, 4)
	for b.Loop() {
		sortedEntries(ss, func(s *sealed) [][]byte { return s.hashes })
	}
}
