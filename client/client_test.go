package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/httpapi/apitest"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

// server is a real Coffre API over HTTP (the demo policy, SQLite), with a
// caseworker whose guard allows a burst of 3 requests then one a second,
// and locks after 3 misses an hour.
type server struct {
	url    string
	ops    map[string]*auth.NewOperator // by username
	people []string
}

func start(t *testing.T) *server {
	t.Helper()
	ctx := context.Background()
	a := apitest.Start(t, apitest.Config{Vault: vault.Config{
		Guard: &vault.Guard{Limits: map[string]guard.Limits{"caseworker": {Rate: 1, Burst: 3, MissesPerHour: 3}}}}})
	s := &server{url: a.URL, ops: map[string]*auth.NewOperator{}}
	var err error
	for _, name := range []string{"camille", "claude"} {
		if s.ops[name], err = a.Auth.AddReadyOperator(ctx, name, "", "caseworker", "ac-lyon"); err != nil {
			t.Fatal(err)
		}
	}
	hr := identity.Actor{ID: "op_hr", Role: "hr-officer", Unit: "ac-lyon", Origin: "127.0.0.1"}
	for i := range 3 {
		id, err := a.Vault.Create(ctx, hr, "ac-lyon", synth.Make(5, i).Fields)
		if err != nil {
			t.Fatal(err)
		}
		s.people = append(s.people, id)
	}
	return s
}

func (s *server) login(t *testing.T, name string, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(s.url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	step, err := c.Login(t.Context(), name, s.ops[name].Password)
	if err != nil {
		t.Fatal(err)
	}
	code, _ := totp.GenerateCode(s.ops[name].TOTPSecret, time.Now())
	if err := c.TOTP(t.Context(), step.LoginToken, code); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestReadAndErrors: a login with TOTP, a read for a purpose; errors as
// typed values (a wrong password, a purpose the role lacks); a 429 waited
// out by its Retry-After; misses that lock the account (ErrLocked), whose
// session is then gone (ErrUnauthenticated).
func TestReadAndErrors(t *testing.T) {
	s := start(t)
	ctx := t.Context()
	bad, _ := client.New(s.url)
	if _, err := bad.Login(ctx, "camille", "wrong"); !errors.Is(err, client.ErrUnauthenticated) {
		t.Errorf("a wrong password: %v, want ErrUnauthenticated", err)
	}
	c := s.login(t, "camille")
	v, err := c.Read(ctx, s.people[0], client.Access{Purpose: "case-handling"})
	if err != nil || v.ID != s.people[0] || v.Purpose != "case-handling" || len(v.Fields) == 0 || v.AuditSeq == 0 {
		t.Fatalf("Read = %+v, %v", v, err)
	}
	_, err = c.Read(ctx, s.people[1], client.Access{Purpose: "payroll"})
	var e *client.Error
	if !errors.Is(err, client.ErrForbidden) || !errors.As(err, &e) || e.Code == "" || e.Message == "" {
		t.Errorf("a purpose the role lacks: %v, want ErrForbidden with a code and a message", err)
	}

	// The burst is spent: the next reads wait out the Retry-After.
	start := time.Now()
	for i := range 3 {
		if _, err := c.Read(ctx, s.people[i%len(s.people)], client.Access{Purpose: "case-handling"}); err != nil {
			t.Fatalf("read %d after the burst: %v", i, err)
		}
	}
	if time.Since(start) < time.Second {
		t.Errorf("3 reads past the burst took %v: no Retry-After was waited out", time.Since(start))
	}
	noRetry := s.login(t, "claude", client.WithRetries(0, 0))
	var limited error
	for range 10 {
		if _, limited = noRetry.Read(ctx, s.people[0], client.Access{Purpose: "case-handling"}); limited != nil {
			break
		}
	}
	if !errors.Is(limited, client.ErrRateLimited) || !errors.As(limited, &e) || e.RetryAfter < time.Second {
		t.Errorf("without retries: %v, want ErrRateLimited with a Retry-After", limited)
	}

	// Misses lock the account.
	var lockErr error
	for i := range 10 {
		time.Sleep(1100 * time.Millisecond) // within the rate
		if _, lockErr = c.Lookup(ctx, client.Access{Purpose: "directory"}, "email_pro", "nobody"+string(rune('a'+i))+"@example.org"); errors.Is(lockErr, client.ErrLocked) {
			break
		}
		if !errors.Is(lockErr, client.ErrNotFound) {
			t.Fatalf("lookup %d: %v, want ErrNotFound until the lock", i, lockErr)
		}
	}
	if !errors.Is(lockErr, client.ErrLocked) {
		t.Fatalf("misses did not lock: %v", lockErr)
	}
	if _, err := c.Read(ctx, s.people[0], client.Access{Purpose: "case-handling"}); !errors.Is(err, client.ErrUnauthenticated) {
		t.Errorf("after the lock: %v, want ErrUnauthenticated (the session is revoked)", err)
	}
}

// TestNew refuses a base URL that is not http(s)://host.
func TestNew(t *testing.T) {
	for _, u := range []string{"", "localhost:8080", "ftp://coffre.example", "http://"} {
		if _, err := client.New(u); err == nil {
			t.Errorf("New(%q): no error", u)
		}
	}
}
