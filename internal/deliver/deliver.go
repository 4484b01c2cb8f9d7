// Package deliver is the delivery worker: it turns the outbox's events
// into messages and sends them, by email over SMTP, by signed webhook, and
// by SMS through a gateway's webhook (package outbox holds the queue's
// state).
//
// # Guarantees
//
// At least once: a message is marked sent only after its receiver took
// it, and one whose worker died is claimed again once its lease expires.
// Each message carries an idempotency key (the Coffre-Idempotency-Key
// header of a webhook, the Message-ID and Coffre-Idempotency-Key headers
// of an email) so that a receiver can drop a second copy. A failed
// attempt is retried after an exponential backoff with jitter; a message
// is dead after [Worker.MaxTries] attempts, or at once on an error no
// retry can cure (a 4xx answer other than 408 and 429, an SMTP 5xx). Each
// channel has a rate limit.
//
// # What is sent
//
// Today the guard's alerts, to the security officers' contacts
// ([Recipients]): the alert's code, severity, action, the operator's id
// and the audit entries behind it, ids only, never a person's data. What
// is stored and logged of a failure is its class ("timeout", "http 500",
// "smtp 550 rejected"), never a library's message, which may quote an
// address or content.
//
// # Webhook signatures
//
// A webhook (and an SMS gateway's) is a POST of JSON with the headers
// Coffre-Event (the event: alert), Coffre-Idempotency-Key and
// Coffre-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
// "<t>." + body)>. A receiver checks it with [VerifyWebhook], refusing a
// timestamp outside its replay window (5 minutes is usual) and dropping
// a key it has seen.
package deliver

import (
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/coffre/coffre/internal/event"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/outbox"
	"github.com/coffre/coffre/internal/store"
)

// Sender sends a message by one channel. An error it returns is an
// [*Error] (others are retried, as class "error").
type Sender interface {
	Send(ctx context.Context, m outbox.Message) error
}

// Error is a failed send. Its text is its class alone, safe to store, log
// and count.
type Error struct {
	// Class is short and holds no address or content: "timeout",
	// "connect", "http 500", "smtp 550 rejected".
	Class string
	// Permanent says that no retry can cure it: the message is dead.
	Permanent bool
	// Until, when set, is when to try again: not a failure of the
	// receiver but a wait (quiet hours).
	Until time.Time
}

func (e *Error) Error() string { return e.Class }

// Recipients are the security officers' contacts that each alert goes to.
type Recipients struct {
	Email   []string // addresses
	Webhook []string // URLs
	SMS     []string // phone numbers, through the SMS gateway
}

func (r Recipients) empty() bool { return len(r.Email)+len(r.Webhook)+len(r.SMS) == 0 }

// Defaults of the Worker's zero fields.
const (
	DefaultMaxTries   = 8
	DefaultBackoff    = 5 * time.Second
	DefaultMaxBackoff = time.Hour
	DefaultLease      = 2 * time.Minute
	DefaultPoll       = time.Second
	DefaultBatch      = 256
	DefaultConcurrent = 32
	DefaultKeepSent   = 30 * 24 * time.Hour
	pruneEvery        = time.Hour
	pruneBatch        = 1000
)

// DefaultRates are the per-channel rate limits (messages per second) of
// a Worker whose Rates leave a channel out.
var DefaultRates = map[string]rate.Limit{outbox.ChannelEmail: 10, outbox.ChannelWebhook: 50, outbox.ChannelSMS: 1}

// Worker claims due messages, sends them and records the outcome; one
// runs per node. Update and Senders are required; the zero value of the
// other fields is the default written on each.
type Worker struct {
	// Update runs fn in a store transaction.
	Update func(ctx context.Context, fn func(context.Context, outbox.Delivery) error) error
	// Senders by channel (outbox.ChannelEmail…). A message of a channel
	// without one is dead.
	Senders map[string]Sender
	// Alerts are the contacts each alert goes to.
	Alerts Recipients
	// Owner names this worker in leases (default: host name and a random
	// suffix).
	Owner string
	// MaxTries is the attempts after which a message is dead (default 8).
	MaxTries int
	// Backoff is the wait before the first retry, doubled at each one up
	// to MaxBackoff, with jitter (defaults 5s and 1h).
	Backoff, MaxBackoff time.Duration
	// Lease is how long a claimed message is this worker's (default 2m):
	// longer than a send takes, for a worker that dies holds its messages
	// that long.
	Lease time.Duration
	// Poll is how often the queue is read (default 1s).
	Poll time.Duration
	// Batch is how many messages a claim takes (default 256).
	Batch int
	// Concurrency is how many sends run at once (default 32). Under load
	// the worker gets a share of the CPU after its goroutines: beside 32
	// concurrent readers, 4 and 16 senders fell behind and 32 kept up
	// (docs/benchmarks.md, issue 14).
	Concurrency int
	// KeepSent is how long a sent message is kept (default 30 days):
	// the worker deletes older ones once an hour, so that the queue's
	// table and its statistics stay the size of a month's messages,
	// not of every read ever made. Dead letters are kept.
	KeepSent time.Duration
	// Rates are the messages per second of each channel (default
	// DefaultRates), burst one second's worth.
	Rates  map[string]rate.Limit
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time

	limits map[string]*rate.Limiter
	pruned time.Time // when sent messages were last pruned
	wake   chan struct{}
	once   sync.Once
}

// Wake makes a running worker step now rather than at its next poll
// (after an access queued a notice). It never blocks.
func (w *Worker) Wake() {
	w.once.Do(w.defaults)
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *Worker) defaults() {
	if w.Owner == "" {
		host, _ := os.Hostname()
		w.Owner = host + "-" + crand.Text()[:8]
	}
	if w.MaxTries <= 0 {
		w.MaxTries = DefaultMaxTries
	}
	if w.Backoff <= 0 {
		w.Backoff = DefaultBackoff
	}
	if w.MaxBackoff <= 0 {
		w.MaxBackoff = DefaultMaxBackoff
	}
	if w.Lease <= 0 {
		w.Lease = DefaultLease
	}
	if w.Poll <= 0 {
		w.Poll = DefaultPoll
	}
	if w.Batch <= 0 {
		w.Batch = DefaultBatch
	}
	if w.Concurrency <= 0 {
		w.Concurrency = DefaultConcurrent
	}
	if w.KeepSent <= 0 {
		w.KeepSent = DefaultKeepSent
	}
	if w.wake == nil {
		w.wake = make(chan struct{}, 1)
	}
	if w.Logger == nil {
		w.Logger = slog.Default()
	}
	if w.Now == nil {
		w.Now = time.Now
	}
	if w.limits == nil {
		w.limits = map[string]*rate.Limiter{}
		for _, ch := range []string{outbox.ChannelEmail, outbox.ChannelWebhook, outbox.ChannelSMS} {
			r, ok := w.Rates[ch]
			if !ok {
				r = DefaultRates[ch]
			}
			w.limits[ch] = rate.NewLimiter(r, max(1, int(r)))
		}
	}
	// A message to a person goes by email or SMS, decided as it is
	// sent: it waits for that channel's limit then.
	w.limits[outbox.ChannelPerson] = rate.NewLimiter(rate.Inf, 1)
	if p, ok := w.Senders[outbox.ChannelPerson].(*Person); ok && p.Wait == nil {
		p.Wait = func(ctx context.Context, channel string) error { return w.limits[channel].Wait(ctx) }
	}
}

// Run delivers until ctx ends: every Poll, it expands new alerts and
// sends what is due. It then closes the senders that keep connections
// (an io.Closer).
func (w *Worker) Run(ctx context.Context) {
	w.once.Do(w.defaults)
	t := time.NewTicker(w.Poll)
	defer t.Stop()
	defer func() {
		for _, s := range w.Senders {
			if c, ok := s.(io.Closer); ok {
				c.Close()
			}
		}
	}()
	for {
		if err := w.Step(ctx); err != nil && ctx.Err() == nil {
			w.Logger.Warn("delivery", "error", err)
		}
		if now := w.Now(); now.Sub(w.pruned) >= pruneEvery {
			w.pruned = now
			if err := w.Prune(ctx); err != nil && ctx.Err() == nil {
				w.Logger.Warn("delivery: prune sent messages", "error", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.wake:
		}
	}
}

// Step expands the alerts queued since the last step, then sends the
// messages due until none is left (or ctx ends).
//
// The batches overlap: while one is sent, the next is claimed (when the
// last claim was full), and the outcomes of the one before are recorded,
// so that the senders do not wait for those two transactions, which
// queue behind the reads' commits under load. A node that dies can so
// leave three batches leased, two of them sent but not recorded (sent
// again once their lease expires: at least once).
func (w *Worker) Step(ctx context.Context) error {
	w.once.Do(w.defaults)
	if err := w.expand(ctx); err != nil {
		return err
	}
	var recording sync.WaitGroup
	defer recording.Wait()
	b, err := w.claim(ctx)
	for err == nil && len(b.ms) > 0 && ctx.Err() == nil {
		var next chan claimed
		if len(b.ms) == w.Batch {
			next = make(chan claimed, 1)
			go func() {
				c, err := w.claim(ctx)
				c.err = err
				next <- c
			}()
		}
		groups, results, started, done := w.sendAll(ctx, b)
		recording.Wait() // one record at a time
		recording.Go(func() { w.record(ctx, groups, results, started) })
		if next == nil {
			break
		}
		n := <-next
		if n.err == nil && (!done || ctx.Err() != nil) {
			w.release(ctx, n.ms) // claimed ahead, not to be sent now
			break
		}
		b, err = n, n.err
	}
	if err != nil {
		return fmt.Errorf("claim: %w", err)
	}
	return nil
}

// Prune deletes the messages sent more than KeepSent ago, in batches,
// each its own short transaction.
func (w *Worker) Prune(ctx context.Context) error {
	w.once.Do(w.defaults)
	before, total := w.Now().Add(-w.KeepSent), 0
	for ctx.Err() == nil {
		var n int
		if err := w.Update(ctx, func(ctx context.Context, d outbox.Delivery) (err error) {
			n, err = d.PruneSent(ctx, before, pruneBatch)
			return err
		}); err != nil {
			return err
		}
		if total += n; n < pruneBatch {
			break
		}
	}
	if total > 0 {
		w.Logger.Info("delivery: pruned sent messages", "messages", total, "before", before)
	}
	return nil
}

// claimed is a batch of claimed messages and when they were claimed.
type claimed struct {
	ms  []outbox.Message
	at  time.Time
	err error
}

// claim leases the next batch of due messages.
func (w *Worker) claim(ctx context.Context) (claimed, error) {
	c := claimed{at: time.Now()}
	err := w.Update(ctx, func(ctx context.Context, d outbox.Delivery) (err error) {
		c.ms, err = d.Claim(ctx, w.Owner, w.Now(), w.Lease, w.Batch)
		return err
	})
	return c, err
}

// release gives back messages claimed but not to be sent now (the worker
// stops): due again at once, as an interrupted send is.
func (w *Worker) release(ctx context.Context, ms []outbox.Message) {
	if len(ms) == 0 {
		return
	}
	now := w.Now()
	err := w.Update(context.WithoutCancel(ctx), func(ctx context.Context, d outbox.Delivery) error {
		for _, m := range ms {
			if err := d.MarkFailed(ctx, m.ID, w.Owner, "interrupted", now, false); err != nil && !errors.Is(err, store.ErrConflict) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		w.Logger.Warn("delivery: claimed messages not released (claimed again once their lease expires)", "messages", len(ms), "error", err)
	}
}

// sendAll sends a claimed batch, Concurrency at a time (the messages of
// one person's group together), and returns the groups, their outcomes
// and which started; done is false when it stopped early (out of lease
// time, or ctx ended): what was not sent is claimed again once its lease
// expires.
func (w *Worker) sendAll(ctx context.Context, b claimed) (groups [][]outbox.Message, results []error, started []bool, done bool) {
	// A send must start while the lease has time left for it.
	startBy := b.at.Add(w.Lease / 2)
	groups = w.group(b.ms)
	results = make([]error, len(groups))
	started = make([]bool, len(groups))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(w.Concurrency, len(groups)) {
		wg.Go(func() {
			for i := range next {
				results[i], started[i] = w.sendGroup(ctx, groups[i], startBy)
			}
		})
	}
	for i := range groups {
		next <- i
	}
	close(next)
	wg.Wait()
	done = true
	for i := range groups {
		done = done && started[i]
	}
	if !done {
		w.Logger.Info("delivery: left leased messages for later")
	}
	return groups, results, started, done
}

// group sorts claimed messages into sends: a message alone, or the
// messages of one kind to one person due at the same time, for a kind the
// person's sender writes as one (a day's digest).
func (w *Worker) group(ms []outbox.Message) [][]outbox.Message {
	p, _ := w.Senders[outbox.ChannelPerson].(*Person)
	var out [][]outbox.Message
	at := map[string]int{}
	for _, m := range ms {
		if p != nil && m.Channel == outbox.ChannelPerson && p.RenderGroup[m.Kind] != nil {
			k := m.Kind + "\x00" + m.Recipient + "\x00" + m.Next.String() + "\x00" + via(m.Payload)
			if i, ok := at[k]; ok {
				out[i] = append(out[i], m)
				continue
			}
			at[k] = len(out)
		}
		out = append(out, []outbox.Message{m})
	}
	return out
}

// groupSender sends several messages as one.
type groupSender interface {
	SendGroup(ctx context.Context, ms []outbox.Message) error
}

// sendGroup sends one group; started is false when it could not start by
// startBy (rate limit) or ctx ended first.
func (w *Worker) sendGroup(ctx context.Context, ms []outbox.Message, startBy time.Time) (err error, started bool) {
	m := ms[0]
	s, ok := w.Senders[m.Channel]
	if !ok {
		return &Error{Class: "no sender for channel", Permanent: true}, true
	}
	wait, cancel := context.WithDeadline(ctx, startBy)
	werr := w.limits[m.Channel].Wait(wait)
	cancel()
	if werr != nil {
		return nil, false
	}
	if gs, ok := s.(groupSender); ok && len(ms) > 1 {
		return gs.SendGroup(ctx, ms), true
	}
	return s.Send(ctx, m), true
}

// record stores the outcomes of the groups that started, in one
// transaction: sent, or failed and due again after a backoff, or dead.
func (w *Worker) record(ctx context.Context, groups [][]outbox.Message, results []error, started []bool) {
	record := context.WithoutCancel(ctx) // a sent message is recorded, stopping or not
	now := w.Now()
	type failure struct {
		m     outbox.Message
		class string
		next  time.Time
		dead  bool
	}
	var sent []outbox.Message
	var failed []failure
	for i, g := range groups {
		if !started[i] {
			continue
		}
		if results[i] == nil {
			sent = append(sent, g...)
			continue
		}
		var de *Error
		if !errors.As(results[i], &de) {
			de = &Error{Class: "error"}
		}
		for _, m := range g {
			f := failure{m: m, class: de.Class, next: now.Add(w.backoff(m.Tries)), dead: de.Permanent || m.Tries >= w.MaxTries}
			switch {
			case ctx.Err() != nil:
				f.class, f.next, f.dead = "interrupted", now, false
			case !de.Until.IsZero():
				f.next, f.dead = de.Until, false
			}
			failed = append(failed, f)
		}
	}
	if len(sent)+len(failed) == 0 {
		return
	}
	err := w.Update(record, func(ctx context.Context, d outbox.Delivery) error {
		for _, m := range sent {
			if err := d.MarkSent(ctx, m.ID, now); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		for _, f := range failed {
			if err := d.MarkFailed(ctx, f.m.ID, w.Owner, f.class, f.next, f.dead); err != nil && !errors.Is(err, store.ErrConflict) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		w.Logger.Warn("delivery: outcomes not recorded (sent messages may be sent again)", "event", event.DeliveryNotRecorded, "sent", len(sent), "failed", len(failed), "error", err)
		return
	}
	if p, ok := w.Senders[outbox.ChannelPerson].(*Person); ok && p.Done != nil {
		for _, m := range sent {
			if m.Channel == outbox.ChannelPerson {
				p.Done(record, m)
			}
		}
		for _, f := range failed {
			if f.dead && f.m.Channel == outbox.ChannelPerson {
				p.Done(record, f.m)
			}
		}
	}
	for _, m := range sent {
		w.Logger.Debug("delivery: sent", "message", m.ID, "channel", m.Channel, "kind", m.Kind, "try", m.Tries)
	}
	for _, f := range failed {
		log := w.Logger.With("message", f.m.ID, "channel", f.m.Channel, "kind", f.m.Kind, "try", f.m.Tries, "class", f.class)
		if f.dead {
			log.Error("delivery: dead letter")
		} else {
			log.Warn("delivery: failed, will retry", "event", event.DeliveryFailed, "next", f.next)
		}
	}
}

// expand turns the alert rows not yet expanded into messages, one
// transaction per row.
func (w *Worker) expand(ctx context.Context) error {
	if w.Alerts.empty() {
		return nil // left queued until contacts are configured
	}
	for ctx.Err() == nil {
		var rows []outbox.Row
		if err := w.Update(ctx, func(ctx context.Context, d outbox.Delivery) (err error) {
			rows, err = d.Unexpanded(ctx, "alert", w.Batch)
			return err
		}); err != nil {
			return fmt.Errorf("read outbox: %w", err)
		}
		for _, r := range rows {
			msgs, err := alertMessages(r, w.Alerts)
			if err != nil {
				// A row that is not an alert is expanded into nothing,
				// so that it does not block the queue.
				w.Logger.Error("delivery: outbox row is not an alert; dropped", "row", r.ID, "error", err)
			}
			err = w.Update(ctx, func(ctx context.Context, d outbox.Delivery) error {
				return d.Expand(ctx, r.ID, msgs, w.Now())
			})
			if err != nil && !errors.Is(err, store.ErrConflict) { // conflict: another node did it
				return fmt.Errorf("expand outbox row %d: %w", r.ID, err)
			}
		}
		if len(rows) < w.Batch {
			return nil
		}
	}
	return nil
}

// alertMessages are an alert row's messages: one per recipient, each
// keyed by the row, the channel and a hash of the recipient (a URL may
// hold a token, and the key is sent along).
func alertMessages(r outbox.Row, to Recipients) ([]outbox.Message, error) {
	var al guard.Alert
	if err := json.Unmarshal(r.Payload, &al); err != nil {
		return nil, err
	}
	var out []outbox.Message
	add := func(channel string, list []string) {
		for _, rcpt := range list {
			h := sha256.Sum256([]byte(rcpt))
			out = append(out, outbox.Message{Kind: "alert", Channel: channel, Recipient: rcpt, Payload: r.Payload,
				Key: fmt.Sprintf("alert-%d-%s-%s", r.ID, channel, hex.EncodeToString(h[:8]))})
		}
	}
	add(outbox.ChannelEmail, to.Email)
	add(outbox.ChannelWebhook, to.Webhook)
	add(outbox.ChannelSMS, to.SMS)
	return out, nil
}

// backoff is the wait after the tries-th failed attempt: Backoff doubled
// at each try up to MaxBackoff, its second half drawn at random.
func (w *Worker) backoff(tries int) time.Duration {
	d := w.Backoff
	for i := 1; i < tries && d < w.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, w.MaxBackoff)
	return d/2 + rand.N(d/2+1)
}
