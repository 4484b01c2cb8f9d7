package deliver

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/outbox"
)

// Headers of a webhook request.
const (
	HeaderSignature = "Coffre-Signature"
	HeaderKey       = "Coffre-Idempotency-Key"
	HeaderEvent     = "Coffre-Event"
)

// Errors of VerifyWebhook.
var (
	// ErrSignature: the header is malformed, or no v1 signature in it is
	// the body's under the secret.
	ErrSignature = errors.New("webhook signature does not match")
	// ErrStale: the signature's timestamp is outside the replay window.
	ErrStale = errors.New("webhook timestamp outside the replay window")
)

// Sign returns the Coffre-Signature header of body sent at t.
func Sign(secret, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

func mac(secret []byte, ts string, body []byte) string {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(ts))
	h.Write([]byte("."))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// VerifyWebhook checks a Coffre-Signature header against body and secret,
// for a receiver: ErrSignature unless one of its v1 values is the
// HMAC-SHA256 of "<t>." + body, ErrStale if t is more than window away
// from now (either way: a replay, or a clock far off). A receiver should
// also drop an idempotency key it has seen.
func VerifyWebhook(secret []byte, header string, body []byte, now time.Time, window time.Duration) error {
	var ts string
	var sigs []string
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		switch {
		case !ok:
			return ErrSignature
		case k == "t":
			ts = v
		case k == "v1":
			sigs = append(sigs, v)
		}
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrSignature
	}
	want := mac(secret, ts, body)
	ok := false
	for _, s := range sigs {
		ok = ok || hmac.Equal([]byte(s), []byte(want))
	}
	if !ok {
		return ErrSignature
	}
	if d := now.Sub(time.Unix(t, 0)); d > window || d < -window {
		return ErrStale
	}
	return nil
}

// Webhook posts signed JSON to the message's recipient, a URL.
type Webhook struct {
	// Secret signs each request.
	Secret []byte
	// Timeout bounds a request, answer included (default 10s).
	Timeout time.Duration
	// Client sends the requests (default: one that follows no redirect).
	Client *http.Client
	// Now is the clock of signatures (default time.Now).
	Now func() time.Time
}

// DefaultTimeout bounds a send.
const DefaultTimeout = 10 * time.Second

// Send posts the alert as JSON; 2xx is sent; 408, 429, 5xx, a timeout
// or a failed connection are retried; another answer is permanent.
func (h *Webhook) Send(ctx context.Context, m outbox.Message) error {
	al, err := alertOf(m)
	if err != nil {
		return err
	}
	body, err := webhookBody(m, al)
	if err != nil {
		return &Error{Class: "bad payload", Permanent: true}
	}
	return h.post(ctx, m.Recipient, m, body)
}

func (h *Webhook) post(ctx context.Context, url string, m outbox.Message, body []byte) error {
	timeout := cmp.Or(h.Timeout, DefaultTimeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return &Error{Class: "bad url", Permanent: true}
	}
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "coffre")
	req.Header.Set(HeaderEvent, m.Kind)
	req.Header.Set(HeaderKey, m.Key)
	req.Header.Set(HeaderSignature, Sign(h.Secret, body, now()))
	c := h.Client
	if c == nil {
		c = noRedirects
	}
	resp, err := c.Do(req)
	if err != nil {
		return netClass(ctx, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return statusClass(resp.StatusCode)
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// statusClass sorts an HTTP answer: nil for 2xx.
func statusClass(code int) error {
	switch {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests, code >= 500:
		return &Error{Class: fmt.Sprintf("http %d", code)}
	default:
		return &Error{Class: fmt.Sprintf("http %d", code), Permanent: true}
	}
}

// netClass sorts a failure to get an answer; all are retried.
func netClass(ctx context.Context, err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded || errors.As(err, &ne) && ne.Timeout():
		return &Error{Class: "timeout"}
	case errors.Is(err, context.Canceled):
		return &Error{Class: "interrupted"}
	default:
		return &Error{Class: "connect"}
	}
}

// SMS sends a message's text to its recipient, a phone number, through
// an SMS gateway's webhook: a signed POST of {"to", "text"} (the headers
// of [Webhook]).
type SMS struct {
	// Gateway is the gateway's URL.
	Gateway string
	Webhook
}

// Send posts {"to": recipient, "text": the alert in one line}.
func (s *SMS) Send(ctx context.Context, m outbox.Message) error {
	al, err := alertOf(m)
	if err != nil {
		return err
	}
	return s.SendText(ctx, m.Recipient, m, smsText(al))
}

// SendText posts {"to": to, "text": text} as message m.
func (s *SMS) SendText(ctx context.Context, to string, m outbox.Message, text string) error {
	body, err := json.Marshal(struct {
		To   string `json:"to"`
		Text string `json:"text"`
	}{to, text})
	if err != nil {
		return &Error{Class: "bad payload", Permanent: true}
	}
	return s.post(ctx, s.Gateway, m, body)
}
