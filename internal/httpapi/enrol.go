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
	writeJSON(w, http.StatusOK, approvedAnswer{EnrolmentCode: code.Code, ExpiresAt: code.Expires.Format(time.RFC3339), ID: code.Operator,
		Note:   "shown once: hand the code to the person through another channel than this API (in person, by phone); they enrol with POST /v1/auth/enrol before it expires",
		Status: "approved", Username: code.Username})
}

// approvedAnswer is an account approved: its one-time enrolment code,
// shown once, and until when (RFC 3339) it works.
type approvedAnswer struct {
	EnrolmentCode string `json:"enrolment_code"`
	ExpiresAt     string `json:"expires_at"`
	ID            string `json:"id"`
	Note          string `json:"note"`
	Status        string `json:"status"`
	Username      string `json:"username"`
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
	writeJSON(w, http.StatusOK, enrolAnswer{
		Note:       "shown once: add the secret to your authenticator app now (the URI as a QR code), then log in with POST /v1/auth/login and /v1/auth/totp",
		TOTPSecret: en.TOTPSecret, TOTPURI: en.TOTPURI, Username: req.Username})
}

// enrolAnswer is an enrolment done: the account's TOTP secret and its
// otpauth URI, shown once.
type enrolAnswer struct {
	Note       string `json:"note"`
	TOTPSecret string `json:"totp_secret"`
	TOTPURI    string `json:"totp_uri"`
	Username   string `json:"username"`
}
