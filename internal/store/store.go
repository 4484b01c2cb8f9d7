// Package store declares what a store offers Coffre: transactions
// ([Store]) over [Tx], the union of the narrow interfaces that each
// consumer declares in its own package (records in package subject,
// accounts in identity, the audit log, its subject index, its epochs and its stream cursors in audit, the guard's memory in
// guard, queued messages and their delivery in outbox, the seal flag in seal, root key versions
// and wrapped keys in rotate, blind-index generations in reindex, consent requests in consent,
// pending contact changes in contact, the persons' requests and the limits on their records in
// rights, persons' one-time codes and sessions in subjectauth, incidents
// and their timelines in incident, legal holds in hold, statistics' cell counters and
// privacy budgets in stats). Helpers take the narrow interface they
// use; only the stores implement all of Tx.
//
// Implementations: package store/sqlite (embedded default) and
// store/postgres; the conformance suite in package store/storetest states
// the contract both pass. A new capability adds a small interface in its
// own package and embeds it in Tx, instead of widening an existing one.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/consent"
	"github.com/coffre/coffre/internal/contact"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/hold"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/incident"
	"github.com/coffre/coffre/internal/outbox"
	"github.com/coffre/coffre/internal/reindex"
	"github.com/coffre/coffre/internal/rights"
	"github.com/coffre/coffre/internal/rotate"
	"github.com/coffre/coffre/internal/seal"
	"github.com/coffre/coffre/internal/stats"
	"github.com/coffre/coffre/internal/subject"
	"github.com/coffre/coffre/internal/subjectauth"
)

// Errors a store returns; callers branch on them with errors.Is.
var (
	// ErrNotFound: no such subject, operator, session or index entry.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique value (blind index, username, id) exists.
	ErrConflict = errors.New("conflict")
	// ErrUnavailable: the store cannot be reached or written (connection
	// refused or lost, an I/O error, a full disk, the store closed), so
	// nothing was returned or changed; the same request may work later.
	// Stores wrap such errors with it (the cause stays in the chain, for
	// the log); the vault also returns it for any audit entry it cannot
	// write, as a read without its entry is refused. The API answers 503.
	ErrUnavailable = errors.New("store unavailable")
	// ErrPanic: the function given to Update or View panicked. The store
	// recovered: it rolled back that function's writes alone (the others
	// of its group commit), logged the panic's type and stack, and keeps
	// serving. The caller answers an internal error; the function is not
	// run again.
	ErrPanic = errors.New("transaction function panicked")
)

// Store runs transactions.
type Store interface {
	// Update runs fn in a read-write transaction and returns once the
	// transaction is durable, or fn's error. A store may commit several
	// Update calls in one transaction (group commit); each fn is still
	// atomic: when it returns an error, none of its writes survive, and the
	// others in the group are unaffected. fn may be run more than once
	// (a store retries a group in which a function failed); only the run
	// whose transaction commits counts, so fn must set its results afresh
	// on each run. Should fn panic, Update returns an error wrapping
	// ErrPanic, and the group's other functions are unaffected.
	Update(ctx context.Context, fn func(context.Context, Tx) error) error
	// View runs fn read-only. Each read sees committed data; a View of
	// several reads is not guaranteed one snapshot. Should fn panic, View
	// returns an error wrapping ErrPanic.
	View(ctx context.Context, fn func(context.Context, Tx) error) error
	// NewSubjectIDs returns n ids for subjects about to be made, in
	// creation order (see package subjectid). An id is never handed out
	// twice, even to another process on the same database; one never
	// written is a gap. It may write (a reservation), so it is called
	// before Update, never inside one.
	NewSubjectIDs(ctx context.Context, n int) ([]string, error)
	Close() error
}

// PoolStats is a store's pool of connections for reads (SQLite) or for
// every transaction (PostgreSQL), as its metrics show it.
type PoolStats struct {
	// Max is the pool's size; InUse and Idle its open connections.
	Max, InUse, Idle int
	// Waits counts the acquisitions that found no idle connection and
	// waited; Waited is their total wait.
	Waits  int64
	Waited time.Duration
}

// Tx is what a transaction offers: every narrow interface, embedded.
// Methods report ErrNotFound and ErrConflict wrapped.
type Tx interface {
	subject.Rows
	subject.Indexes
	subject.Census
	subject.Keyless
	audit.Log
	audit.Checkpoints
	audit.SubjectIndex
	audit.Epochs
	audit.Streams
	identity.Operators
	identity.Sessions
	identity.Factors
	identity.Throttles
	identity.Partners
	identity.Lifecycle
	identity.Enrolments
	guard.Store
	outbox.Queue
	outbox.Delivery
	seal.Flag
	rotate.Keys
	reindex.Index
	consent.Requests
	contact.Changes
	rights.Store
	subjectauth.Store
	incident.Store
	hold.Store
	stats.Counters
	stats.Budgets
}

// aloneKey marks a context for Alone.
type aloneKey struct{}

// Alone returns ctx marked for Update: a store whose transactions wait
// on row locks (PostgreSQL) runs the function in a transaction of its
// own instead of a group's. For a function that takes a store-wide lock
// (the audit integrator's checkpoint lock): in a group beside accesses
// that lock their operators' guard rows, two nodes' groups could take the
// two in opposite orders and deadlock. SQLite, one writer and no lock to
// wait on, may group it.
func Alone(ctx context.Context) context.Context { return context.WithValue(ctx, aloneKey{}, true) }

// IsAlone reports whether ctx was marked by Alone.
func IsAlone(ctx context.Context) bool {
	alone, _ := ctx.Value(aloneKey{}).(bool)
	return alone
}
