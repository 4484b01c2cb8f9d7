package httpapi_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/coffre/coffre/internal/auth"
)

// testCA is a certificate authority made for a test: an attestation root
// or intermediate of a pretend authenticator vendor.
type testCA struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
}

// newTestCA makes a CA named name, self-signed, or issued by parent.
func newTestCA(t *testing.T, name string, parent *testCA) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: serial(t), Subject: pkix.Name{CommonName: name, Organization: []string{"Coffre tests"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	issuer, signer := tmpl, key
	if parent != nil {
		issuer, signer = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{key: key, cert: cert}
}

func serial(t *testing.T) *big.Int {
	n, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// oidFIDOAAGUID is id-fido-gen-ce-aaguid, the extension of an attestation
// certificate that names the authenticator model.
var oidFIDOAAGUID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 45724, 1, 1, 4}

// packed issues an attestation certificate for the model aaguid, as a
// vendor does for a batch of keys (the subject §8.2.1 requires, the AAGUID
// extension, not a CA), and returns the attestation a softKey signs with;
// x5c holds it and then the CA's own certificate when the CA is not a root.
func (ca *testCA) packed(t *testing.T, aaguid uuid.UUID) *packedAttestation {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ext, err := asn1.Marshal(aaguid[:]) // an OCTET STRING of 16 bytes
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: serial(t),
		Subject: pkix.Name{Country: []string{"FR"}, Organization: []string{"Coffre tests"}, OrganizationalUnit: []string{"Authenticator Attestation"},
			CommonName: "Coffre Test Key Attestation"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: oidFIDOAAGUID, Value: ext}}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	x5c := [][]byte{der}
	if ca.cert.Issuer.CommonName != ca.cert.Subject.CommonName {
		x5c = append(x5c, ca.cert.Raw)
	}
	return &packedAttestation{key: key, x5c: x5c}
}

// attestationPreference reads the attestation conveyance the creation
// options ask for ("" when they leave it out).
func attestationPreference(t *testing.T, opts []byte) string {
	t.Helper()
	var o struct {
		PublicKey struct {
			Attestation string `json:"attestation"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(opts, &o); err != nil {
		t.Fatalf("creation options %s: %v", opts, err)
	}
	return o.PublicKey.Attestation
}

// register runs a registration of k in session tok; it returns the answer
// of /finish and the attestation preference /begin asked for.
func (e *env) register(t *testing.T, tok string, k *softKey) (*response, string) {
	t.Helper()
	opts := e.call(t, req{Method: "POST", Path: "/v1/account/webauthn/begin", Token: tok})
	opts.want(t, http.StatusOK, "")
	return e.call(t, req{Method: "POST", Path: "/v1/account/webauthn/finish", Token: tok, Body: map[string]any{"name": "key", "credential": k.create(t, opts.Body)}}),
		attestationPreference(t, opts.Body)
}

// lastDecision returns the decision and reason of the last audit entry of
// action by actor.
func (e *env) lastDecision(t *testing.T, actor, action string) (string, string) {
	t.Helper()
	es := e.auditEntries(t)
	for i := len(es) - 1; i >= 0; i-- {
		if es[i].Actor == actor && es[i].Action == action {
			return es[i].Decision, es[i].Reason
		}
	}
	t.Fatalf("no %s entry of %s", action, actor)
	return "", ""
}

// TestAttestedKeys: a role that demands attested keys registers a key
// only with a "packed" attestation that the library verifies to a
// configured root, of a listed model; "none", self attestation, another
// model, an unknown root and a synced passkey are refused with 403
// authenticator_not_allowed, audited with the reason. A role without the
// switch registers any key, as before.
func TestAttestedKeys(t *testing.T) {
	e := newEnv(t)
	root := newTestCA(t, "Coffre Test Attestation Root", nil)
	intermediate := newTestCA(t, "Coffre Test Attestation CA 1", root)
	unknown := newTestCA(t, "Unknown Vendor Root", nil)
	model := uuid.MustParse("2fc0579f-8113-47ea-b116-bb5a8db9202a")
	otherModel := uuid.MustParse("ee882879-721c-4913-9775-3dfcce97072a")
	e.auth.Attestation = &auth.Attestation{AAGUIDs: []uuid.UUID{model}, Roots: []*x509.Certificate{root.cert}}
	const attested, plain = "security-officer", "caseworker"
	e.auth.RoleAttested = func(role string) bool { return role == attested }

	none := func(*testing.T) *softKey { return newSoftKey(t) }
	packed := func(ca *testCA, aaguid uuid.UUID) func(*testing.T) *softKey {
		return func(t *testing.T) *softKey {
			k := newSoftKey(t)
			k.aaguid, k.att = aaguid, ca.packed(t, aaguid)
			return k
		}
	}
	self := func(t *testing.T) *softKey {
		k := newSoftKey(t)
		k.aaguid, k.att = model, &packedAttestation{self: true}
		return k
	}
	// The model in the authenticator data is not the certificate's: the
	// library's packed verification refuses it before any allow-list.
	mismatch := func(t *testing.T) *softKey {
		k := newSoftKey(t)
		k.aaguid, k.att = model, root.packed(t, otherModel)
		return k
	}
	synced := func(t *testing.T) *softKey {
		k := packed(root, model)(t)
		k.backup = true
		return k
	}
	tests := []struct {
		name     string
		role     string
		key      func(*testing.T) *softKey
		decision string // of the audit entry; allow: registered (201)
		message  string // in the refusal's message
	}{
		{"none", attested, none, "deny:attestation_none", "it gave no attestation"},
		{"packed from the root, listed model", attested, packed(root, model), "allow", ""},
		{"packed through an intermediate", attested, packed(intermediate, model), "allow", ""},
		{"packed from the root, another model", attested, packed(root, otherModel), "deny:aaguid_not_allowed", "its model (AAGUID " + otherModel.String() + ") is not on the allow-list"},
		{"packed from an unknown root", attested, packed(unknown, model), "deny:untrusted_attestation", "does not chain to a trusted root"},
		{"self attestation", attested, self, "deny:self_attestation", "self-signed"},
		{"synced passkey", attested, synced, "deny:synced_credential", "synced passkey"},
		{"certificate of another model", attested, mismatch, "deny:bad_attestation", ""},
		{"no switch: none", plain, none, "allow", ""},
		{"no switch: packed from an unknown root", plain, packed(unknown, otherModel), "allow", ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op := e.addOperator(t, fmt.Sprintf("keyholder%d", i), tt.role, "u1")
			tok := e.login(t, op)
			r, pref := e.register(t, tok, tt.key(t))
			// Without the switch, the preference is left out, as before
			// (WebAuthn's default is none).
			if want := map[string]string{attested: "direct", plain: ""}[tt.role]; pref != want {
				t.Errorf("registration asked for attestation %q, want %q", pref, want)
			}
			decision, reason := e.lastDecision(t, op.Operator.ID, "mfa.webauthn.add")
			if decision != tt.decision {
				t.Errorf("audited %q, want %q", decision, tt.decision)
			}
			switch tt.decision {
			case "allow":
				r.want(t, http.StatusCreated, "")
				return
			case "deny:bad_attestation":
				r.want(t, http.StatusUnauthorized, "invalid_credentials")
				return
			}
			r.want(t, http.StatusForbidden, "authenticator_not_allowed")
			if !strings.Contains(r.Err.Message, tt.message) {
				t.Errorf("message %q, want it to say %q", r.Err.Message, tt.message)
			}
			for _, accepted := range []string{`"Coffre Test Attestation Root"`, model.String()} {
				if !strings.Contains(r.Err.Hint, accepted) {
					t.Errorf("hint %q does not name %s", r.Err.Hint, accepted)
				}
			}
			if want := "aaguid " + uuid.UUID(tt.key(t).aaguid).String(); reason != want {
				t.Errorf("audit reason %q, want %q", reason, want)
			}
			keys := e.call(t, req{Method: "GET", Path: "/v1/account/webauthn", Token: tok})
			if !strings.Contains(string(keys.Body), `"keys":[]`) {
				t.Errorf("a refused key was kept: %s", keys.Body)
			}
		})
	}
}

// TestAttestedKeysAtLogin: once a role demands attested keys, only the
// keys it accepts serve its logins: a key registered before (a "none"
// attestation) is not offered, its assertion is refused and audited, and
// an operator with no accepted key is not offered WebAuthn at all.
func TestAttestedKeysAtLogin(t *testing.T) {
	e := newEnv(t)
	root := newTestCA(t, "Coffre Test Attestation Root", nil)
	model := uuid.MustParse("2fc0579f-8113-47ea-b116-bb5a8db9202a")
	e.auth.Attestation = &auth.Attestation{AAGUIDs: []uuid.UUID{model}, Roots: []*x509.Certificate{root.cert}}
	var demanded atomic.Bool
	e.auth.RoleAttested = func(role string) bool { return role == "caseworker" && demanded.Load() }

	both := e.addOperator(t, "both", "caseworker", "u1")
	old := e.addOperator(t, "old", "caseworker", "u1")
	software, hardware, oldKey := newSoftKey(t), newSoftKey(t), newSoftKey(t)
	hardware.aaguid, hardware.att = model, root.packed(t, model)
	tok := e.login(t, both)
	for _, k := range []*softKey{software, hardware} {
		r, _ := e.register(t, tok, k)
		r.want(t, http.StatusCreated, "")
	}
	r, _ := e.register(t, e.login(t, old), oldKey)
	r.want(t, http.StatusCreated, "")
	// Before the switch, the software key logs in.
	sessionToken(t, e.webauthnLogin(t, both, software, software.priv))

	demanded.Store(true)
	lt, _ := e.loginMFA(t, both)
	opts := e.call(t, req{Method: "POST", Path: "/v1/auth/webauthn/begin", Body: map[string]string{"login_token": lt}})
	opts.want(t, http.StatusOK, "")
	var o struct {
		PublicKey struct {
			AllowCredentials []struct {
				ID string `json:"id"`
			} `json:"allowCredentials"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(opts.Body, &o); err != nil {
		t.Fatal(err)
	}
	if got := o.PublicKey.AllowCredentials; len(got) != 1 || got[0].ID != b64(hardware.id) {
		t.Errorf("allowCredentials %+v, want only the attested key %s", got, b64(hardware.id))
	}
	e.call(t, req{Method: "POST", Path: "/v1/auth/webauthn/finish", Body: map[string]any{"login_token": lt, "credential": software.get(t, opts.Body, software.priv)}}).
		want(t, http.StatusUnauthorized, "invalid_credentials")
	if d, _ := e.lastDecision(t, both.Operator.ID, "login.webauthn"); d != "deny:authenticator_not_allowed" {
		t.Errorf("the software key's login audited %q, want deny:authenticator_not_allowed", d)
	}
	sessionToken(t, e.webauthnLogin(t, both, hardware, hardware.priv))

	// An operator whose only key is a software one has no WebAuthn left.
	lt, mfa := e.loginMFA(t, old)
	if slices.Contains(mfa, "webauthn") {
		t.Errorf("mfa %v offers webauthn without an accepted key", mfa)
	}
	e.call(t, req{Method: "POST", Path: "/v1/auth/webauthn/begin", Body: map[string]string{"login_token": lt}}).want(t, http.StatusForbidden, "factor_not_allowed")
}
