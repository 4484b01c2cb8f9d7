package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/public"
	"github.com/coffre/coffre/internal/store"
)

// maxCredentialJSON bounds a WebAuthn response (attestations with
// certificate chains run to a few KiB).
const maxCredentialJSON = 16 << 10

type webauthnLogin struct {
	LoginToken string          `json:"login_token"`
	Credential json.RawMessage `json:"credential,omitempty"`
}

func (s *Server) loginToken(w http.ResponseWriter, r *http.Request, req *webauthnLogin, needCredential bool) bool {
	if err := s.decode(w, r, req); err != nil {
		s.fail(w, r, nil, err)
		return false
	}
	if req.LoginToken == "" || len(req.LoginToken) > 100 || needCredential && (len(req.Credential) == 0 || len(req.Credential) > maxCredentialJSON) {
		s.fail(w, r, nil, badRequest("login_token and, to finish, a credential (the PublicKeyCredential as JSON) required"))
		return false
	}
	return true
}

func (s *Server) webauthnBegin(w http.ResponseWriter, r *http.Request) {
	var req webauthnLogin
	if !s.loginToken(w, r, &req, false) {
		return
	}
	opts, err := s.Auth.BeginWebAuthnLogin(r.Context(), req.LoginToken)
	if err != nil {
		s.fail(w, r, nil, err)
		return
	}
	writeJSON(w, http.StatusOK, opts)
}

// webauthnAssertion documents the options of a security-key assertion as
// written (a protocol.CredentialAssertion, whose parts marshal themselves,
// so reflection would misdescribe it): navigator.credentials.get's
// argument, binary values in base64url.
type webauthnAssertion struct {
	PublicKey webauthnRequestOptions `json:"publicKey"`
	Mediation string                 `json:"mediation,omitempty"`
}

// webauthnRequestOptions documents a PublicKeyCredentialRequestOptions.
type webauthnRequestOptions struct {
	Challenge        string               `json:"challenge"`
	Timeout          int                  `json:"timeout,omitempty"`
	RPID             string               `json:"rpId,omitempty"`
	AllowCredentials []webauthnDescriptor `json:"allowCredentials,omitempty"`
	UserVerification string               `json:"userVerification,omitempty"`
	Hints            []string             `json:"hints,omitempty"`
	Extensions       map[string]any       `json:"extensions,omitempty"`
}

// webauthnDescriptor documents a PublicKeyCredentialDescriptor: a key
// allowed (or excluded), its id in base64url.
type webauthnDescriptor struct {
	Type       string   `json:"type"`
	ID         string   `json:"id"`
	Transports []string `json:"transports,omitempty"`
}

func (s *Server) webauthnFinish(w http.ResponseWriter, r *http.Request) {
	var req webauthnLogin
	if !s.loginToken(w, r, &req, true) {
		return
	}
	ses, err := s.Auth.FinishWebAuthnLogin(r.Context(), req.LoginToken, req.Credential, s.origin(r), r.UserAgent())
	if err != nil {
		s.fail(w, r, nil, err)
		return
	}
	writeSession(w, ses)
}

type codeRequest struct {
	LoginToken string `json:"login_token"`
	Code       string `json:"code"`
}

// stepUpCode and stepUpKey are the bodies of the TOTP and WebAuthn
// step-ups: the factor, and the purpose it is proved for ("" for none).
type stepUpCode struct {
	Code    string `json:"code"`
	Purpose string `json:"purpose,omitempty"`
}

type stepUpKey struct {
	Credential json.RawMessage `json:"credential,omitempty"`
	Purpose    string          `json:"purpose,omitempty"`
}

// stepUpPurpose checks the form of the purpose a step-up names; the
// policy checks the rest.
func stepUpPurpose(p string) error {
	if len(p) > 64 || !printable(p) {
		return badRequest("purpose: at most 64 printable bytes, the name of a purpose with step_up")
	}
	return nil
}

func (s *Server) recoveryLogin(w http.ResponseWriter, r *http.Request) {
	var req codeRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, nil, err)
		return
	}
	if req.LoginToken == "" || len(req.LoginToken) > 100 || req.Code == "" || len(req.Code) > 40 {
		s.fail(w, r, nil, badRequest("login_token and a recovery code required"))
		return
	}
	ses, err := s.Auth.VerifyRecovery(r.Context(), req.LoginToken, req.Code, s.origin(r), r.UserAgent())
	if err != nil {
		s.fail(w, r, nil, err)
		return
	}
	writeSession(w, ses)
}

// stepUpTOTP serves POST /v1/auth/stepup/totp {"code","purpose"}: a fresh
// TOTP code in the session, for the purpose named (a purpose with step_up
// needs one), and how a session used from a new place is re-checked.
func (s *Server) stepUpTOTP(w http.ResponseWriter, r *http.Request) {
	tok, ok := bearer(r)
	if !ok {
		s.fail(w, r, nil, errUnauthenticated)
		return
	}
	var req stepUpCode
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, nil, err)
		return
	}
	if len(req.Code) != 6 || strings.Trim(req.Code, "0123456789") != "" {
		s.fail(w, r, nil, badRequest("a 6-digit code required"))
		return
	}
	if err := stepUpPurpose(req.Purpose); err != nil {
		s.fail(w, r, nil, err)
		return
	}
	if err := s.Auth.StepUpTOTP(r.Context(), tok, req.Code, req.Purpose, s.origin(r), r.UserAgent()); err != nil {
		s.fail(w, r, nil, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) stepUpWebAuthnBegin(w http.ResponseWriter, r *http.Request) {
	tok, ok := bearer(r)
	if !ok {
		s.fail(w, r, nil, errUnauthenticated)
		return
	}
	opts, err := s.Auth.BeginWebAuthnStepUp(r.Context(), tok, s.origin(r), r.UserAgent())
	if err != nil {
		s.fail(w, r, nil, err)
		return
	}
	writeJSON(w, http.StatusOK, opts)
}

type credentialRequest struct {
	Name       string          `json:"name,omitempty"`
	Credential json.RawMessage `json:"credential,omitempty"`
}

func (s *Server) credential(w http.ResponseWriter, r *http.Request, a *identity.Actor, req *credentialRequest) bool {
	if err := s.decode(w, r, req); err != nil {
		s.fail(w, r, a, err)
		return false
	}
	if len(req.Credential) == 0 || len(req.Credential) > maxCredentialJSON || len(req.Name) > 64 || !printable(req.Name) {
		s.fail(w, r, a, badRequest("a credential (the PublicKeyCredential as JSON) and at most a 64-byte printable name required"))
		return false
	}
	return true
}

func (s *Server) stepUpWebAuthnFinish(w http.ResponseWriter, r *http.Request) {
	tok, ok := bearer(r)
	if !ok {
		s.fail(w, r, nil, errUnauthenticated)
		return
	}
	var req stepUpKey
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, nil, err)
		return
	}
	if len(req.Credential) == 0 || len(req.Credential) > maxCredentialJSON {
		s.fail(w, r, nil, badRequest("a credential (the PublicKeyCredential as JSON) required"))
		return
	}
	if err := stepUpPurpose(req.Purpose); err != nil {
		s.fail(w, r, nil, err)
		return
	}
	if err := s.Auth.FinishWebAuthnStepUp(r.Context(), tok, req.Credential, req.Purpose, s.origin(r), r.UserAgent()); err != nil {
		s.fail(w, r, nil, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listSessions(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	tok, _ := bearer(r)
	out, err := s.Auth.Sessions(r.Context(), a, tok)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	writeJSON(w, http.StatusOK, sessionListAnswer{Sessions: out})
}

// sessionListAnswer is one's sessions, the current one marked.
type sessionListAnswer struct {
	Sessions []auth.SessionInfo `json:"sessions"`
}

func (s *Server) revokeSession(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	id := r.PathValue("id")
	if len(id) != 16 || strings.Trim(id, "0123456789abcdef") != "" {
		s.fail(w, r, &a, badRequest("malformed session id: want 16 hex digits from GET /v1/account/sessions"))
		return
	}
	if err := s.Auth.RevokeSession(r.Context(), a, id); err != nil {
		s.fail(w, r, &a, notFoundAs(err, "no such session of yours"))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	out, err := s.Auth.WebAuthnKeys(r.Context(), a)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	writeJSON(w, http.StatusOK, keyListAnswer{Keys: out})
}

// keyListAnswer is one's security keys.
type keyListAnswer struct {
	Keys []auth.WebAuthnKey `json:"keys"`
}

func (s *Server) registerBegin(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	tok, _ := bearer(r)
	opts, err := s.Auth.BeginWebAuthnRegistration(r.Context(), tok)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	writeJSON(w, http.StatusOK, opts)
}

// webauthnCreation documents the options of a security key's registration
// as written (a protocol.CredentialCreation, whose parts marshal
// themselves): navigator.credentials.create's argument, binary values in
// base64url.
type webauthnCreation struct {
	PublicKey webauthnCreationOptions `json:"publicKey"`
	Mediation string                  `json:"mediation,omitempty"`
}

// webauthnCreationOptions documents a PublicKeyCredentialCreationOptions.
type webauthnCreationOptions struct {
	RP                     webauthnRP           `json:"rp"`
	User                   webauthnUser         `json:"user"`
	Challenge              string               `json:"challenge"`
	PubKeyCredParams       []webauthnCredParam  `json:"pubKeyCredParams,omitempty"`
	Timeout                int                  `json:"timeout,omitempty"`
	ExcludeCredentials     []webauthnDescriptor `json:"excludeCredentials,omitempty"`
	AuthenticatorSelection webauthnSelection    `json:"authenticatorSelection,omitzero"`
	Hints                  []string             `json:"hints,omitempty"`
	Attestation            string               `json:"attestation,omitempty"`
	AttestationFormats     []string             `json:"attestationFormats,omitempty"`
	Extensions             map[string]any       `json:"extensions,omitempty"`
}

// webauthnRP documents the relying party: Coffre.
type webauthnRP struct {
	Name string `json:"name"`
	ID   string `json:"id"`
}

// webauthnUser documents the account a key is registered for, its id (the
// user handle) in base64url.
type webauthnUser struct {
	Name        string `json:"name"`
	DisplayName string `json:"displayName"`
	ID          string `json:"id"`
}

// webauthnCredParam documents a key type and COSE algorithm accepted.
type webauthnCredParam struct {
	Type string `json:"type"`
	Alg  int    `json:"alg"`
}

// webauthnSelection documents the authenticator selection criteria.
type webauthnSelection struct {
	AuthenticatorAttachment string `json:"authenticatorAttachment,omitempty"`
	RequireResidentKey      *bool  `json:"requireResidentKey,omitempty"`
	ResidentKey             string `json:"residentKey,omitempty"`
	UserVerification        string `json:"userVerification,omitempty"`
}

func (s *Server) registerFinish(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	tok, _ := bearer(r)
	var req credentialRequest
	if !s.credential(w, r, &a, &req) {
		return
	}
	if req.Name == "" {
		req.Name = "security key"
	}
	id, err := s.Auth.FinishWebAuthnRegistration(r.Context(), tok, req.Name, req.Credential, s.origin(r))
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	writeJSON(w, http.StatusCreated, keyAnswer{ID: base64.RawURLEncoding.EncodeToString(id), Name: req.Name})
}

// keyAnswer is a security key just registered: its id (base64url, for
// DELETE /v1/account/webauthn/{id}) and name.
type keyAnswer struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func (s *Server) removeKey(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	tok, _ := bearer(r)
	id, err := base64.RawURLEncoding.DecodeString(r.PathValue("id"))
	if err != nil || len(id) == 0 || len(id) > 1023 {
		s.fail(w, r, &a, badRequest("malformed key id: want the base64url id from GET /v1/account/webauthn"))
		return
	}
	if err := s.Auth.RemoveWebAuthn(r.Context(), tok, id, s.origin(r)); err != nil {
		s.fail(w, r, &a, notFoundAs(err, "no such security key of yours"))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) recoveryCodes(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	tok, _ := bearer(r)
	codes, err := s.Auth.NewRecoveryCodes(r.Context(), tok, s.origin(r))
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	writeJSON(w, http.StatusCreated, recoveryCodesAnswer{Codes: codes, Note: "shown once: keep them offline; each works once, and these replace any earlier codes"})
}

// recoveryCodesAnswer is a fresh set of recovery codes, shown once.
type recoveryCodesAnswer struct {
	Codes []string `json:"codes"`
	Note  string   `json:"note"`
}

type reasonRequest struct {
	Reason string `json:"reason"`
}

func (s *Server) reason(w http.ResponseWriter, r *http.Request, a *identity.Actor) (string, bool) {
	var req reasonRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, a, err)
		return "", false
	}
	if strings.TrimSpace(req.Reason) == "" || len(req.Reason) > s.ReasonMaxLen || !printable(req.Reason) {
		s.fail(w, r, a, badRequest("a printable reason of at most %d bytes required", s.ReasonMaxLen))
		return "", false
	}
	return req.Reason, true
}

// revokeOperator serves POST /v1/operators/{id}/sessions/revoke {"reason"}
// for a security officer.
func (s *Server) revokeOperator(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	if err := s.Vault.Authorize(r.Context(), a, policy.PermSecurity, "session.revoke_operator"); err != nil {
		s.fail(w, r, &a, err)
		return
	}
	reason, ok := s.reason(w, r, &a)
	if !ok {
		return
	}
	n, err := s.Auth.RevokeOperator(r.Context(), a, r.PathValue("id"), reason)
	if err != nil {
		s.fail(w, r, &a, notFoundAs(err, "no such operator"))
		return
	}
	writeJSON(w, http.StatusOK, revokedSessionsAnswer{Revoked: n})
}

// revokedSessionsAnswer is how many sessions a revocation ended.
type revokedSessionsAnswer struct {
	Revoked int `json:"revoked"`
}

// revokeEveryone serves POST /v1/sessions/revoke-all {"reason"}: breach
// containment, for a security officer (whose own sessions stay).
func (s *Server) revokeEveryone(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	if err := s.Vault.Authorize(r.Context(), a, policy.PermSecurity, "session.revoke_all"); err != nil {
		s.fail(w, r, &a, err)
		return
	}
	reason, ok := s.reason(w, r, &a)
	if !ok {
		return
	}
	n, err := s.Auth.RevokeEveryone(r.Context(), a, reason)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	writeJSON(w, http.StatusOK, revokedSessionsAnswer{Revoked: n})
}

// writeSession answers a completed login.
func writeSession(w http.ResponseWriter, ses *auth.Session) {
	writeJSON(w, http.StatusOK, sessionAnswer{ExpiresAt: ses.Expires.Format(time.RFC3339), Token: ses.Token})
}

// sessionAnswer is a completed login: the session's bearer token and when
// it expires (RFC 3339).
type sessionAnswer struct {
	ExpiresAt string `json:"expires_at"`
	Token     string `json:"token"`
}

// notFoundAs gives a not-found error a public message of its own; other
// errors (an unavailable store) pass as they are.
func notFoundAs(err error, msg string) error {
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return public.WrapWithMessage(err, msg).WithHint("check the id")
}
