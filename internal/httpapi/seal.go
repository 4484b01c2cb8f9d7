package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coffre/coffre/internal/event"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/seal"
	"github.com/coffre/coffre/internal/unseal"
)

const sealedHint = "unseal it: `coffre unseal --share-file FILE` by M share holders, or POST /v1/sys/unseal {\"share\": \"…\"}"

// writeSealed answers 503 sealed.
func writeSealed(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "10")
	writeError(w, http.StatusServiceUnavailable, "sealed", "the vault is sealed: no data is served", sealedHint)
}

// Gate serves a server that starts sealed: /healthz, /readyz (503 sealed
// while sealed), GET /v1/sys/seal-status and POST /v1/sys/unseal always,
// everything else through the unsealed service of State, or 503 sealed.
type Gate struct {
	State  *seal.State
	Logger *slog.Logger
	// TrustedProxies may name the client in X-Forwarded-For (for the
	// unseal throttle).
	TrustedProxies []netip.Prefix
	// PerOrigin is how many unseal calls one address may make a minute
	// (default 10), as the login throttle counts logins.
	PerOrigin int
	// Now tells the time (default time.Now).
	Now func() time.Time
	// Quorum (seal.by: quorum) serves POST /v1/sys/seal-share: M share
	// holders seal, each with a share and the same reason.
	Quorum bool

	mu    sync.Mutex
	calls map[string][]time.Time
}

// maxThrottled bounds the throttle's memory: past that many addresses,
// the oldest window is forgotten wholesale.
const maxThrottled = 10000

// allow counts a call from origin and reports whether it is within
// PerOrigin a minute, and if not when to retry.
func (g *Gate) allow(origin string) (bool, time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.Now()
	if g.calls == nil || len(g.calls) > maxThrottled {
		g.calls = map[string][]time.Time{}
	}
	recent := g.calls[origin][:0]
	for _, t := range g.calls[origin] {
		if now.Sub(t) < time.Minute {
			recent = append(recent, t)
		}
	}
	if len(recent) >= g.PerOrigin {
		g.calls[origin] = recent
		return false, time.Minute - now.Sub(recent[0])
	}
	g.calls[origin] = append(recent, now)
	return true, 0
}

// Handler returns the gated API.
func (g *Gate) Handler() http.Handler {
	if g.Logger == nil {
		g.Logger = slog.Default()
	}
	if g.PerOrigin <= 0 {
		g.PerOrigin = 10
	}
	if g.Now == nil {
		g.Now = time.Now
	}
	srv := &Server{TrustedProxies: g.TrustedProxies, Logger: g.Logger, MaxBodyBytes: 4 << 10}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /v1/sys/seal-status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, sealStatusAnswer(g.State.Status()))
	})
	mux.HandleFunc("POST /v1/sys/unseal", func(w http.ResponseWriter, r *http.Request) {
		if ok, wait := g.allow(srv.origin(r)); !ok {
			secs := int(wait.Seconds()) + 1
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			writeError(w, http.StatusTooManyRequests, "too_many_unseals", "too many unseal calls from this address", "retry in "+strconv.Itoa(secs)+" s")
			return
		}
		var req unsealRequest
		if err := srv.decode(w, r, &req); err != nil {
			srv.failPublic(w, r, err)
			return
		}
		if req.Reset {
			g.State.Reset()
			writeJSON(w, http.StatusOK, sealStatusAnswer(g.State.Status()))
			return
		}
		st, err := g.State.Unseal(r.Context(), req.Share)
		if err != nil {
			g.unsealFailed(w, r, err)
			return
		}
		if !st.Sealed {
			g.Logger.InfoContext(r.Context(), "unsealed", "set", st.Set)
		}
		writeJSON(w, http.StatusOK, sealStatusAnswer(st))
	})
	if g.Quorum {
		mux.HandleFunc("POST /v1/sys/seal-share", func(w http.ResponseWriter, r *http.Request) {
			if ok, wait := g.allow(srv.origin(r)); !ok {
				secs := int(wait.Seconds()) + 1
				w.Header().Set("Retry-After", strconv.Itoa(secs))
				writeError(w, http.StatusTooManyRequests, "too_many_unseals", "too many share calls from this address", "retry in "+strconv.Itoa(secs)+" s")
				return
			}
			var req sealShareRequest
			if err := srv.decode(w, r, &req); err != nil {
				srv.failPublic(w, r, err)
				return
			}
			if strings.TrimSpace(req.Reason) == "" || len(req.Reason) > 200 || !printable(req.Reason) {
				srv.failPublic(w, r, badRequest("a printable reason of at most 200 bytes required: the seal is audited with it"))
				return
			}
			origin := srv.origin(r)
			p, sealed, err := g.State.SealShare(r.Context(), req.Share, func(ctx context.Context, svc seal.Service) error {
				q, ok := svc.(QuorumSealer)
				if !ok {
					return errors.New("the service cannot audit a quorum seal")
				}
				return q.AuditQuorumSeal(ctx, g.State.Status().Set, req.Reason, origin)
			})
			switch {
			case errors.Is(err, seal.ErrSealed):
				writeSealed(w)
				return
			case err != nil:
				g.unsealFailed(w, r, err)
				return
			}
			if sealed {
				g.Logger.WarnContext(r.Context(), "sealed by a quorum of share holders", "event", event.Seal, "set", g.State.Status().Set)
			}
			writeJSON(w, http.StatusOK, sealShareAnswer{Progress: p.Have, Sealed: sealed, Threshold: p.Need})
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if g.Quorum && r.URL.Path == "/v1/sys/seal" {
			writeError(w, http.StatusForbidden, "seal_by_quorum", "this deployment is sealed by a quorum of share holders, not by an account", "M holders each run coffre seal --share-file FILE --reason TEXT (POST /v1/sys/seal-share)")
			return
		}
		if !g.State.Serve(func(svc seal.Service) { svc.ServeHTTP(w, r) }) {
			writeSealed(w)
		}
	})
	return mux
}

// GateService gates h, a listener of service svc other than the API (the
// partner listener), as [Gate.Handler] gates the API: a request that
// starts once svc is sealed, or replaced by a later unseal, answers 503
// sealed, and the seal's close of svc waits for the requests in h. svc is
// the value the state's OpenFunc returned, a pointer: one per unseal.
//
// A listener that svc closes itself is not enough: the close waits for
// the API's requests in flight (a slow one holds it), and until then the
// listener would serve data after the seal has answered.
func GateService(st *seal.State, svc seal.Service, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !st.Serve(func(cur seal.Service) {
			if cur != svc {
				writeSealed(w)
				return
			}
			h.ServeHTTP(w, r)
		}) {
			writeSealed(w)
		}
	})
}

// QuorumSealer is an unsealed service that audits a seal by a quorum of
// share holders (and marks the deployment sealed) before the keys drop.
type QuorumSealer interface {
	AuditQuorumSeal(ctx context.Context, set, reason, origin string) error
}

// sealStatusAnswer is the answer of GET /v1/sys/seal-status and POST /v1/sys/unseal.
type sealStatusAnswer seal.Status

// sealShareAnswer is the answer of POST /v1/sys/seal-share: the quorum's progress.
type sealShareAnswer struct {
	Progress  int  `json:"progress"`
	Sealed    bool `json:"sealed"`
	Threshold int  `json:"threshold"`
}

type sealShareRequest struct {
	Share  string `json:"share"`
	Reason string `json:"reason"`
}

// unsealRequest is the body of POST /v1/sys/unseal: a share, or a reset.
type unsealRequest struct {
	Share string `json:"share,omitempty"`
	Reset bool   `json:"reset,omitempty"`
}

// unsealFailed answers a refused share: what was wrong with it, never
// which part of it or which share among those entered.
func (g *Gate) unsealFailed(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, seal.ErrUnsealed):
		writeError(w, http.StatusConflict, "already_unsealed", "the vault is already unsealed; the share was not used", "nothing to do; GET /v1/sys/seal-status shows the state")
	case errors.Is(err, unseal.ErrMalformed), errors.Is(err, unseal.ErrOtherSet), errors.Is(err, unseal.ErrDuplicate), errors.Is(err, unseal.ErrWrongShares):
		writeError(w, http.StatusBadRequest, "invalid_share", err.Error(), "check the share with its holder; GET /v1/sys/seal-status shows the progress")
	case errors.Is(err, seal.ErrWrongKey):
		writeError(w, http.StatusBadRequest, "invalid_share", "the shares entered rebuild a key that does not open this server's keyring; all were dropped", "enter shares of this server's set (GET /v1/sys/seal-status)")
	default:
		g.Logger.ErrorContext(r.Context(), "unseal failed", "event", event.UnsealFailed, "error", err)
		writeError(w, http.StatusServiceUnavailable, "unseal_failed", "the shares opened the keyring but the vault could not start; it stays sealed", "operators: see the server log, then enter the shares again")
	}
}

// failPublic answers a malformed request outside a session.
func (s *Server) failPublic(w http.ResponseWriter, r *http.Request, err error) {
	s.fail(w, r, nil, err)
}

// sealStatus serves GET /v1/sys/seal-status on a server without a gate
// (--dev): never sealed.
func (s *Server) sealStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, sealStatusAnswer{})
}

// unsealUnsealed serves POST /v1/sys/unseal on a server that is unsealed
// (behind a gate the gate answers it).
func (s *Server) unsealUnsealed(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusConflict, "already_unsealed", "the vault is already unsealed; the share was not used", "nothing to do; GET /v1/sys/seal-status shows the state")
}

// sealShareUnquorate serves POST /v1/sys/seal-share on a server that no
// quorum seals (where seal.by is quorum, the gate answers it).
func (s *Server) sealShareUnquorate(w http.ResponseWriter, r *http.Request) {
	if s.Seal == nil {
		writeError(w, http.StatusConflict, "not_sealable", "this server has no sealed keyring to return to (development key file)", "stop the process instead; production servers start from `coffre keys init`")
		return
	}
	writeError(w, http.StatusForbidden, "seal_by_officer", "this deployment is sealed by an officer, not by a quorum of share holders", "an operator with the seal permission seals it: coffre seal --reason TEXT (POST /v1/sys/seal)")
}

// sealAnswer is the answer of POST /v1/sys/seal: {"sealed": true}.
type sealAnswer struct {
	Sealed bool `json:"sealed"`
}

// sealVault serves POST /v1/sys/seal {"reason"}: the seal is audited and
// committed, then the keys drop (Server.Seal).
func (s *Server) sealVault(w http.ResponseWriter, r *http.Request, a identity.Actor) {
	reason, ok := s.reason(w, r, &a)
	if !ok {
		return
	}
	if s.Seal == nil {
		writeError(w, http.StatusConflict, "not_sealable", "this server has no sealed keyring to return to (development key file)", "stop the process instead; production servers start from `coffre keys init`")
		return
	}
	if err := s.Vault.Seal(r.Context(), a, reason); err != nil {
		s.fail(w, r, &a, err)
		return
	}
	if err := s.Seal(context.WithoutCancel(r.Context())); err != nil && !errors.Is(err, seal.ErrSealed) {
		s.fail(w, r, &a, err)
		return
	}
	s.Logger.WarnContext(r.Context(), "sealed", "event", event.Seal, "operator", a.ID)
	writeJSON(w, http.StatusOK, sealAnswer{Sealed: true})
}
