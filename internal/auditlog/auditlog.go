// Package auditlog folds the vault's sequenced audit entries into the Merkle
// tree and signs checkpoints (the integrator), and verifies a whole log
// against its checkpoints (the verifier).
//
// The read path only sequences entries (package vault, in the access
// transaction); the integrator runs beside it, every second or so, so that
// hashing and signing never sit on a read. Each checkpoint stores the leaf
// hashes of the entries it added, so the verifier can name the first entry
// that no longer matches, and the compact range of the tree, so the
// integrator never re-hashes old entries.
//
// The integrator also keeps the subject index log (package audit,
// "Subject index"): for each entry naming a subject, an index leaf chained
// to that subject's previous entry, the per-subject list of them, and the
// index log's head, which the checkpoint signs. [SubjectHistory] reads a
// person's entries with their proofs; [VerifyHistory] checks them offline.
// [ScanWindow] reads the entries of a time window, verified against the
// latest checkpoint without reading the rest of the log (a breach's
// impact).
package auditlog

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/event"
	"github.com/coffre/coffre/internal/pace"
	"github.com/coffre/coffre/internal/retention"
	"github.com/coffre/coffre/internal/store"
)

// errStale reports a step overtaken by another integrator.
var errStale = errors.New("another integrator moved the log on")

// Origin is the default log name written in checkpoints.
const Origin = "coffre/audit"

// Integrator folds new entries into the tree and signs checkpoints.
type Integrator struct {
	Store  store.Store
	Signer *audit.Signer
	// Interval between steps while idle (default 1 s).
	Interval time.Duration
	// MaxBatch bounds the entries one step integrates (default 20,000), and
	// so the memory a step takes; a step that fills it is followed at once
	// by the next.
	MaxBatch int
	Now      func() time.Time
	Logger   *slog.Logger
	// Witnesses are URLs each new checkpoint is POSTed to (see Witness);
	// a witness that fails is logged and tried again with the next
	// checkpoint, never holding integration up.
	Witnesses []string
	// Client sends to witnesses (default: 10 s timeout).
	Client *http.Client
	// Turn, if set, says whether it is this integrator's turn: Run steps
	// (and records the activity, and closes epochs) only while it says
	// yes. Servers sharing one store each run an integrator, and one of
	// them at a time does the work: a step every server did would be
	// kept from one only, the others' work (reading the entries, hashing
	// them, writing their index rows ahead of a checkpoint that loses)
	// thrown away.
	Turn func() bool
	// IndexRows bounds the subject index rows one write transaction holds
	// (default DefaultIndexRows): a step writes its rows in transactions of
	// at most that many, ahead of its checkpoint's, so that it never holds
	// the store's writer, which reads' group commits wait for, for long.
	IndexRows int
	// Rest is how long a step rests after each of those transactions, as a
	// multiple of the time its rows held the writer (0 means DefaultRest;
	// negative, no rest): reads' group commits take the writer meanwhile,
	// and a step holds it at most 1/(1+Rest) of the time.
	Rest float64
	// Activity, if set, says which entries are their record's activity
	// and its day (vault.Vault.ActivityDay). Reads do not write their
	// record for it: Run records it on the records (RecordActivity) in
	// batches, every ActivityEntries entries or ActivityEvery, whichever
	// comes first; a retention sweep reads what lies past the mark.
	Activity func(audit.Access) (time.Time, bool)
	// ActivityEntries and ActivityEvery say when Run records the
	// activity: once that many integrated entries lie past the activity
	// mark (default DefaultActivityEntries), or that long after it last
	// did (default DefaultActivityEvery).
	ActivityEntries int
	ActivityEvery   time.Duration
	// Epoch is how long an epoch of the log lasts (audit.epoch); Run
	// closes the open one when it is due (CloseEpoch), looking at most
	// once a minute. Zero: epochs never close.
	Epoch retention.Span

	size      uint64            // tree size after the last step (Run's own state)
	epochSeen time.Time         // when Run last looked at the open epoch
	recorded  time.Time         // when Run last recorded the activity
	witnessed map[string]uint64 // size each witness last accepted
}

// Defaults of an [Integrator]'s bounds on its hold of the writer; see
// docs/design.md ("A history the person can verify is complete") and
// docs/benchmarks.md ("Issue 14") for how they were chosen.
const (
	DefaultIndexRows = 250
	DefaultRest      = 1.0
)

func (in *Integrator) indexRows() int {
	if in.IndexRows <= 0 {
		return DefaultIndexRows
	}
	return in.IndexRows
}

func (in *Integrator) rest() float64 {
	if in.Rest == 0 {
		return DefaultRest
	}
	return in.Rest
}

func (in *Integrator) maxBatch() int {
	if in.MaxBatch <= 0 {
		return 20_000
	}
	return in.MaxBatch
}

// Step integrates the entries sequenced since the latest checkpoint and
// stores a new signed checkpoint; it returns the tree size after the step.
//
// It writes in several transactions: the subject index rows first, at
// most IndexRows at a time with a rest after each, then the checkpoint
// with the tiles. Rows written by a step that stops before its
// checkpoint lie beyond the signed index size, where readers ignore them
// and the next step writes them again (see audit.SubjectIndex).
func (in *Integrator) Step(ctx context.Context) (uint64, error) {
	maxBatch := in.maxBatch()
	var last *audit.StoredCheckpoint
	var seqs []int64
	var hashes []byte
	var subjects []string // per entry, "" for none
	var edges, indexEdges map[audit.TileID]audit.Tile
	var heads map[string]int64
	var boundary *audit.Epoch // the closed epoch this step's checkpoint closes, if any
	err := in.Store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		last, err = tx.LatestCheckpoint(ctx)
		if errors.Is(err, store.ErrNotFound) {
			last, err = &audit.StoredCheckpoint{}, nil
		}
		if err != nil {
			return err
		}
		from := int64(last.Size) + 1
		seqs, hashes, subjects = seqs[:0], hashes[:0], subjects[:0]
		named := map[string]bool{}
		err = tx.AuditLeaves(ctx, from, from+int64(maxBatch), func(seq int64, leaf []byte) error {
			subject, err := audit.LeafSubject(leaf)
			if err != nil {
				return fmt.Errorf("entry %d: %w", seq, err)
			}
			seqs = append(seqs, seq)
			hashes = append(hashes, audit.Hasher.HashLeaf(leaf)...)
			subjects = append(subjects, subject)
			if subject != "" {
				named[subject] = true
			}
			return nil
		})
		if err != nil {
			return err
		}
		// A closed epoch ends at a checkpoint of its own size: a step stops
		// there. The epochs are read after the entries: an epoch entry
		// read above is committed with its epoch, which is then seen.
		eps, err := tx.ListEpochs(ctx)
		if err != nil {
			return err
		}
		boundary = nil
		for i := range eps {
			if n := eps[i].Last - from + 1; eps[i].Last >= from && n <= int64(len(seqs)) {
				seqs, hashes, subjects, boundary = seqs[:n], hashes[:32*n], subjects[:n], &eps[i]
				break
			}
		}
		if edges, err = tx.GetTiles(ctx, audit.EdgeTiles(last.Size)); err != nil {
			return err
		}
		if last.Index != nil {
			if indexEdges, err = tx.GetIndexTiles(ctx, audit.EdgeTiles(last.Index.Size)); err != nil {
				return err
			}
		}
		var signed uint64 // the index size last signs
		if last.Index != nil {
			signed = last.Index.Size
		}
		heads, err = tx.SubjectHeads(ctx, signed, slices.Sorted(maps.Keys(named)))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("integrate: %w", err)
	}
	if len(seqs) == 0 {
		return last.Size, nil
	}
	tree, err := audit.NewTree(last.Size, last.Range)
	if err != nil {
		return 0, fmt.Errorf("integrate: %w", err)
	}
	tiler := audit.NewTiler(last.Size, slices.Collect(maps.Values(edges)))
	ix, err := newIndexStep(last, indexEdges, heads)
	if err != nil {
		return 0, fmt.Errorf("integrate: %w", err)
	}
	for i, seq := range seqs {
		if want := int64(tree.Size()) + 1; seq != want {
			return 0, fmt.Errorf("integrate: audit sequence broken: entry %d where %d was expected", seq, want)
		}
		h := hashes[32*i : 32*i+32]
		tiler.Append(tree.Size(), h)
		if err := tree.Append(h); err != nil {
			return 0, fmt.Errorf("integrate: %w", err)
		}
		if subjects[i] != "" {
			if err := ix.add(subjects[i], seq, h); err != nil {
				return 0, fmt.Errorf("integrate: %w", err)
			}
		}
	}
	if boundary != nil && tree.Size() == uint64(boundary.Last) && !bytes.Equal(tree.Root(), boundary.Root) {
		return 0, fmt.Errorf("integrate: epoch %d recorded a root the log's %d entries do not hash to", boundary.Number, boundary.Last)
	}
	leaves := hashes
	head := ix.head()
	cp, err := in.Signer.Sign(tree.Size(), tree.Root(), head)
	if err != nil {
		return 0, err
	}
	now := time.Now
	if in.Now != nil {
		now = in.Now
	}
	stored := &audit.StoredCheckpoint{Size: cp.Size, Root: cp.Root, Note: cp.Note, Range: tree.Hashes(), Leaves: leaves, Created: now().UTC(),
		Index: head, IndexRange: ix.tree.Hashes()}
	tiles, indexTiles := tiler.Changed(), ix.tiler.Changed()
	// Another integrator (another node on the same store) may have moved
	// on since the read above: then this step is stale, and its tiles must
	// not overwrite the newer ones.
	current := func(ctx context.Context, tx store.Tx) error {
		now, err := tx.LatestCheckpoint(ctx)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err == nil && now.Size != last.Size {
			return errStale
		}
		return nil
	}
	err = in.putIndexRows(ctx, ix, current)
	if errors.Is(err, errStale) {
		return last.Size, nil
	}
	if err != nil {
		// A conflict here is a signed row where this step puts another:
		// not a race between integrators (their rows are the same).
		return 0, fmt.Errorf("integrate: %w", err)
	}
	// current takes the checkpoint lock: a transaction of its own (store.Alone).
	err = in.Store.Update(store.Alone(ctx), func(ctx context.Context, tx store.Tx) error {
		if err := current(ctx, tx); err != nil {
			return err
		}
		if err := tx.PutCheckpoint(ctx, stored); err != nil {
			return err
		}
		if err := tx.PutTiles(ctx, tiles); err != nil {
			return err
		}
		return tx.PutIndexTiles(ctx, indexTiles)
	})
	if errors.Is(err, errStale) || errors.Is(err, store.ErrConflict) {
		return last.Size, nil // another integrator went first; the next step goes on from its checkpoint
	}
	if err != nil {
		return 0, fmt.Errorf("store checkpoint: %w", err)
	}
	in.witness(ctx, stored)
	return tree.Size(), nil
}

// putIndexRows writes a step's subject index rows ahead of its
// checkpoint, in key order, in transactions of at most IndexRows rows,
// each checking first that the step is still current, and rests after
// each but the last for Rest times the time its rows held the writer
// (the time in its function: waiting for the writer, and the commit the
// reads of the same group share, are not the step's own). In key order,
// each transaction covers a range of subjects: it dirties only that
// range's pages, and a page once.
func (in *Integrator) putIndexRows(ctx context.Context, ix *indexStep, current func(context.Context, store.Tx) error) error {
	rows := slices.Clone(ix.entries)
	slices.SortFunc(rows, func(a, b audit.IndexEntry) int {
		return cmp.Or(strings.Compare(a.Subject, b.Subject), cmp.Compare(a.Seq, b.Seq))
	})
	n := in.indexRows()
	for i := 0; i < len(rows); i += n {
		var held time.Duration
		err := in.Store.Update(store.Alone(ctx), func(ctx context.Context, tx store.Tx) error { // current locks
			t0 := time.Now()
			defer func() { held += time.Since(t0) }() // a group run again runs it twice
			if err := current(ctx, tx); err != nil {
				return err
			}
			return tx.PutSubjectIndex(ctx, ix.signed, rows[i:min(i+n, len(rows))])
		})
		if err != nil {
			return fmt.Errorf("subject index rows: %w", err)
		}
		if i+n < len(rows) {
			pace.Rest(ctx, in.rest(), held)
		}
	}
	return nil
}

// indexStep extends the subject index log by one step's entries.
type indexStep struct {
	from    int64
	signed  uint64 // the index size the step goes on from
	tree    *audit.Tree
	tiler   *audit.Tiler     // nil: the tiles are not wanted
	heads   map[string]int64 // newest seq per subject, as the step goes
	entries []audit.IndexEntry
}

// newIndexStep goes on from the index head of last; a checkpoint made
// before the index (last.Index nil) starts the index after it.
func newIndexStep(last *audit.StoredCheckpoint, edges map[audit.TileID]audit.Tile, heads map[string]int64) (*indexStep, error) {
	from, size, rng := int64(last.Size)+1, uint64(0), [][]byte(nil)
	if last.Index != nil {
		from, size, rng = last.Index.From, last.Index.Size, last.IndexRange
	}
	tree, err := audit.NewTree(size, rng)
	if err != nil {
		return nil, fmt.Errorf("subject index: %w", err)
	}
	if heads == nil {
		heads = map[string]int64{}
	}
	return &indexStep{from: from, signed: size, tree: tree, tiler: audit.NewTiler(size, slices.Collect(maps.Values(edges))), heads: heads}, nil
}

// add appends the index leaf of entry seq about subject, whose log leaf
// hash is leafHash.
func (ix *indexStep) add(subject string, seq int64, leafHash []byte) error {
	prev := ix.heads[subject]
	h := audit.IndexLeafHash(subject, seq, leafHash, prev)
	pos := ix.tree.Size()
	if ix.tiler != nil { // nil when Verify rebuilds the index
		ix.tiler.Append(pos, h)
	}
	if err := ix.tree.Append(h); err != nil {
		return fmt.Errorf("subject index: %w", err)
	}
	ix.entries = append(ix.entries, audit.IndexEntry{Subject: subject, Seq: seq, Pos: pos, Prev: prev})
	ix.heads[subject] = seq
	return nil
}

func (ix *indexStep) head() *audit.IndexHead {
	return &audit.IndexHead{From: ix.from, Size: ix.tree.Size(), Root: ix.tree.Root()}
}

// witness pushes a new checkpoint to every witness.
func (in *Integrator) witness(ctx context.Context, cp *audit.StoredCheckpoint) {
	if len(in.Witnesses) == 0 {
		return
	}
	if in.witnessed == nil {
		in.witnessed = map[string]uint64{}
	}
	c := in.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	for _, u := range in.Witnesses {
		size, err := pushWitness(ctx, c, in.Store, u, in.witnessed[u], cp)
		in.witnessed[u] = size
		if err != nil {
			in.logger().WarnContext(ctx, "witness", "event", event.AuditWitnessFailed, "url", u, "size", cp.Size, "error", err)
		}
	}
}

func (in *Integrator) now() time.Time {
	if in.Now != nil {
		return in.Now()
	}
	return time.Now()
}

func (in *Integrator) logger() *slog.Logger {
	if in.Logger == nil {
		return slog.Default()
	}
	return in.Logger
}

// Run steps until ctx ends: at once again while a step finds a full batch,
// else after Interval. Errors are logged and retried.
func (in *Integrator) Run(ctx context.Context) {
	interval := in.Interval
	if interval <= 0 {
		interval = time.Second
	}
	log := in.logger()
	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		if in.Turn != nil && !in.Turn() {
			t.Reset(interval)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				continue
			}
		}
		before := time.Now()
		prev := in.size
		size, err := in.Step(ctx)
		if err != nil && ctx.Err() == nil {
			log.ErrorContext(ctx, "audit integrator step failed", "event", event.AuditIntegratorFailed, "error", err)
		}
		wait := interval - time.Since(before)
		if wait < 0 || err == nil && size-prev >= uint64(in.maxBatch()) {
			wait = 0 // behind: go on at once
		}
		in.size = size
		if err == nil {
			if err := in.activityDue(ctx, size); err != nil && ctx.Err() == nil {
				log.WarnContext(ctx, "records' activity not recorded yet", "error", err)
			}
		}
		if now := in.now(); err == nil && !in.Epoch.IsZero() && now.Sub(in.epochSeen) >= time.Minute {
			in.epochSeen = now
			if ep, err := CloseEpoch(ctx, in.Store, now, in.Epoch); err != nil && ctx.Err() == nil {
				log.WarnContext(ctx, "audit epoch not closed yet", "error", err)
			} else if ep != nil {
				log.InfoContext(ctx, "audit epoch closed", "epoch", ep.Number, "last", ep.Last)
				wait = 0 // sign its closing checkpoint at once
			}
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
