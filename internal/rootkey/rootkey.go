// Package rootkey keeps the development root key in a file, readable by
// its owner only (0600): the key material of each root key version, and
// the keys of the key set kept apart from it (package keyset: the audit
// checkpoint signer's and the partner CA's seeds, the versions key).
//
// A file made before those keys were kept apart has only the versions:
// its set derives them from the oldest seed, as it always did (legacy,
// keyset.Legacy). Such a file is read as it is and never rewritten, since
// a new signer would leave the checkpoints signed so far unverifiable.
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
	// AuditSigner, PartnerCA and VersionsKey are the key set's keys kept
	// apart from the root seeds, in every file LoadOrCreate makes. A file
	// made before them has none of the three: its set derives them from
	// its oldest seed (keyset.Legacy, keyset.VersionsLabel), as it always
	// did.
	AuditSigner string `json:"audit_signer,omitempty"`
	PartnerCA   string `json:"partner_ca,omitempty"`
	VersionsKey string `json:"versions_key,omitempty"`
}

// contents is what a key file holds: the root seeds by version, the
// current version, and the three keys apart from them (nil in a file of
// before them).
type contents struct {
	seeds               map[uint32][]byte
	current             uint32
	audit, ca, versions []byte
}

func (c *contents) wipe() {
	for _, s := range c.seeds {
		clear(s)
	}
	clear(c.audit)
	clear(c.ca)
	clear(c.versions)
}

// maxFileSize bounds what Load reads: a key file of a thousand versions
// is under 64 KiB.
const maxFileSize = 1 << 20

// encode writes the body of a key file: the current version, the seed of
// each version and the keys apart from them, in standard base64.
func encode(c contents) []byte {
	f := file{Current: c.current, Versions: map[uint32]string{}}
	for v, s := range c.seeds {
		f.Versions[v] = base64.StdEncoding.EncodeToString(s)
	}
	if c.audit != nil {
		f.AuditSigner = base64.StdEncoding.EncodeToString(c.audit)
		f.PartnerCA = base64.StdEncoding.EncodeToString(c.ca)
		f.VersionsKey = base64.StdEncoding.EncodeToString(c.versions)
	}
	body, _ := json.MarshalIndent(f, "", "  ") // of a map, strings and a number: never fails
	return body
}

// decode reads the body of a key file: one JSON object with exactly the
// fields encode writes, at least one version, each seed envelope.SeedSize
// bytes, no version 0, the current version among them, and either all
// three keys apart from the seeds (keyset.SeedSize bytes each) or none.
// Its errors name versions and fields, never key material.
func decode(body []byte) (contents, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var f file
	if err := dec.Decode(&f); err != nil {
		return contents{}, errors.New("not a Coffre key file")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return contents{}, errors.New("not a Coffre key file: data after the object")
	}
	if len(f.Versions) == 0 {
		return contents{}, errors.New("no root key versions")
	}
	c := contents{seeds: map[uint32][]byte{}, current: f.Current}
	for v, s := range f.Versions {
		b, err := base64.StdEncoding.DecodeString(s)
		switch {
		case v == 0:
			err = errors.New("version 0 is reserved")
		case err != nil:
			err = fmt.Errorf("version %d is not base64", v)
		case len(b) != envelope.SeedSize:
			err = fmt.Errorf("version %d is %d bytes, want %d", v, len(b), envelope.SeedSize)
		}
		if err != nil {
			clear(b)
			c.wipe()
			return contents{}, err
		}
		c.seeds[v] = b
	}
	if _, ok := c.seeds[f.Current]; !ok {
		c.wipe()
		return contents{}, fmt.Errorf("current version %d is not among the versions", f.Current)
	}
	switch n := btoi(f.AuditSigner != "") + btoi(f.PartnerCA != "") + btoi(f.VersionsKey != ""); n {
	case 0:
		return c, nil
	case 3:
	default:
		c.wipe()
		return contents{}, errors.New("audit_signer, partner_ca and versions_key go together: all three or none")
	}
	for _, k := range []struct {
		name, text string
		to         *[]byte
	}{{"audit_signer", f.AuditSigner, &c.audit}, {"partner_ca", f.PartnerCA, &c.ca}, {"versions_key", f.VersionsKey, &c.versions}} {
		b, err := base64.StdEncoding.DecodeString(k.text)
		switch {
		case err != nil:
			err = fmt.Errorf("%s is not base64", k.name)
		case len(b) != keyset.SeedSize:
			err = fmt.Errorf("%s is %d bytes, want %d", k.name, len(b), keyset.SeedSize)
		}
		if err != nil {
			clear(b)
			c.wipe()
			return contents{}, err
		}
		*k.to = b
	}
	return c, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Marshal encodes a keyring's seeds by version, the body of a key file
// with none of the keys apart from the seeds; the sealed keyring (package
// seal) encrypts the same encoding, and seals those keys apart.
func Marshal(seeds map[uint32][]byte, current uint32) []byte {
	return encode(contents{seeds: seeds, current: current})
}

// Decode reads what Marshal wrote: the seeds by version and the current
// version. It refuses a body with keys apart from the seeds. Its errors
// name versions, never key material; the caller zeroes the seeds.
func Decode(body []byte) (seeds map[uint32][]byte, current uint32, err error) {
	c, err := decode(body)
	if err != nil {
		return nil, 0, err
	}
	if c.audit != nil {
		c.wipe()
		return nil, 0, errors.New("not a keyring encoding: it holds the keys apart from the root seeds")
	}
	return c.seeds, c.current, nil
}

// Parse builds the keyring from a body Marshal wrote, and zeroes the
// seeds it decoded once the keys are derived.
func Parse(body []byte) (*envelope.Keyring, error) {
	seeds, current, err := Decode(body)
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
	c := contents{seeds: map[uint32][]byte{1: make([]byte, envelope.SeedSize)}, current: 1,
		audit: make([]byte, keyset.SeedSize), ca: make([]byte, keyset.SeedSize), versions: make([]byte, keyset.SeedSize)}
	for _, b := range [][]byte{c.seeds[1], c.audit, c.ca, c.versions} {
		rand.Read(b)
	}
	body := encode(c)
	c.wipe()
	defer clear(body)
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
	defer clear(body)
	c, err := decode(body)
	if err != nil {
		return nil, fmt.Errorf("root key %s: %w", path, err)
	}
	k, err := newSet(c)
	if err != nil {
		return nil, fmt.Errorf("root key %s: %w", path, err)
	}
	return k, nil
}

// newSet builds the key set of a key file's contents, and takes them
// over: the keyring (the seeds, zeroed once it is derived) and the keys
// apart from the seeds, or, for a file of before them, the signer's and
// the CA's seeds and the versions key derived from the oldest seed
// (keyset.Legacy, keyset.VersionsLabel).
func newSet(c contents) (*keyset.Set, error) {
	defer func() {
		for _, s := range c.seeds {
			clear(s)
		}
	}()
	ring, err := envelope.NewKeyring(c.seeds, c.current)
	if err != nil {
		c.wipe()
		return nil, err
	}
	s := &keyset.Set{Ring: ring, AuditSeed: c.audit, CASeed: c.ca, VersionsKey: c.versions}
	if c.audit != nil {
		return s, nil
	}
	if s.AuditSeed, s.CASeed, err = keyset.Legacy(c.seeds); err != nil {
		return nil, err
	}
	if s.VersionsKey, err = keyset.FromOldest(c.seeds, keyset.VersionsLabel); err != nil {
		s.Wipe()
		return nil, err
	}
	return s, nil
}
