package auth_test

import (
	"context"
	"crypto/rand"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/postgres"
	"github.com/coffre/coffre/internal/store/postgres/pgtest"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetemplate"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetest"
	"github.com/pquerna/otp/totp"
)

var ctx = context.Background()

func newService(t *testing.T, now *time.Time) *auth.Service {
	t.Helper()
	st, err := sqlitetemplate.Open(ctx, filepath.Join(t.TempDir(), "a.db"), sqlite.Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return newServiceOn(st, now)
}

// newServiceOn is a service on st with cheap argon2id and a fresh key.
func newServiceOn(st store.Store, now *time.Time) *auth.Service {
	seed := make([]byte, envelope.SeedSize)
	rand.Read(seed)
	keys, _ := envelope.NewKeyring(map[uint32][]byte{1: seed}, 1)
	return &auth.Service{Store: st, Keys: keys, Params: auth.Params{Time: 1, Memory: 1024, Threads: 1},
		Now: func() time.Time { return *now }, Idle: 10 * time.Minute, Max: time.Hour}
}

// onBothStores runs fn on a service over SQLite and over PostgreSQL.
func onBothStores(t *testing.T, fn func(t *testing.T, s *auth.Service, now *time.Time)) {
	t.Run("sqlite", func(t *testing.T) {
		now := time.Date(2026, 11, 23, 9, 0, 10, 0, time.UTC)
		fn(t, newService(t, &now), &now)
	})
	t.Run("postgres", func(t *testing.T) {
		now := time.Date(2026, 11, 23, 9, 0, 10, 0, time.UTC)
		u := pgtest.Migrated(t, postgres.Digest(), postgres.Migrate)
		st, err := postgres.Open(ctx, u, postgres.Options{IDs: sqlitetest.IDs()})
		if err != nil {
			t.Fatalf("postgres.Open: %v", err)
		}
		t.Cleanup(func() { st.Close() })
		fn(t, newServiceOn(st, &now), &now)
	})
}

func TestPasswordHash(t *testing.T) {
	h := auth.HashPassword(auth.Params{Time: 1, Memory: 1024, Threads: 1}, "correct horse")
	if !strings.HasPrefix(h, "$argon2id$v=19$") {
		t.Fatalf("hash %q is not a PHC argon2id string", h)
	}
	if !auth.CheckPassword(h, "correct horse") || auth.CheckPassword(h, "correct horsE") || auth.CheckPassword("garbage", "x") {
		t.Fatal("CheckPassword accepts a wrong password or garbage")
	}
}

func TestTOTPOnceAndExpiry(t *testing.T) {
	now := time.Date(2026, 11, 23, 9, 0, 10, 0, time.UTC)
	s := newService(t, &now)
	op, err := s.AddReadyOperator(ctx, "marie", "pw-marie-123", "caseworker", "ac-versailles")
	if err != nil {
		t.Fatal(err)
	}
	login := func() string {
		t.Helper()
		lt, mfa, err := s.Login(ctx, "marie", "pw-marie-123", "127.0.0.1")
		if err != nil || len(mfa) == 0 || mfa[0] != "totp" {
			t.Fatalf("Login = %v, %v", mfa, err)
		}
		return lt
	}
	code, _ := totp.GenerateCode(op.TOTPSecret, now)
	ses, err := s.VerifyTOTP(ctx, login(), code, "127.0.0.1", "")
	if err != nil {
		t.Fatalf("first use of code: %v", err)
	}
	if _, err := s.VerifyTOTP(ctx, login(), code, "127.0.0.1", ""); !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("replayed code = %v, want ErrBadCredentials", err)
	}
	old, _ := totp.GenerateCode(op.TOTPSecret, now.Add(-90*time.Second))
	if _, err := s.VerifyTOTP(ctx, login(), old, "127.0.0.1", ""); !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("code 3 steps old = %v, want ErrBadCredentials", err)
	}
	a, err := s.Authenticate(ctx, ses.Token, "127.0.0.1", "")
	if err != nil || a.ID != op.Operator.ID || a.Role != "caseworker" || a.Unit != "ac-versailles" {
		t.Fatalf("Authenticate = %+v, %v", a, err)
	}
	now = now.Add(11 * time.Minute) // past the idle limit
	if _, err := s.Authenticate(ctx, ses.Token, "127.0.0.1", ""); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("idle session = %v, want ErrUnauthenticated", err)
	}
}

func TestLoginDoesNotTellWhichPartIsWrong(t *testing.T) {
	now := time.Now()
	s := newService(t, &now)
	if _, err := s.AddReadyOperator(ctx, "marie", "pw-marie-123", "caseworker", "u"); err != nil {
		t.Fatal(err)
	}
	_, _, e1 := s.Login(ctx, "marie", "wrong", "")
	_, _, e2 := s.Login(ctx, "nobody", "wrong", "")
	if !errors.Is(e1, auth.ErrBadCredentials) || e1.Error() != e2.Error() {
		t.Fatalf("wrong password %v vs unknown user %v: want the same error", e1, e2)
	}
}

func TestSecondFactorAttemptsBounded(t *testing.T) {
	now := time.Date(2026, 11, 23, 9, 0, 10, 0, time.UTC)
	s := newService(t, &now)
	op, _ := s.AddReadyOperator(ctx, "marie", "pw-marie-123", "caseworker", "u")
	lt, _, _ := s.Login(ctx, "marie", "pw-marie-123", "")
	for range 5 {
		s.VerifyTOTP(ctx, lt, "000000", "", "")
	}
	code, _ := totp.GenerateCode(op.TOTPSecret, now)
	if _, err := s.VerifyTOTP(ctx, lt, code, "", ""); !errors.Is(err, auth.ErrTooManyAttempts) {
		t.Fatalf("right code after 5 wrong ones = %v, want ErrTooManyAttempts", err)
	}
}
