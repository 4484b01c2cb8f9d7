package auditlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/store"
)

// TamperError reports the first place where the log and its checkpoints
// disagree. Index is the 0-based leaf index (entry Seq-1).
type TamperError struct {
	Index  uint64
	Reason string
}

func (e *TamperError) Error() string {
	return fmt.Sprintf("audit log does not verify at index %d (entry %d): %s", e.Index, e.Index+1, e.Reason)
}

// Report is the outcome of a verification that found nothing wrong.
type Report struct {
	Entries      uint64 // entries read
	Checkpoints  int    // checkpoints verified
	Size         uint64 // size of the latest checkpoint
	Unintegrated uint64 // entries after the latest checkpoint
}

// Verify recomputes the Merkle tree from every stored entry and checks each
// stored checkpoint: its signature under vkey, its size and root against
// the recomputed tree, and the leaf hashes it recorded against the entries.
// Any deletion, modification, reordering or insertion of entries, or a
// rewrite of the log's tail, returns a *TamperError naming the first bad
// index. It also rebuilds the subject index log from the entries and
// checks each signed index head against it, so that a person's history,
// proved against that head, leaves out nothing the log holds.
//
// Pages of entries are read and hashed by two goroutines ahead of the
// checks, which stay sequential.
func Verify(ctx context.Context, s store.Store, vkey string) (*Report, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var last int64
	if err := s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		last, err = tx.LastAuditSeq(ctx)
		return err
	}); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	pages := readLeafPages(ctx, s, last)

	tree, _ := audit.NewTree(0, nil)
	var ix *indexStep // the subject index, from the first checkpoint that signs one
	rep := &Report{}
	var cps []audit.StoredCheckpoint // pending checkpoints, by size
	var cpAfter, prevSize uint64
	nextCheckpoints := func() error {
		if len(cps) > 0 {
			return nil
		}
		// A few at a time: each holds its entries' leaf hashes.
		return s.View(ctx, func(ctx context.Context, tx store.Tx) error {
			var err error
			cps, err = tx.CheckpointsAfter(ctx, cpAfter, 8)
			return err
		})
	}
	if err := nextCheckpoints(); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	for f := range pages {
		p := <-f
		if p.err != nil {
			return nil, fmt.Errorf("verify: %w", p.err)
		}
		for i, seq := range p.seqs {
			idx := tree.Size()
			if seq != int64(idx)+1 {
				return nil, &TamperError{Index: idx, Reason: fmt.Sprintf("missing: the next stored entry is number %d", seq)}
			}
			h := p.hashes[32*i : 32*i+32]
			if len(cps) > 0 && idx == prevSize {
				// The first entry a checkpoint vouches for: does it sign
				// the subject index, and from where?
				switch c := &cps[0]; {
				case c.Index == nil && ix != nil:
					return nil, &TamperError{Index: idx, Reason: fmt.Sprintf("the checkpoint of size %d signs no subject index, but an earlier one did", c.Size)}
				case c.Index != nil && ix == nil:
					if c.Index.From != int64(prevSize)+1 {
						return nil, &TamperError{Index: idx, Reason: fmt.Sprintf("the checkpoint of size %d starts the subject index at entry %d, not %d", c.Size, c.Index.From, prevSize+1)}
					}
					ix, _ = newIndexStep(&audit.StoredCheckpoint{Size: prevSize}, nil, nil)
					ix.tiler = nil
				}
			}
			if ix != nil && p.subjects[i] != "" && len(cps) > 0 {
				if err := ix.add(p.subjects[i], seq, h); err != nil {
					return nil, err
				}
				ix.entries = ix.entries[:0] // only the tree and the heads are checked
			}
			if len(cps) > 0 {
				c := &cps[0]
				off := (idx - prevSize) * 32
				if off+32 > uint64(len(c.Leaves)) || !bytes.Equal(c.Leaves[off:off+32], h) {
					return nil, &TamperError{Index: idx, Reason: fmt.Sprintf("differs from the leaf recorded by the checkpoint of size %d (modified, inserted or reordered)", c.Size)}
				}
			}
			if err := tree.Append(h); err != nil {
				return nil, err
			}
			rep.Entries++
			if len(cps) > 0 && tree.Size() == cps[0].Size {
				if err := checkCheckpoint(&cps[0], tree, ix, vkey, prevSize); err != nil {
					return nil, err
				}
				rep.Checkpoints++
				rep.Size, prevSize, cpAfter = cps[0].Size, cps[0].Size, cps[0].Size
				cps = cps[1:]
				if err := nextCheckpoints(); err != nil {
					return nil, fmt.Errorf("verify: %w", err)
				}
			}
		}
	}
	if len(cps) > 0 {
		return nil, &TamperError{Index: tree.Size(), Reason: fmt.Sprintf("missing: the checkpoint of size %d covers entries that are gone (truncated)", cps[0].Size)}
	}
	rep.Unintegrated = tree.Size() - rep.Size
	return rep, nil
}

// leafPage is one page of entries, as sequence numbers and leaf hashes.
type leafPage struct {
	seqs     []int64
	hashes   []byte
	subjects []string // "" for none
	err      error
}

// readLeafPages reads entries 1…last in pages, two pages at a time, and
// delivers them in order: each element of the returned channel is the
// future of the next page.
func readLeafPages(ctx context.Context, s store.Store, last int64) <-chan chan leafPage {
	const page, workers = 20_000, 2
	futures := make(chan chan leafPage, workers)
	go func() {
		defer close(futures)
		for from := int64(1); from <= last; from += page {
			f := make(chan leafPage, 1)
			select {
			case futures <- f:
			case <-ctx.Done():
				return
			}
			go func(from, to int64) {
				var p leafPage
				p.seqs, p.hashes = make([]int64, 0, to-from), make([]byte, 0, 32*(to-from))
				p.err = s.View(ctx, func(ctx context.Context, tx store.Tx) error {
					return tx.AuditLeaves(ctx, from, to, func(seq int64, leaf []byte) error {
						// A leaf whose subject cannot be read hashes all the
						// same: the checks name it as a bad leaf.
						subject, _ := audit.LeafSubject(leaf)
						p.seqs = append(p.seqs, seq)
						p.hashes = append(p.hashes, audit.Hasher.HashLeaf(leaf)...)
						p.subjects = append(p.subjects, subject)
						return nil
					})
				})
				f <- p
			}(from, min(from+page, last+1))
		}
	}()
	return futures
}

func checkCheckpoint(c *audit.StoredCheckpoint, tree *audit.Tree, ix *indexStep, vkey string, prevSize uint64) error {
	first := prevSize // the checkpoint vouches for entries [prevSize, c.Size)
	opened, err := audit.Open(c.Note, vkey)
	if err != nil {
		return &TamperError{Index: first, Reason: fmt.Sprintf("the checkpoint of size %d has a bad signature: %v", c.Size, errors.Unwrap(err))}
	}
	if opened.Size != c.Size || !bytes.Equal(opened.Root, c.Root) {
		return &TamperError{Index: first, Reason: fmt.Sprintf("the stored checkpoint of size %d differs from its signed note", c.Size)}
	}
	if !bytes.Equal(tree.Root(), c.Root) {
		return &TamperError{Index: first, Reason: fmt.Sprintf("entries up to %d do not hash to the signed root of that size", c.Size)}
	}
	if (opened.Index == nil) != (c.Index == nil) || c.Index != nil && (opened.Index.From != c.Index.From || opened.Index.Size != c.Index.Size || !bytes.Equal(opened.Index.Root, c.Index.Root)) {
		return &TamperError{Index: first, Reason: fmt.Sprintf("the stored subject index head of the checkpoint of size %d differs from its signed note", c.Size)}
	}
	if c.Index != nil {
		if head := ix.head(); head.Size != c.Index.Size || !bytes.Equal(head.Root, c.Index.Root) {
			return &TamperError{Index: first, Reason: fmt.Sprintf("the subject index signed by the checkpoint of size %d (%d leaves) is not the one its entries make (%d leaves)", c.Size, c.Index.Size, head.Size)}
		}
	}
	return nil
}
