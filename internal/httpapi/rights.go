package httpapi

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/public"
	"github.com/coffre/coffre/internal/rights"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/vault"
)

// myData is the art. 15 package with the person's access history, as GET
// /v1/me/accesses gives it (auditlog.SubjectHistory: every entry with its
// proofs, checkable offline). The history is read once the package's own
// access is on the record; it stops at the latest checkpoint.
type myData struct {
	vault.Data
	History     *auditlog.History `json:"history"`
	HistoryNote string            `json:"history_note,omitempty"`
}

func (s *Server) myData(w http.ResponseWriter, r *http.Request, p vault.Person) {
	d, err := s.Vault.MyData(r.Context(), p)
	if err != nil {
		s.fail(w, r, nil, err)
		return
	}
	out := myData{Data: *d}
	switch {
	case s.Checkpoints == nil:
		out.HistoryNote = "this node does not serve the audit log: GET /v1/me/accesses on a node that does"
	default:
		h, err := auditlog.SubjectHistory(r.Context(), s.Checkpoints, p.Subject, 0)
		switch {
		case errors.Is(err, store.ErrNotFound), errors.Is(err, auditlog.ErrNoIndex):
			out.HistoryNote = "no signed checkpoint covers your history yet: retry in a few seconds"
		case err != nil:
			s.Logger.WarnContext(r.Context(), "subject history", "route", r.Pattern, "error", err)
			out.HistoryNote = "your history could not be read just now: GET /v1/me/accesses"
		default:
			out.History = h
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// fileRequest is POST /v1/me/requests: a rectification names its
// fields (other kinds none: null or []); the text is optional.
type fileRequest struct {
	Kind   string    `json:"kind"`
	Fields *[]string `json:"fields"`
	Text   string    `json:"text,omitempty"`
}

func (s *Server) fileRequest(w http.ResponseWriter, r *http.Request, p vault.Person) {
	var req fileRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, nil, err)
		return
	}
	var fields []string
	if req.Fields != nil {
		fields = *req.Fields
	}
	rv, err := s.Vault.FileRequest(r.Context(), p, req.Kind, fields, req.Text)
	if err != nil {
		s.fail(w, r, nil, err)
		return
	}
	writeJSON(w, http.StatusCreated, rv)
}

// myRequestsAnswer is GET /v1/me/requests's answer: the person's requests.
type myRequestsAnswer struct {
	Requests []vault.RequestView `json:"requests"`
}

func (s *Server) myRequests(w http.ResponseWriter, r *http.Request, p vault.Person) {
	rs, err := s.Vault.MyRequests(r.Context(), p)
	if err != nil {
		s.fail(w, r, nil, err)
		return
	}
	writeJSON(w, http.StatusOK, myRequestsAnswer{Requests: rs})
}

// blockRequest is POST /v1/me/blocks: one partner or one unit.
type blockRequest struct {
	Partner string `json:"partner,omitempty"`
	Unit    string `json:"unit,omitempty"`
}

func (s *Server) block(w http.ResponseWriter, r *http.Request, p vault.Person) {
	var req blockRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, nil, err)
		return
	}
	kind, target := rights.LimitPartner, req.Partner
	switch {
	case (req.Partner == "") == (req.Unit == ""):
		s.fail(w, r, nil, badRequest(`name one partner ({"partner": "ID"}) or one unit ({"unit": "NAME"})`))
		return
	case req.Unit != "":
		kind, target = rights.LimitUnit, req.Unit
	}
	b, err := s.Vault.Block(r.Context(), p, kind, target)
	if err != nil {
		s.fail(w, r, nil, err)
		return
	}
	writeJSON(w, http.StatusCreated, b)
}

// myBlocksAnswer is GET /v1/me/blocks's answer: the person's blocks.
type myBlocksAnswer struct {
	Blocks []vault.BlockView `json:"blocks"`
}

func (s *Server) myBlocks(w http.ResponseWriter, r *http.Request, p vault.Person) {
	bs, err := s.Vault.MyBlocks(r.Context(), p)
	if err != nil {
		s.fail(w, r, nil, err)
		return
	}
	writeJSON(w, http.StatusOK, myBlocksAnswer{Blocks: bs})
}

func (s *Server) unblock(w http.ResponseWriter, r *http.Request, p vault.Person) {
	if err := s.Vault.Unblock(r.Context(), p, r.PathValue("id")); err != nil {
		s.fail(w, r, nil, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// requestQueue is GET /v1/requests's answer: a page of the queue, and
// the id to ask after when more may remain.
type requestQueue struct {
	Next     string              `json:"next,omitempty"`
	Requests []vault.RequestView `json:"requests"`
}

// listRequests serves the handler's queue, paged: "next" is the id to
// ask after when more may remain.
func (s *Server) listRequests(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	q := r.URL.Query()
	limit := vault.MaxQueuePage
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > vault.MaxQueuePage {
			s.fail(w, r, &a, badRequest("limit must be between 1 and %d", vault.MaxQueuePage))
			return
		}
		limit = n
	}
	rs, err := s.Vault.RequestQueue(r.Context(), a, q.Get("after"), limit)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	out := requestQueue{Requests: rs}
	if len(rs) == limit {
		out.Next = rs[len(rs)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) openRequest(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	rv, err := s.Vault.OpenRequest(r.Context(), a, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	writeJSON(w, http.StatusOK, rv)
}

// decideRequest is POST /v1/requests/{id}: a refusal or an extension
// needs a reason.
type decideRequest struct {
	Decision string `json:"decision"`
	Reason   string `json:"reason,omitempty"`
}

func (s *Server) decideRequest(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	var req decideRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, &a, err)
		return
	}
	rv, err := s.Vault.DecideRequest(r.Context(), a, r.PathValue("id"), req.Decision, req.Reason)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	writeJSON(w, http.StatusOK, rv)
}

// rightsError sets e to the public face of an error of the persons'
// rights (a restricted or blocked record, a request's state, no person's
// session) and reports whether err is one.
func rightsError(err error, e *apiError) bool {
	out, ok := rightsFace(err)
	if ok {
		*e = out
	}
	return ok
}

func rightsFace(err error) (apiError, bool) {
	msg := func(fallback string) string { return public.Message(err, fallback) }
	hint := func(fallback string) string { return public.Hint(err, fallback) }
	switch {
	case errors.Is(err, access.ErrRestricted):
		return apiError{http.StatusForbidden, "restricted", msg("this person's record is restricted"), hint("ask the data protection officer")}, true
	case errors.Is(err, access.ErrBlockedByPerson):
		return apiError{http.StatusForbidden, "blocked_by_person", msg("this person has blocked you from their record"), hint("the person decides this")}, true
	case errors.Is(err, vault.ErrNoHandler):
		return apiError{http.StatusConflict, "no_handler", msg("no one handles the persons' requests here"), hint("write to the controller")}, true
	case errors.Is(err, vault.ErrDecided):
		return apiError{http.StatusConflict, "already_decided", msg("the request was decided already"), hint("a decision is taken once")}, true
	case errors.Is(err, vault.ErrExtended):
		return apiError{http.StatusConflict, "already_extended", msg("the request was extended already"), hint("an extension is given once")}, true
	case errors.Is(err, vault.ErrTooLate):
		return apiError{http.StatusConflict, "extension_too_late", msg("the first month is over"), hint("decide now")}, true
	case errors.Is(err, vault.ErrOwnUnit):
		return apiError{http.StatusConflict, "own_unit", msg("the unit that holds your record cannot be blocked"), hint("file a restriction or an objection")}, true
	case errors.Is(err, vault.ErrTooMany):
		return apiError{http.StatusConflict, "too_many", msg("too many open"), hint("wait for the answers")}, true
	case errors.Is(err, vault.ErrUnknownTarget):
		return apiError{http.StatusNotFound, "unknown_target", msg("no such partner or unit"), hint("check the id")}, true
	}
	return apiError{}, false
}
