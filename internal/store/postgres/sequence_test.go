package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/store"
)

// openNodes opens n stores on one database, as n servers would.
func openNodes(t *testing.T, pgURL string, n int) []*Store {
	t.Helper()
	var out []*Store
	for range n {
		s, err := Open(context.Background(), pgURL, Options{IDs: testIDs(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		out = append(out, s)
	}
	return out
}

// checkLog waits until the log holds every entry of want (the stores
// release the numbers they hold when idle), then reads it and fails the
// test unless it is numbered 1…n without a gap or a repeat and holds
// exactly the entries want names (by actor), each at the seq it was
// given, and voids. It returns the number of voids.
func checkLog(t *testing.T, s *Store, want map[string]int64) int {
	t.Helper()
	ctx := context.Background()
	var es []audit.Entry
	var top int64
	for _, seq := range want {
		top = max(top, seq)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		err := s.View(ctx, func(ctx context.Context, tx store.Tx) error {
			var err error
			es, err = tx.AuditEntries(ctx, 1, 1<<40, 1<<20)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(es)) >= top || time.Now().After(deadline) {
			break
		}
	}
	seen := map[string]bool{}
	voids := 0
	for i, e := range es {
		if e.Seq != int64(i+1) {
			t.Fatalf("entry %d of the log has seq %d: a gap or a repeat", i+1, e.Seq)
		}
		if e.Action == VoidAction {
			voids++
			continue
		}
		if seen[e.Actor] {
			t.Fatalf("entry %q is in the log twice", e.Actor)
		}
		seen[e.Actor] = true
		seq, ok := want[e.Actor]
		if !ok {
			t.Fatalf("entry %q (seq %d) is in the log, but its transaction failed", e.Actor, e.Seq)
		}
		if seq != e.Seq {
			t.Fatalf("entry %q was given seq %d, is at %d", e.Actor, seq, e.Seq)
		}
	}
	if len(es)-voids != len(want) {
		t.Fatalf("the log holds %d entries and %d voids, want %d entries", len(es)-voids, voids, len(want))
	}
	var last int64
	err := s.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
		last, err = tx.LastAuditSeq(ctx)
		return err
	})
	if err != nil || last != int64(len(es)) {
		t.Fatalf("LastAuditSeq: %d, %v; the log holds %d entries", last, err, len(es))
	}
	return voids
}

// TestTwoServersAppendGapFree runs two stores on one database, as two
// servers behind a load balancer, appending from many goroutines at once,
// one to three entries per call, a tenth of the calls failing after their
// appends (rolled back alone, in the group's savepoints): the log must
// hold every committed entry once, at the seq its call was given, and no
// other, numbered without a gap.
func TestTwoServersAppendGapFree(t *testing.T) {
	nodes := openNodes(t, migratedDB(t), 2)
	ctx := context.Background()
	boom := errors.New("boom")
	const calls = 400
	var mu sync.Mutex
	want := map[string]int64{}
	var wg sync.WaitGroup
	for i := range calls {
		s := nodes[i%2]
		wg.Go(func() {
			var got []*audit.Entry
			err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
				got = got[:0]
				for j := range 1 + i%3 {
					e := &audit.Entry{Actor: fmt.Sprintf("op_%d_%d", i, j), Action: "read", Decision: "allow"}
					if err := tx.AppendAudit(ctx, e); err != nil {
						return err
					}
					got = append(got, e)
				}
				if i%10 == 7 {
					return boom
				}
				return nil
			})
			if i%10 == 7 {
				if !errors.Is(err, boom) {
					t.Errorf("call %d: %v, want boom", i, err)
				}
				return
			}
			if err != nil {
				t.Errorf("call %d: %v", i, err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, e := range got {
				want[e.Actor] = e.Seq
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	t.Logf("%d voids", checkLog(t, nodes[0], want))
}

// TestKilledServerLeavesNoGap kills a server in the middle of a group:
// its group has appended an entry (and holds whatever the numbering
// takes) when its connection to PostgreSQL is terminated, as when its
// machine dies. The other server, appending all along, must go on, and
// the log must be gap-free, without the dead group's entry; the first
// server, its pool reconnected, appends after it.
func TestKilledServerLeavesNoGap(t *testing.T) {
	pgURL := migratedDB(t)
	nodes := openNodes(t, pgURL, 2)
	ctx := context.Background()
	want := map[string]int64{}
	var mu sync.Mutex
	appendOne := func(s *Store, actor string) error {
		e := &audit.Entry{Actor: actor, Action: "read", Decision: "allow"}
		err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.AppendAudit(ctx, e) })
		if err == nil {
			mu.Lock()
			want[actor] = e.Seq
			mu.Unlock()
		}
		return err
	}
	for i := range 5 {
		if err := appendOne(nodes[i%2], fmt.Sprintf("before_%d", i)); err != nil {
			t.Fatal(err)
		}
	}

	// The victim: a group on node 0 that appends, reports its backend,
	// and waits to be killed before it can commit.
	pid := make(chan uint32, 1)
	killed := make(chan struct{})
	victim := make(chan error, 1)
	go func() {
		victim <- nodes[0].Update(ctx, func(ctx context.Context, stx store.Tx) error {
			if err := stx.AppendAudit(ctx, &audit.Entry{Actor: "victim", Action: "read", Decision: "allow"}); err != nil {
				return err
			}
			var p uint32
			if err := stx.(*tx).q.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&p); err != nil {
				return err
			}
			pid <- p
			<-killed
			return nil
		})
	}()
	p := <-pid

	// Node 1 appends while the victim's group is open, and after.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := appendOne(nodes[1], fmt.Sprintf("during_%d", i)); err != nil {
				t.Errorf("node 1, during: %v", err)
				return
			}
		}
	})
	time.Sleep(100 * time.Millisecond)
	conn, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_terminate_backend($1)`, p).Scan(&ok); err != nil || !ok {
		t.Fatalf("terminate the victim's backend: %v, %v", ok, err)
	}
	close(killed)
	if err := <-victim; err == nil {
		t.Fatal("the victim's group committed after its connection was killed")
	}
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()
	for i := range 5 {
		if err := appendOne(nodes[i%2], fmt.Sprintf("after_%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	checkLog(t, nodes[0], want)
}

// die stops s as a machine's death would: its writer and sequencing loop
// stop and its connections close, without releasing the audit numbers it
// holds (Close would).
func (s *Store) die() {
	s.closed.Do(func() {
		s.q.Stop()
		s.stop()
		<-s.done
		s.pool.Close()
	})
}

// openQuick opens n stores on pgURL with a short lease and a fast
// sequencer.
func openQuick(t *testing.T, pgURL string, n int, lease time.Duration) []*Store {
	t.Helper()
	var out []*Store
	for range n {
		s, err := Open(context.Background(), pgURL, Options{IDs: testIDs(t), AuditLease: lease, SequencerEvery: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		out = append(out, s)
	}
	return out
}

// leader waits for one of stores to lead the sequencer and returns it
// and its backend.
func leader(t *testing.T, stores []*Store, not uint32) (*Store, uint32) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		for _, s := range stores {
			if ok, pid := s.seqr.leading(); ok && pid != not {
				return s, pid
			}
		}
	}
	t.Fatal("no store leads the sequencer")
	return nil, 0
}

// TestDeadServerNumbersVoided: a server dies holding audit numbers it
// took and never wrote; the other's entries, above them, wait outside the
// log until its lease runs out, when the sequencer voids them: the log is
// then gap-free and holds every entry.
func TestDeadServerNumbersVoided(t *testing.T) {
	pgURL := migratedDB(t)
	const lease = time.Second
	nodes := openQuick(t, pgURL, 2, lease)
	ctx := context.Background()
	want := map[string]int64{}
	appendOne := func(s *Store, actor string) {
		e := &audit.Entry{Actor: actor, Action: "read", Decision: "allow"}
		if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.AppendAudit(ctx, e) }); err != nil {
			t.Fatal(err)
		}
		want[actor] = e.Seq
	}
	appendOne(nodes[0], "first")
	var held []int64
	for range 3 {
		n, err := nodes[0].nums.take(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, n)
	}
	nodes[0].die()
	died := time.Now()
	for i := range 5 {
		appendOne(nodes[1], fmt.Sprintf("after_%d", i))
	}
	var last int64
	nodes[1].View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
		last, err = tx.LastAuditSeq(ctx)
		return err
	})
	if last != 1 && time.Since(died) < lease*3/4 {
		t.Errorf("LastAuditSeq with the dead server's numbers %v unwritten = %d, want 1", held, last)
	}
	// Voided: the numbers it took, and those it had reserved beside them.
	voids := checkLog(t, nodes[1], want)
	if voids < len(held) {
		t.Errorf("%d voids, want at least %d (the numbers %v)", voids, len(held), held)
	}
	// Its lease, renewed every quarter of it, ran out ¾–1 lease after.
	if took := time.Since(died); took < lease*3/4 {
		t.Errorf("voided %s after the death, before its %s lease ran out", took, lease)
	}
}

// TestSequencerFailover kills the sequencer's connection (the holder of
// its advisory lock) while two servers append, and a third dies holding
// numbers: another round (of either server) must take over, void the dead
// server's numbers, and the log must lose and repeat nothing.
func TestSequencerFailover(t *testing.T) {
	pgURL := migratedDB(t)
	nodes := openQuick(t, pgURL, 3, 300*time.Millisecond)
	ctx := context.Background()
	_, pid := leader(t, nodes[:2], 0) // so the third, which dies below, does not lead
	ap := appendAll(t, nodes[:2], 4, nil)
	time.Sleep(50 * time.Millisecond)
	if _, err := nodes[2].nums.take(ctx); err != nil {
		t.Fatal(err)
	}
	nodes[2].die()
	conn, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_terminate_backend($1)`, pid).Scan(&ok); err != nil || !ok {
		t.Fatalf("terminate the sequencer's backend: %v, %v", ok, err)
	}
	_, next := leader(t, nodes[:2], pid)
	t.Logf("sequencer backend %d killed, %d leads", pid, next)
	time.Sleep(500 * time.Millisecond) // past the dead server's lease
	want, _ := ap.stop()
	if t.Failed() {
		return
	}
	voids := checkLog(t, nodes[0], want)
	if voids == 0 {
		t.Error("no voids: the dead server's number was not voided")
	}
	t.Logf("%d entries, %d voids", len(want), voids)
}

// appenders are workers appending entries to stores until stopped.
type appenders struct {
	mu     sync.Mutex
	want   map[string]int64 // actor → number, of the appends that returned
	failed int              // appends that failed on the store allowed to fail
	halt   chan struct{}
	wg     sync.WaitGroup
}

// appendAll starts n workers, worker w appending to stores[w%len(stores)],
// each entry named by its actor. An append that fails is an error, but on
// dying (which may be nil): that worker counts it and stops.
func appendAll(t *testing.T, stores []*Store, n int, dying *Store) *appenders {
	ap := &appenders{want: map[string]int64{}, halt: make(chan struct{})}
	for w := range n {
		s := stores[w%len(stores)]
		ap.wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-ap.halt:
					return
				default:
				}
				e := &audit.Entry{Actor: fmt.Sprintf("w%d_%d", w, i), Action: "read", Decision: "allow"}
				err := s.Update(context.Background(), func(ctx context.Context, tx store.Tx) error { return tx.AppendAudit(ctx, e) })
				ap.mu.Lock()
				switch {
				case err == nil:
					ap.want[e.Actor] = e.Seq
				case s == dying:
					ap.failed++
				default:
					t.Errorf("worker %d: %v", w, err)
				}
				ap.mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	return ap
}

// stop stops the workers and returns what they appended and how many
// appends failed on the dying store.
func (ap *appenders) stop() (map[string]int64, int) {
	close(ap.halt)
	ap.wg.Wait()
	return ap.want, ap.failed
}

// TestKillLeadingStore kills, with Kill, the store that leads the
// sequencer while three stores append: the kill rolls back its open
// groups (their callers get errors, nothing they appended is in the log),
// another store takes over, and the log is gap-free and duplicate-free.
func TestKillLeadingStore(t *testing.T) {
	nodes := openQuick(t, migratedDB(t), 3, 300*time.Millisecond)
	ctx := context.Background()
	victim, _ := leader(t, nodes, 0)
	ap := appendAll(t, nodes, 6, victim)
	time.Sleep(100 * time.Millisecond)
	if err := victim.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	var survivors []*Store
	for _, s := range nodes {
		if s != victim {
			survivors = append(survivors, s)
		}
	}
	leader(t, survivors, 0)
	time.Sleep(500 * time.Millisecond) // past the dead store's lease
	want, failed := ap.stop()
	if t.Failed() {
		return
	}
	voids := checkLog(t, survivors[0], want)
	t.Logf("%d entries, %d voids, %d calls failed on the killed store", len(want), voids, failed)
}

// TestTwoIntegratorsVerify runs an integrator on each of two servers
// while both append, subjects named, as two nodes of a deployment do:
// the checkpoints and tiles they write must make one log that verifies
// (before the checkpoint lock, their steps could both pass the check that
// they were current and overwrite each other's tiles).
func TestTwoIntegratorsVerify(t *testing.T) {
	nodes := openQuick(t, migratedDB(t), 2, time.Second)
	ctx := context.Background()
	signer, err := audit.NewSigner(auditlog.Origin, make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 8 {
		s := nodes[w%2]
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				e := &audit.Entry{Actor: "op_1", Action: "read", Subject: fmt.Sprintf("sub_%d", i%7), Decision: "allow"}
				if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.AppendAudit(ctx, e) }); err != nil {
					t.Errorf("append: %v", err)
					return
				}
			}
		})
	}
	for _, s := range nodes {
		in := &auditlog.Integrator{Store: s, Signer: signer, MaxBatch: 37}
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := in.Step(ctx); err != nil {
					t.Errorf("step: %v", err)
					return
				}
			}
		})
	}
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wg.Wait()
	if t.Failed() {
		return
	}
	in := &auditlog.Integrator{Store: nodes[0], Signer: signer}
	for { // the rest, once the numbers held are given back
		n, err := in.Step(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var last int64
		nodes[0].View(ctx, func(ctx context.Context, tx store.Tx) (err error) { last, err = tx.LastAuditSeq(ctx); return err })
		if int64(n) == last {
			break
		}
	}
	rep, err := auditlog.Verify(ctx, nodes[0], signer.VerifierKey())
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	t.Logf("verified: %+v", rep)
}
