package httpapi

import (
	"errors"
	"net/http"

	"github.com/coffre/coffre/internal/vault"
)

// errNoPerson: a /v1/me request without a signed-in person.
var errNoPerson = errors.New("no signed-in person")

// subjectOf is the signed-in person (their subject id) of a /v1/me
// request: the one place the person routes learn who asks, through
// Server.Subject. Until subject sessions are wired (subject sign-in,
// issue 14) Subject is nil and every /v1/me route answers 401.
func (s *Server) subjectOf(r *http.Request) (string, error) {
	if s.Subject == nil {
		return "", errNoPerson
	}
	id, err := s.Subject(r)
	if err != nil {
		return "", errors.Join(errNoPerson, err)
	}
	if id == "" {
		return "", errNoPerson
	}
	return id, nil
}

// personHandler serves a person acting on their own record.
type personHandler func(w http.ResponseWriter, r *http.Request, p vault.Person)

// person runs h for the person of r's session, or answers 401: the
// subject comes from the session only, never from the request, so a
// person reaches their own record and nobody else's. An operator's
// session is no person's.
func (s *Server) person(h personHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := s.subjectOf(r)
		if err != nil {
			s.fail(w, r, nil, err)
			return
		}
		h(w, r, vault.Person{Subject: id, Origin: s.origin(r)})
	}
}
