// Package rootkey keeps the development root key in a file: the key
// material of each root key version, readable by its owner only (0600).
//
// This is for --dev and the demo. Production unseals with Shamir shares or
// a KMS (a later issue); a root key on the same disk as the data protects
// nothing against a thief of the disk, which is why `coffre serve --dev`
// says so loudly at start.
package rootkey

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/coffre/coffre/internal/envelope"
)

type file struct {
	Current  uint32            `json:"current"`
	Versions map[uint32]string `json:"versions"`
}

// LoadOrCreate reads the key file at path, creating it with one fresh
// version when it does not exist; created reports which.
func LoadOrCreate(path string) (k *envelope.Keyring, created bool, err error) {
	k, err = Load(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, false, err
	}
	seed := make([]byte, envelope.SeedSize)
	rand.Read(seed)
	body, _ := json.MarshalIndent(file{Current: 1, Versions: map[uint32]string{1: base64.StdEncoding.EncodeToString(seed)}}, "", "  ")
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

// Load reads the key file at path. It refuses a file others can read.
func Load(path string) (*envelope.Keyring, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("root key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("root key %s: mode %o lets others read it; chmod 600 it", path, st.Mode().Perm())
	}
	body, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("root key: %w", err)
	}
	var f file
	if err := json.Unmarshal(body, &f); err != nil {
		return nil, fmt.Errorf("root key %s: not a Coffre key file", path)
	}
	seeds := map[uint32][]byte{}
	for v, s := range f.Versions {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("root key %s: version %d is not base64", path, v)
		}
		seeds[v] = b
	}
	k, err := envelope.NewKeyring(seeds, f.Current)
	if err != nil {
		return nil, fmt.Errorf("root key %s: %w", path, err)
	}
	return k, nil
}
