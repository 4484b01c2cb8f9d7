package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/reindex"
	"github.com/coffre/coffre/internal/rotate"
	"github.com/coffre/coffre/internal/store"
)

// Keys is the root key rotation of a server (a *rotate.Rotator).
type Keys interface {
	Rotate(ctx context.Context, run rotate.TxFunc) (uint32, error)
	Status(ctx context.Context) (*rotate.Status, error)
}

// Index is the blind index rebuild of a server (a *reindex.Rebuilder).
type Index interface {
	Rebuild(ctx context.Context, run reindex.TxFunc) (uint32, error)
	Status(ctx context.Context) (*reindex.Status, error)
}

// keysStatus is the answer of GET /v1/sys/keys: the root key versions
// and, beside them, the blind index generations.
type keysStatus struct {
	*rotate.Status
	BlindIndex *reindex.Status `json:"blind_index,omitempty"`
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
	// The counts scan every wrapped key and index entry: outside the
	// write, whose entry must still be written before the answer leaves.
	var st keysStatus
	var err error
	st.Status, err = s.Keys.Status(r.Context())
	if err == nil && s.Index != nil {
		st.BlindIndex, err = s.Index.Status(r.Context())
	}
	if err == nil {
		err = s.Auth.Administer(r.Context(), a, "keys.status", "", func(context.Context, store.Tx) error { return nil })
	}
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// reindexKeys serves POST /v1/sys/keys/reindex {"reason"}: a new blind
// index generation, begun in the act's audited transaction; the pass
// builds it in the background, and lookups switch to it when it is
// built.
func (s *Server) reindexKeys(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	reason, ok := s.reason(w, r, &a)
	if !ok {
		return
	}
	if s.Index == nil {
		writeError(w, http.StatusConflict, "not_rebuildable", "this server does not rebuild its blind index", "rebuild on a server started by coffre serve")
		return
	}
	g, err := s.Index.Rebuild(r.Context(), func(ctx context.Context, fn func(context.Context, reindex.Index) error) error {
		return s.Auth.Administer(ctx, a, "keys.reindex", reason, func(ctx context.Context, tx store.Tx) error { return fn(ctx, tx) })
	})
	switch {
	case errors.Is(err, reindex.ErrInProgress):
		writeError(w, http.StatusConflict, "reindex_in_progress", "the previous rebuild of the blind index is still under way", "wait for it: GET /v1/sys/keys (coffre keys status) shows its progress")
		return
	case err != nil:
		s.fail(w, r, &a, err)
		return
	}
	s.Logger.InfoContext(r.Context(), "blind index rebuild begun", "operator", a.ID, "generation", g)
	writeJSON(w, http.StatusOK, map[string]any{"generation": g, "pass_in_seconds": reindex.DefaultActivation.Seconds()})
}
