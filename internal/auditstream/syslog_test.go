package auditstream_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/leodido/go-syslog/v4"
	"github.com/leodido/go-syslog/v4/octetcounting"
	"github.com/leodido/go-syslog/v4/rfc5424"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auditstream"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetest"
)

// receiver is a syslog server over TCP (RFC 6587 octet counting, RFC
// 5424 messages) that keeps every record it is given, by index, and
// counts the copies. Stop closes it as a server that goes away does:
// what it has received and not read is lost.
type receiver struct {
	t    *testing.T
	addr string

	mu      sync.Mutex
	ln      net.Listener
	conns   []net.Conn
	cut     map[net.Conn]bool // closed by stop: a last message may be cut short
	records map[int64][]byte  // index → the record's JSON, as received
	copies  int
	bad     []string
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{t: t, records: map[int64][]byte{}, cut: map[net.Conn]bool{}}
	r.start("127.0.0.1:0")
	t.Cleanup(r.stop)
	return r
}

func (r *receiver) start(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		r.t.Fatal(err)
	}
	r.mu.Lock()
	r.ln, r.addr = ln, ln.Addr().String()
	r.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.mu.Lock()
			r.conns = append(r.conns, c)
			r.mu.Unlock()
			go r.read(c)
		}
	}()
}

func (r *receiver) read(c net.Conn) {
	p := octetcounting.NewParser(syslog.WithBestEffort(), syslog.WithListener(func(res *syslog.Result) {
		if res.Error != nil {
			r.mu.Lock()
			cut := r.cut[c]
			r.mu.Unlock()
			if !cut {
				r.note("unparsable message: %v", res.Error)
			}
			return
		}
		m, ok := res.Message.(*rfc5424.SyslogMessage)
		if !ok || m.Message == nil || m.Appname == nil || *m.Appname != "coffre" || m.MsgID == nil || *m.MsgID != "audit" || m.Priority == nil || *m.Priority != 110 {
			r.note("not an audit message: %+v", res.Message)
			return
		}
		var rec struct {
			Index int64 `json:"index"`
		}
		if err := json.Unmarshal([]byte(*m.Message), &rec); err != nil {
			r.note("a message that is not a record: %v", err)
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if prev, seen := r.records[rec.Index]; seen && !bytes.Equal(prev, []byte(*m.Message)) {
			r.bad = append(r.bad, fmt.Sprintf("entry %d received twice, different", rec.Index))
		}
		r.records[rec.Index] = []byte(*m.Message)
		r.copies++
	}))
	p.Parse(c)
}

func (r *receiver) note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bad = append(r.bad, fmt.Sprintf(format, args...))
}

func (r *receiver) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ln != nil {
		r.ln.Close()
		r.ln = nil
	}
	for _, c := range r.conns {
		r.cut[c] = true
		c.Close()
	}
	r.conns = nil
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.records)
}

// TestSyslogEveryEntry: 10,000 audit entries appended by concurrent
// writers, as reads append them, while the stream runs; the receiver is
// stopped a third of the way and started again on the same address two
// seconds later. It ends with every entry, each exactly as stored (its
// leaf, the leaf's hash and the entry the leaf holds), and the store's
// cursor at the end of the log.
func TestSyslogEveryEntry(t *testing.T) {
	const n = 10_000
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "c.db"), sqlite.Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rcv := newReceiver(t)
	sink := &auditstream.Syslog{Addr: rcv.addr, Hostname: "node-1", Quiet: 300 * time.Millisecond, Window: 256 << 10}
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
				if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.AppendAudit(ctx, e) }); err != nil {
					t.Error(err)
					return
				}
				if w == 0 && i == n/16/3 {
					rcv.stop()
					go func() { time.Sleep(2 * time.Second); rcv.start(rcv.addr) }()
				}
			}
		})
	}
	wg.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := st.Status()[0]
		if rcv.count() == n && got.Held == n+1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: %d of %d entries received; status %+v", rcv.count(), n, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	<-done

	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	for _, b := range rcv.bad {
		t.Error(b)
	}
	var leaves int
	if err := s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.AuditLeaves(ctx, 1, n+1, func(seq int64, leaf []byte) error {
			leaves++
			want, err := auditstream.NewRecord(seq, leaf)
			if err != nil {
				return err
			}
			if got := rcv.records[seq]; !bytes.Equal(got, want.JSON()) {
				t.Errorf("entry %d: received %s, want %s", seq, got, want.JSON())
			}
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	if leaves != n {
		t.Fatalf("the log holds %d entries, want %d", leaves, n)
	}
	t.Logf("%d entries, %d messages received (%d sent again after the receiver's stop)", n, rcv.copies, rcv.copies-n)
}

// TestStreamFailsOver: two servers stream the same log to one sink; one
// holds the sink's lease and streams, the other waits; when the first
// stops, the second takes the lease once it has run out and the receiver
// ends with every entry.
func TestStreamFailsOver(t *testing.T) {
	const n = 3_000
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "c.db"), sqlite.Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rcv := newReceiver(t)
	node := func(name string) (*auditstream.Streamer, context.CancelFunc, chan struct{}) {
		sink := &auditstream.Syslog{Addr: rcv.addr, Hostname: name, Quiet: 100 * time.Millisecond}
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
	waitFor(t, func() bool { return rcv.count() == n/2 }, "the first half")
	if sa, sb := a.Status()[0], b.Status()[0]; !sa.Streaming || sb.Streaming {
		t.Fatalf("streaming: node-a %v, node-b %v; want node-a alone", sa.Streaming, sb.Streaming)
	}
	stopA()
	<-doneA
	appendN(n/2, n)
	waitFor(t, func() bool { return rcv.count() == n }, "every entry after node-a stopped")
	if sb := b.Status()[0]; !sb.Streaming {
		t.Errorf("node-b does not stream after node-a stopped: %+v", sb)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	for _, msg := range rcv.bad {
		t.Error(msg)
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not reached in 20 s: %s", what)
		}
	}
}
