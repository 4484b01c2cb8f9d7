package auditlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/vault"
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
// index.
func Verify(ctx context.Context, s vault.Store, vkey string) (*Report, error) {
	const page = 20_000
	tree, _ := audit.NewTree(0, nil)
	rep := &Report{}
	var cps []vault.StoredCheckpoint // pending checkpoints, by size
	var cpAfter uint64
	var prevSize uint64
	nextCheckpoints := func(ctx context.Context, tx vault.Tx) error {
		if len(cps) > 0 {
			return nil
		}
		var err error
		cps, err = tx.CheckpointsAfter(ctx, cpAfter, 1000)
		return err
	}
	for {
		var entries []vault.AuditEntry
		err := s.View(ctx, func(ctx context.Context, tx vault.Tx) error {
			from := int64(tree.Size()) + 1
			var err error
			if entries, err = tx.AuditEntries(ctx, from, from+page, page); err != nil {
				return err
			}
			return nextCheckpoints(ctx, tx)
		})
		if err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
		for i := range entries {
			e := &entries[i]
			idx := tree.Size()
			if e.Seq != int64(idx)+1 {
				return nil, &TamperError{Index: idx, Reason: fmt.Sprintf("missing: the next stored entry is number %d", e.Seq)}
			}
			h := audit.LeafHash(e)
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
				if err := checkCheckpoint(&cps[0], tree, vkey, prevSize); err != nil {
					return nil, err
				}
				rep.Checkpoints++
				rep.Size, prevSize, cpAfter = cps[0].Size, cps[0].Size, cps[0].Size
				cps = cps[1:]
				if len(cps) == 0 {
					if err := s.View(ctx, nextCheckpoints); err != nil {
						return nil, fmt.Errorf("verify: %w", err)
					}
				}
			}
		}
		if len(entries) < page {
			break
		}
	}
	if len(cps) > 0 {
		return nil, &TamperError{Index: tree.Size(), Reason: fmt.Sprintf("missing: the checkpoint of size %d covers entries that are gone (truncated)", cps[0].Size)}
	}
	rep.Unintegrated = tree.Size() - rep.Size
	return rep, nil
}

func checkCheckpoint(c *vault.StoredCheckpoint, tree *audit.Tree, vkey string, prevSize uint64) error {
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
	return nil
}
