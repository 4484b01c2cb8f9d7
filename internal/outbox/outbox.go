// Package outbox is the transactional outbox: a message (an alert today;
// notices later) is queued in the same transaction as the change that
// caused it ([Queue]), so that it is sent if and only if the change
// commits.
//
// # Delivery
//
// A queued row is an event, not yet a message: the delivery worker
// (package deliver) expands each row it knows the kind of into one
// [Message] per channel and recipient ([Delivery.Expand]), in one
// transaction that also marks the row expanded, so that a retry never
// serves a recipient twice. Each message carries an idempotency key,
// unique in the store, that is sent along for the receiver.
//
// Workers claim due messages under a lease ([Delivery.Claim]): a claimed
// message is no one else's until the lease ends, and one whose worker
// died is claimed again once its lease has expired (at-least-once). A
// message is pending until it is sent, or dead after too many tries or
// an error no retry can cure.
package outbox

import (
	"context"
	"time"
)

// Queue is where a transaction queues messages.
type Queue interface {
	// PutOutbox queues a message of kind (e.g. "alert") for delivery.
	PutOutbox(ctx context.Context, kind string, payload []byte, at time.Time) error
	// PutMessage queues a message that needs no expansion (a notice to
	// one person, whose address is resolved when it is sent): Kind,
	// Channel, Recipient, Key and Payload set, due at Next, created at
	// Created. A message whose Key is queued already is left out.
	PutMessage(ctx context.Context, m *Message) error
}

// Channels a message goes by.
const (
	ChannelEmail   = "email"
	ChannelWebhook = "webhook"
	ChannelSMS     = "sms"
	// ChannelPerson is a message to a person in the directory: its
	// Recipient is the subject's id, and the sender resolves the address
	// (email or phone, from the record) when it sends.
	ChannelPerson = "person"
)

// States of a message.
const (
	StatusPending = "pending"
	StatusSent    = "sent"
	StatusDead    = "dead"
)

// Row is an outbox row as [Queue.PutOutbox] wrote it.
type Row struct {
	ID      int64
	Time    time.Time
	Kind    string
	Payload []byte
}

// Message is one delivery of an event to one recipient by one channel.
type Message struct {
	ID     int64
	Source int64  // the outbox row it was expanded from
	Kind   string // the event: "alert"
	// Channel is ChannelEmail, ChannelWebhook or ChannelSMS; Recipient its
	// address: an email address, a URL, a phone number. For alerts it is
	// an operator-configured contact of the security officers.
	Channel, Recipient string
	// Key is the idempotency key, unique in the store; it goes along with
	// the message so that a receiver can drop a second delivery.
	Key     string
	Payload []byte
	Status  string
	// Tries counts the attempts started (claims); Failures those that
	// failed.
	Tries, Failures int
	// Next is when the message is due.
	Next time.Time
	// LeaseOwner holds the message until LeaseUntil (zero: no lease).
	LeaseOwner string
	LeaseUntil time.Time
	// LastError is the class of the last failure ("timeout", "http 500",
	// "smtp 550"): never a library's message, which may quote an address
	// or content.
	LastError string
	Created   time.Time
	Sent      time.Time // zero until sent
}

// ChannelStats counts the messages of one channel.
type ChannelStats struct {
	Pending, Sent, Dead int64
	// Failures is the failed attempts of every message.
	Failures int64
	// Oldest is when the oldest pending message was created (zero: none).
	Oldest time.Time
}

// Stats is the state of the queue.
type Stats struct {
	// Unexpanded counts outbox rows not yet expanded into messages;
	// OldestUnexpanded is the time of the oldest (zero: none).
	Unexpanded       int64
	OldestUnexpanded time.Time
	// Channels holds the counts of each channel with messages.
	Channels map[string]ChannelStats
}

// Delivery is what the delivery worker reads and writes. Methods report
// the store's ErrNotFound and ErrConflict (package store) wrapped.
type Delivery interface {
	// Unexpanded returns the outbox rows of kind not yet expanded, oldest
	// first, at most limit.
	Unexpanded(ctx context.Context, kind string, limit int) ([]Row, error)
	// Expand marks row expanded and queues msgs (Kind, Channel,
	// Recipient, Key and Payload set), due at at. A message whose Key is
	// queued already is left out. ErrConflict if the row was expanded
	// already (another worker did it), ErrNotFound if there is none.
	Expand(ctx context.Context, row int64, msgs []Message, at time.Time) error
	// Claim leases up to limit pending messages due at now (Next ≤ now)
	// whose lease is none or expired to owner until now+lease, counts a
	// try for each, and returns them, earliest due first. A message
	// leased by another claimer is skipped, not waited for (on
	// PostgreSQL: FOR UPDATE SKIP LOCKED), so several workers share the
	// queue.
	Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]Message, error)
	// MarkSent records message id sent at at and ends its lease, whoever
	// holds it (it was sent); ErrNotFound if it is not pending.
	MarkSent(ctx context.Context, id int64, at time.Time) error
	// MarkFailed records a failed attempt of message id leased to owner:
	// class is the error's class (Message.LastError); it is dead if dead,
	// else due again at next. ErrConflict if owner's lease is gone (the
	// message was claimed again, or sent) or it is not pending.
	MarkFailed(ctx context.Context, id int64, owner, class string, next time.Time, dead bool) error
	// Messages returns messages with ID > after, oldest first, at most
	// limit (for tests and inspection).
	Messages(ctx context.Context, after int64, limit int) ([]Message, error)
	// DeliveryStats counts the queue: depth, age, sent, failed and dead,
	// by channel.
	DeliveryStats(ctx context.Context) (Stats, error)
	// PruneSent deletes up to limit messages sent before before, and
	// returns how many it deleted. Dead letters stay, for inspection.
	PruneSent(ctx context.Context, before time.Time, limit int) (int, error)
	// SentKeys returns which of keys (at most 1,000) name messages sent
	// and not yet pruned.
	SentKeys(ctx context.Context, keys []string) (map[string]bool, error)
}
