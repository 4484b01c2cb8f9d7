// Package rights is what a person may ask of the organisation about their
// record (GDPR art. 15 to 18 and 21): the requests they file
// (rectification, restriction, erasure, objection) with the deadline of
// art. 12(3), the decisions of the role the policy names to handle them,
// the limits a person's record carries (an accepted restriction; the
// units and partners the person blocked), the art. 15 description of the
// processing generated from the configuration, and the texts of the
// messages that tell the person of their requests.
//
// # What is stored
//
// A [Request] holds ids, names and dates in clear (so that handlers can
// keep the queue and the deadlines without reading anyone's record) and
// the free texts — the person's own words, the handler's reasons — sealed
// under the person's data key, so that an erasure shreds them with the
// record. A [Limit] holds ids only.
//
// # Deadlines
//
// A request is due one month after it is filed ([AddMonths]: the same
// day of the next month, or its last day when it has none, as Regulation
// 1182/71 counts months). The handler may extend it once, by two more
// months, within the first month and with a reason (art. 12(3)).
package rights

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Kinds of request: the articles of the GDPR they invoke.
const (
	Rectification = "rectification" // art. 16
	Restriction   = "restriction"   // art. 18
	Erasure       = "erasure"       // art. 17
	Objection     = "objection"     // art. 21
)

// Kinds lists the kinds of request.
var Kinds = []string{Rectification, Restriction, Erasure, Objection}

// Article is the GDPR article a kind of request invokes.
func Article(kind string) string {
	return map[string]string{Rectification: "16", Restriction: "18", Erasure: "17", Objection: "21"}[kind]
}

// States of a request.
const (
	// Pending: filed, not decided yet (extended or not).
	Pending = "pending"
	// Accepted and Refused: decided.
	Accepted = "accepted"
	Refused  = "refused"
	// Closed: the record was erased before the request was decided.
	Closed = "closed"
)

// Decisions a handler takes on a request.
const (
	Accept = "accept" // pending → accepted
	Refuse = "refuse" // pending → refused (a reason is required)
	Extend = "extend" // pending, due in three months instead of one (once, within the first month, with a reason)
	Lift   = "lift"   // an accepted restriction is lifted
)

// Decisions lists the decisions.
var Decisions = []string{Accept, Refuse, Extend, Lift}

// Bounds of what a person files.
const (
	// MaxText bounds the person's text, and a handler's reason, in bytes.
	MaxText = 2000
	// MaxOpen bounds a person's pending requests: the queue is for
	// handlers, not a place to flood.
	MaxOpen = 10
	// MaxLimits bounds a person's blocks.
	MaxLimits = 50
)

// Request is one request of a person about their record.
type Request struct {
	// ID is "req_" and 16 base32 characters, random.
	ID string
	// Subject is the person's id.
	Subject string
	Kind    string
	// Fields are the schema fields the request is about (names only);
	// none for a request about the whole record.
	Fields []string
	// Text is the person's own words, sealed under their data key (nil:
	// none).
	Text []byte
	// Status is Pending, Accepted, Refused or Closed.
	Status string
	Filed  time.Time
	// Due is when the request must be answered: a month after Filed, or
	// three once extended.
	Due time.Time
	// Extended is when the handler extended the deadline (zero: not
	// extended); ExtendReason why, sealed under the person's data key.
	Extended     time.Time
	ExtendReason []byte
	// Decided is when the request was accepted, refused or closed, and
	// DecidedBy the handler's operator id; Answer the handler's reason,
	// sealed under the person's data key (nil: none).
	Decided   time.Time
	DecidedBy string
	Answer    []byte
	// Lifted is when an accepted restriction was lifted (zero: it holds).
	Lifted time.Time
	// Courier is the person's address, sealed under the root key (not the
	// data key, which the erasure destroys), from an accepted erasure
	// until its confirmation was sent: see docs/design.md, "The person's
	// rights". Nil otherwise.
	Courier []byte
	// Version counts the request's writes: [Store.UpdateRequest] writes
	// only over the version it was read at.
	Version int64
}

// Open reports whether the request waits for a decision.
func (r *Request) Open() bool { return r.Status == Pending }

// Overdue reports whether an open request is past its deadline at now.
func (r *Request) Overdue(now time.Time) bool { return r.Open() && now.After(r.Due) }

// Restricting reports whether the request is an accepted restriction
// still in force.
func (r *Request) Restricting() bool {
	return r.Kind == Restriction && r.Status == Accepted && r.Lifted.IsZero()
}

// Kinds of limit on a record.
const (
	// LimitRestricted: an accepted restriction (Target: the request's id).
	LimitRestricted = "restricted"
	// LimitPartner: the person blocked a partner (Target: its id).
	LimitPartner = "partner"
	// LimitUnit: the person blocked a unit of the organisation (Target:
	// the unit).
	LimitUnit = "unit"
)

// Limit is one limit on the accesses to a person's record.
type Limit struct {
	Subject string
	Kind    string
	Target  string
	Created time.Time
}

// Key names a limit in the person's API: "partner:ID", "unit:NAME".
func (l Limit) Key() string { return l.Kind + ":" + l.Target }

// ParseKey reads what Key writes, for a block (partner or unit).
func ParseKey(s string) (kind, target string, ok bool) {
	kind, target, ok = strings.Cut(s, ":")
	return kind, target, ok && (kind == LimitPartner || kind == LimitUnit) && target != ""
}

// Store keeps requests and limits. Methods report the store's ErrNotFound
// and ErrConflict (package store) wrapped.
type Store interface {
	// PutRequest stores a new request; ErrConflict if its id exists.
	PutRequest(ctx context.Context, r *Request) error
	// GetRequest returns request id; ErrNotFound if there is none.
	GetRequest(ctx context.Context, id string) (*Request, error)
	// SubjectRequests returns the requests of subject, newest first.
	SubjectRequests(ctx context.Context, subject string) ([]Request, error)
	// OpenRequests returns pending requests, earliest due first (then by
	// id), after the one due at afterDue with id afterID (zero and "":
	// from the first), at most limit.
	OpenRequests(ctx context.Context, afterDue time.Time, afterID string, limit int) ([]Request, error)
	// UpdateRequest writes what a decision changes of r (Status, Due,
	// Extended, ExtendReason, Decided, DecidedBy, Answer, Lifted, Courier)
	// if the stored request is still at r.Version, and sets r.Version to
	// the next one. ErrConflict if it moved on (another decision came
	// first), ErrNotFound if there is no such request.
	UpdateRequest(ctx context.Context, r *Request) error
	// ForgetCouriers drops the sealed address of the requests decided
	// before before; it returns how many it dropped.
	ForgetCouriers(ctx context.Context, before time.Time) (int, error)
	// PutLimit adds a limit; ErrConflict if the same one exists.
	PutLimit(ctx context.Context, l Limit) error
	// DeleteLimit removes a limit; ErrNotFound if there is none.
	DeleteLimit(ctx context.Context, l Limit) error
	// Limits returns the limits on subject's record, by kind and target.
	// It is on the read path: one index range, empty for most people.
	Limits(ctx context.Context, subject string) ([]Limit, error)
	// ClearLimits removes every limit on subject's record (it was erased).
	ClearLimits(ctx context.Context, subject string) error
}

// AddMonths is t plus n calendar months, in t's location: the same day
// of the month, or the month's last day when it is shorter (31 January
// plus one month is 28 or 29 February), as Regulation (EEC, Euratom)
// 1182/71 art. 3(2)(c) counts a period in months.
func AddMonths(t time.Time, n int) time.Time {
	y, m, d := t.Date()
	first := time.Date(y, m+time.Month(n), 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
	last := first.AddDate(0, 1, -1).Day()
	return first.AddDate(0, 0, min(d, last)-1)
}

// DueAt is a request's first deadline: a month after it was filed (art.
// 12(3)), in loc's calendar.
func DueAt(filed time.Time, loc *time.Location) time.Time {
	return AddMonths(filed.In(loc), 1).UTC()
}

// ExtendedDue is the deadline of an extended request: two more months.
func ExtendedDue(filed time.Time, loc *time.Location) time.Time {
	return AddMonths(filed.In(loc), 3).UTC()
}

// MessageKind is the outbox kind of a message about a request.
const MessageKind = "request"

// Events a person is told of.
const (
	EventFiled    = "filed"
	EventExtended = "extended"
	EventAccepted = "accepted"
	EventRefused  = "refused"
	EventLifted   = "lifted"
)

// Message is the payload of a message about a request: ids, names and
// dates, never a value of the record nor the free texts (the person reads
// those in their personal space).
type Message struct {
	Request string    `json:"request"`
	Subject string    `json:"subject"`
	Kind    string    `json:"kind"`
	Event   string    `json:"event"`
	Fields  []string  `json:"fields,omitempty"`
	Time    time.Time `json:"time"`
	Due     time.Time `json:"due"`
	// Courier: the person's address is sealed in the request (its record
	// is erased); the sender reads it there.
	Courier bool `json:"courier,omitempty"`
}

// Key is the idempotency key of the message of event on request id.
func Key(id, event string) string { return "request-" + id + "-" + event }

// Decode reads a message's payload.
func Decode(payload []byte) (Message, error) {
	var m Message
	if err := json.Unmarshal(payload, &m); err != nil {
		return m, fmt.Errorf("request message: %w", err)
	}
	if m.Request == "" || m.Subject == "" || !slices.Contains(Kinds, m.Kind) {
		return m, fmt.Errorf("request message: no request, subject or kind")
	}
	return m, nil
}

// ValidID reports whether s has the form of a request id.
func ValidID(s string) bool {
	if len(s) != 20 || !strings.HasPrefix(s, "req_") {
		return false
	}
	for _, c := range s[4:] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}
