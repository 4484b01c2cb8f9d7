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
	Note   []byte // the signed note as served
}

// Body renders the C2SP tlog-checkpoint body.
func Body(origin string, size uint64, root []byte) string {
	return fmt.Sprintf("%s\n%d\n%s\n", origin, size, base64.StdEncoding.EncodeToString(root))
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

// Sign returns the checkpoint of a tree of size with root.
func (s *Signer) Sign(size uint64, root []byte) (*Checkpoint, error) {
	msg, err := note.Sign(&note.Note{Text: Body(s.origin, size, root)}, s.signer)
	if err != nil {
		return nil, fmt.Errorf("sign checkpoint: %w", err)
	}
	return &Checkpoint{Origin: s.origin, Size: size, Root: root, Note: msg}, nil
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
	return &Checkpoint{Origin: lines[0], Size: size, Root: root, Note: msg}, nil
}
