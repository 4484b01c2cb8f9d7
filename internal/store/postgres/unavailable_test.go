package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/store"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestUnavailableClasses(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"disk full", &pgconn.PgError{Code: "53100", Message: "could not extend file"}, true},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"cannot connect now", &pgconn.PgError{Code: "57P03"}, true},
		{"I/O error", &pgconn.PgError{Code: "58030"}, true},
		{"statement timeout", &pgconn.PgError{Code: "57014", Message: "canceling statement due to statement timeout"}, true},
		{"lock timeout", &pgconn.PgError{Code: "55P03", Message: "canceling statement due to lock timeout"}, true},
		{"unique violation", &pgconn.PgError{Code: "23505", Detail: "Key (value)=(x) already exists"}, false},
		{"serialization failure", &pgconn.PgError{Code: "40001"}, false},
		{"lost connection", fmt.Errorf("get session: %w", io.ErrUnexpectedEOF), true},
		{"refused", fmt.Errorf("begin: %w", syscall.ECONNREFUSED), true},
		{"closed", ErrClosed, true},
		{"conn closed", pgconn.ErrConnClosed, true},
		{"no rows", pgx.ErrNoRows, false},
		{"not found", fmt.Errorf("get subject: %w", store.ErrNotFound), false},
		{"canceled", context.Canceled, false},
	} {
		err := unavailable(c.err)
		if got := errors.Is(err, store.ErrUnavailable); got != c.want {
			t.Errorf("%s: unavailable(%v) is ErrUnavailable = %v, want %v", c.name, c.err, got, c.want)
		}
		if !errors.Is(err, c.err) {
			t.Errorf("%s: the cause is lost: %v", c.name, err)
		}
	}
	if unavailable(nil) != nil {
		t.Error("unavailable(nil) != nil")
	}
}

// TestUnreachableServer: a store whose server went away answers
// ErrUnavailable, on View and Update, quickly.
func TestUnreachableServer(t *testing.T) {
	s := openTest(t)
	// Close the pool under the store: every call now fails to connect.
	s.pool.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.View(ctx, func(ctx context.Context, tx store.Tx) error { _, err := tx.GetSession(ctx, []byte("x")); return err })
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("View on a closed pool = %v, want ErrUnavailable", err)
	}
	err = s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return nil })
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Update on a closed pool = %v, want ErrUnavailable", err)
	}
}
