package sqlite

import (
	"database/sql"
	"errors"
	"fmt"

	"modernc.org/sqlite"

	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/group"
)

// Primary result codes (https://sqlite.org/rescode.html) that say the
// database cannot be used now, rather than that a statement was wrong.
const (
	codeBusy     = 5 // the write lock was not had within busy_timeout
	codeNoMem    = 7
	codeReadOnly = 8 // the file or its directory became read-only
	codeIOErr    = 10
	codeFull     = 13 // the disk (or quota) is full
	codeCantOpen = 14
	codeProtocol = 15
)

// unavailable wraps err with store.ErrUnavailable when it says the store
// cannot be reached or written (I/O error, full disk, closed store) and
// returns it as it is otherwise. The cause stays in the chain.
func unavailable(err error) error {
	if err == nil || errors.Is(err, store.ErrUnavailable) {
		return err
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case codeBusy, codeNoMem, codeReadOnly, codeIOErr, codeFull, codeCantOpen, codeProtocol:
			return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
		}
		return err
	}
	if errors.Is(err, group.ErrClosed) || errors.Is(err, sql.ErrConnDone) {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}
