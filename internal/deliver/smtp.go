package deliver

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"sync"
	"time"

	"github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"

	"github.com/coffre/coffre/internal/notice"
	"github.com/coffre/coffre/internal/outbox"
)

// STARTTLS policies of [SMTP].
const (
	TLSMandatory     = "mandatory"     // refuse a server without STARTTLS
	TLSOpportunistic = "opportunistic" // STARTTLS when offered
	TLSNone          = "none"          // plain text: a local sink only
)

// SMTP sends email through a submission server.
//
// It keeps the connections it opened and sends the next messages over
// them (one at a time each: a sender takes a connection, sends, gives it
// back), so that a message costs MAIL, RCPT and DATA, not a connection,
// EHLO, STARTTLS and AUTH. A connection is closed after MaxPerConn
// messages, after IdleTimeout unused, after any failed send, and by
// Close. A kept connection the server has dropped meanwhile fails at MAIL
// FROM, before anything was taken: the message is then sent once more
// over a new connection.
type SMTP struct {
	Host string
	Port int // default 587
	// StartTLS is TLSMandatory (default), TLSOpportunistic or TLSNone.
	StartTLS string
	// Username and Password authenticate when Username is set.
	Username, Password string
	From, ReplyTo      string
	// Timeout bounds a connection and each command (default 10s).
	Timeout time.Duration
	// TLSConfig, when set, checks the server's certificate (default: the
	// system's roots, for Host).
	TLSConfig *tls.Config
	// MaxIdle is how many connections are kept between sends (default
	// 256, the most senders a worker runs: a connection of each; negative:
	// none, a connection per message). MaxPerConn is how many messages
	// one connection carries (default 100), IdleTimeout how long one is
	// kept unused (default 30s).
	MaxIdle, MaxPerConn int
	IdleTimeout         time.Duration

	once   sync.Once
	client *mail.Client // the session's settings, shared by the connections
	cerr   error
	mu     sync.Mutex
	idle   []*smtpConn
	closed bool
}

// smtpConn is an open session with the server.
type smtpConn struct {
	c    *smtp.Client
	sent int       // messages it carried
	used time.Time // when it was last given back
}

// Defaults of SMTP's connection reuse.
const (
	DefaultMaxIdle     = 256
	DefaultMaxPerConn  = 100
	DefaultIdleTimeout = 30 * time.Second
)

// Send mails the alert to the recipient. An SMTP 5xx answer is
// permanent (the recipient refused: a dead letter, no loop), except an
// authentication refusal (ours to fix); a 4xx answer, a timeout or a
// failed connection are retried.
func (s *SMTP) Send(ctx context.Context, m outbox.Message) error {
	al, err := alertOf(m)
	if err != nil {
		return err
	}
	subject, body := emailText(al)
	return s.SendText(ctx, m.Recipient, m, notice.Text{Subject: subject, Body: body})
}

// SendText mails text to the address to, as message m (its key and kind
// in the headers).
func (s *SMTP) SendText(ctx context.Context, to string, m outbox.Message, text notice.Text) error {
	msg := mail.NewMsg()
	if err := msg.From(s.From); err != nil {
		return &Error{Class: "bad from address", Permanent: true}
	}
	if err := msg.To(to); err != nil {
		return &Error{Class: "bad recipient address", Permanent: true}
	}
	if s.ReplyTo != "" {
		if err := msg.ReplyTo(s.ReplyTo); err != nil {
			return &Error{Class: "bad reply-to address", Permanent: true}
		}
	}
	msg.Subject(text.Subject)
	msg.SetMessageIDWithValue(m.Key + "@coffre")
	msg.SetGenHeader(mail.Header(HeaderKey), m.Key)
	msg.SetGenHeader(mail.Header(HeaderEvent), m.Kind)
	msg.SetBodyString(mail.TypeTextPlain, text.Body)

	s.once.Do(s.setup)
	if s.cerr != nil {
		return &Error{Class: "smtp config", Permanent: true}
	}
	ctx, cancel := context.WithTimeout(ctx, 3*cmp.Or(s.Timeout, DefaultTimeout))
	defer cancel()
	for retried := false; ; retried = true {
		conn := s.take()
		kept := conn != nil
		if !kept {
			c, err := s.client.DialToSMTPClientWithContext(ctx)
			if err != nil {
				return smtpClass(ctx, err)
			}
			conn = &smtpConn{c: c}
		}
		err := s.client.SendWithSMTPClient(conn.c, msg)
		if err == nil {
			conn.sent++
			s.give(conn)
			return nil
		}
		// Whatever state the session is in now, it is not reused.
		conn.c.Close()
		if kept && !retried && notTaken(err) {
			continue // a kept connection the server had dropped
		}
		return smtpClass(ctx, err)
	}
}

// setup builds the session's settings once. NOOP before each message and
// RSET after it are left out: a kept connection that fails is found out
// at MAIL FROM, and a session whose DATA was taken needs no reset.
func (s *SMTP) setup() {
	policy := mail.TLSMandatory
	switch s.StartTLS {
	case TLSOpportunistic:
		policy = mail.TLSOpportunistic
	case TLSNone:
		policy = mail.NoTLS
	}
	opts := []mail.Option{
		mail.WithPort(cmp.Or(s.Port, 587)),
		mail.WithTimeout(cmp.Or(s.Timeout, DefaultTimeout)),
		mail.WithTLSPolicy(policy),
		mail.WithoutNoop(),
		mail.WithoutRset(),
	}
	if s.TLSConfig != nil {
		opts = append(opts, mail.WithTLSConfig(s.TLSConfig))
	}
	if s.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(s.Username), mail.WithPassword(s.Password))
	}
	s.client, s.cerr = mail.NewClient(s.Host, opts...)
}

// notTaken reports whether a send failed before the server could have
// taken the message: at MAIL FROM, or with no session.
func notTaken(err error) bool {
	var se *mail.SendError
	return errors.As(err, &se) && (se.Reason == mail.ErrSMTPMailFrom || se.Reason == mail.ErrConnCheck)
}

// take returns a kept connection, or nil; it closes those kept too long.
func (s *SMTP) take() *smtpConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	idle := cmp.Or(s.IdleTimeout, DefaultIdleTimeout)
	for len(s.idle) > 0 {
		c := s.idle[len(s.idle)-1]
		s.idle = s.idle[:len(s.idle)-1]
		if time.Since(c.used) < idle {
			return c
		}
		go s.quit(c) // the server may have closed it already
	}
	return nil
}

// give keeps a connection that carried a message for the next, or quits
// it.
func (s *SMTP) give(c *smtpConn) {
	c.used = time.Now()
	s.mu.Lock()
	keep := !s.closed && len(s.idle) < cmp.Or(s.MaxIdle, DefaultMaxIdle) && c.sent < cmp.Or(s.MaxPerConn, DefaultMaxPerConn)
	if keep {
		s.idle = append(s.idle, c)
	}
	s.mu.Unlock()
	if !keep {
		s.quit(c)
	}
}

// quit ends a session politely, and closes its connection whatever the
// server answers.
func (s *SMTP) quit(c *smtpConn) {
	c.c.UpdateDeadline(cmp.Or(s.Timeout, DefaultTimeout))
	c.c.Quit()
	c.c.Close()
}

// Close quits the kept connections; a send after Close opens and quits
// its own.
func (s *SMTP) Close() error {
	s.mu.Lock()
	idle := s.idle
	s.idle, s.closed = nil, true
	s.mu.Unlock()
	for _, c := range idle {
		s.quit(c)
	}
	return nil
}

// smtpClass sorts a failed SMTP send by the server's reply code and the
// command it answered; without a reply, as a network failure.
func smtpClass(ctx context.Context, err error) error {
	var se *mail.SendError
	code, what := 0, "error"
	if errors.As(err, &se) {
		code = se.ErrorCode()
		switch se.Reason {
		case mail.ErrSMTPRcptTo:
			what = "rejected"
		case mail.ErrSMTPMailFrom:
			what = "sender refused"
		case mail.ErrSMTPData, mail.ErrSMTPDataClose:
			what = "data refused"
		}
	}
	var te *textproto.Error
	if code == 0 && errors.As(err, &te) {
		code = te.Code
	}
	switch {
	case code == 530 || code == 534 || code == 535 || code == 538:
		// Our credentials or policy, not the recipient: retried, so that
		// a fixed configuration still delivers within the tries.
		return &Error{Class: fmt.Sprintf("smtp %d auth refused", code)}
	case code >= 500:
		return &Error{Class: fmt.Sprintf("smtp %d %s", code, what), Permanent: true}
	case code >= 400:
		return &Error{Class: fmt.Sprintf("smtp %d %s", code, what)}
	case se != nil:
		return &Error{Class: "smtp " + what}
	}
	var oe *net.OpError
	if errors.As(err, &oe) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return netClass(ctx, err)
	}
	// No reply code and no network error: the session failed on our
	// side of it (STARTTLS missing under the mandatory policy, a
	// certificate, authentication).
	return &Error{Class: "smtp session"}
}
