//go:build cgo

// Package pkcs11 wraps Coffre's root key with an AES key kept in a
// PKCS#11 token (an HSM, a smart card, SoftHSM2 in tests), through
// ThalesGroup's crypto11. The AES key is generated in the token as
// sensitive and not extractable: it never leaves it, and the token does
// the AES-256-GCM. It implements [kms.Wrapper]; blobs name the key label.
//
// crypto11 loads the token's module with cgo (miekg/pkcs11), so the
// package builds only with cgo (//go:build cgo): with CGO_ENABLED=0 it is
// empty, and the rest of Coffre builds without it.
package pkcs11

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ThalesGroup/crypto11"

	"github.com/coffre/coffre/internal/kms"
)

// Kind is the Name of this wrapper, written in its blobs.
const Kind = "pkcs11"

// nonceSize is the GCM nonce: 96 bits, random per Wrap, the size
// SP 800-38D recommends (crypto11's default is 16 bytes).
const nonceSize = 12

// Config says which token and key to use. The PIN comes from a file or an
// environment variable, never from a flag value or the configuration
// file itself, and Config never prints it.
type Config struct {
	// Module is the path of the token's PKCS#11 library, e.g.
	// /usr/lib/softhsm/libsofthsm2.so.
	Module string
	// TokenLabel selects the token.
	TokenLabel string
	// PINFile is a file holding the user PIN (one trailing newline is
	// dropped); PINEnv names an environment variable holding it. Exactly
	// one is set.
	PINFile string
	PINEnv  string
	// KeyLabel is the CKA_LABEL of the AES key, and the key id in blobs.
	KeyLabel string
}

// String describes c without the PIN.
func (c Config) String() string {
	pin := "none"
	switch {
	case c.PINFile != "":
		pin = "file " + c.PINFile
	case c.PINEnv != "":
		pin = "$" + c.PINEnv
	}
	return fmt.Sprintf("pkcs11 module %s, token %q, key %q, PIN from %s", c.Module, c.TokenLabel, c.KeyLabel, pin)
}

// ErrNoKey: the token holds no key of the configured label.
var ErrNoKey = errors.New("pkcs11: no AES key of that label in the token")

// ErrKeyExists: GenerateKey found a key of that label already.
var ErrKeyExists = errors.New("pkcs11: the token already holds a key of that label")

func (c Config) pin() (string, error) {
	switch {
	case c.PINFile != "" && c.PINEnv != "":
		return "", errors.New("pkcs11: set the PIN file or the PIN variable, not both")
	case c.PINFile != "":
		b, err := os.ReadFile(c.PINFile)
		if err != nil {
			return "", fmt.Errorf("pkcs11: read PIN file: %w", err)
		}
		p := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if p == "" {
			return "", fmt.Errorf("pkcs11: PIN file %s is empty", c.PINFile)
		}
		return p, nil
	case c.PINEnv != "":
		p, ok := os.LookupEnv(c.PINEnv)
		if !ok || p == "" {
			return "", fmt.Errorf("pkcs11: PIN variable $%s is not set", c.PINEnv)
		}
		return p, nil
	}
	return "", errors.New("pkcs11: no PIN file or PIN variable configured")
}

func (c Config) open() (*crypto11.Context, error) {
	if c.Module == "" || c.TokenLabel == "" || c.KeyLabel == "" {
		return nil, errors.New("pkcs11: module, token label and key label are required")
	}
	if len(c.KeyLabel) > kms.MaxName {
		return nil, fmt.Errorf("pkcs11: key label longer than %d bytes", kms.MaxName)
	}
	if _, err := os.Stat(c.Module); err != nil {
		return nil, fmt.Errorf("pkcs11: module: %w", err)
	}
	pin, err := c.pin()
	if err != nil {
		return nil, err
	}
	p11, err := crypto11.Configure(&crypto11.Config{
		Path:        c.Module,
		TokenLabel:  c.TokenLabel,
		Pin:         pin,
		GCMIVLength: nonceSize,
	})
	if err != nil {
		// crypto11's errors name PKCS#11 return codes (CKR_PIN_INCORRECT,
		// token not found), never the PIN.
		return nil, fmt.Errorf("pkcs11: open token %q: %w", c.TokenLabel, err)
	}
	return p11, nil
}

// Wrapper is a [kms.Wrapper] over one AES key of one token. It is safe
// for concurrent use; Close it to log out and release the module.
type Wrapper struct {
	p11    *crypto11.Context
	key    *crypto11.SecretKey
	label  string
	close  sync.Once
	closed atomic.Bool
}

// ErrClosed: the Wrapper was closed.
var ErrClosed = errors.New("pkcs11: wrapper closed")

var _ kms.Wrapper = (*Wrapper)(nil)

// Open logs into the token and finds the key; [ErrNoKey] if there is none.
func Open(c Config) (*Wrapper, error) {
	p11, err := c.open()
	if err != nil {
		return nil, err
	}
	key, err := findKey(p11, c.KeyLabel)
	if err != nil {
		p11.Close()
		return nil, err
	}
	return &Wrapper{p11: p11, key: key, label: c.KeyLabel}, nil
}

func findKey(p11 *crypto11.Context, label string) (*crypto11.SecretKey, error) {
	keys, err := p11.FindKeys(nil, []byte(label))
	if err != nil {
		return nil, fmt.Errorf("pkcs11: find key %q: %w", label, err)
	}
	switch len(keys) {
	case 0:
		return nil, fmt.Errorf("%w: %q", ErrNoKey, label)
	case 1:
		return keys[0], nil
	}
	return nil, fmt.Errorf("pkcs11: %d keys labelled %q in the token, want one", len(keys), label)
}

// GenerateKey creates the AES-256 key of c.KeyLabel in the token:
// persistent, sensitive, not extractable, for encryption only. It refuses
// with [ErrKeyExists] when the label is taken, so that a key wrapping a
// root key is never shadowed.
func GenerateKey(c Config) error {
	p11, err := c.open()
	if err != nil {
		return err
	}
	defer p11.Close()
	if _, err := findKey(p11, c.KeyLabel); err == nil {
		return fmt.Errorf("%w: %q", ErrKeyExists, c.KeyLabel)
	} else if !errors.Is(err, ErrNoKey) {
		return err
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return err
	}
	if _, err := p11.GenerateSecretKeyWithLabel(id, []byte(c.KeyLabel), 256, crypto11.CipherAES); err != nil {
		return fmt.Errorf("pkcs11: generate key %q: %w", c.KeyLabel, err)
	}
	return nil
}

// Name is [Kind].
func (w *Wrapper) Name() string { return Kind }

func (w *Wrapper) header() kms.Header { return kms.Header{Kind: Kind, KeyID: w.label} }

// Wrap seals plaintext with AES-256-GCM in the token: a random 96-bit
// nonce, the blob header as additional data.
func (w *Wrapper) Wrap(ctx context.Context, plaintext []byte) (_ []byte, err error) {
	if w.closed.Load() {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	aead, err := w.key.NewGCM()
	if err != nil {
		return nil, fmt.Errorf("pkcs11: %w", err)
	}
	blob, err := kms.NewBlob(w.header())
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, nonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	// crypto11's Seal panics when the token fails (cipher.AEAD has no
	// error return): turn that back into an error.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("pkcs11: wrap with key %q: %v", w.label, r)
		}
	}()
	ad := blob
	return aead.Seal(append(blob[:len(blob):len(blob)], nonce...), nonce, plaintext, ad), nil
}

// Unwrap checks that wrapped names this key, then opens it in the token.
func (w *Wrapper) Unwrap(ctx context.Context, wrapped []byte) ([]byte, error) {
	if w.closed.Load() {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b, err := kms.Check(wrapped, w.header())
	if err != nil {
		return nil, err
	}
	if len(b.Payload) < nonceSize+16 {
		return nil, kms.ErrMalformed
	}
	aead, err := w.key.NewGCM()
	if err != nil {
		return nil, fmt.Errorf("pkcs11: %w", err)
	}
	pt, err := aead.Open(nil, b.Payload[:nonceSize], b.Payload[nonceSize:], b.AAD)
	if err != nil {
		// A tag that does not verify is CKR_ENCRYPTED_DATA_INVALID on
		// some tokens and CKR_GENERAL_ERROR on SoftHSM2, so no return code
		// tells a tampered blob from a token fault: both fail closed as
		// ErrTampered (a closed Wrapper was refused above).
		return nil, kms.ErrTampered
	}
	return pt, nil
}

// Close logs out and releases the module (when no other Wrapper of the
// process uses it). A second Close does nothing: crypto11 panics when a
// context is closed twice. Wrap and Unwrap fail after Close.
func (w *Wrapper) Close() error {
	var err error
	w.close.Do(func() {
		w.closed.Store(true)
		err = w.p11.Close()
	})
	return err
}
