package httpapi

import (
	"net/http"
	"time"

	"github.com/coffre/coffre/internal/identity"
)

// approveOperatorRequest is the body of POST /v1/operators/{id}/approve: none yet
// (an empty body, or {}).
type approveOperatorRequest struct{}

// approveOperator serves POST /v1/operators/{id}/approve: a second
// administrator, not the account's creator, approves a new account and
// receives its one-time enrolment code, shown once, to hand to the person
// through another channel.
func (s *Server) approveOperator(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	id := r.PathValue("id")
	if !validOperatorID(id) {
		s.fail(w, r, &a, badRequest("malformed operator id: want op_ and lower-case letters and digits, as POST /v1/operators answered it"))
		return
	}
	var req approveOperatorRequest
	if err := s.optionalBody(w, r, &req); err != nil {
		s.fail(w, r, &a, err)
		return
	}
	code, err := s.Auth.ApproveEnrolment(r.Context(), a, s.Vault.Policy(), id)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": code.Operator, "username": code.Username, "status": "approved",
		"enrolment_code": code.Code, "expires_at": code.Expires.Format(time.RFC3339),
		"note": "shown once: hand the code to the person through another channel than this API (in person, by phone); they enrol with POST /v1/auth/enrol before it expires"})
}

// enrolRequest is the body of POST /v1/auth/enrol.
type enrolRequest struct {
	Username string `json:"username"`
	Code     string `json:"code"`
	Password string `json:"password"`
}

// enrol serves POST /v1/auth/enrol {"username","code","password"}: the
// holder of a new or reset account sets their password with its
// enrolment code, and receives their TOTP secret, once.
func (s *Server) enrol(w http.ResponseWriter, r *http.Request) {
	var req enrolRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, nil, err)
		return
	}
	if req.Username == "" || req.Code == "" || req.Password == "" || len(req.Username) > 128 || len(req.Code) > 64 {
		s.fail(w, r, nil, badRequest("username, code and password required (at most 128, 64 and 1024 bytes; the password at least 12 characters)"))
		return
	}
	en, err := s.Auth.Enrol(r.Context(), req.Username, req.Code, req.Password, s.origin(r))
	if err != nil {
		s.fail(w, r, nil, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"username": req.Username, "totp_uri": en.TOTPURI, "totp_secret": en.TOTPSecret,
		"note": "shown once: add the secret to your authenticator app now (the URI as a QR code), then log in with POST /v1/auth/login and /v1/auth/totp"})
}
