package audit

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// ErrBadCheckpoint is returned for a checkpoint whose signature or body does
// not verify.
var ErrBadCheckpoint = errors.New("bad checkpoint")

// Checkpoint is a signed tree head.
type Checkpoint struct {
	Origin string // the log's name, first line of the note
	Size   uint64
	Root   []byte
	Index  *IndexHead // the subject index log's head; nil in checkpoints made before it
	Note   []byte     // the signed note as served
}

// IndexHead is the head of the subject index log a checkpoint signs: the
// index holds a leaf for each entry naming a subject from the log's entry
// From on (1, or the first entry after the upgrade that added the index),
// Size leaves in all, with root Root.
type IndexHead struct {
	From int64
	Size uint64
	Root []byte
}

// indexLine opens the note's extension line that signs the index head.
const indexLine = "subject-index"

// Body renders the C2SP tlog-checkpoint body: origin, size and root, then,
// when index is not nil, one extension line
// "subject-index <from> <size> <base64 root>".
func Body(origin string, size uint64, root []byte, index *IndexHead) string {
	b := fmt.Sprintf("%s\n%d\n%s\n", origin, size, base64.StdEncoding.EncodeToString(root))
	if index != nil {
		b += fmt.Sprintf("%s %d %d %s\n", indexLine, index.From, index.Size, base64.StdEncoding.EncodeToString(index.Root))
	}
	return b
}

// Signer signs checkpoints with an Ed25519 key.
type Signer struct {
	origin string
	signer note.Signer
	vkey   string
}

// NewSigner derives the checkpoint signing key from a 32-byte seed (the
// keyring derives it from the root key). origin names the log.
func NewSigner(origin string, seed []byte) (*Signer, error) {
	if len(seed) != 32 {
		return nil, fmt.Errorf("signing seed is %d bytes, want 32", len(seed))
	}
	// note.GenerateKey draws the Ed25519 seed from its reader: a reader
	// that yields our seed makes the key deterministic.
	skey, vkey, err := note.GenerateKey(bytes.NewReader(seed), origin)
	if err != nil {
		return nil, fmt.Errorf("checkpoint key: %w", err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("checkpoint key: %w", err)
	}
	return &Signer{origin: origin, signer: s, vkey: vkey}, nil
}

// VerifierKey returns the public key in note format, for outside
// verifiers ("name+hash+base64").
func (s *Signer) VerifierKey() string { return s.vkey }

// Origin returns the log's name.
func (s *Signer) Origin() string { return s.origin }

// Sign returns the checkpoint of a tree of size with root, and of the
// subject index log's head when index is not nil.
func (s *Signer) Sign(size uint64, root []byte, index *IndexHead) (*Checkpoint, error) {
	msg, err := note.Sign(&note.Note{Text: Body(s.origin, size, root, index)}, s.signer)
	if err != nil {
		return nil, fmt.Errorf("sign checkpoint: %w", err)
	}
	return &Checkpoint{Origin: s.origin, Size: size, Root: root, Index: index, Note: msg}, nil
}

// Open verifies a signed checkpoint with the verifier key and parses it.
func Open(msg []byte, vkey string) (*Checkpoint, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("verifier key: %w", err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCheckpoint, err)
	}
	lines := strings.SplitN(n.Text, "\n", 4)
	if len(lines) < 4 || lines[0] != v.Name() {
		return nil, fmt.Errorf("%w: body is not a checkpoint of %q", ErrBadCheckpoint, v.Name())
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: size %q", ErrBadCheckpoint, lines[1])
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != 32 {
		return nil, fmt.Errorf("%w: root hash", ErrBadCheckpoint)
	}
	c := &Checkpoint{Origin: lines[0], Size: size, Root: root, Note: msg}
	// Checkpoints made before the subject index end here; later ones have
	// exactly one extension line, the index head's.
	if lines[3] != "" {
		c.Index, err = parseIndexLine(lines[3])
		if err != nil {
			return nil, err
		}
	}
	if Body(c.Origin, c.Size, c.Root, c.Index) != n.Text {
		return nil, fmt.Errorf("%w: body is not in canonical form", ErrBadCheckpoint)
	}
	return c, nil
}

func parseIndexLine(s string) (*IndexHead, error) {
	f := strings.Split(strings.TrimSuffix(s, "\n"), " ")
	if len(f) != 4 || f[0] != indexLine {
		return nil, fmt.Errorf("%w: unknown extension line", ErrBadCheckpoint)
	}
	from, err1 := strconv.ParseInt(f[1], 10, 64)
	size, err2 := strconv.ParseUint(f[2], 10, 64)
	root, err3 := base64.StdEncoding.DecodeString(f[3])
	if err1 != nil || err2 != nil || err3 != nil || from < 1 || len(root) != 32 {
		return nil, fmt.Errorf("%w: subject index line", ErrBadCheckpoint)
	}
	return &IndexHead{From: from, Size: size, Root: root}, nil
}
