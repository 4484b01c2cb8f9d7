// Package mailsink is a local SMTP server that accepts every message and
// writes it, as it came, to a directory: one .eml file a message. It is
// where `coffre demo` sends what Coffre mails (the guard's alerts, the
// notices to people), so that the tour can show a message arriving
// without a mail server. Without a directory it only counts what it
// takes and how fast it answered: `coffre bench read` delivers its
// notices to one. For demos and benchmarks only: no TLS, no
// authentication, and it listens on a loopback address alone.
package mailsink

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
)

// maxMessage bounds one message (and so what a local client can make the
// sink write).
const maxMessage = 1 << 20

// maxTimings bounds the answer times a sink keeps.
const maxTimings = 1 << 22

// Sink is a running mail sink.
type Sink struct {
	dir string
	srv *smtp.Server
	ln  net.Listener
	n   atomic.Int64

	mu      sync.Mutex
	timings []time.Duration
}

// Start listens on addr (a loopback host and a port, 0 for any free one)
// and writes each message into dir (created 0700), until Close. With dir
// "" it keeps no message, only their count and answer times.
func Start(dir, addr string) (*Sink, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("mail sink: %w", err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("mail sink: %s is not a loopback address: the sink takes mail from anyone who reaches it", host)
	}
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("mail sink: %w", err)
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("mail sink: %w", err)
	}
	s := &Sink{dir: dir, ln: ln}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }))
	s.srv.Domain = "localhost"
	s.srv.MaxMessageBytes = maxMessage
	s.srv.MaxRecipients = 50
	s.srv.ReadTimeout, s.srv.WriteTimeout = 30*time.Second, 30*time.Second
	go s.srv.Serve(ln)
	return s, nil
}

// Addr is the address the sink listens on.
func (s *Sink) Addr() *net.TCPAddr { return s.ln.Addr().(*net.TCPAddr) }

// Dir is where the messages are written ("": nowhere).
func (s *Sink) Dir() string { return s.dir }

// Received is the number of messages taken so far.
func (s *Sink) Received() int64 { return s.n.Load() }

// Timings returns how long the sink took over each message taken so far
// (the first few million), from its MAIL FROM to the answer to its data:
// the sink's own time and the client's RCPT and DATA round trips.
func (s *Sink) Timings() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.timings...)
}

// Close stops the sink.
func (s *Sink) Close() error { return s.srv.Close() }

// write stores one message: a temporary file renamed into place, so a
// reader never sees half a message.
func (s *Sink) write(body []byte) error {
	n := s.n.Add(1)
	if s.dir == "" {
		return nil
	}
	name := fmt.Sprintf("%s-%04d.eml", time.Now().UTC().Format("20060102T150405.000000000Z"), n)
	tmp, err := os.CreateTemp(s.dir, ".incoming-*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(body)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(s.dir, name))
}

type session struct {
	s     *Sink
	from  string
	rcpt  int
	start time.Time // MAIL FROM
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	x.from, x.start = from, time.Now()
	return nil
}

func (x *session) Rcpt(string, *smtp.RcptOptions) error {
	x.rcpt++
	return nil
}

func (x *session) Data(r io.Reader) error {
	if x.rcpt == 0 {
		return &smtp.SMTPError{Code: 554, Message: "no recipient"}
	}
	body, err := io.ReadAll(io.LimitReader(r, maxMessage+1))
	if err != nil {
		return err
	}
	if len(body) > maxMessage {
		return &smtp.SMTPError{Code: 552, Message: "message too large"}
	}
	if err := x.s.write(body); err != nil {
		return &smtp.SMTPError{Code: 451, Message: "cannot store the message"}
	}
	d := time.Since(x.start)
	x.s.mu.Lock()
	if len(x.s.timings) < maxTimings {
		x.s.timings = append(x.s.timings, d)
	}
	x.s.mu.Unlock()
	return nil
}

func (x *session) Reset()        { x.from, x.rcpt = "", 0 }
func (x *session) Logout() error { return nil }
