package httpapi

import "net/http"

// SetTestSubject makes s take the person's subject from f, standing for
// the subject sessions of the sign-in branch (see subjectOf).
func SetTestSubject(s *Server, f func(*http.Request) (string, bool)) { s.testSubject = f }
