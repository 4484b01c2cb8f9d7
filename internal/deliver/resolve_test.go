package deliver_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/deliver"
	"github.com/coffre/coffre/internal/deliver/delivertest"
	"github.com/coffre/coffre/internal/notice"
	"github.com/coffre/coffre/internal/outbox"
	"github.com/coffre/coffre/internal/store"
)

// TestPersonResolve: a kind's Resolve finds the address (an erasure's
// confirmation carries its own, and goes there though the record is
// gone; others go to the record's); the sender is told of each message finished, sent or dead,
// once its outcome is recorded.
func TestPersonResolve(t *testing.T) {
	s, c := openStore(t), &clock{t: time.Now()}
	mx := delivertest.StartSMTP(t)
	mx.Refuse = func(rcpt string) bool { return rcpt == "gone@example.org" }
	var mu sync.Mutex
	var done []string
	p := &deliver.Person{
		Contacts:  book{"sub_live": {Email: "live@example.org", Lang: "en"}},
		NoContact: func(err error) bool { return errors.Is(err, errGone) },
		Render: map[string]deliver.Render{"request": func(m outbox.Message, c notice.Contact) (notice.Text, error) {
			return notice.Text{Subject: "about " + m.Key, Body: "body", SMS: "sms"}, nil
		}},
		Email: &deliver.SMTP{Host: mx.Host, Port: mx.Port, StartTLS: deliver.TLSNone, From: "coffre@example.org"},
		Resolve: map[string]func(context.Context, outbox.Message) (notice.Contact, error){"request": func(_ context.Context, m outbox.Message) (notice.Contact, error) {
			switch m.Key {
			case "erased":
				return notice.Contact{Email: "erased@example.org", Lang: "fr"}, nil
			case "refused":
				return notice.Contact{Email: "gone@example.org"}, nil
			}
			return book{"sub_live": {Email: "live@example.org", Lang: "en"}}.Contact(ctx, m.Recipient)
		}},
		Done: func(_ context.Context, m outbox.Message) {
			mu.Lock()
			done = append(done, m.Key)
			mu.Unlock()
		},
	}
	w := newWorker(t, s, c, deliver.Recipients{}, map[string]deliver.Sender{outbox.ChannelPerson: p})
	now := c.now()
	for _, m := range []outbox.Message{
		{Kind: "request", Channel: outbox.ChannelPerson, Recipient: "sub_live", Key: "live", Payload: []byte(`{}`), Next: now, Created: now},
		{Kind: "request", Channel: outbox.ChannelPerson, Recipient: "sub_erased", Key: "erased", Payload: []byte(`{}`), Next: now, Created: now},
		{Kind: "request", Channel: outbox.ChannelPerson, Recipient: "sub_erased2", Key: "refused", Payload: []byte(`{}`), Next: now, Created: now},
		{Kind: "request", Channel: outbox.ChannelPerson, Recipient: "sub_none", Key: "none", Payload: []byte(`{}`), Next: now, Created: now},
	} {
		if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.PutMessage(ctx, &m) }); err != nil {
			t.Fatal(err)
		}
	}
	step(t, w)
	var to []string
	for _, m := range mx.Mails() {
		to = append(to, m.To...)
	}
	slices.Sort(to)
	if !slices.Equal(to, []string{"erased@example.org", "live@example.org"}) {
		t.Errorf("mails to %v, want the carried address and the record's", to)
	}
	status := map[string]string{}
	for _, m := range messages(t, s) {
		status[m.Key] = m.Status + " " + m.LastError
	}
	if status["live"] != "sent " || status["erased"] != "sent " || status["refused"] != "dead smtp 550 rejected" || status["none"] != "dead no contact" {
		t.Errorf("outcomes = %v", status)
	}
	slices.Sort(done)
	if !slices.Equal(done, []string{"erased", "live", "none", "refused"}) {
		t.Errorf("done = %v, want every message, sent or dead", done)
	}
}
