package reindex_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/reindex"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/postgres"
	"github.com/coffre/coffre/internal/store/postgres/pgtest"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetemplate"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/value"
	"github.com/coffre/coffre/internal/vault"
)

var ctx = context.Background()

var (
	hr     = identity.Actor{ID: "op_hr", Role: "hr-officer", Unit: "u1", Origin: "127.0.0.1"}
	worker = identity.Actor{ID: "op_cw", Role: "caseworker", Origin: "127.0.0.1"}
	quiet  = slog.New(slog.NewTextHandler(io.Discard, nil))
)

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

// world is one SQLite store, the seeds every node unseals, and what the
// index must say: every live subject's lookup values, and values that
// must no longer be found (changed or erased).
type world struct {
	st    store.Store
	seed  []byte
	vkey  []byte
	clock *clock
	pol   *policy.Policy

	mu     sync.Mutex
	live   map[string]map[string]string // id → lookup field → value
	gone   []gone
	serial int
}

type gone struct{ field, value string }

// onStores runs test on a SQLite store and on a PostgreSQL one (skipped
// without a server: see pgtest).
func onStores(t *testing.T, test func(t *testing.T, w *world)) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) { test(t, newWorld(t, kind)) })
	}
}

func newWorld(t *testing.T, kind string) *world {
	t.Helper()
	cfg, err := config.Demo(nil)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{seed: make([]byte, envelope.SeedSize), vkey: make([]byte, 32), clock: &clock{t: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)},
		pol: cfg.Policy, live: map[string]map[string]string{}}
	rand.Read(w.seed)
	rand.Read(w.vkey)
	var st store.Store
	if kind == "postgres" {
		u := pgtest.Migrated(t, postgres.Digest(), postgres.Migrate)
		st, err = postgres.Open(ctx, u, postgres.Options{IDs: w.ring(t).SubjectIDs(), Logger: quiet})
	} else {
		st, err = sqlitetemplate.Open(ctx, filepath.Join(t.TempDir(), "coffre.db"), sqlite.Options{IDs: w.ring(t).SubjectIDs(), Logger: quiet})
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w.st = st
	return w
}

// ring is a node's keyring as an unseal builds it: version 1, blind
// index generation 1.
func (w *world) ring(t *testing.T) *envelope.Keyring {
	t.Helper()
	k, err := envelope.NewKeyring(map[uint32][]byte{1: append([]byte(nil), w.seed...)}, 1)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// node is one server: its keyring, its vault and its rebuilder, on the
// shared store.
type node struct {
	ring *envelope.Keyring
	v    *vault.Vault
	rb   *reindex.Rebuilder
}

func (w *world) node(t *testing.T, batch int) *node {
	ring := w.ring(t)
	// A change of a contact field takes effect at the next pass
	// (changeEmail runs it at once): what is tested is its index writes
	// racing the rebuild.
	v := vault.New(vault.Config{Store: w.st, Keys: ring, Policy: w.pol, Logger: quiet, ContactCoolingOff: time.Nanosecond})
	rb := &reindex.Rebuilder{
		Update: func(ctx context.Context, fn func(context.Context, reindex.Index) error) error {
			return w.st.Update(ctx, func(ctx context.Context, tx store.Tx) error { return fn(ctx, tx) })
		},
		View: func(ctx context.Context, fn func(context.Context, reindex.Index) error) error {
			return w.st.View(ctx, func(ctx context.Context, tx store.Tx) error { return fn(ctx, tx) })
		},
		Ring: ring, VersionsKey: w.vkey, Hashes: v.IndexHashes,
		Batch: batch, DropBatch: 7, Rest: -1, Now: w.clock.now, Logger: quiet,
	}
	return &node{ring: ring, v: v, rb: rb}
}

func (n *node) sync(t *testing.T) {
	t.Helper()
	if err := n.rb.Sync(ctx); err != nil {
		t.Fatal(err)
	}
}

// create makes person i on node n.
func (w *world) create(t *testing.T, n *node, i int) string {
	t.Helper()
	p := synth.Make(11, i)
	id, err := n.v.Create(ctx, hr, p.Unit, p.Fields)
	if err != nil {
		t.Errorf("create %d: %v", i, err)
		return ""
	}
	vals := map[string]string{}
	for _, f := range w.pol.LookupFields() {
		if v, ok := p.Fields[f]; ok {
			vals[f] = v
		}
	}
	w.mu.Lock()
	w.live[id] = vals
	w.mu.Unlock()
	return id
}

// changeEmail gives id a new email_pro on node n.
func (w *world) changeEmail(t *testing.T, n *node, id string) {
	t.Helper()
	w.mu.Lock()
	w.serial++
	next := fmt.Sprintf("changed.%d@example.org", w.serial)
	w.mu.Unlock()
	if _, err := n.v.Update(ctx, worker, id, "case-update", "ticket 7", map[string]*string{"email_pro": &next}); err != nil {
		t.Errorf("update %s: %v", id, err)
		return
	}
	if _, err := n.v.ApplyContactChanges(ctx, 100); err != nil {
		t.Errorf("apply the change of %s: %v", id, err)
		return
	}
	w.mu.Lock()
	w.gone = append(w.gone, gone{"email_pro", w.live[id]["email_pro"]})
	w.live[id]["email_pro"] = next
	w.mu.Unlock()
}

// erase erases id on node n.
func (w *world) erase(t *testing.T, n *node, id string) {
	t.Helper()
	if err := n.v.Erase(ctx, hr, id, "art. 17 request"); err != nil {
		t.Errorf("erase %s: %v", id, err)
		return
	}
	w.mu.Lock()
	for f, v := range w.live[id] {
		w.gone = append(w.gone, gone{f, v})
	}
	delete(w.live, id)
	w.mu.Unlock()
}

// values counts the live lookup values: the entries a generation holds.
func (w *world) values() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	var n int64
	for _, vals := range w.live {
		n += int64(len(vals))
	}
	return n
}

func (w *world) norm(field, v string) string {
	f, _ := w.pol.Field(field)
	return value.Normalize(f.Type, v)
}

// checkGen looks every live value up under generation gen (which n's
// keyring holds), straight in the index: each finds its subject, and
// no changed or erased value finds anyone.
func (w *world) checkGen(t *testing.T, n *node, gen uint32) {
	t.Helper()
	b := n.ring.Blind()
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.st.View(ctx, func(ctx context.Context, tx store.Tx) error {
		for id, vals := range w.live {
			for f, v := range vals {
				h, err := b.Hash(gen, f, w.norm(f, v))
				if err != nil {
					return err
				}
				if got, err := tx.LookupIndex(ctx, h); err != nil || got != id {
					t.Errorf("generation %d: %s of %s finds %q, %v", gen, f, id, got, err)
				}
			}
		}
		for _, g := range w.gone {
			h, err := b.Hash(gen, g.field, w.norm(g.field, g.value))
			if err != nil {
				return err
			}
			if got, err := tx.LookupIndex(ctx, h); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("generation %d: a changed or erased %s finds %q, %v", gen, g.field, got, err)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// checkLookups looks every live subject up through n's vault, as a
// caller does: every lookup field by the generation n looks up with
// (Keyring.BlindIndex), and email_pro and phone by Vault.Lookup.
func (w *world) checkLookups(t *testing.T, n *node) {
	t.Helper()
	w.mu.Lock()
	live := map[string]map[string]string{}
	for id, vals := range w.live {
		live[id] = vals
	}
	w.mu.Unlock()
	if err := w.st.View(ctx, func(ctx context.Context, tx store.Tx) error {
		for id, vals := range live {
			for f, v := range vals {
				if got, err := tx.LookupIndex(ctx, n.ring.BlindIndex(f, w.norm(f, v))); err != nil || got != id {
					t.Errorf("generation %d: %s of %s finds %q, %v", n.ring.Blind().Active(), f, id, got, err)
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for id, vals := range live {
		for f, purpose := range map[string]string{"email_pro": "directory", "phone": "case-handling"} {
			v, ok := vals[f]
			if !ok {
				continue
			}
			if got, err := n.v.Lookup(ctx, worker, purpose, "", f, v); err != nil || got != id {
				t.Errorf("Lookup(%s) of %s = %q, %v", f, id, got, err)
			}
		}
	}
}

func (w *world) gens(t *testing.T) map[uint32]int64 {
	t.Helper()
	var counts map[uint32]int64
	if err := w.st.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
		counts, err = tx.IndexGens(ctx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return counts
}

func steps(t *testing.T, r *reindex.Rebuilder, max int) int {
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

func states(st *reindex.Status) []string {
	var out []string
	for _, g := range st.Generations {
		out = append(out, fmt.Sprintf("%d:%s", g.Gen, g.State))
	}
	return out
}

// TestRebuild follows one rebuild from start to retirement on two nodes,
// with subjects created, changed and erased before the pass, behind its
// cursor and ahead of it: after the switch every live subject is found
// by every lookup value under the new generation and nothing changed or
// erased is; a node that has not switched yet still finds everyone under
// the old one; after the delay the old entries are gone; and a restarted
// node looks up under the new generation.
func TestRebuild(t *testing.T) { onStores(t, testRebuild) }

func testRebuild(t *testing.T, w *world) {
	a, b := w.node(t, 10), w.node(t, 10)
	var ids []string
	for i := range 30 {
		ids = append(ids, w.create(t, a, i))
	}
	gen, err := a.rb.Rebuild(ctx, a.rb.Update)
	if err != nil || gen != 2 {
		t.Fatalf("Rebuild = %d, %v; want 2", gen, err)
	}
	if _, err := b.rb.Rebuild(ctx, b.rb.Update); !errors.Is(err, reindex.ErrInProgress) {
		t.Fatalf("a second rebuild during the first: %v, want ErrInProgress", err)
	}
	b.sync(t)
	for _, n := range []*node{a, b} {
		if bl := n.ring.Blind(); bl.Active() != 1 || bl.Also() != 2 {
			t.Fatalf("building: active %d, also %d; want 1 and 2", bl.Active(), bl.Also())
		}
	}
	if n := steps(t, a.rb, 10); n != 1 || w.gens(t)[2] != 0 {
		t.Fatalf("before the activation delay: %d steps, %d entries; want no pass", n, w.gens(t)[2])
	}
	// Writes while building, before the pass.
	ids = append(ids, w.create(t, b, 30), w.create(t, a, 31))
	w.changeEmail(t, b, ids[0])
	w.erase(t, a, ids[1])
	w.checkLookups(t, a) // lookups stay on generation 1

	w.clock.add(reindex.DefaultActivation)
	a.sync(t)
	b.sync(t)
	if n := steps(t, a.rb, 2); n != 2 {
		t.Fatalf("%d steps, want 2 of the pass", n)
	}
	// Writes during the pass, behind the cursor and ahead of it.
	w.changeEmail(t, a, ids[2])
	w.changeEmail(t, b, ids[25])
	w.erase(t, b, ids[3])
	w.erase(t, a, ids[26])
	ids = append(ids, w.create(t, b, 32))
	if n := steps(t, b.rb, 100); n != 2 {
		t.Fatalf("the rest of the pass took %d batches, want 2", n)
	}

	st, err := a.rb.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Active != 2 || !slices.Equal(states(st), []string{"1:retiring", "2:active"}) || st.Rebuild == nil || st.Rebuild.Done == nil {
		t.Fatalf("status after the pass: %+v %v", st, states(st))
	}
	// A node that has not synced since the switch still looks up with
	// generation 1, which writes keep up for the activation delay.
	lagging := w.node(t, 10)
	a.sync(t)
	b.sync(t)
	for _, n := range []*node{a, b} {
		if bl := n.ring.Blind(); bl.Active() != 2 || bl.Also() != 1 {
			t.Fatalf("switched: active %d, also %d; want 2 and 1", bl.Active(), bl.Also())
		}
	}
	ids = append(ids, w.create(t, a, 33))
	w.changeEmail(t, b, ids[4])
	w.checkGen(t, a, 2)
	w.checkGen(t, a, 1)
	w.checkLookups(t, a)
	w.checkLookups(t, lagging)
	if got := w.gens(t); got[1] != w.values() || got[2] != w.values() {
		t.Fatalf("entries by generation %v, want %d in each", got, w.values())
	}

	// After the delay: writes leave generation 1, then its entries go.
	w.clock.add(reindex.DefaultActivation)
	a.sync(t)
	if a.ring.Blind().Also() != 0 {
		t.Fatal("writes still keep generation 1 up after the delay")
	}
	if err := a.rb.Retire(ctx); err != nil || w.gens(t)[1] == 0 {
		t.Fatalf("generation 1 deleted before its second delay (%v)", err)
	}
	w.clock.add(reindex.DefaultActivation)
	if err := a.rb.Retire(ctx); err != nil {
		t.Fatal(err)
	}
	if got := w.gens(t); len(got) != 1 || got[2] != w.values() {
		t.Fatalf("entries by generation after retirement %v, want only %d of generation 2", got, w.values())
	}
	a.sync(t)
	if g := a.ring.BlindGens(); !slices.Equal(g, []uint32{2}) {
		t.Fatalf("generations in a's keyring %v, want [2]", g)
	}
	w.checkLookups(t, a)

	// A restarted node: generation 1 from its seed, the rest from the
	// store.
	fresh := w.node(t, 10)
	fresh.sync(t)
	if bl := fresh.ring.Blind(); bl.Active() != 2 || bl.Also() != 0 || !slices.Equal(fresh.ring.BlindGens(), []uint32{2}) {
		t.Fatalf("restarted node: active %d also %d generations %v", bl.Active(), bl.Also(), fresh.ring.BlindGens())
	}
	w.checkLookups(t, fresh)
	w.checkGen(t, fresh, 2)
	st, _ = fresh.rb.Status(ctx)
	if !slices.Equal(states(st), []string{"1:retired", "2:active"}) || st.Generations[1].Entries != w.values() {
		t.Fatalf("status after retirement: %v, %+v", states(st), st.Generations)
	}
	if g, err := fresh.rb.Rebuild(ctx, fresh.rb.Update); err != nil || g != 3 {
		t.Fatalf("the next rebuild = %d, %v; want 3", g, err)
	}
}

// TestRebuildResumes stops a pass midway, as a crash would, and resumes
// it on a restarted node: the cursor carries over, no entry is added
// twice, and the index is whole.
func TestRebuildResumes(t *testing.T) { onStores(t, testRebuildResumes) }

func testRebuildResumes(t *testing.T, w *world) {
	a := w.node(t, 10)
	for i := range 40 {
		w.create(t, a, i)
	}
	if _, err := a.rb.Rebuild(ctx, a.rb.Update); err != nil {
		t.Fatal(err)
	}
	w.clock.add(reindex.DefaultActivation)
	a.sync(t)
	if n := steps(t, a.rb, 2); n != 2 {
		t.Fatalf("%d steps, want 2", n)
	}
	midway := w.gens(t)[2]
	if midway == 0 || midway >= w.values() {
		t.Fatalf("%d entries midway, want some of %d", midway, w.values())
	}
	restarted := w.node(t, 10)
	restarted.sync(t)
	if bl := restarted.ring.Blind(); bl.Active() != 1 || bl.Also() != 2 {
		t.Fatalf("restarted node during the build: active %d also %d", bl.Active(), bl.Also())
	}
	if n := steps(t, restarted.rb, 100); n != 3 {
		t.Fatalf("the resumed pass took %d batches, want 3 (20 subjects left, then the end)", n)
	}
	st, err := restarted.rb.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Active != 2 || st.Rebuild.Added != w.values() {
		t.Fatalf("after the resumed pass: active %d, added %d; want 2 and %d (each entry once)", st.Active, st.Rebuild.Added, w.values())
	}
	restarted.sync(t)
	w.checkGen(t, restarted, 2)
	w.checkLookups(t, restarted)
}

// TestRebuildNodes runs the pass on two nodes at once while a third
// goroutine creates, changes and erases subjects through both nodes and
// a fourth looks them up: the new generation ends exact, with one entry
// per live value.
func TestRebuildNodes(t *testing.T) { onStores(t, testRebuildNodes) }

func testRebuildNodes(t *testing.T, w *world) {
	a, b := w.node(t, 7), w.node(t, 11)
	var ids []string
	for i := range 120 {
		ids = append(ids, w.create(t, a, i))
	}
	if _, err := a.rb.Rebuild(ctx, a.rb.Update); err != nil {
		t.Fatal(err)
	}
	b.sync(t)
	w.clock.add(reindex.DefaultActivation)
	a.sync(t)
	b.sync(t)
	var wg sync.WaitGroup
	for _, n := range []*node{a, b} {
		wg.Go(func() { steps(t, n.rb, 1000) })
	}
	wg.Go(func() {
		for i := range 30 {
			n := []*node{a, b}[i%2]
			switch i % 3 {
			case 0:
				w.create(t, n, 1000+i)
			case 1:
				w.changeEmail(t, n, ids[i*3])
			case 2:
				w.erase(t, n, ids[i*3+1])
			}
		}
	})
	wg.Go(func() {
		for i := range 60 {
			w.mu.Lock()
			vals, ok := w.live[ids[i]]
			email := vals["email_pro"]
			w.mu.Unlock()
			if !ok {
				continue
			}
			// A concurrent change may move it: only a lookup that
			// fails for another reason than not found is an error.
			if _, err := b.v.Lookup(ctx, worker, "directory", "", "email_pro", email); err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Errorf("lookup during the pass: %v", err)
			}
		}
	})
	wg.Wait()
	if t.Failed() {
		return
	}
	a.sync(t)
	if a.ring.Blind().Active() != 2 {
		t.Fatalf("active %d after both passes, want 2", a.ring.Blind().Active())
	}
	w.checkGen(t, a, 2)
	if got := w.gens(t); got[2] != w.values() {
		t.Fatalf("generation 2 holds %d entries, want %d (one per live value)", got[2], w.values())
	}
	w.checkLookups(t, b)
}

// TestRebuildWrongVersionsKey: a node whose versions key is not the
// deployment's cannot load the new generation, and says so without any
// key material.
func TestRebuildWrongVersionsKey(t *testing.T) { onStores(t, testRebuildWrongVersionsKey) }

func testRebuildWrongVersionsKey(t *testing.T, w *world) {
	a := w.node(t, 10)
	if _, err := a.rb.Rebuild(ctx, a.rb.Update); err != nil {
		t.Fatal(err)
	}
	other := w.node(t, 10)
	other.rb.VersionsKey = make([]byte, 32)
	if err := other.rb.Sync(ctx); err == nil || slices.Contains(other.ring.BlindGens(), 2) {
		t.Fatalf("Sync with another versions key: %v, generations %v", err, other.ring.BlindGens())
	}
}
