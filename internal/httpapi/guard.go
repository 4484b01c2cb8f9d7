package httpapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/policy"
)

// alertsAnswer is the answer of GET /v1/alerts: the alerts, oldest first.
type alertsAnswer struct {
	Alerts []guard.Alert `json:"alerts"`
}

// alerts serves GET /v1/alerts?after=ID: the guard's alerts, oldest first,
// for a security officer.
func (s *Server) alerts(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	var after int64
	if q := r.URL.Query().Get("after"); q != "" {
		n, err := strconv.ParseInt(q, 10, 64)
		if err != nil || n < 0 {
			s.fail(w, r, &a, badRequest("after: want a non-negative alert id"))
			return
		}
		after = n
	}
	out, err := s.Vault.Alerts(r.Context(), a, after, 1000)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	writeJSON(w, http.StatusOK, alertsAnswer{Alerts: out})
}

type unlockRequest struct {
	Reason string `json:"reason"`
}

// unlockAnswer is the answer of POST /v1/operators/{id}/unlock.
type unlockAnswer struct {
	Operator string `json:"operator"`
	Status   string `json:"status"` // unlocked
}

// unlock serves POST /v1/operators/{id}/unlock {"reason": …}.
func (s *Server) unlock(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	var req unlockRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, &a, err)
		return
	}
	id := r.PathValue("id")
	if id == "" || len(id) > 64 || !printable(id) {
		s.fail(w, r, &a, badRequest("malformed operator id"))
		return
	}
	if !printable(req.Reason) {
		s.fail(w, r, &a, badRequest("reason holds control characters"))
		return
	}
	if err := s.Vault.Unlock(r.Context(), a, id, req.Reason); err != nil {
		s.fail(w, r, &a, err)
		return
	}
	writeJSON(w, http.StatusOK, unlockAnswer{Operator: id, Status: "unlocked"})
}

type extensionRequest struct {
	Subjects int    `json:"subjects"`
	Hours    int    `json:"hours"`
	Reason   string `json:"reason"`
}

// requestExtension serves POST /v1/extensions: ask to read beyond the
// budgets (two-person rule).
func (s *Server) requestExtension(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	var req extensionRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, &a, err)
		return
	}
	if !printable(req.Reason) {
		s.fail(w, r, &a, badRequest("reason holds control characters"))
		return
	}
	e, err := s.Vault.RequestExtension(r.Context(), a, req.Subjects, req.Hours, req.Reason)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	writeJSON(w, http.StatusCreated, e)
}

// extensionsAnswer is the answer of GET /v1/extensions, oldest first.
type extensionsAnswer struct {
	Extensions []guard.Extension `json:"extensions"`
}

// pendingExtensions serves GET /v1/extensions: the requests of the
// supervisor's unit waiting for approval, oldest first.
func (s *Server) pendingExtensions(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	out, err := s.Vault.PendingExtensions(r.Context(), a)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	writeJSON(w, http.StatusOK, extensionsAnswer{Extensions: out})
}

type approveRequest struct {
	Code string `json:"code"`
}

// approveExtension serves POST /v1/extensions/{id}/approve {"code": TOTP}:
// a supervisor of the requester's unit approves with a fresh second factor.
func (s *Server) approveExtension(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	var req approveRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, &a, err)
		return
	}
	id := r.PathValue("id")
	if len(id) > 64 || !printable(id) || len(req.Code) != 6 || strings.Trim(req.Code, "0123456789") != "" {
		s.fail(w, r, &a, badRequest("want an extension id in the path and a 6-digit code"))
		return
	}
	// The permission first: a fresh code proves nothing for a role that
	// cannot approve.
	if err := s.Vault.Authorize(r.Context(), a, policy.PermSupervise, "extension.approve"); err != nil {
		s.fail(w, r, &a, err)
		return
	}
	if err := s.Auth.StepUp(r.Context(), a.ID, req.Code, s.origin(r)); err != nil {
		s.fail(w, r, &a, err)
		return
	}
	e, err := s.Vault.ApproveExtension(r.Context(), a, id)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	if e.ApprovedBy == "" {
		// The first of two approvals: the extension is not in force yet.
		writeJSON(w, http.StatusAccepted, e)
		return
	}
	writeJSON(w, http.StatusOK, e)
}
