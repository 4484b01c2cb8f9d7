package envelope

import (
	"bytes"
	"crypto/rand"
	"testing"
)

// TestBlindGenerations follows a rebuild of the index on a live keyring:
// generation 2 is loaded, kept up by writes, made active; generation 1
// is kept up, then dropped; the stable hash never changes.
func TestBlindGenerations(t *testing.T) {
	k := testKeyring(t, 1)
	h1 := k.BlindIndex("email", "a@b.c")
	stable := k.StableHash("login.username", "alice")
	if !bytes.Equal(h1, k.StableHash("email", "a@b.c")) {
		t.Fatal("generation 1 is not the derived key")
	}
	key := make([]byte, 32)
	rand.Read(key)
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"generation 1", k.AddBlindGen(1, key)},
		{"short key", k.AddBlindGen(2, key[:16])},
		{"not loaded", k.SetBlind(2, 0)},
		{"also not loaded", k.SetBlind(1, 3)},
		{"drop the active", k.DropBlindGen(1)},
	} {
		if tc.err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	if err := k.AddBlindGen(2, key); err != nil {
		t.Fatal(err)
	}
	if err := k.AddBlindGen(2, key); err != nil {
		t.Fatalf("the same key loaded twice: %v", err)
	}
	other := make([]byte, 32)
	rand.Read(other)
	if err := k.AddBlindGen(2, other); err == nil {
		t.Fatal("another key for a loaded generation was accepted")
	}
	before := k.Blind()
	if a, also := before.Hashes("email", "a@b.c"); !bytes.Equal(a, h1) || also != nil {
		t.Fatal("a loaded generation is written before SetBlind names it")
	}
	if err := k.SetBlind(1, 2); err != nil {
		t.Fatal(err)
	}
	b := k.Blind()
	a, h2 := b.Hashes("email", "a@b.c")
	if !bytes.Equal(a, h1) || h2 == nil || bytes.Equal(h2, h1) || b.Also() != 2 || b.Same(before) {
		t.Fatalf("building: active %x also %x (gen %d)", a, h2, b.Also())
	}
	if !bytes.Equal(k.BlindIndex("email", "a@b.c"), h1) {
		t.Fatal("lookups left generation 1 while 2 was built")
	}
	if err := k.SetBlind(2, 1); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k.BlindIndex("email", "a@b.c"), h2) {
		t.Fatal("lookups do not use generation 2 once active")
	}
	if got, _ := b.Hash(2, "email", "a@b.c"); !bytes.Equal(got, h2) {
		t.Fatal("Hash(2) differs")
	}
	if err := k.SetBlind(2, 0); err != nil {
		t.Fatal(err)
	}
	if err := k.DropBlindGen(1); err != nil {
		t.Fatal(err)
	}
	if got := k.BlindGens(); len(got) != 1 || got[0] != 2 {
		t.Fatalf("generations %v, want [2]", got)
	}
	if _, err := k.Blind().Hash(1, "email", "a@b.c"); err == nil {
		t.Fatal("a dropped generation still hashes")
	}
	if got, _ := b.Hash(1, "email", "a@b.c"); !bytes.Equal(got, h1) {
		t.Fatal("a snapshot taken before the drop lost generation 1")
	}
	if !bytes.Equal(stable, k.StableHash("login.username", "alice")) {
		t.Fatal("the stable hash changed with the rebuild")
	}
}

// BenchmarkBlindIndex is a lookup's hash: one atomic load more than
// before generations, then the same pooled HMAC.
func BenchmarkBlindIndex(b *testing.B) {
	k := testKeyring(b, 1)
	b.ReportAllocs()
	for b.Loop() {
		k.BlindIndex("email_pro", "jean.dupont@ac-versailles.fr")
	}
}
