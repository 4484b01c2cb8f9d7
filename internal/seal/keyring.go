package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/keyset"
	"github.com/coffre/coffre/internal/rootkey"
	"github.com/coffre/coffre/internal/unseal"
)

// FileName is the sealed keyring's name in the data directory.
const FileName = "keyring.sealed"

const (
	format = "coffre-sealed-keyring-1"
	// formatWrapped is format with Wrapped: the unseal key wrapped by a
	// kms.Wrapper too, for a start without share holders.
	formatWrapped = "coffre-sealed-keyring-2"
	infoKey       = "coffre sealed keyring key"
	infoCheck     = "coffre sealed keyring check"
	maxFile       = 1 << 20
)

var (
	// ErrWrongKey is returned by [File.Open] for an unseal key that is not
	// the one the keyring was sealed under.
	ErrWrongKey = errors.New("the unseal key does not open the sealed keyring")
	// ErrMalformed is returned for a sealed keyring file that is not one.
	ErrMalformed = errors.New("not a Coffre sealed keyring")
)

// File is a sealed keyring: the keyring's encoding (rootkey.Marshal)
// encrypted with AES-256-GCM under a key derived (HKDF-SHA-256) from the
// unseal key the shares rebuild, with the share set, its threshold and a
// key check in the clear. It holds only ciphertext.
type File struct {
	Format    string `json:"format"`
	Set       string `json:"set"`
	Threshold int    `json:"threshold"`
	Shares    int    `json:"shares"`
	// Check is HKDF(unseal key, set, "…check"), 16 bytes: it tells a
	// wrong unseal key apart from a damaged file.
	Check []byte `json:"check"`
	// Sealed is nonce ‖ ciphertext ‖ tag.
	Sealed []byte `json:"sealed"`
	// Wrapped, in format 2 only, is the unseal key wrapped by a
	// kms.Wrapper (a kms blob, which names its kind and key): whoever
	// holds that key opens the keyring without shares, and the shares
	// still open it when the key is lost.
	Wrapped []byte `json:"wrapped,omitempty"`
}

func derive(key []byte, set, info string, n int) ([]byte, error) {
	return hkdf.Key(sha256.New, key, []byte(set), info, n)
}

func (f *File) aead(key []byte) (cipher.AEAD, error) {
	k, err := derive(key, f.Set, infoKey, 32)
	if err != nil {
		return nil, err
	}
	defer clear(k)
	b, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

func (f *File) ad() []byte {
	return fmt.Appendf(nil, "%s|%s|%d|%d", f.Format, f.Set, f.Threshold, f.Shares)
}

// Seal encrypts keyring under unsealKey for the share set set (m of n).
func Seal(unsealKey []byte, set string, m, n int, keyring []byte) (*File, error) {
	return SealWrapped(unsealKey, set, m, n, keyring, nil)
}

// SealWrapped is Seal, with wrapped (when not empty: unsealKey wrapped by
// a kms.Wrapper) kept in the file, in format 2.
func SealWrapped(unsealKey []byte, set string, m, n int, keyring, wrapped []byte) (*File, error) {
	f := &File{Format: format, Set: set, Threshold: m, Shares: n}
	if len(wrapped) > 0 {
		f.Format, f.Wrapped = formatWrapped, wrapped
	}
	check, err := derive(unsealKey, set, infoCheck, 16)
	if err != nil {
		return nil, err
	}
	f.Check = check
	a, err := f.aead(unsealKey)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, a.NonceSize())
	rand.Read(nonce)
	f.Sealed = a.Seal(nonce, nonce, keyring, f.ad())
	return f, nil
}

// Open decrypts the keyring with unsealKey: ErrWrongKey when the key
// check does not match, ErrMalformed when it matches and the ciphertext
// does not open (a damaged file).
func (f *File) Open(unsealKey []byte) ([]byte, error) {
	check, err := derive(unsealKey, f.Set, infoCheck, 16)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(check, f.Check) != 1 {
		return nil, ErrWrongKey
	}
	a, err := f.aead(unsealKey)
	if err != nil {
		return nil, err
	}
	if len(f.Sealed) < a.NonceSize()+a.Overhead() {
		return nil, ErrMalformed
	}
	pt, err := a.Open(nil, f.Sealed[:a.NonceSize()], f.Sealed[a.NonceSize():], f.ad())
	if err != nil {
		return nil, ErrMalformed
	}
	return pt, nil
}

// knownFormat reports whether f is of a format this build reads: 1
// without Wrapped, 2 with it.
func (f *File) knownFormat() bool {
	return (f.Format == format && f.Wrapped == nil) || (f.Format == formatWrapped && len(f.Wrapped) > 0)
}

// Path is the sealed keyring's path in dataDir.
func Path(dataDir string) string { return filepath.Join(dataDir, FileName) }

// Write writes f to path, a new file readable by its owner only; it
// refuses to overwrite one.
func Write(path string, f *File) error {
	body, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("write sealed keyring: %w", err)
	}
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write sealed keyring: %w", err)
	}
	_, werr := out.Write(append(body, '\n'))
	serr := out.Sync()
	cerr := out.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(path)
		return fmt.Errorf("write sealed keyring: %w", err)
	}
	return nil
}

// Read reads the sealed keyring at path (fs.ErrNotExist, wrapped, when
// there is none).
func Read(path string) (*File, error) {
	in, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sealed keyring: %w", err)
	}
	defer in.Close()
	body, err := io.ReadAll(io.LimitReader(in, maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("sealed keyring: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var f File
	if len(body) > maxFile || dec.Decode(&f) != nil || !f.knownFormat() || len(f.Set) != 16 || len(f.Check) != 16 || f.Threshold < 2 || f.Shares < f.Threshold {
		return nil, fmt.Errorf("sealed keyring %s: %w", path, ErrMalformed)
	}
	return &f, nil
}

// OpenSet opens the keyring with unsealKey and returns the key set: the
// data keyring; the signer's and the CA's seeds derived from its oldest
// root seed (keyset.Legacy); and the versions key, HKDF-SHA-256 of the
// unseal key with the share set as salt and keyset.VersionsLabel.
// Errors: Open's, or the keyring's own.
func (f *File) OpenSet(unsealKey []byte) (*keyset.Set, error) {
	body, err := f.Open(unsealKey)
	if err != nil {
		return nil, err
	}
	defer clear(body)
	seeds, current, err := rootkey.Decode(body)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, s := range seeds {
			clear(s)
		}
	}()
	ring, err := envelope.NewKeyring(seeds, current)
	if err != nil {
		return nil, err
	}
	s := &keyset.Set{Ring: ring}
	if s.AuditSeed, s.CASeed, err = keyset.Legacy(seeds); err != nil {
		ring.Wipe()
		return nil, err
	}
	if s.VersionsKey, err = derive(unsealKey, f.Set, keyset.VersionsLabel, keyset.SeedSize); err != nil {
		s.Wipe()
		return nil, err
	}
	return s, nil
}

// OpenShares rebuilds the unseal key from share texts (at least M of the
// file's set) and opens the key set with it (OpenSet), for a command on
// the host with M holders present. Errors: unseal's, ErrWrongKey, or too
// few.
func (f *File) OpenShares(texts []string) (*keyset.Set, error) {
	acc := unseal.NewAccumulator(unseal.Options{Set: f.Set})
	for _, text := range texts {
		sh, err := unseal.Parse(text)
		if err != nil {
			return nil, err
		}
		key, p, err := acc.Add(sh)
		if err != nil {
			return nil, err
		}
		if key == nil {
			if p.Have == len(texts) {
				return nil, fmt.Errorf("%d of %d shares: %w", p.Have, p.Need, ErrTooFewShares)
			}
			continue
		}
		defer clear(key)
		return f.OpenSet(key)
	}
	return nil, fmt.Errorf("0 of %d shares: %w", f.Threshold, ErrTooFewShares)
}

// ErrTooFewShares is returned by [File.OpenShares] with fewer than M
// shares.
var ErrTooFewShares = errors.New("too few shares to unseal")
