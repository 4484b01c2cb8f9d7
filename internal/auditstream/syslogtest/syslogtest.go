// Package syslogtest is a syslog receiver for tests: TCP, RFC 6587
// octet counting, RFC 5424 messages, as a SOC's collector receives the
// audit stream. It keeps each entry's record it is given by index, each
// alert's by the alert's id, and can be stopped and started again on the
// same address.
package syslogtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"sync"
	"testing"

	"github.com/leodido/go-syslog/v4"
	"github.com/leodido/go-syslog/v4/octetcounting"
	"github.com/leodido/go-syslog/v4/rfc5424"

	"github.com/coffre/coffre/internal/auditstream"
	"github.com/coffre/coffre/internal/store"
)

// Receiver is a running receiver.
type Receiver struct {
	t testing.TB
	// Addr is where it listens (the same after Start).
	Addr string

	mu      sync.Mutex
	ln      net.Listener
	conns   []net.Conn
	cut     map[net.Conn]bool // closed by Stop: a last message may be cut short
	records map[int64][]byte  // index → the entry's record, as received
	alerts  map[int64][]byte  // alert id → the alert's record, as received
	copies  int
	bad     []string
}

// Start starts a receiver on a loopback port, stopped when the test ends.
func Start(t testing.TB) *Receiver {
	r := &Receiver{t: t, records: map[int64][]byte{}, alerts: map[int64][]byte{}, cut: map[net.Conn]bool{}}
	r.listen("127.0.0.1:0")
	t.Cleanup(r.Stop)
	return r
}

// Restart listens again on Addr after Stop.
func (r *Receiver) Restart() { r.listen(r.Addr) }

func (r *Receiver) listen(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		r.t.Errorf("syslogtest: listen: %v", err)
		return
	}
	r.mu.Lock()
	r.ln, r.Addr = ln, ln.Addr().String()
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

func (r *Receiver) read(c net.Conn) {
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
		if !ok || m.Message == nil || m.Appname == nil || *m.Appname != "coffre" || m.MsgID == nil || m.Priority == nil {
			r.note("not a message of coffre: %+v", res.Message)
			return
		}
		var rec struct {
			Index int64 `json:"index"`
			Alert *struct {
				ID       int64  `json:"id"`
				Severity string `json:"severity"`
			} `json:"alert"`
		}
		if err := json.Unmarshal([]byte(*m.Message), &rec); err != nil {
			r.note("a message that is not a record: %v", err)
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		// facility 13 (log audit); an entry is informational, an alert
		// as severe as it says.
		switch want := map[string]uint8{"critical": 106, "high": 107, "warning": 108}; {
		case *m.MsgID == "audit" && rec.Alert == nil && *m.Priority == 110:
			if prev, seen := r.records[rec.Index]; seen && !bytes.Equal(prev, []byte(*m.Message)) {
				r.bad = append(r.bad, fmt.Sprintf("entry %d received twice, different", rec.Index))
			}
			r.records[rec.Index] = []byte(*m.Message)
		case *m.MsgID == "alert" && rec.Alert != nil && *m.Priority == want[rec.Alert.Severity]:
			if prev, seen := r.alerts[rec.Alert.ID]; seen && !bytes.Equal(prev, []byte(*m.Message)) {
				r.bad = append(r.bad, fmt.Sprintf("alert %d received twice, different", rec.Alert.ID))
			}
			if _, seen := r.records[rec.Index]; !seen {
				r.bad = append(r.bad, fmt.Sprintf("alert %d received before its entry %d", rec.Alert.ID, rec.Index))
			}
			r.alerts[rec.Alert.ID] = []byte(*m.Message)
		default:
			r.bad = append(r.bad, fmt.Sprintf("message %s of priority %d holds neither an entry nor an alert", *m.MsgID, *m.Priority))
			return
		}
		r.copies++
	}))
	p.Parse(c)
}

func (r *Receiver) note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bad = append(r.bad, fmt.Sprintf(format, args...))
}

// Stop closes the receiver as a collector that goes away does: what it
// has received and not read is lost.
func (r *Receiver) Stop() {
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

// Alerts is how many distinct alerts it holds.
func (r *Receiver) Alerts() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.alerts)
}

// Count is how many distinct entries it holds.
func (r *Receiver) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.records)
}

// Record is the JSON of the record of entry index, as received (nil:
// none).
func (r *Receiver) Record(index int64) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.records[index]
}

// Copies is how many messages it received, duplicates included.
func (r *Receiver) Copies() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.copies
}

// Problems are the messages it could not take as audit records, and the
// entries it received twice with different contents.
func (r *Receiver) Problems() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bad...)
}

// HoldsLog fails t unless the receiver holds every entry 1…last of st's
// audit log, each exactly the record of the stored leaf, and every alert
// raised with them, exactly as stored, and reported no problem; it
// returns how many entries the log held in that range.
func (r *Receiver) HoldsLog(t testing.TB, st store.Store, last int64) int64 {
	t.Helper()
	for _, p := range r.Problems() {
		t.Error(p)
	}
	var n int64
	if err := st.View(context.Background(), func(ctx context.Context, tx store.Tx) error {
		err := tx.AuditLeaves(ctx, 1, last+1, func(seq int64, leaf []byte) error {
			n++
			want, err := auditstream.NewRecord(seq, leaf)
			if err != nil {
				return err
			}
			if got := r.Record(seq); !bytes.Equal(got, want.JSON()) {
				t.Errorf("entry %d: received %s, want %s", seq, got, want.JSON())
			}
			return nil
		})
		if err != nil {
			return err
		}
		alerts, err := tx.SequencedAlerts(ctx, 1, last+1)
		for _, al := range alerts {
			want := auditstream.Record{Index: al.Seq(), Alert: &al}
			r.mu.Lock()
			got := r.alerts[al.ID]
			r.mu.Unlock()
			if !bytes.Equal(got, want.JSON()) {
				t.Errorf("alert %d: received %s, want %s", al.ID, got, want.JSON())
			}
		}
		if r.Alerts() != len(alerts) {
			t.Errorf("received %d alerts; the store holds %d", r.Alerts(), len(alerts))
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return n
}
