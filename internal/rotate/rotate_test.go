package rotate_test

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/rotate"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetemplate"
	"github.com/coffre/coffre/internal/subject"
)

var ctx = context.Background()

// clock is a settable time, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// world is one store with subjects whose keys are wrapped under version
// 1 of seed, and what a node needs to open them.
type world struct {
	st      store.Store
	seed    []byte
	vkey    []byte
	clock   *clock
	subject map[string][]byte // subject id → a sealed field
	keys    map[string]*envelope.DataKey
}

func newWorld(t *testing.T, n int) *world {
	t.Helper()
	w := &world{seed: make([]byte, 32), vkey: make([]byte, 32), clock: &clock{t: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)},
		subject: map[string][]byte{}, keys: map[string]*envelope.DataKey{}}
	rand.Read(w.seed)
	rand.Read(w.vkey)
	ring := w.ring(t)
	st, err := sqlitetemplate.Open(ctx, filepath.Join(t.TempDir(), "coffre.db"), sqlite.Options{IDs: ring.SubjectIDs(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w.st = st
	ids, err := st.NewSubjectIDs(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		for _, id := range ids {
			dk, wrapped, err := ring.NewDEK(id)
			if err != nil {
				return err
			}
			w.keys[id], w.subject[id] = dk, dk.Seal("name", []byte("value of "+id))
			if err := tx.PutSubject(ctx, &subject.Row{ID: id, Unit: "u", DEK: wrapped, DEKVersion: 1, Fields: w.subject[id], Created: w.clock.now(), Updated: w.clock.now()}); err != nil {
				return err
			}
		}
		return tx.PutOperator(ctx, &identity.Operator{ID: "op_1", Username: "alice", PasswordHash: "x", Role: "r", Unit: "u", Created: w.clock.now(),
			TOTPSecret: ring.SealSecret(label("op_1"), []byte("totp seed"))})
	}); err != nil {
		t.Fatal(err)
	}
	return w
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func label(op string) string { return "totp:" + op }

// ring is a node's keyring as an unseal builds it: version 1 alone.
func (w *world) ring(t *testing.T) *envelope.Keyring {
	t.Helper()
	k, err := envelope.NewKeyring(map[uint32][]byte{1: append([]byte(nil), w.seed...)}, 1)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (w *world) node(t *testing.T, batch int) *rotate.Rotator {
	return &rotate.Rotator{
		Update: func(ctx context.Context, fn func(context.Context, rotate.Keys) error) error {
			return w.st.Update(ctx, func(ctx context.Context, tx store.Tx) error { return fn(ctx, tx) })
		},
		View: func(ctx context.Context, fn func(context.Context, rotate.Keys) error) error {
			return w.st.View(ctx, func(ctx context.Context, tx store.Tx) error { return fn(ctx, tx) })
		},
		Ring:        w.ring(t),
		VersionsKey: w.vkey,
		SecretLabel: label,
		Batch:       batch,
		Rest:        -1,
		Now:         w.clock.now,
		Logger:      quiet,
	}
}

// check opens every subject's key with ring and its field with the key,
// and returns the count of keys under each version.
func (w *world) check(t *testing.T, ring *envelope.Keyring) map[uint32]int {
	t.Helper()
	got := map[uint32]int{}
	if err := w.st.View(ctx, func(ctx context.Context, tx store.Tx) error {
		for id, sealed := range w.subject {
			row, err := tx.GetSubject(ctx, id)
			if err != nil {
				return err
			}
			v, _ := envelope.WrappedVersion(row.DEK)
			got[v]++
			dk, err := ring.OpenDEK(id, row.DEKVersion, row.DEK)
			if err != nil {
				return err
			}
			if pt, err := dk.Open("name", sealed); err != nil || string(pt) != "value of "+id {
				t.Fatalf("%s after the rotation: %q, %v", id, pt, err)
			}
		}
		op, err := tx.GetOperator(ctx, "op_1")
		if err != nil {
			return err
		}
		if pt, err := ring.OpenSecret(label("op_1"), op.TOTPSecret); err != nil || string(pt) != "totp seed" {
			t.Fatalf("operator secret after the rotation: %q, %v", pt, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

func steps(t *testing.T, r *rotate.Rotator, max int) int {
	t.Helper()
	n := 0
	for ; n < max; n++ {
		more, err := r.Step(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !more {
			return n + 1
		}
	}
	return n
}

// TestRotation follows one rotation from start to retirement: the new
// version wraps nothing before its activation, the pass rewraps every key
// and the operator's secret without touching a field, a second rotation
// waits for the pass, and version 1 retires once nothing is under it.
func TestRotation(t *testing.T) {
	w := newWorld(t, 25)
	r := w.node(t, 10)
	v, err := r.Rotate(ctx, r.Update)
	if err != nil || v != 2 {
		t.Fatalf("Rotate = %d, %v; want 2", v, err)
	}
	if _, err := r.Rotate(ctx, r.Update); !errors.Is(err, rotate.ErrInProgress) {
		t.Fatalf("a second rotation during the pass: %v, want ErrInProgress", err)
	}
	if n := steps(t, r, 10); n != 0+1 || r.Ring.Current() != 1 {
		t.Fatalf("before activation: %d steps, current %d; want no pass and version 1", n, r.Ring.Current())
	}
	if got := w.check(t, r.Ring); got[1] != 25 {
		t.Fatalf("keys by version before activation: %v", got)
	}
	w.clock.add(rotate.DefaultActivation)
	if err := r.Sync(ctx); err != nil || r.Ring.Current() != 2 {
		t.Fatalf("after activation: current %d, %v; want 2", r.Ring.Current(), err)
	}
	if n := steps(t, r, 100); n != 3 {
		t.Fatalf("the pass took %d batches of 10 for 25 keys, want 3", n)
	}
	if got := w.check(t, r.Ring); got[2] != 25 || len(got) != 1 {
		t.Fatalf("keys by version after the pass: %v, want all 25 under 2", got)
	}
	st, err := r.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Current != 2 || st.Rewrap == nil || st.Rewrap.Rewrapped != 26 || st.Rewrap.Remaining != 0 || st.Rewrap.Done == nil {
		t.Fatalf("status after the pass: %+v %+v", st, st.Rewrap)
	}
	if err := r.Retire(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if r.Ring.Has(1) || !r.Ring.Has(2) {
		t.Fatalf("versions after retirement: %v, want [2]", r.Ring.Versions())
	}
	st, _ = r.Status(ctx)
	if len(st.Versions) != 2 || st.Versions[0].State != rotate.StateRetired || st.Versions[1].State != rotate.StateCurrent || st.Versions[1].Keys != 26 {
		t.Fatalf("status after retirement: %+v", st.Versions)
	}
	// A restarted node (version 1 from its keyring file, the rest from the
	// store) opens everything.
	fresh := w.node(t, 10)
	if err := fresh.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if fresh.Ring.Current() != 2 || fresh.Ring.Has(1) {
		t.Fatalf("restarted node: current %d versions %v", fresh.Ring.Current(), fresh.Ring.Versions())
	}
	w.check(t, fresh.Ring)
	if v, err := r.Rotate(ctx, r.Update); err != nil || v != 3 {
		t.Fatalf("the next rotation = %d, %v; want 3", v, err)
	}
}

// TestRotationResumes stops a pass midway, as a crash would, and resumes
// it on a restarted node: the cursor carries over and no key is done
// twice.
func TestRotationResumes(t *testing.T) {
	w := newWorld(t, 40)
	r := w.node(t, 10)
	if _, err := r.Rotate(ctx, r.Update); err != nil {
		t.Fatal(err)
	}
	w.clock.add(rotate.DefaultActivation)
	if err := r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if n := steps(t, r, 2); n != 2 {
		t.Fatalf("%d steps, want 2 of the pass", n)
	}
	if got := w.check(t, r.Ring); got[1] != 20 || got[2] != 20 {
		t.Fatalf("keys by version midway: %v, want 20 and 20", got)
	}
	restarted := w.node(t, 10)
	if err := restarted.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if n := steps(t, restarted, 100); n != 3 {
		t.Fatalf("the resumed pass took %d batches, want 3 (20 keys left, then the end)", n)
	}
	st, err := restarted.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Rewrap.Rewrapped != 41 {
		t.Fatalf("rewrapped %d, want 41 (40 keys and one secret, each once)", st.Rewrap.Rewrapped)
	}
}

// TestRotationNodes runs the pass on two nodes at once, with reads and
// new subjects meanwhile: every key ends under the new version, none is
// lost, and a key wrapped under the old version by a node that lagged
// the activation sends the pass round again instead of retiring the
// version under it.
func TestRotationNodes(t *testing.T) {
	w := newWorld(t, 200)
	a, b := w.node(t, 7), w.node(t, 11)
	if _, err := a.Rotate(ctx, a.Update); err != nil {
		t.Fatal(err)
	}
	w.clock.add(rotate.DefaultActivation)
	for _, r := range []*rotate.Rotator{a, b} {
		if err := r.Sync(ctx); err != nil || r.Ring.Current() != 2 {
			t.Fatalf("sync: current %d, %v", r.Ring.Current(), err)
		}
	}
	var wg sync.WaitGroup
	for _, r := range []*rotate.Rotator{a, b} {
		wg.Go(func() { steps(t, r, 1000) })
	}
	wg.Go(func() {
		for range 20 {
			w.check(t, b.Ring)
		}
	})
	wg.Wait()
	if got := w.check(t, a.Ring); got[2] != 200 {
		t.Fatalf("keys by version after two nodes' pass: %v", got)
	}
	// A lagging node wraps a new subject's key under version 1.
	lagging := w.ring(t)
	ids, _ := w.st.NewSubjectIDs(ctx, 1)
	dk, wrapped, _ := lagging.NewDEK(ids[0])
	w.subject[ids[0]], w.keys[ids[0]] = dk.Seal("name", []byte("value of "+ids[0])), dk
	if err := w.st.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.PutSubject(ctx, &subject.Row{ID: ids[0], Unit: "u", DEK: wrapped, DEKVersion: 1, Fields: w.subject[ids[0]], Created: w.clock.now(), Updated: w.clock.now()})
	}); err != nil {
		t.Fatal(err)
	}
	if err := a.Retire(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Sync(ctx); err != nil || !a.Ring.Has(1) {
		t.Fatalf("version 1 retired with a key under it (%v)", err)
	}
	steps(t, a, 1000)
	if err := a.Retire(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Sync(ctx); err != nil || a.Ring.Has(1) {
		t.Fatalf("version 1 not retired after the second pass: %v %v", a.Ring.Versions(), err)
	}
	if got := w.check(t, a.Ring); got[2] != 201 {
		t.Fatalf("keys by version after the second pass: %v", got)
	}
}

// TestRotationWrongVersionsKey: a node whose versions key is not the
// deployment's cannot load the new version, and says so without any key
// material.
func TestRotationWrongVersionsKey(t *testing.T) {
	w := newWorld(t, 3)
	r := w.node(t, 10)
	if _, err := r.Rotate(ctx, r.Update); err != nil {
		t.Fatal(err)
	}
	other := w.node(t, 10)
	other.VersionsKey = make([]byte, 32)
	err := other.Sync(ctx)
	if err == nil || other.Ring.Has(2) {
		t.Fatalf("Sync with another versions key: %v, versions %v", err, other.Ring.Versions())
	}
}

// TestRotationDamagedKey: a key that no version opens keeps its version
// from retiring, and sends the pass round once more, not forever.
func TestRotationDamagedKey(t *testing.T) {
	w := newWorld(t, 5)
	ids, _ := w.st.NewSubjectIDs(ctx, 1)
	damaged := append([]byte{0, 0, 0, 1}, make([]byte, 60)...)
	if err := w.st.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.PutSubject(ctx, &subject.Row{ID: ids[0], Unit: "u", DEK: damaged, DEKVersion: 1, Created: w.clock.now(), Updated: w.clock.now()})
	}); err != nil {
		t.Fatal(err)
	}
	r := w.node(t, 10)
	if _, err := r.Rotate(ctx, r.Update); err != nil {
		t.Fatal(err)
	}
	w.clock.add(rotate.DefaultActivation)
	// Were the pass sent round at every Retire, the last would leave it
	// not done.
	for range 5 {
		if err := r.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		steps(t, r, 100)
		if err := r.Retire(ctx); err != nil {
			t.Fatal(err)
		}
	}
	st, err := r.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Versions[0].State != rotate.StateInUse || st.Versions[0].Keys != 1 || st.Rewrap.Done == nil || st.Rewrap.Remaining != 1 {
		t.Fatalf("status with a damaged key: %+v %+v; want version 1 in use with the one key, the pass done", st.Versions, st.Rewrap)
	}
	if st.Rewrap.Rewrapped != 6 {
		t.Errorf("rewrapped %d, want 6 (5 keys and the secret, each once)", st.Rewrap.Rewrapped)
	}
}
