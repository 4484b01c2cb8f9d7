package rootkey

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/keyset"
)

// seedB64 is a valid seed in the file's encoding.
var seedB64 = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{5}, envelope.SeedSize))

func writeKey(t *testing.T, body string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "root.key")
	if err := os.WriteFile(path, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	return path
}

// TestRoundTrip: LoadOrCreate makes an owner-only file in an owner-only
// directory, and loads the same keys from it afterwards.
func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "root.key")
	k1, created, err := LoadOrCreate(path)
	if err != nil || !created {
		t.Fatalf("LoadOrCreate of a new file: created %v, %v", created, err)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, %v; want %o", p, st.Mode().Perm(), err, want)
		}
	}
	k2, created, err := LoadOrCreate(path)
	if err != nil || created {
		t.Fatalf("LoadOrCreate of the file it made: created %v, %v", created, err)
	}
	if !bytes.Equal(k1.AuditSeed, k2.AuditSeed) || !bytes.Equal(k1.CASeed, k2.CASeed) || !bytes.Equal(k1.VersionsKey, k2.VersionsKey) ||
		!bytes.Equal(k1.Ring.BlindIndex("f", "v"), k2.Ring.BlindIndex("f", "v")) || k2.Ring.Current() != 1 {
		t.Fatal("the keys loaded differ from the keys created")
	}
	// A new file keeps the signer, the CA and the versions key apart from
	// the root seed: none is what the seed would derive.
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := decode(body)
	if err != nil || c.audit == nil {
		t.Fatalf("the file LoadOrCreate made: %v, keys apart from the seeds: %v", err, c.audit != nil)
	}
	legacyAudit, legacyCA, _ := keyset.Legacy(c.seeds)
	legacyVersions, _ := keyset.FromOldest(c.seeds, keyset.VersionsLabel)
	if bytes.Equal(k2.AuditSeed, legacyAudit) || bytes.Equal(k2.CASeed, legacyCA) || bytes.Equal(k2.VersionsKey, legacyVersions) {
		t.Fatal("a new key file derives its signer, CA or versions key from the root seed")
	}
	if !bytes.Equal(k2.AuditSeed, c.audit) || !bytes.Equal(k2.CASeed, c.ca) || !bytes.Equal(k2.VersionsKey, c.versions) {
		t.Fatal("the set loaded is not the file's keys")
	}
	if bytes.Equal(c.audit, c.ca) || bytes.Equal(c.audit, c.versions) || bytes.Equal(c.ca, c.versions) {
		t.Fatal("two of the keys apart from the seeds are equal")
	}
}

// TestVector loads testdata/root.key (seeds of 0x01 and 0x02 bytes, the
// keyring of package envelope's vectors), a file of before the keys apart
// from the seeds: the file format must not change, and its signer and
// CA derive from the oldest seed as they always did.
func TestVector(t *testing.T) {
	body, err := os.ReadFile("testdata/root.key")
	if err != nil {
		t.Fatal(err)
	}
	k, err := Load(writeKey(t, string(body), 0o600))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := envelope.NewKeyring(map[uint32][]byte{1: bytes.Repeat([]byte{1}, 32), 2: bytes.Repeat([]byte{2}, 32)}, 2)
	if k.Ring.Current() != 2 || !bytes.Equal(k.Ring.BlindIndex("f", "v"), want.BlindIndex("f", "v")) {
		t.Fatal("testdata/root.key loads to other keys than its seeds")
	}
	checkLegacy(t, k)
}

// checkLegacy checks the signer and the CA of testdata/root.key, a key
// file of before the hierarchies were separated: derived from its oldest
// seed, the verifier key and CA key it always had.
func checkLegacy(t *testing.T, k *keyset.Set) {
	t.Helper()
	signer, err := audit.NewSigner("coffre/audit", k.AuditSeed)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := signer.VerifierKey(), "coffre/audit+4365507c+Af9TpbQYWlQEhRYwH+UiAXMXFv4G61XQCxNXFzXInT/n"; got != want {
		t.Errorf("verifier key %s, want %s (the one it had before)", got, want)
	}
	pub := ed25519.NewKeyFromSeed(k.CASeed).Public().(ed25519.PublicKey)
	if got, want := hex.EncodeToString(pub), "cfc245f7d56d11ea3787dbf07260105e69002b4cf9a1fe2cc91696c78f4b1023"; got != want {
		t.Errorf("partner CA key %s, want %s (the one it had before)", got, want)
	}
	if want, _ := keyset.FromOldest(map[uint32][]byte{1: bytes.Repeat([]byte{1}, 32)}, keyset.VersionsLabel); !bytes.Equal(k.VersionsKey, want) {
		t.Error("the versions key of a legacy key file is not derived from its oldest seed")
	}
}

// TestVectorSeparate loads testdata/root-separate.key: the seeds of
// testdata/root.key, and the signer, CA and versions key apart from them
// (32 bytes of 3, 4 and 5).
func TestVectorSeparate(t *testing.T) {
	body, err := os.ReadFile("testdata/root-separate.key")
	if err != nil {
		t.Fatal(err)
	}
	k, err := Load(writeKey(t, string(body), 0o600))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := envelope.NewKeyring(map[uint32][]byte{1: bytes.Repeat([]byte{1}, 32), 2: bytes.Repeat([]byte{2}, 32)}, 2)
	if k.Ring.Current() != 2 || !bytes.Equal(k.Ring.BlindIndex("f", "v"), want.BlindIndex("f", "v")) {
		t.Fatal("testdata/root-separate.key loads to other keys than its seeds")
	}
	for name, got := range map[string][]byte{"audit": k.AuditSeed, "ca": k.CASeed, "versions": k.VersionsKey} {
		b := map[string]byte{"audit": 3, "ca": 4, "versions": 5}[name]
		if !bytes.Equal(got, bytes.Repeat([]byte{b}, 32)) {
			t.Errorf("%s key %x, want 32 bytes of %d", name, got, b)
		}
	}
	if _, _, err := Decode(body); err == nil {
		t.Error("Decode (of Marshal's encoding) accepts a body with the keys apart from the seeds")
	}
}

func TestPermissions(t *testing.T) {
	body := `{"current":1,"versions":{"1":"` + seedB64 + `"}}`
	for _, tt := range []struct {
		mode os.FileMode
		ok   bool
	}{
		{0o600, true}, {0o400, true},
		{0o640, false}, {0o604, false}, {0o644, false}, {0o620, false}, {0o602, false}, {0o660, false}, {0o666, false}, {0o610, false}, {0o601, false},
	} {
		_, err := Load(writeKey(t, body, tt.mode))
		if (err == nil) != tt.ok {
			t.Errorf("Load of a file of mode %o: %v; want ok=%v", tt.mode, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("mode %o: error %q does not say what to do", tt.mode, err)
		}
	}
	t.Run("LoadOrCreate keeps refusing", func(t *testing.T) {
		path := writeKey(t, body, 0o644)
		if _, created, err := LoadOrCreate(path); err == nil || created {
			t.Fatalf("LoadOrCreate of a readable file: created %v, %v; want an error", created, err)
		}
	})
}

func TestMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.key")
	if _, err := Load(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load of a missing file: %v, want fs.ErrNotExist", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("Load created the file")
	}
	if _, err := Load(t.TempDir()); err == nil {
		t.Fatal("Load of a directory succeeded")
	}
}

func TestBadFile(t *testing.T) {
	short := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{5}, envelope.SeedSize-1))
	long := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{5}, envelope.SeedSize+1))
	for _, tt := range []struct{ name, body, want string }{
		{"empty", ``, "not a Coffre key file"},
		{"not json", `current: 1`, "not a Coffre key file"},
		{"array", `[]`, "not a Coffre key file"},
		{"cut", `{"current":1,"versions":{"1":"` + seedB64 + `"}`, "not a Coffre key file"},
		{"unknown field", `{"current":1,"versions":{"1":"` + seedB64 + `"},"note":"x"}`, "not a Coffre key file"},
		{"two objects", `{"current":1,"versions":{"1":"` + seedB64 + `"}}{}`, "data after the object"},
		{"no versions", `{"current":1,"versions":{}}`, "no root key versions"},
		{"no current", `{"versions":{"1":"` + seedB64 + `"}}`, "current version 0"},
		{"current absent", `{"current":2,"versions":{"1":"` + seedB64 + `"}}`, "current version 2"},
		{"version 0", `{"current":0,"versions":{"0":"` + seedB64 + `"}}`, "version 0 is reserved"},
		{"version not a number", `{"current":1,"versions":{"one":"` + seedB64 + `"}}`, "not a Coffre key file"},
		{"not base64", `{"current":1,"versions":{"1":"not base64!"}}`, "version 1 is not base64"},
		{"seed short", `{"current":1,"versions":{"1":"` + short + `"}}`, "version 1 is 31 bytes, want 32"},
		{"seed long", `{"current":1,"versions":{"1":"` + long + `"}}`, "version 1 is 33 bytes, want 32"},
		{"signer alone", `{"current":1,"versions":{"1":"` + seedB64 + `"},"audit_signer":"` + seedB64 + `"}`, "all three or none"},
		{"no versions key", `{"current":1,"versions":{"1":"` + seedB64 + `"},"audit_signer":"` + seedB64 + `","partner_ca":"` + seedB64 + `"}`, "all three or none"},
		{"ca not base64", `{"current":1,"versions":{"1":"` + seedB64 + `"},"audit_signer":"` + seedB64 + `","partner_ca":"not base64!","versions_key":"` + seedB64 + `"}`, "partner_ca is not base64"},
		{"signer short", `{"current":1,"versions":{"1":"` + seedB64 + `"},"audit_signer":"` + short + `","partner_ca":"` + seedB64 + `","versions_key":"` + seedB64 + `"}`, "audit_signer is 31 bytes, want 32"},
		{"versions key long", `{"current":1,"versions":{"1":"` + seedB64 + `"},"audit_signer":"` + seedB64 + `","partner_ca":"` + seedB64 + `","versions_key":"` + long + `"}`, "versions_key is 33 bytes, want 32"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(writeKey(t, tt.body, 0o600))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load got %v, want an error saying %q", err, tt.want)
			}
			for _, secret := range []string{seedB64, short, long, seedB64[:16]} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error %q holds key material", err)
				}
			}
		})
	}
}

// FuzzDecode feeds arbitrary bytes to the key file parser: no panic; what
// it accepts makes a key set, and encodes to a file that decodes to the
// same contents; a cut of it (short of trailing space) fails.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"testdata/root.key", "testdata/root-separate.key"} {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Add(Marshal(map[uint32][]byte{1: bytes.Repeat([]byte{9}, envelope.SeedSize)}, 1))
	f.Add([]byte(`{"current":1,"versions":{"1":"` + seedB64 + `","01":"` + seedB64 + `"}}`))
	f.Add([]byte(`{"current":0,"versions":{"0":"` + seedB64 + `"}}`))
	f.Add([]byte(`{"current":1,"versions":{"1":"` + seedB64 + `"},"audit_signer":"` + seedB64 + `","partner_ca":"","versions_key":"` + seedB64 + `"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := decode(body)
		if err != nil {
			return
		}
		c2, err := decode(encode(c))
		if err != nil || c2.current != c.current || !maps.EqualFunc(c.seeds, c2.seeds, bytes.Equal) ||
			!bytes.Equal(c.audit, c2.audit) || !bytes.Equal(c.ca, c2.ca) || !bytes.Equal(c.versions, c2.versions) {
			t.Fatalf("%q: re-encoded file decodes to %+v, %v; want %+v", body, c2, err, c)
		}
		k, err := newSet(c)
		if err != nil {
			t.Fatalf("decode accepted %q, but newSet refuses it: %v", body, err)
		}
		if err := k.Check(); err != nil {
			t.Fatalf("decode accepted %q, but its set is not whole: %v", body, err)
		}
		for n := range len(bytes.TrimRight(body, " \t\r\n")) {
			if _, err := decode(body[:n]); err == nil {
				t.Fatalf("decode accepts %q, a cut of %q", body[:n], body)
			}
		}
	})
}
