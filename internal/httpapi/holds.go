package httpapi

import (
	"errors"
	"net/http"

	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/public"
	"github.com/coffre/coffre/internal/vault"
)

// holdRequest is the body of a hold's placing and lifting.
type holdRequest struct {
	Reason string `json:"reason"`
}

// placeHold answers POST /v1/subjects/{id}/holds: 201 the hold, its
// reason shown (only holders of the hold permission reach these routes).
func (s *Server) placeHold(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	var req holdRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, &a, err)
		return
	}
	h, err := s.Vault.PlaceHold(r.Context(), a, r.PathValue("id"), req.Reason)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	writeJSON(w, http.StatusCreated, h)
}

// holdsAnswer is GET /v1/subjects/{id}/holds's answer: the subject's holds.
type holdsAnswer struct {
	Holds []vault.HoldView `json:"holds"`
}

// listHolds answers GET /v1/subjects/{id}/holds: the person's holds, in
// force or lifted, oldest first.
func (s *Server) listHolds(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	hs, err := s.Vault.Holds(r.Context(), a, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	writeJSON(w, http.StatusOK, holdsAnswer{Holds: hs})
}

// liftHold answers POST /v1/holds/{id}/lift: the hold, lifted.
func (s *Server) liftHold(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	var req holdRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, &a, err)
		return
	}
	h, err := s.Vault.LiftHold(r.Context(), a, r.PathValue("id"), req.Reason)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	writeJSON(w, http.StatusOK, h)
}

// holdError maps the legal holds' errors to their answers.
func holdError(err error, e *apiError) bool {
	switch {
	case errors.Is(err, vault.ErrHeld):
		*e = apiError{http.StatusConflict, "legal_hold", public.Message(err, "the subject is under a legal hold: lift it first"), public.Hint(err, "GET /v1/subjects/{id}/holds, then POST /v1/holds/{id}/lift")}
	case errors.Is(err, vault.ErrLifted):
		*e = apiError{http.StatusConflict, "hold_lifted", public.Message(err, "the hold was lifted already"), public.Hint(err, "GET /v1/subjects/{id}/holds lists the holds")}
	default:
		return false
	}
	return true
}
