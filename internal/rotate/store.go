package rotate

import (
	"context"
	"time"
)

// Version is a root key version as the store keeps it. Versions made by
// a rotation hold their seed, sealed under the versions key; the first
// version lives in the keyring file (or the development key file) and has
// a row only once a rotation has begun, to record its retirement.
type Version struct {
	Version uint32
	// Sealed is the version's seed sealed under the versions key
	// (nonce ‖ ciphertext ‖ tag), nil for a version kept in the keyring
	// file and for a retired one (its seed is destroyed).
	Sealed []byte
	// Created is when the rotation added it; it wraps new keys from
	// Created plus the activation delay on.
	Created time.Time
	// Retired is when nothing wrapped under it was left; zero while in
	// use.
	Retired time.Time
	// Cursor is the rewrap pass's progress: the seq of the last subject
	// whose key it rewrapped (or found rewrapped already).
	Cursor int64
	// Rewrapped counts the keys the pass rewrapped.
	Rewrapped int64
	// Done is when the pass reached the last subject; zero while it
	// runs.
	Done time.Time
}

// Wrapped is one subject's wrapped data key.
type Wrapped struct {
	Seq     int64
	Subject string
	Key     []byte
}

// Secret is one operator's KEK-sealed secret (the TOTP seed).
type Secret struct {
	Operator string
	Sealed   []byte
}

// Keys is what a rotation needs of a store.
type Keys interface {
	// RootKeys returns the versions the store records, oldest first.
	RootKeys(ctx context.Context) ([]Version, error)
	// PutRootKey inserts v, or replaces the row of its version.
	PutRootKey(ctx context.Context, v Version) error
	// WrappedKeys returns up to limit subjects' wrapped keys with a seq
	// above after, by seq; erased subjects have none and are skipped.
	WrappedKeys(ctx context.Context, after int64, limit int) ([]Wrapped, error)
	// RewrapKey replaces the subject's wrapped key old by new, and
	// reports false (changing nothing) when the stored key is not old
	// any more (erased, or rewrapped by another node).
	RewrapKey(ctx context.Context, seq int64, old, new []byte) (bool, error)
	// WrappedSecrets returns every operator's sealed secret.
	WrappedSecrets(ctx context.Context) ([]Secret, error)
	// RewrapSecret is RewrapKey for an operator's secret.
	RewrapSecret(ctx context.Context, operator string, old, new []byte) (bool, error)
	// KeyVersions counts the wrapped keys and sealed secrets by the KEK
	// version they are wrapped under (their first four bytes).
	KeyVersions(ctx context.Context) (map[uint32]int64, error)
}
