package httpapi_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/httpapi/apitest"
	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
)

// The relying party of the test server.
const (
	rpID     = apitest.RPID
	rpOrigin = apitest.RPOrigin
)

// softKey is a software authenticator: a P-256 key that answers WebAuthn
// ceremonies exactly as a security key does ("none" attestation unless
// att is set, ES256 signatures over authenticatorData ‖
// SHA-256(clientDataJSON), a growing sign counter). The server checks every
// signature.
type softKey struct {
	priv  *ecdsa.PrivateKey
	id    []byte
	count uint32
	// aaguid is the model the key names in its attested credential data
	// (zero: none, as a "none" attestation usually has).
	aaguid [16]byte
	// backup sets the backup-eligible flag, as a synced passkey does.
	backup bool
	// att, when set, makes create present a "packed" attestation.
	att *packedAttestation
}

// packedAttestation is how a softKey signs a "packed" attestation
// statement (WebAuthn §8.2): with an attestation key whose certificate
// chain is x5c (full basic attestation), or, when self, with the
// credential key itself and no certificate (self attestation).
type packedAttestation struct {
	self bool
	key  *ecdsa.PrivateKey
	x5c  [][]byte // the attestation certificate, then intermediates
}

func newSoftKey(t *testing.T) *softKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 16)
	rand.Read(id)
	return &softKey{priv: priv, id: id}
}

// challenge reads the challenge of creation or assertion options.
func challenge(t *testing.T, opts []byte) string {
	t.Helper()
	var o struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
			RPID      string `json:"rpId"`
			RP        struct {
				ID string `json:"id"`
			} `json:"rp"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(opts, &o); err != nil || o.PublicKey.Challenge == "" {
		t.Fatalf("WebAuthn options %s: %v", opts, err)
	}
	if rp := o.PublicKey.RPID + o.PublicKey.RP.ID; rp != rpID {
		t.Fatalf("options name relying party %q, want %q", rp, rpID)
	}
	return o.PublicKey.Challenge
}

func (k *softKey) clientData(t *testing.T, typ, chal string) []byte {
	b, err := json.Marshal(map[string]any{"type": typ, "challenge": chal, "origin": rpOrigin, "crossOrigin": false})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (k *softKey) authData(flags byte, attested []byte) []byte {
	rp := sha256.Sum256([]byte(rpID))
	b := append(rp[:], flags)
	b = binary.BigEndian.AppendUint32(b, k.count)
	return append(b, attested...)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// create answers navigator.credentials.create with the options.
func (k *softKey) create(t *testing.T, opts []byte) json.RawMessage {
	t.Helper()
	cd := k.clientData(t, "webauthn.create", challenge(t, opts))
	pub, err := k.priv.PublicKey.Bytes() // 0x04 ‖ X ‖ Y
	if err != nil {
		t.Fatal(err)
	}
	cose, err := webauthncbor.Marshal(map[int64]any{
		1: int64(webauthncose.EllipticKey), 3: int64(webauthncose.AlgES256), -1: int64(webauthncose.P256),
		-2: pub[1:33], -3: pub[33:65],
	})
	if err != nil {
		t.Fatal(err)
	}
	attested := slices.Clone(k.aaguid[:])
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(k.id)))
	attested = append(append(attested, k.id...), cose...)
	flags := byte(0x01 | 0x04 | 0x40) // UP, UV, AT
	if k.backup {
		flags |= 0x08 // BE
	}
	ad := k.authData(flags, attested)
	format, stmt := "none", map[string]any{}
	if k.att != nil {
		// sig over authenticatorData ‖ SHA-256(clientDataJSON), ES256.
		h := sha256.Sum256(cd)
		digest := sha256.Sum256(append(slices.Clone(ad), h[:]...))
		signer := k.att.key
		if k.att.self {
			signer = k.priv
		}
		sig, err := ecdsa.SignASN1(rand.Reader, signer, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		format, stmt = "packed", map[string]any{"alg": int64(webauthncose.AlgES256), "sig": sig}
		if !k.att.self {
			stmt["x5c"] = k.att.x5c
		}
	}
	att, err := webauthncbor.Marshal(map[string]any{"fmt": format, "attStmt": stmt, "authData": ad})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"id": b64(k.id), "rawId": b64(k.id), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64(cd), "attestationObject": b64(att)}})
	return b
}

// get answers navigator.credentials.get, signing with key (k's own, or
// another one to forge).
func (k *softKey) get(t *testing.T, opts []byte, key *ecdsa.PrivateKey) json.RawMessage {
	t.Helper()
	k.count++
	cd := k.clientData(t, "webauthn.get", challenge(t, opts))
	ad := k.authData(0x01|0x04, nil)
	h := sha256.Sum256(cd)
	digest := sha256.Sum256(append(slices.Clone(ad), h[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"id": b64(k.id), "rawId": b64(k.id), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64(cd), "authenticatorData": b64(ad), "signature": b64(sig)}})
	return b
}

// loginMFA does the password step and returns the login token and factors.
func (e *env) loginMFA(t *testing.T, op *auth.NewOperator) (string, []string) {
	t.Helper()
	e.clock.Advance(30 * time.Second)
	r := e.call(t, req{Method: "POST", Path: "/v1/auth/login", Body: map[string]string{"username": op.Operator.Username, "password": op.Password}})
	r.want(t, http.StatusOK, "")
	var out struct {
		MFA        []string `json:"mfa"`
		LoginToken string   `json:"login_token"`
	}
	decodeStrict(t, r.Body, &out)
	return out.LoginToken, out.MFA
}

func sessionToken(t *testing.T, r *response) string {
	t.Helper()
	r.want(t, http.StatusOK, "")
	var out struct {
		Token     string `json:"token"`
		ExpiresAt string `json:"expires_at"`
	}
	decodeStrict(t, r.Body, &out)
	return out.Token
}

// webauthnLogin logs op in with key, signing with signer.
func (e *env) webauthnLogin(t *testing.T, op *auth.NewOperator, k *softKey, signer *ecdsa.PrivateKey) *response {
	t.Helper()
	lt, mfa := e.loginMFA(t, op)
	if !slices.Contains(mfa, "webauthn") {
		t.Fatalf("mfa %v lacks webauthn", mfa)
	}
	opts := e.call(t, req{Method: "POST", Path: "/v1/auth/webauthn/begin", Body: map[string]string{"login_token": lt}})
	opts.want(t, http.StatusOK, "")
	return e.call(t, req{Method: "POST", Path: "/v1/auth/webauthn/finish", Body: map[string]any{"login_token": lt, "credential": k.get(t, opts.Body, signer)}})
}

// TestWebAuthnHTTP: a security key is registered, logs in (the signature
// and the sign counter checked), a forged or cloned key is refused, and
// the key is removed only after a fresh second factor.
func TestWebAuthnHTTP(t *testing.T) {
	e := newEnv(t)
	cw := e.addOperator(t, "camille", "caseworker", "u1")
	tok := e.login(t, cw)
	key := newSoftKey(t)

	opts := e.call(t, req{Method: "POST", Path: "/v1/account/webauthn/begin", Token: tok})
	opts.want(t, http.StatusOK, "")
	// A response to another challenge is refused.
	other := e.call(t, req{Method: "POST", Path: "/v1/account/webauthn/begin", Token: tok})
	e.call(t, req{Method: "POST", Path: "/v1/account/webauthn/finish", Token: tok, Body: map[string]any{"name": "stale", "credential": key.create(t, opts.Body)}}).want(t, http.StatusUnauthorized, "invalid_credentials")
	e.call(t, req{Method: "POST", Path: "/v1/account/webauthn/finish", Token: tok, Body: map[string]any{"name": "yubikey", "credential": key.create(t, other.Body)}}).want(t, http.StatusBadRequest, "no_ceremony")
	other = e.call(t, req{Method: "POST", Path: "/v1/account/webauthn/begin", Token: tok})
	r := e.call(t, req{Method: "POST", Path: "/v1/account/webauthn/finish", Token: tok, Body: map[string]any{"name": "yubikey", "credential": key.create(t, other.Body)}})
	r.want(t, http.StatusCreated, "")

	r = e.call(t, req{Method: "GET", Path: "/v1/account/webauthn", Token: tok})
	var keys struct {
		Keys []auth.WebAuthnKey `json:"keys"`
	}
	decodeStrict(t, r.Body, &keys)
	if len(keys.Keys) != 1 || keys.Keys[0].Name != "yubikey" || !slices.Equal(keys.Keys[0].ID, key.id) {
		t.Fatalf("keys = %+v", keys.Keys)
	}

	// Log in with the key.
	ktok := sessionToken(t, e.webauthnLogin(t, cw, key, key.priv))
	e.call(t, req{Method: "GET", Path: "/v1/account/sessions", Token: ktok}).want(t, http.StatusOK, "")

	// A signature by another key is refused.
	forger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	e.webauthnLogin(t, cw, key, forger).want(t, http.StatusUnauthorized, "invalid_credentials")
	// A clone: its counter is behind the one the server saw.
	clone := *key
	clone.count = 0
	e.webauthnLogin(t, cw, &clone, key.priv).want(t, http.StatusUnauthorized, "invalid_credentials")
	var denials []string
	for _, en := range e.auditEntries(t) {
		if en.Action == "login.webauthn" {
			denials = append(denials, en.Decision)
		}
	}
	if !slices.Equal(denials, []string{"allow", "deny:bad_assertion", "deny:sign_count"}) {
		t.Errorf("audited webauthn logins %v", denials)
	}

	// Removal needs a fresh second factor: the login's is stale after the
	// step-up window.
	e.clock.Advance(10 * time.Minute)
	kid := b64(key.id)
	e.call(t, req{Method: "DELETE", Path: "/v1/account/webauthn/" + kid, Token: ktok}).want(t, http.StatusUnauthorized, "step_up_required")
	su := e.call(t, req{Method: "POST", Path: "/v1/auth/stepup/webauthn/begin", Token: ktok})
	su.want(t, http.StatusOK, "")
	r = e.call(t, req{Method: "POST", Path: "/v1/auth/stepup/webauthn/finish", Token: ktok, Body: map[string]any{"credential": key.get(t, su.Body, key.priv)}})
	if r.Status != http.StatusNoContent {
		t.Fatalf("step-up with the key: %d %s", r.Status, r.Body)
	}
	e.call(t, req{Method: "DELETE", Path: "/v1/account/webauthn/" + kid, Token: ktok}).want(t, http.StatusNoContent, "")
	e.call(t, req{Method: "DELETE", Path: "/v1/account/webauthn/" + kid, Token: ktok}).want(t, http.StatusNotFound, "not_found")
	if _, mfa := e.loginMFA(t, cw); slices.Contains(mfa, "webauthn") {
		t.Errorf("mfa after removal %v", mfa)
	}
}

// TestWebAuthnStepUpForPurpose: a security-key step-up names its purpose
// in /finish; a purpose it cannot name is refused with the ceremony kept,
// and a purpose that asks for a security key is not served by TOTP.
func TestWebAuthnStepUpForPurpose(t *testing.T) {
	e := newEnv(t)
	e.policy.Purposes["workplace-adjustment"].StepUp = "webauthn"
	hr := e.addOperator(t, "hugo", "hr-officer", "u1")
	tok := e.login(t, hr)
	key := newSoftKey(t)
	opts := e.call(t, req{Method: "POST", Path: "/v1/account/webauthn/begin", Token: tok})
	e.call(t, req{Method: "POST", Path: "/v1/account/webauthn/finish", Token: tok, Body: map[string]any{"name": "key", "credential": key.create(t, opts.Body)}}).want(t, http.StatusCreated, "")
	p, _ := person(t, 0, true)
	id := e.create(t, tok, p)
	read := func() *response {
		return e.call(t, req{Method: "GET", Path: "/v1/subjects/" + id, Token: tok, Purpose: "workplace-adjustment", Reason: "file 3"})
	}
	e.stepUp(t, hr, tok, "workplace-adjustment")
	r := read()
	r.want(t, http.StatusUnauthorized, "step_up_required")
	if !strings.Contains(r.Err.Hint, "/v1/auth/stepup/webauthn/begin") || strings.Contains(r.Err.Hint, "totp") {
		t.Errorf("hint %q, want the security key's step-up only", r.Err.Hint)
	}
	su := e.call(t, req{Method: "POST", Path: "/v1/auth/stepup/webauthn/begin", Token: tok})
	su.want(t, http.StatusOK, "")
	assertion := key.get(t, su.Body, key.priv)
	finish := func(purpose string) *response {
		return e.call(t, req{Method: "POST", Path: "/v1/auth/stepup/webauthn/finish", Token: tok, Body: map[string]any{"credential": assertion, "purpose": purpose}})
	}
	finish("directory").want(t, http.StatusBadRequest, "invalid_request")
	finish("workplace-adjustment").want(t, http.StatusNoContent, "")
	read().want(t, http.StatusOK, "")
	var got []string
	for _, en := range e.auditEntries(t) {
		if en.Action == "stepup.webauthn" {
			got = append(got, en.Purpose+"="+en.Decision)
		}
	}
	if want := []string{"directory=deny:invalid", "workplace-adjustment=allow"}; !slices.Equal(got, want) {
		t.Errorf("audited key step-ups %v, want %v", got, want)
	}
}

// TestRecoveryCodesHTTP: codes are shown once, each works once, and a new
// set replaces the old.
func TestRecoveryCodesHTTP(t *testing.T) {
	e := newEnv(t)
	cw := e.addOperator(t, "camille", "caseworker", "u1")
	tok := e.login(t, cw)
	r := e.call(t, req{Method: "POST", Path: "/v1/account/recovery-codes", Token: tok})
	r.want(t, http.StatusCreated, "")
	var out struct {
		Codes []string `json:"codes"`
		Note  string   `json:"note"`
	}
	decodeStrict(t, r.Body, &out)
	if len(out.Codes) != auth.RecoveryCodes {
		t.Fatalf("%d codes", len(out.Codes))
	}
	lt, mfa := e.loginMFA(t, cw)
	if !slices.Contains(mfa, "recovery") {
		t.Fatalf("mfa %v lacks recovery", mfa)
	}
	recover := func(lt, code string) *response {
		return e.call(t, req{Method: "POST", Path: "/v1/auth/recovery", Body: map[string]string{"login_token": lt, "code": code}})
	}
	sessionToken(t, recover(lt, strings.ToUpper(out.Codes[0]))) // case and dashes do not matter
	lt, _ = e.loginMFA(t, cw)
	recover(lt, out.Codes[0]).want(t, http.StatusUnauthorized, "invalid_credentials")
	recover(lt, "aaaa-bbbb-cccc-dddd").want(t, http.StatusUnauthorized, "invalid_credentials")
	// New codes replace the old ones.
	r = e.call(t, req{Method: "POST", Path: "/v1/account/recovery-codes", Token: tok})
	r.want(t, http.StatusCreated, "")
	lt, _ = e.loginMFA(t, cw)
	recover(lt, out.Codes[1]).want(t, http.StatusUnauthorized, "invalid_credentials")
}

// TestStepUpAndSessionsHTTP: a purpose with step_up needs a factor proved
// for it by a step-up, never the login's; a session used from another
// address must re-prove; sessions are listed and revoked by their owner, by
// a security officer, and all at once.
func TestStepUpAndSessionsHTTP(t *testing.T) {
	e := newEnv(t)
	hr := e.addOperator(t, "hugo", "hr-officer", "u1")
	cw := e.addOperator(t, "camille", "caseworker", "u1")
	sec := e.addOperator(t, "sam", "security-officer", "u1")
	tok := e.login(t, hr)
	p, _ := person(t, 0, true)
	id := e.create(t, tok, p)
	const wa = "workplace-adjustment"
	read := func(tok string) *response {
		return e.call(t, req{Method: "GET", Path: "/v1/subjects/" + id, Token: tok, Purpose: wa, Reason: "adjustment file 3"})
	}
	stepUp := func(code, purpose string) *response {
		return e.call(t, req{Method: "POST", Path: "/v1/auth/stepup/totp", Token: tok, Body: map[string]string{"code": code, "purpose": purpose}})
	}
	// Right after login: the login's own factor does not count.
	r := read(tok)
	r.want(t, http.StatusUnauthorized, "step_up_required")
	if want := `POST /v1/auth/stepup/totp {"code":"…","purpose":"workplace-adjustment"}`; !strings.Contains(r.Err.Hint, want) {
		t.Errorf("step_up_required hint %q, want it to say %s", r.Err.Hint, want)
	}
	stepUp(e.wrongCode(t, hr), wa).want(t, http.StatusUnauthorized, "invalid_credentials")
	// A step-up naming no purpose renews the factor, but serves no purpose.
	e.clock.Advance(30 * time.Second)
	stepUp(e.code(t, hr, 0), "").want(t, http.StatusNoContent, "")
	read(tok).want(t, http.StatusUnauthorized, "step_up_required")
	// A purpose a step-up cannot name is refused before the code is used.
	e.clock.Advance(30 * time.Second)
	code := e.code(t, hr, 0)
	stepUp(code, "holidays").want(t, http.StatusBadRequest, "invalid_request")
	stepUp(code, "case-handling").want(t, http.StatusForbidden, "forbidden")    // not hr-officer's
	stepUp(code, "directory").want(t, http.StatusBadRequest, "invalid_request") // asks for no step-up
	stepUp(code, "\x00").want(t, http.StatusBadRequest, "invalid_request")
	stepUp(code, wa).want(t, http.StatusNoContent, "")
	read(tok).want(t, http.StatusOK, "")
	// The demo's window is 5 minutes.
	e.clock.Advance(5*time.Minute + time.Second)
	read(tok).want(t, http.StatusUnauthorized, "step_up_required")
	stepUp(e.code(t, hr, 0), wa).want(t, http.StatusNoContent, "")
	read(tok).want(t, http.StatusOK, "")
	var reads, stepUps []string
	for _, en := range e.auditEntries(t) {
		switch {
		case en.Action == "read" && en.Purpose == wa:
			reads = append(reads, en.Decision)
		case en.Action == "stepup.totp":
			stepUps = append(stepUps, en.Purpose+"="+en.Decision)
		}
	}
	if want := []string{"deny:step_up_required", "deny:step_up_required", "allow", "deny:step_up_required", "allow"}; !slices.Equal(reads, want) {
		t.Errorf("audited reads %v\nwant           %v", reads, want)
	}
	if want := []string{wa + "=deny:bad_code", "=allow", "holidays=deny:invalid", "case-handling=deny:forbidden", "directory=deny:invalid", wa + "=allow", wa + "=allow"}; !slices.Equal(stepUps, want) {
		t.Errorf("audited step-ups %v\nwant              %v", stepUps, want)
	}

	// The session moves to another client: refused until it re-proves.
	moved := req{Method: "GET", Path: "/v1/subjects/" + id, Token: tok, Purpose: "directory", Header: map[string]string{"User-Agent": "curl/8"}}
	e.call(t, moved).want(t, http.StatusUnauthorized, "session_moved")
	e.clock.Advance(30 * time.Second)
	r = e.call(t, req{Method: "POST", Path: "/v1/auth/stepup/totp", Token: tok, Header: map[string]string{"User-Agent": "curl/8"}, Body: map[string]string{"code": e.code(t, hr, 0)}})
	if r.Status != http.StatusNoContent {
		t.Fatalf("re-check after the move: %d %s", r.Status, r.Body)
	}
	e.call(t, moved).want(t, http.StatusOK, "")
	e.call(t, req{Method: "GET", Path: "/v1/subjects/" + id, Token: tok, Purpose: "directory"}).want(t, http.StatusUnauthorized, "session_moved")

	// Own sessions: list, revoke the other one.
	t1, t2 := e.login(t, cw), e.login(t, cw)
	r = e.call(t, req{Method: "GET", Path: "/v1/account/sessions", Token: t1})
	var ss struct {
		Sessions []auth.SessionInfo `json:"sessions"`
	}
	decodeStrict(t, r.Body, &ss)
	if len(ss.Sessions) != 2 || ss.Sessions[0].Current == ss.Sessions[1].Current {
		t.Fatalf("sessions = %+v", ss.Sessions)
	}
	otherID := ss.Sessions[0].ID
	if ss.Sessions[0].Current {
		otherID = ss.Sessions[1].ID
	}
	e.call(t, req{Method: "DELETE", Path: "/v1/account/sessions/" + otherID, Token: t1}).want(t, http.StatusNoContent, "")
	e.call(t, req{Method: "GET", Path: "/v1/account/sessions", Token: t2}).want(t, http.StatusUnauthorized, "unauthenticated")
	e.call(t, req{Method: "DELETE", Path: "/v1/account/sessions/" + otherID, Token: t1}).want(t, http.StatusNotFound, "not_found")

	// A security officer revokes an operator's sessions, then everyone's.
	stok := e.login(t, sec)
	path := "/v1/operators/" + cw.Operator.ID + "/sessions/revoke"
	e.call(t, req{Method: "POST", Path: path, Token: tok, Header: map[string]string{"User-Agent": "curl/8"}, Body: map[string]string{"reason": "x"}}).want(t, http.StatusForbidden, "forbidden")
	e.call(t, req{Method: "POST", Path: path, Token: stok, Body: map[string]string{}}).want(t, http.StatusBadRequest, "invalid_request")
	r = e.call(t, req{Method: "POST", Path: path, Token: stok, Body: map[string]string{"reason": "INC-9 containment"}})
	r.want(t, http.StatusOK, "")
	if !strings.Contains(string(r.Body), `"revoked":1`) {
		t.Errorf("revoke answer %s", r.Body)
	}
	e.call(t, req{Method: "GET", Path: "/v1/account/sessions", Token: t1}).want(t, http.StatusUnauthorized, "unauthenticated")
	r = e.call(t, req{Method: "POST", Path: "/v1/sessions/revoke-all", Token: stok, Body: map[string]string{"reason": "INC-9 containment"}})
	r.want(t, http.StatusOK, "")
	e.call(t, moved).want(t, http.StatusUnauthorized, "unauthenticated")
	e.call(t, req{Method: "GET", Path: "/v1/account/sessions", Token: stok}).want(t, http.StatusOK, "")
	var actions []string
	for _, en := range e.auditEntries(t) {
		if strings.HasPrefix(en.Action, "session.") || strings.HasPrefix(en.Action, "stepup.") {
			actions = append(actions, en.Action+"="+strings.SplitN(en.Decision, ":", 2)[0])
		}
	}
	want := []string{"stepup.totp=deny", "stepup.totp=allow", "stepup.totp=deny", "stepup.totp=deny", "stepup.totp=deny", "stepup.totp=allow", "stepup.totp=allow", "stepup.totp=allow", "session.revoke=allow", "session.revoke=deny", "session.revoke_operator=deny", "session.revoke_operator=allow", "session.revoke_all=allow"}
	if !slices.Equal(actions, want) {
		t.Errorf("audited %v\nwant    %v", actions, want)
	}
}
