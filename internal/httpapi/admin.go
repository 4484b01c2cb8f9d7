package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/vault"
)

type operatorRequest struct {
	Username string `json:"username"`
	Role     string `json:"role"`
	Unit     string `json:"unit"`
}

func (s *Server) operatorBody(w http.ResponseWriter, r *http.Request, a *identity.Actor, needName bool) (*operatorRequest, bool) {
	var req operatorRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, a, err)
		return nil, false
	}
	if needName && (req.Username == "" || len(req.Username) > 64 || !vault.ValidUnit(req.Username)) || req.Role == "" || !vault.ValidUnit(req.Unit) {
		s.fail(w, r, a, badRequest("username (a-z, 0-9, '.', '-', '_'), role and unit required"))
		return nil, false
	}
	return &req, true
}

// addOperator serves POST /v1/operators: a non-privileged operator,
// waiting for a second administrator's approval and then for its holder's
// enrolment. Nothing secret is in the answer.
func (s *Server) addOperator(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	req, ok := s.operatorBody(w, r, &a, true)
	if !ok {
		return
	}
	op, err := s.Auth.AdminAddOperator(r.Context(), a, s.Vault.Policy(), req.Username, req.Role, req.Unit)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"id": op.ID, "username": req.Username, "role": req.Role, "unit": req.Unit,
		"status": "pending_approval", "note": "another administrator approves the account (POST /v1/operators/{id}/approve) and receives its enrolment code"})
}

// setRole serves PATCH /v1/operators/{id} {"role","unit"}.
func (s *Server) setRole(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	req, ok := s.operatorBody(w, r, &a, false)
	if !ok {
		return
	}
	err := s.Auth.AdminSetRole(r.Context(), a, s.Vault.Policy(), r.PathValue("id"), req.Role, req.Unit)
	if errors.Is(err, store.ErrNotFound) {
		err = notFoundAs(err, "no such operator")
	}
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": r.PathValue("id"), "role": req.Role, "unit": req.Unit})
}

type partnerRequest struct {
	Name   string `json:"name"`
	Sector string `json:"sector"`
	Unit   string `json:"unit"`
	Role   string `json:"role,omitempty"`
}

// addPartner serves POST /v1/partners: registers a partner and returns its
// client certificate, private key and API key, once.
func (s *Server) addPartner(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	var req partnerRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, &a, err)
		return
	}
	if req.Role == "" {
		req.Role = "partner"
	}
	if !vault.ValidUnit(req.Name) || !vault.ValidUnit(req.Sector) || !vault.ValidUnit(req.Unit) {
		s.fail(w, r, &a, badRequest("name, sector and unit required (a-z, 0-9, '.', '-', '_')"))
		return
	}
	np, err := s.Auth.AdminAddPartner(r.Context(), a, s.Vault.Policy(), s.CA, req.Name, req.Sector, req.Role, req.Unit)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"id": np.Partner.ID, "name": req.Name, "sector": req.Sector,
		"api_key": np.APIKey, "certificate": string(np.Cert.CertPEM), "private_key": string(np.Cert.KeyPEM), "ca": string(s.CA.CertPEM()),
		"note": "shown once: install the certificate and key on the partner's client; send the key as Coffre-Api-Key"})
}

// AdminGuard returns the vault's guard as auth's: administration is an
// access, decided by the same guard as data access (wired by the coffre
// command and the tests).
func AdminGuard(v *vault.Vault) auth.AdminGuard { return adminGuard{v} }

type adminGuard struct{ v *vault.Vault }

func (g adminGuard) CheckAdmin(ctx context.Context, tx store.Tx, a identity.Actor, act guard.Act) (auth.AdminVerdict, error) {
	c, err := g.v.CheckAdmin(ctx, tx, a, act)
	if err != nil {
		return nil, err
	}
	return c, nil
}
