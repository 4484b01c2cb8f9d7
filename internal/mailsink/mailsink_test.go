package mailsink

import (
	"net/smtp"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSink(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mail")
	s, err := Start(dir, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	msg := "From: coffre@localhost\r\nTo: sam@security.demo\r\nSubject: alert\r\n\r\nprobing: op_1 locked\r\n"
	for range 2 {
		if err := smtp.SendMail(s.Addr().String(), nil, "coffre@localhost", []string{"sam@security.demo"}, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	if len(files) != 2 {
		t.Fatalf("%d messages written, want 2: %v", len(files), files)
	}
	body, err := os.ReadFile(files[0])
	if err != nil || !strings.Contains(string(body), "probing: op_1 locked") || !strings.Contains(string(body), "Subject: alert") {
		t.Fatalf("message written: %q, %v", body, err)
	}
	if s.Received() != 2 || len(s.Timings()) != 2 {
		t.Errorf("Received() = %d, %d timings, want 2", s.Received(), len(s.Timings()))
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("mail directory mode %o, want 700", st.Mode().Perm())
	}

	// A message without a recipient is refused and writes nothing.
	c, err := smtp.Dial(s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail("coffre@localhost"); err != nil {
		t.Fatal(err)
	}
	if w, err := c.Data(); err == nil {
		w.Write([]byte(msg))
		if err := w.Close(); err == nil {
			t.Error("a message without a recipient was accepted")
		}
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*.eml")); len(files) != 2 {
		t.Errorf("%d messages after a refused one, want 2", len(files))
	}
}

// TestSinkCounts: a sink without a directory keeps nothing, and counts.
func TestSinkCounts(t *testing.T) {
	s, err := Start("", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	msg := "From: coffre@localhost\r\nTo: p@example.org\r\nSubject: notice\r\n\r\nyour record was read\r\n"
	for range 3 {
		if err := smtp.SendMail(s.Addr().String(), nil, "coffre@localhost", []string{"p@example.org"}, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	if n, ts := s.Received(), s.Timings(); n != 3 || len(ts) != 3 || ts[0] <= 0 {
		t.Errorf("Received() = %d, Timings() = %v; want 3 positive", n, ts)
	}
}

func TestSinkLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "192.0.2.1:25", "localhost", "example.org:25"} {
		if s, err := Start(t.TempDir(), addr); err == nil {
			s.Close()
			t.Errorf("Start(%q) accepted a non-loopback address", addr)
		}
	}
}
