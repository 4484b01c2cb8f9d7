package config

import (
	"cmp"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// hookFile is a webhook as written: its URL and its secret's source.
type hookFile struct {
	URL        leaf `key:"url"`
	SecretFile leaf `key:"secret_file"`
	SecretEnv  leaf `key:"secret_env"`
}

// maxMaxTries bounds delivery.max_tries.
const maxMaxTries = 100

// defaultSendTimeout is delivery.timeout's default (package deliver's
// DefaultTimeout); a lease is at least leasePerTimeout of them: a send
// starts in the first half of its lease and an SMTP send may take three
// timeouts (connection, commands).
const (
	defaultSendTimeout = 10 * time.Second
	leasePerTimeout    = 6
)

var phoneRE = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// delivery checks the delivery and alerts settings.
func (p *parser) delivery(f *file) (Delivery, Alerts) {
	df := f.Delivery
	var d Delivery // zero: the defaults of package deliver
	set(p, df.MaxTries, read[int], &d.MaxTries, between(1, maxMaxTries, false, "must be between %d and %d, got %d"))
	set(p, df.Backoff, dur, &d.Backoff, between(time.Second, time.Hour, false, "must be between %s and %s, got %s"))
	set(p, df.Timeout, dur, &d.Timeout, between(time.Second, 5*time.Minute, false, "must be between %s and %s, got %s"))
	set(p, df.Lease, dur, &d.Lease, between(time.Second, time.Hour, false, "must be between %s and %s, got %s"))
	set(p, df.Concurrency, read[int], &d.Concurrency, between(1, 256, false, "must be between %d and %d, got %d"))
	set(p, df.Batch, read[int], &d.Batch, between(1, 10000, false, "must be between %d and %d, got %d"))
	if timeout := cmp.Or(d.Timeout, defaultSendTimeout); d.Lease > 0 && d.Lease < leasePerTimeout*timeout {
		p.bad(df.Lease, "must be at least %d times delivery.timeout (%s), so that a send started late in its lease ends before it does: %s, got %s",
			leasePerTimeout, timeout, leasePerTimeout*timeout, d.Lease)
	}
	rate := func(f float64) string {
		if f < 0.01 || f > 10000 {
			return fmt.Sprintf("must be between 0.01 and 10000 messages per second, got %g", f)
		}
		return ""
	}
	set(p, df.Rates.Email, read[float64], &d.Rates.Email, rate)
	set(p, df.Rates.Webhook, read[float64], &d.Rates.Webhook, rate)
	set(p, df.Rates.SMS, read[float64], &d.Rates.SMS, rate)

	sf := df.SMTP
	s := SMTP{Port: 587, StartTLS: "mandatory"}
	set(p, sf.Host, read[string], &s.Host, func(h string) string {
		if h == "" || strings.ContainsAny(h, ":/ ") && net.ParseIP(h) == nil {
			return fmt.Sprintf("want a host name or IP address, without scheme or port (port is its own key), got %s", short(h))
		}
		return ""
	})
	set(p, sf.Port, read[int], &s.Port, between(1, 65535, false, "must be between %d and %d, got %d"))
	set(p, sf.StartTLS, read[string], &s.StartTLS, func(v string) string {
		return unknown("starttls policy", v, []string{"mandatory", "opportunistic", "none"})
	})
	set(p, sf.Username, read[string], &s.Username, nonEmpty)
	set(p, sf.PasswordFile, read[string], &s.PasswordFile, nonEmpty)
	set(p, sf.PasswordEnv, read[string], &s.PasswordEnv, nonEmpty)
	set(p, sf.From, read[string], &s.From, checkAddress)
	set(p, sf.ReplyTo, read[string], &s.ReplyTo, checkAddress)
	if anySet(sf.Host, sf.Port, sf.StartTLS, sf.Username, sf.PasswordFile, sf.PasswordEnv, sf.From, sf.ReplyTo) {
		for _, l := range []struct {
			l    leaf
			name string
		}{{sf.Host, "host"}, {sf.From, "from"}} {
			if !l.l.set() {
				p.bad(firstSet(sf.Host, sf.Port, sf.StartTLS, sf.Username, sf.PasswordFile, sf.PasswordEnv, sf.From, sf.ReplyTo), "delivery.smtp wants %s too", l.name)
			}
		}
		switch {
		case sf.PasswordFile.set() && sf.PasswordEnv.set():
			p.bad(sf.PasswordEnv, "set password_file or password_env, not both")
		case sf.Username.set() && !sf.PasswordFile.set() && !sf.PasswordEnv.set():
			p.bad(sf.Username, "a username wants its password from password_file or password_env (never in this file)")
		case !sf.Username.set() && (sf.PasswordFile.set() || sf.PasswordEnv.set()):
			p.bad(firstSet(sf.PasswordFile, sf.PasswordEnv), "a password wants a username")
		}
		if s.StartTLS == "none" && s.Host != "" && !loopback(s.Host) {
			p.bad(firstSet(sf.StartTLS, sf.Host), "starttls: none sends mail in clear text: only for a sink on a loopback host (localhost, 127.0.0.1), got %s", short(s.Host))
		}
	} else {
		s = SMTP{}
	}
	d.SMTP = s
	d.SMS = p.hook(df.SMS, "delivery.sms")

	af := f.Alerts
	var a Alerts
	var n int
	if a.Email, n = each(p, af.Email, true, func(v string) (string, string) { return v, checkAddress(v) }); n > 0 && !sf.Host.set() {
		p.bad(af.Email, "alerts by email want delivery.smtp (host, from)")
	}
	if a.SMS, n = each(p, af.SMS, true, func(v string) (string, string) {
		if !phoneRE.MatchString(v) {
			return v, fmt.Sprintf("want a phone number in international form, such as +33612345678, got %s", short(v))
		}
		return v, ""
	}); n > 0 && !df.SMS.URL.set() {
		p.bad(af.SMS, "alerts by SMS want delivery.sms (the gateway's url and secret)")
	}
	a.Webhook = p.hook(af.Webhook, "alerts.webhook")
	return d, a
}

// hook checks a webhook: a URL and exactly one source of its secret, or
// nothing.
func (p *parser) hook(hf hookFile, path string) Hook {
	var h Hook
	set(p, hf.URL, read[string], &h.URL, checkHookURL)
	set(p, hf.SecretFile, read[string], &h.SecretFile, nonEmpty)
	set(p, hf.SecretEnv, read[string], &h.SecretEnv, nonEmpty)
	if !anySet(hf.URL, hf.SecretFile, hf.SecretEnv) {
		return Hook{}
	}
	switch {
	case !hf.URL.set():
		p.bad(firstSet(hf.SecretFile, hf.SecretEnv), "%s wants url too", path)
	case hf.SecretFile.set() && hf.SecretEnv.set():
		p.bad(hf.SecretEnv, "set secret_file or secret_env, not both")
	case !hf.SecretFile.set() && !hf.SecretEnv.set():
		p.bad(hf.URL, "%s wants the secret that signs its requests from secret_file or secret_env (never in this file)", path)
	}
	return h
}

func anySet(ls ...leaf) bool {
	for _, l := range ls {
		if l.set() {
			return true
		}
	}
	return false
}

// checkAddress returns what is wrong with an email address, or "".
func checkAddress(s string) string {
	if a, err := mail.ParseAddress(s); err != nil || a.Address != s || a.Name != "" {
		return fmt.Sprintf("want an email address such as security@example.org, got %s", short(s))
	}
	return ""
}

// checkHookURL returns what is wrong with a webhook URL, or "". It never
// quotes the URL, which may hold a token.
func checkHookURL(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "" || u.Scheme != "https" && u.Scheme != "http":
		return "want an https:// URL"
	case u.Scheme == "http" && !loopback(u.Hostname()):
		return "want an https:// URL (http only on a loopback host, for tests)"
	case u.User != nil:
		return "want no credentials in the URL: the secret signs each request"
	}
	return ""
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
