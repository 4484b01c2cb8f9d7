package auditstream_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auditstream"
	"github.com/coffre/coffre/internal/auditstream/syslogtest"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetemplate"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetest"
)

// TestSyslogEveryEntry: 10,000 audit entries appended by concurrent
// writers, as reads append them, while the stream runs; the receiver is
// stopped a third of the way and started again on the same address two
// seconds later. Some of the writes raise a guard alert with their entry,
// as the guard does. It ends with every entry, each exactly as stored (its
// leaf, the leaf's hash and the entry the leaf holds), every alert after
// its entry, and the store's cursor at the end of the log.
func TestSyslogEveryEntry(t *testing.T) {
	const n = 10_000
	ctx := context.Background()
	s := openStore(t)
	rcv := syslogtest.Start(t)
	sink := &auditstream.Syslog{Addr: rcv.Addr, Hostname: "node-1", Quiet: 300 * time.Millisecond, Window: 256 << 10}
	st := &auditstream.Streamer{Store: s, Sinks: []auditstream.Sink{sink}, Owner: "node-1", Batch: 200, Every: 20 * time.Millisecond}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { st.Run(sctx); close(done) }()

	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := range n / 16 {
				e := &audit.Entry{Time: time.Now(), Actor: fmt.Sprintf("op_%d", w), Action: "read", Subject: fmt.Sprintf("sub_%d_%d", w, i),
					Purpose: "case-handling", Fields: []string{"given_name", "email"}, Decision: "allow", Origin: "10.0.0.1"}
				err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
					if err := tx.AppendAudit(ctx, e); err != nil || i%100 != 99 {
						return err
					}
					sev := []string{"warning", "high", "critical"}[w%3]
					return guard.RaiseAlert(ctx, tx, &guard.Alert{Time: time.Now(), Operator: e.Actor, Code: "velocity", Severity: sev, Action: "lock", Evidence: []int64{e.Seq - 1, e.Seq}})
				})
				if err != nil {
					t.Error(err)
					return
				}
				if w == 0 && i == n/16/3 {
					rcv.Stop()
					go func() { time.Sleep(2 * time.Second); rcv.Restart() }()
				}
			}
		})
	}
	wg.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := st.Status()[0]
		if rcv.Count() == n && got.Held == n+1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: %d of %d entries received; status %+v", rcv.Count(), n, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	<-done

	leaves := rcv.HoldsLog(t, s, n)
	if leaves != n {
		t.Fatalf("the log holds %d entries, want %d", leaves, n)
	}
	if want := 16 * (n / 16 / 100); rcv.Alerts() != want {
		t.Errorf("%d alerts received, want %d", rcv.Alerts(), want)
	}
	t.Logf("%d entries and %d alerts, %d messages received (%d sent again after the receiver's stop)", n, rcv.Alerts(), rcv.Copies(), rcv.Copies()-n-rcv.Alerts())
}

// TestStreamFailsOver: two servers stream the same log to one sink; one
// holds the sink's lease and streams, the other waits; when the first
// stops, the second takes the lease once it has run out and the receiver
// ends with every entry.
func TestStreamFailsOver(t *testing.T) {
	const n = 3_000
	ctx := context.Background()
	s := openStore(t)
	rcv := syslogtest.Start(t)
	node := func(name string) (*auditstream.Streamer, context.CancelFunc, chan struct{}) {
		sink := &auditstream.Syslog{Addr: rcv.Addr, Hostname: name, Quiet: 100 * time.Millisecond}
		st := &auditstream.Streamer{Store: s, Sinks: []auditstream.Sink{sink}, Owner: name, Lease: 500 * time.Millisecond, Every: 20 * time.Millisecond}
		c, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { st.Run(c); close(done) }()
		return st, stop, done
	}
	a, stopA, doneA := node("node-a")
	time.Sleep(100 * time.Millisecond) // node-a claims first
	b, stopB, doneB := node("node-b")
	defer func() { stopB(); <-doneB }()
	appendN := func(from, to int) {
		for i := from; i < to; i++ {
			e := &audit.Entry{Time: time.Now(), Actor: "op_1", Action: "read", Subject: fmt.Sprint("sub_", i), Decision: "allow"}
			if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.AppendAudit(ctx, e) }); err != nil {
				t.Fatal(err)
			}
		}
	}
	appendN(0, n/2)
	waitFor(t, func() bool { return rcv.Count() == n/2 }, "the first half")
	if sa, sb := a.Status()[0], b.Status()[0]; !sa.Streaming || sb.Streaming {
		t.Fatalf("streaming: node-a %v, node-b %v; want node-a alone", sa.Streaming, sb.Streaming)
	}
	stopA()
	<-doneA
	appendN(n/2, n)
	waitFor(t, func() bool { return rcv.Count() == n }, "every entry after node-a stopped")
	if sb := b.Status()[0]; !sb.Streaming {
		t.Errorf("node-b does not stream after node-a stopped: %+v", sb)
	}
	for _, msg := range rcv.Problems() {
		t.Error(msg)
	}
}

// openStore opens a SQLite store in the test's directory, closed when
// the test ends.
func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlitetemplate.Open(context.Background(), filepath.Join(t.TempDir(), "c.db"), sqlite.Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not reached in 20 s: %s", what)
		}
	}
}
