package audit

import (
	"context"
	"encoding/binary"
)

// indexPrefix opens every index leaf.
//
// Each entry that names a subject also adds a leaf to a second Merkle log,
// the subject index, whose size and root every checkpoint signs beside the
// log's (see [IndexHead]). The index leaf of the entry of sequence number
// seq about subject is [IndexLeafData]:
//
//	"coffre/subject-index/v1" 0x00
//	uvarint(len(subject)) subject
//	seq        8 bytes, big-endian
//	leaf hash  32 bytes: the entry's Merkle leaf hash in the log
//	prev       8 bytes, big-endian: the seq of the subject's previous
//	           entry in the index, 0 for its first
//
// hashed as an RFC 6962 leaf ([Hasher]). A subject's index leaves chain
// from the newest to the first by prev, so a history that leaves an entry
// out breaks the chain.
const indexPrefix = "coffre/subject-index/v1\x00"

// IndexLeafData returns the index leaf of the entry seq about subject,
// whose log leaf hash is leafHash, after the subject's entry prev (0:
// none).
func IndexLeafData(subject string, seq int64, leafHash []byte, prev int64) []byte {
	b := make([]byte, 0, len(indexPrefix)+binary.MaxVarintLen64+len(subject)+48)
	b = append(b, indexPrefix...)
	b = binary.AppendUvarint(b, uint64(len(subject)))
	b = append(b, subject...)
	b = binary.BigEndian.AppendUint64(b, uint64(seq))
	b = append(b, leafHash...)
	return binary.BigEndian.AppendUint64(b, uint64(prev))
}

// IndexLeafHash returns the Merkle leaf hash of IndexLeafData.
func IndexLeafHash(subject string, seq int64, leafHash []byte, prev int64) []byte {
	return Hasher.HashLeaf(IndexLeafData(subject, seq, leafHash, prev))
}

// LeafSubject returns the subject field of a stored leaf (LeafData, v1 or v2)
// without decoding the rest: the integrator's path. It does not check the
// leaf is canonical (ParseLeaf does); what it returns is what the leaf's
// bytes, which are hashed as they are, say.
func LeafSubject(leaf []byte) (string, error) {
	if len(leaf) < len(leafPrefix) || string(leaf[:len(leafPrefix)]) != leafPrefix && string(leaf[:len(leafPrefix)]) != leafPrefixV2 {
		return "", ErrBadLeaf
	}
	b := leaf[len(leafPrefix):]
	for i := 0; ; i++ {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return "", ErrBadLeaf
		}
		if i == 4 { // seq, time, actor, action, subject
			return string(b[k : k+int(n)]), nil
		}
		b = b[k+int(n):]
	}
}

// IndexEntry is an entry of the per-subject index: the entry Seq of the
// log names Subject, its index leaf is at Pos in the index log, and Prev
// is the Seq of the subject's previous entry (0: none).
type IndexEntry struct {
	Subject string
	Seq     int64
	Pos     uint64
	Prev    int64
}

// SubjectIndex is the storage of the subject index log, which the
// integrator (package auditlog) writes ahead of each checkpoint, in
// transactions of a bounded number of rows, and a person's history reads.
//
// Rows at positions the latest checkpoint does not sign yet (Pos at or
// beyond its index size) may exist: a step wrote them and did not reach
// its checkpoint. Readers ignore them (the size arguments below), and the
// next step writes them again: a row's content follows from the log
// before it, so the rewrite is the same row, and whatever was there is
// replaced ("cut back", as the edge tiles are).
type SubjectIndex interface {
	// SubjectHeads returns the Seq of the newest entry with Pos < size
	// (those an index log of size leaves holds) of each of subjects that
	// has one.
	SubjectHeads(ctx context.Context, size uint64, subjects []string) (map[string]int64, error)
	// PutSubjectIndex stores entries, whose Pos are all from or more
	// (from: the index size the latest checkpoint signs). A stored row of
	// the same (Subject, Seq) at a position from or more is replaced; one
	// below from is ErrConflict, and the call then leaves nothing.
	PutSubjectIndex(ctx context.Context, from uint64, entries []IndexEntry) error
	// SubjectIndex returns the entries of subject with Pos < size (those
	// an index log of size leaves holds), newest first, at most limit.
	SubjectIndex(ctx context.Context, subject string, size uint64, limit int) ([]IndexEntry, error)
	// PutIndexTiles and GetIndexTiles are Checkpoints' PutTiles and
	// GetTiles for the index log's tiles, kept apart from the log's.
	PutIndexTiles(ctx context.Context, tiles []Tile) error
	GetIndexTiles(ctx context.Context, ids []TileID) (map[TileID]Tile, error)
}
