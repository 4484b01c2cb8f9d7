package audit

import (
	"context"
	"time"
)

// The storage of the audit log, which the stores implement (package
// auditlog and package vault use it). Methods report the store's
// ErrNotFound and ErrConflict (package store) wrapped.

// Log is the append-only sequence of audit entries.
type Log interface {
	// AppendAudit assigns e.Seq (1, 2, 3… with no gaps) and stores e.
	AppendAudit(ctx context.Context, e *Entry) error
	// AuditEntries returns entries with from ≤ Seq < to, in order, at most
	// limit of them.
	AuditEntries(ctx context.Context, from, to int64, limit int) ([]Entry, error)
	// AuditLeaves calls fn with the sequence number and the stored leaf
	// (LeafData) of each entry with from ≤ Seq < to, in order; leaf
	// is only valid during the call. The verifier's path: no decoding.
	AuditLeaves(ctx context.Context, from, to int64, fn func(seq int64, leaf []byte) error) error
	// LastAuditSeq returns the Seq of the last entry (0 if none).
	LastAuditSeq(ctx context.Context) (int64, error)
	// SubjectAudit returns the entries about one subject, newest first, at
	// most limit.
	SubjectAudit(ctx context.Context, subject string, limit int) ([]Entry, error)
}

// Checkpoints holds the audit log's signed tree heads.
type Checkpoints interface {
	// PutCheckpoint stores a checkpoint; ErrConflict if its size exists.
	PutCheckpoint(ctx context.Context, c *StoredCheckpoint) error
	// LatestCheckpoint returns the largest, without its Leaves (which only
	// the verifier reads, through CheckpointsAfter); ErrNotFound if none.
	LatestCheckpoint(ctx context.Context) (*StoredCheckpoint, error)
	// CheckpointsAfter returns checkpoints with Size > after, by size, at
	// most limit.
	CheckpointsAfter(ctx context.Context, after uint64, limit int) ([]StoredCheckpoint, error)
	// PutTiles stores tiles, replacing those with the same ID (a partial
	// tile grows).
	PutTiles(ctx context.Context, tiles []Tile) error
	// GetTiles returns the tiles that exist among ids.
	GetTiles(ctx context.Context, ids []TileID) (map[TileID]Tile, error)
}

// StoredCheckpoint is a signed tree head with what the integrator needs to
// go on from it and the verifier needs to name a bad entry.
type StoredCheckpoint struct {
	Size    uint64   // leaves (entries) covered
	Root    []byte   // RFC 6962 root hash
	Note    []byte   // the signed note
	Range   [][]byte // compact range hashes of the tree at Size
	Leaves  []byte   // leaf hashes (32 bytes each) of the entries added since the previous checkpoint
	Created time.Time
	// Index is the subject index log's head the note signs, and IndexRange
	// its compact range hashes; nil in checkpoints made before the index.
	Index      *IndexHead
	IndexRange [][]byte
}

// Streams holds the audit stream's cursors (package auditstream): for
// each sink, the index of the next entry it is to receive, and the server
// streaming to it, under a lease, so that one server of several streams
// and a restart resumes after the last entry the sink acknowledged.
type Streams interface {
	// ClaimStream takes sink's lease for owner until until when it is
	// free at now (no owner, an expired lease, or owner's own), making the
	// sink's cursor at 1 if it has none; it returns the sink's next index
	// and whether owner now holds the lease.
	ClaimStream(ctx context.Context, sink, owner string, now, until time.Time) (next int64, held bool, err error)
	// AdvanceStream moves sink's cursor to next, never back, while owner
	// holds its lease; ErrConflict when owner does not (another server
	// took it), nothing changed.
	AdvanceStream(ctx context.Context, sink, owner string, next int64) error
}
