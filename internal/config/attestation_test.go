package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// readPEM reads the certificates of a PEM file.
func readPEM(t *testing.T, path string) []*x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []*x509.Certificate
	for b, rest := pem.Decode(data); b != nil; b, rest = pem.Decode(rest) {
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// testRootPEM returns the PEM of a new self-signed CA certificate.
func testRootPEM(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test Root"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// attestBase is a role that may demand attested keys, from line 4.
const attestBase = oneField + "roles:\n  admin: {permissions: [operators], mfa: [webauthn]}\n"

func TestAttestation(t *testing.T) {
	a, b := testRootPEM(t), testRootPEM(t)
	root := readPEM(t, "testdata/attestation_root.pem")
	yubikey := uuid.MustParse("cb69481e-8ff7-4039-93ec-0a2729a154a8")
	quoted := func(s string) string { q, _ := json.Marshal(s); return string(q) }
	tests := []struct {
		name     string
		yaml     string
		environ  []string
		aaguids  []uuid.UUID
		roots    int
		attested bool
	}{
		{"none", "", nil, nil, 0, false},
		{"a file", "webauthn: {attestation: {roots: [testdata/attestation_root.pem]}}\n", nil, nil, 1, false},
		{"inline bundle of two", "webauthn: {attestation: {roots: [" + quoted(a+b) + "]}}\n", nil, nil, 2, false},
		{"a file and inline PEM", "webauthn: {attestation: {roots: [testdata/attestation_root.pem, " + quoted(a) + "]}}\n", nil, nil, 2, false},
		{"upper-case AAGUID", "webauthn: {attestation: {aaguids: [CB69481E-8FF7-4039-93EC-0A2729A154A8], roots: [testdata/attestation_root.pem]}}\n", nil, []uuid.UUID{yubikey}, 1, false},
		{"attested role", "webauthn: {attestation: {roots: [testdata/attestation_root.pem]}}\n", []string{"COFFRE_ROLES_ADMIN_ATTESTED_KEYS=true"}, nil, 1, true},
		{"roots and list from the environment", "", []string{"COFFRE_WEBAUTHN_ATTESTATION_ROOTS=" + a + "," + b, "COFFRE_WEBAUTHN_ATTESTATION_AAGUIDS=" + yubikey.String(), "COFFRE_ROLES_ADMIN_ATTESTED_KEYS=true"},
			[]uuid.UUID{yubikey}, 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("inline.yaml", []byte(attestBase+tt.yaml), tt.environ)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got := cfg.WebAuthn.Attestation
			if !slices.Equal(got.AAGUIDs, tt.aaguids) || len(got.Roots) != tt.roots {
				t.Errorf("attestation = %v and %d roots, want %v and %d", got.AAGUIDs, len(got.Roots), tt.aaguids, tt.roots)
			}
			if tt.roots == 1 && strings.Contains(tt.yaml, "attestation_root.pem") && !got.Roots[0].Equal(root[0]) {
				t.Errorf("root %s, want the fixture's", got.Roots[0].Subject)
			}
			if r := cfg.Policy.Roles["admin"]; r.AttestedKeys != tt.attested {
				t.Errorf("admin's AttestedKeys = %v, want %v", r.AttestedKeys, tt.attested)
			}
		})
	}
}

func TestAttestationErrors(t *testing.T) {
	tests := []struct {
		yaml    string
		environ []string
		want    []string
	}{
		{"", []string{"COFFRE_WEBAUTHN_ATTESTATION_AAGUIDS=yubikey"},
			[]string{`environment: COFFRE_WEBAUTHN_ATTESTATION_AAGUIDS: invalid AAGUID "yubikey"`}},
		{"", []string{"COFFRE_WEBAUTHN_ATTESTATION_ROOTS=/nonexistent/root.pem"},
			[]string{`environment: COFFRE_WEBAUTHN_ATTESTATION_ROOTS: no such file "/nonexistent/root.pem"`}},
		{"webauthn: {attestation: {roots: []}}\n", []string{"COFFRE_ROLES_ADMIN_ATTESTED_KEYS=true"},
			[]string{`environment: COFFRE_ROLES_ADMIN_ATTESTED_KEYS: demands attested security keys, but webauthn.attestation.roots is empty`}},
		{"webauthn: {attestation: {roots: testdata/attestation_root.pem}}\n", []string{"COFFRE_ROLES_ADMIN_ATTESTED_KEYS=true"},
			[]string{`inline.yaml:4: webauthn.attestation.roots: want a list, got the string "testdata/attestation_root.pem"`}},
		{"webauthn: {attestation: {roots: [testdata/attestation_root.pem]}}\n", []string{"COFFRE_ROLES_ADMIN_MFA=totp,webauthn", "COFFRE_ROLES_ADMIN_ATTESTED_KEYS=true"},
			[]string{`environment: COFFRE_ROLES_ADMIN_ATTESTED_KEYS: demands attested security keys, but the role logs in with TOTP too: set mfa: [webauthn]`}},
	}
	for _, tt := range tests {
		_, err := Parse("inline.yaml", []byte(attestBase+tt.yaml), tt.environ)
		var cerr *Error
		if !errors.As(err, &cerr) {
			t.Errorf("Parse(%q, %q) = %v, want problems", tt.yaml, tt.environ, err)
			continue
		}
		if len(cerr.Problems) != len(tt.want) {
			t.Errorf("Parse(%q, %q) gave %d problems, want %d:\n%v", tt.yaml, tt.environ, len(cerr.Problems), len(tt.want), err)
		}
		for _, w := range tt.want {
			if !slices.ContainsFunc(cerr.Problems, func(p Problem) bool { return strings.HasPrefix(p.String(), w) }) {
				t.Errorf("Parse(%q, %q): no problem %q in\n%v", tt.yaml, tt.environ, w, err)
			}
		}
	}
}
