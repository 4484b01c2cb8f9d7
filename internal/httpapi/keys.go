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
// (rotate.Status, its fields in its order) and, beside them, the blind
// index generations. Its types are named apart: rotate's and reindex's
// Status and Pass would be one component each in the OpenAPI document.
type keysStatus struct {
	Current    uint32                 `json:"current"`
	Versions   []rotate.VersionStatus `json:"versions"`
	Rewrap     *rewrapPass            `json:"rewrap,omitempty"`
	BlindIndex *blindIndexStatus      `json:"blind_index,omitempty"`
}

// rewrapPass is the rewrap pass's progress (a rotate.Pass).
type rewrapPass rotate.Pass

// blindIndexStatus is the blind index generations (a reindex.Status).
type blindIndexStatus struct {
	Active      uint32              `json:"active"`
	Generations []reindex.GenStatus `json:"generations"`
	Rebuild     *rebuildPass        `json:"rebuild,omitempty"`
}

// rebuildPass is a blind index rebuild's progress (a reindex.Pass).
type rebuildPass reindex.Pass

// newKeysStatus is the answer of the statuses k and, when there is a
// blind index, ix.
func newKeysStatus(k *rotate.Status, ix *reindex.Status) keysStatus {
	st := keysStatus{Current: k.Current, Versions: k.Versions, Rewrap: (*rewrapPass)(k.Rewrap)}
	if st.Versions == nil {
		st.Versions = []rotate.VersionStatus{}
	}
	if ix != nil {
		st.BlindIndex = &blindIndexStatus{Active: ix.Active, Generations: ix.Generations, Rebuild: (*rebuildPass)(ix.Rebuild)}
		if st.BlindIndex.Generations == nil {
			st.BlindIndex.Generations = []reindex.GenStatus{}
		}
	}
	return st
}

// rotatedAnswer is the answer of POST /v1/sys/keys/rotate: the new version, active in that many seconds.
type rotatedAnswer struct {
	ActiveInSeconds float64 `json:"active_in_seconds"`
	Version         uint32  `json:"version"`
}

// reindexAnswer is the answer of POST /v1/sys/keys/reindex: the new generation, its pass due in that many seconds.
type reindexAnswer struct {
	Generation    uint32  `json:"generation"`
	PassInSeconds float64 `json:"pass_in_seconds"`
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
	writeJSON(w, http.StatusOK, rotatedAnswer{ActiveInSeconds: rotate.DefaultActivation.Seconds(), Version: v})
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
	var ix *reindex.Status
	k, err := s.Keys.Status(r.Context())
	if err == nil && s.Index != nil {
		ix, err = s.Index.Status(r.Context())
	}
	if err == nil {
		err = s.Auth.Administer(r.Context(), a, "keys.status", "", func(context.Context, store.Tx) error { return nil })
	}
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	writeJSON(w, http.StatusOK, newKeysStatus(k, ix))
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
	writeJSON(w, http.StatusOK, reindexAnswer{Generation: g, PassInSeconds: reindex.DefaultActivation.Seconds()})
}
