// Package audit defines Coffre's audit entries as the leaves of an RFC 6962
// Merkle tree, and their signed checkpoints in the C2SP signed-note
// checkpoint format (Ed25519).
//
// It is pure: no I/O, no logging. Hashing and proofs come from
// transparency-dev/merkle (the library behind Certificate Transparency and
// Sigstore logs); signatures from golang.org/x/mod/sumdb/note. Package
// auditlog runs the integrator and the verifier against a store.
//
// # Leaf encoding
//
// An entry's leaf is "coffre-audit/v1" followed by each field as a uvarint
// length and its bytes, in a fixed order (seq, time, actor, action,
// subject, purpose, reason, fields, decision, origin). Any change to any
// field, or to its position in the sequence, changes the leaf hash.
//
// # Sealed reasons (leaf v2)
//
// The reason an operator typed about a person is personal data, which an
// erasure must make unreadable without changing a hash. A leaf whose
// reason is sealed is "coffre-audit/v2", the same fields in the same
// order, but for the reason's, which is one form byte and its bytes:
// 's' and the reason sealed under the subject's data key (AES-GCM,
// [SealReason]: erasing the key erases the reason, the leaf's bytes stay
// as they were), or 'd' alone, a reason that was given but not kept (the
// subject had no data key: unknown or erased). Leaves of entries with no
// reason, or no subject, stay v1, and v1 leaves keep verifying.
//
// # Subject index
//
// A second Merkle log, the subject index, holds a leaf for each entry that
// names a subject, chained per subject by the previous entry's sequence
// number ([IndexLeafData]); checkpoints sign its size and root beside the
// log's ([IndexHead]), so that a person's history can be proved complete.
package audit

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/transparency-dev/merkle/rfc6962"
)

// Entry is one access or change. It names ids and field names, never a
// personal value.
type Entry struct {
	Seq      int64 // 1, 2, 3…: leaf index Seq-1
	Time     time.Time
	Actor    string // operator id, "system", "auth", "signin", "unknown:<16 hex>" (a login for no account, a sign-in for no record: a keyed pseudonym of the name or contact), or SubjectActor(id) (a person acting on their own record)
	Action   string // read, lookup, create, update, erase, import, login…
	Subject  string // subject id, when one is concerned
	Purpose  string
	Reason   string   // as typed by the operator, length-capped
	Fields   []string // the fields returned or changed
	Decision string   // "allow", or "deny:" + error code
	Origin   string   // client address
	// SealedReason, when not empty, is the reason sealed under the
	// subject's data key ([SealReason]), which the leaf (v2) holds in
	// place of Reason: Reason is then not part of the leaf, only what
	// [OpenReason] opened of it ("" until then, or once the key is gone).
	SealedReason []byte
	// ReasonDropped: the leaf (v2) says a reason was given and not kept
	// (its subject had no data key).
	ReasonDropped bool
}

// ReasonErased reports whether the entry had a reason that cannot be read
// any more: dropped, or sealed and not opened (its subject's key erased).
func (e *Entry) ReasonErased() bool {
	return e.ReasonDropped || len(e.SealedReason) > 0 && e.Reason == ""
}

// sealed reports whether e's leaf is v2.
func (e *Entry) sealed() bool { return len(e.SealedReason) > 0 || e.ReasonDropped }

// SubjectActor is the actor of an entry of a person acting on their own
// record (signed in as that subject): "subject:" and the id.
func SubjectActor(subject string) string { return "subject:" + subject }

// Prefixes of the two leaf versions (of the same length).
const (
	leafPrefix   = "coffre-audit/v1"
	leafPrefixV2 = "coffre-audit/v2"
)

// Forms of a v2 leaf's reason.
const (
	formSealed  = 's'
	formDropped = 'd'
)

// LeafData returns the canonical bytes of e, the Merkle leaf: v2 when its
// reason is sealed or dropped, else v1.
func LeafData(e *Entry) []byte {
	b := make([]byte, 0, 160+len(e.SealedReason))
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	if e.sealed() {
		b = append(b, leafPrefixV2...)
	} else {
		b = append(b, leafPrefix...)
	}
	str(strconv.FormatInt(e.Seq, 10))
	str(strconv.FormatInt(e.Time.UnixMicro(), 10))
	str(e.Actor)
	str(e.Action)
	str(e.Subject)
	str(e.Purpose)
	switch {
	case len(e.SealedReason) > 0:
		b = binary.AppendUvarint(b, uint64(1+len(e.SealedReason)))
		b = append(b, formSealed)
		b = append(b, e.SealedReason...)
	case e.ReasonDropped:
		b = binary.AppendUvarint(b, 1)
		b = append(b, formDropped)
	default:
		str(e.Reason)
	}
	str(strings.Join(e.Fields, ","))
	str(e.Decision)
	str(e.Origin)
	return b
}

// Hasher is the RFC 6962 SHA-256 hasher of the tree.
var Hasher = rfc6962.DefaultHasher

// LeafHash returns the Merkle leaf hash of e.
func LeafHash(e *Entry) []byte { return Hasher.HashLeaf(LeafData(e)) }

// ErrBadLeaf is returned by ParseLeaf for bytes LeafData did not produce.
var ErrBadLeaf = errors.New("malformed audit leaf")

// ParseLeaf decodes a leaf written by LeafData, v1 or v2. The leaf is
// what the store keeps of an entry (so that what is verified is what is
// stored, and nothing else): ParseLeaf(LeafData(e)) equals e, times at
// microseconds, but for the Reason of an entry whose reason is sealed
// (not part of the leaf: "" as parsed).
func ParseLeaf(b []byte) (Entry, error) {
	var e Entry
	v2 := bytes.HasPrefix(b, []byte(leafPrefixV2))
	if !v2 && !bytes.HasPrefix(b, []byte(leafPrefix)) {
		return e, ErrBadLeaf
	}
	all := b
	b = b[len(leafPrefix):]
	var fs [10]string
	for i := range fs {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return Entry{}, ErrBadLeaf
		}
		fs[i] = string(b[k : k+int(n)])
		b = b[k+int(n):]
	}
	if len(b) != 0 {
		return Entry{}, ErrBadLeaf
	}
	seq, err1 := strconv.ParseInt(fs[0], 10, 64)
	us, err2 := strconv.ParseInt(fs[1], 10, 64)
	if err1 != nil || err2 != nil {
		return Entry{}, ErrBadLeaf
	}
	e = Entry{Seq: seq, Time: time.UnixMicro(us).UTC(), Actor: fs[2], Action: fs[3], Subject: fs[4], Purpose: fs[5], Reason: fs[6], Decision: fs[8], Origin: fs[9]}
	if v2 {
		r := fs[6]
		e.Reason = ""
		switch {
		case len(r) > 1 && r[0] == formSealed:
			e.SealedReason = []byte(r[1:])
		case r == string(formDropped):
			e.ReasonDropped = true
		default:
			return Entry{}, ErrBadLeaf
		}
	}
	if fs[7] != "" {
		e.Fields = strings.Split(fs[7], ",")
	}
	if !bytes.Equal(LeafData(&e), all) {
		return Entry{}, ErrBadLeaf // only the canonical form LeafData writes
	}
	return e, nil
}
