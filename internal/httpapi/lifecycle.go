package httpapi

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/identity"
)

// validOperatorID reports whether id has the shape of an operator id
// ("op_" and lower-case letters and digits): only such an id reaches the
// store or the audit log.
func validOperatorID(id string) bool {
	rest, ok := strings.CutPrefix(id, "op_")
	if !ok || len(rest) == 0 || len(rest) > 60 {
		return false
	}
	for _, c := range rest {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// lifecycleRequest is the body of POST /v1/operators/{id}/disable, /enable
// and /lock: why (required for a lock).
type lifecycleRequest struct {
	Reason string `json:"reason"`
}

// optionalBody decodes a JSON body into v when there is one (an empty body
// leaves v as it is).
func (s *Server) optionalBody(w http.ResponseWriter, r *http.Request, v any) error {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.MaxBodyBytes))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return tooLarge("body over %d bytes", mbe.Limit)
	case err != nil:
		return badRequest("unreadable body")
	case len(bytes.TrimSpace(b)) == 0:
		return nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return badRequest("content type %.64q: want application/json", ct)
		}
	}
	return decodeJSON(bytes.NewReader(b), v)
}

// lifecycleStatus is what an account is after an act.
var lifecycleStatus = map[auth.Act]string{auth.Disable: "disabled", auth.Enable: "enabled", auth.Delete: "deleted", auth.Lock: "locked"}

// lifecycle serves the acts on an account: POST /v1/operators/{id}/disable,
// /enable and /lock with {"reason": …} (optional but for a lock), and
// DELETE /v1/operators/{id} with an optional Coffre-Reason header (as the
// erasure of a subject: a DELETE's body is ignored).
func (s *Server) lifecycle(act auth.Act) actorHandler {
	return func(w http.ResponseWriter, r *http.Request, a identity.Actor) {
		id := r.PathValue("id")
		if !validOperatorID(id) {
			s.fail(w, r, &a, badRequest("malformed operator id: want op_ and lower-case letters and digits, as GET /v1/operators lists them"))
			return
		}
		var req lifecycleRequest
		var err error
		if r.Method == http.MethodDelete {
			_, req.Reason, err = s.headers(r, false)
		} else {
			err = s.optionalBody(w, r, &req)
		}
		if err != nil {
			s.fail(w, r, &a, err)
			return
		}
		switch {
		case len(req.Reason) > s.ReasonMaxLen || !printable(req.Reason):
			s.fail(w, r, &a, badRequest("reason: printable, at most %d bytes", s.ReasonMaxLen))
			return
		case act == auth.Lock && strings.TrimSpace(req.Reason) == "":
			s.fail(w, r, &a, badRequest(`a lock needs a reason: {"reason": "…"}`))
			return
		}
		if _, err := s.Auth.Lifecycle(r.Context(), a, s.Vault.Policy(), act, id, req.Reason); err != nil {
			s.fail(w, r, &a, err)
			return
		}
		writeJSON(w, http.StatusOK, lifecycleAnswer{Operator: id, Status: lifecycleStatus[act]})
	}
}

// lifecycleAnswer is what an account is after an act: disabled, enabled,
// deleted or locked.
type lifecycleAnswer struct {
	Operator string `json:"operator"`
	Status   string `json:"status"`
}

// The page sizes of GET /v1/operators.
const (
	defaultOperatorPage = 100
	maxOperatorPage     = 500
)

// listOperators serves GET /v1/operators?limit=&after=: a page of the
// accounts by id, and the id to ask the next page after ("next", absent on
// the last page).
func (s *Server) listOperators(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	q := r.URL.Query()
	for k := range q {
		if k != "limit" && k != "after" {
			s.fail(w, r, &a, badRequest("unknown query parameter %.40q: want limit and after", k))
			return
		}
	}
	limit := defaultOperatorPage
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxOperatorPage {
			s.fail(w, r, &a, badRequest("limit: want 1 to %d", maxOperatorPage))
			return
		}
		limit = n
	}
	after := q.Get("after")
	if after != "" && !validOperatorID(after) {
		s.fail(w, r, &a, badRequest("after: want an operator id (the previous page's next)"))
		return
	}
	ops, err := s.Auth.ListOperators(r.Context(), a, after, limit)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	out := operatorsAnswer{Operators: ops}
	if len(ops) == limit {
		out.Next = ops[len(ops)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
}

// operatorsAnswer is a page of the accounts, and the id to ask the next
// page after (absent on the last page).
type operatorsAnswer struct {
	Next      string              `json:"next,omitempty"`
	Operators []auth.OperatorInfo `json:"operators"`
}
