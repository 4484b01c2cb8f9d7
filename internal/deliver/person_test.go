package deliver_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/deliver"
	"github.com/coffre/coffre/internal/deliver/delivertest"
	"github.com/coffre/coffre/internal/notice"
	"github.com/coffre/coffre/internal/outbox"
	"github.com/coffre/coffre/internal/store"
)

var errGone = errors.New("gone")

var t0 = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

// book is a Contacts of fixed addresses.
type book map[string]notice.Contact

func (b book) Contact(_ context.Context, subject string) (notice.Contact, error) {
	c, ok := b[subject]
	if !ok {
		return c, errGone
	}
	return c, nil
}

func putNotice(t *testing.T, s store.Store, subject string, seq int64, due time.Time, extra string) {
	t.Helper()
	payload := fmt.Sprintf(`{"subject":%q,"seq":%d,"purpose":"case-handling","fields":["phone"],"mode":"digest"%s}`, subject, seq, extra)
	m := &outbox.Message{Kind: notice.Kind, Channel: outbox.ChannelPerson, Recipient: subject, Key: notice.Key(seq), Payload: []byte(payload), Next: due, Created: due}
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.PutMessage(ctx, m) }); err != nil {
		t.Fatal(err)
	}
}

// TestPersonSender: a message to a person goes to the address its record
// holds at send time, by email, or by SMS when the record prefers a phone
// or the payload names it; a day's digest of one person is one message;
// a record without an address, or gone, is a dead letter, not a loop; an
// SMS in the quiet hours waits for their end without being dead.
func TestPersonSender(t *testing.T) {
	s := openStore(t)
	c := &clock{t: t0}
	mx := delivertest.StartSMTP(t)
	sms := delivertest.StartHook(t, secret)
	contacts := book{
		"sub_mail":  {Email: "anne@example.org", Phone: "+33611111111", Lang: "fr"},
		"sub_phone": {Email: "bob@example.org", Phone: "+33622222222", PreferSMS: true, Lang: "en"},
		"sub_none":  {Lang: "en"},
	}
	wr := &notice.Writer{Organisation: "Org", Where: "the portal", Phrases: hasher{}}
	quiet := false
	p := &deliver.Person{
		Contacts:  contacts,
		NoContact: func(err error) bool { return errors.Is(err, errGone) },
		RenderGroup: map[string]deliver.RenderGroup{notice.Kind: func(ms []outbox.Message, c notice.Contact) (notice.Text, error) {
			var ns []notice.Notice
			for _, m := range ms {
				n, err := notice.Decode(m.Payload)
				if err != nil {
					return notice.Text{}, err
				}
				ns = append(ns, n)
			}
			return wr.Text(ns, c), nil
		}},
		Email: &deliver.SMTP{Host: mx.Host, Port: mx.Port, StartTLS: deliver.TLSNone, From: "coffre@example.org"},
		SMS:   &deliver.SMS{Gateway: sms.URL, Webhook: deliver.Webhook{Secret: secret}},
		Quiet: func(time.Time) (time.Time, bool) { return t0.Add(10 * time.Hour), quiet },
	}
	w := newWorker(t, s, c, deliver.Recipients{}, map[string]deliver.Sender{outbox.ChannelPerson: p})

	digest := t0
	putNotice(t, s, "sub_mail", 1, digest, "")
	putNotice(t, s, "sub_mail", 2, digest, "")
	putNotice(t, s, "sub_mail", 3, digest, `,"via":"sms"`)
	putNotice(t, s, "sub_phone", 4, digest.Add(time.Second), "")
	putNotice(t, s, "sub_none", 5, digest, "")
	putNotice(t, s, "sub_gone", 6, digest, "")
	c.add(2 * time.Second)
	if err := w.Step(ctx); err != nil {
		t.Fatal(err)
	}

	mails := mx.Mails()
	if len(mails) != 1 || mails[0].To[0] != "anne@example.org" {
		t.Fatalf("mails = %+v, want one digest to anne", mails)
	}
	if body := mails[0].Body(t); !strings.Contains(body, "Org a consulté votre dossier 2 fois.") || strings.Count(body, "Entrée du journal") != 2 {
		t.Errorf("digest body:\n%s", body)
	}
	reqs := sms.Requests()
	var to []string
	for _, r := range reqs {
		var b struct{ To, Text string }
		json.Unmarshal(r.Body, &b)
		to = append(to, b.To)
		if strings.Contains(b.Text, "@") {
			t.Errorf("SMS text holds an address: %q", b.Text)
		}
	}
	if len(reqs) != 2 || !strings.Contains(strings.Join(to, ","), "+33611111111") || !strings.Contains(strings.Join(to, ","), "+33622222222") {
		t.Fatalf("SMS to %v, want anne's (via sms) and bob's (prefers SMS)", to)
	}
	status := map[string]outbox.Message{}
	for _, m := range messages(t, s) {
		status[m.Key] = m
	}
	for key, want := range map[string]string{"notice-1": "sent", "notice-2": "sent", "notice-3": "sent", "notice-4": "sent", "notice-5": "dead", "notice-6": "dead"} {
		if got := status[key]; got.Status != want {
			t.Errorf("%s: %s (%s), want %s", key, got.Status, got.LastError, want)
		}
	}
	if m := status["notice-6"]; m.LastError != "no contact" {
		t.Errorf("gone record: class %q, want no contact", m.LastError)
	}

	// Quiet hours: the SMS waits for their end, not dead.
	quiet = true
	putNotice(t, s, "sub_phone", 7, c.now(), "")
	if err := w.Step(ctx); err != nil {
		t.Fatal(err)
	}
	for _, m := range messages(t, s) {
		if m.Key == "notice-7" && (m.Status != outbox.StatusPending || m.LastError != "quiet hours" || !m.Next.Equal(t0.Add(10*time.Hour))) {
			t.Errorf("SMS in quiet hours: %+v, want pending until their end", m)
		}
	}
	if n := len(sms.Requests()); n != 2 {
		t.Errorf("%d SMS sent, want none more in the quiet hours", n-2)
	}
}

func TestQuietHours(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	at := func(h, m int) time.Time { return time.Date(2026, 11, 30, h, m, 0, 0, paris) }
	for _, tt := range []struct {
		name       string
		start, end int
		t          time.Time
		quiet      bool
		until      time.Time
	}{
		{"overnight, evening", 21 * 60, 8 * 60, at(22, 15), true, at(8, 0).AddDate(0, 0, 1)},
		{"overnight, early morning", 21 * 60, 8 * 60, at(6, 0), true, at(8, 0)},
		{"overnight, day", 21 * 60, 8 * 60, at(8, 0), false, time.Time{}},
		{"overnight, just before", 21 * 60, 8 * 60, at(20, 59), false, time.Time{}},
		{"same day", 12 * 60, 14 * 60, at(13, 0), true, at(14, 0)},
		{"same day, after", 12 * 60, 14 * 60, at(14, 0), false, time.Time{}},
		{"none", 0, 0, at(3, 0), false, time.Time{}},
		{"in UTC", 21 * 60, 8 * 60, time.Date(2026, 11, 30, 21, 30, 0, 0, time.UTC), true, at(8, 0).AddDate(0, 0, 1)},
	} {
		until, quiet := deliver.QuietHours(tt.start, tt.end, paris)(tt.t)
		if quiet != tt.quiet || !until.Equal(tt.until) {
			t.Errorf("%s: %v, %v; want %v, %v", tt.name, until, quiet, tt.until, tt.quiet)
		}
	}
}

// hasher is a fixed notice.Hasher.
type hasher struct{}

func (hasher) StableHash(label, value string) []byte {
	out := make([]byte, 32)
	copy(out, value)
	return out
}

// TestPrune: sent messages older than KeepSent go; newer ones, pending
// and dead ones stay.
func TestPrune(t *testing.T) {
	s := openStore(t)
	c := &clock{t: t0}
	mx := delivertest.StartSMTP(t)
	p := &deliver.Person{Contacts: book{"sub_a": {Email: "a@example.org"}}, NoContact: func(err error) bool { return errors.Is(err, errGone) },
		RenderGroup: map[string]deliver.RenderGroup{notice.Kind: func([]outbox.Message, notice.Contact) (notice.Text, error) {
			return notice.Text{Subject: "s", Body: "b"}, nil
		}},
		Email: &deliver.SMTP{Host: mx.Host, Port: mx.Port, StartTLS: deliver.TLSNone, From: "coffre@example.org"}}
	w := newWorker(t, s, c, deliver.Recipients{}, map[string]deliver.Sender{outbox.ChannelPerson: p})
	w.KeepSent = 24 * time.Hour
	putNotice(t, s, "sub_a", 1, t0, "")
	if err := w.Step(ctx); err != nil {
		t.Fatal(err)
	}
	c.add(12 * time.Hour)
	putNotice(t, s, "sub_a", 2, c.now(), "")
	putNotice(t, s, "sub_gone", 3, c.now(), "")
	if err := w.Step(ctx); err != nil {
		t.Fatal(err)
	}
	c.add(13 * time.Hour)
	if err := w.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, m := range messages(t, s) {
		keys = append(keys, m.Key+":"+m.Status)
	}
	if got := strings.Join(keys, ","); got != "notice-2:sent,notice-3:dead" {
		t.Errorf("left after pruning: %s, want the newer sent one and the dead letter", got)
	}
}
