package auditlog

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/retention"
	"github.com/coffre/coffre/internal/store"
)

// ErrBehind: the epoch cannot close yet, the integrator being more than
// MaxBatch entries behind (it closes on a later try).
var ErrBehind = errors.New("the audit integrator is behind: the epoch closes once it catches up")

// maxCloseTail bounds the entries not yet in a checkpoint that closing an
// epoch hashes inside its transaction.
const maxCloseTail = 20_000

// openEpoch is the epoch entries are appended to: its number, first
// entry, and when it opened (zero when it holds no entry yet).
func openEpoch(ctx context.Context, tx store.Tx) (number, first int64, opened time.Time, err error) {
	eps, err := tx.ListEpochs(ctx)
	if err != nil {
		return 0, 0, time.Time{}, err
	}
	if k := len(eps); k > 0 {
		return eps[k-1].Number + 1, eps[k-1].Last + 1, eps[k-1].Closed, nil
	}
	es, err := tx.AuditEntries(ctx, 1, 2, 1)
	if err != nil || len(es) == 0 {
		return 1, 1, time.Time{}, err
	}
	return 1, 1, es[0].Time, nil
}

// CloseEpoch closes the open epoch when it is due at now (it opened at
// least every ago; a zero every never closes), and returns it (nil when
// none closed). In one transaction it hashes the entries the latest
// checkpoint does not cover (at most 20,000: else ErrBehind), appends
// the next epoch's first entry (audit.EpochEntry: the closed epoch's
// number, last entry and root, signed by every later checkpoint) and
// stores the epoch; the integrator then signs a checkpoint of exactly
// the closed epoch's size. A store on which another writer appends at the
// same moment (PostgreSQL) may make it fail with ErrConflict: it closes
// on a later try.
func CloseEpoch(ctx context.Context, s store.Store, now time.Time, every retention.Span) (*audit.Epoch, error) {
	if every.IsZero() {
		return nil, nil
	}
	now = now.UTC().Truncate(time.Microsecond)
	due := func(opened time.Time) bool { return !opened.IsZero() && !now.Before(every.After(opened)) }
	// A look first, off the writer: nearly always nothing is due.
	var opened time.Time
	if err := s.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
		_, _, opened, err = openEpoch(ctx, tx)
		return err
	}); err != nil {
		return nil, fmt.Errorf("close epoch: %w", err)
	}
	if !due(opened) {
		return nil, nil
	}
	var closed *audit.Epoch
	// LatestCheckpoint takes the checkpoint lock: a transaction of its
	// own (store.Alone).
	err := s.Update(store.Alone(ctx), func(ctx context.Context, tx store.Tx) error {
		closed = nil
		n, first, opened, err := openEpoch(ctx, tx)
		if err != nil || !due(opened) {
			return err
		}
		last, err := tx.LastAuditSeq(ctx)
		if err != nil || last < first {
			return err
		}
		cp, err := tx.LatestCheckpoint(ctx)
		if errors.Is(err, store.ErrNotFound) {
			cp, err = &audit.StoredCheckpoint{}, nil
		}
		if err != nil {
			return err
		}
		if last-int64(cp.Size) > maxCloseTail {
			return ErrBehind
		}
		tree, err := audit.NewTree(cp.Size, cp.Range)
		if err != nil {
			return err
		}
		err = tx.AuditLeaves(ctx, int64(cp.Size)+1, last+1, func(seq int64, leaf []byte) error {
			if seq != int64(tree.Size())+1 {
				return fmt.Errorf("audit sequence broken at entry %d", seq)
			}
			return tree.Append(audit.Hasher.HashLeaf(leaf))
		})
		if err != nil {
			return err
		}
		if tree.Size() != uint64(last) {
			return fmt.Errorf("audit sequence broken: %d entries up to %d", tree.Size(), last)
		}
		ep := &audit.Epoch{Number: n, First: first, Last: last, Opened: opened, Closed: now, Root: tree.Root()}
		e := audit.EpochEntry(ep)
		if err := tx.AppendAudit(ctx, e); err != nil {
			return err
		}
		if e.Seq != last+1 {
			return fmt.Errorf("epoch entry numbered %d, not %d: another writer appended: %w", e.Seq, last+1, store.ErrConflict)
		}
		if err := tx.PutEpoch(ctx, ep); err != nil {
			return err
		}
		closed = ep
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("close epoch: %w", err)
	}
	return closed, nil
}

// PruneReport is what a pruning deleted.
type PruneReport struct {
	Epochs      []int64 // the epochs deleted (or whose deletion was finished)
	Entries     int
	IndexRows   int
	Tiles       int
	Checkpoints int // checkpoints whose leaf hashes were dropped (each kept)
}

// pruneBatch bounds the rows one transaction of a pruning deletes.
const pruneBatch = 2_000

// Prune deletes the closed epochs older than keep at now (closed at
// least keep ago; a zero keep deletes nothing), oldest first and only as
// a run from the first: their entries, their subject index rows, the
// tiles no retained entry's proof needs, and the leaf hashes their
// checkpoints recorded; every checkpoint stays (signed note, root,
// compact range), so that the checkpoint chain still verifies and Verify
// goes on from the compact range of the last deleted epoch's closing
// checkpoint. An epoch whose closing checkpoint is not signed yet waits.
// The deletion is marked first (audit.Epoch.Deleted), then done in
// transactions of at most 2,000 rows, never a long one; an interrupted
// pruning is finished by the next. The pruning is audited (action
// "audit.prune", actor actor, the counts in the reason), and returns its
// counts. A scheduler calls it (as coffre audit prune does).
func Prune(ctx context.Context, s store.Store, now time.Time, keep retention.Span, actor string) (*PruneReport, error) {
	rep := &PruneReport{}
	if keep.IsZero() {
		return rep, nil
	}
	now = now.UTC()
	var bound int64 // entries up to bound go
	var indexBound uint64
	var marked int // epochs whose deletion begins now (the others' is finished)
	err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		rep.Epochs, bound, indexBound, marked = nil, 0, 0, 0
		eps, err := tx.ListEpochs(ctx)
		if err != nil {
			return err
		}
		mark, err := tx.ActivityMark(ctx)
		if err != nil {
			return err
		}
		for _, ep := range eps {
			if ep.Deleted.IsZero() && (now.Before(keep.After(ep.Closed)) || ep.Last > mark) {
				break // not due yet, or its activity is not recorded on the records yet
			}
			cs, err := tx.CheckpointsAfter(ctx, uint64(ep.Last)-1, 1)
			if err != nil {
				return err
			}
			if len(cs) == 0 || cs[0].Size != uint64(ep.Last) {
				break // the integrator has not signed its closing checkpoint yet
			}
			if ep.Deleted.IsZero() {
				if err := tx.MarkEpochDeleted(ctx, ep.Number, now); err != nil {
					return err
				}
				marked++
			}
			rep.Epochs, bound, indexBound = append(rep.Epochs, ep.Number), ep.Last, 0
			if cs[0].Index != nil {
				indexBound = cs[0].Index.Size
			}
		}
		return nil
	})
	if err != nil || bound == 0 {
		return rep, pruneErr(err)
	}
	// Each batch in a transaction of its own.
	batch := func(fn func(ctx context.Context, tx store.Tx) (int, error)) (int, error) {
		var n int
		err := s.Update(ctx, func(ctx context.Context, tx store.Tx) (err error) {
			n, err = fn(ctx, tx)
			return err
		})
		return n, err
	}
	for {
		n, err := batch(func(ctx context.Context, tx store.Tx) (int, error) { return tx.DeleteAudit(ctx, bound, pruneBatch) })
		if err != nil {
			return rep, pruneErr(err)
		}
		if rep.Entries += n; n == 0 {
			break
		}
	}
	for subj, seq := "", int64(0); ; {
		var n int
		err := s.Update(ctx, func(ctx context.Context, tx store.Tx) (err error) {
			var ns string
			var nq int64
			ns, nq, n, err = tx.DeleteSubjectIndex(ctx, bound, subj, seq, pruneBatch)
			subj, seq = ns, nq
			return err
		})
		if err != nil {
			return rep, pruneErr(err)
		}
		rep.IndexRows += n
		if subj == "" {
			break
		}
	}
	for _, t := range []struct {
		index bool
		first uint64
	}{{false, uint64(bound)}, {true, indexBound}} {
		for level, below := range audit.TilesBelow(t.first) {
			for {
				n, err := batch(func(ctx context.Context, tx store.Tx) (int, error) {
					return tx.DeleteTiles(ctx, t.index, uint(level), below, pruneBatch)
				})
				if err != nil {
					return rep, pruneErr(err)
				}
				if rep.Tiles += n; n == 0 {
					break
				}
			}
		}
	}
	for after := uint64(0); ; {
		var n int
		err := s.Update(ctx, func(ctx context.Context, tx store.Tx) (err error) {
			var last uint64
			last, n, err = tx.TrimCheckpoints(ctx, after, uint64(bound), pruneBatch)
			after = last
			return err
		})
		if err != nil {
			return rep, pruneErr(err)
		}
		if rep.Checkpoints += n; n == 0 {
			break
		}
	}
	if marked == 0 && rep.Entries+rep.IndexRows+rep.Tiles+rep.Checkpoints == 0 {
		return &PruneReport{}, nil // deleted already: nothing to do, nothing to audit
	}
	var ids []string
	for _, n := range rep.Epochs {
		ids = append(ids, fmt.Sprint(n))
	}
	e := &audit.Entry{Time: now, Actor: actor, Action: "audit.prune", Decision: "allow",
		Reason: fmt.Sprintf("epochs %s (entries up to %d): %d entries, %d index rows, %d tiles, %d checkpoints' leaf hashes", strings.Join(ids, ","), bound, rep.Entries, rep.IndexRows, rep.Tiles, rep.Checkpoints)}
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { x := *e; return tx.AppendAudit(ctx, &x) }); err != nil {
		return rep, pruneErr(err)
	}
	return rep, nil
}

func pruneErr(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("prune audit log: %w", err)
}
