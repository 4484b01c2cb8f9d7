package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/notice"
	"github.com/coffre/coffre/internal/outbox"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/subject"
)

// queueNotice queues, in the access's transaction, the notice of the
// allowed access e under purpose pu to the person it is about, after
// mode (the purpose's, or immediate for a break-glass read): now
// (immediate), at the next digest time (digest), once the deferral has
// passed (deferred), or not at all (history: the person sees the access
// in their history only). The notice holds ids only; the address is
// resolved when it is sent. It is keyed by its audit entry
// (notice.Key): every notice of an access goes through here.
func (v *Vault) queueNotice(ctx context.Context, tx outbox.Queue, a identity.Actor, pu *policy.Purpose, mode string, e *audit.Entry) error {
	if mode == policy.NoticeHistory || v.noticesOff {
		return nil
	}
	n := notice.Notice{Subject: e.Subject, Seq: e.Seq, Time: e.Time, Action: e.Action, Purpose: pu.Name, Fields: e.Fields,
		Role: a.Role, Unit: a.Unit, Mode: mode}
	if a.Sector != "" {
		n.Partner, n.Role, n.Unit = a.ID, "", ""
	} else if pu.NoticeNamesOperator {
		n.Operator = a.ID
	}
	due := e.Time
	switch mode {
	case policy.NoticeDigest:
		due = v.notices.NextDigest(e.Time)
	case policy.NoticeDeferred:
		due, n.Basis = e.Time.Add(pu.DeferredFor), pu.DeferredBasis
	}
	return queue(ctx, tx, notice.Kind, e.Subject, notice.Key(e.Seq), notice.Encode(&n), e.Time, due)
}

// queuePerson queues a message of kind to a person (their id), keyed by
// key, with payload p (ids only), created at created and due at due.
func queuePerson(ctx context.Context, q outbox.Queue, kind, subject, key string, p any, created, due time.Time) error {
	payload, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("%s message: %w", kind, err)
	}
	return queue(ctx, q, kind, subject, key, payload, created, due)
}

// queue queues a message of kind to a person, with its payload encoded.
func queue(ctx context.Context, q outbox.Queue, kind, subject, key string, payload []byte, created, due time.Time) error {
	return q.PutMessage(ctx, &outbox.Message{Kind: kind, Channel: outbox.ChannelPerson, Recipient: subject, Key: key, Payload: payload, Next: due, Created: created})
}

// Notices configures what people are told (config.Notices).
type Notices struct {
	// DigestAt is when digests go out: minutes after midnight in
	// Location (default UTC).
	DigestAt int
	Location *time.Location
	// Contacts are the email and phone fields a notice may go to, in
	// order of preference.
	Contacts []string
	// Language is the notices' language when LanguageField (a text
	// field, optional) holds neither fr nor en.
	Language, LanguageField string
	// Off queues no notice (benchmarks: the read path without them).
	// Contact still reads addresses, for the notices queued before.
	Off bool
}

// NextDigest is the first digest time after t.
func (n Notices) NextDigest(t time.Time) time.Time {
	loc := n.Location
	if loc == nil {
		loc = time.UTC
	}
	l := t.In(loc)
	d := time.Date(l.Year(), l.Month(), l.Day(), n.DigestAt/60, n.DigestAt%60, 0, 0, loc)
	if !d.After(t) {
		d = time.Date(l.Year(), l.Month(), l.Day()+1, n.DigestAt/60, n.DigestAt%60, 0, 0, loc)
	}
	return d
}

// ErrNoContact: the person's record is gone (erased) or holds no
// address a notice may go to.
var ErrNoContact = errors.New("no contact on the record")

// Contact reads where the person subject is told, from their record: the
// email and phone of the configured contact fields (the first of each
// kind the record holds) and the language. Only those fields are
// decrypted. It is the delivery worker's, acting for the person, not an
// operator's access: it is not audited, and what it returns is never
// stored or logged. A subject erased or unknown is ErrNoContact; a
// sealed vault or a store failure is an error to retry.
func (v *Vault) Contact(ctx context.Context, subjectID string) (notice.Contact, error) {
	return v.contactIn(ctx, subjectID, v.notices.Contacts)
}

// ContactField is where the person subject is told through one contact
// field of their record (the one a sign-in code was asked for), with
// their language; ErrNoContact if the field is not an email or phone
// field, or the record does not hold it.
func (v *Vault) ContactField(ctx context.Context, subjectID, field string) (notice.Contact, error) {
	if f, ok := v.pol.Field(field); !ok || f.Type != policy.TypeEmail && f.Type != policy.TypePhone {
		return notice.Contact{}, ErrNoContact
	}
	return v.contactIn(ctx, subjectID, []string{field})
}

// contactIn is the person's contact through fields, in that order.
func (v *Vault) contactIn(ctx context.Context, subjectID string, fields []string) (notice.Contact, error) {
	var row *subject.Row
	err := v.store.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
		row, err = tx.GetSubject(ctx, subjectID)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && row.Gone():
		return notice.Contact{}, ErrNoContact
	case err != nil:
		return notice.Contact{}, fmt.Errorf("contact of %s: %w", subjectID, err)
	}
	return v.contactOf(row, fields)
}

// contactOf reads where the person of row is told through fields: only
// those and the language field are decrypted.
func (v *Vault) contactOf(row *subject.Row, fields []string) (notice.Contact, error) {
	dk, err := v.keys.OpenDEK(row.ID, row.DEKVersion, row.DEK)
	if err != nil {
		return notice.Contact{}, fmt.Errorf("open data key of %s: %w", row.ID, err)
	}
	want := func(name string) bool {
		return name == v.notices.LanguageField || slices.Contains(fields, name)
	}
	vals := map[string]string{}
	err = eachField(row.Fields, func(name string, ct []byte) error {
		if !want(name) {
			return nil
		}
		pt, err := dk.Open(name, ct)
		if err != nil {
			return fmt.Errorf("open field %s of %s: %w", name, row.ID, err)
		}
		vals[name] = string(pt)
		return nil
	})
	if err != nil {
		return notice.Contact{}, err
	}
	return v.contactFrom(vals, fields)
}

// contactFrom is where a person is told, from the values of their
// record's contact and language fields: the first email and phone of
// fields; ErrNoContact if none.
func (v *Vault) contactFrom(vals map[string]string, fields []string) (notice.Contact, error) {
	c := notice.Contact{Lang: v.notices.Language}
	if l := vals[v.notices.LanguageField]; l == "fr" || l == "en" {
		c.Lang = l
	}
	for _, name := range fields {
		f, _ := v.pol.Field(name)
		switch val := vals[name]; {
		case val == "":
		case f.Type == policy.TypeEmail && c.Email == "":
			c.Email = val
		case f.Type == policy.TypePhone && c.Phone == "":
			c.Phone, c.PreferSMS = val, c.Email == ""
		}
	}
	if c.Email == "" && c.Phone == "" {
		return c, ErrNoContact
	}
	return c, nil
}
