// Package auditstream streams the audit log to a security operations
// centre: every entry, in order, as it is sequenced, to each configured
// sink (syslog over TCP or TLS, RFC 5424), at least once, from a cursor
// the store keeps for each sink (audit.Streams), so that a restart resumes
// after the last entry the sink is known to hold and, of several servers,
// one streams to a sink at a time (a lease). Each record carries the
// entry, its index and its stored leaf and leaf hash, so that the SIEM can
// check it against the log's signed checkpoints. The guard's alerts follow
// the entry they were raised with (guard.Alert.Seq), as records of their
// own: their evidence is in the log; the alert itself, what the security
// officers are sent, is not.
//
// The stream never blocks an access: it reads the log beside the reads
// and writes, and a sink that refuses or hangs only makes it lag (Status,
// a metric and a readiness warning). Nothing in a record is personal
// beyond what the audit log holds: ids, and a reason only as the sealed
// bytes of the leaf (a v1 leaf's reason, from before reasons were sealed,
// is in the leaf as typed).
package auditstream

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/event"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/store"
)

// Record is one audit entry, or one guard alert, as a sink receives it:
// JSON, one a message.
type Record struct {
	// Index is the entry's sequence number (its leaf index plus one); an
	// alert's is that of the entry it was raised with.
	Index int64 `json:"index"`
	// LeafHash is the RFC 6962 hash of Leaf, hex: what the log's Merkle
	// tree, and so its signed checkpoints, commit to. An alert has none.
	LeafHash string `json:"leaf_hash,omitempty"`
	// Leaf is the stored leaf, the bytes hashed (base64).
	Leaf []byte `json:"leaf,omitempty"`
	// Entry is the entry the leaf holds; nil in an alert's record.
	Entry *Entry `json:"entry,omitempty"`
	// Alert is a guard alert; nil in an entry's record.
	Alert *guard.Alert `json:"alert,omitempty"`
}

// Entry is an audit entry as the stream gives it: what its leaf holds.
type Entry struct {
	Time     time.Time `json:"time"`
	Actor    string    `json:"actor"`
	Action   string    `json:"action"`
	Subject  string    `json:"subject,omitempty"`
	Purpose  string    `json:"purpose,omitempty"`
	Fields   []string  `json:"fields,omitempty"`
	Decision string    `json:"decision"`
	Origin   string    `json:"origin,omitempty"`
	// Reason is a v1 leaf's reason, as typed; a v2 leaf seals it under the
	// person's data key (ReasonSealed) or says it was not kept
	// (ReasonDropped).
	Reason        string `json:"reason,omitempty"`
	ReasonSealed  bool   `json:"reason_sealed,omitempty"`
	ReasonDropped bool   `json:"reason_dropped,omitempty"`
}

// NewRecord makes the record of the entry at index from its stored leaf.
func NewRecord(index int64, leaf []byte) (Record, error) {
	e, err := audit.ParseLeaf(leaf)
	if err != nil {
		return Record{}, fmt.Errorf("audit entry %d: %w", index, err)
	}
	return Record{
		Index:    index,
		LeafHash: hex.EncodeToString(audit.Hasher.HashLeaf(leaf)),
		Leaf:     append([]byte(nil), leaf...),
		Entry: &Entry{Time: e.Time.UTC(), Actor: e.Actor, Action: e.Action, Subject: e.Subject, Purpose: e.Purpose, Fields: e.Fields,
			Decision: e.Decision, Origin: e.Origin, Reason: e.Reason, ReasonSealed: len(e.SealedReason) > 0, ReasonDropped: e.ReasonDropped},
	}, nil
}

// Time is when the entry was sequenced or the alert raised.
func (r *Record) Time() time.Time {
	if r.Alert != nil {
		return r.Alert.Time.UTC()
	}
	return r.Entry.Time
}

// JSON is the record's JSON, one line.
func (r *Record) JSON() []byte {
	b, _ := json.Marshal(r) // cannot fail: strings, numbers, bytes, a time
	return b
}

// Sink receives the records, in order.
type Sink interface {
	// Name names the sink's cursor in the store: the same across restarts
	// and on every server streaming to it ("syslog:siem.example:6514").
	Name() string
	// Send delivers recs, in order; nil once they are written.
	Send(ctx context.Context, recs []Record) error
	// Held is the index from which the receiver may not hold what was
	// sent: every record below it, alerts included, is known to be held.
	// The stream's cursor moves to it, and after an error it sends again
	// from there.
	Held() int64
	// Close ends the sink's connection.
	Close() error
}

// Streamer streams the audit log to its sinks.
type Streamer struct {
	Store store.Store
	Sinks []Sink
	// Owner names this server in the sinks' leases (default: the host
	// name and process id).
	Owner string
	// Lease is how long a sink stays this server's without renewal
	// (default 30 s); another server takes it over after that.
	Lease time.Duration
	// Batch is the most records a Send carries (default 500).
	Batch int
	// Every is how often the stream looks for new entries once caught up
	// (default 200 ms).
	Every  time.Duration
	Logger *slog.Logger
	Now    func() time.Time

	mu     sync.Mutex
	status map[string]*Status
}

// Status is where a sink's stream stands.
type Status struct {
	Sink string
	// Sent is the index after the last record sent; Held the index below
	// which the sink holds every record (the stored cursor); Sequenced the
	// log's last entry when the stream last looked.
	Sent, Held, Sequenced int64
	// Streaming: this server holds the sink's lease.
	Streaming bool
	// Failing is the public text of the error since when the sink has
	// been failing (zero Since: it is not).
	Failing string
	Since   time.Time
}

// Lag is how many sequenced entries the sink is not known to hold.
func (s Status) Lag() int64 { return max(0, s.Sequenced-s.Held+1) }

// Status returns each sink's status, in the order of Sinks.
func (s *Streamer) Status() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Status, 0, len(s.Sinks))
	for _, k := range s.Sinks {
		if st := s.status[k.Name()]; st != nil {
			out = append(out, *st)
		} else {
			out = append(out, Status{Sink: k.Name()})
		}
	}
	return out
}

func (s *Streamer) defaults() {
	if s.Owner == "" {
		host, _ := os.Hostname()
		s.Owner = host + ":" + strconv.Itoa(os.Getpid())
	}
	if s.Lease <= 0 {
		s.Lease = 30 * time.Second
	}
	if s.Batch <= 0 {
		s.Batch = 500
	}
	if s.Every <= 0 {
		s.Every = 200 * time.Millisecond
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	s.mu.Lock()
	if s.status == nil {
		s.status = map[string]*Status{}
	}
	s.mu.Unlock()
}

// Run streams to every sink until ctx ends, then closes them.
func (s *Streamer) Run(ctx context.Context) {
	s.defaults()
	var wg sync.WaitGroup
	for _, k := range s.Sinks {
		wg.Go(func() {
			defer k.Close()
			s.run(ctx, k)
		})
	}
	wg.Wait()
}

// run streams to one sink: claim its lease, send what follows its
// cursor, move the cursor to what the sink holds; after a failure, wait
// (doubling, up to 30 s) and send again from the cursor.
func (s *Streamer) run(ctx context.Context, k Sink) {
	var sent int64 // 0: from the stored cursor
	var ls lease
	wait := time.Duration(0)
	for ctx.Err() == nil {
		n, next, err := s.step(ctx, k, sent, &ls)
		switch {
		case err != nil && ctx.Err() == nil:
			sent, ls = 0, lease{}
			wait = min(max(2*wait, 250*time.Millisecond), 30*time.Second)
			s.failing(k, err)
		case err == nil:
			sent, wait = next, 0
			s.failing(k, nil)
			if n == 0 {
				wait = s.Every
			}
		}
		s.pause(ctx, k, wait)
	}
}

// pause waits d, looking at the log's end each second meanwhile, so that
// a failing sink's lag grows as the log does, not only at its next try.
func (s *Streamer) pause(ctx context.Context, k Sink, d time.Duration) {
	for d > 0 {
		step := min(d, time.Second)
		select {
		case <-ctx.Done():
			return
		case <-time.After(step):
		}
		if d -= step; d <= 0 {
			return
		}
		var last int64
		if err := s.Store.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
			last, err = tx.LastAuditSeq(ctx)
			return err
		}); err == nil {
			s.note(k, func(st *Status) { st.Sequenced = last })
		}
	}
}

// lease is what a sink's stream knows of its lease and cursor since it
// last wrote them: the store's writer, which every audited access waits
// on, is asked only to renew the lease once half of it is spent, and to
// move the cursor at most once a second.
type lease struct {
	until    time.Time // the lease's end as last claimed (zero: not held)
	cursor   int64     // the stored cursor
	advanced time.Time // when the cursor was last moved
	// standby: another server held the lease; not asked again before then.
	standby time.Time
}

// advanceEvery is how often at most a stream moves its stored cursor.
const advanceEvery = time.Second

// step claims k's lease when it must, sends the records from sent (from
// the stored cursor when 0) and moves the cursor; it returns how many it
// sent and the index after them.
func (s *Streamer) step(ctx context.Context, k Sink, sent int64, ls *lease) (int, int64, error) {
	now := s.Now()
	if now.Before(ls.standby) {
		return 0, 0, nil
	}
	h := k.Held()
	renew := ls.until.Sub(now) < s.Lease/2
	if advance := h > ls.cursor && now.Sub(ls.advanced) >= advanceEvery; renew || advance {
		var cursor int64
		var held bool
		err := s.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			var err error
			if cursor, held, err = tx.ClaimStream(ctx, k.Name(), s.Owner, now, now.Add(s.Lease)); err != nil || !held {
				return err
			}
			if h > cursor {
				if err := tx.AdvanceStream(ctx, k.Name(), s.Owner, h); err != nil {
					return err
				}
				cursor = h
			}
			return nil
		})
		if err != nil {
			return 0, sent, fmt.Errorf("audit stream %s: %w", k.Name(), err)
		}
		if !held {
			*ls = lease{standby: now.Add(s.Lease / 4)}
			s.note(k, func(st *Status) { st.Streaming, st.Held = false, cursor })
			return 0, 0, nil // another server streams to it
		}
		if cursor > ls.cursor {
			ls.advanced = now
		}
		ls.until, ls.cursor = now.Add(s.Lease), cursor
	}
	cursor := ls.cursor
	var last int64
	if err := s.Store.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
		last, err = tx.LastAuditSeq(ctx)
		return err
	}); err != nil {
		return 0, sent, fmt.Errorf("audit stream %s: %w", k.Name(), err)
	}
	s.note(k, func(st *Status) { st.Streaming, st.Held, st.Sequenced = true, cursor, last })
	if sent < cursor {
		sent = cursor
	}
	if sent > last {
		return 0, sent, nil
	}
	to := min(sent+int64(s.Batch), last+1)
	recs, err := s.records(ctx, sent, to)
	if err != nil {
		return 0, sent, fmt.Errorf("audit stream %s: %w", k.Name(), err)
	}
	if err := k.Send(ctx, recs); err != nil {
		return 0, sent, fmt.Errorf("audit stream %s: %w", k.Name(), err)
	}
	s.note(k, func(st *Status) { st.Sent = to })
	return int(to - sent), to, nil
}

// records reads the entries from up to to (exclusive), each followed by
// the alerts raised with it.
func (s *Streamer) records(ctx context.Context, from, to int64) ([]Record, error) {
	var recs []Record
	err := s.Store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		recs = make([]Record, 0, to-from)
		err := tx.AuditLeaves(ctx, from, to, func(seq int64, leaf []byte) error {
			if want := from + int64(len(recs)); seq != want {
				return fmt.Errorf("the log's entry %d is not there", want)
			}
			r, err := NewRecord(seq, leaf)
			recs = append(recs, r)
			return err
		})
		if err != nil {
			return fmt.Errorf("read the log: %w", err)
		}
		if n := int64(len(recs)); n != to-from {
			return fmt.Errorf("the log's entries %d to %d are not all there", from+n, to-1)
		}
		alerts, err := tx.SequencedAlerts(ctx, from, to)
		if err != nil {
			return fmt.Errorf("read the alerts: %w", err)
		}
		if len(alerts) == 0 {
			return nil
		}
		entries := recs
		recs = make([]Record, 0, len(entries)+len(alerts))
		for _, r := range entries {
			recs = append(recs, r)
			for len(alerts) > 0 && alerts[0].Seq() == r.Index {
				recs = append(recs, Record{Index: r.Index, Alert: &alerts[0]})
				alerts = alerts[1:]
			}
		}
		return nil
	})
	return recs, err
}

func (s *Streamer) note(k Sink, fn func(*Status)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status[k.Name()]
	if st == nil {
		st = &Status{Sink: k.Name()}
		s.status[k.Name()] = st
	}
	fn(st)
}

// failing records err (nil: the sink works again) and logs the first of a
// run of failures and the recovery, not every retry.
func (s *Streamer) failing(k Sink, err error) {
	s.note(k, func(st *Status) {
		switch {
		case err != nil && st.Since.IsZero():
			st.Failing, st.Since = err.Error(), s.Now()
			s.Logger.Warn("audit stream failing; retrying", "event", event.AuditStreamFailing, "sink", k.Name(), "error", err)
		case err == nil && !st.Since.IsZero():
			s.Logger.Info("audit stream recovered", "event", event.AuditStreamRecovered, "sink", k.Name(), "down", s.Now().Sub(st.Since).Round(time.Millisecond))
			st.Failing, st.Since = "", time.Time{}
		}
	})
}

// ErrClosed is returned by a sink's Send after Close.
var ErrClosed = errors.New("sink closed")
