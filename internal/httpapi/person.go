package httpapi

import (
	"net/http"

	"github.com/coffre/coffre/internal/me"
	"github.com/coffre/coffre/internal/vault"
)

// vaultPersonHandler serves a person acting on their own record through
// the vault (consent, contact changes, rights).
type vaultPersonHandler func(w http.ResponseWriter, r *http.Request, p vault.Person)

// asPerson adapts h to a person route: the subject comes from the
// person's session only (personAuthed), never from the request, so a
// person reaches their own record and nobody else's.
func (s *Server) asPerson(h vaultPersonHandler) personHandler {
	return func(w http.ResponseWriter, r *http.Request, p me.Person) {
		h(w, r, vault.Person{Subject: p.Subject, Origin: p.Origin})
	}
}
