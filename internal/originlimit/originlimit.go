// Package originlimit records the refusals of a per-address limit (an
// operator's logins, a person's code requests) whose counts the store
// keeps for every node (identity.Throttles): each window's first refusal
// is audited once across the nodes, and a node that knows a window's first
// refusal is recorded refuses the rest with no write, so that a flood from
// one address grows neither the audit log nor the writer's work at its own
// rate.
package originlimit

import (
	"context"
	"sync"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/store"
)

// maxHeld bounds the windows a Refusals remembers; past it, it starts
// afresh (a refusal then costs one write again, never an audit entry).
const maxHeld = 10_000

// Refusals remembers, in this process, the windows whose first refusal
// is recorded. The zero value is ready; it is safe for concurrent use.
type Refusals struct {
	mu   sync.Mutex
	held map[string]time.Time // key → end of the window held
}

// Refuse records a refusal at now of key's window, which ends at until:
// the window's first, across the nodes, appends e in the transaction that
// marks the window held.
func (r *Refusals) Refuse(ctx context.Context, s store.Store, key string, until, now time.Time, e *audit.Entry) error {
	r.mu.Lock()
	known := r.held[key].Equal(until)
	r.mu.Unlock()
	if known {
		return nil
	}
	err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		first, err := tx.HoldOrigin(ctx, key, now)
		if err != nil || !first {
			return err
		}
		entry := *e // a rerun appends afresh
		return tx.AppendAudit(ctx, &entry)
	})
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.held == nil || len(r.held) >= maxHeld {
		r.held = map[string]time.Time{}
	}
	r.held[key] = until
	return nil
}
