// Package contact holds the changes of a person's contact addresses (the
// email and phone fields of their record, which notices and sign-in use)
// while they wait out a cooling-off period (issue 14). An operator with
// the right to update a record could otherwise redirect a person's
// notices and take over their sign-in at once: a change of a contact
// field is stored as a pending [Change], the address it replaces is told
// (a message of kind [Kind]), and the change takes effect only once its
// Effective time has passed, when a background pass applies it. Until
// then the record, its blind index and every message keep the current
// address, and the person can cancel the change.
//
// A change holds no address in clear: its new values and the values they
// replace are sealed under the person's own data key, so that erasing the
// person (destroying that key) erases them too.
package contact

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Kind is the outbox kind of the message telling a person, at the address
// a change replaces, that the change is pending.
const Kind = "contact-change"

// Statuses of a change.
const (
	StatusPending    = "pending"    // waiting for its Effective time
	StatusApplied    = "applied"    // in the record and its index
	StatusCancelled  = "cancelled"  // the person (or an operator) stopped it
	StatusSuperseded = "superseded" // folded into a later change of the same person
	StatusFailed     = "failed"     // could not apply: a new value taken by then, or the person erased
)

// Change is one pending (or past) change of a person's contact fields.
type Change struct {
	ID      string
	Subject string
	// Operator asked for it, with its Role and Unit at the time.
	Operator, Role, Unit string
	// Fields are the contact fields changed, sorted.
	Fields []string
	// New holds the new values (a removal is absent), Old the values they
	// replace (a field the record lacked is absent), each sealed under the
	// subject's data key by the vault. New is dropped when the change
	// leaves pending; Old is kept a while after, for a message still on
	// its way to the old address (see [Changes.ForgetContactValues]).
	New, Old []byte
	Status   string
	// Created is when it was asked, Effective when it takes effect,
	// Closed when it left pending.
	Created, Effective, Closed time.Time
}

// Changes is what a transaction offers for contact changes. A person has
// at most one pending change. Methods report the store's ErrNotFound and
// ErrConflict (package store) wrapped.
type Changes interface {
	// PutContactChange stores a new pending change; ErrConflict if its id
	// exists or its subject has a pending change already.
	PutContactChange(ctx context.Context, c *Change) error
	// GetContactChange returns change id; ErrNotFound if there is none.
	GetContactChange(ctx context.Context, id string) (*Change, error)
	// PendingContactChange returns subject's pending change; ErrNotFound
	// if there is none.
	PendingContactChange(ctx context.Context, subject string) (*Change, error)
	// CloseContactChange moves change id from status from to status to,
	// closed at at, and drops its new values; ErrConflict if its status
	// is not from, ErrNotFound if there is none.
	CloseContactChange(ctx context.Context, id, from, to string, at time.Time) error
	// DueContactChanges returns the pending changes whose Effective is at
	// or before now, earliest first, at most limit.
	DueContactChanges(ctx context.Context, now time.Time, limit int) ([]Change, error)
	// ForgetContactValues drops the old values of at most limit changes
	// closed before before, and returns how many it changed.
	ForgetContactValues(ctx context.Context, before time.Time, limit int) (int, error)
}

// Message is the payload of a message of kind [Kind]: ids, names and
// times only. The sender resolves the address from the change's old
// values, not from the record (see the vault's ContactForChange).
type Message struct {
	Change  string   `json:"change"`
	Subject string   `json:"subject"`
	Fields  []string `json:"fields"`
	Role    string   `json:"role"`
	Unit    string   `json:"unit"`
	// Operator is set only when the policy names operators.
	Operator  string    `json:"operator,omitempty"`
	Created   time.Time `json:"created"`
	Effective time.Time `json:"effective"`
}

// MessageOf is the message telling c's person of it; namesOperator puts
// the operator's id in it.
func MessageOf(c *Change, namesOperator bool) Message {
	m := Message{Change: c.ID, Subject: c.Subject, Fields: c.Fields, Role: c.Role, Unit: c.Unit, Created: c.Created, Effective: c.Effective}
	if namesOperator {
		m.Operator = c.Operator
	}
	return m
}

// Key is the idempotency key of the message of change id.
func Key(id string) string { return "contact-change-" + id }

// Decode reads a message's payload.
func Decode(payload []byte) (Message, error) {
	var m Message
	if err := json.Unmarshal(payload, &m); err != nil {
		return m, fmt.Errorf("contact change payload: %w", err)
	}
	if m.Change == "" || m.Subject == "" || len(m.Fields) == 0 || m.Effective.IsZero() {
		return m, fmt.Errorf("contact change payload: no change, subject, field or date")
	}
	return m, nil
}
