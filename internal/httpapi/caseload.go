package httpapi

import (
	"net/http"
	"time"

	"github.com/coffre/coffre/internal/identity"
)

type caseloadRequest struct {
	Subjects []string `json:"subjects"`
	// Until ends the assignments (PUT only): an RFC 3339 date-time or a
	// date.
	Until string `json:"until,omitempty"`
}

// caseloadAssignment documents the body of PUT /v1/operators/{id}/caseload.
type caseloadAssignment struct {
	Subjects []string `json:"subjects"`
	Until    string   `json:"until"` // an RFC 3339 date-time or a date
}

// caseloadRemoval documents the body of DELETE /v1/operators/{id}/caseload.
type caseloadRemoval struct {
	Subjects []string `json:"subjects"`
}

// caseloadBody reads a caseload request; until is refused on a DELETE.
func (s *Server) caseloadBody(w http.ResponseWriter, r *http.Request, a *identity.Actor, put bool) (*caseloadRequest, time.Time, bool) {
	var req caseloadRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, a, err)
		return nil, time.Time{}, false
	}
	var until time.Time
	switch {
	case !put && req.Until != "":
		s.fail(w, r, a, badRequest("until: a removal takes no end"))
		return nil, time.Time{}, false
	case req.Until != "":
		var err error
		if until, err = s.Vault.ParseUntil(req.Until); err != nil {
			s.fail(w, r, a, badRequest("until: want an RFC 3339 date-time (2026-09-30T18:00:00+02:00) or a date (2026-09-30)"))
			return nil, time.Time{}, false
		}
	}
	return &req, until, true
}

// caseloadAssigned is the answer of PUT /v1/operators/{id}/caseload.
type caseloadAssigned struct {
	Assigned int       `json:"assigned"`
	Operator string    `json:"operator"`
	Until    time.Time `json:"until"`
}

// assignCaseload serves PUT /v1/operators/{id}/caseload {"subjects": […],
// "until": …}: subjects join the operator's caseload until then, or take
// that end if they are in it already.
func (s *Server) assignCaseload(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	req, until, ok := s.caseloadBody(w, r, &a, true)
	if !ok {
		return
	}
	n, err := s.Vault.AssignCaseload(r.Context(), a, r.PathValue("id"), req.Subjects, until)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	writeJSON(w, http.StatusOK, caseloadAssigned{Assigned: n, Operator: r.PathValue("id"), Until: until})
}

// caseloadRemoved is the answer of DELETE /v1/operators/{id}/caseload.
type caseloadRemoved struct {
	Operator string `json:"operator"`
	Removed  int    `json:"removed"`
}

// removeCaseload serves DELETE /v1/operators/{id}/caseload {"subjects":
// […]}: their assignments to the operator end.
func (s *Server) removeCaseload(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	req, _, ok := s.caseloadBody(w, r, &a, false)
	if !ok {
		return
	}
	n, err := s.Vault.RemoveCaseload(r.Context(), a, r.PathValue("id"), req.Subjects)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	writeJSON(w, http.StatusOK, caseloadRemoved{Operator: r.PathValue("id"), Removed: n})
}

// caseloadCount is the answer of GET /v1/account/caseload: a count, never a list.
type caseloadCount struct {
	Count    int    `json:"count"`
	Operator string `json:"operator"`
}

// myCaseload serves GET /v1/account/caseload: how many people one's
// caseload holds now. A count, never a list.
func (s *Server) myCaseload(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	n, err := s.Vault.CaseloadCount(r.Context(), a)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	writeJSON(w, http.StatusOK, caseloadCount{Count: n, Operator: a.ID})
}

// inMyCaseload serves GET /v1/account/caseload/{id}: whether one subject
// is in one's caseload now, and until when.
func (s *Server) inMyCaseload(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	m, err := s.Vault.CaseloadMember(r.Context(), a, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}
