// Package rootkey keeps the development root key in a file: the key
// material of each root key version, readable by its owner only (0600).
//
// This is for --dev and the demo. Production unseals with Shamir shares or
// a KMS (a later issue); a root key on the same disk as the data protects
// nothing against a thief of the disk, which is why `coffre serve --dev`
// says so loudly at start.
package rootkey

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/keyset"
)

type file struct {
	Current  uint32            `json:"current"`
	Versions map[uint32]string `json:"versions"`
}

// maxFileSize bounds what Load reads: a key file of a thousand versions
// is under 64 KiB.
const maxFileSize = 1 << 20

// encode writes the body of a key file: the current version and the
// seed of each version in standard base64.
func encode(seeds map[uint32][]byte, current uint32) []byte {
	f := file{Current: current, Versions: map[uint32]string{}}
	for v, s := range seeds {
		f.Versions[v] = base64.StdEncoding.EncodeToString(s)
	}
	body, _ := json.MarshalIndent(f, "", "  ") // of a map and a number: never fails
	return body
}

// decode reads the body of a key file: one JSON object with exactly the
// fields encode writes, at least one version, each seed envelope.SeedSize
// bytes, no version 0, and the current version among them. Its errors
// name versions, never key material.
func decode(body []byte) (seeds map[uint32][]byte, current uint32, err error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var f file
	if err := dec.Decode(&f); err != nil {
		return nil, 0, errors.New("not a Coffre key file")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, 0, errors.New("not a Coffre key file: data after the object")
	}
	if len(f.Versions) == 0 {
		return nil, 0, errors.New("no root key versions")
	}
	seeds = map[uint32][]byte{}
	for v, s := range f.Versions {
		b, err := base64.StdEncoding.DecodeString(s)
		switch {
		case v == 0:
			return nil, 0, errors.New("version 0 is reserved")
		case err != nil:
			return nil, 0, fmt.Errorf("version %d is not base64", v)
		case len(b) != envelope.SeedSize:
			return nil, 0, fmt.Errorf("version %d is %d bytes, want %d", v, len(b), envelope.SeedSize)
		}
		seeds[v] = b
	}
	if _, ok := seeds[f.Current]; !ok {
		return nil, 0, fmt.Errorf("current version %d is not among the versions", f.Current)
	}
	return seeds, f.Current, nil
}

// Marshal encodes a keyring's seeds by version, the body of a key file;
// the sealed keyring (package seal) encrypts the same encoding.
func Marshal(seeds map[uint32][]byte, current uint32) []byte { return encode(seeds, current) }

// Decode reads what Marshal wrote: the seeds by version and the current
// version. Its errors name versions, never key material; the caller
// zeroes the seeds.
func Decode(body []byte) (seeds map[uint32][]byte, current uint32, err error) {
	return decode(body)
}

// Parse builds the keyring from a body Marshal wrote, and zeroes the
// seeds it decoded once the keys are derived.
func Parse(body []byte) (*envelope.Keyring, error) {
	seeds, current, err := decode(body)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, s := range seeds {
			clear(s)
		}
	}()
	return envelope.NewKeyring(seeds, current)
}

// LoadOrCreate reads the key file at path, creating it with one fresh
// version when it does not exist; created reports which.
func LoadOrCreate(path string) (k *keyset.Set, created bool, err error) {
	k, err = Load(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, false, err
	}
	seed := make([]byte, envelope.SeedSize)
	rand.Read(seed)
	body := encode(map[uint32][]byte{1: seed}, 1)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("create root key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("create root key: %w", err)
	}
	if _, err := f.Write(body); err != nil {
		f.Close()
		return nil, false, fmt.Errorf("create root key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, false, fmt.Errorf("create root key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, false, fmt.Errorf("create root key: %w", err)
	}
	k, err = Load(path)
	return k, true, err
}

// Load reads the key file at path. It refuses a file its group or others
// may read or write (any of the mode bits 0o077), checked on the file it
// opened.
func Load(path string) (*keyset.Set, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("root key: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("root key: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("root key %s: not a regular file", path)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("root key %s: mode %o lets its group or others read or write it; chmod 600 it", path, st.Mode().Perm())
	}
	body, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("root key: %w", err)
	}
	if len(body) > maxFileSize {
		return nil, fmt.Errorf("root key %s: larger than %d bytes", path, maxFileSize)
	}
	seeds, current, err := decode(body)
	if err != nil {
		return nil, fmt.Errorf("root key %s: %w", path, err)
	}
	defer func() {
		for _, s := range seeds {
			clear(s)
		}
	}()
	k, err := newSet(seeds, current)
	if err != nil {
		return nil, fmt.Errorf("root key %s: %w", path, err)
	}
	return k, nil
}

// newSet builds the key set of a key file's seeds: the keyring, and the
// signer's and the CA's seeds and the versions key derived from the
// oldest seed (keyset.Legacy, keyset.VersionsLabel).
func newSet(seeds map[uint32][]byte, current uint32) (*keyset.Set, error) {
	ring, err := envelope.NewKeyring(seeds, current)
	if err != nil {
		return nil, err
	}
	s := &keyset.Set{Ring: ring}
	if s.AuditSeed, s.CASeed, err = keyset.Legacy(seeds); err != nil {
		return nil, err
	}
	if s.VersionsKey, err = keyset.FromOldest(seeds, keyset.VersionsLabel); err != nil {
		return nil, err
	}
	return s, nil
}
