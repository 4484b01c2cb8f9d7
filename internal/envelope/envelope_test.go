package envelope

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
)

func testKeyring(t testing.TB, versions ...uint32) *Keyring {
	t.Helper()
	seeds := map[uint32][]byte{}
	for _, v := range versions {
		s := make([]byte, SeedSize)
		rand.Read(s)
		seeds[v] = s
	}
	k, err := NewKeyring(seeds, versions[len(versions)-1])
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestFieldRoundTrip(t *testing.T) {
	k := testKeyring(t, 1)
	dk, wrapped, err := k.NewDEK("sub_A")
	if err != nil {
		t.Fatal(err)
	}
	ct := dk.Seal("email_pro", []byte("x@example.org"))
	dk2, err := k.OpenDEK("sub_A", dk.Version(), wrapped)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := dk2.Open("email_pro", ct)
	if err != nil || string(pt) != "x@example.org" {
		t.Fatalf("Open = %q, %v; want the sealed value", pt, err)
	}
}

// TestSwap moves ciphertexts between fields, subjects and key versions: each
// must fail to open (DESIGN §6: no ciphertext can be moved).
func TestSwap(t *testing.T) {
	k := testKeyring(t, 1)
	a, wa, _ := k.NewDEK("sub_A")
	b, wb, _ := k.NewDEK("sub_B")
	ctA := a.Seal("phone", []byte("0612345678"))

	tests := []struct {
		name string
		open func() error
	}{
		{"other field same subject", func() error { _, err := a.Open("national_id", ctA); return err }},
		{"other subject's key", func() error { _, err := b.Open("phone", ctA); return err }},
		{"DEK wrapped for A opened as B", func() error { _, err := k.OpenDEK("sub_B", 1, wa); return err }},
		{"same DEK claimed for B", func() error {
			// An attacker copies A's wrapped DEK and fields into B's row.
			dk, err := k.OpenDEK("sub_B", 1, wa)
			if err != nil {
				return err
			}
			_, err = dk.Open("phone", ctA)
			return err
		}},
		{"other DEK version", func() error {
			dk, err := k.OpenDEK("sub_A", 2, wa)
			if err != nil {
				return err
			}
			_, err = dk.Open("phone", ctA)
			return err
		}},
		{"flipped bit", func() error {
			bad := bytes.Clone(ctA)
			bad[len(bad)-1] ^= 1
			_, err := a.Open("phone", bad)
			return err
		}},
		{"truncated", func() error { _, err := a.Open("phone", ctA[:10]); return err }},
	}
	_ = wb
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.open(); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("got %v, want ErrDecrypt", err)
			}
		})
	}
}

func TestRewrap(t *testing.T) {
	seed1, seed2 := make([]byte, SeedSize), make([]byte, SeedSize)
	rand.Read(seed1)
	rand.Read(seed2)
	k1, _ := NewKeyring(map[uint32][]byte{1: seed1}, 1)
	dk, w1, _ := k1.NewDEK("sub_A")
	ct := dk.Seal("f", []byte("v"))
	k2, err := NewKeyring(map[uint32][]byte{1: seed1, 2: seed2}, 2)
	if err != nil {
		t.Fatal(err)
	}
	w2, err := k2.Rewrap("sub_A", w1)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := WrappedVersion(w2); v != 2 {
		t.Fatalf("rewrapped version = %d, want 2", v)
	}
	dk2, err := k2.OpenDEK("sub_A", 1, w2)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := dk2.Open("f", ct); err != nil || string(pt) != "v" {
		t.Fatalf("data after rewrap: %q, %v", pt, err)
	}
	if _, err := k1.OpenDEK("sub_A", 1, w2); !errors.Is(err, ErrUnknownKeyVersion) {
		t.Fatalf("old keyring on new wrap: %v, want ErrUnknownKeyVersion", err)
	}
	if !bytes.Equal(k1.BlindIndex("email", "a@b.c"), k2.BlindIndex("email", "a@b.c")) {
		t.Fatal("blind index changed across rotation")
	}
}

func TestBlindIndex(t *testing.T) {
	k := testKeyring(t, 1)
	other := testKeyring(t, 1)
	x := k.BlindIndex("email", "a@b.c")
	if len(x) != BlindIndexLen {
		t.Fatalf("len = %d", len(x))
	}
	if !bytes.Equal(x, k.BlindIndex("email", "a@b.c")) {
		t.Fatal("not deterministic")
	}
	if bytes.Equal(x, k.BlindIndex("email2", "a@b.c")) {
		t.Fatal("field not bound")
	}
	if bytes.Equal(x, other.BlindIndex("email", "a@b.c")) {
		t.Fatal("key not used")
	}
}

func TestSecret(t *testing.T) {
	k := testKeyring(t, 1)
	ct := k.SealSecret("op_1", []byte("seed"))
	if pt, err := k.OpenSecret("op_1", ct); err != nil || string(pt) != "seed" {
		t.Fatalf("OpenSecret = %q, %v", pt, err)
	}
	if _, err := k.OpenSecret("op_2", ct); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("other label: %v", err)
	}
}

func BenchmarkOpenRecord(b *testing.B) {
	k := testKeyring(b, 1)
	dk, w, _ := k.NewDEK("sub_A")
	ct := dk.Seal("f", make([]byte, 300))
	b.ResetTimer()
	for b.Loop() {
		d, _ := k.OpenDEK("sub_A", 1, w)
		for range 5 {
			d.Open("f", ct)
		}
	}
}

func TestPseudonym(t *testing.T) {
	seed := make([]byte, SeedSize)
	k, _ := NewKeyring(map[uint32][]byte{1: seed}, 1)
	seed2 := make([]byte, SeedSize)
	seed2[0] = 1
	k2, _ := NewKeyring(map[uint32][]byte{1: seed2}, 1)
	a := k.Pseudonym("employment", "sub_0123456789abcdefghjkmnpqrs")
	if len(a) != 30 || a[:4] != "psn_" {
		t.Fatalf("pseudonym %q", a)
	}
	for name, other := range map[string]string{
		"another sector":  k.Pseudonym("health", "sub_0123456789abcdefghjkmnpqrs"),
		"another subject": k.Pseudonym("employment", "sub_0123456789abcdefghjkmnpqrt"),
		"another root":    k2.Pseudonym("employment", "sub_0123456789abcdefghjkmnpqrs"),
	} {
		if other == a {
			t.Errorf("%s: same pseudonym", name)
		}
	}
	if k.Pseudonym("employment", "sub_0123456789abcdefghjkmnpqrs") != a {
		t.Error("not stable")
	}
}

// TestVersionsAtRunTime follows a rotation on a live keyring: a version
// added opens nothing until it is there, wraps nothing until it is
// current, and once retired opens nothing wrapped under it.
func TestVersionsAtRunTime(t *testing.T) {
	k := testKeyring(t, 1)
	index := k.BlindIndex("email", "a@b.c")
	dk, w1, _ := k.NewDEK("sub_A")
	secret := k.SealSecret("totp:op_1", []byte("seed"))
	seed2 := make([]byte, SeedSize)
	rand.Read(seed2)

	for _, tc := range []struct {
		name string
		err  error
	}{
		{"version 0", k.AddVersion(0, seed2)},
		{"short seed", k.AddVersion(2, seed2[:16])},
		{"unknown current", k.SetCurrent(2)},
		{"retire current", k.Retire(1)},
	} {
		if tc.err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	if err := k.AddVersion(2, seed2); err != nil {
		t.Fatal(err)
	}
	if err := k.AddVersion(2, seed2); err == nil {
		t.Error("a version added twice was accepted")
	}
	if _, w, _ := k.NewDEK("sub_B"); mustVersion(t, w) != 1 {
		t.Fatal("a version added but not current wrapped a new key")
	}
	if err := k.SetCurrent(2); err != nil {
		t.Fatal(err)
	}
	if got := k.Versions(); len(got) != 2 || got[0] != 1 || got[1] != 2 || k.Current() != 2 {
		t.Fatalf("versions %v current %d, want [1 2] and 2", got, k.Current())
	}
	w2, err := k.Rewrap("sub_A", w1)
	if err != nil || mustVersion(t, w2) != 2 {
		t.Fatalf("rewrap: version %d, %v", mustVersion(t, w2), err)
	}
	s2, err := k.RewrapSecret("totp:op_1", secret)
	if err != nil || mustVersion(t, s2) != 2 {
		t.Fatalf("rewrap secret: %v", err)
	}
	if _, err := k.RewrapSecret("totp:op_2", secret); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("rewrap of a secret under another label: %v, want ErrDecrypt", err)
	}
	if err := k.Retire(1); err != nil {
		t.Fatal(err)
	}
	if _, err := k.OpenDEK("sub_A", 1, w1); !errors.Is(err, ErrUnknownKeyVersion) {
		t.Fatalf("a key wrapped under a retired version: %v, want ErrUnknownKeyVersion", err)
	}
	dk2, err := k.OpenDEK("sub_A", 1, w2)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := dk2.Open("f", dk.Seal("f", []byte("v"))); err != nil || string(pt) != "v" {
		t.Fatalf("data after rotation: %q, %v", pt, err)
	}
	if pt, err := k.OpenSecret("totp:op_1", s2); err != nil || string(pt) != "seed" {
		t.Fatalf("secret after rotation: %q, %v", pt, err)
	}
	if !bytes.Equal(index, k.BlindIndex("email", "a@b.c")) {
		t.Fatal("the blind index changed with the rotation")
	}
}

func mustVersion(t *testing.T, w []byte) uint32 {
	t.Helper()
	v, err := WrappedVersion(w)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestAppendOpen: AppendOpen appends the value after dst's bytes, leaves
// dst as it was when the ciphertext is not this field's, and agrees with
// Open.
func TestAppendOpen(t *testing.T) {
	k := testKeyring(t, 1)
	dk, _, err := k.NewDEK("sub_1")
	if err != nil {
		t.Fatal(err)
	}
	ct := dk.Seal("email", []byte("marie@example.org"))
	got, err := dk.AppendOpen([]byte("prefix:"), "email", ct)
	if err != nil || string(got) != "prefix:marie@example.org" {
		t.Fatalf("AppendOpen = %q, %v", got, err)
	}
	if pt, err := dk.Open("email", ct); err != nil || string(pt) != "marie@example.org" {
		t.Fatalf("Open = %q, %v", pt, err)
	}
	for _, c := range []struct {
		field string
		ct    []byte
	}{{"phone", ct}, {"email", ct[:len(ct)-1]}, {"email", ct[:5]}} {
		got, err := dk.AppendOpen([]byte("prefix:"), c.field, c.ct)
		if !errors.Is(err, ErrDecrypt) || string(got) != "prefix:" {
			t.Errorf("AppendOpen(%s, %d bytes) = %q, %v; want prefix: and ErrDecrypt", c.field, len(c.ct), got, err)
		}
	}
}
