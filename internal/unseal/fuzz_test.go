package unseal

import (
	"bytes"
	"encoding/hex"
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "write testdata/shares.txt afresh")

// vectorKey is the key split in testdata/shares.txt: 32 bytes 0x00..0x1f.
func vectorKey() []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = byte(i)
	}
	return k
}

// readVectors returns the shares of testdata/shares.txt: the first line
// is the key in hex, then one 2-of-3 share a line. They pin the format:
// shares written by an older Coffre must still parse.
func readVectors(t testing.TB) []string {
	t.Helper()
	if *update {
		shares, err := Split(vectorKey(), 3, 2)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		b.WriteString(hex.EncodeToString(vectorKey()) + "\n")
		for _, s := range shares {
			b.WriteString(s.Text() + "\n")
		}
		if err := os.WriteFile("testdata/shares.txt", []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	body, err := os.ReadFile("testdata/shares.txt")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	if lines[0] != hex.EncodeToString(vectorKey()) {
		t.Fatalf("testdata/shares.txt splits another key")
	}
	return lines[1:]
}

func TestVectors(t *testing.T) {
	texts := readVectors(t)
	if len(texts) != 3 {
		t.Fatalf("testdata/shares.txt has %d shares, want 3", len(texts))
	}
	for _, pair := range [][2]int{{0, 1}, {0, 2}, {2, 1}} {
		a := NewAccumulator(Options{})
		var key []byte
		for _, i := range pair {
			s, err := Parse(texts[i])
			if err != nil {
				t.Fatalf("Parse(vector %d) got %v", i+1, err)
			}
			if s.Text() != texts[i] {
				t.Fatalf("vector %d does not read back to its text", i+1)
			}
			if key, _, err = a.Add(s); err != nil {
				t.Fatalf("Add(vector %d) got %v", i+1, err)
			}
		}
		if !bytes.Equal(key, vectorKey()) {
			t.Fatalf("vectors %v rebuild another key", pair)
		}
	}
}

// FuzzParseShare feeds Parse anything: it never panics, and what it
// accepts writes back to the same text and enters an accumulator.
func FuzzParseShare(f *testing.F) {
	for _, s := range readVectors(f) {
		f.Add(s)
		f.Add(s[:len(s)-1])
	}
	f.Add("coffre-share-1:0000000000000000:")
	f.Fuzz(func(t *testing.T, text string) {
		s, err := Parse(text)
		if err != nil {
			return
		}
		if s.Text() != strings.TrimSpace(text) {
			t.Fatalf("Parse(%q) writes back as %q", text, s.Text())
		}
		if _, _, err := NewAccumulator(Options{}).Add(s); err != nil {
			t.Fatalf("Add of a parsed share got %v", err)
		}
	})
}
