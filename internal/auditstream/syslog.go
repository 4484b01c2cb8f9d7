package auditstream

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/leodido/go-syslog/v4/rfc5424"
)

// Syslog is a sink that writes each record as an RFC 5424 message, its
// JSON as the message, over TCP or TLS (RFC 5425) with octet-counting
// framing (RFC 6587): PRI 110 (facility 13, log audit; severity 6,
// informational), the entry's time, APP-NAME coffre, MSGID audit.
//
// TCP says when bytes left, not when the receiver read them: a receiver
// that stops may drop what it had received and not read. So the sink
// counts a record held (Held) only once Window bytes have been written
// after it on the same connection, or once the connection has stayed open
// for Quiet with nothing more to send (a receiver that is reading has read
// it by then); after a broken connection, the stream sends again from
// there. A receiver sees a record twice rather than never; the index
// tells duplicates apart.
type Syslog struct {
	// Addr is the receiver's host:port.
	Addr string
	// TLS, when set, is the client configuration of a TLS connection
	// (RFC 5425); nil: plain TCP.
	TLS *tls.Config
	// Hostname is the HOSTNAME field (default: the host's name).
	Hostname string
	// Timeout bounds a connection and each write (default 10 s).
	Timeout time.Duration
	// Window is how many bytes written after a record make it held
	// (default 8 MiB, more than a receiver's socket buffers); Quiet how
	// long an idle open connection makes all held (default 1 s).
	Window int64
	Quiet  time.Duration

	mu      sync.Mutex
	conn    net.Conn
	w       *bufio.Writer
	written int64     // bytes written on conn
	pending []mark    // records written on conn and not yet held, oldest first
	held    int64     // the index below which every record is held
	last    time.Time // the last write
	closed  bool
}

// mark is where a record ended on the connection.
type mark struct {
	next int64 // the index after the record
	end  int64 // the bytes written on the connection once it was
}

// Name implements Sink.
func (s *Syslog) Name() string { return "syslog:" + s.Addr }

// Send implements Sink.
func (s *Syslog) Send(ctx context.Context, recs []Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.conn == nil {
		if err := s.dial(ctx); err != nil {
			return err
		}
	}
	s.conn.SetWriteDeadline(time.Now().Add(s.timeout()))
	for i := range recs {
		msg, err := s.message(&recs[i])
		if err != nil {
			return err
		}
		n, err := fmt.Fprintf(s.w, "%d %s", len(msg), msg)
		if err != nil {
			return s.broken(err)
		}
		s.written += int64(n)
		if i+1 < len(recs) && recs[i+1].Index == recs[i].Index {
			continue // an alert of the entry follows: held with it
		}
		s.pending = append(s.pending, mark{next: recs[i].Index + 1, end: s.written})
	}
	if err := s.w.Flush(); err != nil {
		return s.broken(err)
	}
	s.last = time.Now()
	window := s.Window
	if window <= 0 {
		window = 8 << 20
	}
	i := 0
	for i < len(s.pending) && s.written-s.pending[i].end >= window {
		s.held = s.pending[i].next
		i++
	}
	s.pending = s.pending[i:]
	return nil
}

// Held implements Sink: it also counts as held what an open, quiet
// connection carried.
func (s *Syslog) Held() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	quiet := s.Quiet
	if quiet <= 0 {
		quiet = time.Second
	}
	if s.conn != nil && len(s.pending) > 0 && time.Since(s.last) >= quiet && s.open() {
		s.held = s.pending[len(s.pending)-1].next
		s.pending = s.pending[:0]
	}
	return s.held
}

// open reports whether the receiver has not closed the connection: a read
// that times out at once finds the connection open; an end of file or a
// reset, closed (then it is dropped).
func (s *Syslog) open() bool {
	s.conn.SetReadDeadline(time.Now().Add(time.Millisecond))
	var b [1]byte
	_, err := s.conn.Read(b[:])
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	s.broken(err)
	return false
}

// broken drops the connection; what it carried and was not held will be
// sent again.
func (s *Syslog) broken(err error) error {
	if s.conn != nil {
		s.conn.Close()
	}
	s.conn, s.w, s.written, s.pending = nil, nil, 0, nil
	return fmt.Errorf("syslog %s: %w", s.Addr, err)
}

func (s *Syslog) dial(ctx context.Context) error {
	d := &net.Dialer{Timeout: s.timeout()}
	var c net.Conn
	var err error
	if s.TLS != nil {
		c, err = (&tls.Dialer{NetDialer: d, Config: s.TLS}).DialContext(ctx, "tcp", s.Addr)
	} else {
		c, err = d.DialContext(ctx, "tcp", s.Addr)
	}
	if err != nil {
		return fmt.Errorf("syslog %s: %w", s.Addr, err)
	}
	s.conn, s.w, s.written, s.pending = c, bufio.NewWriterSize(c, 64<<10), 0, nil
	return nil
}

func (s *Syslog) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return 10 * time.Second
}

// message is r as an RFC 5424 message.
func (s *Syslog) message(r *Record) (string, error) {
	host := s.Hostname
	if host == "" {
		host, _ = os.Hostname()
	}
	m := &rfc5424.SyslogMessage{}
	msgID, severity := "audit", uint8(6) // informational
	if r.Alert != nil {
		msgID, severity = "alert", 4 // warning
		if sev, ok := alertSeverity[r.Alert.Severity]; ok {
			severity = sev
		}
	}
	m.SetPriority(13*8 + severity) // facility 13: log audit
	m.SetVersion(1)
	m.SetTimestamp(r.Time().Format("2006-01-02T15:04:05.000000Z07:00")) // RFC 5424: at most 6 digits of a second
	m.SetHostname(host)
	m.SetAppname("coffre")
	m.SetProcID(strconv.Itoa(os.Getpid()))
	m.SetMsgID(msgID)
	m.SetMessage(string(r.JSON()))
	msg, err := m.String()
	if err != nil {
		return "", fmt.Errorf("syslog message of entry %d: %w", r.Index, err)
	}
	return msg, nil
}

// alertSeverity is the syslog severity of a guard alert's (RFC 5424:
// critical, error, warning).
var alertSeverity = map[string]uint8{"critical": 2, "high": 3, "warning": 4}

// Close implements Sink.
func (s *Syslog) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.conn != nil {
		s.broken(ErrClosed)
	}
	return nil
}
