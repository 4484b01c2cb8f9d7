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
	Checkpoints  int    // checkpoints verified (those of deleted epochs included)
	Size         uint64 // size of the latest checkpoint
	Unintegrated uint64 // entries after the latest checkpoint
	// From is the first entry the log keeps (1 unless epochs were
	// deleted); Epochs counts the closed epochs, Deleted those deleted.
	From    int64
	Epochs  int
	Deleted int
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
	var eps []audit.Epoch
	if err := s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		if last, err = tx.LastAuditSeq(ctx); err != nil {
			return err
		}
		eps, err = tx.ListEpochs(ctx)
		return err
	}); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	rep := &Report{From: 1}
	// The log is kept from the first entry after the deleted epochs (a
	// run from the first); their checkpoints are checked on their own.
	var start uint64
	bounds := map[int64]*audit.Epoch{} // retained epochs by the seq of the entry that closes them
	for i := range eps {
		ep := &eps[i]
		switch {
		case !ep.Deleted.IsZero() && uint64(ep.Last) > start && len(bounds) == 0:
			start = uint64(ep.Last)
			rep.Deleted++
		default:
			bounds[ep.Last+1] = ep
		}
	}
	rep.Epochs = len(eps)
	tree, _ := audit.NewTree(0, nil)
	var ix *indexStep // the subject index, from the first checkpoint that signs one
	if start > 0 {
		c, err := checkRetainedStart(ctx, s, vkey, start, eps, rep)
		if err != nil {
			return nil, err
		}
		if tree, err = audit.NewTree(c.Size, c.Range); err != nil {
			return nil, &TamperError{Index: start, Reason: fmt.Sprintf("the checkpoint of size %d that the retained log starts from has a bad compact range", start)}
		}
		if c.Index != nil {
			var links map[string]int64
			if err := s.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
				links, err = tx.SubjectLinks(ctx, int64(start)+1)
				return err
			}); err != nil {
				return nil, fmt.Errorf("verify: %w", err)
			}
			if ix, err = newIndexStep(c, nil, links); err != nil {
				return nil, &TamperError{Index: start, Reason: fmt.Sprintf("the checkpoint of size %d that the retained log starts from has a bad subject index range", start)}
			}
			ix.tiler = nil
		}
		rep.From, rep.Size = int64(start)+1, start
	}
	keep := make(map[int64]bool, len(bounds))
	for seq := range bounds {
		keep[seq] = true
	}
	pages := readLeafPages(ctx, s, int64(start)+1, last, keep)

	var cps []audit.StoredCheckpoint // pending checkpoints, by size
	cpAfter, prevSize := start, start
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
			if ep := bounds[seq]; ep != nil {
				// The first entry of the epoch after ep records ep's size
				// and root: the tree before it must be that.
				n, size, root, err := audit.ParseEpochEntry(entryOf(p.leaves[seq]))
				if err != nil || n != ep.Number || size != ep.Last || !bytes.Equal(root, ep.Root) || !bytes.Equal(tree.Root(), root) {
					return nil, &TamperError{Index: idx, Reason: fmt.Sprintf("not the entry that closes epoch %d at %d with the root of the entries before it", ep.Number, ep.Last)}
				}
			}
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
	subjects []string         // "" for none
	leaves   map[int64][]byte // the leaves of the entries asked for whole
	err      error
}

// entryOf parses a leaf, or returns an empty entry.
func entryOf(leaf []byte) *audit.Entry {
	e, _ := audit.ParseLeaf(leaf)
	return &e
}

// readLeafPages reads entries first…last in pages, two pages at a time,
// and delivers them in order: each element of the returned channel is the
// future of the next page. The leaves of the entries keep names are kept
// whole.
func readLeafPages(ctx context.Context, s store.Store, first, last int64, keep map[int64]bool) <-chan chan leafPage {
	const page, workers = 20_000, 2
	futures := make(chan chan leafPage, workers)
	go func() {
		defer close(futures)
		for from := first; from <= last; from += page {
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
						if keep[seq] {
							if p.leaves == nil {
								p.leaves = map[int64][]byte{}
							}
							p.leaves[seq] = bytes.Clone(leaf)
						}
						return nil
					})
				})
				f <- p
			}(from, min(from+page, last+1))
		}
	}()
	return futures
}

// checkRetainedStart checks what a log whose epochs up to entry start
// were deleted keeps of them: every checkpoint up to start (its
// signature, its note, and its compact range against its signed root:
// the checkpoint chain), the deleted epochs' closing checkpoints against
// the roots the epochs recorded, and returns the checkpoint of size
// start, whose compact range the retained log goes on from.
func checkRetainedStart(ctx context.Context, s store.Store, vkey string, start uint64, eps []audit.Epoch, rep *Report) (*audit.StoredCheckpoint, error) {
	closing := map[uint64][]byte{}
	for _, ep := range eps {
		closing[uint64(ep.Last)] = ep.Root
	}
	var at *audit.StoredCheckpoint
	for after := uint64(0); after < start; {
		var cs []audit.StoredCheckpoint
		if err := s.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
			cs, err = tx.CheckpointsAfter(ctx, after, 64)
			return err
		}); err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
		if len(cs) == 0 {
			break
		}
		for i := range cs {
			c := &cs[i]
			if c.Size > start {
				after = start
				break
			}
			bad := func(why string) error {
				return &TamperError{Index: c.Size, Reason: fmt.Sprintf("the checkpoint of size %d, kept of a deleted epoch, %s", c.Size, why)}
			}
			opened, err := audit.Open(c.Note, vkey)
			switch {
			case err != nil:
				return nil, bad("has a bad signature")
			case opened.Size != c.Size || !bytes.Equal(opened.Root, c.Root):
				return nil, bad("differs from its signed note")
			}
			tree, err := audit.NewTree(c.Size, c.Range)
			if err != nil || !bytes.Equal(tree.Root(), c.Root) {
				return nil, bad("has a compact range that does not hash to its signed root")
			}
			if root, ok := closing[c.Size]; ok && !bytes.Equal(root, c.Root) {
				return nil, bad("closes an epoch whose recorded root differs")
			}
			rep.Checkpoints++
			after = c.Size
			if c.Size == start {
				at = c
			}
		}
	}
	if at == nil {
		return nil, &TamperError{Index: start, Reason: fmt.Sprintf("the retained log starts after entry %d, but no checkpoint of that size is kept", start)}
	}
	if at.Index != nil {
		tree, err := audit.NewTree(at.Index.Size, at.IndexRange)
		if err != nil || !bytes.Equal(tree.Root(), at.Index.Root) {
			return nil, &TamperError{Index: start, Reason: fmt.Sprintf("the checkpoint of size %d has a subject index range that does not hash to its signed index root", start)}
		}
		opened, _ := audit.Open(at.Note, vkey)
		if opened.Index == nil || opened.Index.Size != at.Index.Size || !bytes.Equal(opened.Index.Root, at.Index.Root) {
			return nil, &TamperError{Index: start, Reason: fmt.Sprintf("the stored subject index head of the checkpoint of size %d differs from its signed note", start)}
		}
	}
	return at, nil
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
