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
	"log/slog"
	"math/rand/v2"
	"os"
	"time"

	"golang.org/x/time/rate"

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
	DefaultBatch      = 16
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
	// Batch is how many messages a claim takes (default 16).
	Batch int
	// Rates are the messages per second of each channel (default
	// DefaultRates), burst one second's worth.
	Rates  map[string]rate.Limit
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time

	limits map[string]*rate.Limiter
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
}

// Run delivers until ctx ends: every Poll, it expands new alerts and
// sends what is due.
func (w *Worker) Run(ctx context.Context) {
	w.defaults()
	t := time.NewTicker(w.Poll)
	defer t.Stop()
	for {
		if err := w.Step(ctx); err != nil && ctx.Err() == nil {
			w.Logger.Warn("delivery", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Step expands the alerts queued since the last step, then sends the
// messages due until none is left (or ctx ends).
func (w *Worker) Step(ctx context.Context) error {
	w.defaults()
	if err := w.expand(ctx); err != nil {
		return err
	}
	for ctx.Err() == nil {
		var claimed []outbox.Message
		err := w.Update(ctx, func(ctx context.Context, d outbox.Delivery) (err error) {
			claimed, err = d.Claim(ctx, w.Owner, w.Now(), w.Lease, w.Batch)
			return err
		})
		if err != nil {
			return fmt.Errorf("claim: %w", err)
		}
		// A send must start while the lease has time left for it.
		startBy := time.Now().Add(w.Lease / 2)
		for i, m := range claimed {
			if !w.send(ctx, m, startBy) {
				// Out of lease time (rate limit) or stopping: the rest are
				// claimed again once their lease expires.
				w.Logger.Info("delivery: left leased messages for later", "messages", len(claimed)-i)
				return nil
			}
		}
		if len(claimed) < w.Batch {
			return nil
		}
	}
	return nil
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

// send sends m and records the outcome; false when it could not start
// by startBy (rate limit) or ctx ended first.
func (w *Worker) send(ctx context.Context, m outbox.Message, startBy time.Time) bool {
	log := w.Logger.With("message", m.ID, "channel", m.Channel, "kind", m.Kind, "try", m.Tries)
	s, ok := w.Senders[m.Channel]
	var err error
	if !ok {
		err = &Error{Class: "no sender for channel", Permanent: true}
	} else {
		wait, cancel := context.WithDeadline(ctx, startBy)
		werr := w.limits[m.Channel].Wait(wait)
		cancel()
		if werr != nil {
			return false
		}
		err = s.Send(ctx, m)
	}
	record := context.WithoutCancel(ctx) // a sent message is recorded, stopping or not
	now := w.Now()
	if err == nil {
		if err := w.Update(record, func(ctx context.Context, d outbox.Delivery) error { return d.MarkSent(ctx, m.ID, now) }); err != nil {
			log.Warn("delivery: sent, but not recorded (it may be sent again)", "error", err)
		} else {
			log.Info("delivery: sent")
		}
		return true
	}
	var de *Error
	if !errors.As(err, &de) {
		de = &Error{Class: "error"}
	}
	if ctx.Err() != nil {
		de = &Error{Class: "interrupted"}
	}
	dead := de.Permanent || m.Tries >= w.MaxTries
	next := now.Add(w.backoff(m.Tries))
	if de.Class == "interrupted" {
		dead, next = false, now
	}
	if err := w.Update(record, func(ctx context.Context, d outbox.Delivery) error {
		return d.MarkFailed(ctx, m.ID, w.Owner, de.Class, next, dead)
	}); err != nil {
		log.Warn("delivery: failure not recorded", "class", de.Class, "error", err)
		return ctx.Err() == nil
	}
	if dead {
		log.Error("delivery: dead letter", "class", de.Class)
	} else {
		log.Warn("delivery: failed, will retry", "class", de.Class, "next", next)
	}
	return ctx.Err() == nil
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
