package sqlite

import (
	"context"
	"sync/atomic"

	"github.com/coffre/coffre/internal/subject"
)

// changes lets an access read its subject's row on the read pool, beside
// the writer, and use it in its write transaction when the row has not
// changed since (subject.Stamped, subject.Fresh): the B-tree read of a
// random record then leaves the writer's one goroutine, which every
// access waits on.
//
// Stamps count the commits that changed a subject row. A read takes the
// stamp before it reads, so a row it read reflects at least every change
// of a commit numbered up to its stamp; the writer remembers, per row, the
// stamp of the last commit that changed it, and the rows the running group
// changed. A row read under stamp s is current when neither says it
// changed after s. The memory is bounded: past changesKept rows the older
// half is forgotten and stamps from before it are no longer trusted
// (floor): the access reads the row again inside its transaction, as
// before. Another process's commit (found by the writer's data-version
// check) makes every earlier stamp untrusted the same way.
//
// Only the writer goroutine touches the maps; readers load the published
// stamp alone.
type changes struct {
	published atomic.Uint64
	floor     uint64            // stamps below it are not trusted
	cur, old  map[string]uint64 // row id → stamp of its last change
	curFrom   uint64            // the first stamp cur may hold
	running   map[string]bool   // changed by the running group
	all       bool              // the running group changed rows it cannot name
	// identity: the running group wrote sessions or operators
	// (sessions.go).
	identity bool
}

// changesKept is how many changed rows the writer remembers before it
// forgets the older half.
const changesKept = 1 << 14

// stamp is the stamp a read outside the writer takes before it reads.
func (c *changes) stamp() uint64 { return c.published.Load() }

// changed records that the running group changed row id.
func (c *changes) changed(id string) {
	if c.running == nil {
		c.running = map[string]bool{}
	}
	c.running[id] = true
}

// changedAll records that the running group changed rows it cannot name.
func (c *changes) changedAll() { c.all = true }

// unchanged reports whether row id, read under stamp s, is still current
// in the running group.
func (c *changes) unchanged(id string, s uint64) bool {
	if s < c.floor || c.all || c.running[id] {
		return false
	}
	return c.cur[id] <= s && c.old[id] <= s
}

// committed publishes the running group's changes under a new stamp, once
// its COMMIT has returned, and reports whether the group wrote sessions
// or operators.
func (c *changes) committed() (identity bool) {
	identity, c.identity = c.identity || c.all, false
	if len(c.running) == 0 && !c.all {
		return identity
	}
	n := c.published.Load() + 1
	if c.all {
		c.floor, c.cur, c.old = n, nil, nil
	}
	if len(c.cur)+len(c.running) > changesKept/2 {
		// Forget the older half: a stamp from before the current half
		// began could miss a change forgotten now.
		c.floor, c.old, c.cur = c.curFrom, c.cur, nil
	}
	if c.cur == nil {
		c.cur, c.curFrom = make(map[string]uint64, len(c.running)), n
	}
	for id := range c.running {
		c.cur[id] = n
	}
	c.running, c.all = nil, false
	c.published.Store(n)
	return identity
}

// rolledBack forgets the running group's changes: none committed.
func (c *changes) rolledBack() { c.running, c.all, c.identity = nil, false, false }

// foreign makes every stamp taken so far untrusted: another process
// committed, and the writer cannot tell what it changed.
func (c *changes) foreign() {
	n := c.published.Load() + 1
	c.floor, c.cur, c.old = n, nil, nil
	c.published.Store(n)
}

var (
	_ subject.Stamped = (*tx)(nil)
	_ subject.Fresh   = (*tx)(nil)
)

// GetSubjectStamped reads a subject's row, and whether the person has
// limits on it, in one statement, with the stamp that [tx.Unchanged]
// checks them against later, in a write transaction.
func (t *tx) GetSubjectStamped(ctx context.Context, id string) (*subject.Row, bool, uint64, error) {
	s := t.changes.stamp()
	r, limited, err := t.getSubject(ctx, id, true)
	return r, limited, s, err
}

// Unchanged reports whether subject id's row, read under stamp s, is still
// current in this write transaction.
func (t *tx) Unchanged(id string, s uint64) bool {
	return t.cache != nil && t.changes.unchanged(id, s)
}

// subjectChanged records, in a write transaction, that row id changed.
func (t *tx) subjectChanged(id string) {
	if t.cache != nil {
		t.changes.changed(id)
	}
}
