package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"golang.org/x/time/rate"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/deliver"
	"github.com/coffre/coffre/internal/notice"
	"github.com/coffre/coffre/internal/outbox"
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
func newDeliveryWorker(cfg *config.Config, st store.Store, v *vault.Vault, keys notice.Hasher, log *slog.Logger) (*deliver.Worker, error) {
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
		w.Senders[outbox.ChannelPerson] = personSender(cfg, st, v, keys, email, sms)
	}
	return w, nil
}

// personSender is the sender of the messages to people: notices (alone,
// or a day's digest as one), by email or SMS after their record.
func personSender(cfg *config.Config, st store.Store, v *vault.Vault, keys notice.Hasher, email *deliver.SMTP, sms *deliver.SMS) *deliver.Person {
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
	return &deliver.Person{
		Contacts:    v,
		NoContact:   func(err error) bool { return errors.Is(err, vault.ErrNoContact) },
		Render:      map[string]deliver.Render{},
		RenderGroup: map[string]deliver.RenderGroup{notice.Kind: group},
		Email:       email,
		SMS:         sms,
		Quiet:       deliver.QuietHours(n.QuietStart, n.QuietEnd, n.Location),
	}
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
