package httpapi

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/coffre/coffre/internal/vault"
)

// alerts serves GET /v1/alerts?after=ID: the guard's alerts, oldest first,
// for a security officer.
func (s *Server) alerts(w http.ResponseWriter, r *http.Request, a vault.Actor) {
	var after int64
	if q := r.URL.Query().Get("after"); q != "" {
		n, err := strconv.ParseInt(q, 10, 64)
		if err != nil || n < 0 {
			s.fail(w, r, &a, fmt.Errorf("after: want a non-negative alert id: %w", errBadRequest))
			return
		}
		after = n
	}
	out, err := s.Vault.Alerts(r.Context(), a, after, 1000)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"alerts": out})
}

type unlockRequest struct {
	Reason string `json:"reason"`
}

// unlock serves POST /v1/operators/{id}/unlock {"reason": …}.
func (s *Server) unlock(w http.ResponseWriter, r *http.Request, a vault.Actor) {
	var req unlockRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, &a, err)
		return
	}
	id := r.PathValue("id")
	if id == "" || len(id) > 64 || !printable(id) {
		s.fail(w, r, &a, fmt.Errorf("malformed operator id: %w", errBadRequest))
		return
	}
	if !printable(req.Reason) {
		s.fail(w, r, &a, fmt.Errorf("reason holds control characters: %w", errBadRequest))
		return
	}
	if err := s.Vault.Unlock(r.Context(), a, id, req.Reason); err != nil {
		s.fail(w, r, &a, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"operator": id, "status": "unlocked"})
}
