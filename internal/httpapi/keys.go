package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/rotate"
	"github.com/coffre/coffre/internal/store"
)

// Keys is the root key rotation of a server (a *rotate.Rotator).
type Keys interface {
	Rotate(ctx context.Context, run rotate.TxFunc) (uint32, error)
	Status(ctx context.Context) (*rotate.Status, error)
}

// rotateKeys serves POST /v1/sys/keys/rotate {"reason"}: a new root key
// version, added in the act's audited transaction; the rewrap pass
// follows in the background.
func (s *Server) rotateKeys(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	reason, ok := s.reason(w, r, &a)
	if !ok {
		return
	}
	if s.Keys == nil {
		writeError(w, http.StatusConflict, "not_rotatable", "this server does not rotate its root key", "rotate on a server started by coffre serve")
		return
	}
	v, err := s.Keys.Rotate(r.Context(), func(ctx context.Context, fn func(context.Context, rotate.Keys) error) error {
		return s.Auth.Administer(ctx, a, "keys.rotate", reason, func(ctx context.Context, tx store.Tx) error { return fn(ctx, tx) })
	})
	switch {
	case errors.Is(err, rotate.ErrInProgress):
		writeError(w, http.StatusConflict, "rotation_in_progress", "the previous rotation is still rewrapping keys", "wait for it: GET /v1/sys/keys (coffre keys status) shows its progress")
		return
	case err != nil:
		s.fail(w, r, &a, err)
		return
	}
	s.Logger.InfoContext(r.Context(), "root key rotated", "operator", a.ID, "version", v)
	writeJSON(w, http.StatusOK, map[string]any{"version": v, "active_in_seconds": rotate.DefaultActivation.Seconds()})
}

// keyStatus serves GET /v1/sys/keys: the root key versions, the keys
// under each, and the rewrap pass. It shows no key material and no
// subject; it is audited as an administrative read.
func (s *Server) keyStatus(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	if s.Keys == nil {
		writeError(w, http.StatusConflict, "not_rotatable", "this server does not rotate its root key", "ask a server started by coffre serve")
		return
	}
	// The count scans every wrapped key: outside the write, whose entry
	// must still be written before the answer leaves.
	st, err := s.Keys.Status(r.Context())
	if err == nil {
		err = s.Auth.Administer(r.Context(), a, "keys.status", "", func(context.Context, store.Tx) error { return nil })
	}
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}
