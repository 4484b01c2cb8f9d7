package vault

import (
	"bytes"
	"encoding/binary"
	"errors"
	"maps"
	"slices"
)

// errCorrupt reports a sealed-fields blob that does not parse.
var errCorrupt = errors.New("sealed fields are corrupt")

// encodeFields lays out a subject's field ciphertexts in one blob, sorted
// by name: for each field, uvarint(len(name)) name uvarint(len(ct)) ct.
// Names are not secret (they are the schema); values are AEAD ciphertexts
// bound to subject and field, so reordering or moving them is detected.
func encodeFields(cts map[string][]byte) []byte {
	n := 0
	for name, ct := range cts {
		n += len(name) + len(ct) + 2*binary.MaxVarintLen32
	}
	b := make([]byte, 0, n)
	for _, name := range slices.Sorted(maps.Keys(cts)) {
		b = append(appendFieldHead(b, name, len(cts[name])), cts[name]...)
	}
	return b
}

// appendFieldHead appends what precedes a field's ciphertext in the blob:
// uvarint(len(name)) name uvarint(ctLen).
func appendFieldHead(b []byte, name string, ctLen int) []byte {
	b = binary.AppendUvarint(b, uint64(len(name)))
	b = append(b, name...)
	return binary.AppendUvarint(b, uint64(ctLen))
}

// eachField calls fn for each field of an encoded blob, in order. It
// accepts only what encodeFields writes: names strictly ascending (so no
// name twice) and each length in its shortest uvarint, so that a blob
// that parses is the one encoding of its fields.
func eachField(b []byte, fn func(name string, ct []byte) error) error {
	return parseFields(b, func(name, ct []byte) error { return fn(string(name), ct) })
}

// eachKnownField is eachField for the fields of names only, in the
// blob's order: fn gets each one's index in names. It allocates no name:
// the read path's view and audit entry use it.
func eachKnownField(b []byte, names []string, fn func(i int, ct []byte) error) error {
	return parseFields(b, func(name, ct []byte) error {
		for i, n := range names {
			if n == string(name) {
				return fn(i, ct)
			}
		}
		return nil
	})
}

// parseFields is eachField's parser, names as the blob's bytes.
func parseFields(b []byte, fn func(name, ct []byte) error) error {
	var prev []byte
	for first := true; len(b) > 0; first = false {
		var part [2][]byte
		for i := range part {
			n, k := binary.Uvarint(b)
			if k <= 0 || k != uvarintLen(n) || n > uint64(len(b)-k) {
				return errCorrupt
			}
			part[i], b = b[k:k+int(n)], b[k+int(n):]
		}
		if !first && bytes.Compare(prev, part[0]) >= 0 {
			return errCorrupt
		}
		prev = part[0]
		if err := fn(part[0], part[1]); err != nil {
			return err
		}
	}
	return nil
}

// uvarintLen is the length of n's shortest uvarint.
func uvarintLen(n uint64) int {
	k := 1
	for ; n >= 0x80; n >>= 7 {
		k++
	}
	return k
}
