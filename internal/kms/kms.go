// Package kms is the contract between Coffre and whatever keeps its root
// key wrapped outside the server: a PKCS#11 token today
// (internal/kms/pkcs11), a cloud KMS later. A [Wrapper] encrypts a small
// secret (the root seed, 16 to 64 bytes) under a key that never leaves
// its keeper, so that a server can unseal on its own at restart.
//
// Every wrapped blob has the layout of [Blob]: a version byte, the kind of
// wrapper and the id of the key it was wrapped under, then the wrapper's
// own payload (for an AEAD: nonce and sealed text). The header is bound to
// the payload as additional data, so that a blob is refused with
// [ErrOtherKey] when it names another key, and with [ErrTampered] when any
// byte of it was changed. Errors never carry key material: neither the
// plaintext, nor the wrapped bytes, nor a PIN.
package kms

import (
	"context"
	"errors"
	"fmt"
)

// Wrapper wraps and unwraps a secret with a key it keeps. Implementations
// are safe for concurrent use.
//
// Wrap returns a blob in the [Blob] layout whose Kind is Name() and whose
// KeyID names the wrapping key. Unwrap gives back the plaintext of a blob
// Wrap made with the same key, and otherwise fails:
//   - [ErrMalformed]: not a blob, or of a version this build does not know;
//   - [ErrOtherKey] (an *[OtherKeyError]): made by another kind of wrapper
//     or under another key id;
//   - [ErrTampered]: the header or payload was changed, or the key with
//     that id is not the key that wrapped it (a key deleted and
//     generated again under the same label).
//
// Other errors (the keeper unreachable, a context done) are returned
// wrapped and are worth a retry. No error carries the plaintext, the
// wrapped bytes or any credential.
type Wrapper interface {
	Wrap(ctx context.Context, plaintext []byte) ([]byte, error)
	Unwrap(ctx context.Context, wrapped []byte) ([]byte, error)
	// Name is the kind of wrapper ("pkcs11"), as written in its blobs.
	Name() string
}

var (
	// ErrMalformed: the bytes are not a wrapped blob this build reads.
	ErrMalformed = errors.New("kms: malformed wrapped key")
	// ErrOtherKey: the blob was wrapped by another wrapper or key.
	ErrOtherKey = errors.New("kms: wrapped under another key")
	// ErrTampered: the blob does not authenticate under the key it names.
	ErrTampered = errors.New("kms: wrapped key fails authentication (tampered, or the key was replaced)")
)

// OtherKeyError says which key a blob wants and which one was tried. Key
// ids and kinds are names, not secrets. It matches [ErrOtherKey] with
// errors.Is.
type OtherKeyError struct {
	Want, Have Header // Want: what the blob names; Have: the wrapper's
}

func (e *OtherKeyError) Error() string {
	return fmt.Sprintf("kms: wrapped under %s key %q, not %s key %q",
		e.Want.Kind, e.Want.KeyID, e.Have.Kind, e.Have.KeyID)
}

// Is makes errors.Is(err, ErrOtherKey) hold.
func (e *OtherKeyError) Is(target error) bool { return target == ErrOtherKey }

// Version is the blob layout this build writes and reads.
const Version = 1

// MaxName bounds Kind and KeyID (bytes).
const MaxName = 255

// Header is what a blob says about how it was wrapped.
type Header struct {
	Kind  string // the wrapper's Name
	KeyID string // the wrapping key's label or id
}

// Blob is a wrapped secret split into its parts:
//
//	byte     Version (1)
//	byte     len(Kind), then Kind
//	byte     len(KeyID), then KeyID
//	...      Payload, the wrapper's own (for AES-GCM: nonce ‖ ciphertext ‖ tag)
//
// AAD is every byte before Payload: a wrapper authenticates it with the
// payload, so that a header changed in transit fails Unwrap.
type Blob struct {
	Header
	AAD     []byte
	Payload []byte
}

// NewBlob starts a blob for h: it returns the header bytes, which are
// also the additional data to authenticate. The wrapper appends its
// payload to them.
func NewBlob(h Header) ([]byte, error) {
	if h.Kind == "" || len(h.Kind) > MaxName || h.KeyID == "" || len(h.KeyID) > MaxName {
		return nil, fmt.Errorf("kms: kind and key id must be 1 to %d bytes", MaxName)
	}
	b := make([]byte, 0, 3+len(h.Kind)+len(h.KeyID))
	b = append(b, Version, byte(len(h.Kind)))
	b = append(b, h.Kind...)
	b = append(b, byte(len(h.KeyID)))
	b = append(b, h.KeyID...)
	return b, nil
}

// ParseBlob splits b into its parts; Payload and AAD alias b. It checks
// the layout only, never authenticity.
func ParseBlob(b []byte) (Blob, error) {
	if len(b) < 1 || b[0] != Version {
		return Blob{}, ErrMalformed
	}
	rest := b[1:]
	name := func() (string, bool) {
		if len(rest) < 1 || rest[0] == 0 || len(rest) < 1+int(rest[0]) {
			return "", false
		}
		n := int(rest[0])
		s := string(rest[1 : 1+n])
		rest = rest[1+n:]
		return s, true
	}
	kind, ok := name()
	if !ok {
		return Blob{}, ErrMalformed
	}
	id, ok := name()
	if !ok {
		return Blob{}, ErrMalformed
	}
	head := len(b) - len(rest)
	return Blob{Header: Header{Kind: kind, KeyID: id}, AAD: b[:head:head], Payload: rest}, nil
}

// Check parses b and checks that it names the wrapper h, as every
// Unwrap does first.
func Check(b []byte, h Header) (Blob, error) {
	blob, err := ParseBlob(b)
	if err != nil {
		return Blob{}, err
	}
	if blob.Header != h {
		return Blob{}, &OtherKeyError{Want: blob.Header, Have: h}
	}
	return blob, nil
}
