package auditstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/coffre/coffre/internal/deliver"
)

// Webhook is a sink that POSTs each batch of records to a URL as JSON,
// {"records": [...]}, signed as the alerts' webhooks are (Coffre-Signature:
// HMAC-SHA256 of "<t>." + body under Secret; deliver.VerifyWebhook checks
// it), with Coffre-Event: audit and Coffre-Idempotency-Key:
// audit-<first>-<last>. A 2xx answer acknowledges the batch: unlike
// syslog over TCP, a record is held once its answer says so.
type Webhook struct {
	URL    string
	Secret []byte
	// Client sends the requests (default: a 30 s timeout).
	Client *http.Client

	mu   sync.Mutex
	held int64
}

// Name implements Sink: the URL without its query or credentials.
func (h *Webhook) Name() string {
	u, err := url.Parse(h.URL)
	if err != nil {
		return "webhook"
	}
	return "webhook:" + u.Scheme + "://" + u.Host + u.Path
}

// Send implements Sink.
func (h *Webhook) Send(ctx context.Context, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	body, err := json.Marshal(struct {
		Records []Record `json:"records"`
	}{recs})
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	first, last := recs[0].Index, recs[len(recs)-1].Index
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(deliver.HeaderEvent, "audit")
	req.Header.Set(deliver.HeaderKey, "audit-"+strconv.FormatInt(first, 10)+"-"+strconv.FormatInt(last, 10))
	req.Header.Set(deliver.HeaderSignature, deliver.Sign(h.Secret, body, time.Now()))
	c := h.Client
	if c == nil {
		c = &http.Client{Timeout: 30 * time.Second}
	}
	res, err := c.Do(req)
	if err != nil {
		// Not the *url.Error itself: it quotes the URL, query included,
		// where a receiver's token may be.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("post: %w", err)
	}
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("post: http %d", res.StatusCode) // the status only: a body may echo anything
	}
	h.mu.Lock()
	h.held = max(h.held, last+1)
	h.mu.Unlock()
	return nil
}

// Held implements Sink: every record of an acknowledged batch.
func (h *Webhook) Held() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.held
}

// Close implements Sink.
func (h *Webhook) Close() error { return nil }
