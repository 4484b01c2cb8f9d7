package deliver

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"time"

	"github.com/wneessen/go-mail"

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
}

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
	}
	if s.TLSConfig != nil {
		opts = append(opts, mail.WithTLSConfig(s.TLSConfig))
	}
	if s.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(s.Username), mail.WithPassword(s.Password))
	}
	c, err := mail.NewClient(s.Host, opts...)
	if err != nil {
		return &Error{Class: "smtp config", Permanent: true}
	}
	ctx, cancel := context.WithTimeout(ctx, 3*cmp.Or(s.Timeout, DefaultTimeout))
	defer cancel()
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return smtpClass(ctx, err)
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
