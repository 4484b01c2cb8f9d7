package httpapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/httpapi"
	"github.com/coffre/coffre/internal/metrics"
	"github.com/coffre/coffre/internal/partner"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

// partnerEnv is the partner listener of an env: mutual TLS with a server
// certificate from the CA and client certificates required.
type partnerEnv struct {
	*env
	ca  *partner.CA
	srv *httptest.Server
	// requests counts the partner listener's requests.
	requests *metrics.Requests
}

// lookupAndRead creates a person of unit u1 and a partner of that unit,
// which looks the person up by email and reads them (both must answer
// 200); it returns the partner, the person's pseudonym, the partner's
// client and the person.
func (p *partnerEnv) lookupAndRead(t *testing.T) (ml *auth.NewPartner, psn string, c *http.Client, who synth.Person) {
	t.Helper()
	hr := p.addOperator(t, "hugo", "hr-officer", "u1")
	who, _ = person(t, 0, false)
	who.Unit = "u1"
	p.create(t, p.login(t, hr), who)
	ml, err := p.auth.AddPartner(t.Context(), p.ca, "mission-locale", "employment", "partner", "u1")
	if err != nil {
		t.Fatal(err)
	}
	c = p.client(t, ml.Cert)
	st, psn := p.lookup(t, c, ml.APIKey, who.Fields["email_pro"])
	if st != http.StatusOK {
		t.Fatalf("partner lookup: %d", st)
	}
	if st, _, _ := p.do(c, "GET", "/v1/subjects/"+psn, ml.APIKey, nil); st != http.StatusOK {
		t.Fatalf("partner read: %d", st)
	}
	return ml, psn, c, who
}

// newPartnerEnv serves the partner listener of a new env; more sets more
// of its server's fields.
func newPartnerEnv(t *testing.T, more ...func(*httpapi.Server)) *partnerEnv {
	t.Helper()
	e := newEnv(t)
	seed := make([]byte, 32)
	rand.Read(seed)
	ca, err := partner.NewCA(seed)
	if err != nil {
		t.Fatal(err)
	}
	issued, err := ca.IssueServer([]string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(issued.CertPEM, issued.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	rq := metrics.NewRequests()
	api := &httpapi.Server{Vault: e.vault, Auth: e.auth, MaxBodyBytes: maxBody, ReasonMaxLen: reasonMax, Requests: rq}
	for _, f := range more {
		f(api)
	}
	srv := httptest.NewUnstartedServer(checkPartnerOpenAPI(t, api.PartnerHandler()))
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool()}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return &partnerEnv{env: e, ca: ca, srv: srv, requests: rq}
}

// client is an HTTPS client trusting the CA and presenting cert (nil: none).
func (p *partnerEnv) client(t *testing.T, cert *partner.Issued) *http.Client {
	t.Helper()
	cfg := &tls.Config{RootCAs: p.ca.Pool(), MinVersion: tls.VersionTLS13}
	if cert != nil {
		c, err := tls.X509KeyPair(cert.CertPEM, cert.KeyPEM)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
}

// do sends a partner request; err is a refused connection (TLS).
func (p *partnerEnv) do(c *http.Client, method, path, key string, body any) (int, string, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, p.srv.URL+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Coffre-Purpose", "referral")
	if key != "" {
		req.Header.Set("Coffre-Api-Key", key)
	}
	res, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), nil
}

func (p *partnerEnv) lookup(t *testing.T, c *http.Client, key, email string) (int, string) {
	t.Helper()
	st, body, err := p.do(c, "POST", "/v1/subjects/lookup", key, map[string]string{"field": "email_pro", "value": email})
	if err != nil {
		t.Fatalf("lookup: %v", err)
	}
	var out struct {
		ID string `json:"id"`
	}
	json.Unmarshal([]byte(body), &out)
	return st, out.ID
}

// TestPartnerCredentials: a partner request needs both its current client
// certificate and its API key; a partner sees subjects only through its
// sector's pseudonyms, which another sector cannot use.
func TestPartnerCredentials(t *testing.T) {
	p := newPartnerEnv(t)
	ctx := context.Background()
	hr := p.addOperator(t, "hugo", "hr-officer", "u1")
	person1, _ := person(t, 0, false)
	person1.Unit = "u1"
	subject := p.create(t, p.login(t, hr), person1)
	email := person1.Fields["email_pro"]

	ml, err := p.auth.AddPartner(ctx, p.ca, "mission-locale", "employment", "partner", "u1")
	if err != nil {
		t.Fatal(err)
	}
	cap, err := p.auth.AddPartner(ctx, p.ca, "cap-emploi", "disability", "partner", "u1")
	if err != nil {
		t.Fatal(err)
	}
	withCert := p.client(t, ml.Cert)

	// Both credentials: the lookup answers a pseudonym, never the id.
	st, psn := p.lookup(t, withCert, ml.APIKey, email)
	if st != http.StatusOK || !strings.HasPrefix(psn, "psn_") || psn == subject || strings.Contains(psn, subject[4:]) {
		t.Fatalf("partner lookup: %d %q (subject %s)", st, psn, subject)
	}
	st, body, _ := p.do(withCert, "GET", "/v1/subjects/"+psn, ml.APIKey, nil)
	var view vault.View
	json.Unmarshal([]byte(body), &view)
	if st != http.StatusOK || view.ID != psn || view.Fields["family_name"] == "" || view.Fields["national_id"] != "" {
		t.Fatalf("partner read: %d %s", st, body)
	}
	if strings.Contains(body, subject) {
		t.Fatalf("the subject id leaked to the partner: %s", body)
	}
	// HEAD is no read (it would run the GET handler: an audited access).
	before := len(p.auditEntries(t))
	if st, _, _ := p.do(withCert, "HEAD", "/v1/subjects/"+psn, ml.APIKey, nil); st != http.StatusMethodNotAllowed || len(p.auditEntries(t)) != before {
		t.Errorf("partner HEAD: %d, %d audit entries; want 405, none", st, len(p.auditEntries(t))-before)
	}
	// The id itself is refused; so is another sector's pseudonym.
	if st, _, _ := p.do(withCert, "GET", "/v1/subjects/"+subject, ml.APIKey, nil); st != http.StatusBadRequest {
		t.Errorf("read by subject id: %d, want 400", st)
	}
	capClient := p.client(t, cap.Cert)
	st, capPsn := p.lookup(t, capClient, cap.APIKey, email)
	if st != http.StatusOK || capPsn == psn {
		t.Fatalf("the other sector's pseudonym: %d %q (employment %q)", st, capPsn, psn)
	}
	if st, _, _ := p.do(capClient, "GET", "/v1/subjects/"+psn, cap.APIKey, nil); st != http.StatusNotFound {
		t.Errorf("another sector's pseudonym: %d, want 404", st)
	}

	// Refusals.
	if _, _, err := p.do(p.client(t, nil), "POST", "/v1/subjects/lookup", ml.APIKey, map[string]string{"field": "email_pro", "value": email}); err == nil {
		t.Error("only the key (no certificate): the TLS handshake was accepted")
	}
	if st, body, _ := p.do(withCert, "POST", "/v1/subjects/lookup", "", map[string]string{"field": "email_pro", "value": email}); st != http.StatusUnauthorized {
		t.Errorf("only the certificate: %d %s", st, body)
	}
	if st, _, _ := p.do(capClient, "POST", "/v1/subjects/lookup", ml.APIKey, map[string]string{"field": "email_pro", "value": email}); st != http.StatusUnauthorized {
		t.Errorf("another partner's certificate with this key: %d", st)
	}
	otherSeed := make([]byte, 32)
	rand.Read(otherSeed)
	rogue, _ := partner.NewCA(otherSeed)
	forged, _ := rogue.IssueClient(ml.Partner.ID, time.Now(), time.Hour)
	if _, _, err := p.do(p.client(t, forged), "POST", "/v1/subjects/lookup", ml.APIKey, nil); err == nil {
		t.Error("a certificate from another CA was accepted")
	}
	// Rotation: the old certificate and the old key stop at once.
	rot, err := p.auth.RotatePartner(ctx, p.ca, "mission-locale")
	if err != nil {
		t.Fatal(err)
	}
	newClient := p.client(t, rot.Cert)
	for _, tc := range []struct {
		name string
		c    *http.Client
		key  string
		want int
	}{
		{"revoked certificate, new key", withCert, rot.APIKey, http.StatusUnauthorized},
		{"new certificate, old key", newClient, ml.APIKey, http.StatusUnauthorized},
		{"new certificate, new key", newClient, rot.APIKey, http.StatusOK},
	} {
		if st, _ := p.lookup(t, tc.c, tc.key, email); st != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, st, tc.want)
		}
	}
	// A partner's credentials are nothing on the operator listener.
	p.call(t, req{Method: "GET", Path: "/v1/subjects/" + subject, Token: rot.APIKey, Purpose: "referral"}).want(t, http.StatusUnauthorized, "unauthenticated")
	// Nobody logs in as a partner's row.
	p.call(t, req{Method: "POST", Path: "/v1/auth/login", Body: map[string]string{"username": "partner:mission-locale", "password": "!"}}).want(t, http.StatusUnauthorized, "invalid_credentials")
	var denials int
	for _, e := range p.auditEntries(t) {
		if e.Action == "partner.auth" && e.Decision == "deny:wrong_certificate" {
			denials++
		}
	}
	if denials != 2 {
		t.Errorf("%d wrong-certificate denials audited, want 2", denials)
	}
}
