// Package subject declares how a subject's record is stored: [Row], the
// ciphertext and wrapped key of one person, and the storage interfaces the
// vault uses for rows and their blind index entries. It holds no logic;
// package vault seals and opens rows, the stores keep them.
package subject

import (
	"context"
	"time"
)

// Row is a subject as stored: ciphertext only.
type Row struct {
	ID         string
	Seq        int64 // creation order, set by the store
	Unit       string
	DEK        []byte // wrapped by the KEK; nil once erased
	DEKVersion uint32
	Fields     []byte // the sealed fields (package vault's encoding)
	Created    time.Time
	Updated    time.Time
	// Active is the day (midnight UTC) of the last read under a purpose
	// that counts as activity (config retention.activity); zero if none
	// since the record was made. See [Row.LastActivity].
	Active time.Time
	Erased bool
	Canary bool // a canary subject (see guard.Canaries)
}

// Gone reports whether the record can never be read again: erased, or
// left without its wrapped key (restored from a data backup by a key
// backup made after the key was destroyed: shredded, though not yet
// marked erased). Either way it is no longer there for anyone.
func (r *Row) Gone() bool { return r.Erased || len(r.DEK) == 0 }

// Touch is a read of subject ID that counts as activity, on Day
// (Rows.TouchSubjects).
type Touch struct {
	ID  string
	Day time.Time
}

// LastActivity is the event last_activity of retention rules: the last
// update, or the last read that counts as activity, whichever is later.
func (r *Row) LastActivity() time.Time {
	if r.Active.After(r.Updated) {
		return r.Active
	}
	return r.Updated
}

// Rows holds the encrypted records. Methods report the store's
// ErrNotFound and ErrConflict (package store) wrapped.
type Rows interface {
	// PutSubject inserts a new subject; ErrConflict if the id exists.
	PutSubject(ctx context.Context, s *Row) error
	// ReplaceSubject overwrites an existing subject's unit, DEK and fields.
	ReplaceSubject(ctx context.Context, s *Row) error
	// GetSubject returns the subject; an erased one is returned with
	// Erased set and no key or fields.
	GetSubject(ctx context.Context, id string) (*Row, error)
	// EraseSubject destroys the wrapped DEK and the field ciphertexts,
	// keeping a tombstone (id, unit, erased time). ErrNotFound if the
	// subject is absent or erased already: of two erasures at once (two
	// nodes), the second waits for the first and fails.
	EraseSubject(ctx context.Context, id string, at time.Time) error
	// TouchSubjects records reads that count as activity: each touch
	// sets its subject's Active to its day (a midnight UTC) if it was
	// earlier; nothing for an erased or absent subject. The subjects
	// are distinct; the PostgreSQL store writes them in one statement.
	TouchSubjects(ctx context.Context, touches []Touch) error
	// ActivityMark returns the audit entry up to which the records'
	// activity is recorded (TouchSubjects): the log past it holds the
	// activity still to record.
	ActivityMark(ctx context.Context) (int64, error)
	// MoveActivityMark moves the mark from from to to, and reports
	// whether it did: false, changing nothing, when the mark is not at
	// from (another integrator moved it).
	MoveActivityMark(ctx context.Context, from, to int64) (bool, error)
}

// Stamped is an optional interface of a store's read-only transactions:
// a row read with the stamp that [Fresh] checks it against later. An
// access reads its subject's row this way before its write transaction,
// beside the writer, instead of inside it.
// It also says whether the person has limits on the record (package
// rights), so that the common case, none, costs no second read.
type Stamped interface {
	GetSubjectStamped(ctx context.Context, id string) (r *Row, limited bool, stamp uint64, err error)
}

// Fresh is the optional interface of a write transaction that goes with
// [Stamped]: whether subject id's row, and the person's limits on it
// (package rights), read under stamp, are still current in this
// transaction. False when the store cannot tell: the
// caller reads the row again in the transaction.
type Fresh interface {
	Unchanged(id string, stamp uint64) bool
}

// Census counts the records: everyone whose data a stolen store or
// backup holds (package impact).
type Census interface {
	// CountSubjects returns how many records hold a person's data: not
	// erased, and not canaries (which hold no one's).
	CountSubjects(ctx context.Context) (int64, error)
	// CanarySubjects returns the ids of the canary records (the host
	// plants a few): a breach's counts leave them out.
	CanarySubjects(ctx context.Context) ([]string, error)
}

// Keyless finds the records a restore left without their wrapped key:
// not marked erased, no key (their key was destroyed after the data
// backup was made, so the key backup lacks it). Each is shredded, and is
// erased in the restored store.
type Keyless interface {
	// KeylessSubjects returns the ids of up to limit such records, in
	// creation order, after the record after ("": from the first), so
	// that pages of them cost one scan of the records in all.
	KeylessSubjects(ctx context.Context, after string, limit int) ([]string, error)
	// DeleteIndexesOf deletes every blind index entry of the subjects
	// ids, found by subject rather than by value (a keyless record's
	// values cannot be hashed again): one scan of the index, for all of
	// a restore's keyless records at once. It returns how many it
	// deleted.
	DeleteIndexesOf(ctx context.Context, ids []string) (int64, error)
}

// HashLen is the length of a blind index entry's hash
// (envelope.BlindIndexLen). A store may refuse to write a hash of any
// other length (the PostgreSQL store keeps them in a fixed-size column),
// and finds none of another length.
const HashLen = 16

// Indexes holds blind index entries: keyed hash (HashLen bytes) →
// subject id. Each entry names the generation of the key that made it
// (package reindex rebuilds the index under a new key beside the old
// one); hashes under different keys do not meet, so a hash alone finds
// its entry.
type Indexes interface {
	// PutIndex adds an entry of generation gen; ErrConflict if the hash
	// is taken.
	PutIndex(ctx context.Context, gen uint32, hash []byte, subject string) error
	// LookupIndex returns the subject of an exact hash, or ErrNotFound.
	LookupIndex(ctx context.Context, hash []byte) (string, error)
	// DeleteIndex removes an entry; removing an absent one is no error.
	// (There is deliberately no index by subject: the vault recomputes a
	// subject's hashes from its fields, which keeps imports to one random
	// B-tree insert per lookup value.)
	DeleteIndex(ctx context.Context, hash []byte) error
}

// Bulk is an optional interface of a transaction for the bulk import:
// several rows per statement. The import uses it when the transaction has
// it, and the one-row methods otherwise.
type Bulk interface {
	// PutIndexes adds entries of generation gen (hashes[i] →
	// subjects[i]), fastest in hash order; if any hash is taken, or
	// repeated, it adds none and returns ErrConflict.
	PutIndexes(ctx context.Context, gen uint32, hashes [][]byte, subjects []string) error
	// PutSubjects inserts new subjects; ErrConflict if an id exists, in
	// which case some of rows may have been written: the caller fails its
	// transaction.
	PutSubjects(ctx context.Context, rows []*Row) error
}
