// Package reindex rebuilds the blind index under a new key, online. The
// index's first key (generation 1) derives from the first root key
// version; a rebuild makes generation g+1 with a random key, sealed in
// the store under the versions key (as package rotate seals root key
// versions) so that every node of a deployment finds it, and builds its
// entries beside the old ones in the same table. The index cannot be
// rekeyed in place: an entry is a keyed hash of a value kept only inside
// the subject's ciphertext, so each entry is made again from the
// decrypted fields.
//
// # The life of a generation
//
//   - building: every node loads the key (Sync, every Tick) and from then
//     on each write that puts or deletes index entries does so for the
//     active generation and this one (envelope.Keyring.SetBlind); lookups
//     still use the active one. After the activation delay, when every
//     node writes both, the pass walks the live subjects by seq, a batch
//     at a time, opens each one's lookup fields and adds the entries it
//     lacks. Its cursor is committed with each batch (a crash resumes from
//     it) and moves by compare-and-swap (several nodes may run the pass);
//     each subject's entries are added only if its fields are still the
//     ones read (Index.AddIndexes).
//   - the switch: the transaction of the pass's last batch makes the new
//     generation active and the old one retiring; every node looks up
//     with the new key from its next Sync.
//   - retiring: writes keep the old generation up for an activation delay
//     after the switch, for the nodes that have not switched yet; after a
//     second delay its entries are deleted (DELETE … WHERE gen = old, in
//     batches), its key destroyed, and it is retired.
//
// One rebuild at a time: a rebuild while one is building or retiring is
// refused with [ErrInProgress].
package reindex

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/keyset"
	"github.com/coffre/coffre/internal/pace"
	"github.com/coffre/coffre/internal/subject"
)

// Errors callers branch on.
var (
	// ErrInProgress is returned by [Rebuilder.Rebuild] while the previous
	// rebuild is building or retiring its old generation.
	ErrInProgress = errors.New("a rebuild of the blind index is under way")
	// errMoved rolls back a batch another node committed first.
	errMoved = errors.New("the rebuild cursor moved")
)

// TxFunc runs fn in a store transaction (read-write for an update).
type TxFunc func(ctx context.Context, fn func(context.Context, Index) error) error

// Defaults of a [Rebuilder].
const (
	DefaultBatch      = 500
	DefaultDropBatch  = 5000
	DefaultActivation = 2 * time.Second
	DefaultTick       = time.Second
	DefaultRest       = 2.0
)

// Rebuilder starts rebuilds of the blind index and runs their pass, the
// switch and the retirement for one node.
type Rebuilder struct {
	Update, View TxFunc
	// Ring is the node's keyring: generations are loaded into it, and it
	// is told which one lookups use and which writes keep up.
	Ring *envelope.Keyring
	// VersionsKey seals the keys of the generations a rebuild makes.
	VersionsKey []byte
	// Hashes returns a live subject's entries under generation gen, which
	// Ring holds (vault.Vault.IndexHashes).
	Hashes func(row *subject.Row, gen uint32) ([][]byte, error)
	// Batch is how many subjects one transaction of the pass covers
	// (DefaultBatch); DropBatch, how many old entries one deletes
	// (DefaultDropBatch).
	Batch, DropBatch int
	// Activation is how long every node takes to load a change of
	// generations: the pass starts this long after the rebuild begins,
	// and writes keep the old generation up this long after the switch
	// (DefaultActivation).
	Activation time.Duration
	// Rest is how long the pass rests after each batch, as a multiple of
	// the batch's time (0 means DefaultRest; negative, no rest).
	Rest float64
	// Tick is how often Run looks for work (DefaultTick).
	Tick   time.Duration
	Now    func() time.Time
	Logger *slog.Logger
}

func (r *Rebuilder) batch() int {
	if r.Batch <= 0 {
		return DefaultBatch
	}
	return r.Batch
}

func (r *Rebuilder) dropBatch() int {
	if r.DropBatch <= 0 {
		return DefaultDropBatch
	}
	return r.DropBatch
}

func (r *Rebuilder) activation() time.Duration {
	if r.Activation <= 0 {
		return DefaultActivation
	}
	return r.Activation
}

func (r *Rebuilder) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}

func (r *Rebuilder) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.Default()
	}
	return r.Logger
}

// keyLabel binds a sealed generation key to its generation
// (keyset.SealVersion).
const keyLabel = "coffre/blindkey/v1"

func (r *Rebuilder) sealKey(gen uint32, key []byte) ([]byte, error) {
	return keyset.SealVersion(r.VersionsKey, keyLabel, gen, key)
}

func (r *Rebuilder) openKey(gen uint32, sealed []byte) ([]byte, error) {
	key, err := keyset.OpenVersion(r.VersionsKey, keyLabel, gen, sealed)
	if err != nil {
		return nil, fmt.Errorf("blind index generation %d: %w", gen, err)
	}
	return key, nil
}

// Rebuild begins a rebuild in a transaction of run (the caller's, which
// audits it): a new generation, building, whose entries the nodes write
// from their next Sync and the pass adds after the activation delay. It
// returns the new generation, or ErrInProgress.
func (r *Rebuilder) Rebuild(ctx context.Context, run TxFunc) (uint32, error) {
	if err := r.Sync(ctx); err != nil {
		return 0, err
	}
	key := make([]byte, 32)
	rand.Read(key)
	defer clear(key)
	var added uint32
	err := run(ctx, func(ctx context.Context, tx Index) error {
		rows, err := tx.BlindKeys(ctx)
		if err != nil {
			return err
		}
		top := uint32(1)
		for _, g := range rows {
			top = max(top, g.Gen)
			if g.State == StateBuilding || g.State == StateRetiring {
				return fmt.Errorf("generation %d is %s: %w", g.Gen, g.State, ErrInProgress)
			}
		}
		now := r.now()
		// The first rebuild records generation 1, so that its retirement
		// has a row.
		if len(rows) == 0 {
			if err := tx.PutBlindKey(ctx, Gen{Gen: 1, State: StateActive, Changed: now}); err != nil {
				return err
			}
		}
		added = top + 1
		sealed, err := r.sealKey(added, key)
		if err != nil {
			return err
		}
		return tx.PutBlindKey(ctx, Gen{Gen: added, Sealed: sealed, State: StateBuilding, Created: now, Changed: now})
	})
	if err != nil {
		return 0, err
	}
	if err := r.Ring.AddBlindGen(added, key); err != nil {
		return 0, err
	}
	// This node writes the new generation at once; the others from their
	// next Sync.
	if err := r.Ring.SetBlind(r.Ring.Blind().Active(), added); err != nil {
		return 0, err
	}
	r.logger().InfoContext(ctx, "blind index rebuild begun", "generation", added, "pass_in", r.activation().String())
	return added, nil
}

// Sync brings the node's keyring in line with the store: it loads the
// generations other nodes made, looks up with the active one, keeps up
// the one being built (or the one just replaced, for an activation
// delay), and forgets retired ones.
func (r *Rebuilder) Sync(ctx context.Context) error {
	var rows []Gen
	if err := r.View(ctx, func(ctx context.Context, tx Index) (err error) {
		rows, err = tx.BlindKeys(ctx)
		return err
	}); err != nil {
		return fmt.Errorf("blind index generations: %w", err)
	}
	active, also := uint32(1), uint32(0)
	for _, g := range rows {
		if g.State == StateRetired {
			continue
		}
		if g.Gen > 1 && !slices.Contains(r.Ring.BlindGens(), g.Gen) {
			if g.Sealed == nil {
				return fmt.Errorf("blind index generation %d is %s but its key is not in the store", g.Gen, g.State)
			}
			key, err := r.openKey(g.Gen, g.Sealed)
			if err != nil {
				return err
			}
			err = r.Ring.AddBlindGen(g.Gen, key)
			clear(key)
			if err != nil {
				return err
			}
		}
		switch g.State {
		case StateActive:
			active = g.Gen
		case StateBuilding:
			also = g.Gen
		case StateRetiring:
			if r.now().Before(g.Changed.Add(r.activation())) {
				also = g.Gen
			}
		}
	}
	if b := r.Ring.Blind(); b.Active() != active || b.Also() != also {
		if err := r.Ring.SetBlind(active, also); err != nil {
			return err
		}
		r.logger().InfoContext(ctx, "blind index generations", "active", active, "also_written", also)
	}
	for _, g := range rows {
		if g.State == StateRetired {
			if err := r.Ring.DropBlindGen(g.Gen); err != nil {
				return err
			}
		}
	}
	return nil
}

// pass returns the generation whose pass is under way, if any: the one
// building, once its activation delay has passed and the node holds its
// key.
func (r *Rebuilder) pass(rows []Gen) (Gen, bool) {
	for _, g := range rows {
		if g.State == StateBuilding && g.Done.IsZero() && !r.now().Before(g.Created.Add(r.activation())) &&
			slices.Contains(r.Ring.BlindGens(), g.Gen) {
			return g, true
		}
	}
	return Gen{}, false
}

// Step adds one batch of the pass under way and reports whether more is
// left. The batch is read and hashed outside the write, which adds each
// subject's entries only if its fields are still the ones read, and
// moves the cursor only if no other node moved it first. The last batch
// switches: the new generation becomes active, the old one retiring.
func (r *Rebuilder) Step(ctx context.Context) (more bool, err error) {
	var rows []Gen
	var batch []*subject.Row
	if err := r.View(ctx, func(ctx context.Context, tx Index) (err error) {
		if rows, err = tx.BlindKeys(ctx); err != nil {
			return err
		}
		if p, ok := r.pass(rows); ok {
			batch, err = tx.LiveSubjects(ctx, p.Cursor, r.batch())
		}
		return err
	}); err != nil {
		return false, fmt.Errorf("reindex: %w", err)
	}
	p, ok := r.pass(rows)
	if !ok {
		return false, nil
	}
	type add struct {
		seq    int64
		fields []byte
		hashes [][]byte
	}
	adds := make([]add, 0, len(batch))
	for _, row := range batch {
		hs, err := r.Hashes(row, p.Gen)
		if err != nil {
			// A subject whose fields do not open is damage, not work for
			// the pass: it cannot be read either.
			r.logger().ErrorContext(ctx, "reindex: a subject's entries cannot be made", "seq", row.Seq, "error", err)
			continue
		}
		if len(hs) > 0 {
			adds = append(adds, add{row.Seq, row.Fields, hs})
		}
	}
	last := len(batch) < r.batch()
	err = r.Update(ctx, func(ctx context.Context, tx Index) error {
		rows, err := tx.BlindKeys(ctx)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(rows, func(g Gen) bool { return g.Gen == p.Gen })
		if i < 0 || rows[i].State != StateBuilding || !rows[i].Done.IsZero() || rows[i].Cursor != p.Cursor {
			return errMoved
		}
		cur := rows[i]
		for _, a := range adds {
			n, _, err := tx.AddIndexes(ctx, cur.Gen, a.seq, a.fields, a.hashes)
			if err != nil {
				return err
			}
			cur.Added += n
		}
		if len(batch) > 0 {
			cur.Cursor = batch[len(batch)-1].Seq
		}
		if last {
			now := r.now()
			cur.Done, cur.State, cur.Changed = now, StateActive, now
			for _, g := range rows {
				if g.State == StateActive {
					g.State, g.Changed = StateRetiring, now
					if err := tx.PutBlindKey(ctx, g); err != nil {
						return err
					}
				}
			}
		}
		return tx.PutBlindKey(ctx, cur)
	})
	switch {
	case errors.Is(err, errMoved):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("reindex: %w", err)
	}
	if last {
		r.logger().InfoContext(ctx, "blind index rebuilt: lookups switch to the new generation", "generation", p.Gen)
	}
	return !last, nil
}

// Retire deletes the entries of a generation retiring for two activation
// delays (one in which writes still keep it up, one for the nodes to
// stop), a batch per transaction, resting between batches, and then
// retires it: its key is destroyed.
func (r *Rebuilder) Retire(ctx context.Context) error {
	var rows []Gen
	if err := r.View(ctx, func(ctx context.Context, tx Index) (err error) {
		rows, err = tx.BlindKeys(ctx)
		return err
	}); err != nil {
		return fmt.Errorf("reindex: retire: %w", err)
	}
	for _, g := range rows {
		if g.State != StateRetiring || r.now().Before(g.Changed.Add(2*r.activation())) {
			continue
		}
		var deleted int64
		done := false
		for !done && ctx.Err() == nil {
			t0 := time.Now()
			var n int64
			err := r.Update(ctx, func(ctx context.Context, tx Index) (err error) {
				if n, err = tx.DropIndexes(ctx, g.Gen, r.dropBatch()); err != nil || n > 0 {
					return err
				}
				retired := g
				retired.State, retired.Sealed, retired.Changed = StateRetired, nil, r.now()
				return tx.PutBlindKey(ctx, retired)
			})
			if err != nil {
				return fmt.Errorf("reindex: retire generation %d: %w", g.Gen, err)
			}
			deleted, done = deleted+n, n == 0
			if !done {
				pace.Rest(ctx, r.rest(), time.Since(t0))
			}
		}
		if done {
			r.logger().InfoContext(ctx, "blind index generation retired", "generation", g.Gen, "entries_deleted", deleted)
		}
	}
	return nil
}

// rest waits Rest times d, or until ctx ends.
// rest is Rest, or DefaultRest when 0.
func (r *Rebuilder) rest() float64 {
	if r.Rest == 0 {
		return DefaultRest
	}
	return r.Rest
}

// Run syncs, runs the pass and retires until ctx ends, looking for work
// every Tick. Errors are logged and retried at the next tick.
func (r *Rebuilder) Run(ctx context.Context) {
	tick := r.Tick
	if tick <= 0 {
		tick = DefaultTick
	}
	pace.Every(ctx, tick, r.logger(), "blind index rebuild", r.work)
}

func (r *Rebuilder) work(ctx context.Context) error {
	if err := r.Sync(ctx); err != nil {
		return err
	}
	if err := pace.Steps(ctx, r.rest(), r.Step); err != nil {
		return err
	}
	if err := r.Retire(ctx); err != nil {
		return err
	}
	// The switch or a retirement happened: load it now rather than at
	// the next tick.
	return r.Sync(ctx)
}
