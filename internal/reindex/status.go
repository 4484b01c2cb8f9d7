package reindex

import (
	"context"
	"fmt"
	"time"
)

// Status is the blind index part of `coffre keys status`: every
// generation, its state and entries, and the pass of the newest.
type Status struct {
	Active      uint32      `json:"active"`
	Generations []GenStatus `json:"generations"`
	// Rebuild is the pass of the newest generation, once a rebuild was
	// begun.
	Rebuild *Pass `json:"rebuild,omitempty"`
}

// GenStatus is one generation in a [Status].
type GenStatus struct {
	Gen     uint32     `json:"generation"`
	State   string     `json:"state"`
	Entries int64      `json:"entries"`
	Created *time.Time `json:"created,omitempty"`
	Changed *time.Time `json:"changed,omitempty"`
}

// Pass is a rebuild's progress.
type Pass struct {
	Gen uint32 `json:"generation"`
	// Added counts the entries the pass added (writes meanwhile add
	// others); Cursor is the seq of the last subject it covered.
	Added  int64      `json:"added"`
	Cursor int64      `json:"cursor"`
	Done   *time.Time `json:"done,omitempty"`
}

// Status reads the generations and counts the entries of each: a scan of
// the index, for an operator's command, not a hot path.
func (r *Rebuilder) Status(ctx context.Context) (*Status, error) {
	var rows []Gen
	var counts map[uint32]int64
	if err := r.View(ctx, func(ctx context.Context, tx Index) (err error) {
		if rows, err = tx.BlindKeys(ctx); err != nil {
			return err
		}
		counts, err = tx.IndexGens(ctx)
		return err
	}); err != nil {
		return nil, fmt.Errorf("blind index status: %w", err)
	}
	if len(rows) == 0 {
		return &Status{Active: 1, Generations: []GenStatus{{Gen: 1, State: StateActive, Entries: counts[1]}}}, nil
	}
	st := &Status{}
	for _, g := range rows {
		if g.State == StateActive {
			st.Active = g.Gen
		}
		st.Generations = append(st.Generations, GenStatus{Gen: g.Gen, State: g.State, Entries: counts[g.Gen], Created: when(g.Created), Changed: when(g.Changed)})
	}
	last := rows[len(rows)-1]
	st.Rebuild = &Pass{Gen: last.Gen, Added: last.Added, Cursor: last.Cursor, Done: when(last.Done)}
	return st, nil
}

func when(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}
