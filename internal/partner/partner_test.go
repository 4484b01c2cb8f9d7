package partner

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"
)

func TestCA(t *testing.T) {
	seed := bytes.Repeat([]byte{7}, 32)
	a, err := NewCA(seed)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewCA(seed)
	if !bytes.Equal(a.Cert.Raw, b.Cert.Raw) {
		t.Error("two nodes derive different CA certificates from one seed")
	}
	other, _ := NewCA(bytes.Repeat([]byte{8}, 32))
	now := time.Now()
	client, err := a.IssueClient("op_partner1", now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(client.CertPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "op_partner1" || SerialOf(cert.SerialNumber) != client.Serial {
		t.Errorf("client certificate %s serial %s", cert.Subject, client.Serial)
	}
	opts := x509.VerifyOptions{Roots: a.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, CurrentTime: now}
	if _, err := cert.Verify(opts); err != nil {
		t.Errorf("client certificate does not verify: %v", err)
	}
	opts.Roots = other.Pool()
	if _, err := cert.Verify(opts); err == nil {
		t.Error("client certificate verifies against another CA")
	}
	opts.Roots, opts.KeyUsages = a.Pool(), []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	if _, err := cert.Verify(opts); err == nil {
		t.Error("a client certificate serves as a server's")
	}
	again, _ := a.IssueClient("op_partner1", now, time.Hour)
	if again.Serial == client.Serial {
		t.Error("two issues share a serial")
	}
	srv, err := a.IssueServer([]string{"localhost", "127.0.0.1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	block, _ = pem.Decode(srv.CertPEM)
	sc, _ := x509.ParseCertificate(block.Bytes)
	if err := sc.VerifyHostname("127.0.0.1"); err != nil {
		t.Error(err)
	}
	if err := sc.VerifyHostname("localhost"); err != nil {
		t.Error(err)
	}
}

func TestAPIKey(t *testing.T) {
	k1, h1 := NewAPIKey()
	k2, h2 := NewAPIKey()
	if !strings.HasPrefix(k1, "cfp_") || len(k1) != 36 || k1 == k2 || bytes.Equal(h1, h2) || !bytes.Equal(HashAPIKey(k1), h1) {
		t.Errorf("keys %q %q", k1, k2)
	}
}
