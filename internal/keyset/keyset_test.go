package keyset

import (
	"bytes"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/coffre/coffre/internal/envelope"
)

// TestLegacy pins the legacy derivation: HKDF-SHA-256 of the oldest seed,
// no salt, the old labels (what envelope.Keyring.SigningSeed and CASeed
// returned before the hierarchies were separated).
func TestLegacy(t *testing.T) {
	seeds := map[uint32][]byte{2: bytes.Repeat([]byte{2}, 32), 1: bytes.Repeat([]byte{1}, 32)}
	a, c, err := Legacy(seeds)
	if err != nil {
		t.Fatal(err)
	}
	for label, got := range map[string][]byte{LegacyAuditLabel: a, LegacyCALabel: c} {
		want, _ := hkdf.Key(sha256.New, seeds[1], nil, label, 32)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: got %x, want %x (from the oldest seed)", label, got, want)
		}
	}
	if bytes.Equal(a, c) {
		t.Error("the signer and the CA derive the same seed")
	}
	if _, err := FromOldest(nil, VersionsLabel); err == nil {
		t.Error("FromOldest of no seeds: want an error")
	}
}

func TestCheckWipe(t *testing.T) {
	ring, err := envelope.NewKeyring(map[uint32][]byte{1: bytes.Repeat([]byte{1}, 32)}, 1)
	if err != nil {
		t.Fatal(err)
	}
	s := &Set{Ring: ring, AuditSeed: bytes.Repeat([]byte{3}, 32), CASeed: bytes.Repeat([]byte{4}, 32), VersionsKey: bytes.Repeat([]byte{5}, 32)}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*Set){
		"no ring":       func(s *Set) { s.Ring = nil },
		"short audit":   func(s *Set) { s.AuditSeed = s.AuditSeed[:31] },
		"no ca":         func(s *Set) { s.CASeed = nil },
		"long versions": func(s *Set) { s.VersionsKey = append(s.VersionsKey, 0) },
	} {
		c := *s
		edit(&c)
		if err := c.Check(); err == nil {
			t.Errorf("%s: Check = nil, want an error", name)
		}
	}
	s.Wipe()
	for _, b := range [][]byte{s.AuditSeed, s.CASeed, s.VersionsKey} {
		if !bytes.Equal(b, make([]byte, 32)) {
			t.Errorf("after Wipe: %x, want zeroes", b)
		}
	}
}

// TestSealVersion: a sealed version opens under its key, label and
// number only.
func TestSealVersion(t *testing.T) {
	key, other := make([]byte, SeedSize), make([]byte, SeedSize)
	rand.Read(key)
	rand.Read(other)
	secret := []byte("a root key version's seed, 32 b.")
	sealed, err := SealVersion(key, "coffre/rootkey/v1", 2, secret)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := OpenVersion(key, "coffre/rootkey/v1", 2, sealed); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("OpenVersion = %q, %v", got, err)
	}
	for _, tc := range []struct {
		name   string
		key    []byte
		label  string
		n      uint32
		sealed []byte
	}{
		{"another key", other, "coffre/rootkey/v1", 2, sealed},
		{"another label", key, "coffre/blindkey/v1", 2, sealed},
		{"another number", key, "coffre/rootkey/v1", 3, sealed},
		{"cut short", key, "coffre/rootkey/v1", 2, sealed[:20]},
		{"flipped", key, "coffre/rootkey/v1", 2, append(append([]byte(nil), sealed[:len(sealed)-1]...), sealed[len(sealed)-1]^1)},
	} {
		if _, err := OpenVersion(tc.key, tc.label, tc.n, tc.sealed); !errors.Is(err, ErrSealedVersion) {
			t.Errorf("%s: %v, want ErrSealedVersion", tc.name, err)
		}
	}
	if _, err := SealVersion(key[:16], "x", 1, secret); err == nil {
		t.Error("a versions key of 16 bytes was accepted")
	}
}
