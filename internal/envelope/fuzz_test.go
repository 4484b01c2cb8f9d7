package envelope

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "write testdata/vectors.txt afresh")

// vectorKeyring holds root key versions 1 and 2 (seeds of 0x01 and 0x02
// bytes), 2 current: the keyring of testdata/vectors.txt.
func vectorKeyring(t testing.TB) *Keyring {
	t.Helper()
	k, err := NewKeyring(map[uint32][]byte{1: bytes.Repeat([]byte{1}, SeedSize), 2: bytes.Repeat([]byte{2}, SeedSize)}, 2)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// vector is one line of testdata/vectors.txt.
type vector struct{ kind, label, field, plain, hex string }

// The vectors: a DEK of subject sub_vector wrapped under each version, a
// field sealed under it (DEK version 1), and a secret.
const vectorSubject, vectorField, vectorValue = "sub_vector", "email_pro", "x@example.org"

func readVectors(t testing.TB) []vector {
	t.Helper()
	if *update {
		writeVectors(t)
	}
	f, err := os.Open("testdata/vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []vector
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p := strings.Fields(line)
		if len(p) != 5 {
			t.Fatalf("vectors.txt: bad line %q", line)
		}
		out = append(out, vector{p[0], p[1], p[2], p[3], p[4]})
	}
	return out
}

func writeVectors(t testing.TB) {
	k := vectorKeyring(t)
	k1, err := NewKeyring(map[uint32][]byte{1: bytes.Repeat([]byte{1}, SeedSize)}, 1)
	if err != nil {
		t.Fatal(err)
	}
	dk, w1, err := k1.NewDEK(vectorSubject)
	if err != nil {
		t.Fatal(err)
	}
	w2, err := k.Rewrap(vectorSubject, w1)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("# kind label field plaintext hex; keyring: versions 1 and 2, seeds of 0x01 and 0x02 bytes (see fuzz_test.go)\n")
	fmt.Fprintf(&b, "dek %s - - %x\n", vectorSubject, w1)
	fmt.Fprintf(&b, "dek %s - - %x\n", vectorSubject, w2)
	fmt.Fprintf(&b, "field %s %s %s %x\n", vectorSubject, vectorField, vectorValue, dk.Seal(vectorField, []byte(vectorValue)))
	fmt.Fprintf(&b, "secret op_vector - totp-seed %x\n", k.SealSecret("op_vector", []byte("totp-seed")))
	if err := os.WriteFile("testdata/vectors.txt", []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestVectors opens what an earlier build wrapped and sealed: the formats
// and the key derivation must not change under stored data.
func TestVectors(t *testing.T) {
	k := vectorKeyring(t)
	var dks []*DataKey
	vs := readVectors(t)
	for _, v := range vs {
		if v.kind != "dek" {
			continue
		}
		dk, err := k.OpenDEK(v.label, 1, unhex(t, v.hex))
		if err != nil {
			t.Fatalf("OpenDEK(%s) of the vector: %v", v.label, err)
		}
		dks = append(dks, dk)
	}
	if len(dks) != 2 {
		t.Fatalf("%d DEK vectors, want 2", len(dks))
	}
	for _, v := range vs {
		switch v.kind {
		case "field":
			for i, dk := range dks {
				if pt, err := dk.Open(v.field, unhex(t, v.hex)); err != nil || string(pt) != v.plain {
					t.Errorf("field vector under DEK vector %d: %q, %v; want %q", i, pt, err, v.plain)
				}
			}
		case "secret":
			if pt, err := k.OpenSecret(v.label, unhex(t, v.hex)); err != nil || string(pt) != v.plain {
				t.Errorf("secret vector: %q, %v; want %q", pt, err, v.plain)
			}
		}
	}
}

// FuzzWrapped feeds arbitrary bytes to the readers of the wrapped framing
// (version ‖ nonce ‖ ciphertext ‖ tag) that wrapped DEKs and sealed
// secrets share: OpenDEK, Rewrap and OpenSecret never panic and fail only
// with ErrDecrypt or ErrUnknownKeyVersion (the latter exactly when the
// frame is long enough and names a version the keyring lacks). What opens
// was made by the keyring (the seeds are the vectors and fresh wraps), so:
// it rewraps to the current version and the rewrapped key is the same
// key; it opens under no other label; every cut of it fails.
func FuzzWrapped(f *testing.F) {
	k := vectorKeyring(f)
	for _, v := range readVectors(f) {
		if v.kind != "field" {
			f.Add(v.label, unhex(f, v.hex))
		}
	}
	_, w, err := k.NewDEK("sub_fresh")
	if err != nil {
		f.Fatal(err)
	}
	f.Add("sub_fresh", w)
	f.Add("op_1", k.SealSecret("op_1", nil))
	f.Add("sub_x", []byte{0, 0, 0, 3})
	f.Add("", []byte{})
	f.Fuzz(func(t *testing.T, label string, b []byte) {
		v, verr := WrappedVersion(b)
		if (verr != nil) != (len(b) < 4+nonceSize+tagSize) || verr != nil && !errors.Is(verr, ErrDecrypt) {
			t.Fatalf("WrappedVersion of %d bytes: %v", len(b), verr)
		}
		known := k.Has(v)
		checkErr := func(what string, err error) {
			t.Helper()
			switch {
			case err == nil:
			case verr == nil && !known:
				if !errors.Is(err, ErrUnknownKeyVersion) {
					t.Fatalf("%s of a frame of version %d: %v, want ErrUnknownKeyVersion", what, v, err)
				}
			case !errors.Is(err, ErrDecrypt):
				t.Fatalf("%s: %v, want ErrDecrypt", what, err)
			}
		}
		dk, err := k.OpenDEK(label, 1, b)
		checkErr("OpenDEK", err)
		w2, rerr := k.Rewrap(label, b)
		checkErr("Rewrap", rerr)
		if (err == nil) != (rerr == nil) {
			t.Fatalf("OpenDEK %v but Rewrap %v", err, rerr)
		}
		if err == nil {
			if v2, _ := WrappedVersion(w2); v2 != k.Current() {
				t.Fatalf("rewrapped to version %d, want %d", v2, k.Current())
			}
			dk2, err := k.OpenDEK(label, 1, w2)
			if err != nil {
				t.Fatalf("rewrapped key does not open: %v", err)
			}
			if pt, err := dk2.Open("f", dk.Seal("f", []byte("v"))); err != nil || string(pt) != "v" {
				t.Fatalf("rewrapped key is another key: %q, %v", pt, err)
			}
			if _, err := k.OpenDEK(label+"x", 1, b); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("wrapped key of %q opens for %q: %v", label, label+"x", err)
			}
			assertCutsFail(t, b, func(c []byte) error { _, err := k.OpenDEK(label, 1, c); return err })
		}
		pt, err := k.OpenSecret(label, b)
		checkErr("OpenSecret", err)
		if err == nil {
			if again, err := k.OpenSecret(label, k.SealSecret(label, pt)); err != nil || !bytes.Equal(again, pt) {
				t.Fatalf("secret round trip: %q, %v; want %q", again, err, pt)
			}
			assertCutsFail(t, b, func(c []byte) error { _, err := k.OpenSecret(label, c); return err })
		}
	})
}

// assertCutsFail checks that open fails with ErrDecrypt on every proper
// prefix of b, and on b with its last byte flipped.
func assertCutsFail(t *testing.T, b []byte, open func([]byte) error) {
	t.Helper()
	for n := range len(b) {
		if err := open(b[:n]); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("cut to %d of %d bytes: %v, want ErrDecrypt", n, len(b), err)
		}
	}
	flipped := bytes.Clone(b)
	flipped[len(flipped)-1] ^= 1
	if err := open(flipped); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("last byte flipped: %v, want ErrDecrypt", err)
	}
}
