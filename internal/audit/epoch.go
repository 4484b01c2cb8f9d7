package audit

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// # Epochs
//
// The log is cut into epochs (one a year by default). An epoch closes at
// a checkpoint: the closing writes, in one transaction, the next epoch's
// first entry, [EpochEntry], which records the closed epoch's number,
// size and root, so that every later checkpoint signs them; the
// integrator then signs a checkpoint of exactly that size. An epoch
// whose entries are all older than the retention may be deleted: its
// entries, their subject index rows and the tiles no retained entry's
// proof needs go, every checkpoint stays (its signed note and compact
// range), and the log verifies from the compact range of the closing
// checkpoint of the last deleted epoch.

// Epoch is a closed epoch of the log: entries First…Last (Last is the
// size of the checkpoint that closes it, whose root is Root), opened and
// closed at those times; Deleted is when its deletion began (zero: its
// entries are kept).
type Epoch struct {
	Number  int64
	First   int64
	Last    int64
	Opened  time.Time
	Closed  time.Time
	Root    []byte
	Deleted time.Time
}

// ActionEpoch is the action of an epoch's first entry (actor "system").
const ActionEpoch = "epoch"

// EpochEntry returns the entry that opens the epoch after ep: it records
// ep's number, last entry (its closing checkpoint's size) and root, as
// "closes epoch N at SIZE ROOT" (root in base64) in its reason. Time is
// the closing time.
func EpochEntry(ep *Epoch) *Entry {
	return &Entry{Time: ep.Closed, Actor: "system", Action: ActionEpoch, Decision: "allow",
		Reason: fmt.Sprintf("closes epoch %d at %d %s", ep.Number, ep.Last, base64.StdEncoding.EncodeToString(ep.Root))}
}

// ErrNotEpoch is returned by ParseEpochEntry for an entry that is not
// an epoch's first entry.
var ErrNotEpoch = errors.New("not an epoch entry")

// ParseEpochEntry reads what an epoch entry records: the number, last
// entry and root of the epoch it closes.
func ParseEpochEntry(e *Entry) (number, last int64, root []byte, err error) {
	f := strings.Split(e.Reason, " ")
	if e.Actor != "system" || e.Action != ActionEpoch || e.Subject != "" || len(f) != 6 || f[0] != "closes" || f[1] != "epoch" || f[3] != "at" {
		return 0, 0, nil, ErrNotEpoch
	}
	n, err1 := strconv.ParseInt(f[2], 10, 64)
	l, err2 := strconv.ParseInt(f[4], 10, 64)
	r, err3 := base64.StdEncoding.DecodeString(f[5])
	if err1 != nil || err2 != nil || err3 != nil || n < 1 || l < 1 || len(r) != 32 ||
		EpochEntry(&Epoch{Number: n, Last: l, Root: r}).Reason != e.Reason { // only the canonical form
		return 0, 0, nil, ErrNotEpoch
	}
	return n, l, r, nil
}

// Epochs is the storage of the log's epochs and of their deletion, which
// package auditlog uses (closing, pruning, verifying from the first
// retained checkpoint). Deletions are bounded by limit, so that a
// pruning is many short transactions, never a long one.
type Epochs interface {
	// PutEpoch stores a closed epoch; ErrConflict if its number exists.
	PutEpoch(ctx context.Context, ep *Epoch) error
	// ListEpochs returns the closed epochs, by number.
	ListEpochs(ctx context.Context) ([]Epoch, error)
	// MarkEpochDeleted records that the deletion of epoch number began
	// at; ErrNotFound if there is no such closed epoch.
	MarkEpochDeleted(ctx context.Context, number int64, at time.Time) error
	// DeleteAudit deletes the entries with Seq ≤ last, at most limit of
	// them (the oldest first), and returns how many it deleted.
	DeleteAudit(ctx context.Context, last int64, limit int) (int, error)
	// DeleteSubjectIndex looks at the next limit subject index rows after
	// the key (subject, seq) in key order, deletes those with Seq ≤ last,
	// and returns the key of the last row it looked at ("", 0 once there
	// is none) and how many it deleted.
	DeleteSubjectIndex(ctx context.Context, last int64, subject string, seq int64, limit int) (string, int64, int, error)
	// DeleteTiles deletes at most limit tiles of the given level with
	// Index < below, of the log (index false) or of the subject index
	// log (index true), and returns how many it deleted.
	DeleteTiles(ctx context.Context, index bool, level uint, below uint64, limit int) (int, error)
	// TrimCheckpoints drops the leaf hashes (StoredCheckpoint.Leaves) of
	// at most limit checkpoints with after < Size ≤ upTo that still hold
	// some, by size, keeping the rest of each, and returns the largest
	// size it trimmed (after if none) and how many.
	TrimCheckpoints(ctx context.Context, after, upTo uint64, limit int) (uint64, int, error)
	// SubjectLinks returns, for each subject with an index row of Seq ≥
	// from whose Prev is below from (and not 0), that Prev: the
	// subject's last entry before from, which its first entry from on
	// chains to.
	SubjectLinks(ctx context.Context, from int64) (map[string]int64, error)
}

// TilesBelow returns, for each tile level from 0 up, the tile index below
// which no tile is needed by an inclusion or consistency proof about a
// leaf at index first or later, nor by the integrator: at level L, the
// tiles wholly before the one holding first's ancestor (Index <
// first >> 8(L+1)). A proof's nodes below level 8(L+1) lie within that
// ancestor's tile. Levels with no such tile are left out.
func TilesBelow(first uint64) []uint64 {
	var out []uint64
	for l := uint(0); ; l++ {
		shift := TileHeight * (l + 1)
		if shift >= 64 || first>>shift == 0 {
			return out
		}
		out = append(out, first>>shift)
	}
}
