// Package rotate rotates the root key. A rotation adds a root key
// version, sealed in the store under the versions key (which the unseal
// key, or the development key file, yields), so that every node of a
// deployment finds it; after an activation delay every node wraps new
// keys under it; then a background pass rewraps every subject's data key
// and every operator's sealed secret under it, a batch at a time,
// resumably (the pass's cursor is committed with each batch, so a crash
// or a restart resumes where it stopped). No field is re-encrypted: a
// field's ciphertext is bound to its DEK, which does not change.
//
// Once the pass is done and nothing is left wrapped under an older
// version, that version retires: its KEK leaves every node's keyring
// and, for a version made by a rotation, its sealed seed is destroyed.
// The first version's seed stays in the keyring file: the keys that
// cannot rotate (blind index, subject ids, sector pseudonyms) derive from
// it; only its KEK retires.
//
// # Nodes
//
// Each node runs [Rotator.Run]: it loads the versions other nodes added
// ([Rotator.Sync]), takes its turn at the pass (batches are claimed with
// a compare-and-swap on the cursor, and each key is rewrapped only if it
// is still the one read), and retires versions. A node whose clock or
// tick lags the activation delay may wrap a few new keys under the older
// version; the count after the pass finds them and the pass starts
// again, so a version never retires with keys under it.
package rotate

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/keyset"
	"github.com/coffre/coffre/internal/pace"
)

// Errors callers branch on.
var (
	// ErrInProgress is returned by [Rotator.Rotate] while the previous
	// rotation's pass has not finished.
	ErrInProgress = errors.New("a rotation is still rewrapping keys")
	// errMoved rolls back a batch another node committed first.
	errMoved = errors.New("the rewrap cursor moved")
)

// TxFunc runs fn in a store transaction (read-write for an update).
type TxFunc func(ctx context.Context, fn func(context.Context, Keys) error) error

// Defaults of a [Rotator].
const (
	DefaultBatch      = 500
	DefaultActivation = 2 * time.Second
	DefaultTick       = time.Second
	// DefaultRest: see Rotator.Rest. With 1 (busy half the time), reads
	// kept 75% of their rate during a rotation of 1M keys at 32 readers;
	// docs/benchmarks.md has the figures with 2.
	DefaultRest = 2.0
)

// Rotator adds root key versions and runs the rewrap pass for one node.
type Rotator struct {
	Update, View TxFunc
	// Ring is the node's keyring: versions are added to it, made current
	// and retired.
	Ring *envelope.Keyring
	// VersionsKey seals the seeds of the versions a rotation adds.
	VersionsKey []byte
	// SecretLabel is the label an operator's secret was sealed with
	// (envelope.Keyring.SealSecret).
	SecretLabel func(operator string) string
	// Batch is how many keys one transaction rewraps (DefaultBatch).
	Batch int
	// Activation is how long after its creation a version starts to wrap
	// new keys, time enough for every node to load it
	// (DefaultActivation).
	Activation time.Duration
	// Rest is how long the pass rests after each batch, as a multiple of
	// the batch's time: DefaultRest keeps the pass busy at most a third
	// of the time, so that reads keep most of the store's writer (0 means
	// DefaultRest; negative, no rest).
	Rest float64
	// Tick is how often Run looks for work (DefaultTick).
	Tick   time.Duration
	Now    func() time.Time
	Logger *slog.Logger

	// restartedAt is the newest version's rewrapped count when Retire
	// last sent its pass round again: a pass that then rewraps nothing
	// more met keys that no version opens (damage), and going round again
	// would not help. Run's goroutine alone touches it.
	restartedAt map[uint32]int64
}

func (r *Rotator) batch() int {
	if r.Batch <= 0 {
		return DefaultBatch
	}
	return r.Batch
}

func (r *Rotator) activation() time.Duration {
	if r.Activation <= 0 {
		return DefaultActivation
	}
	return r.Activation
}

func (r *Rotator) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}

func (r *Rotator) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.Default()
	}
	return r.Logger
}

// seedLabel binds a sealed seed to its version (keyset.SealVersion).
const seedLabel = "coffre/rootkey/v1"

func (r *Rotator) sealSeed(v uint32, seed []byte) ([]byte, error) {
	return keyset.SealVersion(r.VersionsKey, seedLabel, v, seed)
}

func (r *Rotator) openSeed(v uint32, sealed []byte) ([]byte, error) {
	seed, err := keyset.OpenVersion(r.VersionsKey, seedLabel, v, sealed)
	if err != nil {
		return nil, fmt.Errorf("root key version %d: %w", v, err)
	}
	return seed, nil
}

// Rotate adds a root key version in a transaction of run (the caller's,
// which audits the rotation in it) and to the node's keyring; it wraps
// new keys once the activation delay has passed, and Run's pass rewraps
// the others. It returns the new version, or ErrInProgress.
func (r *Rotator) Rotate(ctx context.Context, run TxFunc) (uint32, error) {
	if err := r.Sync(ctx); err != nil {
		return 0, err
	}
	seed := make([]byte, envelope.SeedSize)
	rand.Read(seed)
	defer clear(seed)
	var added uint32
	err := run(ctx, func(ctx context.Context, tx Keys) error {
		rows, err := tx.RootKeys(ctx)
		if err != nil {
			return err
		}
		known := map[uint32]bool{}
		var top uint32
		for _, row := range rows {
			known[row.Version] = true
			top = max(top, row.Version)
			if row.Retired.IsZero() && row.Done.IsZero() {
				return fmt.Errorf("version %d: %w", row.Version, ErrInProgress)
			}
		}
		// The first rotation records the versions of the keyring file, so
		// that their retirement has a row.
		for _, v := range r.Ring.Versions() {
			top = max(top, v)
			if !known[v] {
				if err := tx.PutRootKey(ctx, Version{Version: v, Done: r.now()}); err != nil {
					return err
				}
			}
		}
		added = top + 1
		sealed, err := r.sealSeed(added, seed)
		if err != nil {
			return err
		}
		return tx.PutRootKey(ctx, Version{Version: added, Sealed: sealed, Created: r.now()})
	})
	if err != nil {
		return 0, err
	}
	if err := r.Ring.AddVersion(added, seed); err != nil {
		return 0, err
	}
	r.logger().InfoContext(ctx, "root key version added", "version", added, "active_in", r.activation().String())
	return added, nil
}

// Sync brings the node's keyring in line with the store: it loads the
// versions other nodes added, makes the newest active one current, and
// drops retired ones.
func (r *Rotator) Sync(ctx context.Context) error {
	var rows []Version
	if err := r.View(ctx, func(ctx context.Context, tx Keys) (err error) {
		rows, err = tx.RootKeys(ctx)
		return err
	}); err != nil {
		return fmt.Errorf("root key versions: %w", err)
	}
	newest := r.Ring.Current()
	for _, row := range rows {
		if !row.Retired.IsZero() {
			continue
		}
		if !r.Ring.Has(row.Version) {
			if row.Sealed == nil {
				return fmt.Errorf("root key version %d is in use but its seed is not in the store nor the keyring", row.Version)
			}
			seed, err := r.openSeed(row.Version, row.Sealed)
			if err != nil {
				return err
			}
			err = r.Ring.AddVersion(row.Version, seed)
			clear(seed)
			if err != nil {
				return err
			}
		}
		if row.Version > newest && !r.now().Before(row.Created.Add(r.activation())) {
			newest = row.Version
		}
	}
	if newest != r.Ring.Current() {
		if err := r.Ring.SetCurrent(newest); err != nil {
			return err
		}
		r.logger().InfoContext(ctx, "root key version current", "version", newest)
	}
	for _, row := range rows {
		if !row.Retired.IsZero() && row.Version != r.Ring.Current() {
			if err := r.Ring.Retire(row.Version); err != nil {
				return err
			}
		}
	}
	return nil
}

// pass returns the version whose pass is under way, if any: the newest
// version, once current here, not done.
func pass(rows []Version, current uint32) (Version, bool) {
	if len(rows) == 0 {
		return Version{}, false
	}
	last := rows[len(rows)-1]
	return last, last.Version == current && last.Done.IsZero() && last.Retired.IsZero()
}

// Step rewraps one batch of the pass under way and reports whether more
// is left. The batch is read and rewrapped outside the write, which
// changes each key only if it is still the one read, and moves the cursor
// only if no other node moved it first.
func (r *Rotator) Step(ctx context.Context) (more bool, err error) {
	var rows []Version
	var batch []Wrapped
	if err := r.View(ctx, func(ctx context.Context, tx Keys) (err error) {
		if rows, err = tx.RootKeys(ctx); err != nil {
			return err
		}
		if p, ok := pass(rows, r.Ring.Current()); ok {
			batch, err = tx.WrappedKeys(ctx, p.Cursor, r.batch())
		}
		return err
	}); err != nil {
		return false, fmt.Errorf("rewrap: %w", err)
	}
	p, ok := pass(rows, r.Ring.Current())
	if !ok {
		return false, nil
	}
	type change struct {
		seq      int64
		old, new []byte
	}
	changes := make([]change, 0, len(batch))
	for _, w := range batch {
		if v, err := envelope.WrappedVersion(w.Key); err == nil && v == p.Version {
			continue
		}
		nw, err := r.Ring.Rewrap(w.Subject, w.Key)
		if err != nil {
			// A key no version opens is damage, not work for the pass:
			// it is counted by KeyVersions and keeps its version from
			// retiring.
			r.logger().ErrorContext(ctx, "rewrap: a data key does not open", "seq", w.Seq, "error", err)
			continue
		}
		changes = append(changes, change{w.Seq, w.Key, nw})
	}
	last := len(batch) < r.batch()
	err = r.Update(ctx, func(ctx context.Context, tx Keys) error {
		rows, err := tx.RootKeys(ctx)
		if err != nil {
			return err
		}
		cur, ok := pass(rows, p.Version)
		if !ok || cur.Version != p.Version || cur.Cursor != p.Cursor {
			return errMoved
		}
		var n int64
		for _, c := range changes {
			done, err := tx.RewrapKey(ctx, c.seq, c.old, c.new)
			if err != nil {
				return err
			}
			if done {
				n++
			}
		}
		if len(batch) > 0 {
			cur.Cursor = batch[len(batch)-1].Seq
		}
		cur.Rewrapped += n
		if last {
			m, err := r.rewrapSecrets(ctx, tx, p.Version)
			if err != nil {
				return err
			}
			cur.Rewrapped += m
			cur.Done = r.now()
		}
		return tx.PutRootKey(ctx, cur)
	})
	switch {
	case errors.Is(err, errMoved):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("rewrap: %w", err)
	}
	if last {
		r.logger().InfoContext(ctx, "rewrap pass done", "version", p.Version)
	}
	return !last, nil
}

func (r *Rotator) rewrapSecrets(ctx context.Context, tx Keys, current uint32) (int64, error) {
	secrets, err := tx.WrappedSecrets(ctx)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, s := range secrets {
		if v, err := envelope.WrappedVersion(s.Sealed); err == nil && v == current {
			continue
		}
		ns, err := r.Ring.RewrapSecret(r.SecretLabel(s.Operator), s.Sealed)
		if err != nil {
			r.logger().ErrorContext(ctx, "rewrap: an operator secret does not open", "operator", s.Operator, "error", err)
			continue
		}
		ok, err := tx.RewrapSecret(ctx, s.Operator, s.Sealed, ns)
		if err != nil {
			return 0, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

// Retire retires every older version with nothing left under it, once
// the pass of the newest is done. When keys are still wrapped under an
// older version (a node that lagged the activation), it starts the pass
// again instead.
func (r *Rotator) Retire(ctx context.Context) error {
	var rows []Version
	var counts map[uint32]int64
	if err := r.View(ctx, func(ctx context.Context, tx Keys) (err error) {
		if rows, err = tx.RootKeys(ctx); err != nil || len(rows) == 0 {
			return err
		}
		if last := rows[len(rows)-1]; last.Done.IsZero() || !r.pending(rows) {
			rows = nil
			return nil
		}
		counts, err = tx.KeyVersions(ctx)
		return err
	}); err != nil || len(rows) == 0 {
		return err
	}
	newest := rows[len(rows)-1]
	var retire []Version
	again := false
	for _, row := range rows[:len(rows)-1] {
		switch {
		case !row.Retired.IsZero():
		case counts[row.Version] > 0:
			again = true
		default:
			row.Retired, row.Sealed = r.now(), nil
			retire = append(retire, row)
		}
	}
	if again {
		if n, ok := r.restartedAt[newest.Version]; ok && n == newest.Rewrapped {
			// The last pass round rewrapped nothing: what is left does
			// not open (damage); another round would not help.
			r.logger().ErrorContext(ctx, "keys under older versions do not open: they keep those versions from retiring", "version", newest.Version)
			again = false
		} else {
			if r.restartedAt == nil {
				r.restartedAt = map[uint32]int64{}
			}
			r.restartedAt[newest.Version] = newest.Rewrapped
			newest.Cursor, newest.Done = 0, time.Time{}
		}
	}
	if len(retire) == 0 && !again {
		return nil
	}
	if err := r.Update(ctx, func(ctx context.Context, tx Keys) error {
		for _, row := range retire {
			if err := tx.PutRootKey(ctx, row); err != nil {
				return err
			}
		}
		if again {
			return tx.PutRootKey(ctx, newest)
		}
		return nil
	}); err != nil {
		return err
	}
	for _, row := range retire {
		r.logger().InfoContext(ctx, "root key version retired", "version", row.Version)
	}
	if again {
		r.logger().InfoContext(ctx, "keys left under older versions: rewrap pass again", "version", newest.Version)
	}
	return nil
}

// pending reports whether an older version is still not retired.
func (r *Rotator) pending(rows []Version) bool {
	for _, row := range rows[:len(rows)-1] {
		if row.Retired.IsZero() {
			return true
		}
	}
	return false
}

// Run syncs, rewraps and retires until ctx ends, looking for work every
// Tick. Errors are logged and retried at the next tick.
func (r *Rotator) Run(ctx context.Context) {
	tick := r.Tick
	if tick <= 0 {
		tick = DefaultTick
	}
	pace.Every(ctx, tick, r.logger(), "key rotation", r.work)
}

func (r *Rotator) work(ctx context.Context) error {
	if err := r.Sync(ctx); err != nil {
		return err
	}
	rest := r.Rest
	if rest == 0 {
		rest = DefaultRest
	}
	if err := pace.Steps(ctx, rest, r.Step); err != nil {
		return err
	}
	return r.Retire(ctx)
}
