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

// operatorRequest is the body of POST /v1/operators.
type operatorRequest struct {
	Username string `json:"username"`
	Role     string `json:"role"`
	Unit     string `json:"unit"`
}

// roleRequest is the body of PATCH /v1/operators/{id}: the new role and
// unit (an account's username does not change).
type roleRequest struct {
	Role string `json:"role"`
	Unit string `json:"unit"`
}

// addOperator serves POST /v1/operators: a non-privileged operator,
// waiting for a second administrator's approval and then for its holder's
// enrolment. Nothing secret is in the answer.
func (s *Server) addOperator(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	var req operatorRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, &a, err)
		return
	}
	if req.Username == "" || len(req.Username) > 64 || !vault.ValidUnit(req.Username) || req.Role == "" || !vault.ValidUnit(req.Unit) {
		s.fail(w, r, &a, badRequest("username (a-z, 0-9, '.', '-', '_'), role and unit required"))
		return
	}
	op, err := s.Auth.AdminAddOperator(r.Context(), a, s.Vault.Policy(), req.Username, req.Role, req.Unit)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	writeJSON(w, http.StatusCreated, newOperatorAnswer{ID: op.ID,
		Note: "another administrator approves the account (POST /v1/operators/{id}/approve) and receives its enrolment code",
		Role: req.Role, Status: "pending_approval", Unit: req.Unit, Username: req.Username})
}

// newOperatorAnswer is an account created, waiting for approval.
type newOperatorAnswer struct {
	ID       string `json:"id"`
	Note     string `json:"note"`
	Role     string `json:"role"`
	Status   string `json:"status"`
	Unit     string `json:"unit"`
	Username string `json:"username"`
}

// setRole serves PATCH /v1/operators/{id} {"role","unit"}.
func (s *Server) setRole(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	var req roleRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, &a, err)
		return
	}
	if req.Role == "" || !vault.ValidUnit(req.Unit) {
		s.fail(w, r, &a, badRequest("role and unit (a-z, 0-9, '.', '-', '_') required"))
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
	writeJSON(w, http.StatusOK, roleAnswer{ID: r.PathValue("id"), Role: req.Role, Unit: req.Unit})
}

// roleAnswer is an account's new role and unit.
type roleAnswer struct {
	ID   string `json:"id"`
	Role string `json:"role"`
	Unit string `json:"unit"`
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
	writeJSON(w, http.StatusCreated, newPartnerAnswer{APIKey: np.APIKey, CA: string(s.CA.CertPEM()), Certificate: string(np.Cert.CertPEM),
		ID: np.Partner.ID, Name: req.Name, Note: "shown once: install the certificate and key on the partner's client; send the key as Coffre-Api-Key",
		PrivateKey: string(np.Cert.KeyPEM), Sector: req.Sector})
}

// newPartnerAnswer is a partner registered: its API key, client
// certificate and private key (PEM), shown once, and the CA's certificate.
type newPartnerAnswer struct {
	APIKey      string `json:"api_key"`
	CA          string `json:"ca"`
	Certificate string `json:"certificate"`
	ID          string `json:"id"`
	Name        string `json:"name"`
	Note        string `json:"note"`
	PrivateKey  string `json:"private_key"`
	Sector      string `json:"sector"`
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
