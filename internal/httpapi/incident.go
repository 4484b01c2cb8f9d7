package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/coffre/coffre/internal/breach"
	"github.com/coffre/coffre/internal/contain"
	"github.com/coffre/coffre/internal/event"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/incident"
	"github.com/coffre/coffre/internal/public"
)

// scopeRequest is an incident's scope as the API takes it (incident.Scope).
type scopeRequest struct {
	Operators   []string  `json:"operators,omitempty"`
	Partners    []string  `json:"partners,omitempty"`
	Origins     []string  `json:"origins,omitempty"`
	From        time.Time `json:"from"`
	To          time.Time `json:"to,omitzero"`
	Everything  bool      `json:"everything,omitempty"`
	StoreStolen bool      `json:"store_stolen,omitempty"`
	KeysSafe    bool      `json:"keys_safe,omitempty"`
}

func (q scopeRequest) scope() incident.Scope {
	return incident.Scope{Operators: q.Operators, Partners: q.Partners, Origins: q.Origins, From: q.From, To: q.To,
		Everything: q.Everything, StoreStolen: q.StoreStolen, KeysSafe: q.KeysSafe}
}

// openIncidentRequest is POST /v1/incidents. Aware defaults to now.
type openIncidentRequest struct {
	Title     string       `json:"title"`
	Nature    []string     `json:"nature,omitempty"`
	Aware     time.Time    `json:"aware,omitzero"`
	Detection string       `json:"detection,omitempty"`
	Scope     scopeRequest `json:"scope"`
}

func (s *Server) openIncident(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	var req openIncidentRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, &a, err)
		return
	}
	inc := &incident.Incident{Title: req.Title, Nature: req.Nature, Aware: req.Aware, Detection: req.Detection, Scope: req.Scope.scope()}
	if inc.Aware.IsZero() {
		inc.Aware = time.Now().UTC()
	}
	if len(inc.Nature) == 0 {
		inc.Nature = []string{incident.Confidentiality}
	}
	inc, err := s.Vault.OpenIncident(r.Context(), a, inc)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	s.writeIncident(w, r, a, inc.ID, http.StatusCreated)
}

// writeIncident answers with incident id as GET /v1/incidents/{id} does.
func (s *Server) writeIncident(w http.ResponseWriter, r *http.Request, a identity.Actor, id string, status int) {
	v, err := s.Vault.Incident(r.Context(), a, id)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	writeJSON(w, status, v)
}

func (s *Server) getIncident(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	s.writeIncident(w, r, a, r.PathValue("id"), http.StatusOK)
}

// incidentsAnswer is GET /v1/incidents's answer: the breach register.
type incidentsAnswer struct {
	Incidents []incident.Incident `json:"incidents"`
}

func (s *Server) listIncidents(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	list, err := s.Vault.Incidents(r.Context(), a)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	writeJSON(w, http.StatusOK, incidentsAnswer{Incidents: list})
}

func (s *Server) changeScope(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	var req scopeRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, &a, err)
		return
	}
	inc, err := s.Vault.ChangeScope(r.Context(), a, r.PathValue("id"), req.scope())
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	s.writeIncident(w, r, a, inc.ID, http.StatusOK)
}

// containRequest is POST /v1/incidents/{id}/contain.
type containRequest struct {
	Act      string `json:"act"`
	Everyone bool   `json:"everyone,omitempty"`
}

// containIncident runs one act of containment for the incident (package
// contain), each under its own permission: seal needs seal, the others
// security.
func (s *Server) containIncident(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	var req containRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, &a, err)
		return
	}
	c := &contain.Containment{Vault: s.Vault, Auth: s.Auth, Seal: s.Seal}
	if s.Keys != nil {
		c.Keys = s.Keys
	}
	res, err := c.Do(r.Context(), a, r.PathValue("id"), req.Act, req.Everyone)
	if errors.Is(err, contain.ErrNotHere) {
		writeError(w, http.StatusConflict, "not_here", public.Message(err, "not possible on this server"), "")
		return
	}
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	if req.Act == contain.Seal {
		s.Logger.WarnContext(r.Context(), "sealed", "event", event.Seal, "operator", a.ID, "incident", r.PathValue("id"))
	}
	writeJSON(w, http.StatusOK, res)
}

// impactAnswer is GET /v1/incidents/{id}/impact's answer: the counts,
// and the notes that say what they do not.
type impactAnswer struct {
	Impact incident.Impact `json:"impact"`
	Notes  []string        `json:"notes"`
}

// incidentImpact computes the incident's impact (GET
// /v1/incidents/{id}/impact): counts only; the people's list is written
// on the host (coffre incident impact --out), never served.
func (s *Server) incidentImpact(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	if s.AuditKey == "" {
		writeError(w, http.StatusConflict, "not_here", "this server cannot verify its audit log", "compute the impact on the host: coffre incident impact ID")
		return
	}
	res, err := s.Vault.Impact(r.Context(), a, r.PathValue("id"), s.AuditKey)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	notes := res.Notes
	if notes == nil {
		notes = []string{}
	}
	writeJSON(w, http.StatusOK, impactAnswer{Impact: res.Impact, Notes: notes})
}

// breachReport documents the report's JSON answer (breach.Report, under
// a name of its own: incident.Report, an incident's filed reports, is
// another component "Report").
type breachReport breach.Report

// The report routes' answer and query parameters.
var (
	reportAnswer = []Answer{{Status: http.StatusOK, Body: breachReport{}, Doc: "the report (with ?format=markdown: the same, as Markdown)"},
		{Status: http.StatusOK, Media: "text/markdown; charset=utf-8"}}
	reportQuery = []Param{
		{Name: "phase", Doc: "initial (the default), complementary or final"},
		{Name: "lang", Doc: "the Markdown's language: fr or en"},
		{Name: "format", Doc: "json (the default) or markdown"},
		{Name: "delay_reason", Doc: "why the notification comes more than 72 hours after awareness (GDPR art. 33(1)): printable text"},
	}
)

// incidentReport writes the incident's report (GET
// /v1/incidents/{id}/report?phase=initial&lang=fr&format=json|markdown),
// a draft; POST records it as filed.
func (s *Server) incidentReport(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	q := r.URL.Query()
	phase, lang, format := q.Get("phase"), q.Get("lang"), q.Get("format")
	if phase == "" {
		phase = incident.Initial
	}
	if lang != "" && lang != "fr" && lang != "en" || format != "" && format != "json" && format != "markdown" {
		s.fail(w, r, &a, badRequest("lang: fr or en; format: json or markdown"))
		return
	}
	st := s.Breach
	st.DelayReason = q.Get("delay_reason")
	if len(st.DelayReason) > incident.MaxText || !printable(st.DelayReason) {
		s.fail(w, r, &a, badRequest("delay_reason: printable, at most %d bytes", incident.MaxText))
		return
	}
	rep, err := s.Vault.Report(r.Context(), a, r.PathValue("id"), phase, st, r.Method == http.MethodPost)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	if format == "markdown" {
		w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
		w.Write([]byte(rep.Markdown(lang)))
		return
	}
	writeJSON(w, http.StatusOK, rep)
}
