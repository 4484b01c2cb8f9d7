package vault

import (
	"bytes"
	"encoding/binary"
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/value"
)

// sealedBlobs returns real sealed-fields blobs, as Create writes them
// (Vault.seal) and as Update rewrites them (encodeFields), after checking
// that each field opens to its canonical value.
func sealedBlobs(t testing.TB) [][]byte {
	t.Helper()
	cfg, err := config.Demo(nil)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := envelope.NewKeyring(map[uint32][]byte{1: bytes.Repeat([]byte{7}, envelope.SeedSize)}, 1)
	if err != nil {
		t.Fatal(err)
	}
	v := New(Config{Keys: keys, Policy: cfg.Policy})
	var out [][]byte
	for i := range 3 {
		p := synth.Make(7, i)
		s, err := v.seal(v.keys.Blind(), "sub_seed", p.Unit, p.Fields, time.Unix(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		cts, err := sealedFields(s.row.Fields)
		if err != nil || len(cts) != len(p.Fields) {
			t.Fatalf("sealed blob of person %d: %d fields, %v; want %d", i, len(cts), err, len(p.Fields))
		}
		dk, err := keys.OpenDEK("sub_seed", s.row.DEKVersion, s.row.DEK)
		if err != nil {
			t.Fatal(err)
		}
		for name, ct := range cts {
			f, _ := cfg.Policy.Field(name)
			if pt, err := dk.Open(name, ct); err != nil || string(pt) != value.Canonical(f.Type, p.Fields[name]) {
				t.Fatalf("field %s of person %d opens to %q, %v", name, i, pt, err)
			}
		}
		if again := encodeFields(cts); !bytes.Equal(again, s.row.Fields) {
			t.Fatalf("encodeFields of person %d's fields differs from what seal wrote", i)
		}
		out = append(out, s.row.Fields)
	}
	return out
}

func TestSealedBlobsRoundTrip(t *testing.T) { sealedBlobs(t) }

// TestEachFieldRefuses: what encodeFields never writes does not parse.
func TestEachFieldRefuses(t *testing.T) {
	field := func(name, ct string) []byte { return append(appendFieldHead(nil, name, len(ct)), ct...) }
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	tests := []struct {
		name string
		blob []byte
	}{
		{"name twice", cat(field("a", "x"), field("a", "y"))},
		{"names descending", cat(field("b", "x"), field("a", "y"))},
		{"overlong name length", cat([]byte{0x81, 0x00}, []byte("a"), []byte{1, 'x'})},
		{"overlong value length", cat([]byte{1, 'a', 0x81, 0x00}, []byte("x"))},
		{"name past the end", []byte{5, 'a'}},
		{"value past the end", []byte{1, 'a', 3, 'x'}},
		{"no value length", []byte{1, 'a'}},
		{"uvarint overflow", bytes.Repeat([]byte{0xff}, 11)},
		{"huge length", binary.AppendUvarint(nil, 1<<63)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if m, err := sealedFields(tt.blob); !errors.Is(err, errCorrupt) {
				t.Fatalf("sealedFields(%x) got %v, %v; want errCorrupt", tt.blob, m, err)
			}
		})
	}
}

// FuzzSealedFields checks the decoder of the sealed-fields blob (the
// bytes a subject row's fields column holds) on arbitrary bytes: it never
// panics and fails only with errCorrupt; a blob it accepts is the one
// encoding of what it decoded (encodeFields gives back the same bytes);
// a cut blob parses only when cut between fields, to those before the cut.
// The same bytes, read as a map (NUL-separated names and values), go
// through encodeFields and back unchanged.
func FuzzSealedFields(f *testing.F) {
	for _, b := range sealedBlobs(f) {
		f.Add(b)
		f.Add(b[:len(b)-1])
	}
	f.Add([]byte{})
	f.Add(encodeFields(map[string][]byte{"": nil, "a": {0}, "b\x00": bytes.Repeat([]byte{1}, 200)}))
	f.Add([]byte{1, 'a', 1, 'x', 1, 'a', 1, 'y'}) // a name twice
	f.Add([]byte{0x81, 0x00, 1, 'x'})             // an overlong length
	f.Fuzz(func(t *testing.T, b []byte) {
		var names []string
		var ends []int // offset in b after each field
		rest := len(b)
		err := eachField(b, func(name string, ct []byte) error {
			names = append(names, name)
			rest -= len(appendFieldHead(nil, name, len(ct))) + len(ct)
			ends = append(ends, len(b)-rest)
			return nil
		})
		if err == nil {
			cts, err := sealedFields(b)
			if err != nil || len(cts) != len(names) {
				t.Fatalf("%x: eachField saw %d fields, sealedFields %d, %v", b, len(names), len(cts), err)
			}
			if again := encodeFields(cts); !bytes.Equal(again, b) {
				t.Fatalf("%x decodes to %q, which encodes to %x", b, cts, again)
			}
			for cut := range len(b) {
				i := slices.Index(ends, cut)
				got, err := sealedFields(b[:cut])
				switch {
				case cut == 0 && (err != nil || len(got) != 0):
					t.Fatalf("empty prefix: %v, %v", got, err)
				case cut > 0 && i < 0 && !errors.Is(err, errCorrupt):
					t.Fatalf("%x cut at %d (inside a field) got %q, %v; want errCorrupt", b, cut, got, err)
				case i >= 0 && (err != nil || !slices.Equal(slices.Sorted(maps.Keys(got)), names[:i+1])):
					t.Fatalf("%x cut at %d (after field %d) got %q, %v; want the fields %q", b, cut, i, got, err, names[:i+1])
				}
			}
		} else if !errors.Is(err, errCorrupt) {
			t.Fatalf("%x: error %v, want errCorrupt", b, err)
		}

		// eachKnownField sees, in the blob's order, the fields of a list
		// that the blob holds: here every other field eachField saw, and
		// one it did not.
		var known []string
		for i, n := range names {
			if i%2 == 0 {
				known = append(known, n)
			}
		}
		known = append(known, "\xffnot in the blob")
		var seen []string
		kerr := eachKnownField(b, known, func(i int, _ []byte) error {
			seen = append(seen, known[i])
			return nil
		})
		if want := known[:len(known)-1]; !errors.Is(kerr, err) && kerr != err || err == nil && !slices.Equal(seen, want) {
			t.Fatalf("%x: eachKnownField(%q) saw %q, %v; want %q, %v", b, known, seen, kerr, want, err)
		}

		// b as a map: encode, decode, compare.
		in := map[string][]byte{}
		parts := bytes.Split(b, []byte{0})
		for i := 0; i+1 < len(parts); i += 2 {
			in[string(parts[i])] = parts[i+1]
		}
		out, err := sealedFields(encodeFields(in))
		if err != nil || !maps.EqualFunc(in, out, bytes.Equal) {
			t.Fatalf("encodeFields(%q) decodes to %q, %v", in, out, err)
		}
	})
}
