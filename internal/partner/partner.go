// Package partner is Coffre's certificate authority for partner
// organisations' API clients: a CA whose Ed25519 key derives from a
// 32-byte seed (kept sealed apart from the data keyring, package keyset,
// so every node that unseals holds the same CA), the client certificates
// it issues, the server certificate of the mutual-TLS listener, and API
// keys.
//
// A partner request must present both a client certificate this CA issued
// and whose serial is the partner's current one, and the partner's current
// API key: rotating a partner's credentials changes both, which invalidates
// the old ones at once (no revocation list to distribute: the serial on
// record is the only valid one).
package partner

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base32"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"time"
)

// CA is the certificate authority.
type CA struct {
	Cert *x509.Certificate
	key  ed25519.PrivateKey
}

// caEpoch fixes the CA certificate's validity, so that every node derives
// the same certificate from the same seed.
var caEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// NewCA derives the CA from a 32-byte seed (keyset.Set.CASeed).
// Ed25519 signatures are deterministic, so the self-signed certificate is
// the same on every node.
func NewCA(seed []byte) (*CA, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("partner ca: seed of %d bytes, want %d", len(seed), ed25519.SeedSize)
	}
	key := ed25519.NewKeyFromSeed(seed)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{Organization: []string{"Coffre"}, CommonName: "Coffre partner CA"},
		NotBefore:             caEpoch,
		NotAfter:              caEpoch.AddDate(30, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("partner ca: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, key: key}, nil
}

// Pool returns a pool holding the CA.
func (c *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.Cert)
	return p
}

// Issued is a certificate and its private key, PEM-encoded.
type Issued struct {
	Serial  string // hex
	CertPEM []byte
	KeyPEM  []byte
}

// IssueClient issues a client certificate for partner id (its common
// name), valid for validity.
func (c *CA) IssueClient(id string, now time.Time, validity time.Duration) (*Issued, error) {
	return c.issue(&x509.Certificate{
		Subject:     pkix.Name{Organization: []string{"Coffre partner"}, CommonName: id},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, now, validity)
}

// IssueServer issues the listener's certificate for hosts (names or IPs).
func (c *CA) IssueServer(hosts []string, now time.Time) (*Issued, error) {
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{Organization: []string{"Coffre"}, CommonName: hosts[0]},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return c.issue(tmpl, now, 90*24*time.Hour)
}

func (c *CA) issue(tmpl *x509.Certificate, now time.Time, validity time.Duration) (*Issued, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	serial := make([]byte, 16)
	rand.Read(serial)
	serial[0] &= 0x7f
	tmpl.SerialNumber = new(big.Int).SetBytes(serial)
	tmpl.NotBefore = now.Add(-5 * time.Minute)
	tmpl.NotAfter = now.Add(validity)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.Cert, pub, c.key)
	if err != nil {
		return nil, fmt.Errorf("issue certificate: %w", err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	return &Issued{
		Serial:  SerialOf(tmpl.SerialNumber),
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}),
	}, nil
}

// SerialOf renders a certificate serial as stored.
func SerialOf(n *big.Int) string { return hex.EncodeToString(n.Bytes()) }

// CertPEM returns the CA certificate, PEM-encoded (for clients to trust the
// listener).
func (c *CA) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw})
}

// NewAPIKey returns a fresh API key ("cfp_" and 32 base32 characters) and
// the hash that is stored.
func NewAPIKey() (string, []byte) {
	b := make([]byte, 20)
	rand.Read(b)
	k := "cfp_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
	return k, HashAPIKey(k)
}

// HashAPIKey is the stored form of an API key (keys carry 160 random bits:
// SHA-256 is enough, as for session tokens).
func HashAPIKey(k string) []byte {
	h := sha256.Sum256([]byte("coffre-partner-key\x00" + k))
	return h[:]
}

// ErrNoClientCert: a partner request came without a verified client
// certificate.
var ErrNoClientCert = errors.New("no client certificate")
