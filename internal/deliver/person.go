package deliver

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/coffre/coffre/internal/notice"
	"github.com/coffre/coffre/internal/outbox"
)

// Contacts reads where a person is told, from their record, when a
// message is sent (so that the queue holds no address). ErrNoContact
// (any error wrapping an error whose text the caller chose) is for a
// record that holds none.
type Contacts interface {
	Contact(ctx context.Context, subject string) (notice.Contact, error)
}

// Render writes a message to a person (one kind: a notice, a sign-in
// code, a consent request) in the contact's language.
type Render func(m outbox.Message, c notice.Contact) (notice.Text, error)

// RenderGroup writes several messages of one kind to one person as one
// (a digest of notices).
type RenderGroup func(ms []outbox.Message, c notice.Contact) (notice.Text, error)

// Person sends the messages of channel outbox.ChannelPerson: their
// Recipient is a subject id; the address is read from the record at
// send time, and the message goes by email, or by SMS when the record
// has no email (or its first contact is a phone), unless its payload
// names one ("via": "email" or "sms", a sign-in code sent to the
// contact the person typed).
type Person struct {
	Contacts Contacts
	// NoContact reports whether an error of Contacts means the record
	// holds no address (erased, or none on file): the message is dead.
	NoContact func(error) bool
	// Resolve, for the kinds that have one, finds the address instead of
	// Contacts: a change of address is told to the old one; an erasure's
	// confirmation, sent once the record and the address in it are gone,
	// carries its own.
	Resolve map[string]func(ctx context.Context, m outbox.Message) (notice.Contact, error)
	// Render writes each kind; RenderGroup, for the kinds that have one,
	// writes several messages of a person due at the same time as one.
	Render      map[string]Render
	RenderGroup map[string]RenderGroup
	// Email and SMS send the text; nil: no such channel.
	Email *SMTP
	SMS   *SMS
	// Quiet, when set, says whether t is in the quiet hours, during
	// which no SMS is sent, and when they end.
	Quiet func(t time.Time) (end time.Time, quiet bool)
	// Now is the clock of quiet hours (default time.Now).
	Now func() time.Time
	// Wait waits for the rate limit of the channel a message goes by
	// (email, sms); the Worker sets it to its own limits.
	Wait func(ctx context.Context, channel string) error
	// Done, when set, is told of each message to a person once it is
	// finished, sent or dead, after the outcome is recorded (the Worker
	// calls it): a message that carried an address has it forgotten.
	Done func(ctx context.Context, m outbox.Message)
}

// contact is where m goes: its kind's Resolve, or the record's address.
func (p *Person) contact(ctx context.Context, m outbox.Message) (notice.Contact, error) {
	if r, ok := p.Resolve[m.Kind]; ok {
		return r(ctx, m)
	}
	return p.Contacts.Contact(ctx, m.Recipient)
}

// via is the channel a payload names, if any.
func via(payload []byte) string {
	var v struct {
		Via string `json:"via"`
	}
	json.Unmarshal(payload, &v) // a payload without it (or not JSON) names none
	return v.Via
}

// Close closes the email sender's kept connections.
func (p *Person) Close() error {
	if p.Email != nil {
		return p.Email.Close()
	}
	return nil
}

// Send sends m alone.
func (p *Person) Send(ctx context.Context, m outbox.Message) error {
	return p.SendGroup(ctx, []outbox.Message{m})
}

// SendGroup sends ms, all of one kind to one person, as one message.
func (p *Person) SendGroup(ctx context.Context, ms []outbox.Message) error {
	m := ms[0]
	c, err := p.contact(ctx, m)
	switch {
	case err != nil && p.NoContact != nil && p.NoContact(err):
		return &Error{Class: "no contact", Permanent: true}
	case err != nil:
		return &Error{Class: "contact unavailable"}
	}
	var text notice.Text
	if g, ok := p.RenderGroup[m.Kind]; ok {
		text, err = g(ms, c)
	} else if r, ok := p.Render[m.Kind]; ok && len(ms) == 1 {
		text, err = r(m, c)
	} else {
		return &Error{Class: "unknown kind", Permanent: true}
	}
	if err != nil {
		var de *Error
		if errors.As(err, &de) {
			return de
		}
		return &Error{Class: "bad payload", Permanent: true}
	}
	want := via(m.Payload)
	canEmail, canSMS := c.Email != "" && p.Email != nil, c.Phone != "" && p.SMS != nil
	var channel string
	switch {
	case want != "":
		if want == outbox.ChannelEmail && canEmail || want == outbox.ChannelSMS && canSMS {
			channel = want
		}
	case canEmail && !(c.PreferSMS && canSMS):
		channel = outbox.ChannelEmail
	case canSMS:
		channel = outbox.ChannelSMS
	}
	if channel == "" {
		return &Error{Class: "no channel for contact", Permanent: true}
	}
	if channel == outbox.ChannelSMS && p.Quiet != nil {
		now := time.Now
		if p.Now != nil {
			now = p.Now
		}
		if end, quiet := p.Quiet(now()); quiet {
			return &Error{Class: "quiet hours", Until: end}
		}
	}
	if p.Wait != nil {
		if err := p.Wait(ctx, channel); err != nil {
			return &Error{Class: "interrupted"}
		}
	}
	if channel == outbox.ChannelEmail {
		return p.Email.SendText(ctx, c.Email, m, text)
	}
	return p.SMS.SendText(ctx, c.Phone, m, text.SMS)
}

// QuietHours returns the Quiet function of the hours from start to end
// (minutes after midnight in loc; across midnight when start > end; none
// when equal).
func QuietHours(start, end int, loc *time.Location) func(time.Time) (time.Time, bool) {
	return func(t time.Time) (time.Time, bool) {
		if start == end {
			return time.Time{}, false
		}
		l := t.In(loc)
		m := l.Hour()*60 + l.Minute()
		at := func(day, min int) time.Time {
			return time.Date(l.Year(), l.Month(), l.Day()+day, min/60, min%60, 0, 0, loc)
		}
		switch {
		case start < end && m >= start && m < end:
			return at(0, end), true
		case start > end && m >= start:
			return at(1, end), true
		case start > end && m < end:
			return at(0, end), true
		}
		return time.Time{}, false
	}
}
