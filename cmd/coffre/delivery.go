package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"golang.org/x/time/rate"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/breach"
	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/consent"
	"github.com/coffre/coffre/internal/contact"
	"github.com/coffre/coffre/internal/deliver"
	"github.com/coffre/coffre/internal/incident"
	"github.com/coffre/coffre/internal/me"
	"github.com/coffre/coffre/internal/notice"
	"github.com/coffre/coffre/internal/outbox"
	"github.com/coffre/coffre/internal/rights"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/vault"
)

// minHookSecret is the shortest webhook secret accepted, in bytes.
const minHookSecret = 16

// readSecret reads a secret from file or from the variable env (config
// checked that exactly one is set). Errors name where it was looked for,
// never what was found.
func readSecret(what, file, env string) ([]byte, error) {
	var b []byte
	from := "file " + file
	if file != "" {
		var err error
		if b, err = os.ReadFile(file); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		b = []byte(strings.TrimRight(string(b), "\r\n"))
	} else {
		from = "variable " + env
		b = []byte(os.Getenv(env))
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("%s: the %s is empty or unset", what, from)
	}
	return b, nil
}

// newDeliveryWorker builds the delivery worker of cfg, or nil when no
// sender is configured (alerts and notices then stay queued, and the
// metrics count them). v resolves people's addresses, keys make their
// verification phrases.
func newDeliveryWorker(cfg *config.Config, st store.Store, v *vault.Vault, keys me.Keys, log *slog.Logger) (*deliver.Worker, error) {
	a, d := cfg.Alerts, cfg.Delivery
	if len(a.Email) == 0 && a.Webhook.URL == "" && len(a.SMS) == 0 && d.SMTP.Host == "" && d.SMS.URL == "" {
		return nil, nil
	}
	w := &deliver.Worker{
		Update: func(ctx context.Context, fn func(context.Context, outbox.Delivery) error) error {
			return st.Update(ctx, func(ctx context.Context, tx store.Tx) error { return fn(ctx, tx) })
		},
		Senders:  map[string]deliver.Sender{},
		Alerts:   deliver.Recipients{Email: a.Email, SMS: a.SMS},
		MaxTries: d.MaxTries, Backoff: d.Backoff, Lease: d.Lease, Concurrency: d.Concurrency, Batch: d.Batch, Logger: log,
		Rates: map[string]rate.Limit{},
	}
	for ch, r := range map[string]float64{outbox.ChannelEmail: d.Rates.Email, outbox.ChannelWebhook: d.Rates.Webhook, outbox.ChannelSMS: d.Rates.SMS} {
		if r > 0 {
			w.Rates[ch] = rate.Limit(r)
		}
	}
	if s := d.SMTP; s.Host != "" {
		var pw []byte
		if s.Username != "" {
			var err error
			if pw, err = readSecret("delivery.smtp password", s.PasswordFile, s.PasswordEnv); err != nil {
				return nil, err
			}
		}
		w.Senders[outbox.ChannelEmail] = &deliver.SMTP{Host: s.Host, Port: s.Port, StartTLS: s.StartTLS, Username: s.Username, Password: string(pw),
			From: s.From, ReplyTo: s.ReplyTo, Timeout: d.Timeout}
	}
	hook := func(what string, h config.Hook) (*deliver.Webhook, error) {
		secret, err := readSecret(what+" secret", h.SecretFile, h.SecretEnv)
		if err != nil {
			return nil, err
		}
		if len(secret) < minHookSecret {
			return nil, fmt.Errorf("%s secret: too short (%d bytes): want at least %d, such as the output of openssl rand -hex 32", what, len(secret), minHookSecret)
		}
		return &deliver.Webhook{Secret: secret, Timeout: d.Timeout}, nil
	}
	if a.Webhook.URL != "" {
		h, err := hook("alerts.webhook", a.Webhook)
		if err != nil {
			return nil, err
		}
		w.Senders[outbox.ChannelWebhook] = h
		w.Alerts.Webhook = []string{a.Webhook.URL}
	}
	if d.SMS.URL != "" {
		h, err := hook("delivery.sms", d.SMS)
		if err != nil {
			return nil, err
		}
		w.Senders[outbox.ChannelSMS] = &deliver.SMS{Gateway: d.SMS.URL, Webhook: *h}
	}
	if len(w.Senders) == 0 {
		return nil, errors.New("alerts: no sender configured")
	}
	email, _ := w.Senders[outbox.ChannelEmail].(*deliver.SMTP)
	sms, _ := w.Senders[outbox.ChannelSMS].(*deliver.SMS)
	if email != nil || sms != nil {
		w.Senders[outbox.ChannelPerson] = personSender(cfg, st, v, keys, email, sms, log)
	}
	return w, nil
}

// personSender is the sender of the messages to people: notices (alone,
// or a day's digest as one) and the messages about their requests, by
// email or SMS after their record; an erasure's confirmation to the
// address it carries, forgotten once it is sent or dead.
func personSender(cfg *config.Config, st store.Store, v *vault.Vault, keys me.Keys, email *deliver.SMTP, sms *deliver.SMS, log *slog.Logger) *deliver.Person {
	n := cfg.Notices
	purposes := map[string]string{}
	for name, pu := range cfg.Policy.Purposes {
		purposes[name] = pu.Description
	}
	wr := &notice.Writer{Organisation: n.Organisation, Where: n.Where, Phrases: keys, Purposes: purposes, Location: n.Location,
		LeafHash: func(seq int64) string { return leafHash(st, seq) }}
	group := func(ms []outbox.Message, c notice.Contact) (notice.Text, error) {
		ns := make([]notice.Notice, len(ms))
		for i, m := range ms {
			var err error
			if ns[i], err = notice.Decode(m.Payload); err != nil {
				return notice.Text{}, err
			}
		}
		return wr.Text(ns, c), nil
	}
	ct := consent.Texts{Organisation: n.Organisation, Phrase: keys, Purposes: purposes, Location: n.Location}
	cc := contact.Texts{Organisation: n.Organisation, Phrase: keys, Location: n.Location}
	requests := &rights.Writer{Organisation: n.Organisation, Where: n.Where, Authority: cfg.Rights.Authority, Phrases: keys, Location: n.Location}
	return &deliver.Person{
		Contacts: v,
		// A record gone, or one without an address, or a change whose old
		// address is forgotten: the message goes nowhere.
		NoContact: func(err error) bool { return errors.Is(err, vault.ErrNoContact) || errors.Is(err, store.ErrNotFound) },
		Resolve: map[string]func(context.Context, outbox.Message) (notice.Contact, error){
			// A change of address is told to the address it replaces.
			contact.Kind: func(ctx context.Context, m outbox.Message) (notice.Contact, error) {
				msg, err := contact.Decode(m.Payload)
				if err != nil {
					return notice.Contact{}, fmt.Errorf("%w: %v", vault.ErrNoContact, err)
				}
				return v.ContactForChange(ctx, m.Recipient, msg.Change)
			},
			// A sign-in code goes to the contact the person typed.
			me.CodeKind: func(ctx context.Context, m outbox.Message) (notice.Contact, error) {
				var p me.CodeMessage
				if err := json.Unmarshal(m.Payload, &p); err != nil {
					return notice.Contact{}, fmt.Errorf("%w: %v", vault.ErrNoContact, err)
				}
				return v.ContactField(ctx, m.Recipient, p.Field)
			},
			// An erasure's confirmation carries the address the erased
			// record held.
			rights.MessageKind: func(ctx context.Context, m outbox.Message) (notice.Contact, error) {
				if r, ok := courier(m); ok {
					return v.RequestCourier(ctx, r)
				}
				return v.Contact(ctx, m.Recipient)
			},
		},
		Render: map[string]deliver.Render{consent.Kind: consent.Renderer(ct), contact.Kind: contact.Renderer(cc), rights.MessageKind: requests.Text,
			me.CodeKind: me.CodeRenderer(keys), breach.LetterKind: breachLetter(cfg, st, keys)},
		RenderGroup: map[string]deliver.RenderGroup{notice.Kind: group},
		Email:       email,
		SMS:         sms,
		Quiet:       deliver.QuietHours(n.QuietStart, n.QuietEnd, n.Location),
		Done: func(ctx context.Context, m outbox.Message) {
			if r, ok := courier(m); ok {
				if err := v.ForgetCourier(ctx, r); err != nil {
					// The week's bound drops it at a later decision.
					log.WarnContext(ctx, "delivery: courier not forgotten", "request", r, "error", err)
				}
			}
		},
	}
}

// breachSettings are what the reports and letters of incidents say of
// the organisation, from the configuration.
func breachSettings(cfg *config.Config) breach.Settings {
	return breach.Settings{Organisation: cfg.Notices.Organisation, Controller: cfg.Rights.Controller, DPO: cfg.Rights.DPO,
		Authority: cfg.Rights.Authority, Portal: cfg.Notices.Where, Location: cfg.Notices.Location}
}

// breachLetter renders an incident's letter to one person (art. 34): the
// incident and its timeline read when it is sent, the person's exposed
// fields from the message.
func breachLetter(cfg *config.Config, st store.Store, keys me.Keys) deliver.Render {
	return func(m outbox.Message, c notice.Contact) (notice.Text, error) {
		msg, err := breach.DecodeLetter(m.Payload)
		if err != nil {
			return notice.Text{}, err
		}
		var inc *incident.Incident
		var evs []incident.Event
		if err := st.View(context.Background(), func(ctx context.Context, tx store.Tx) (err error) {
			if inc, err = tx.GetIncident(ctx, msg.Incident); err != nil {
				return err
			}
			evs, err = tx.Events(ctx, msg.Incident)
			return err
		}); err != nil {
			return notice.Text{}, &deliver.Error{Class: "incident unavailable"}
		}
		s := breachSettings(cfg)
		s.Measures = breach.MeasureKinds(evs)
		lang := "fr"
		if c.Lang == "en" {
			lang = "en"
		}
		return breach.Letter(inc, msg.Fields, c, s, notice.Phrase(keys, m.Recipient, lang)), nil
	}
}

// courier returns the request whose confirmation m is when m carries the
// person's address (an accepted erasure's).
func courier(m outbox.Message) (string, bool) {
	if m.Kind != rights.MessageKind {
		return "", false
	}
	msg, err := rights.Decode(m.Payload)
	return msg.Request, err == nil && msg.Courier
}

// leafHash is the hex leaf hash of audit entry seq, "" if it cannot be
// read.
func leafHash(st store.Store, seq int64) string {
	var h string
	st.View(context.Background(), func(ctx context.Context, tx store.Tx) error {
		return tx.AuditLeaves(ctx, seq, seq+1, func(_ int64, leaf []byte) error {
			h = hex.EncodeToString(audit.Hasher.HashLeaf(leaf))
			return nil
		})
	})
	return h
}
