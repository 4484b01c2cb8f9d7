package httpapi

import (
	"net/http"
	"strings"

	"github.com/coffre/coffre/internal/partner"
	"github.com/coffre/coffre/internal/vault"
)

// PartnerRoutes are the routes of the partner listener: lookups and reads,
// naming subjects by the partner's sector pseudonyms.
func PartnerRoutes() []Route { return (&Server{}).partnerRoutes() }

func (s *Server) partnerRoutes() []Route {
	pc := Access{Kind: PartnerClient}
	return []Route{
		{Method: "POST", Path: "/v1/subjects/lookup", Access: pc, Doc: "find one subject by exact value: its sector pseudonym",
			In: lookupRequest{}, Out: ok(subjectAnswer{}), Header: append([]Param{apiKeyHeader}, purposeAccess...), op: s.lookup},
		{Method: "GET", Path: "/v1/subjects/{id}", Access: pc, Doc: "read one subject (by pseudonym) for the partner's purposes",
			Out: []Answer{{Status: 200, Body: vault.View{}}, {Status: 202, Body: consentAnswer{}}}, Query: readQuery, Header: append([]Param{apiKeyHeader}, readHeader...), op: s.read},
	}
}

// apiKeyHeader is the partner's API key, which every partner request
// carries beside its client certificate.
var apiKeyHeader = Param{Name: "Coffre-Api-Key", Required: true, Doc: "the partner's API key (with the partner's client certificate, mutual TLS)"}

// PartnerHandler serves the partner listener (mutual TLS): every request
// must present a client certificate from Coffre's CA and the partner's API
// key in Coffre-Api-Key; the certificate must be the partner's current one.
func (s *Server) PartnerHandler() http.Handler {
	s.defaults()
	mux := http.NewServeMux()
	for _, rt := range s.partnerRoutes() {
		mux.HandleFunc(rt.Method+" "+rt.Path, s.partnerAuthed(rt.op))
	}
	refuseHead(mux, s.partnerRoutes())
	mux.HandleFunc("GET /v1/openapi.json", s.servePartnerOpenAPI)
	mux.HandleFunc("/v1/subjects", s.noListing)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no_such_route", "no route "+r.Method+" "+r.URL.Path+" for partners", "partners may look subjects up and read them: see the README")
	})
	return s.instrumented(ListenerPartners, mux)
}

func (s *Server) partnerAuthed(h actorHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.PeerCertificates) == 0 {
			s.fail(w, r, nil, partner.ErrNoClientCert)
			return
		}
		key := strings.TrimSpace(r.Header.Get("Coffre-Api-Key"))
		a, err := s.Auth.AuthenticatePartner(r.Context(), key, r.TLS.PeerCertificates[0], s.origin(r))
		if err != nil {
			s.fail(w, r, nil, err)
			return
		}
		h(w, r, a)
	}
}
