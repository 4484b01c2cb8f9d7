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
	"strings"

	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/keyset"
	"github.com/coffre/coffre/internal/rootkey"
	"github.com/coffre/coffre/internal/unseal"
	"golang.org/x/mod/sumdb/note"
)

// FileName is the sealed keyring's name in the data directory.
const FileName = "keyring.sealed"

const (
	format = "coffre-sealed-keyring-1"
	// formatWrapped is format with Wrapped: the unseal key wrapped by a
	// kms.Wrapper too, for a start without share holders.
	formatWrapped = "coffre-sealed-keyring-2"
	// format3 adds the audit signer's and the partner CA's sections and
	// the published verifier key; Wrapped is optional.
	format3   = "coffre-sealed-keyring-3"
	infoKey   = "coffre sealed keyring key"
	infoCheck = "coffre sealed keyring check"
	infoAudit = "coffre sealed audit signer"
	infoCA    = "coffre sealed partner ca"
	maxFile   = 1 << 20
)

// The sections of a format 3 file, as their associated data names them.
const (
	sectionKeyring = "keyring"
	sectionAudit   = "audit signer"
	sectionCA      = "partner ca"
)

var (
	// ErrWrongKey is returned by [File.Open] for an unseal key that is not
	// the one the keyring was sealed under.
	ErrWrongKey = errors.New("the unseal key does not open the sealed keyring")
	// ErrMalformed is returned for a sealed keyring file that is not one,
	// or one whose right unseal key does not open a section (damaged or
	// tampered).
	ErrMalformed = errors.New("not a Coffre sealed keyring")
)

// File is a sealed keyring: the keyring's encoding (rootkey.Marshal)
// encrypted with AES-256-GCM under a key derived (HKDF-SHA-256) from the
// unseal key the shares rebuild, with the share set, its threshold and a
// key check in the clear. It holds only ciphertext, and the checkpoint
// verifier key.
//
// # Sections
//
// A file of format 3 (what keys init writes) seals three sections, each
// under a key of its own, HKDF-SHA-256 of the unseal key with the share
// set as salt and its own label: the data keyring (Sealed, "coffre sealed
// keyring key"), the audit checkpoint signer's Ed25519 seed (AuditSigner,
// "coffre sealed audit signer") and the partner CA's seed (PartnerCA,
// "coffre sealed partner ca"). The associated data of each names the
// format, the set, M, N, the section and the published verifier key, so
// that a section's ciphertext opens under no other section's key nor in
// another's place, and a changed verifier key opens nothing. The signer
// and the CA are thus keys of their own, not derived from the data
// keyring: whoever holds the root seeds (the keyring's plaintext) can
// neither sign checkpoints nor issue partner certificates. Whoever holds
// the unseal key (M shares, or the token that wraps it) holds all three.
//
// Files of formats 1 and 2 have only the keyring section; their signer
// and CA derive from its oldest root seed (keyset.Legacy), as they always
// did, so that their checkpoints stay verifiable.
type File struct {
	Format    string `json:"format"`
	Set       string `json:"set"`
	Threshold int    `json:"threshold"`
	Shares    int    `json:"shares"`
	// AuditVerifier, in format 3, is the checkpoint verifier key (a note
	// verifier key, what `coffre audit key` prints), published in the
	// clear so that the audit log verifies without unsealing.
	AuditVerifier string `json:"audit_verifier,omitempty"`
	// Check is HKDF(unseal key, set, "…check"), 16 bytes: it tells a
	// wrong unseal key apart from a damaged file.
	Check []byte `json:"check"`
	// Sealed is the keyring section: nonce ‖ ciphertext ‖ tag.
	Sealed []byte `json:"sealed"`
	// AuditSigner, in format 3, is the audit signer section: its seed,
	// nonce ‖ ciphertext ‖ tag.
	AuditSigner []byte `json:"audit_signer,omitempty"`
	// PartnerCA, in format 3, is the partner CA section: its seed, nonce
	// ‖ ciphertext ‖ tag.
	PartnerCA []byte `json:"partner_ca,omitempty"`
	// Wrapped, in format 2, and optionally in format 3, is the unseal key
	// wrapped by a kms.Wrapper (a kms blob, which names its kind and
	// key): whoever holds that key opens the keyring without shares, and
	// the shares still open it when the key is lost.
	Wrapped []byte `json:"wrapped,omitempty"`
}

// Contents is what [Seal] seals: the keyring's encoding and the seeds
// kept apart from it.
type Contents struct {
	// Keyring is the root seeds by version (rootkey.Marshal).
	Keyring []byte
	// AuditSeed and CASeed are the Ed25519 seeds (keyset.SeedSize bytes)
	// of the checkpoint signer and of the partner CA.
	AuditSeed, CASeed []byte
	// AuditVerifier is the verifier key of AuditSeed's signer, published
	// in the clear.
	AuditVerifier string
}

func derive(key []byte, set, info string, n int) ([]byte, error) {
	return hkdf.Key(sha256.New, key, []byte(set), info, n)
}

// aead is the AEAD of one section: AES-256-GCM under HKDF(key, set, info).
func (f *File) aead(key []byte, info string) (cipher.AEAD, error) {
	k, err := derive(key, f.Set, info, 32)
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

// ad is the associated data of a section: formats 1 and 2 have one
// section, and bind the format, set, M and N; format 3 binds the section
// and the published verifier key too.
func (f *File) ad(section string) []byte {
	if f.Format != format3 {
		return fmt.Appendf(nil, "%s|%s|%d|%d", f.Format, f.Set, f.Threshold, f.Shares)
	}
	return fmt.Appendf(nil, "%s|%s|%d|%d|%s|%s", f.Format, f.Set, f.Threshold, f.Shares, section, f.AuditVerifier)
}

// section names a section's label and ciphertext.
type section struct {
	name, info string
	sealed     *[]byte
}

func (f *File) sections() []section {
	return []section{
		{sectionKeyring, infoKey, &f.Sealed},
		{sectionAudit, infoAudit, &f.AuditSigner},
		{sectionCA, infoCA, &f.PartnerCA},
	}
}

func (f *File) seal(key []byte, s section, pt []byte) error {
	a, err := f.aead(key, s.info)
	if err != nil {
		return err
	}
	nonce := make([]byte, a.NonceSize())
	rand.Read(nonce)
	*s.sealed = a.Seal(nonce, nonce, pt, f.ad(s.name))
	return nil
}

func (f *File) open(key []byte, s section) ([]byte, error) {
	a, err := f.aead(key, s.info)
	if err != nil {
		return nil, err
	}
	ct := *s.sealed
	if len(ct) < a.NonceSize()+a.Overhead() {
		return nil, fmt.Errorf("%w: the %s section is cut short", ErrMalformed, s.name)
	}
	pt, err := a.Open(nil, ct[:a.NonceSize()], ct[a.NonceSize():], f.ad(s.name))
	if err != nil {
		return nil, fmt.Errorf("%w: the %s section does not open (damaged or tampered)", ErrMalformed, s.name)
	}
	return pt, nil
}

// Seal seals c under unsealKey for the share set set (m of n), in format
// 3, each section under a key of its own; wrapped, when not empty
// (unsealKey wrapped by a kms.Wrapper), is kept in the file.
func Seal(unsealKey []byte, set string, m, n int, c Contents, wrapped []byte) (*File, error) {
	switch {
	case len(c.AuditSeed) != keyset.SeedSize || len(c.CASeed) != keyset.SeedSize:
		return nil, fmt.Errorf("seal: the signer's and the CA's seeds must be %d bytes", keyset.SeedSize)
	case !validVerifier(c.AuditVerifier):
		return nil, errors.New("seal: the audit verifier key is not a note verifier key")
	}
	f := &File{Format: format3, Set: set, Threshold: m, Shares: n, AuditVerifier: c.AuditVerifier}
	if len(wrapped) > 0 {
		f.Wrapped = wrapped
	}
	check, err := derive(unsealKey, set, infoCheck, 16)
	if err != nil {
		return nil, err
	}
	f.Check = check
	ss := f.sections()
	for i, pt := range [][]byte{c.Keyring, c.AuditSeed, c.CASeed} {
		if err := f.seal(unsealKey, ss[i], pt); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// validVerifier reports whether v is a note verifier key that can sit in
// the associated data unambiguously.
func validVerifier(v string) bool {
	if v == "" || len(v) > 256 || strings.ContainsAny(v, "|\n") {
		return false
	}
	_, err := note.NewVerifier(v)
	return err == nil
}

// Open checks unsealKey and decrypts the keyring section (the
// rootkey.Marshal encoding): ErrWrongKey when the key check does not
// match, ErrMalformed when it matches and the ciphertext does not open (a
// damaged file).
func (f *File) Open(unsealKey []byte) ([]byte, error) {
	check, err := derive(unsealKey, f.Set, infoCheck, 16)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(check, f.Check) != 1 {
		return nil, ErrWrongKey
	}
	return f.open(unsealKey, f.sections()[0])
}

// knownFormat reports whether f is of a format this build reads: 1
// without Wrapped, 2 with it, neither with a format 3 field; 3 with its
// sections of the right size and a valid verifier key, and with Wrapped
// or without.
func (f *File) knownFormat() bool {
	switch f.Format {
	case format, formatWrapped:
		return f.AuditVerifier == "" && f.AuditSigner == nil && f.PartnerCA == nil &&
			((f.Format == format && f.Wrapped == nil) || (f.Format == formatWrapped && len(f.Wrapped) > 0))
	case format3:
		const sealedSeed = 12 + keyset.SeedSize + 16 // nonce ‖ seed ‖ tag
		return len(f.AuditSigner) == sealedSeed && len(f.PartnerCA) == sealedSeed && validVerifier(f.AuditVerifier) &&
			(f.Wrapped == nil || len(f.Wrapped) > 0)
	}
	return false
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
	f, err := parse(body)
	if err != nil {
		return nil, fmt.Errorf("sealed keyring %s: %w", path, err)
	}
	return f, nil
}

// parse reads a sealed keyring file's body: ErrMalformed for what is not
// one of the formats this build reads.
func parse(body []byte) (*File, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var f File
	if len(body) > maxFile || dec.Decode(&f) != nil || !f.knownFormat() || len(f.Set) != 16 || len(f.Check) != 16 || f.Threshold < 2 || f.Shares < f.Threshold {
		return nil, ErrMalformed
	}
	return &f, nil
}

// OpenSet opens every section with unsealKey and returns the key set:
// the data keyring; the signer's and the CA's seeds, from their sections
// (format 3) or derived from the oldest root seed (formats 1 and 2,
// keyset.Legacy); and the versions key, HKDF-SHA-256 of the unseal key
// with the share set as salt and keyset.VersionsLabel. Errors: Open's
// (ErrWrongKey, ErrMalformed naming the section), or the keyring's own.
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
	s := &keyset.Set{}
	if f.Format == format3 {
		for _, sec := range f.sections()[1:] {
			seed, err := f.open(unsealKey, sec)
			if err == nil && len(seed) != keyset.SeedSize {
				clear(seed)
				err = fmt.Errorf("%w: the %s section holds %d bytes, want %d", ErrMalformed, sec.name, len(seed), keyset.SeedSize)
			}
			if err != nil {
				s.Wipe()
				return nil, err
			}
			if sec.name == sectionAudit {
				s.AuditSeed = seed
			} else {
				s.CASeed = seed
			}
		}
	} else if s.AuditSeed, s.CASeed, err = keyset.Legacy(seeds); err != nil {
		return nil, err
	}
	if s.VersionsKey, err = derive(unsealKey, f.Set, keyset.VersionsLabel, keyset.SeedSize); err != nil {
		s.Wipe()
		return nil, err
	}
	if s.Ring, err = envelope.NewKeyring(seeds, current); err != nil {
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
