package httpapi

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/contain"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/public"
	"github.com/coffre/coffre/internal/subjectid"
	"github.com/coffre/coffre/internal/vault"
)

// Access is who may call a route: the rule the authorization matrix
// (docs/authorization.md, TestAuthorizationMatrix) states and checks.
type Access struct {
	Kind AccessKind
	// Perm is the permission a Permission route needs.
	Perm policy.Permission
}

// AccessKind is the kind of an access rule.
type AccessKind int

// Access kinds.
const (
	Public        AccessKind = iota // anyone, no session (login steps, public proofs, health)
	Session                         // any operator with a session
	Purpose                         // an operator whose role may declare at least one purpose
	Permission                      // an operator whose role holds Perm (and, for lookups, a purpose)
	PartnerClient                   // a partner's client (partner listener only)
	Person                          // a person's own session (/v1/me/…): no operator's
)

// Allows reports whether an operator of role passes the rule (nil: no
// session).
func (a Access) Allows(role *policy.Role) bool {
	switch a.Kind {
	case Public:
		return true
	case Session:
		return role != nil
	case Purpose:
		return role != nil && len(role.Purposes) > 0
	case PartnerClient:
		return false // no operator session is accepted on the partner listener
	case Person:
		return false // a person's routes take no operator's session
	default:
		return role != nil && role.Has(a.Perm) && (a.Perm != policy.PermLookup || len(role.Purposes) > 0)
	}
}

func (a Access) String() string {
	switch a.Kind {
	case Public:
		return "anyone"
	case Session:
		return "any operator"
	case Purpose:
		return "roles with a purpose"
	case PartnerClient:
		return "partner client (certificate + API key)"
	case Person:
		return "the person (their own session)"
	default:
		return "permission " + string(a.Perm)
	}
}

// Route is one endpoint of the API and its access rule.
type Route struct {
	Method, Path string
	Access       Access
	Doc          string
	// In is the type of the JSON body the route takes, as a zero value
	// (nil: none); Out its answers other than errors; Query and Header
	// the query parameters and request headers it reads. The OpenAPI
	// document is built from them (OpenAPI), and the end-to-end tests
	// hold every request and answer to it.
	In any
	// InOptional: the body may be left out (or empty).
	InOptional bool
	Out        []Answer
	Query      []Param
	Header     []Param
	// One of: raw handles the request itself (public routes, and the
	// step-up routes, which accept a session used from elsewhere); op gets
	// the authenticated operator, after the route's rule was checked.
	raw http.HandlerFunc
	op  actorHandler
	// me gets the person of a person's session (Person routes).
	me personHandler
	// audit names the action in the audit entry of a refusal (as the core
	// names it when it refuses).
	audit string
}

// handler is the route's handler with its rule enforced: the rule is not
// only documentation, it is the first check of every request.
func (s *Server) handler(rt Route) http.HandlerFunc {
	if rt.me != nil {
		return s.personAuthed(rt.me)
	}
	if rt.op == nil {
		return rt.raw
	}
	return s.authed(func(w http.ResponseWriter, r *http.Request, a identity.Actor) {
		if !rt.Access.Allows(s.Vault.RoleOf(a)) {
			subject := ""
			if strings.HasPrefix(rt.Path, "/v1/subjects/{id}") && subjectid.Valid(r.PathValue("id")) {
				subject = r.PathValue("id")
			}
			s.Vault.Forbidden(r.Context(), a, rt.audit, subject, r.Header.Get("Coffre-Purpose"))
			s.fail(w, r, nil, public.Errorf(access.ErrForbidden, "forbidden: role %q may not call %s (%s)", a.Role, r.Pattern, rt.Access))
			return
		}
		rt.op(w, r, a)
	})
}

// refuseHead answers HEAD with 405 on every GET route that needs a
// session or a partner client. ServeMux lets a GET pattern match HEAD,
// which would run the handler: an access, audited, whose answer is thrown
// away. Public GETs (health, checkpoint, proofs) keep HEAD.
func refuseHead(mux *http.ServeMux, routes []Route) {
	for _, rt := range routes {
		if rt.Method == http.MethodGet && rt.Access.Kind != Public {
			mux.HandleFunc("HEAD "+rt.Path, methodNotAllowed(allowed(routes, rt.Path)))
		}
	}
}

// allowed lists the methods of the routes on path, for an Allow header.
func allowed(routes []Route, path string) string {
	var methods []string
	for _, rt := range routes {
		if rt.Path == path {
			methods = append(methods, rt.Method)
		}
	}
	return strings.Join(methods, ", ")
}

func perm(p policy.Permission) Access { return Access{Kind: Permission, Perm: p} }

// routes is the API: every endpoint, its access rule and its handler. The
// mux is built from it, and so is the authorization matrix.
func (s *Server) routes() []Route {
	pub, ses, pur, you := Access{Kind: Public}, Access{Kind: Session}, Access{Kind: Purpose}, Access{Kind: Person}
	return []Route{
		{Method: "POST", Path: "/v1/auth/login", Access: pub, Doc: "password step of a login", In: loginRequest{}, Out: ok(loginAnswer{}), raw: s.login},
		{Method: "POST", Path: "/v1/auth/totp", Access: pub, Doc: "TOTP second factor", In: totpRequest{}, Out: ok(sessionAnswer{}), raw: s.totp},
		{Method: "POST", Path: "/v1/auth/webauthn/begin", Access: pub, Doc: "security-key second factor: options", In: webauthnLogin{}, Out: ok(webauthnAssertion{}), raw: s.webauthnBegin},
		{Method: "POST", Path: "/v1/auth/webauthn/finish", Access: pub, Doc: "security-key second factor: assertion", In: webauthnLogin{}, Out: ok(sessionAnswer{}), raw: s.webauthnFinish},
		{Method: "POST", Path: "/v1/auth/recovery", Access: pub, Doc: "recovery-code second factor", In: codeRequest{}, Out: ok(sessionAnswer{}), raw: s.recoveryLogin},
		{Method: "POST", Path: "/v1/auth/enrol", Access: pub, Doc: "set one's password and TOTP with an enrolment code, once", In: enrolRequest{}, Out: ok(enrolAnswer{}), raw: s.enrol},
		{Method: "POST", Path: "/v1/auth/stepup/totp", Access: ses, Doc: "fresh TOTP in the session, for a purpose (and rebind)", In: stepUpCode{}, Out: noContent, raw: s.stepUpTOTP},
		{Method: "POST", Path: "/v1/auth/stepup/webauthn/begin", Access: ses, Doc: "fresh security key: options", Out: ok(webauthnAssertion{}), raw: s.stepUpWebAuthnBegin},
		{Method: "POST", Path: "/v1/auth/stepup/webauthn/finish", Access: ses, Doc: "fresh security key: assertion, for a purpose", In: stepUpKey{}, Out: noContent, raw: s.stepUpWebAuthnFinish},
		{Method: "POST", Path: "/v1/auth/logout", Access: ses, Doc: "end the session", Out: noContent, op: s.logout},
		{Method: "GET", Path: "/v1/account/sessions", Access: ses, Doc: "one's sessions", Out: ok(sessionListAnswer{}), op: s.listSessions},
		{Method: "DELETE", Path: "/v1/account/sessions/{id}", Access: ses, Doc: "revoke one of one's sessions", Out: noContent, op: s.revokeSession},
		{Method: "GET", Path: "/v1/account/webauthn", Access: ses, Doc: "one's security keys", Out: ok(keyListAnswer{}), op: s.listKeys},
		{Method: "POST", Path: "/v1/account/webauthn/begin", Access: ses, Doc: "register a security key: options", Out: ok(webauthnCreation{}), op: s.registerBegin},
		{Method: "POST", Path: "/v1/account/webauthn/finish", Access: ses, Doc: "register a security key: attestation", In: credentialRequest{}, Out: created(keyAnswer{}), op: s.registerFinish},
		{Method: "DELETE", Path: "/v1/account/webauthn/{id}", Access: ses, Doc: "remove a security key", Out: noContent, op: s.removeKey},
		{Method: "POST", Path: "/v1/account/recovery-codes", Access: ses, Doc: "new recovery codes", Out: created(recoveryCodesAnswer{}), op: s.recoveryCodes},
		{Method: "GET", Path: "/v1/account/caseload", Access: ses, Doc: "how many people one's caseload holds (a count, never a list)", Out: ok(caseloadCount{}), op: s.myCaseload},
		{Method: "GET", Path: "/v1/account/caseload/{id}", Access: ses, Doc: "whether one subject is in one's caseload, until when", Out: ok(vault.Assignment{}), op: s.inMyCaseload},
		{Method: "POST", Path: "/v1/subjects", Access: perm(policy.PermCreate), Doc: "create a subject", In: createRequest{}, Out: created(subjectAnswer{}), op: s.create, audit: "create"},
		{Method: "POST", Path: "/v1/subjects/lookup", Access: perm(policy.PermLookup), Doc: "find one subject by exact value", In: lookupRequest{}, Out: ok(subjectAnswer{}), Header: purposeAccess, op: s.lookup, audit: "lookup"},
		{Method: "GET", Path: "/v1/subjects/{id}", Access: pur, Doc: "read one subject for a purpose (?fields=a,b: only those of its fields; 202 and a consent request when the purpose asks the person's consent; Coffre-Break-Glass: an emergency read)", Out: []Answer{{Status: 200, Body: vault.View{}, Doc: "the view (written by writeView, byte for byte vault.View's JSON)"}, {Status: 202, Body: consentAnswer{}}}, Query: readQuery, Header: readHeader, op: s.read, audit: "read"},
		{Method: "PATCH", Path: "/v1/subjects/{id}", Access: perm(policy.PermUpdate), Doc: "update fields", In: updateRequest{}, Out: []Answer{{Status: 204}, {Status: 202, Body: updateAnswer{}}}, Header: purposeAccess, op: s.update, audit: "update"},
		{Method: "DELETE", Path: "/v1/subjects/{id}", Access: perm(policy.PermErase), Doc: "erase (crypto-shred)", Out: noContent, Header: eraseHeader, op: s.erase, audit: "erase"},
		{Method: "POST", Path: "/v1/extensions", Access: pur, Doc: "ask for a budget extension", In: extensionRequest{}, Out: created(guard.Extension{}), op: s.requestExtension, audit: "extension.request"},
		{Method: "GET", Path: "/v1/extensions", Access: perm(policy.PermSupervise), Doc: "the extension requests of one's unit waiting for approval, oldest first", Out: ok(extensionsAnswer{}), op: s.pendingExtensions, audit: "extension.list"},
		{Method: "POST", Path: "/v1/extensions/{id}/approve", Access: perm(policy.PermSupervise), Doc: "approve an extension", In: approveRequest{}, Out: []Answer{{Status: http.StatusOK, Body: guard.Extension{}, Doc: "approved: the extension is in force"}, {Status: http.StatusAccepted, Body: guard.Extension{}, Doc: "the first of two approvals: not in force yet"}}, op: s.approveExtension, audit: "extension.approve"},
		{Method: "GET", Path: "/v1/consents/{id}", Access: pur, Doc: "one's consent request: pending, approved, denied, expired or used", Out: ok(consentAnswer{}), op: s.consentStatus, audit: "consent.status"},
		{Method: "GET", Path: "/v1/me/consents", Access: you, Doc: "the consent requests waiting for one's decision", Out: ok(consentsAnswer{}), me: s.asPerson(s.myConsents)},
		{Method: "POST", Path: "/v1/me/consents/{id}", Access: you, Doc: "approve or deny a consent request", In: decisionRequest{}, Out: ok(consentAnswer{}), me: s.asPerson(s.decideConsent)},
		{Method: "GET", Path: "/v1/me/contact-changes", Access: you, Doc: "one's pending contact change (fields, who, when: no value)", Out: ok(contactChangesAnswer{}), me: s.asPerson(s.myContactChanges)},
		{Method: "POST", Path: "/v1/me/contact-changes/{id}/cancel", Access: you, Doc: "cancel one's pending contact change", Out: noContent, me: s.asPerson(s.cancelContactChange)},
		{Method: "GET", Path: "/v1/alerts", Access: perm(policy.PermSecurity), Doc: "the guard's alerts", Out: ok(alertsAnswer{}), Query: []Param{{Name: "after", Doc: "only the alerts after this alert id", Integer: true}}, op: s.alerts, audit: "alerts.list"},
		{Method: "POST", Path: "/v1/operators/{id}/unlock", Access: perm(policy.PermSecurity), Doc: "lift a lock", In: unlockRequest{}, Out: ok(unlockAnswer{}), op: s.unlock, audit: "guard.unlock"},
		{Method: "POST", Path: "/v1/operators/{id}/sessions/revoke", Access: perm(policy.PermSecurity), Doc: "revoke an operator's sessions", In: reasonRequest{}, Out: ok(revokedSessionsAnswer{}), op: s.revokeOperator, audit: "session.revoke_operator"},
		{Method: "POST", Path: "/v1/sessions/revoke-all", Access: perm(policy.PermSecurity), Doc: "revoke everyone's sessions", In: reasonRequest{}, Out: ok(revokedSessionsAnswer{}), op: s.revokeEveryone, audit: "session.revoke_all"},
		{Method: "POST", Path: "/v1/operators", Access: perm(policy.PermOperators), Doc: "create an operator (non-privileged role), waiting for approval", In: operatorRequest{}, Out: created(newOperatorAnswer{}), op: s.addOperator, audit: "operator.add"},
		{Method: "POST", Path: "/v1/operators/{id}/approve", Access: perm(policy.PermOperators), Doc: "approve an account another administrator created: its enrolment code", In: approveOperatorRequest{}, InOptional: true, Out: ok(approvedAnswer{}), op: s.approveOperator, audit: "operator.approve"},
		{Method: "PATCH", Path: "/v1/operators/{id}", Access: perm(policy.PermOperators), Doc: "change an operator's role (non-privileged, never one's own)", In: roleRequest{}, Out: ok(roleAnswer{}), op: s.setRole, audit: "operator.role"},
		{Method: "GET", Path: "/v1/operators", Access: perm(policy.PermOperators), Doc: "list the accounts (staff and partners), paged", Query: []Param{{Name: "limit", Doc: "how many accounts, 1 to 500 (100 by default)", Integer: true}, {Name: "after", Doc: "the id to list after: the previous page's next"}}, Out: ok(operatorsAnswer{}), op: s.listOperators, audit: "operator.list"},
		{Method: "POST", Path: "/v1/operators/{id}/disable", Access: perm(policy.PermOperators), Doc: "disable an account: no login, sessions ended", In: lifecycleRequest{}, InOptional: true, Out: ok(lifecycleAnswer{}), op: s.lifecycle(auth.Disable), audit: "operator.disable"},
		{Method: "POST", Path: "/v1/operators/{id}/enable", Access: perm(policy.PermOperators), Doc: "enable a disabled account", In: lifecycleRequest{}, InOptional: true, Out: ok(lifecycleAnswer{}), op: s.lifecycle(auth.Enable), audit: "operator.enable"},
		{Method: "DELETE", Path: "/v1/operators/{id}", Access: perm(policy.PermOperators), Doc: "delete an account: its identity erased, its id kept in the log", Header: []Param{{Name: "Coffre-Purpose", Doc: "a declared purpose (optional; checked for form only)"}, {Name: "Coffre-Reason", Doc: "why the account is deleted (optional), kept in the audit entry"}}, Out: ok(lifecycleAnswer{}), op: s.lifecycle(auth.Delete), audit: "operator.delete"},
		{Method: "POST", Path: "/v1/operators/{id}/lock", Access: perm(policy.PermSecurity), Doc: "lock an account by hand, with a reason", In: lifecycleRequest{}, Out: ok(lifecycleAnswer{}), op: s.lifecycle(auth.Lock), audit: "operator.lock"},
		{Method: "PUT", Path: "/v1/operators/{id}/caseload", Access: perm(policy.PermAssign), Doc: "assign people to another operator's caseload, until a date", In: caseloadAssignment{}, Out: ok(caseloadAssigned{}), op: s.assignCaseload, audit: "caseload.assign"},
		{Method: "DELETE", Path: "/v1/operators/{id}/caseload", Access: perm(policy.PermAssign), Doc: "end people's assignments to another operator's caseload", In: caseloadRemoval{}, Out: ok(caseloadRemoved{}), op: s.removeCaseload, audit: "caseload.remove"},
		{Method: "POST", Path: "/v1/partners", Access: perm(policy.PermOperators), Doc: "register a partner and issue its credentials", In: partnerRequest{}, Out: created(newPartnerAnswer{}), op: s.addPartner, audit: "partner.add"},
		{Method: "GET", Path: "/v1/requests", Access: perm(policy.PermRights), Doc: "the persons' open requests, earliest due first: ids, kinds, fields, dates (nobody's id or words)", Out: ok(requestQueue{}), Query: []Param{{Name: "limit", Integer: true, Doc: "at most this many requests, 1 to 200 (default 200)"}, {Name: "after", Doc: "the id of the last request of the previous page (its next)"}}, op: s.listRequests, audit: "request.list"},
		{Method: "GET", Path: "/v1/requests/{id}", Access: perm(policy.PermRights), Doc: "open one request: whose, what the person wrote (an access to the person)", Out: ok(vault.RequestView{}), op: s.openRequest, audit: "request.open"},
		{Method: "POST", Path: "/v1/requests/{id}", Access: perm(policy.PermRights), Doc: "decide a request: accept, refuse, extend (once, in the first month) or lift, with a reason", In: decideRequest{}, Out: ok(vault.RequestView{}), op: s.decideRequest, audit: "request.decide"},
		{Method: "POST", Path: "/v1/subjects/{id}/holds", Access: perm(policy.PermHold), Doc: "place a legal hold on a subject, with a reason: no erasure nor purge until lifted", In: holdRequest{}, Out: created(vault.HoldView{}), op: s.placeHold, audit: "hold.place"},
		{Method: "GET", Path: "/v1/subjects/{id}/holds", Access: perm(policy.PermHold), Doc: "a subject's legal holds, in force or lifted, with their reasons", Out: ok(holdsAnswer{}), op: s.listHolds, audit: "hold.list"},
		{Method: "POST", Path: "/v1/holds/{id}/lift", Access: perm(policy.PermHold), Doc: "lift a legal hold, with a reason", In: holdRequest{}, Out: ok(vault.HoldView{}), op: s.liftHold, audit: "hold.lift"},
		{Method: "POST", Path: "/v1/stats", Access: perm(policy.PermStats), Doc: "aggregate counts over the declared dimensions only: noised, no group under k; spends the analyst's privacy budget, and says what remains", In: statsRequest{}, Out: ok(statsAnswer{}), op: s.statsQuery, audit: "stats"},
		{Method: "POST", Path: "/v1/incidents", Access: perm(policy.PermIncidents), Doc: "open an incident: awareness, nature, scope; starts the GDPR and NIS2 clocks", In: openIncidentRequest{}, Out: created(vault.IncidentView{}), op: s.openIncident, audit: "incident.open"},
		{Method: "GET", Path: "/v1/incidents", Access: perm(policy.PermIncidents), Doc: "the breach register: every incident, notified or not", Out: ok(incidentsAnswer{}), op: s.listIncidents, audit: "incident.list"},
		{Method: "GET", Path: "/v1/incidents/{id}", Access: perm(policy.PermIncidents), Doc: "one incident: scope, clocks, impact counts, timeline", Out: ok(vault.IncidentView{}), op: s.getIncident, audit: "incident.show"},
		{Method: "PUT", Path: "/v1/incidents/{id}/scope", Access: perm(policy.PermIncidents), Doc: "replace an incident's scope", In: scopeRequest{}, Out: ok(vault.IncidentView{}), op: s.changeScope, audit: "incident.scope"},
		{Method: "POST", Path: "/v1/incidents/{id}/contain", Access: perm(policy.PermIncidents), Doc: "contain: seal, revoke (the scope's sessions or everyone's), lock, disable, reenrol, revoke-partners, rotate-root-key; each also under its own permission", In: containRequest{}, Out: ok(contain.Result{}), op: s.containIncident, audit: "incident.contain"},
		{Method: "GET", Path: "/v1/incidents/{id}/impact", Access: perm(policy.PermIncidents), Doc: "compute the impact from the verified audit log: people and fields exposed to the scope (counts only)", Out: ok(impactAnswer{}), op: s.incidentImpact, audit: "incident.impact"},
		{Method: "GET", Path: "/v1/incidents/{id}/report", Access: perm(policy.PermIncidents), Doc: "the report to the authorities (GDPR art. 33, CNIL form, NIS2), a draft: ?phase=initial|complementary|final&lang=fr|en&format=json|markdown", Out: reportAnswer, Query: reportQuery, op: s.incidentReport, audit: "incident.report"},
		{Method: "POST", Path: "/v1/incidents/{id}/report", Access: perm(policy.PermIncidents), Doc: "the report, recorded as filed (its clocks stop)", Out: reportAnswer, Query: reportQuery, op: s.incidentReport, audit: "incident.report"},
		{Method: "GET", Path: "/v1/me/data", Access: you, Doc: "the person's art. 15 package: their record, history, purposes, recipients, retention, whom to turn to", Out: ok(myData{}), me: s.asPerson(s.myData)},
		{Method: "POST", Path: "/v1/me/requests", Access: you, Doc: "file a request: rectification, restriction, erasure or objection", In: fileRequest{}, Out: created(vault.RequestView{}), me: s.asPerson(s.fileRequest)},
		{Method: "GET", Path: "/v1/me/requests", Access: you, Doc: "one's requests, their deadlines and answers", Out: ok(myRequestsAnswer{}), me: s.asPerson(s.myRequests)},
		{Method: "POST", Path: "/v1/me/blocks", Access: you, Doc: "block a partner or a unit from one's record", In: blockRequest{}, Out: created(vault.BlockView{}), me: s.asPerson(s.block)},
		{Method: "GET", Path: "/v1/me/blocks", Access: you, Doc: "one's blocks", Out: ok(myBlocksAnswer{}), me: s.asPerson(s.myBlocks)},
		{Method: "DELETE", Path: "/v1/me/blocks/{id}", Access: you, Doc: "remove a block", Out: noContent, me: s.asPerson(s.unblock)},
		{Method: "POST", Path: "/v1/me/login", Access: pub, Doc: "a person asks a one-time code for a contact on their record (the same answer either way)", In: meLoginRequest{}, Out: ok(meLoginAnswer{}), raw: s.meLogin},
		{Method: "POST", Path: "/v1/me/login/code", Access: pub, Doc: "a person's login token and code: their session", In: meCodeRequest{}, Out: ok(sessionAnswer{}), raw: s.meCode},
		{Method: "GET", Path: "/v1/me/oidc/start", Access: pub, Doc: "a person signs in through the OpenID Connect provider: the redirect", Out: []Answer{{Status: http.StatusFound, Doc: "to the provider, the sign-in's sealed state in a cookie"}}, raw: s.meOIDCStart},
		{Method: "GET", Path: "/v1/me/oidc/callback", Access: pub, Doc: "the provider's answer: the person's session", Out: ok(sessionAnswer{}), Query: []Param{{Name: "state", Doc: "the state the provider sends back"}, {Name: "code", Doc: "the provider's authorization code"}, {Name: "error", Doc: "the provider's error, when it did not sign the person in"}}, raw: s.meOIDCCallback},
		{Method: "GET", Path: "/v1/me", Access: you, Doc: "who the session is: the subject's id and verification phrase", Out: ok(meProfileAnswer{}), Query: []Param{{Name: "lang", Doc: "the phrase's language: fr or en (else Accept-Language's, else en)"}}, Header: []Param{{Name: "Accept-Language", Doc: "the phrase's language, when no lang is given"}}, me: s.meProfile},
		{Method: "GET", Path: "/v1/me/accesses", Access: you, Doc: "the person's history: every entry about them, with its proofs and in words", Out: ok(auditlog.History{}), me: s.meAccesses},
		{Method: "POST", Path: "/v1/me/logout", Access: you, Doc: "end the person's session", Out: noContent, me: s.meLogout},
		{Method: "GET", Path: "/v1/audit/entries", Access: perm(policy.PermAudit), Doc: "audit entries", Out: ok(auditEntriesAnswer{}), Query: auditEntriesQuery, op: s.auditEntries, audit: "audit.entries"},
		{Method: "GET", Path: "/v1/audit/checkpoint", Access: pub, Doc: "latest signed checkpoint", Out: []Answer{{Status: 200, Media: "text/plain; charset=utf-8"}}, raw: s.checkpoint},
		{Method: "GET", Path: "/v1/audit/key", Access: pub, Doc: "the checkpoints' verifier key (note format), to check proofs against", Out: []Answer{{Status: 200, Media: "text/plain; charset=utf-8"}}, raw: s.auditKey},
		{Method: "GET", Path: "/v1/audit/proof/inclusion", Access: pub, Doc: "inclusion proof", Out: ok(inclusionAnswer{}), Query: inclusionQuery, raw: s.proof("index", "size", auditlog.InclusionProof, inclusion)},
		{Method: "GET", Path: "/v1/audit/proof/consistency", Access: pub, Doc: "consistency proof", Out: ok(consistencyAnswer{}), Query: consistencyQuery, raw: s.proof("from", "to", auditlog.ConsistencyProof, consistency)},
		{Method: "GET", Path: "/v1/sys/seal-status", Access: pub, Doc: "sealed or not, the share set, its threshold and the unseal progress", Out: ok(sealStatusAnswer{}), raw: s.sealStatus},
		{Method: "POST", Path: "/v1/sys/unseal", Access: pub, Doc: "enter one unseal share (or reset the shares entered)", In: unsealRequest{}, Out: ok(sealStatusAnswer{}), raw: s.unsealUnsealed},
		{Method: "POST", Path: "/v1/sys/seal-share", Access: pub, Doc: "where seal.by is quorum: enter one seal share, with the reason; the M-th distinct share seals (elsewhere 403 seal_by_officer, or 409 not_sealable)", In: sealShareRequest{}, Out: ok(sealShareAnswer{}), raw: s.sealShareUnquorate},
		{Method: "POST", Path: "/v1/sys/seal", Access: perm(policy.PermSeal), Doc: "seal: the keys leave memory, every data route answers 503", In: reasonRequest{}, Out: ok(sealAnswer{}), op: s.sealVault, audit: "seal"},
		{Method: "POST", Path: "/v1/sys/keys/rotate", Access: perm(policy.PermSeal), Doc: "add a root key version; keys are rewrapped under it in the background", In: reasonRequest{}, Out: ok(rotatedAnswer{}), op: s.rotateKeys, audit: "keys.rotate"},
		{Method: "POST", Path: "/v1/sys/keys/reindex", Access: perm(policy.PermSeal), Doc: "rebuild the blind index under a new key, beside the old; lookups switch when it is built", In: reasonRequest{}, Out: ok(reindexAnswer{}), op: s.reindexKeys, audit: "keys.reindex"},
		{Method: "GET", Path: "/v1/sys/keys", Access: perm(policy.PermSeal), Doc: "root key versions, the keys under each, the rewrap pass; blind index generations, the rebuild", Out: ok(keysStatus{}), op: s.keyStatus, audit: "keys.status"},
		{Method: "GET", Path: "/healthz", Access: pub, Doc: "liveness", Out: ok(healthAnswer{}), raw: s.healthz},
		{Method: "GET", Path: "/readyz", Access: pub, Doc: "readiness", Out: ok(readyAnswer{}), raw: s.ready},
		{Method: "GET", Path: "/v1/openapi.json", Access: pub, Doc: "this API's OpenAPI 3.1 document", Out: ok(map[string]any{}), raw: s.serveOpenAPI},
	}
}

// Routes lists the API's endpoints and their access rules (for the
// authorization matrix).
func Routes() []Route { return (&Server{}).routes() }

// Matrix renders the authorization matrix of pol as Markdown: every route
// against anonymous and every role, ✓ allowed, ✗ refused (401 without a
// session, 403 with one).
func Matrix(pol *policy.Policy) string {
	roles := make([]string, 0, len(pol.Roles))
	for name := range pol.Roles {
		roles = append(roles, name)
	}
	slices.Sort(roles)
	var b strings.Builder
	b.WriteString("| endpoint | rule | anonymous |")
	for _, r := range roles {
		b.WriteString(" " + r + " |")
	}
	b.WriteString("\n| --- | --- | --- |" + strings.Repeat(" --- |", len(roles)) + "\n")
	mark := func(ok bool) string {
		if ok {
			return " ✓ |"
		}
		return " ✗ |"
	}
	for _, rt := range Routes() {
		fmt.Fprintf(&b, "| `%s %s` | %s |%s", rt.Method, rt.Path, rt.Access, mark(rt.Access.Allows(nil)))
		for _, r := range roles {
			b.WriteString(mark(rt.Access.Allows(pol.Roles[r])))
		}
		b.WriteString("\n")
	}
	b.WriteString("\nRoutes for the person (their own session) take only a person's session, opened with POST /v1/me/login and /v1/me/login/code\n" +
		"or through the OpenID Connect provider; it reaches those routes alone, about that person alone. An operator's session is\n" +
		"refused on them (403), whatever its role, and a person's session on every other route (403).\n")
	b.WriteString("\nThe partner listener (mutual TLS) serves only these, to partner clients:\n\n")
	b.WriteString("| endpoint | rule | anonymous | operator session | partner client |\n| --- | --- | --- | --- | --- |\n")
	for _, rt := range PartnerRoutes() {
		fmt.Fprintf(&b, "| `%s %s` | %s | ✗ | ✗ | ✓ |\n", rt.Method, rt.Path, rt.Access)
	}
	b.WriteString("\nOn the operator listener a partner's credentials are refused (401) on every route.\n")
	b.WriteString("The /v1/me routes are the person's: they answer 401 to every operator and partner.\n")
	return b.String()
}
