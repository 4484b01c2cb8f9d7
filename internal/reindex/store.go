package reindex

import (
	"context"
	"time"

	"github.com/coffre/coffre/internal/subject"
)

// Generation states, in the order a generation goes through them.
const (
	// StateBuilding: the pass is filling it; writes keep it up, lookups
	// do not use it.
	StateBuilding = "building"
	// StateActive: lookups use it. One generation at a time.
	StateActive = "active"
	// StateRetiring: replaced by a newer one; writes keep it up for an
	// activation delay (nodes that have not switched still look it up),
	// then its entries are deleted.
	StateRetiring = "retiring"
	// StateRetired: its entries are gone, and its key (for a generation
	// made by a rebuild) destroyed.
	StateRetired = "retired"
)

// Gen is a blind-index generation as the store keeps it. Generation 1,
// the key derived from the first root key version, has a row only once
// a rebuild has begun, to record its retirement.
type Gen struct {
	Gen uint32
	// Sealed is the generation's 32-byte key sealed under the versions
	// key (nonce ‖ ciphertext ‖ tag); nil for generation 1 and once
	// retired (the key is destroyed).
	Sealed []byte
	State  string
	// Created is when the rebuild began; the pass starts an activation
	// delay later, when every node writes the generation.
	Created time.Time
	// Changed is when State last changed: for a retiring generation, the
	// switch.
	Changed time.Time
	// Cursor is the pass's progress: the seq of the last subject whose
	// entries it added (or found there already).
	Cursor int64
	// Added counts the entries the pass added.
	Added int64
	// Done is when the pass reached the last subject; zero while it runs.
	Done time.Time
}

// Index is what a rebuild of the blind index needs of a store. Entries
// of every generation live in the one lookup table, a column naming the
// generation; hashes under different keys do not meet.
type Index interface {
	// BlindKeys returns the generations the store records, oldest first.
	BlindKeys(ctx context.Context) ([]Gen, error)
	// PutBlindKey inserts g, or replaces the row of its generation.
	PutBlindKey(ctx context.Context, g Gen) error
	// LiveSubjects returns up to limit subjects with a seq above after,
	// by seq, with their keys, fields, creation time and canary flag;
	// erased subjects are skipped.
	LiveSubjects(ctx context.Context, after int64, limit int) ([]*subject.Row, error)
	// AddIndexes adds generation gen's entries hashes for the subject of
	// seq, skipping those already there, if the subject's fields are
	// still fields (a compare-and-swap: erased or changed since it was
	// read, it adds nothing and reports false). It locks the subject's
	// row until the transaction ends, so that a change cannot slip
	// between the check and the insert.
	AddIndexes(ctx context.Context, gen uint32, seq int64, fields []byte, hashes [][]byte) (added int64, ok bool, err error)
	// DropIndexes deletes up to limit entries of generation gen and
	// returns how many it deleted.
	DropIndexes(ctx context.Context, gen uint32, limit int) (int64, error)
	// IndexGens counts the entries by generation (a scan of the index).
	IndexGens(ctx context.Context) (map[uint32]int64, error)
}
