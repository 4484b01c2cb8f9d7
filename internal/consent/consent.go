// Package consent is the person's consent to a read of their record
// (issue 14): a read under a purpose that asks for it opens a [Request]
// (who asked, which fields, for what, until when), the person is told by
// a message of kind [Kind] and approves or denies in their signed-in
// portal, and an approval lets the operator's next read for that purpose
// and person through, once, within the purpose's validity.
//
// A request is an access attempt like a read: the vault opens it through
// the guard, in the same transaction as its audit entry and the message
// to the person. Its status is computed at read time ([Request.StatusAt]):
// a pending request past its Expires, or an approval past its ValidUntil,
// is expired whether or not a sweep has marked it yet.
//
// The message to the person holds ids only ([Message]): the person's
// address is read from their record when it is sent (outbox channel
// person), and [Renderer] writes its text, in French or English.
package consent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Kind is the outbox kind of the message telling a person of a consent
// request.
const Kind = "consent"

// Statuses of a request. StatusExpired is stored by the sweep, and
// computed by [Request.StatusAt] before it.
const (
	StatusPending  = "pending"  // waiting for the person's decision
	StatusApproved = "approved" // the person approved; not used yet
	StatusDenied   = "denied"   // the person denied
	StatusUsed     = "used"     // the approved read took place
	StatusExpired  = "expired"  // no decision in time, or an approval not used in time
)

// Request is one consent request. It names the person and the operator by
// id, and fields by name; it never holds a field's value.
type Request struct {
	ID      string
	Subject string
	// Operator asked, with its Role and Unit at the time (what the person
	// is told: the organisation, unit and role, not the employee unless
	// the purpose's policy names operators).
	Operator, Role, Unit string
	Purpose              string
	// Reason is the operator's Coffre-Reason; the person sees it in the
	// portal, never in the message.
	Reason string
	// Fields are the fields the read would return.
	Fields []string
	Status string
	// Created is when it was asked, Expires when it lapses without a
	// decision.
	Created, Expires time.Time
	// Decided is when the person approved or denied; ValidUntil the end
	// of an approval (zero otherwise); Closed when it was used or marked
	// expired.
	Decided, ValidUntil, Closed time.Time
}

// StatusAt is the request's status at now: a pending request past
// Expires, or an approval past ValidUntil, is expired.
func (r *Request) StatusAt(now time.Time) string {
	switch {
	case r.Status == StatusPending && !now.Before(r.Expires):
		return StatusExpired
	case r.Status == StatusApproved && !now.Before(r.ValidUntil):
		return StatusExpired
	}
	return r.Status
}

// Deadline is when the request lapses in its stored status (Expires
// while pending, ValidUntil once approved), and zero for a closed one: a
// store indexes it for [Requests.DueConsents].
func (r *Request) Deadline() time.Time {
	switch r.Status {
	case StatusPending:
		return r.Expires
	case StatusApproved:
		return r.ValidUntil
	}
	return time.Time{}
}

// Errors of a decision, for callers to branch on with errors.Is.
var (
	// ErrExpired: the request lapsed before the decision (or the approval
	// before its read).
	ErrExpired = errors.New("consent request expired")
	// ErrDecided: the person decided already.
	ErrDecided = errors.New("consent request already decided")
	// ErrDenied: the person denied the operator's request for this
	// purpose, and it is too early to ask again.
	ErrDenied = errors.New("consent denied")
)

// Requests is what a transaction offers for consent requests. Methods
// report the store's ErrNotFound and ErrConflict (package store) wrapped.
type Requests interface {
	// PutConsent stores a new request; ErrConflict if its id exists.
	PutConsent(ctx context.Context, r *Request) error
	// GetConsent returns request id; ErrNotFound if there is none.
	GetConsent(ctx context.Context, id string) (*Request, error)
	// LatestConsent returns operator's latest request to read subject
	// under purpose, whatever its status; ErrNotFound if there is none.
	LatestConsent(ctx context.Context, operator, subject, purpose string) (*Request, error)
	// UpdateConsent stores r's Status, Decided, ValidUntil and Closed if
	// the stored request's status is from; ErrConflict if it is not (a
	// decision, a use or the sweep got there first), ErrNotFound if there
	// is none.
	UpdateConsent(ctx context.Context, r *Request, from string) error
	// PendingConsents returns subject's pending requests not expired at
	// now, newest first, at most limit.
	PendingConsents(ctx context.Context, subject string, now time.Time, limit int) ([]Request, error)
	// DueConsents returns pending or approved requests whose Deadline is
	// at or before now, earliest first, at most limit: those the sweep
	// marks expired.
	DueConsents(ctx context.Context, now time.Time, limit int) ([]Request, error)
}

// Message is the payload of a message of kind [Kind]: ids, names and
// times only, for [Renderer] (no reason, no value).
type Message struct {
	Consent string   `json:"consent"`
	Subject string   `json:"subject"`
	Purpose string   `json:"purpose"`
	Fields  []string `json:"fields"`
	Role    string   `json:"role"`
	Unit    string   `json:"unit"`
	// Operator is set only when the purpose's policy names operators.
	Operator string    `json:"operator,omitempty"`
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires"`
}

// MessageOf is the message telling r's person of it; namesOperator puts
// the operator's id in it.
func MessageOf(r *Request, namesOperator bool) Message {
	m := Message{Consent: r.ID, Subject: r.Subject, Purpose: r.Purpose, Fields: r.Fields, Role: r.Role, Unit: r.Unit, Created: r.Created, Expires: r.Expires}
	if namesOperator {
		m.Operator = r.Operator
	}
	return m
}

// Key is the idempotency key of the message of request id.
func Key(id string) string { return "consent-" + id }

// Decode reads a message's payload.
func Decode(payload []byte) (Message, error) {
	var m Message
	if err := json.Unmarshal(payload, &m); err != nil {
		return m, fmt.Errorf("consent payload: %w", err)
	}
	if m.Consent == "" || m.Subject == "" || m.Purpose == "" || m.Expires.IsZero() {
		return m, fmt.Errorf("consent payload: no request, subject, purpose or expiry")
	}
	return m, nil
}
