package rotate

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Version states in a [Status].
const (
	StateCurrent = "current" // wraps new keys
	StatePending = "pending" // added, wraps new keys after the activation delay
	StateInUse   = "in_use"  // older, keys still wrapped under it
	StateRetired = "retired" // nothing under it; its KEK is gone
)

// Status is what `coffre keys status` shows: every version, its state
// and how many keys are wrapped under it, and the rewrap pass.
type Status struct {
	Current  uint32          `json:"current"`
	Versions []VersionStatus `json:"versions"`
	// Rewrap is the pass of the newest version, when a rotation was made.
	Rewrap *Pass `json:"rewrap,omitempty"`
}

// VersionStatus is one version in a [Status].
type VersionStatus struct {
	Version uint32     `json:"version"`
	State   string     `json:"state"`
	Keys    int64      `json:"keys"`
	Created *time.Time `json:"created,omitempty"`
	Retired *time.Time `json:"retired,omitempty"`
}

// Pass is the rewrap pass's progress.
type Pass struct {
	Version uint32 `json:"version"`
	// Rewrapped counts keys the pass rewrapped; Remaining, keys still
	// wrapped under older versions.
	Rewrapped int64      `json:"rewrapped"`
	Remaining int64      `json:"remaining"`
	Done      *time.Time `json:"done,omitempty"`
}

// Status reads the versions and counts the keys under each: a scan of
// every wrapped key, for an operator's command, not a hot path.
func (r *Rotator) Status(ctx context.Context) (*Status, error) {
	var rows []Version
	var counts map[uint32]int64
	if err := r.View(ctx, func(ctx context.Context, tx Keys) (err error) {
		if rows, err = tx.RootKeys(ctx); err != nil {
			return err
		}
		counts, err = tx.KeyVersions(ctx)
		return err
	}); err != nil {
		return nil, fmt.Errorf("key status: %w", err)
	}
	st := &Status{Current: r.Ring.Current()}
	seen := map[uint32]bool{}
	for _, row := range rows {
		seen[row.Version] = true
		vs := VersionStatus{Version: row.Version, Keys: counts[row.Version], Created: when(row.Created), Retired: when(row.Retired)}
		switch {
		case !row.Retired.IsZero():
			vs.State = StateRetired
		case row.Version == st.Current:
			vs.State = StateCurrent
		case row.Version > st.Current:
			vs.State = StatePending
		default:
			vs.State = StateInUse
		}
		st.Versions = append(st.Versions, vs)
	}
	for _, v := range r.Ring.Versions() {
		if !seen[v] {
			state := StateInUse
			if v == st.Current {
				state = StateCurrent
			}
			st.Versions = append(st.Versions, VersionStatus{Version: v, State: state, Keys: counts[v]})
		}
	}
	slices.SortFunc(st.Versions, func(a, b VersionStatus) int { return int(a.Version) - int(b.Version) })
	// Rows exist once a rotation was made; the last is its version.
	if n := len(rows); n > 0 {
		last := rows[n-1]
		p := &Pass{Version: last.Version, Rewrapped: last.Rewrapped, Done: when(last.Done)}
		for v, c := range counts {
			if v != last.Version {
				p.Remaining += c
			}
		}
		st.Rewrap = p
	}
	return st, nil
}

func when(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}
