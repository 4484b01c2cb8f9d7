package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"golang.org/x/time/rate"

	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/deliver"
	"github.com/coffre/coffre/internal/outbox"
	"github.com/coffre/coffre/internal/store"
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
// alert recipient is configured (alerts then stay queued, and the
// metrics count them).
func newDeliveryWorker(cfg *config.Config, st store.Store, log *slog.Logger) (*deliver.Worker, error) {
	a, d := cfg.Alerts, cfg.Delivery
	if len(a.Email) == 0 && a.Webhook.URL == "" && len(a.SMS) == 0 {
		return nil, nil
	}
	w := &deliver.Worker{
		Update: func(ctx context.Context, fn func(context.Context, outbox.Delivery) error) error {
			return st.Update(ctx, func(ctx context.Context, tx store.Tx) error { return fn(ctx, tx) })
		},
		Senders:  map[string]deliver.Sender{},
		Alerts:   deliver.Recipients{Email: a.Email, SMS: a.SMS},
		MaxTries: d.MaxTries, Backoff: d.Backoff, Logger: log,
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
	return w, nil
}
