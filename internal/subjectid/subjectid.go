// Package subjectid makes subject ids: "sub_" and 26 base32 characters
// that are the AES-256 encryption of the subject's creation sequence
// number. An id reveals nothing (neither the number nor the creation
// order) to whoever lacks the key, cannot be guessed (a random id decodes
// with probability 2⁻⁶⁴), and needs no index: the store finds the subject
// by its sequence number. See docs/design.md, "Subject ids".
package subjectid

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"strings"
)

// Prefix starts every subject id.
const Prefix = "sub_"

// Len is the length of a subject id.
const Len = len(Prefix) + 26

const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// encoding is base32 with an alphabet in ASCII order, so ids sort as
// their bytes do.
var encoding = base32.NewEncoding(alphabet).WithPadding(base32.NoPadding)

// digit maps a character to its base32 value, or to invalid.
var digit = func() (d [256]byte) {
	for i := range d {
		d[i] = invalid
	}
	for i := range len(alphabet) {
		d[alphabet[i]] = byte(i)
	}
	return d
}()

const invalid = 0xff

// Valid reports whether id has the form of a subject id. It says nothing
// of whether a subject has it.
func Valid(id string) bool {
	if len(id) != Len || !strings.HasPrefix(id, Prefix) {
		return false
	}
	for i := len(Prefix); i < len(id); i++ {
		if digit[id[i]] == invalid {
			return false
		}
	}
	return true
}

// Codec turns sequence numbers into ids and back. It is safe for
// concurrent use.
type Codec struct {
	block cipher.Block
}

// New returns a codec under key (32 bytes). The key must never change
// for a store's life: every id depends on it.
func New(key []byte) (*Codec, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("subject id key: %d bytes, want 32", len(key))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("subject id key: %w", err)
	}
	return &Codec{block: b}, nil
}

// ID returns the id of sequence number seq (seq > 0).
func (c *Codec) ID(seq int64) string {
	var b [aes.BlockSize]byte
	binary.BigEndian.PutUint64(b[:8], uint64(seq)) // b[8:] stays zero: the check
	c.block.Encrypt(b[:], b[:])
	return Prefix + encoding.EncodeToString(b[:])
}

// Seq returns the sequence number id stands for, and false when id is not
// one this codec made (a malformed id, another key's, a forged one, or a
// random id from before ids were sequence numbers).
func (c *Codec) Seq(id string) (int64, bool) {
	if len(id) != Len || !strings.HasPrefix(id, Prefix) {
		return 0, false
	}
	// Decode the 26 characters: 130 bits, of which the last two must be
	// zero, or two spellings would name one subject.
	var b [aes.BlockSize]byte
	var acc uint64
	bits, j := 0, 0
	for i := len(Prefix); i < Len; i++ {
		d := digit[id[i]]
		if d == invalid {
			return 0, false
		}
		acc = acc<<5 | uint64(d)
		if bits += 5; bits >= 8 {
			bits -= 8
			b[j] = byte(acc >> bits)
			j++
		}
	}
	if acc&(1<<bits-1) != 0 {
		return 0, false
	}
	c.block.Decrypt(b[:], b[:])
	seq := int64(binary.BigEndian.Uint64(b[:8]))
	if binary.BigEndian.Uint64(b[8:]) != 0 || seq <= 0 {
		return 0, false
	}
	return seq, true
}
