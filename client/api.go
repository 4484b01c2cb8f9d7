package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// LoginStep is the password step's answer: the token the second factor
// takes, and the factors the account may use ("totp", "webauthn").
type LoginStep struct {
	LoginToken string   `json:"login_token"`
	MFA        []string `json:"mfa"`
}

// Login is the password step of an operator's login.
func (c *Client) Login(ctx context.Context, username, password string) (*LoginStep, error) {
	var step LoginStep
	_, err := c.Do(ctx, http.MethodPost, "/v1/auth/login", nil, map[string]string{"username": username, "password": password}, &step)
	if err != nil {
		return nil, err
	}
	return &step, nil
}

type session struct {
	Token     string `json:"token"`
	ExpiresAt string `json:"expires_at"`
}

// TOTP completes a login with a TOTP code: the session is the Client's
// from then on.
func (c *Client) TOTP(ctx context.Context, loginToken, code string) error {
	var s session
	if _, err := c.Do(ctx, http.MethodPost, "/v1/auth/totp", nil, map[string]string{"login_token": loginToken, "code": code}, &s); err != nil {
		return err
	}
	c.setToken(s.Token)
	return nil
}

// WebAuthnBegin asks the security-key step's options: the
// PublicKeyCredentialRequestOptions to give the authenticator.
func (c *Client) WebAuthnBegin(ctx context.Context, loginToken string) (json.RawMessage, error) {
	var opts json.RawMessage
	_, err := c.Do(ctx, http.MethodPost, "/v1/auth/webauthn/begin", nil, map[string]string{"login_token": loginToken}, &opts)
	return opts, err
}

// WebAuthnFinish completes a login with the authenticator's assertion (the
// PublicKeyCredential, JSON): the session is the Client's from then on.
func (c *Client) WebAuthnFinish(ctx context.Context, loginToken string, credential json.RawMessage) error {
	var s session
	if _, err := c.Do(ctx, http.MethodPost, "/v1/auth/webauthn/finish", nil, map[string]any{"login_token": loginToken, "credential": credential}, &s); err != nil {
		return err
	}
	c.setToken(s.Token)
	return nil
}

// Logout ends the Client's session.
func (c *Client) Logout(ctx context.Context) error {
	_, err := c.Do(ctx, http.MethodPost, "/v1/auth/logout", nil, nil, nil)
	if err == nil {
		c.setToken("")
	}
	return err
}

// Access is what an access to a person declares: the purpose (one of the
// role's) and, where the purpose or the guard asks one, why.
type Access struct {
	Purpose, Reason string
}

func (a Access) header() http.Header {
	h := http.Header{}
	if a.Purpose != "" {
		h.Set("Coffre-Purpose", a.Purpose)
	}
	if a.Reason != "" {
		h.Set("Coffre-Reason", a.Reason)
	}
	return h
}

// Lookup finds one person by the exact value of a lookup field and returns
// their id (ErrNotFound: none).
func (c *Client) Lookup(ctx context.Context, a Access, field, value string) (string, error) {
	var out struct {
		ID string `json:"id"`
	}
	if _, err := c.Do(ctx, http.MethodPost, "/v1/subjects/lookup", a.header(), map[string]string{"field": field, "value": value}, &out); err != nil {
		return "", err
	}
	return out.ID, nil
}

// View is a person's record as a purpose shows it.
type View struct {
	ID      string            `json:"id"`
	Unit    string            `json:"unit"`
	Purpose string            `json:"purpose"`
	Fields  map[string]string `json:"fields"`
	Masked  []string          `json:"masked"`
	// AuditSeq is the number of the read's audit entry.
	AuditSeq int64 `json:"audit_seq"`
}

// ConsentPending is the error of a read under a purpose that asks the
// person's consent: the request made, to follow at
// GET /v1/consents/{ID}.
type ConsentPending struct {
	ID     string
	Status string
}

func (e *ConsentPending) Error() string {
	return "coffre: the person's consent is asked (request " + e.ID + ", " + e.Status + ")"
}

// Read reads one person for a purpose, only the named fields when some
// are given.
func (c *Client) Read(ctx context.Context, id string, a Access, fields ...string) (*View, error) {
	path := "/v1/subjects/" + url.PathEscape(id)
	if len(fields) > 0 {
		path += "?fields=" + url.QueryEscape(strings.Join(fields, ","))
	}
	var raw json.RawMessage
	status, err := c.Do(ctx, http.MethodGet, path, a.header(), nil, &raw)
	if err != nil {
		return nil, err
	}
	if status == http.StatusAccepted {
		var p struct {
			Consent struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			} `json:"consent"`
		}
		json.Unmarshal(raw, &p)
		return nil, &ConsentPending{ID: p.Consent.ID, Status: p.Consent.Status}
	}
	var v View
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return &v, nil
}
