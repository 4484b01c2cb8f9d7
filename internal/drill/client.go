package drill

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// client speaks the API as an operator's tool would, from the account's
// origin (sent as X-Forwarded-For: the drill's server trusts loopback as a
// proxy).
type client struct {
	env  *Env
	http *http.Client
}

func newClient(env *Env) *client {
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}
	return &client{env: env, http: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// session is a logged-in account.
type session struct {
	c     *client
	a     *Account
	token string
	// status of the last login attempt: 200, or 423 when locked.
	loginStatus int
}

func (c *client) do(ctx context.Context, method, path, origin, token string, hdr map[string]string, body any, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.env.URL+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-Forwarded-For", origin)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	if resp.StatusCode >= 500 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode, nil
}

// login logs a in with password and TOTP at the simulated time. It
// returns the session, with loginStatus 423 when the account is locked.
func (c *client) login(ctx context.Context, a *Account) (*session, error) {
	s := &session{c: c, a: a}
	var lr struct {
		LoginToken string `json:"login_token"`
	}
	st, err := c.do(ctx, "POST", "/v1/auth/login", a.Origin, "", nil, map[string]string{"username": a.Name, "password": a.Password}, &lr)
	if err != nil {
		return nil, err
	}
	if s.loginStatus = st; st != http.StatusOK {
		return s, nil
	}
	code, err := totp.GenerateCodeCustom(a.Secret, c.env.Clock.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return nil, err
	}
	var tr struct {
		Token string `json:"token"`
	}
	st, err = c.do(ctx, "POST", "/v1/auth/totp", a.Origin, "", nil, map[string]string{"login_token": lr.LoginToken, "code": code}, &tr)
	if err != nil {
		return nil, err
	}
	s.loginStatus, s.token = st, tr.Token
	return s, nil
}

// ensure logs in again when the session was revoked or expired; it
// reports false when the account cannot log in (locked, or the code of
// this 30 s step was used).
func (s *session) ensure(ctx context.Context) (bool, error) {
	if s.token != "" {
		return true, nil
	}
	n, err := s.c.login(ctx, s.a)
	if err != nil {
		return false, err
	}
	s.token, s.loginStatus = n.token, n.loginStatus
	return s.token != "", nil
}

// read reads one subject; it returns the HTTP status. A 401 drops the
// token (the next call logs in again).
func (s *session) read(ctx context.Context, id, purpose, reason string) (int, error) {
	if ok, err := s.ensure(ctx); !ok || err != nil {
		return s.loginStatus, err
	}
	hdr := map[string]string{"Coffre-Purpose": purpose}
	if reason != "" {
		hdr["Coffre-Reason"] = reason
	}
	st, err := s.c.do(ctx, "GET", "/v1/subjects/"+id, s.a.Origin, s.token, hdr, nil, nil)
	if st == http.StatusUnauthorized {
		s.token = ""
	}
	return st, err
}

// lookup finds a subject by email; it returns the id (on 200) and status.
func (s *session) lookup(ctx context.Context, field, value, purpose string) (string, int, error) {
	if ok, err := s.ensure(ctx); !ok || err != nil {
		return "", s.loginStatus, err
	}
	var out struct {
		ID string `json:"id"`
	}
	st, err := s.c.do(ctx, "POST", "/v1/subjects/lookup", s.a.Origin, s.token, map[string]string{"Coffre-Purpose": purpose},
		map[string]string{"field": field, "value": value}, &out)
	if st == http.StatusUnauthorized {
		s.token = ""
	}
	return out.ID, st, err
}

// jsonBody is a request body marshalled to JSON (nil: none).
type jsonBody struct{ b []byte }

func newJSONBody(v any) *jsonBody {
	b, _ := json.Marshal(v)
	return &jsonBody{b}
}

func (j *jsonBody) reader() io.Reader {
	if j == nil {
		return nil
	}
	return bytes.NewReader(j.b)
}
