package httpapi

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/consent"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/public"
	"github.com/coffre/coffre/internal/vault"
)

// consentView is a consent request as the API shows it: to the operator
// who asked (GET /v1/consents/{id}, and a read's 202), and, with who asked
// and the purpose's description, to the person (GET /v1/me/consents).
type consentView struct {
	ID          string    `json:"id"`
	Status      string    `json:"status"`
	Subject     string    `json:"subject"`
	Purpose     string    `json:"purpose"`
	Description string    `json:"description,omitempty"`
	Fields      []string  `json:"fields"`
	Reason      string    `json:"reason,omitempty"`
	From        *asker    `json:"from,omitempty"`
	RequestedAt time.Time `json:"requested_at"`
	ExpiresAt   time.Time `json:"expires_at"`
	DecidedAt   time.Time `json:"decided_at,omitzero"`
	// ValidUntil is the end of an approval: the read it allows must come
	// before.
	ValidUntil time.Time `json:"valid_until,omitzero"`
	// ClosedAt is when it was used, or marked expired.
	ClosedAt time.Time `json:"closed_at,omitzero"`
}

// asker is who asked, as the person is told: the unit and role; the
// operator only when the purpose's policy names operators.
type asker struct {
	Unit     string `json:"unit"`
	Role     string `json:"role"`
	Operator string `json:"operator,omitempty"`
}

func viewOf(r consent.Request) consentView {
	fields := r.Fields
	if fields == nil {
		fields = []string{}
	}
	return consentView{ID: r.ID, Status: r.Status, Subject: r.Subject, Purpose: r.Purpose, Fields: fields, Reason: r.Reason,
		RequestedAt: r.Created, ExpiresAt: r.Expires, DecidedAt: r.Decided, ValidUntil: r.ValidUntil, ClosedAt: r.Closed}
}

// personView is r as its person sees it.
func (s *Server) personView(r consent.Request) consentView {
	v := viewOf(r)
	v.From = &asker{Unit: r.Unit, Role: r.Role}
	if pu, ok := s.Vault.Policy().Purposes[r.Purpose]; ok {
		v.Description = pu.Description
		if pu.NoticeNamesOperator {
			v.From.Operator = r.Operator
		}
	}
	return v
}

// breakGlass reads Coffre-Break-Glass: the emergency's reason, and whether
// the header was sent at all (an empty one is a break-glass without a
// reason, refused by the vault).
func (s *Server) breakGlass(r *http.Request) (why string, ok bool, err error) {
	vals, ok := r.Header["Coffre-Break-Glass"]
	if !ok {
		return "", false, nil
	}
	why = strings.TrimSpace(strings.Join(vals, " "))
	switch {
	case len(why) > s.ReasonMaxLen:
		return "", true, badRequest("Coffre-Break-Glass longer than %d bytes", s.ReasonMaxLen)
	case !printable(why):
		return "", true, badRequest("Coffre-Break-Glass holds control characters or invalid UTF-8")
	}
	return why, true, nil
}

// read serves GET /v1/subjects/{id}: the view; under a purpose that asks
// for the person's consent and without a usable approval, 202 and the
// consent request (Location: /v1/consents/{id}); with Coffre-Break-Glass
// (a purpose that allows it), the emergency read.
func (s *Server) read(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	id, err := subjectID(r)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	purpose, reason, err := s.headers(r, true)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	why, emergency, err := s.breakGlass(r)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	only, err := namedFields(r)
	if err == nil && emergency && only != nil {
		err = public.Errorf(access.ErrInvalid, "invalid input: fields= does not combine with Coffre-Break-Glass").
			WithHint("an emergency read returns the purpose's whole view: leave fields= out")
	}
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	var v *vault.View
	switch {
	case emergency:
		v, err = s.Vault.BreakGlass(r.Context(), a, id, purpose, reason, why)
	case only != nil:
		v, err = s.Vault.ReadFields(r.Context(), a, id, purpose, reason, only)
	default:
		v, err = s.Vault.Read(r.Context(), a, id, purpose, reason)
	}
	var pending *vault.ConsentPending
	switch {
	case errors.As(err, &pending):
		w.Header().Set("Location", "/v1/consents/"+pending.Request.ID)
		writeJSON(w, http.StatusAccepted, consentAnswer{Consent: viewOf(pending.Request)})
	case err != nil:
		s.fail(w, r, &a, err)
	default:
		writeView(w, v)
	}
}

// consentAnswer is one consent request: a read's 202, its status, a person's decision.
type consentAnswer struct {
	Consent consentView `json:"consent"`
}

// readQuery and readHeader are what a read reads besides the subject's id.
var (
	readQuery  = []Param{{Name: "fields", Doc: "only these of the purpose's fields, separated by commas (not with Coffre-Break-Glass)"}}
	readHeader = []Param{purposeHeader, reasonHeader, {Name: "Coffre-Break-Glass", Doc: "an emergency read, and why (a purpose that allows it): the purpose's whole view, without consent"}}
)

// namedFields returns the fields a read names in its query
// (?fields=a,b: a read narrowed to them), or nil when it names none.
func namedFields(r *http.Request) ([]string, error) {
	q, ok := r.URL.Query()["fields"]
	if !ok {
		return nil, nil
	}
	if len(q) != 1 {
		return nil, public.Errorf(access.ErrInvalid, "invalid input: fields= given %d times", len(q)).WithHint("name the fields once, separated by commas: ?fields=birth_date,national_id")
	}
	var out []string
	for _, f := range strings.Split(q[0], ",") {
		if f = strings.TrimSpace(f); f == "" || len(f) > 64 {
			return nil, public.Errorf(access.ErrInvalid, "invalid input: fields= holds an empty or over-long name").WithHint("name the fields separated by commas: ?fields=birth_date,national_id")
		}
		out = append(out, f)
	}
	return out, nil
}

// consentStatus serves GET /v1/consents/{id} to the operator who asked.
func (s *Server) consentStatus(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	c, err := s.Vault.Consent(r.Context(), a, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	writeJSON(w, http.StatusOK, consentAnswer{Consent: viewOf(*c)})
}

// myConsents serves GET /v1/me/consents: the person's requests waiting
// for their decision.
func (s *Server) myConsents(w http.ResponseWriter, r *http.Request, p vault.Person) {
	list, err := s.Vault.PendingConsents(r.Context(), p.Subject)
	if err != nil {
		s.fail(w, r, nil, err)
		return
	}
	out := make([]consentView, len(list))
	for i, c := range list {
		out[i] = s.personView(c)
	}
	writeJSON(w, http.StatusOK, consentsAnswer{Consents: out})
}

// consentsAnswer is the consent requests waiting for the person's decision.
type consentsAnswer struct {
	Consents []consentView `json:"consents"`
}

type decisionRequest struct {
	Decision string `json:"decision"`
}

// decideConsent serves POST /v1/me/consents/{id}: the person approves or
// denies.
func (s *Server) decideConsent(w http.ResponseWriter, r *http.Request, p vault.Person) {
	var req decisionRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, nil, err)
		return
	}
	if req.Decision != "approve" && req.Decision != "deny" {
		s.fail(w, r, nil, badRequest(`decision must be "approve" or "deny"`))
		return
	}
	c, err := s.Vault.DecideConsent(r.Context(), p.Subject, p.Origin, r.PathValue("id"), req.Decision == "approve")
	if err != nil {
		s.fail(w, r, nil, err)
		return
	}
	writeJSON(w, http.StatusOK, consentAnswer{Consent: s.personView(*c)})
}

// changeView is a pending contact change as its person sees it: which
// fields, asked by whom, taking effect when; never a value.
type changeView struct {
	ID          string    `json:"id"`
	Fields      []string  `json:"fields"`
	From        asker     `json:"from"`
	RequestedAt time.Time `json:"requested_at"`
	EffectiveAt time.Time `json:"effective_at"`
}

// myContactChanges serves GET /v1/me/contact-changes: the person's
// pending contact change, if any.
func (s *Server) myContactChanges(w http.ResponseWriter, r *http.Request, p vault.Person) {
	list, err := s.Vault.PendingContactChanges(r.Context(), p.Subject)
	if err != nil {
		s.fail(w, r, nil, err)
		return
	}
	out := make([]changeView, len(list))
	for i, c := range list {
		fields := c.Fields
		if fields == nil {
			fields = []string{}
		}
		out[i] = changeView{ID: c.ID, Fields: fields, From: asker{Unit: c.Unit, Role: c.Role}, RequestedAt: c.Created, EffectiveAt: c.Effective}
	}
	writeJSON(w, http.StatusOK, contactChangesAnswer{ContactChanges: out})
}

// contactChangesAnswer is the person's pending contact changes (one at most).
type contactChangesAnswer struct {
	ContactChanges []changeView `json:"contact_changes"`
}

// cancelContactChange serves POST /v1/me/contact-changes/{id}/cancel.
func (s *Server) cancelContactChange(w http.ResponseWriter, r *http.Request, p vault.Person) {
	if err := s.Vault.CancelContactChange(r.Context(), p.Subject, p.Origin, r.PathValue("id")); err != nil {
		s.fail(w, r, nil, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// isConsent reports whether err is an outcome of consent (or a person
// not signed in), and sets e to its answer.
func isConsent(err error, e *apiError) bool {
	a, ok := consentError(err)
	if ok {
		*e = a
	}
	return ok
}

// consentError maps the outcomes of consent to their answer, or reports
// false.
func consentError(err error) (apiError, bool) {
	switch {
	case errors.Is(err, consent.ErrDenied):
		return apiError{http.StatusForbidden, "consent_denied", public.Message(err, "the person denied consent"),
			public.Hint(err, "you may ask again once the denied request would have lapsed")}, true
	case errors.Is(err, consent.ErrExpired):
		return apiError{http.StatusConflict, "consent_expired", public.Message(err, "the consent request expired"),
			public.Hint(err, "nothing to do: the operator must ask again")}, true
	case errors.Is(err, consent.ErrDecided):
		return apiError{http.StatusConflict, "consent_decided", public.Message(err, "the consent request was decided already"),
			public.Hint(err, "a decision is final")}, true
	}
	return apiError{}, false
}
