// Package envelope does Coffre's encryption at rest: a data key (DEK) per
// subject, wrapped by a versioned root key (KEK); each field sealed
// separately with AES-256-GCM under the subject's DEK; and keyed blind
// indexes for exact-match lookups.
//
// # Binding
//
// Every ciphertext carries associated data that names what it belongs to:
//
//	wrapped DEK:  "coffre/dek/v1"   ‖ 0 ‖ subject id ‖ 0 ‖ KEK version
//	field:        "coffre/field/v1" ‖ 0 ‖ subject id ‖ 0 ‖ field name ‖ 0 ‖ DEK version
//	secret:       "coffre/secret/v1" ‖ 0 ‖ label ‖ 0 ‖ KEK version
//
// so a ciphertext copied to another subject or another field fails to open.
// The field binding names the DEK version, not the KEK version, so that a
// root-key rotation only rewraps DEKs and never re-encrypts data.
//
// # Derived keys
//
// The root key material of each version is a 32-byte seed. The KEK of a
// version, the blind-index key, the sector pseudonym key and the
// subject-id key are derived from seeds with HKDF-SHA-256 and distinct
// labels. All but the KEKs derive from the oldest version so that they
// survive rotation. The audit signer and the partner CA are not derived
// here: they are keys of their own (package keyset).
//
// # Blind-index generations
//
// The derived blind-index key is generation 1. A rebuild of the index
// (package reindex) makes generation 2, 3, … with a random key of its
// own, loaded with [Keyring.AddBlindGen]; [Keyring.SetBlind] says which
// generation lookups use and which other one writes keep up as well
// (while it is built, and just after the switch). [Keyring.Blind] is a
// snapshot of both, so that one write hashes under one consistent set.
//
// The package does no I/O and no logging; key material never appears in an
// error.
package envelope

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/coffre/coffre/internal/subjectid"
)

// Sizes of the formats.
const (
	SeedSize      = 32 // root key material of one version
	DEKSize       = 32 // AES-256
	nonceSize     = 12
	tagSize       = 16
	BlindIndexLen = 16 // bytes of HMAC-SHA-256 kept
)

// Errors callers branch on.
var (
	// ErrDecrypt is returned when a ciphertext does not open: wrong key,
	// wrong binding (moved to another subject or field), or tampered bytes.
	ErrDecrypt = errors.New("ciphertext does not open")
	// ErrUnknownKeyVersion is returned for a wrapped key whose KEK version
	// the keyring does not hold.
	ErrUnknownKeyVersion = errors.New("unknown root key version")
)

// Keyring holds the unsealed root key versions and the keys derived from
// them. It is safe for concurrent use.
type Keyring struct {
	// kv holds the KEK versions and the current one; a rotation swaps in
	// a new value (copy on write), so a read takes no lock.
	kv atomic.Pointer[kekVersions]
	// blind holds the blind-index generations (blind.go): copy on
	// write, like kv.
	blind atomic.Pointer[Blind]
	// stable is generation 1's key, kept for the pseudonyms that must not
	// change with a rebuild of the index (StableHash).
	stable *blindGen
	sector []byte
	ids    *subjectid.Codec
}

// NewKeyring derives the keys from the root seeds, one per version, and uses
// current to wrap new keys.
func NewKeyring(seeds map[uint32][]byte, current uint32) (*Keyring, error) {
	if len(seeds) == 0 {
		return nil, errors.New("keyring: no root key versions")
	}
	if _, ok := seeds[current]; !ok {
		return nil, fmt.Errorf("keyring: current version %d not among the root keys", current)
	}
	versions := make([]uint32, 0, len(seeds))
	for v, s := range seeds {
		if len(s) != SeedSize {
			return nil, fmt.Errorf("keyring: root key version %d is %d bytes, want %d", v, len(s), SeedSize)
		}
		if v == 0 {
			return nil, errors.New("keyring: root key version 0 is reserved")
		}
		versions = append(versions, v)
	}
	sort.Slice(versions, func(i, j int) bool { return versions[i] < versions[j] })
	k := &Keyring{}
	kv := &kekVersions{keks: map[uint32]cipher.AEAD{}, current: current}
	for _, v := range versions {
		a, err := newKEK(seeds[v])
		if err != nil {
			return nil, err
		}
		kv.keks[v] = a
	}
	k.kv.Store(kv)
	oldest := seeds[versions[0]]
	blindKey, err := derive(oldest, "coffre blind index", 32)
	if err != nil {
		return nil, err
	}
	k.stable = newBlindGen(1, blindKey)
	k.blind.Store(newBlind(map[uint32]*blindGen{1: newBlindGen(1, slices.Clone(blindKey))}, 1, 0))
	if k.sector, err = derive(oldest, "coffre sector pseudonyms", 32); err != nil {
		return nil, err
	}
	idKey, err := derive(oldest, "coffre subject ids", 32)
	if err != nil {
		return nil, err
	}
	if k.ids, err = subjectid.New(idKey); err != nil {
		return nil, err
	}
	return k, nil
}

// kekVersions is a keyring's KEKs by version and the version that wraps
// new keys.
type kekVersions struct {
	keks    map[uint32]cipher.AEAD
	current uint32
}

func newKEK(seed []byte) (cipher.AEAD, error) {
	kek, err := derive(seed, "coffre kek", DEKSize)
	if err != nil {
		return nil, err
	}
	defer clear(kek)
	return newGCM(kek)
}

// Current returns the KEK version that wraps new keys.
func (k *Keyring) Current() uint32 { return k.kv.Load().current }

// Versions returns the KEK versions the keyring holds, oldest first.
func (k *Keyring) Versions() []uint32 {
	kv := k.kv.Load()
	out := make([]uint32, 0, len(kv.keks))
	for v := range kv.keks {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// Has reports whether the keyring holds KEK version v.
func (k *Keyring) Has(v uint32) bool {
	_, ok := k.kv.Load().keks[v]
	return ok
}

// AddVersion adds the KEK of root key version v (from its seed), for a
// rotation; it does not make it current. The derived keys that outlive
// rotation (blind index, subject ids, pseudonyms) do not change.
func (k *Keyring) AddVersion(v uint32, seed []byte) error {
	switch {
	case v == 0:
		return errors.New("keyring: root key version 0 is reserved")
	case len(seed) != SeedSize:
		return fmt.Errorf("keyring: root key version %d is %d bytes, want %d", v, len(seed), SeedSize)
	}
	a, err := newKEK(seed)
	if err != nil {
		return err
	}
	for {
		old := k.kv.Load()
		if _, ok := old.keks[v]; ok {
			return fmt.Errorf("keyring: root key version %d is there already", v)
		}
		next := &kekVersions{keks: maps.Clone(old.keks), current: old.current}
		next.keks[v] = a
		if k.kv.CompareAndSwap(old, next) {
			return nil
		}
	}
}

// SetCurrent makes version v, which the keyring holds, wrap new keys.
func (k *Keyring) SetCurrent(v uint32) error {
	for {
		old := k.kv.Load()
		if _, ok := old.keks[v]; !ok {
			return fmt.Errorf("keyring: %w %d", ErrUnknownKeyVersion, v)
		}
		if k.kv.CompareAndSwap(old, &kekVersions{keks: old.keks, current: v}) {
			return nil
		}
	}
}

// Retire drops the KEK of version v, which nothing wrapped under it may
// need any more; the current version cannot retire.
func (k *Keyring) Retire(v uint32) error {
	for {
		old := k.kv.Load()
		if v == old.current {
			return fmt.Errorf("keyring: version %d is current and cannot retire", v)
		}
		if _, ok := old.keks[v]; !ok {
			return nil
		}
		next := &kekVersions{keks: maps.Clone(old.keks), current: old.current}
		delete(next.keks, v)
		if k.kv.CompareAndSwap(old, next) {
			return nil
		}
	}
}

// SubjectIDs returns the codec of subject ids. Its key comes from the
// oldest root key version, so ids outlive key rotation.
func (k *Keyring) SubjectIDs() *subjectid.Codec { return k.ids }

// Pseudonym returns the sector pseudonym of a subject id: "psn_" and 26
// base32 characters of HMAC-SHA-256 under a key of the sector's own (itself
// an HMAC of the sector's name under a root-derived key). One-way, stable,
// and different in every sector, so two sectors' data sets cannot be joined
// on ids.
func (k *Keyring) Pseudonym(sector, subject string) string {
	m := hmac.New(sha256.New, k.sector)
	m.Write([]byte(sector))
	sk := m.Sum(nil)
	m = hmac.New(sha256.New, sk)
	m.Write([]byte(subject))
	return "psn_" + pseudonymEncoding.EncodeToString(m.Sum(nil)[:16])
}

var pseudonymEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

func derive(seed []byte, label string, n int) ([]byte, error) {
	key, err := hkdf.Key(sha256.New, seed, nil, label, n)
	if err != nil {
		return nil, fmt.Errorf("derive %s: %w", label, err)
	}
	return key, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	a, err := cipher.NewGCM(b)
	if err != nil {
		return nil, fmt.Errorf("gcm: %w", err)
	}
	return a, nil
}

func ad(parts ...string) []byte {
	n := 0
	for _, p := range parts {
		n += len(p) + 1
	}
	b := make([]byte, 0, n+4)
	for i, p := range parts {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, p...)
	}
	return b
}

func seal(a cipher.AEAD, prefix, pt, adata []byte) []byte {
	out := make([]byte, len(prefix)+nonceSize, len(prefix)+nonceSize+len(pt)+tagSize)
	copy(out, prefix)
	nonce := out[len(prefix):]
	rand.Read(nonce) // never fails (crypto/rand doc)
	return a.Seal(out, nonce, pt, adata)
}

// NewDEK returns a fresh random data key and its wrapped form for subject.
func (k *Keyring) NewDEK(subject string) (*DataKey, []byte, error) {
	raw := make([]byte, DEKSize)
	rand.Read(raw)
	w, err := k.wrap(subject, raw)
	if err != nil {
		return nil, nil, err
	}
	dk, err := newDataKey(subject, 1, raw)
	if err != nil {
		return nil, nil, err
	}
	return dk, w, nil
}

func (k *Keyring) wrap(subject string, raw []byte) ([]byte, error) {
	kv := k.kv.Load()
	var ver [4]byte
	binary.BigEndian.PutUint32(ver[:], kv.current)
	return seal(kv.keks[kv.current], ver[:], raw, append(ad("coffre/dek/v1", subject), append([]byte{0}, ver[:]...)...)), nil
}

// WrappedVersion returns the KEK version a wrapped DEK was made with.
func WrappedVersion(wrapped []byte) (uint32, error) {
	if len(wrapped) < 4+nonceSize+tagSize {
		return 0, ErrDecrypt
	}
	return binary.BigEndian.Uint32(wrapped), nil
}

// Rewrap opens a wrapped DEK and wraps it again under the current KEK
// version, leaving the data it protects untouched.
func (k *Keyring) Rewrap(subject string, wrapped []byte) ([]byte, error) {
	raw, err := k.unwrap(subject, wrapped)
	if err != nil {
		return nil, err
	}
	defer clear(raw)
	return k.wrap(subject, raw)
}

func (k *Keyring) unwrap(subject string, wrapped []byte) ([]byte, error) {
	v, err := WrappedVersion(wrapped)
	if err != nil {
		return nil, err
	}
	a, ok := k.kv.Load().keks[v]
	if !ok {
		return nil, fmt.Errorf("%w %d", ErrUnknownKeyVersion, v)
	}
	raw, err := a.Open(nil, wrapped[4:4+nonceSize], wrapped[4+nonceSize:], append(ad("coffre/dek/v1", subject), append([]byte{0}, wrapped[:4]...)...))
	if err != nil {
		return nil, fmt.Errorf("unwrap data key: %w", ErrDecrypt)
	}
	return raw, nil
}

// OpenDEK unwraps the subject's data key; version is the DEK version stored
// with the record.
func (k *Keyring) OpenDEK(subject string, version uint32, wrapped []byte) (*DataKey, error) {
	raw, err := k.unwrap(subject, wrapped)
	if err != nil {
		return nil, err
	}
	return newDataKey(subject, version, raw)
}

// SealSecret encrypts a server secret (such as a TOTP seed) under the
// current KEK, bound to label (such as the operator id).
func (k *Keyring) SealSecret(label string, pt []byte) []byte {
	kv := k.kv.Load()
	var ver [4]byte
	binary.BigEndian.PutUint32(ver[:], kv.current)
	return seal(kv.keks[kv.current], ver[:], pt, append(ad("coffre/secret/v1", label), append([]byte{0}, ver[:]...)...))
}

// OpenSecret decrypts what SealSecret made for label.
func (k *Keyring) OpenSecret(label string, ct []byte) ([]byte, error) {
	v, err := WrappedVersion(ct)
	if err != nil {
		return nil, err
	}
	a, ok := k.kv.Load().keks[v]
	if !ok {
		return nil, fmt.Errorf("%w %d", ErrUnknownKeyVersion, v)
	}
	pt, err := a.Open(nil, ct[4:4+nonceSize], ct[4+nonceSize:], append(ad("coffre/secret/v1", label), append([]byte{0}, ct[:4]...)...))
	if err != nil {
		return nil, fmt.Errorf("open secret: %w", ErrDecrypt)
	}
	return pt, nil
}

// RewrapSecret opens what SealSecret made for label and seals it again
// under the current KEK version.
func (k *Keyring) RewrapSecret(label string, ct []byte) ([]byte, error) {
	pt, err := k.OpenSecret(label, ct)
	if err != nil {
		return nil, err
	}
	defer clear(pt)
	return k.SealSecret(label, pt), nil
}

// DataKey is one subject's unwrapped data key.
type DataKey struct {
	aead    cipher.AEAD
	subject string
	version uint32
}

func newDataKey(subject string, version uint32, raw []byte) (*DataKey, error) {
	a, err := newGCM(raw)
	if err != nil {
		return nil, err
	}
	return &DataKey{aead: a, subject: subject, version: version}, nil
}

// Version returns the DEK version bound into the field ciphertexts.
func (d *DataKey) Version() uint32 { return d.version }

// appendFieldAD appends the associated data of a field's ciphertext:
// "coffre/field/v1", subject, field, each followed by a zero byte, then
// the DEK version (big-endian).
func (d *DataKey) appendFieldAD(b []byte, field string) []byte {
	b = append(b, "coffre/field/v1\x00"...)
	b = append(b, d.subject...)
	b = append(b, 0)
	b = append(b, field...)
	b = append(b, 0)
	return binary.BigEndian.AppendUint32(b, d.version)
}

// fieldAD returns the associated data of field's ciphertext, built in
// buf, a pooled buffer to give back with putAD: in a buffer of the
// caller's it would escape through the AEAD interface, an allocation a
// field.
func (d *DataKey) fieldAD(field string) (adata []byte, buf *[]byte) {
	buf = adBufs.Get().(*[]byte)
	return d.appendFieldAD((*buf)[:0], field), buf
}

// putAD gives fieldAD's buffer back, grown to hold adata.
func putAD(buf *[]byte, adata []byte) {
	if cap(adata) <= 1024 {
		*buf = adata
		adBufs.Put(buf)
	}
}

// SealedLen is the length of the ciphertext of an n-byte value.
func SealedLen(n int) int { return nonceSize + n + tagSize }

// Seal encrypts one field's value.
func (d *DataKey) Seal(field string, pt []byte) []byte {
	return d.AppendSeal(make([]byte, 0, SealedLen(len(pt))), field, pt)
}

// AppendSeal appends the ciphertext of one field's value to dst (Seal
// without an allocation of its own).
func (d *DataKey) AppendSeal(dst []byte, field string, pt []byte) []byte {
	adata, buf := d.fieldAD(field)
	dst = slices.Grow(dst, SealedLen(len(pt)))
	n := len(dst)
	dst = dst[:n+nonceSize]
	rand.Read(dst[n:]) // never fails (crypto/rand doc)
	dst = d.aead.Seal(dst, dst[n:], pt, adata)
	putAD(buf, adata)
	return dst
}

// adBufs are fieldAD's buffers for a field's associated data (no
// secret: the subject id, the field's name, the key version).
var adBufs = sync.Pool{New: func() any { b := make([]byte, 0, 128); return &b }}

// Open decrypts one field's value; it fails with ErrDecrypt if the
// ciphertext belongs to another subject, field or key.
func (d *DataKey) Open(field string, ct []byte) ([]byte, error) {
	return d.AppendOpen(nil, field, ct)
}

// AppendOpen is Open appending the value to dst, which it returns (dst
// unchanged on an error).
func (d *DataKey) AppendOpen(dst []byte, field string, ct []byte) ([]byte, error) {
	if len(ct) < nonceSize+tagSize {
		return dst, ErrDecrypt
	}
	adata, buf := d.fieldAD(field)
	out, err := d.aead.Open(dst, ct[:nonceSize], ct[nonceSize:], adata)
	putAD(buf, adata)
	if err != nil {
		return dst, ErrDecrypt
	}
	return out, nil
}

// Wipe zeroes the key bytes the keyring owns (the blind-index keys of
// every generation and the sector key) and drops its KEKs and hash
// states, for a seal. The keyring must not be used afterwards. What Go
// cannot wipe stays until the collector reuses the memory: the AES key
// schedules inside crypto/aes (the KEKs' and the subject-id codec's) and
// HMAC states already handed out.
func (k *Keyring) Wipe() {
	for _, g := range k.blind.Load().gens {
		g.wipe()
	}
	k.blind.Store(newBlind(map[uint32]*blindGen{}, 0, 0))
	k.stable.wipe()
	clear(k.sector)
	k.kv.Store(&kekVersions{keks: map[uint32]cipher.AEAD{}})
}
