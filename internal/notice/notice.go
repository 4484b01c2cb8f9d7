// Package notice is what a person in the directory is told: the notice of
// an access to their record (written in the access's transaction as an
// outbox message to the person, package outbox), its text in French or
// English, and the verification phrase that lets the person tell a real
// notice from a phishing copy.
//
// A notice holds ids only (the subject, the audit entry, the purpose, the
// role, the unit, the fields' names); the person's address is read from
// their record when the message is sent, never stored with it, so that
// the queue holds no contact data and a corrected address is used.
package notice

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Kind is the outbox kind of a notice message.
const Kind = "notice"

// Notice is one access told to the person: the payload of a notice
// message. It never holds a field's value.
type Notice struct {
	// Subject is the person's id; Seq and Time the access's audit entry.
	Subject string    `json:"subject"`
	Seq     int64     `json:"seq"`
	Time    time.Time `json:"time"`
	// Action is the audited action ("read", "update"), Purpose its
	// declared purpose, Fields the fields it returned or changed.
	Action  string   `json:"action"`
	Purpose string   `json:"purpose"`
	Fields  []string `json:"fields,omitempty"`
	// Role and Unit are the operator's; Operator its id, only when the
	// purpose's policy names operators; Partner the partner's id for a
	// partner's client.
	Role     string `json:"role,omitempty"`
	Unit     string `json:"unit,omitempty"`
	Operator string `json:"operator,omitempty"`
	Partner  string `json:"partner,omitempty"`
	// Mode is the purpose's notice mode (policy.NoticeImmediate, …);
	// Basis the legal basis a deferred notice was held back under.
	Mode  string `json:"mode"`
	Basis string `json:"basis,omitempty"`
}

// Key is the idempotency key of the notice of audit entry seq.
func Key(seq int64) string { return "notice-" + strconv.FormatInt(seq, 10) }

// Decode reads a notice message's payload.
func Decode(payload []byte) (Notice, error) {
	var n Notice
	if err := json.Unmarshal(payload, &n); err != nil {
		return n, fmt.Errorf("notice payload: %w", err)
	}
	if n.Subject == "" || n.Seq <= 0 {
		return n, fmt.Errorf("notice payload: no subject or audit entry")
	}
	return n, nil
}

// Contact is where a person is told, read from their record at send
// time: the addresses the record holds, and the language of the notice.
type Contact struct {
	Email, Phone string
	// PreferSMS: the first contact field the record holds, in the
	// configured order, is a phone.
	PreferSMS bool
	// Lang is "fr" or "en".
	Lang string
}

// Text is a message to a person in the forms its channels send: an
// email's subject and plain-text body, and an SMS's one text.
type Text struct {
	Subject, Body string
	SMS           string
}
