package auditlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/store"
	"github.com/transparency-dev/merkle/compact"
)

// WindowMargin is how far, each side of a window, [ScanWindow] reads
// beyond the entries it finds timed at the window's edges.
//
// An entry's time is taken just before its access transaction, and its
// number inside it (the writer numbers entries as they commit), so times
// are only nearly monotone in the sequence: an entry may be numbered after
// one timed later than it, by as long as its transaction waited (SQLite's
// busy timeout is 10 s, an HTTP request's write timeout 30 s), plus the
// clock difference of the nodes writing (NTP keeps them within tens of
// milliseconds). The scan relies on that skew being below WindowMargin:
// every entry numbered before the last one timed earlier than
// from − WindowMargin is timed before from, and every entry numbered after
// the first one timed at or after to + WindowMargin is timed at or after
// to. Five minutes is ten times the longest wait the server allows; the
// margin costs a few minutes' entries read (about 700 at 100,000 entries a
// day).
const WindowMargin = 5 * time.Minute

// ErrNoCheckpoint is returned by ScanWindow for a log with no checkpoint
// yet: nothing is signed to verify the entries against.
var ErrNoCheckpoint = errors.New("the audit log has no checkpoint yet")

// ErrBadTiles is returned by ScanWindow when the window's entries do not
// hash, with the stored tree nodes beside them, to the signed root, yet a
// full verification finds every entry intact: the stored tiles are
// damaged or altered, and so are the proofs made from them.
var ErrBadTiles = errors.New("the audit log's stored tiles do not match its signed checkpoint")

// WindowReport is what a [ScanWindow] read and verified.
type WindowReport struct {
	// Size is the size of the signed checkpoint the window was verified
	// against (entries 1…Size are covered); Note is its signed note.
	Size uint64
	Note []byte
	// First and Last are the entries read and verified (0 and 0 for
	// none): those whose time may fall in the window, and one entry each
	// side timed outside it by more than WindowMargin.
	First, Last int64
	// Scanned is the entries read (Last − First + 1); InWindow those timed
	// in the window, each given to fn.
	Scanned, InWindow int64
	// Unintegrated is the entries after the checkpoint: not verified and
	// not read, even when timed in the window.
	Unintegrated int64
	// Probes is the entries read to find First and Last.
	Probes int
}

// ScanWindow calls fn with each entry timed from ≤ Time < to (to zero:
// no end) up to the latest signed checkpoint, and verifies those entries
// against it, without reading the whole log:
//
//   - the checkpoint's signature under vkey, and its stored size and root
//     against its signed note;
//   - the entries First…Last that may fall in the window, found by binary
//     search over the stored entries' times with WindowMargin each side
//     (see WindowMargin for the bound on how far out of order times can
//     be), restricted to the checkpoint's size; the entries either side,
//     timed outside the window by more than the margin, are in the range,
//     so the search, which reads unverified entries, cannot be steered
//     without the range failing to verify;
//   - their leaf hashes, recomputed from the stored leaves, combined with
//     the stored tree nodes left and right of them (the compact ranges of
//     [0, First−1) and [Last, Size), read from the tiles) into the tree's
//     root, which must be the signed root.
//
// fn is called as the entries are read, before the root is checked: a
// caller keeps nothing of a scan that returns an error. When the root does
// not match, ScanWindow names the first bad entry with a *TamperError: the
// first leaf that differs from the tree's stored leaf hash, or else what a
// full [Verify] finds; if that finds nothing either, the error is
// ErrBadTiles. fn's error stops the scan and is returned as it is.
//
// The window's entries after the checkpoint are not covered: Unintegrated
// counts them, and a caller asks again once the integrator has signed
// them. What the window does not hold (earlier or later entries, other
// checkpoints, the subject index) is `coffre audit verify`'s to check.
func ScanWindow(ctx context.Context, s store.Store, vkey string, from, to time.Time, fn func(e *audit.Entry) error) (*WindowReport, error) {
	if !to.IsZero() && !to.After(from) {
		return nil, fmt.Errorf("scan window: the window ends before it starts")
	}
	rep := &WindowReport{}
	var root []byte
	err := s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		c, err := tx.LatestCheckpoint(ctx)
		if errors.Is(err, store.ErrNotFound) {
			return ErrNoCheckpoint
		}
		if err != nil {
			return err
		}
		last, err := tx.LastAuditSeq(ctx)
		if err != nil {
			return err
		}
		opened, err := audit.Open(c.Note, vkey)
		if err != nil {
			return fmt.Errorf("the latest checkpoint (size %d): %w", c.Size, err)
		}
		if opened.Size != c.Size || !bytes.Equal(opened.Root, c.Root) {
			return fmt.Errorf("%w: the stored checkpoint of size %d differs from its signed note", audit.ErrBadCheckpoint, c.Size)
		}
		rep.Size, rep.Note, root = c.Size, c.Note, c.Root
		rep.Unintegrated = max(0, last-int64(c.Size))
		if c.Size == 0 {
			return nil
		}
		first, err := search(ctx, tx, int64(c.Size), from.Add(-WindowMargin), &rep.Probes)
		if err != nil {
			return err
		}
		rep.First = max(1, first-1) // the last entry timed before from − margin
		rep.Last = int64(c.Size)
		if !to.IsZero() {
			after, err := search(ctx, tx, int64(c.Size), to.Add(WindowMargin), &rep.Probes)
			if err != nil {
				return err
			}
			rep.Last = max(rep.First, min(after, int64(c.Size))) // the first entry timed at or after to + margin
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scan window: %w", err)
	}
	if rep.Size == 0 {
		return rep, nil
	}
	if err := scanRange(ctx, s, vkey, rep, root, from, to, fn); err != nil {
		return nil, err
	}
	return rep, nil
}

// search returns the first entry of 1…size timed at or after t (size+1
// when none is), as if times were monotone, counting the entries it reads
// in probes.
func search(ctx context.Context, tx store.Tx, size int64, t time.Time, probes *int) (int64, error) {
	lo, hi := int64(1), size+1 // the answer is in [lo, hi]
	for lo < hi {
		mid := lo + (hi-lo)/2
		at, err := entryTime(ctx, tx, mid)
		if err != nil {
			return 0, err
		}
		*probes++
		if at.Before(t) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo, nil
}

// entryTime returns entry seq's time as stored. An entry gone or not an
// entry reads as the start of time: the search goes on, and the range it
// finds fails to verify.
func entryTime(ctx context.Context, tx store.Tx, seq int64) (time.Time, error) {
	var at time.Time
	err := tx.AuditLeaves(ctx, seq, seq+1, func(_ int64, leaf []byte) error {
		if e, err := audit.ParseLeaf(leaf); err == nil {
			at = e.Time
		}
		return nil
	})
	return at, err
}

// scanRange reads entries rep.First…rep.Last, gives those in the window
// to fn, and checks that their leaf hashes and the stored nodes beside
// them hash to root.
func scanRange(ctx context.Context, s store.Store, vkey string, rep *WindowReport, root []byte, from, to time.Time, fn func(e *audit.Entry) error) error {
	begin, end := uint64(rep.First-1), uint64(rep.Last) // leaf indexes [begin, end)
	var left, right *compact.Range
	err := s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		if left, err = storedRange(ctx, tx, 0, begin); err != nil {
			return err
		}
		right, err = storedRange(ctx, tx, end, rep.Size)
		return err
	})
	if err != nil {
		return fmt.Errorf("scan window: tree nodes: %w", err)
	}
	const page = 20_000
	next := rep.First
	unparsed := int64(0) // the first entry whose leaf is not an entry
	for lo := rep.First; lo <= rep.Last; lo += page {
		hi := min(lo+page, rep.Last+1)
		err := s.View(ctx, func(ctx context.Context, tx store.Tx) error {
			return tx.AuditLeaves(ctx, lo, hi, func(seq int64, leaf []byte) error {
				if seq != next {
					return &TamperError{Index: uint64(next - 1), Reason: fmt.Sprintf("missing: the next stored entry is number %d", seq)}
				}
				next++
				if err := left.Append(audit.Hasher.HashLeaf(leaf), nil); err != nil {
					return err
				}
				rep.Scanned++
				e, err := audit.ParseLeaf(leaf)
				if err != nil || e.Seq != seq {
					if unparsed == 0 {
						unparsed = seq
					}
					return nil
				}
				if e.Time.Before(from) || !to.IsZero() && !e.Time.Before(to) {
					return nil
				}
				rep.InWindow++
				return fn(&e)
			})
		})
		if err != nil {
			return fmt.Errorf("scan window: %w", err)
		}
	}
	if next != rep.Last+1 {
		return fmt.Errorf("scan window: %w", &TamperError{Index: uint64(next - 1), Reason: "missing: the entry is gone though the checkpoint covers it"})
	}
	if err := left.AppendRange(right, nil); err != nil {
		return fmt.Errorf("scan window: %w", err)
	}
	got, err := left.GetRootHash(nil)
	if err != nil {
		return fmt.Errorf("scan window: %w", err)
	}
	if bytes.Equal(got, root) {
		if unparsed != 0 {
			return fmt.Errorf("scan window: entry %d is signed but its stored leaf is not an audit entry", unparsed)
		}
		return nil
	}
	return fmt.Errorf("scan window: %w", firstBad(ctx, s, vkey, rep, root))
}

// storedRange returns the compact range of leaves [begin, end) of the
// tree, its nodes read from the tiles.
func storedRange(ctx context.Context, tx store.Tx, begin, end uint64) (*compact.Range, error) {
	ids := compact.RangeNodes(begin, end, nil)
	var tids []audit.TileID
	seen := map[audit.TileID]bool{}
	for _, n := range ids {
		if t, _, _ := audit.TileOf(n); !seen[t] {
			seen[t] = true
			tids = append(tids, t)
		}
	}
	tiles, err := tx.GetTiles(ctx, tids)
	if err != nil {
		return nil, err
	}
	hashes := make([][]byte, len(ids))
	for i, n := range ids {
		t, _, _ := audit.TileOf(n)
		if hashes[i], err = audit.NodeHash(n, tiles[t]); err != nil {
			// A tile gone or cut short: the root cannot be had from it.
			return nil, &TamperError{Index: begin, Reason: fmt.Sprintf("the stored tree node %d/%d beside the window is missing: %v", n.Level, n.Index, err)}
		}
	}
	return rangeFactory.NewRange(begin, end, hashes)
}

var rangeFactory = compact.RangeFactory{Hash: audit.Hasher.HashChildren}

// firstBad names why the window did not hash to the signed root: the
// first entry of the window whose leaf hash differs from the tree's stored
// one, or else what a full verification finds.
func firstBad(ctx context.Context, s store.Store, vkey string, rep *WindowReport, root []byte) error {
	const page = audit.TileWidth * 64
	for lo := uint64(rep.First - 1); lo < uint64(rep.Last); lo += page {
		hi := min(lo+page, uint64(rep.Last))
		var bad *TamperError
		err := s.View(ctx, func(ctx context.Context, tx store.Tx) error {
			var ids []audit.TileID
			for t := lo / audit.TileWidth; t <= (hi-1)/audit.TileWidth; t++ {
				ids = append(ids, audit.TileID{Level: 0, Index: t})
			}
			tiles, err := tx.GetTiles(ctx, ids)
			if err != nil {
				return err
			}
			return tx.AuditLeaves(ctx, int64(lo)+1, int64(hi)+1, func(seq int64, leaf []byte) error {
				idx := uint64(seq - 1)
				t := tiles[audit.TileID{Level: 0, Index: idx / audit.TileWidth}]
				off := int(idx%audit.TileWidth) * 32
				if off+32 > len(t.Hashes) || !bytes.Equal(t.Hashes[off:off+32], audit.Hasher.HashLeaf(leaf)) {
					bad = &TamperError{Index: idx, Reason: "differs from the leaf hash the tree holds (modified, inserted or reordered)"}
					return errStop
				}
				return nil
			})
		})
		if bad != nil {
			return bad
		}
		if err != nil {
			return err
		}
	}
	if _, err := Verify(ctx, s, vkey); err != nil {
		return err
	}
	return fmt.Errorf("%w (size %d, root %x): run coffre audit verify", ErrBadTiles, rep.Size, root)
}

var errStop = errors.New("stop")
