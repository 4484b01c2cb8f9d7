package drill

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	api "github.com/coffre/coffre/client"
)

// client speaks the API as an operator's tool would, from the account's
// origin (sent as X-Forwarded-For: the drill's server trusts loopback as a
// proxy).
type client struct {
	env   *Env
	http  *http.Client
	nodes *nodes
}

func newClient(env *Env) *client {
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	return &client{env: env, http: hc, nodes: newNodes(env.URL, env.Nodes, hc)}
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
	st, _, err := c.exchange(ctx, method, path, origin, token, hdr, body, out)
	return st, err
}

// exchange sends one request through the public client package and
// decodes a 2xx answer into out; it returns the status and, for a
// refusal, the error code of its body.
func (c *client) exchange(ctx context.Context, method, path, origin, token string, hdr map[string]string, body any, out any) (int, string, error) {
	h := http.Header{}
	h.Set("X-Forwarded-For", origin)
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		h.Set(k, v)
	}
	st, err := c.nodes.do(ctx, func(a *api.Client) (int, error) { return a.Do(ctx, method, path, h, body, out) })
	var e *api.Error
	switch {
	case errors.As(err, &e) && e.Status >= 500:
		return e.Status, "", fmt.Errorf("%s %s: %d %s: %s", method, path, e.Status, e.Code, e.Message)
	case errors.As(err, &e):
		code := e.Code
		if strings.HasPrefix(code, "http_") {
			code = "" // a body that is not the usual shape has no code
		}
		return e.Status, code, nil
	case err != nil:
		return 0, "", fmt.Errorf("%s %s: %w", method, path, err)
	}
	return st, "", nil
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

// call sends one request of the session (logging in again first when the
// session was revoked); it returns the status and the refusal's error
// code. A 401 other than a request for a step-up drops the token (the
// next call logs in again).
func (s *session) call(ctx context.Context, method, path string, hdr map[string]string, body, out any) (int, string, error) {
	if ok, err := s.ensure(ctx); !ok || err != nil {
		return s.loginStatus, "", err
	}
	st, code, err := s.c.exchange(ctx, method, path, s.a.Origin, s.token, hdr, body, out)
	if st == http.StatusUnauthorized && code != "step_up_required" {
		s.token = ""
	}
	return st, code, err
}

// headers are the purpose and reason headers of a request (empty ones
// left out).
func headers(purpose, reason string) map[string]string {
	hdr := map[string]string{}
	if purpose != "" {
		hdr["Coffre-Purpose"] = purpose
	}
	if reason != "" {
		hdr["Coffre-Reason"] = reason
	}
	return hdr
}

// read reads one subject; it returns the HTTP status.
func (s *session) read(ctx context.Context, id, purpose, reason string) (int, error) {
	st, _, err := s.readCode(ctx, id, purpose, reason)
	return st, err
}

// readCode reads one subject; it returns the HTTP status and the error
// code of a refusal (step_up_required, say).
func (s *session) readCode(ctx context.Context, id, purpose, reason string) (int, string, error) {
	return s.call(ctx, "GET", "/v1/subjects/"+id, headers(purpose, reason), nil, nil)
}

// lookup finds a subject by email; it returns the id (on 200) and status.
func (s *session) lookup(ctx context.Context, field, value, purpose string) (string, int, error) {
	var out struct {
		ID string `json:"id"`
	}
	st, _, err := s.call(ctx, "POST", "/v1/subjects/lookup", headers(purpose, ""), map[string]string{"field": field, "value": value}, &out)
	return out.ID, st, err
}

// update sets fields of subject id under a write purpose; it returns the
// HTTP status (204 when changed, 202 when a contact field waits out its
// cooling-off, 409 when a lookup value is taken) and when each waiting
// field takes effect.
func (s *session) update(ctx context.Context, id, purpose, reason string, fields map[string]string) (int, map[string]time.Time, error) {
	var out struct {
		Pending map[string]time.Time `json:"pending"`
	}
	st, _, err := s.call(ctx, "PATCH", "/v1/subjects/"+id, headers(purpose, reason), map[string]any{"fields": fields}, &out)
	return st, out.Pending, err
}

// erase erases subject id; it returns the HTTP status.
func (s *session) erase(ctx context.Context, id, reason string) (int, error) {
	st, _, err := s.call(ctx, "DELETE", "/v1/subjects/"+id, headers("", reason), nil, nil)
	return st, err
}

// create creates a subject in unit; it returns its id (on 201) and the
// HTTP status.
func (s *session) create(ctx context.Context, unit string, fields map[string]string) (string, int, error) {
	var out struct {
		ID string `json:"id"`
	}
	st, _, err := s.call(ctx, "POST", "/v1/subjects", nil, map[string]any{"unit": unit, "fields": fields}, &out)
	return out.ID, st, err
}

// stepUp proves a fresh TOTP code in the session for purpose, at the
// simulated time (whose 30-second step must be later than the login's:
// a code works once). A server whose step-up names no purpose refuses
// the purpose field as unknown (400, before the code is checked): then
// the code is proved without it. It returns the HTTP status.
func (s *session) stepUp(ctx context.Context, purpose string) (int, error) {
	if ok, err := s.ensure(ctx); !ok || err != nil {
		return s.loginStatus, err
	}
	code, err := totp.GenerateCodeCustom(s.a.Secret, s.c.env.Clock.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return 0, err
	}
	st, err := s.c.do(ctx, "POST", "/v1/auth/stepup/totp", s.a.Origin, s.token, nil, map[string]string{"code": code, "purpose": purpose}, nil)
	if st == http.StatusBadRequest && err == nil {
		st, err = s.c.do(ctx, "POST", "/v1/auth/stepup/totp", s.a.Origin, s.token, nil, map[string]string{"code": code}, nil)
	}
	return st, err
}

// assignCaseload puts subjects (at most 500) into operator's caseload
// until until (PUT /v1/operators/{id}/caseload); it returns the HTTP
// status and the refusal's error code.
func (s *session) assignCaseload(ctx context.Context, operator string, subjects []string, until time.Time) (int, string, error) {
	return s.call(ctx, "PUT", "/v1/operators/"+operator+"/caseload", nil, map[string]any{"subjects": subjects, "until": until.Format(time.RFC3339)}, nil)
}

// created is the answer to POST /v1/operators: the new account's id and,
// when the server hands them to the creator, its credentials.
type created struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Password string `json:"password"`
	TOTPURI  string `json:"totp_uri"`
}

// secret returns the TOTP secret of the answer's enrolment URI ("" when
// the answer carries no credentials: an account pending approval).
func (c *created) secret() string {
	if c.Password == "" || c.TOTPURI == "" {
		return ""
	}
	u, err := url.Parse(c.TOTPURI)
	if err != nil {
		return ""
	}
	return u.Query().Get("secret")
}

// createOperator creates an operator (POST /v1/operators); it returns the
// answer, the HTTP status and the refusal's error code.
func (s *session) createOperator(ctx context.Context, username, role, unit string) (*created, int, string, error) {
	var out created
	st, code, err := s.call(ctx, "POST", "/v1/operators", nil, map[string]string{"username": username, "role": role, "unit": unit}, &out)
	return &out, st, code, err
}

// setRole moves operator id to role and unit (PATCH /v1/operators/{id}).
func (s *session) setRole(ctx context.Context, id, role, unit string) (int, string, error) {
	return s.call(ctx, "PATCH", "/v1/operators/"+id, nil, map[string]string{"role": role, "unit": unit}, nil)
}

// enable enables the disabled account id (POST /v1/operators/{id}/enable).
func (s *session) enable(ctx context.Context, id, reason string) (int, string, error) {
	return s.call(ctx, "POST", "/v1/operators/"+id+"/enable", nil, map[string]string{"reason": reason}, nil)
}

// addPartner registers a partner under role (POST /v1/partners); it
// returns the credentials the answer carries (nil when refused).
func (s *session) addPartner(ctx context.Context, name, sector, unit, role string) (*PartnerCreds, int, string, error) {
	var out struct {
		ID          string `json:"id"`
		APIKey      string `json:"api_key"`
		Certificate string `json:"certificate"`
		PrivateKey  string `json:"private_key"`
	}
	st, code, err := s.call(ctx, "POST", "/v1/partners", nil, map[string]string{"name": name, "sector": sector, "unit": unit, "role": role}, &out)
	if err != nil || st != http.StatusCreated || out.APIKey == "" || out.PrivateKey == "" {
		return nil, st, code, err
	}
	return &PartnerCreds{ID: out.ID, APIKey: out.APIKey, CertPEM: []byte(out.Certificate), KeyPEM: []byte(out.PrivateKey)}, st, code, nil
}

// requestExtension asks for a budget extension (POST /v1/extensions); it
// returns the extension's id.
func (s *session) requestExtension(ctx context.Context, subjects, hours int, reason string) (string, int, string, error) {
	var out struct {
		ID string `json:"id"`
	}
	st, code, err := s.call(ctx, "POST", "/v1/extensions", nil, map[string]any{"subjects": subjects, "hours": hours, "reason": reason}, &out)
	return out.ID, st, code, err
}

// approveExtension approves extension id with a fresh TOTP code at the
// simulated time (its 30-second step must be later than the login's);
// 202 is a first approval of two.
func (s *session) approveExtension(ctx context.Context, id string) (int, string, error) {
	if ok, err := s.ensure(ctx); !ok || err != nil {
		return s.loginStatus, "", err
	}
	code, err := totp.GenerateCodeCustom(s.a.Secret, s.c.env.Clock.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return 0, "", err
	}
	return s.call(ctx, "POST", "/v1/extensions/"+id+"/approve", nil, map[string]string{"code": code}, nil)
}
