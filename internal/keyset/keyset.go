// Package keyset holds the unsealed key material a server runs on: the
// data keyring (the root key versions, package envelope) and, kept apart
// from it, the seeds of the audit checkpoint signer and of the partner CA,
// and the key that seals root key versions added by a rotation.
//
// # Hierarchies
//
// The signer and the CA are generated at `coffre keys init` (or with a
// new development key file) and rest under wrapping keys of their own, so
// that whoever holds the data keyring (the root seeds) can neither sign a
// checkpoint nor issue a partner certificate. Keyrings made before that
// derived both from the oldest root seed (HKDF-SHA-256, no salt, labels
// [LegacyAuditLabel] and [LegacyCALabel]); [FromOldest] still derives them
// so, for those keyrings only, so that their checkpoints stay verifiable
// and their partners' certificates valid.
//
// The package does no I/O and no logging; key material never appears in
// an error.
package keyset

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/coffre/coffre/internal/envelope"
)

// Labels of the HKDF derivations from the oldest root seed.
const (
	// LegacyAuditLabel derived the audit signer's seed of a keyring made
	// before the hierarchies were separated.
	LegacyAuditLabel = "coffre audit signing"
	// LegacyCALabel derived the partner CA's seed of such a keyring.
	LegacyCALabel = "coffre partner ca"
	// VersionsLabel names the versions key: of the unseal key in a sealed
	// keyring, of the oldest root seed in a development key file made
	// before the key file kept one.
	VersionsLabel = "coffre root key versions"
)

// SeedSize is the size of the signer's and the CA's Ed25519 seeds and of
// the versions key.
const SeedSize = 32

// Set is the unsealed key material. Its owner wipes it at a seal.
type Set struct {
	// Ring is the data keyring: DEK wrapping, blind indexes, sector
	// pseudonyms and subject ids.
	Ring *envelope.Keyring
	// AuditSeed is the Ed25519 seed of the audit checkpoint signer.
	AuditSeed []byte
	// CASeed is the Ed25519 seed of the partner CA.
	CASeed []byte
	// VersionsKey is the 32-byte key that seals root key versions added
	// by a rotation.
	VersionsKey []byte
}

// Check reports a set with a missing keyring or a seed of the wrong size.
func (s *Set) Check() error {
	switch {
	case s.Ring == nil:
		return errors.New("key set: no data keyring")
	case len(s.AuditSeed) != SeedSize:
		return fmt.Errorf("key set: audit signer seed of %d bytes, want %d", len(s.AuditSeed), SeedSize)
	case len(s.CASeed) != SeedSize:
		return fmt.Errorf("key set: partner CA seed of %d bytes, want %d", len(s.CASeed), SeedSize)
	case len(s.VersionsKey) != SeedSize:
		return fmt.Errorf("key set: versions key of %d bytes, want %d", len(s.VersionsKey), SeedSize)
	}
	return nil
}

// Wipe zeroes the seeds and the versions key and wipes the keyring
// (envelope.Keyring.Wipe says what Go cannot wipe). The set must not be
// used afterwards.
func (s *Set) Wipe() {
	if s.Ring != nil {
		s.Ring.Wipe()
	}
	clear(s.AuditSeed)
	clear(s.CASeed)
	clear(s.VersionsKey)
}

// FromOldest derives SeedSize bytes from the oldest of the root seeds
// (by version) with HKDF-SHA-256, no salt, and label: how keyrings made
// before the hierarchies were separated derive their signer and CA
// ([LegacyAuditLabel], [LegacyCALabel]), and how such a development key
// file derives its versions key ([VersionsLabel]).
func FromOldest(seeds map[uint32][]byte, label string) ([]byte, error) {
	if len(seeds) == 0 {
		return nil, errors.New("key set: no root key versions")
	}
	oldest := slices.Min(slices.Collect(maps.Keys(seeds)))
	k, err := hkdf.Key(sha256.New, seeds[oldest], nil, label, SeedSize)
	if err != nil {
		return nil, fmt.Errorf("derive %s: %w", label, err)
	}
	return k, nil
}

// Legacy returns the signer's and the CA's seeds of a keyring made before
// the hierarchies were separated: derived from its oldest root seed.
func Legacy(seeds map[uint32][]byte) (auditSeed, caSeed []byte, err error) {
	if auditSeed, err = FromOldest(seeds, LegacyAuditLabel); err != nil {
		return nil, nil, err
	}
	if caSeed, err = FromOldest(seeds, LegacyCALabel); err != nil {
		clear(auditSeed)
		return nil, nil, err
	}
	return auditSeed, caSeed, nil
}

// ErrSealedVersion is returned by [OpenVersion] for a sealed secret that
// the versions key does not open (another key, another label or number,
// or damaged bytes).
var ErrSealedVersion = errors.New("the versions key does not open it")

// SealVersion seals secret (a rotated root key version's seed, a blind
// index generation's key) under the versions key with AES-256-GCM, bound
// by its associated data to label and n (label ‖ 0 ‖ n, big-endian), so
// that it cannot pass for another version's: nonce ‖ ciphertext ‖ tag.
func SealVersion(versionsKey []byte, label string, n uint32, secret []byte) ([]byte, error) {
	a, err := versionsAEAD(versionsKey)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, a.NonceSize())
	rand.Read(nonce)
	return a.Seal(nonce, nonce, secret, versionAD(label, n)), nil
}

// OpenVersion opens what SealVersion sealed for label and n.
func OpenVersion(versionsKey []byte, label string, n uint32, sealed []byte) ([]byte, error) {
	a, err := versionsAEAD(versionsKey)
	if err != nil {
		return nil, err
	}
	if len(sealed) < a.NonceSize()+a.Overhead() {
		return nil, ErrSealedVersion
	}
	pt, err := a.Open(nil, sealed[:a.NonceSize()], sealed[a.NonceSize():], versionAD(label, n))
	if err != nil {
		return nil, ErrSealedVersion
	}
	return pt, nil
}

func versionAD(label string, n uint32) []byte {
	return binary.BigEndian.AppendUint32(append([]byte(label), 0), n)
}

func versionsAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != SeedSize {
		return nil, fmt.Errorf("key set: versions key of %d bytes, want %d", len(key), SeedSize)
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}
