// Package contain is breach containment from an incident: each act — seal,
// revoke the sessions of the scope or of everyone, lock or disable the
// operators of the scope or make them enrol their second factors again,
// revoke the credentials of its partners, rotate the root key — runs through the service that owns it (its own
// permission, guard and audit entry), then goes on the incident's timeline
// with who ran it. The API (POST /v1/incidents/{id}/contain) and the
// command line (coffre incident contain) share it.
package contain

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/incident"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/public"
	"github.com/coffre/coffre/internal/rotate"
	"github.com/coffre/coffre/internal/seal"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/vault"
)

// Acts of containment.
const (
	Seal           = "seal"            // the keys leave memory: no data leaves
	Revoke         = "revoke"          // end the sessions of the scope's accounts (or everyone's)
	Lock           = "lock"            // lock the scope's operators (a security officer unlocks)
	Disable        = "disable"         // disable the scope's operators (no login)
	Reenrol        = "reenrol"         // the scope's operators' second factors erased: they enrol again
	RevokePartners = "revoke-partners" // the scope's partners' key and certificate stop working
	RotateRootKey  = "rotate-root-key" // a new root key version (the host is suspect)
)

// Acts lists the acts.
var Acts = []string{Seal, Revoke, Lock, Disable, Reenrol, RevokePartners, RotateRootKey}

// ErrNotHere is the error of an act this server cannot do (a development
// key file cannot be sealed; no rotator).
var ErrNotHere = errors.New("not possible on this server")

// Keys rotates the root key (a *rotate.Rotator).
type Keys interface {
	Rotate(ctx context.Context, run rotate.TxFunc) (uint32, error)
}

// Containment runs the acts.
type Containment struct {
	Vault *vault.Vault
	Auth  *auth.Service
	// Seal drops the keys once the seal is audited (nil: this server has
	// no sealed keyring to return to).
	Seal func(context.Context) error
	// Keys rotates the root key (nil: not here).
	Keys Keys
}

// Result is what an act did.
type Result struct {
	Act      string   `json:"act"`
	Accounts []string `json:"accounts,omitempty"` // the accounts it touched
	Sessions int      `json:"sessions,omitempty"` // sessions ended
	Version  uint32   `json:"root_key_version,omitempty"`
	Detail   string   `json:"detail"`
	// Incident is the incident after the act, with its timeline entry.
	Incident *incident.Incident `json:"incident"`
}

// Do runs act for incident id, by a: everyone (for Revoke) ends every
// session but a's own instead of the scope's. Each account's act is its
// own transaction: an act stopped half way (a refusal) says what it did
// before, and is on the timeline as far as it went.
func (c *Containment) Do(ctx context.Context, a identity.Actor, id, act string, everyone bool) (*Result, error) {
	if !slices.Contains(Acts, act) {
		return nil, public.Errorf(access.ErrInvalid, "invalid input: unknown act %q", act).WithHint("one of " + strings.Join(Acts, ", "))
	}
	if everyone && act != Revoke {
		return nil, public.Errorf(access.ErrInvalid, "invalid input: everyone goes with revoke only")
	}
	view, err := c.Vault.Incident(ctx, a, id)
	if err != nil {
		return nil, err
	}
	sc := view.Incident.Scope
	if view.Incident.Status == incident.Closed {
		return nil, public.Errorf(store.ErrConflict, "conflict: the incident is closed")
	}
	reason := "incident " + id
	r := &Result{Act: act}
	var actErr error
	switch act {
	case Seal:
		// On the timeline before the keys leave: a sealed server may
		// write no more.
		if c.Seal == nil {
			return nil, public.Errorf(ErrNotHere, "this server is not sealed by an account: it runs on a development key file, or M share holders seal it (seal.by: quorum)").
				WithHint("under a quorum, M holders each run coffre seal --share-file FILE --reason TEXT; on a key file, stop the process")
		}
		if err := c.Vault.Seal(ctx, a, reason); err != nil {
			return nil, err
		}
		r.Detail = "sealed: the keys leave memory, no data leaves"
		inc, recErr := c.Vault.RecordContainment(ctx, a, id, act, r.Detail)
		if err := c.Seal(context.WithoutCancel(ctx)); err != nil && !errors.Is(err, seal.ErrSealed) {
			return nil, err
		}
		if recErr != nil {
			return nil, recErr
		}
		r.Incident = inc
		return r, nil
	case Revoke:
		if everyone {
			if err := c.authorize(ctx, a, "session.revoke_all"); err != nil {
				return nil, err
			}
			r.Sessions, actErr = c.Auth.RevokeEveryone(ctx, a, reason)
			r.Detail = fmt.Sprintf("every session ended but the officer's: %d", r.Sessions)
			break
		}
		if err := c.authorize(ctx, a, "session.revoke_operator"); err != nil {
			return nil, err
		}
		for _, acc := range append(slices.Clone(sc.Operators), sc.Partners...) {
			var n int
			if n, actErr = c.Auth.RevokeOperator(ctx, a, acc, reason); actErr != nil {
				break
			}
			r.Sessions += n
			r.Accounts = append(r.Accounts, acc)
		}
		r.Detail = fmt.Sprintf("sessions ended: %d, of %s", r.Sessions, list(r.Accounts))
	case Lock, Disable:
		do := auth.Lock
		if act == Disable {
			do = auth.Disable
		}
		for _, op := range sc.Operators {
			if _, err := c.Auth.Lifecycle(ctx, a, c.Vault.Policy(), do, op, reason); err != nil && !errors.Is(err, store.ErrConflict) {
				actErr = err // already locked or disabled: not an error here
				break
			}
			r.Accounts = append(r.Accounts, op)
		}
		r.Detail = fmt.Sprintf("%sed: %s", strings.TrimSuffix(act, "e"), list(r.Accounts))
	case Reenrol:
		if err := c.authorize(ctx, a, "operator.reenrol"); err != nil {
			return nil, err
		}
		for _, op := range sc.Operators {
			if actErr = c.Auth.ForceReenrol(ctx, a, op, reason); actErr != nil {
				break
			}
			r.Accounts = append(r.Accounts, op)
		}
		r.Detail = fmt.Sprintf("second factors erased, to enrol again: %s (hand each holder a new code on the host: coffre operator enrol-code)", list(r.Accounts))
	case RevokePartners:
		if err := c.authorize(ctx, a, "partner.revoke"); err != nil {
			return nil, err
		}
		for _, p := range sc.Partners {
			if actErr = c.Auth.RevokePartnerCredentials(ctx, a, p, reason); actErr != nil {
				break
			}
			r.Accounts = append(r.Accounts, p)
		}
		r.Detail = fmt.Sprintf("credentials revoked: %s (issue new ones on the host: coffre partner rotate)", list(r.Accounts))
	case RotateRootKey:
		if c.Keys == nil {
			return nil, public.Errorf(ErrNotHere, "this server does not rotate its root key").WithHint("rotate on a server started by coffre serve")
		}
		r.Version, actErr = c.Keys.Rotate(ctx, func(ctx context.Context, fn func(context.Context, rotate.Keys) error) error {
			return c.Auth.Administer(ctx, a, "keys.rotate", reason, func(ctx context.Context, tx store.Tx) error { return fn(ctx, tx) })
		})
		r.Detail = fmt.Sprintf("root key version %d added; keys are rewrapped under it in the background", r.Version)
	}
	if actErr != nil && r.Sessions == 0 && len(r.Accounts) == 0 {
		return nil, actErr
	}
	if actErr != nil {
		r.Detail += " (stopped by an error: see the audit log)"
	}
	inc, err := c.Vault.RecordContainment(ctx, a, id, act, r.Detail)
	if err != nil {
		return nil, err
	}
	r.Incident = inc
	if actErr != nil {
		return r, actErr
	}
	return r, nil
}

// authorize refuses a without the security permission (audited as
// action); the host's command line holds it.
func (c *Containment) authorize(ctx context.Context, a identity.Actor, action string) error {
	if vault.Host(a) {
		return nil
	}
	return c.Vault.Authorize(ctx, a, policy.PermSecurity, action)
}

func list(ids []string) string {
	if len(ids) == 0 {
		return "none"
	}
	return strings.Join(ids, ",")
}
