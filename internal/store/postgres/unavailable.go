package postgres

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"

	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/group"
)

// ErrTimeout is wrapped, with store.ErrUnavailable, by the error of a
// statement the server cancelled (Options.StatementTimeout, or an
// administrator's pg_cancel_backend) or of a lock wait it gave up
// (Options.LockTimeout): the database is too slow or too contended to
// answer now; nothing was changed.
var ErrTimeout = errors.New("statement or lock timeout")

// unavailable wraps err with store.ErrUnavailable when it says the server
// cannot be reached or cannot write (connection refused, lost or reset; a
// server shutting down or out of disk; the store closed) or did not
// answer in time (a statement or lock timeout, with ErrTimeout too), and
// returns it as it is otherwise. The cause stays in the chain.
func unavailable(err error) error {
	if err == nil || errors.Is(err, store.ErrUnavailable) {
		return err
	}
	if timedOut(err) {
		return fmt.Errorf("%w: %w: %w", store.ErrUnavailable, ErrTimeout, err)
	}
	if unreachable(err) {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

// timedOut reports the server's cancelling a statement (57014
// query_canceled: statement_timeout, or pg_cancel_backend) or giving up a
// lock wait (55P03 lock_not_available: lock_timeout; the store takes no
// lock with NOWAIT). A cancel of the caller's own context is not one:
// pgx reports it as the context's error, having cut the connection.
func timedOut(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "57014" || pe.Code == "55P03")
}

func unreachable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case len(pe.Code) < 2:
			return false
		case pe.Code[:2] == "08": // connection exception
			return true
		case pe.Code[:2] == "53": // insufficient resources: disk full, out of memory, too many connections
			return true
		case pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03": // admin or crash shutdown, cannot connect now
			return true
		case pe.Code[:2] == "58": // system error: I/O
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, group.ErrClosed) || errors.Is(err, puddle.ErrClosedPool) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		pgconn.Timeout(err) || pgconn.SafeToRetry(err)
}
