package subjectid

import (
	"bytes"
	"crypto/rand"
	"math"
	"testing"
)

func testCodec(t testing.TB, fill byte) *Codec {
	t.Helper()
	c, err := New(bytes.Repeat([]byte{fill}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRoundTrip(t *testing.T) {
	c := testCodec(t, 1)
	seen := map[string]bool{}
	for _, seq := range []int64{1, 2, 3, 255, 256, 1 << 20, 1<<40 + 7, math.MaxInt64} {
		id := c.ID(seq)
		if !Valid(id) {
			t.Fatalf("ID(%d) = %q: not a valid id", seq, id)
		}
		if seen[id] {
			t.Fatalf("ID(%d) = %q repeats an earlier id", seq, id)
		}
		seen[id] = true
		got, ok := c.Seq(id)
		if !ok || got != seq {
			t.Fatalf("Seq(ID(%d)) = %d, %v", seq, got, ok)
		}
	}
}

func TestSequentialIDsLookRandom(t *testing.T) {
	c := testCodec(t, 2)
	// Neighbouring numbers share no prefix beyond chance: creation order
	// cannot be read off ids.
	a, b := c.ID(1000), c.ID(1001)
	common := 0
	for common < len(a) && a[common] == b[common] {
		common++
	}
	if common > len(Prefix)+3 {
		t.Fatalf("ids of 1000 and 1001 share %d characters: %s %s", common, a, b)
	}
}

func TestRejects(t *testing.T) {
	c, other := testCodec(t, 1), testCodec(t, 3)
	id := c.ID(42)
	flipped := []byte(id)
	flipped[10] = map[bool]byte{true: 'a', false: 'b'}[flipped[10] != 'a']
	var random [16]byte
	rand.Read(random[:])
	tests := []struct {
		name, id string
	}{
		{"another key's id", other.ID(42)},
		{"one character changed", string(flipped)},
		{"random id", Prefix + encoding.EncodeToString(random[:])},
		{"empty", ""},
		{"wrong prefix", "psn_" + id[4:]},
		{"short", id[:Len-1]},
		{"long", id + "0"},
		{"upper case", "sub_" + string(bytes.ToUpper([]byte(id[4:])))},
		{"letter outside the alphabet", id[:Len-2] + "i" + id[Len-1:]},
		{"non-zero padding bits", id[:Len-1] + "1"},
		{"zero sequence", c.ID(0)},
		{"negative sequence", c.ID(-5)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if seq, ok := c.Seq(tt.id); ok {
				t.Fatalf("Seq(%q) = %d, true; want false", tt.id, seq)
			}
		})
	}
}

func TestNewKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33} {
		if _, err := New(make([]byte, n)); err == nil {
			t.Errorf("New with a %d-byte key: no error", n)
		}
	}
}

func FuzzSeq(f *testing.F) {
	c := testCodec(f, 1)
	f.Add(c.ID(1))
	f.Add(c.ID(1 << 33))
	f.Add("sub_00000000000000000000000000")
	f.Add("sub_")
	f.Fuzz(func(t *testing.T, id string) {
		seq, ok := c.Seq(id)
		if !ok {
			return
		}
		if !Valid(id) || seq <= 0 || c.ID(seq) != id {
			t.Fatalf("Seq(%q) = %d accepted, but ID(%d) = %q", id, seq, seq, c.ID(seq))
		}
	})
}

func BenchmarkSeq(b *testing.B) {
	c := testCodec(b, 1)
	id := c.ID(123456)
	for b.Loop() {
		c.Seq(id)
	}
}
