package auditlog

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/store"
	"github.com/transparency-dev/merkle/proof"
)

// EvidenceFormat names the format of an evidence file (its header's
// "format").
const EvidenceFormat = "coffre-evidence/v1"

// Bounds of an evidence bundle: MaxEvidenceBytes on its entries file,
// MaxEvidenceEntries on its entries, MaxCheckpointBytes on its note.
const (
	MaxEvidenceBytes   = 1 << 30
	MaxEvidenceEntries = 1_000_000
	MaxCheckpointBytes = 64 << 10
	maxEvidenceLine    = 64 << 10
)

// Evidence is the entries of a time window of the audit log that a
// predicate kept (an incident's scope), each with its inclusion proof
// against one signed checkpoint, so that whoever holds the log's verifier
// key checks them offline ([VerifyEvidence]). It is saved as two files
// ([Evidence.WriteEntries], [ParseEvidence]): the signed note as it is,
// and the entries as JSON lines, a header first:
//
//	{"format": "coffre-evidence/v1", "incident": "inc_…", "scope": "…",
//	 "from": "2026-11-28T00:00:00Z", "to": "…", "size": 5012,
//	 "first": 4000, "last": 5012, "scanned": 1012, "entries": 2}
//	{"seq": 4107, "entry": {"time": …, "actor": "op_…", …},
//	 "leaf": "<base64 of the stored leaf>", "proof": ["<base64 hash>", …]}
//	…
//
// An entry's proof is the RFC 6962 inclusion proof of its leaf's hash at
// seq−1 in the log of the checkpoint's size; "entry" is the leaf decoded,
// for reading, and must say what the leaf says. The header is not signed:
// its counts say what the build saw, and the window bounds what each
// entry's time must fall in.
type Evidence struct {
	Header     EvidenceHeader
	Checkpoint []byte
	Entries    []EvidenceEntry
}

// EvidenceHeader is the first line of an evidence file.
type EvidenceHeader struct {
	Format   string `json:"format"`
	Incident string `json:"incident,omitempty"`
	// Scope is the incident's scope in words (ids and dates).
	Scope string    `json:"scope,omitempty"`
	From  time.Time `json:"from"`
	// To is the window's end, excluded; zero: none.
	To time.Time `json:"to,omitzero"`
	// Size is the checkpoint's log size.
	Size uint64 `json:"size"`
	// First…Last are the entries the build read and verified against the
	// checkpoint (the window with a margin each side: [ScanWindow]);
	// Scanned how many of them were timed in the window.
	First   int64 `json:"first"`
	Last    int64 `json:"last"`
	Scanned int64 `json:"scanned"`
	// Entries is the number of entry lines.
	Entries int `json:"entries"`
}

// EvidenceEntry is one entry of an [Evidence].
type EvidenceEntry struct {
	Seq   int64         `json:"seq"`
	Entry *EvidenceView `json:"entry"`
	Leaf  []byte        `json:"leaf"`
	Proof [][]byte      `json:"proof"`
}

// EvidenceView is an entry's leaf decoded, as an investigator reads it.
type EvidenceView struct {
	Time     time.Time `json:"time"`
	Actor    string    `json:"actor"`
	Action   string    `json:"action"`
	Subject  string    `json:"subject,omitempty"`
	Purpose  string    `json:"purpose,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	Fields   []string  `json:"fields,omitempty"`
	Decision string    `json:"decision"`
	Origin   string    `json:"origin,omitempty"`
	// ReasonErased: the entry's reason was sealed under its person's data
	// key, which is erased, or was not kept (its leaf says which). A
	// sealed reason that opened is in Reason: the builder's reading of
	// the ciphertext the leaf holds, which the proof covers and a
	// verifier without the key cannot open.
	ReasonErased bool `json:"reason_erased,omitempty"`
}

func viewOf(e *audit.Entry) *EvidenceView {
	return &EvidenceView{Time: e.Time, Actor: e.Actor, Action: e.Action, Subject: e.Subject, Purpose: e.Purpose,
		Reason: e.Reason, Fields: e.Fields, Decision: e.Decision, Origin: e.Origin, ReasonErased: e.ReasonErased()}
}

// differs names the first part of v that is not what e holds ("" when
// none is).
func (v *EvidenceView) differs(e *audit.Entry) string {
	switch {
	case !v.Time.Equal(e.Time):
		return "time"
	case v.Actor != e.Actor:
		return "actor"
	case v.Action != e.Action:
		return "action"
	case v.Subject != e.Subject:
		return "subject"
	case v.Purpose != e.Purpose:
		return "purpose"
	case len(e.SealedReason) == 0 && (v.Reason != e.Reason || v.ReasonErased != e.ReasonDropped):
		return "reason" // a sealed reason's opening is not checkable without the key
	case !slices.Equal(v.Fields, e.Fields):
		return "fields"
	case v.Decision != e.Decision:
		return "decision"
	case v.Origin != e.Origin:
		return "origin"
	}
	return ""
}

// BuildEvidence returns the entries timed from ≤ Time < to (to zero: no
// end) that keep keeps, up to the latest signed checkpoint, each with its
// inclusion proof against it. The window is read and verified by
// [ScanWindow] (its errors are returned as they are: a *TamperError names
// the first bad entry); the proofs are read from the tiles in one pass
// ([audit.InclusionProofs]), and the bundle is verified before it is
// returned, so that damaged tiles give ErrBadTiles, not a bundle that
// fails in the investigator's hands. keep's error stops the build.
func BuildEvidence(ctx context.Context, s store.Store, vkey string, from, to time.Time, keep func(e *audit.Entry) (bool, error)) (*Evidence, *WindowReport, error) {
	var entries []EvidenceEntry
	rep, err := ScanWindow(ctx, s, vkey, from, to, func(e *audit.Entry) error {
		ok, err := keep(e)
		if err != nil || !ok {
			return err
		}
		if len(entries) == MaxEvidenceEntries {
			return fmt.Errorf("evidence: more than %d entries in scope: narrow the window", MaxEvidenceEntries)
		}
		entries = append(entries, EvidenceEntry{Seq: e.Seq, Entry: viewOf(e), Leaf: audit.LeafData(e)})
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	ev := &Evidence{
		Header: EvidenceHeader{Format: EvidenceFormat, From: from.UTC(), Size: rep.Size,
			First: rep.First, Last: rep.Last, Scanned: rep.InWindow, Entries: len(entries)},
		Checkpoint: rep.Note,
		Entries:    entries,
	}
	if !to.IsZero() {
		ev.Header.To = to.UTC()
	}
	if ev.Entries == nil {
		ev.Entries = []EvidenceEntry{}
	}
	if len(entries) > 0 {
		indexes := make([]uint64, len(entries))
		for i, e := range entries {
			indexes[i] = uint64(e.Seq - 1)
		}
		var proofs [][][]byte
		err := s.View(ctx, func(ctx context.Context, tx store.Tx) error {
			var err error
			proofs, err = audit.InclusionProofs(indexes, rep.Size, func(ids []audit.TileID) (map[audit.TileID]audit.Tile, error) { return tx.GetTiles(ctx, ids) })
			return err
		})
		if err != nil {
			return nil, nil, fmt.Errorf("evidence: proofs: %w", err)
		}
		for i := range entries {
			entries[i].Proof = proofs[i]
		}
	}
	if _, err := VerifyEvidence(ev, vkey); err != nil {
		return nil, nil, fmt.Errorf("evidence: %w: %v", ErrBadTiles, err)
	}
	return ev, rep, nil
}

// WriteEntries writes the entries file: the header as it is (its count
// is the build's), then one entry a line.
func (ev *Evidence) WriteEntries(w io.Writer) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	if err := enc.Encode(ev.Header); err != nil {
		return err
	}
	for i := range ev.Entries {
		if err := enc.Encode(&ev.Entries[i]); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// ErrBadEvidence is returned by ParseEvidence for files that are not an
// evidence bundle, and wrapped by VerifyEvidence for one that does not
// verify.
var ErrBadEvidence = errors.New("evidence does not verify")

// ParseEvidence reads a bundle's signed note (at most MaxCheckpointBytes)
// and entries file (at most MaxEvidenceBytes): the format, known fields
// only, bounded entries and proofs, 32-byte hashes. It checks no
// signature or proof: that is VerifyEvidence's.
func ParseEvidence(checkpoint, entries io.Reader) (*Evidence, error) {
	note, err := io.ReadAll(io.LimitReader(checkpoint, MaxCheckpointBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	if len(note) > MaxCheckpointBytes {
		return nil, fmt.Errorf("%w: the checkpoint is larger than %d bytes", ErrBadEvidence, MaxCheckpointBytes)
	}
	ev := &Evidence{Checkpoint: note, Entries: []EvidenceEntry{}}
	sc := bufio.NewScanner(io.LimitReader(entries, MaxEvidenceBytes))
	sc.Buffer(make([]byte, 0, 4096), maxEvidenceLine)
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if line == 1 {
			if err := strict(b, &ev.Header); err != nil {
				return nil, fmt.Errorf("%w: line 1 is not an evidence header: %v", ErrBadEvidence, err)
			}
			if ev.Header.Format != EvidenceFormat {
				return nil, fmt.Errorf("%w: format %q, want %q", ErrBadEvidence, ev.Header.Format, EvidenceFormat)
			}
			continue
		}
		if len(ev.Entries) == MaxEvidenceEntries {
			return nil, fmt.Errorf("%w: more than %d entries", ErrBadEvidence, MaxEvidenceEntries)
		}
		var e EvidenceEntry
		if err := strict(b, &e); err != nil {
			return nil, fmt.Errorf("%w: line %d is not an entry: %v", ErrBadEvidence, line, err)
		}
		if e.Entry != nil && len(e.Entry.Fields) == 0 {
			e.Entry.Fields = nil // as the leaf reads: no fields
		}
		if len(e.Proof) > 64 {
			return nil, fmt.Errorf("%w: entry %d: a proof of %d hashes", ErrBadEvidence, e.Seq, len(e.Proof))
		}
		for _, x := range e.Proof {
			if len(x) != 32 {
				return nil, fmt.Errorf("%w: entry %d: a proof hash of %d bytes", ErrBadEvidence, e.Seq, len(x))
			}
		}
		ev.Entries = append(ev.Entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: entries file, line %d: %v", ErrBadEvidence, line+1, err)
	}
	if line == 0 {
		return nil, fmt.Errorf("%w: the entries file is empty", ErrBadEvidence)
	}
	return ev, nil
}

// strict decodes one JSON value from b, known fields only, nothing after.
func strict(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("data after the value")
	}
	return nil
}

// EvidenceReport is what a verified bundle shows.
type EvidenceReport struct {
	Entries int
	// Size is the signed checkpoint's log size.
	Size     uint64
	From, To time.Time
}

// VerifyEvidence checks a bundle offline with the log's verifier key: the
// checkpoint's signature; the header's format and count of entries; for
// each entry, that its leaf is a canonical audit entry of its seq, that
// its decoded form says what the leaf says, that it is timed in the
// window, that entries come in increasing order, and that its inclusion
// proof takes its leaf hash to the signed root. An error wraps
// ErrBadEvidence (or audit.ErrBadCheckpoint) and names the entry.
func VerifyEvidence(ev *Evidence, vkey string) (*EvidenceReport, error) {
	cp, err := audit.Open(ev.Checkpoint, vkey)
	if err != nil {
		return nil, fmt.Errorf("evidence checkpoint: %w", err)
	}
	h := ev.Header
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrBadEvidence}, args...)...)
	}
	switch {
	case h.Format != EvidenceFormat:
		return nil, bad("format %q, want %q", h.Format, EvidenceFormat)
	case h.Size != cp.Size:
		return nil, bad("the header names a log of size %d, the checkpoint signs size %d", h.Size, cp.Size)
	case h.Entries != len(ev.Entries):
		return nil, bad("the header counts %d entries, the file holds %d: entries were added or removed", h.Entries, len(ev.Entries))
	case !h.To.IsZero() && !h.To.After(h.From):
		return nil, bad("the window ends before it starts")
	}
	prev := int64(0)
	for _, x := range ev.Entries {
		e, err := audit.ParseLeaf(x.Leaf)
		switch {
		case err != nil:
			return nil, bad("entry %d: its leaf is not an audit entry", x.Seq)
		case e.Seq != x.Seq:
			return nil, bad("entry %d: its leaf is entry %d", x.Seq, e.Seq)
		case x.Seq <= prev:
			return nil, bad("entry %d comes after entry %d: entries are in increasing order, each once", x.Seq, prev)
		case x.Seq < 1 || uint64(x.Seq) > cp.Size:
			return nil, bad("entry %d is not in the checkpoint of size %d", x.Seq, cp.Size)
		case x.Entry == nil:
			return nil, bad("entry %d: no decoded entry", x.Seq)
		}
		prev = x.Seq
		if what := x.Entry.differs(&e); what != "" {
			return nil, bad("entry %d: its %s is not what its leaf holds (the line was edited)", x.Seq, what)
		}
		if e.Time.Before(h.From) || !h.To.IsZero() && !e.Time.Before(h.To) {
			return nil, bad("entry %d is timed %s, outside the window", x.Seq, e.Time.Format(time.RFC3339Nano))
		}
		if err := proof.VerifyInclusion(audit.Hasher, uint64(x.Seq-1), cp.Size, audit.Hasher.HashLeaf(x.Leaf), x.Proof, cp.Root); err != nil {
			return nil, bad("entry %d: its inclusion proof does not take its leaf to the signed root (the leaf or the proof was altered): %v", x.Seq, err)
		}
	}
	return &EvidenceReport{Entries: len(ev.Entries), Size: cp.Size, From: h.From, To: h.To}, nil
}
