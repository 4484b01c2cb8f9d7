// Package delivertest holds receivers for tests of delivery: an SMTP
// server (github.com/emersion/go-smtp) that keeps what it receives and
// can refuse recipients, and a webhook receiver that checks signatures
// and answers as a test scripts it. Only tests import it.
package delivertest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/coffre/coffre/internal/deliver"
)

// Mail is one message an SMTP server received.
type Mail struct {
	From string
	To   []string
	Data []byte
	At   time.Time
}

// Header parses the message's headers.
func (m Mail) Header(t testing.TB) mail.Header {
	msg, err := mail.ReadMessage(strings.NewReader(string(m.Data)))
	if err != nil {
		t.Fatalf("parse mail: %v", err)
	}
	return msg.Header
}

// Body returns the message's body, decoded from quoted-printable when
// it says so.
func (m Mail) Body(t testing.TB) string {
	msg, err := mail.ReadMessage(strings.NewReader(string(m.Data)))
	if err != nil {
		t.Fatalf("parse mail: %v", err)
	}
	var r io.Reader = msg.Body
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		r = quotedprintable.NewReader(r)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read mail body: %v", err)
	}
	return string(b)
}

// SMTP is an SMTP server on 127.0.0.1: a local sink without TLS, or with
// STARTTLS and PLAIN authentication ([StartSMTPWith]).
type SMTP struct {
	Addr string // host:port
	Host string
	Port int
	// Refuse, when set, answers 550 to RCPT TO for the addresses it
	// reports.
	Refuse func(rcpt string) bool
	// RootCAs trust the server's certificate (with TLS).
	RootCAs *x509.CertPool

	opts SMTPOptions

	mu       sync.Mutex
	mails    []Mail
	got      chan struct{}
	sessions []net.Conn
}

// SMTPOptions make a server ask more of its clients.
type SMTPOptions struct {
	// TLS offers STARTTLS with a certificate for 127.0.0.1 (see RootCAs).
	TLS bool
	// Username and Password, when set, are required (AUTH PLAIN) before
	// MAIL FROM.
	Username, Password string
	// Delay, when set, is how long the server takes to answer each
	// message once it has its data (a slow server). A message whose
	// client went away meanwhile is kept all the same, as a real server
	// would: the client never learns that it was taken.
	Delay time.Duration
}

// StartSMTP starts an SMTP sink without TLS, closed when t ends.
func StartSMTP(t testing.TB) *SMTP { return StartSMTPWith(t, SMTPOptions{}) }

// StartSMTPWith starts an SMTP server, closed when t ends.
func StartSMTPWith(t testing.TB, o SMTPOptions) *SMTP {
	s := &SMTP{got: make(chan struct{}, 1024), opts: o}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		s.mu.Lock()
		s.sessions = append(s.sessions, c.Conn())
		s.mu.Unlock()
		return &session{s: s}, nil
	}))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = !o.TLS
	if o.TLS {
		cert, pool := selfSigned(t)
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		s.RootCAs = pool
	}
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	s.Addr = ln.Addr().String()
	a := ln.Addr().(*net.TCPAddr)
	s.Host, s.Port = a.IP.String(), a.Port
	return s
}

// Mails returns what the server received so far.
func (s *SMTP) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

// Sessions is the number of connections the server has taken so far.
func (s *SMTP) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Drop closes every connection the server has taken, as a server does
// with a client idle too long.
func (s *SMTP) Drop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.sessions {
		c.Close()
	}
}

// Wait returns once the server holds at least n messages, or after d
// (then what it holds).
func (s *SMTP) Wait(n int, d time.Duration) []Mail {
	deadline := time.After(d)
	for {
		if ms := s.Mails(); len(ms) >= n {
			return ms
		}
		select {
		case <-s.got:
		case <-deadline:
			return s.Mails()
		}
	}
}

type session struct {
	s      *SMTP
	from   string
	to     []string
	authed bool
}

func (x *session) AuthMechanisms() []string {
	if x.s.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (x *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != x.s.opts.Username || pass != x.s.opts.Password {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		x.authed = true
		return nil
	}), nil
}

func (x *session) Reset()        { x.from, x.to = "", nil }
func (x *session) Logout() error { return nil }
func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	if x.s.opts.Username != "" && !x.authed {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}
	}
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if x.s.Refuse != nil && x.s.Refuse(to) {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	x.to = append(x.to, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	time.Sleep(x.s.opts.Delay)
	x.s.mu.Lock()
	x.s.mails = append(x.s.mails, Mail{From: x.from, To: x.to, Data: b, At: time.Now()})
	x.s.mu.Unlock()
	select {
	case x.s.got <- struct{}{}:
	default:
	}
	return nil
}

// Request is one request a webhook receiver took.
type Request struct {
	Header http.Header
	Body   []byte
	// Verified is VerifyWebhook's answer (5-minute window).
	Verified error
	At       time.Time
}

// Hook is a webhook receiver.
type Hook struct {
	URL    string
	Secret []byte
	// Answer, when set, answers request n (0-based) with a status (and
	// may block); 200 otherwise.
	Answer func(n int, w http.ResponseWriter, r *http.Request) int

	mu   sync.Mutex
	reqs []Request
}

// StartHook starts a webhook receiver, closed when t ends.
func StartHook(t testing.TB, secret []byte) *Hook {
	h := &Hook{Secret: secret}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		req := Request{Header: r.Header.Clone(), Body: body, At: time.Now(),
			Verified: deliver.VerifyWebhook(h.Secret, r.Header.Get(deliver.HeaderSignature), body, time.Now(), 5*time.Minute)}
		h.mu.Lock()
		n := len(h.reqs)
		h.reqs = append(h.reqs, req)
		h.mu.Unlock()
		code := http.StatusOK
		if h.Answer != nil {
			code = h.Answer(n, w, r)
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	h.URL = srv.URL
	return h
}

// Requests returns what the receiver took so far.
func (h *Hook) Requests() []Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Request(nil), h.reqs...)
}

// selfSigned makes a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
