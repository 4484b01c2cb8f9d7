package httpapi

import "net/http"

// SetTestPerson makes s take a person's subject from f when it reports
// one, standing for a person's session, so that the vault-side person
// routes are tested without signing in each time (the sign-in itself
// is tested in me_test.go and end to end in cmd/coffre).
func SetTestPerson(s *Server, f func(*http.Request) (string, bool)) { s.testPerson = f }
