package auditlog

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/store"
	"github.com/transparency-dev/merkle/proof"
)

// HistoryFormat names the file format of a [History] (its "format" field).
const HistoryFormat = "coffre-subject-history/v1"

// Bounds of a history file: MaxHistoryBytes on the file, MaxHistoryEntries
// on its entries; a proof has at most 64 hashes (a tree of 2^64 leaves).
const (
	MaxHistoryBytes   = 256 << 20
	MaxHistoryEntries = 1_000_000
)

// History is a subject's entries up to a signed checkpoint, with what
// proves them complete; it is saved as JSON (see docs/design.md "A history
// the person can verify is complete"):
//
//	{"format": "coffre-subject-history/v1",
//	 "subject": "sub_…",
//	 "checkpoint": "<the signed note, as text>",
//	 "entries": [{"seq": 57, "leaf": "<base64 of the stored leaf>",
//	              "proof": ["<base64 hash>", …],
//	              "index": 12, "previous": 40,
//	              "index_proof": ["<base64 hash>", …]}, …]}
//
// Entries are newest first. An entry's proof is the inclusion proof of its
// leaf hash at seq-1 in the log of the checkpoint's size; index is its
// index leaf's position in the subject index log and index_proof that
// leaf's inclusion proof against the index head the checkpoint signs;
// previous is the seq of the subject's entry before it (0: none).
//
// Two optional fields serve the person reading it (GET /v1/me/accesses):
// an entry's "summary" ([Summary]) says what the entry holds in words a
// person reads, and a verifier checks it against the leaf; an entry
// whose content is withheld (a purpose whose notice is deferred, until its
// date: see docs/design.md, "Subject sign-in") has "withheld": true and
// "leaf_hash" (its leaf's hash) in place of "leaf": its place in the
// chain and both proofs still verify, so the history is proved complete,
// and what it holds stays unseen.
type History struct {
	Format     string         `json:"format"`
	Subject    string         `json:"subject"`
	Checkpoint string         `json:"checkpoint"`
	Entries    []HistoryEntry `json:"entries"`
	// Epoch, when the subject's oldest entry kept names a previous entry
	// that an epoch's deletion removed (retention), is the first entry
	// of the retained log, an epoch's opening entry (audit.EpochEntry),
	// with its inclusion proof: the chain then ends before it, and the
	// history is complete from it on.
	Epoch *HistoryEpoch `json:"epoch,omitempty"`
}

// HistoryEpoch is the entry a retained log starts with, and its proof.
type HistoryEpoch struct {
	Seq   int64    `json:"seq"`
	Leaf  []byte   `json:"leaf"`
	Proof [][]byte `json:"proof"`
}

// HistoryEntry is one entry of a [History].
type HistoryEntry struct {
	Seq        int64    `json:"seq"`
	Leaf       []byte   `json:"leaf,omitempty"`
	Proof      [][]byte `json:"proof"`
	Index      uint64   `json:"index"`
	Previous   int64    `json:"previous"`
	IndexProof [][]byte `json:"index_proof"`
	// Withheld entries have LeafHash and no Leaf (nor Summary).
	Withheld bool   `json:"withheld,omitempty"`
	LeafHash []byte `json:"leaf_hash,omitempty"`
	// Summary is the entry in words, when the history is for its person.
	Summary *Summary `json:"summary,omitempty"`
}

// Summary is an entry as its person reads it. The leaf proves Time,
// Action, Purpose, Fields and Decision, and Operator and Origin when they
// are shown ([VerifyHistory] checks each against the leaf); By, Role and
// Unit are the server's reading of the actor, which the leaf names by id
// only, and no proof covers them.
type Summary struct {
	Time     time.Time `json:"time"`
	Action   string    `json:"action"`
	Purpose  string    `json:"purpose,omitempty"`
	Fields   []string  `json:"fields,omitempty"`
	Decision string    `json:"decision"`
	// By is who acted: ByStaff, ByPartner, ByYou or ByCoffre.
	By string `json:"by"`
	// Role and Unit are the acting account's (as it is now).
	Role string `json:"role,omitempty"`
	Unit string `json:"unit,omitempty"`
	// Operator is the account's id, only when the purpose's policy names
	// operators to the person; Origin the address, only for the person's
	// own acts and the sign-in steps that name them.
	Operator string `json:"operator,omitempty"`
	Origin   string `json:"origin,omitempty"`
	// Reason is the reason the operator typed, when the leaf holds it
	// sealed under the person's data key (leaf v2), opened for them: the
	// leaf's ciphertext is proved, its opening is the server's reading
	// (a verifier without the key cannot check it). ReasonErased: the
	// leaf's reason cannot be read (the key is gone, or it was not kept).
	Reason       string `json:"reason,omitempty"`
	ReasonErased bool   `json:"reason_erased,omitempty"`
}

// Values of Summary.By.
const (
	ByStaff   = "staff"
	ByPartner = "partner"
	ByYou     = "you"
	ByCoffre  = "coffre"
)

// Present fills the history for its person: for each entry, show returns
// its summary, or withhold to hide its content (the leaf gives way to its
// hash). show is given the entry as its leaf holds it.
func (h *History) Present(show func(e *audit.Entry) (sum *Summary, withhold bool)) error {
	for i := range h.Entries {
		x := &h.Entries[i]
		if x.Withheld {
			continue
		}
		e, err := audit.ParseLeaf(x.Leaf)
		if err != nil {
			return fmt.Errorf("entry %d: %w", x.Seq, err)
		}
		sum, withhold := show(&e)
		if withhold {
			x.LeafHash, x.Leaf, x.Summary, x.Withheld = audit.Hasher.HashLeaf(x.Leaf), nil, nil, true
			continue
		}
		x.Summary = sum
	}
	return nil
}

// ErrNoIndex is returned for a history asked of a checkpoint that signs
// no subject index (made before it).
var ErrNoIndex = errors.New("the checkpoint signs no subject index")

// SubjectHistory returns every entry about subject up to the checkpoint of
// size (0: the latest), with the proofs that make it checkable offline by
// [VerifyHistory]. It reads the per-subject index and the tiles, never
// the whole log.
func SubjectHistory(ctx context.Context, s store.Store, subject string, size uint64) (*History, error) {
	if subject == "" {
		return nil, fmt.Errorf("subject history: no subject")
	}
	h := &History{Format: HistoryFormat, Subject: subject, Entries: []HistoryEntry{}}
	err := s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		var c *audit.StoredCheckpoint
		var err error
		if size == 0 {
			c, err = tx.LatestCheckpoint(ctx)
		} else {
			var cs []audit.StoredCheckpoint
			if cs, err = tx.CheckpointsAfter(ctx, size-1, 1); err == nil && (len(cs) == 0 || cs[0].Size != size) {
				err = fmt.Errorf("no checkpoint of size %d: %w", size, store.ErrNotFound)
			} else if err == nil {
				c = &cs[0]
			}
		}
		if err != nil {
			return err
		}
		if c.Index == nil {
			return ErrNoIndex
		}
		h.Checkpoint = string(c.Note)
		rows, err := tx.SubjectIndex(ctx, subject, c.Index.Size, MaxHistoryEntries+1)
		if err != nil {
			return err
		}
		if len(rows) > MaxHistoryEntries {
			return fmt.Errorf("subject %s has more than %d entries", subject, MaxHistoryEntries)
		}
		// The proofs of all the entries at once: one read of the tiles of
		// each tree, and the nodes they share hashed once.
		indexes, positions := make([]uint64, len(rows)), make([]uint64, len(rows))
		for i, r := range rows {
			if r.Seq < 1 || uint64(r.Seq) > c.Size {
				return fmt.Errorf("entry %d of the subject index is not in the log of size %d", r.Seq, c.Size)
			}
			indexes[i], positions[i] = uint64(r.Seq-1), r.Pos
		}
		// A chain that goes on into a deleted epoch ends at the retained
		// log's first entry, which the history carries with its proof.
		if n := len(rows); n > 0 && rows[n-1].Prev != 0 {
			eps, err := tx.ListEpochs(ctx)
			if err != nil {
				return err
			}
			var from int64
			for _, ep := range eps {
				if ep.Deleted.IsZero() {
					break
				}
				from = ep.Last + 1
			}
			if rows[n-1].Prev < from && rows[n-1].Seq >= from && uint64(from) <= c.Size {
				h.Epoch = &HistoryEpoch{Seq: from}
				indexes = append(indexes, uint64(from-1))
			}
		}
		proofs, err := audit.InclusionProofs(indexes, c.Size, func(ids []audit.TileID) (map[audit.TileID]audit.Tile, error) { return tx.GetTiles(ctx, ids) })
		if err != nil {
			return fmt.Errorf("log proofs: %w", err)
		}
		indexProofs, err := audit.InclusionProofs(positions, c.Index.Size, func(ids []audit.TileID) (map[audit.TileID]audit.Tile, error) { return tx.GetIndexTiles(ctx, ids) })
		if err != nil {
			return fmt.Errorf("index proofs: %w", err)
		}
		if h.Epoch != nil {
			h.Epoch.Proof = proofs[len(rows)]
			err := tx.AuditLeaves(ctx, h.Epoch.Seq, h.Epoch.Seq+1, func(_ int64, leaf []byte) error {
				h.Epoch.Leaf = bytes.Clone(leaf)
				return nil
			})
			if err != nil {
				return err
			}
		}
		for i, r := range rows {
			e := HistoryEntry{Seq: r.Seq, Index: r.Pos, Previous: r.Prev, Proof: proofs[i], IndexProof: indexProofs[i]}
			err := tx.AuditLeaves(ctx, r.Seq, r.Seq+1, func(_ int64, leaf []byte) error {
				e.Leaf = bytes.Clone(leaf)
				return nil
			})
			if err != nil {
				return err
			}
			if e.Leaf == nil {
				return fmt.Errorf("entry %d of the subject index is not in the log: %w", r.Seq, store.ErrNotFound)
			}
			h.Entries = append(h.Entries, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("subject history: %w", err)
	}
	return h, nil
}

// ErrBadHistory is returned by ParseHistory for a file that is not a
// history, and wrapped by VerifyHistory for one that does not verify.
var ErrBadHistory = errors.New("subject history does not verify")

// ParseHistory reads a history file (at most MaxHistoryBytes): the format,
// known fields only, bounded entries and proofs, 32-byte hashes.
func ParseHistory(r io.Reader) (*History, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxHistoryBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	if len(b) > MaxHistoryBytes {
		return nil, fmt.Errorf("%w: the file is larger than %d bytes", ErrBadHistory, MaxHistoryBytes)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	var h History
	if err := d.Decode(&h); err != nil {
		return nil, fmt.Errorf("%w: not a history file: %v", ErrBadHistory, err)
	}
	if d.More() {
		return nil, fmt.Errorf("%w: not a history file: data after the history", ErrBadHistory)
	}
	if h.Format != HistoryFormat {
		return nil, fmt.Errorf("%w: format %q, want %q", ErrBadHistory, h.Format, HistoryFormat)
	}
	if len(h.Entries) > MaxHistoryEntries {
		return nil, fmt.Errorf("%w: more than %d entries", ErrBadHistory, MaxHistoryEntries)
	}
	if x := h.Epoch; x != nil {
		if len(x.Proof) > 64 {
			return nil, fmt.Errorf("%w: the epoch entry: a proof of %d hashes", ErrBadHistory, len(x.Proof))
		}
		for _, p := range x.Proof {
			if len(p) != 32 {
				return nil, fmt.Errorf("%w: the epoch entry: a proof hash of %d bytes", ErrBadHistory, len(p))
			}
		}
	}
	for _, e := range h.Entries {
		if n := len(e.LeafHash); n != 0 && n != 32 {
			return nil, fmt.Errorf("%w: entry %d: a leaf hash of %d bytes", ErrBadHistory, e.Seq, n)
		}
		for _, p := range [][][]byte{e.Proof, e.IndexProof} {
			if len(p) > 64 {
				return nil, fmt.Errorf("%w: entry %d: a proof of %d hashes", ErrBadHistory, e.Seq, len(p))
			}
			for _, x := range p {
				if len(x) != 32 {
					return nil, fmt.Errorf("%w: entry %d: a proof hash of %d bytes", ErrBadHistory, e.Seq, len(x))
				}
			}
		}
	}
	return &h, nil
}

// Newest names the newest entry a person was told of (a notice carries
// it): its seq and leaf hash.
type Newest struct {
	Seq      int64
	LeafHash []byte
}

// ParseNewest reads "SEQ:LEAFHASH", the leaf hash in hex.
func ParseNewest(s string) (*Newest, error) {
	seq, hash, ok := strings.Cut(s, ":")
	n, err := strconv.ParseInt(seq, 10, 64)
	h, err2 := hex.DecodeString(hash)
	if !ok || err != nil || err2 != nil || n < 1 || len(h) != 32 {
		return nil, fmt.Errorf("want SEQ:LEAFHASH, the entry's number and its leaf hash in hex (64 digits)")
	}
	return &Newest{Seq: n, LeafHash: h}, nil
}

// HistoryReport is what a verified history shows.
type HistoryReport struct {
	Subject    string
	Entries    int
	Size       uint64 // the checkpoint's log size
	IndexFrom  int64  // the history is complete from this entry on
	IndexSize  uint64
	NewestSeen bool // a Newest was given and is in the history
	// Withheld counts the entries whose content the history withholds
	// (their place in the chain verified).
	Withheld int
	// RetainedFrom, when not 0, is the entry the retained log starts
	// with (an epoch's opening entry, proved): the subject's entries
	// before it were deleted with their epoch, after its retention. The
	// history is complete from it on.
	RetainedFrom int64
}

// checkEpoch checks that the oldest entry e of h chains into a deleted
// epoch: h names the retained log's first entry, an epoch's opening entry
// proved in the log of cp, after e's previous entry and no later than e.
func (h *History) checkEpoch(cp *audit.Checkpoint, e HistoryEntry) error {
	cut := fmt.Errorf("%w: the oldest entry in the history, %d, names entry %d as the subject's previous entry: the history is cut short", ErrBadHistory, e.Seq, e.Previous)
	x := h.Epoch
	if x == nil {
		return cut
	}
	got, err := audit.ParseLeaf(x.Leaf)
	if err != nil || got.Seq != x.Seq {
		return fmt.Errorf("%w: its epoch entry %d is not an audit entry of that number", ErrBadHistory, x.Seq)
	}
	if _, last, _, err := audit.ParseEpochEntry(&got); err != nil || last != x.Seq-1 {
		return fmt.Errorf("%w: entry %d is not the opening entry of an epoch", ErrBadHistory, x.Seq)
	}
	if x.Seq < 1 || uint64(x.Seq) > cp.Size {
		return fmt.Errorf("%w: its epoch entry %d is not in the checkpoint of size %d", ErrBadHistory, x.Seq, cp.Size)
	}
	if err := proof.VerifyInclusion(audit.Hasher, uint64(x.Seq-1), cp.Size, audit.Hasher.HashLeaf(x.Leaf), x.Proof, cp.Root); err != nil {
		return fmt.Errorf("%w: its epoch entry %d: the inclusion proof does not verify against the signed root: %v", ErrBadHistory, x.Seq, err)
	}
	if e.Previous >= x.Seq || e.Seq < x.Seq {
		return cut
	}
	return nil
}

// VerifyHistory checks a history offline with the log's verifier key: the
// checkpoint's signature; each entry's leaf (canonical, about the subject,
// of its seq) and its inclusion proof in the log; each index leaf's
// inclusion proof in the index log; the chain of index leaves from the
// newest entry down to one with no previous entry, with nothing missing;
// and, when newest is given, that this entry is in the history. An error
// wraps ErrBadHistory (or audit.ErrBadCheckpoint) and names what failed.
func VerifyHistory(h *History, vkey string, newest *Newest) (*HistoryReport, error) {
	cp, err := audit.Open([]byte(h.Checkpoint), vkey)
	if err != nil {
		return nil, fmt.Errorf("history checkpoint: %w", err)
	}
	if cp.Index == nil {
		return nil, fmt.Errorf("%w: the checkpoint of size %d signs no subject index (it was made before the index); ask for a history against a newer checkpoint", ErrBadHistory, cp.Size)
	}
	if h.Subject == "" {
		return nil, fmt.Errorf("%w: no subject", ErrBadHistory)
	}
	rep := &HistoryReport{Subject: h.Subject, Entries: len(h.Entries), Size: cp.Size, IndexFrom: cp.Index.From, IndexSize: cp.Index.Size}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrBadHistory}, args...)...)
	}
	for i, e := range h.Entries {
		var lh []byte
		if e.Withheld {
			if len(e.Leaf) != 0 || e.Summary != nil || len(e.LeafHash) != 32 {
				return nil, bad("entry %d is withheld but shows a leaf or a summary, or no leaf hash", e.Seq)
			}
			lh = e.LeafHash
			rep.Withheld++
		} else {
			got, err := audit.ParseLeaf(e.Leaf)
			if err != nil {
				return nil, bad("entry %d: its leaf is not an audit entry", e.Seq)
			}
			if got.Seq != e.Seq || got.Subject != h.Subject {
				return nil, bad("entry %d: its leaf is entry %d about %q, not entry %d about %q", e.Seq, got.Seq, got.Subject, e.Seq, h.Subject)
			}
			lh = audit.Hasher.HashLeaf(e.Leaf)
			if e.LeafHash != nil && !bytes.Equal(e.LeafHash, lh) {
				return nil, bad("entry %d: its leaf hash is not its leaf's", e.Seq)
			}
			if e.Summary != nil {
				if what := e.Summary.differs(&got, h.Subject); what != "" {
					return nil, bad("entry %d: its summary's %s is not what its leaf holds", e.Seq, what)
				}
			}
		}
		if e.Seq < 1 || uint64(e.Seq) > cp.Size {
			return nil, bad("entry %d is not in the checkpoint of size %d", e.Seq, cp.Size)
		}
		if err := proof.VerifyInclusion(audit.Hasher, uint64(e.Seq-1), cp.Size, lh, e.Proof, cp.Root); err != nil {
			return nil, bad("entry %d: its inclusion proof in the log does not verify against the signed root: %v", e.Seq, err)
		}
		ih := audit.IndexLeafHash(h.Subject, e.Seq, lh, e.Previous)
		if err := proof.VerifyInclusion(audit.Hasher, e.Index, cp.Index.Size, ih, e.IndexProof, cp.Index.Root); err != nil {
			return nil, bad("entry %d: its index leaf (position %d, previous entry %d) is not in the signed subject index: %v", e.Seq, e.Index, e.Previous, err)
		}
		// The chain: this entry names the next one in the history (older)
		// as the subject's previous entry, and the oldest names none.
		switch {
		case i+1 < len(h.Entries) && e.Previous != h.Entries[i+1].Seq:
			return nil, bad("entry %d names entry %d as the subject's previous entry, but the next entry in the history is %d: an entry is missing", e.Seq, e.Previous, h.Entries[i+1].Seq)
		case i+1 == len(h.Entries) && e.Previous != 0:
			// Before the retained log (an epoch deleted after its
			// retention), or a history cut short.
			if err := h.checkEpoch(cp, e); err != nil {
				return nil, err
			}
			rep.RetainedFrom = h.Epoch.Seq
		}
		if newest != nil && e.Seq == newest.Seq {
			if !bytes.Equal(lh, newest.LeafHash) {
				return nil, bad("entry %d has leaf hash %x, but the notice names %x", e.Seq, lh, newest.LeafHash)
			}
			rep.NewestSeen = true
		}
	}
	if newest != nil && !rep.NewestSeen {
		if uint64(newest.Seq) > cp.Size {
			return nil, bad("the notice's entry %d is after the checkpoint (size %d): ask for a history against a newer checkpoint", newest.Seq, cp.Size)
		}
		return nil, bad("the notice's entry %d is not in the history: the history leaves it out", newest.Seq)
	}
	return rep, nil
}

// differs names the first part of the summary that is not what the entry
// e of subject holds ("" when none is).
func (s *Summary) differs(e *audit.Entry, subject string) string {
	switch {
	case !s.Time.Equal(e.Time):
		return "time"
	case s.Action != e.Action:
		return "action"
	case s.Purpose != e.Purpose:
		return "purpose"
	case !slices.Equal(s.Fields, e.Fields) && (len(s.Fields) > 0 || len(e.Fields) > 0):
		return "fields"
	case s.Decision != e.Decision:
		return "decision"
	case s.Operator != "" && s.Operator != e.Actor:
		return "operator"
	case s.Origin != "" && s.Origin != e.Origin:
		return "origin"
	case (s.By == ByYou) != (e.Actor == audit.SubjectActor(subject)):
		return "actor"
	case s.Reason != "" && len(e.SealedReason) == 0, s.ReasonErased && len(e.SealedReason) == 0 && !e.ReasonDropped:
		return "reason"
	}
	return ""
}
