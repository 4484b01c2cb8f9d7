// Package client is a Go client of Coffre's HTTP API (docs/openapi.json):
// an operator's login with a password and a second factor (TOTP, or a
// security key's assertion), a lookup and a read of one person for a
// declared purpose, and any other route through [Client.Do]. Errors are
// [*Error] values that errors.Is matches against the sentinels
// ([ErrLocked], [ErrRateLimited], …); a 429 is retried after its
// Retry-After, a few times, within the context's deadline.
//
//	c, err := client.New("https://coffre.example.org")
//	step, err := c.Login(ctx, "camille", password)
//	err = c.TOTP(ctx, step.LoginToken, code) // the session is c's from now on
//	id, err := c.Lookup(ctx, client.Access{Purpose: "directory"}, "email_pro", "c.martin@example.org")
//	v, err := c.Read(ctx, id, client.Access{Purpose: "case-handling", Reason: "ticket 42"})
//	if errors.Is(err, client.ErrLocked) { … } // the guard locked the account
//
// A session is bound to the client's address and User-Agent: use one
// Client for a session's requests.
package client

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
	"strings"
	"sync"
	"time"
)

// Client calls one Coffre server. It is safe for concurrent use.
type Client struct {
	base    string
	http    *http.Client
	agent   string
	retries int
	maxWait time.Duration

	mu    sync.Mutex
	token string
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sends the requests through h (default: a client with a
// 30 s timeout).
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithToken starts the Client with a session token (an operator's, from
// an earlier login, or a person's).
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// WithUserAgent sets the User-Agent (default: Go's, Go-http-client/1.1).
// A session is bound to it: the login and the calls that use its session
// must send the same.
func WithUserAgent(ua string) Option { return func(c *Client) { c.agent = ua } }

// WithRetries sets how many times a 429 is retried after its Retry-After
// (default 2; 0: never), and the longest wait honoured (default 30 s: a
// longer Retry-After is returned as the error at once).
func WithRetries(n int, maxWait time.Duration) Option {
	return func(c *Client) { c.retries, c.maxWait = n, maxWait }
}

// New returns a Client of the server at baseURL (http or https, no path
// beyond the server's root).
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: base URL %q: want http(s)://host[:port]", baseURL)
	}
	c := &Client{base: strings.TrimSuffix(baseURL, "/"), http: &http.Client{Timeout: 30 * time.Second}, retries: 2, maxWait: 30 * time.Second}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// Token is the session token the Client sends ("" before a login).
func (c *Client) Token() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token
}

func (c *Client) setToken(t string) {
	c.mu.Lock()
	c.token = t
	c.mu.Unlock()
}

// Do calls method path (such as "/v1/alerts") with the JSON body in (nil:
// none) and header, and decodes a JSON answer into out (nil: it is
// dropped). It returns the answer's status, and for an error status an
// [*Error].
func (c *Client) Do(ctx context.Context, method, path string, header http.Header, in, out any) (int, error) {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return 0, fmt.Errorf("client: %s %s: encode the body: %w", method, path, err)
		}
	}
	for try := 0; ; try++ {
		status, err := c.once(ctx, method, path, header, body, out)
		var e *Error
		if !errors.As(err, &e) || e.Status != http.StatusTooManyRequests || try >= c.retries || e.RetryAfter <= 0 || e.RetryAfter > c.maxWait {
			return status, err
		}
		if d, ok := ctx.Deadline(); ok && time.Until(d) < e.RetryAfter {
			return status, err
		}
		select {
		case <-ctx.Done():
			return status, err
		case <-time.After(e.RetryAfter):
		}
	}
}

func (c *Client) once(ctx context.Context, method, path string, header http.Header, body []byte, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, fmt.Errorf("client: %s %s: %w", method, path, err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.agent != "" {
		req.Header.Set("User-Agent", c.agent)
	}
	if t := c.Token(); t != "" && req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", "Bearer "+t)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("client: %s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return res.StatusCode, fmt.Errorf("client: %s %s: read the answer: %w", method, path, err)
	}
	if res.StatusCode >= 400 {
		return res.StatusCode, newError(res, raw)
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return res.StatusCode, fmt.Errorf("client: %s %s: decode the answer: %w", method, path, err)
		}
	}
	return res.StatusCode, nil
}

// Error is an error answer of the API: {"error": {"code", "message",
// "hint"}}, its status, and for a 429 or 503 how long to wait.
type Error struct {
	Status     int
	Code       string
	Message    string
	Hint       string
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("coffre: %d %s: %s", e.Status, e.Code, e.Message)
	if e.Hint != "" {
		msg += " (" + e.Hint + ")"
	}
	return msg
}

// Errors to match with errors.Is, by the answer's status (and, for
// ErrSealed and ErrStepUpRequired, its code).
var (
	ErrInvalid         = errors.New("invalid request")       // 400
	ErrUnauthenticated = errors.New("not authenticated")     // 401
	ErrStepUpRequired  = errors.New("a fresh second factor") // 401 step_up_required
	ErrForbidden       = errors.New("forbidden")             // 403
	ErrNotFound        = errors.New("not found")             // 404
	ErrConflict        = errors.New("conflict")              // 409
	ErrLocked          = errors.New("account locked")        // 423
	ErrRateLimited     = errors.New("rate limited")          // 429
	ErrUnavailable     = errors.New("unavailable")           // 503
	ErrSealed          = errors.New("sealed")                // 503 sealed
)

// Is matches the sentinel of e's status and code.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrInvalid:
		return e.Status == http.StatusBadRequest
	case ErrUnauthenticated:
		return e.Status == http.StatusUnauthorized
	case ErrStepUpRequired:
		return e.Status == http.StatusUnauthorized && e.Code == "step_up_required"
	case ErrForbidden:
		return e.Status == http.StatusForbidden
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrConflict:
		return e.Status == http.StatusConflict
	case ErrLocked:
		return e.Status == http.StatusLocked
	case ErrRateLimited:
		return e.Status == http.StatusTooManyRequests
	case ErrUnavailable:
		return e.Status == http.StatusServiceUnavailable
	case ErrSealed:
		return e.Status == http.StatusServiceUnavailable && e.Code == "sealed"
	}
	return false
}

func newError(res *http.Response, raw []byte) *Error {
	e := &Error{Status: res.StatusCode}
	var body struct {
		Error struct{ Code, Message, Hint string } `json:"error"`
	}
	if json.Unmarshal(raw, &body) == nil && body.Error.Code != "" {
		e.Code, e.Message, e.Hint = body.Error.Code, body.Error.Message, body.Error.Hint
	} else {
		e.Code, e.Message = "http_"+strconv.Itoa(res.StatusCode), res.Status
	}
	if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && s >= 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	return e
}
