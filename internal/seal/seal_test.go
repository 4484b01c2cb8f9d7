package seal

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/keyset"
	"github.com/coffre/coffre/internal/rootkey"
	"github.com/coffre/coffre/internal/unseal"
)

type svc struct{ closed chan struct{} }

func (svc) ServeHTTP(http.ResponseWriter, *http.Request) {}
func (s svc) Close() error                               { close(s.closed); return nil }

// newSealed writes a sealed keyring in a temporary directory and returns
// it read back, with the shares of its unseal key.
func newSealed(t *testing.T, m, n int) (*File, []unseal.Share) {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	shares, err := unseal.Split(key, n, m)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Seal(key, shares[0].Set(), m, n, newContents(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), FileName)
	if err := Write(path, f); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, f); err == nil {
		t.Error("Write over an existing sealed keyring: want an error")
	}
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	return got, shares
}

// newContents returns fresh contents: a root seed (version 1), a signer
// seed and a CA seed, and the signer's verifier key.
func newContents(t *testing.T) Contents {
	t.Helper()
	c := Contents{AuditSeed: make([]byte, 32), CASeed: make([]byte, 32)}
	seed := make([]byte, envelope.SeedSize)
	for _, b := range [][]byte{seed, c.AuditSeed, c.CASeed} {
		rand.Read(b)
	}
	c.Keyring = rootkey.Marshal(map[uint32][]byte{1: seed}, 1)
	signer, err := audit.NewSigner("coffre/audit", c.AuditSeed)
	if err != nil {
		t.Fatal(err)
	}
	c.AuditVerifier = signer.VerifierKey()
	return c
}

// sealLegacy makes a file of format 1 (wrapped empty) or 2, as Seal made
// them before format 3.
func sealLegacy(t *testing.T, key []byte, set string, m, n int, keyring, wrapped []byte) *File {
	t.Helper()
	f := &File{Format: format, Set: set, Threshold: m, Shares: n}
	if len(wrapped) > 0 {
		f.Format, f.Wrapped = formatWrapped, wrapped
	}
	var err error
	if f.Check, err = derive(key, set, infoCheck, 16); err != nil {
		t.Fatal(err)
	}
	if err := f.seal(key, f.sections()[0], keyring); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFileOpen(t *testing.T) {
	f, _ := newSealed(t, 2, 3)
	other := make([]byte, 32)
	if _, err := f.Open(other); !errors.Is(err, ErrWrongKey) {
		t.Errorf("Open(wrong key) = %v, want ErrWrongKey", err)
	}
}

func TestUnsealSeal(t *testing.T) {
	f, shares := newSealed(t, 2, 3)
	_, others := newSealed(t, 2, 3)
	closed := make(chan struct{})
	opened := 0
	s := New(f, func(_ context.Context, k *keyset.Set) (Service, error) {
		opened++
		return svc{closed}, nil
	}, unseal.Options{})
	ctx := context.Background()
	if st := s.Status(); !st.Sealed || st.Progress != 0 || st.Threshold != 2 || st.Set != f.Set {
		t.Fatalf("Status = %+v, want sealed 0 of 2", st)
	}
	if s.Serve(func(Service) { t.Error("served while sealed") }) {
		t.Error("Serve while sealed = true")
	}
	if _, err := s.Unseal(ctx, others[0].Text()); !errors.Is(err, unseal.ErrOtherSet) {
		t.Errorf("share of another set: %v, want ErrOtherSet", err)
	}
	if _, err := s.Unseal(ctx, shares[0].Text()[:40]); !errors.Is(err, unseal.ErrMalformed) {
		t.Errorf("truncated share: %v, want ErrMalformed", err)
	}
	if st, err := s.Unseal(ctx, shares[0].Text()); err != nil || st.Progress != 1 || !st.Sealed {
		t.Fatalf("first share: %+v %v", st, err)
	}
	if _, err := s.Unseal(ctx, shares[0].Text()); !errors.Is(err, unseal.ErrDuplicate) {
		t.Errorf("repeated share: %v, want ErrDuplicate", err)
	}
	if st, err := s.Unseal(ctx, shares[2].Text()); err != nil || st.Sealed || opened != 1 {
		t.Fatalf("second share: %+v %v (opened %d)", st, err, opened)
	}
	if _, err := s.Unseal(ctx, shares[1].Text()); !errors.Is(err, ErrUnsealed) {
		t.Errorf("unseal when unsealed: %v, want ErrUnsealed", err)
	}
	if !s.Serve(func(Service) {}) {
		t.Error("Serve while unsealed = false")
	}
	if err := s.Seal(); err != nil {
		t.Fatal(err)
	}
	if s.Serve(func(Service) { t.Error("served after the seal") }) {
		t.Error("Serve after the seal = true")
	}
	<-s.Closed()
	<-closed
	if err := s.Seal(); !errors.Is(err, ErrSealed) {
		t.Errorf("Seal when sealed: %v, want ErrSealed", err)
	}
}

func TestOpenShares(t *testing.T) {
	f, shares := newSealed(t, 2, 3)
	_, others := newSealed(t, 2, 3)
	if _, err := f.OpenShares([]string{shares[0].Text()}); !errors.Is(err, ErrTooFewShares) {
		t.Errorf("one share: %v, want ErrTooFewShares", err)
	}
	if _, err := f.OpenShares([]string{shares[0].Text(), others[1].Text()}); !errors.Is(err, unseal.ErrOtherSet) {
		t.Errorf("a share of another set: %v, want ErrOtherSet", err)
	}
	k, err := f.OpenShares([]string{shares[2].Text(), shares[0].Text()})
	if err != nil || k.Ring.Current() != 1 {
		t.Fatalf("two shares: %v", err)
	}
}

// TestLegacyFormats: sealed keyrings written before format 3 still read
// and open, by their unseal key and by OpenSet, to the signer and CA
// they always had (derived from the oldest root seed): the verifier key
// and the CA key are pinned. testdata/keyring-format1.sealed was written
// by keys init of the first release (unseal key 32 bytes of 1);
// testdata/keyring-format2.sealed by SealWrapped before format 3 (unseal
// key 32 bytes of 2, seeds of 7 and 8 bytes for versions 1 and 3).
func TestLegacyFormats(t *testing.T) {
	for _, tt := range []struct {
		file, verifier, ca string
		key                byte
		wrapped            bool
		current            uint32
	}{
		{"testdata/keyring-format1.sealed", "coffre/audit+1351626c+ATSIF4ETDNGDxJuicaPybzt2eFNuAHFBgNZr0VyKbSge",
			"116decacd818ae6f0a600339d2ad13ac5cc6740cc2c1d661c78880c4fc89081f", 1, false, 1},
		{"testdata/keyring-format2.sealed", "coffre/audit+46097b35+AT2BQLBtx3Ri7yVMUu4ngL1QQLoedXEc0LPHKHPu8XIX",
			"9f3d661b88eead6c803afe72d8e35276a3f9284ef9113104d3b8766fec0b2691", 2, true, 3},
	} {
		t.Run(tt.file, func(t *testing.T) {
			f, err := Read(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if (len(f.Wrapped) > 0) != tt.wrapped || f.Threshold != 2 || f.Shares != 3 {
				t.Fatalf("read as %+v", f)
			}
			key := bytes.Repeat([]byte{tt.key}, 32)
			body, err := f.Open(key)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := rootkey.Parse(body); err != nil {
				t.Fatal(err)
			}
			set, err := f.OpenSet(key)
			if err != nil {
				t.Fatal(err)
			}
			if err := set.Check(); err != nil || set.Ring.Current() != tt.current {
				t.Fatalf("OpenSet: %v, current version %d", err, set.Ring.Current())
			}
			signer, err := audit.NewSigner("coffre/audit", set.AuditSeed)
			if err != nil {
				t.Fatal(err)
			}
			if got := signer.VerifierKey(); got != tt.verifier {
				t.Errorf("verifier key %s, want %s (the one it had before)", got, tt.verifier)
			}
			pub := ed25519.NewKeyFromSeed(set.CASeed).Public().(ed25519.PublicKey)
			if got := hex.EncodeToString(pub); got != tt.ca {
				t.Errorf("partner CA key %s, want %s (the one it had before)", got, tt.ca)
			}
			want, _ := derive(key, f.Set, "coffre root key versions", 32)
			if !bytes.Equal(set.VersionsKey, want) {
				t.Error("the versions key is not HKDF(unseal key, set, \"coffre root key versions\")")
			}
		})
	}
}

// TestWrapped: a file keeps the wrapped unseal key, round-trips, opens
// by the unseal key alone (UnsealKey) or by shares; a format 2 file
// without it, or a format 1 file with it, is refused.
func TestWrapped(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	shares, err := unseal.Split(key, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, tt := range []struct {
		format string
		f      *File
	}{
		{format3, nil},
		{formatWrapped, sealLegacy(t, key, shares[0].Set(), 2, 3, rootkey.Marshal(map[uint32][]byte{1: make([]byte, 32)}, 1), []byte("blob"))},
	} {
		t.Run(tt.format, func(t *testing.T) {
			f := tt.f
			if f == nil {
				if f, err = Seal(key, shares[0].Set(), 2, 3, newContents(t), []byte("blob")); err != nil {
					t.Fatal(err)
				}
			}
			path := filepath.Join(dir, tt.format)
			if err := Write(path, f); err != nil {
				t.Fatal(err)
			}
			got, err := Read(path)
			if err != nil || got.Format != tt.format || string(got.Wrapped) != "blob" {
				t.Fatalf("Read = %+v, %v", got, err)
			}
			if _, err := got.OpenShares([]string{shares[2].Text(), shares[0].Text()}); err != nil {
				t.Errorf("OpenShares: %v", err)
			}
			s := New(got, func(context.Context, *keyset.Set) (Service, error) {
				return svc{closed: make(chan struct{})}, nil
			}, unseal.Options{})
			if _, err := s.UnsealKey(t.Context(), make([]byte, 32)); !errors.Is(err, ErrWrongKey) || !s.Status().Sealed {
				t.Errorf("UnsealKey(wrong key) = %v, sealed %v", err, s.Status().Sealed)
			}
			if st, err := s.UnsealKey(t.Context(), bytes.Clone(key)); err != nil || st.Sealed {
				t.Errorf("UnsealKey = %+v, %v", st, err)
			}
			if _, err := s.UnsealKey(t.Context(), bytes.Clone(key)); !errors.Is(err, ErrUnsealed) {
				t.Errorf("UnsealKey on an unsealed state = %v, want ErrUnsealed", err)
			}
		})
	}

	f3, err := Read(filepath.Join(dir, format3))
	if err != nil {
		t.Fatal(err)
	}
	f2, err := Read(filepath.Join(dir, formatWrapped))
	if err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*File){
		"format 2 without wrapped":    func(f *File) { *f = *f2; f.Wrapped = nil },
		"format 1 with wrapped":       func(f *File) { *f = *f2; f.Format = format },
		"format 2 with a verifier":    func(f *File) { *f = *f2; f.AuditVerifier = f3.AuditVerifier },
		"format 2 with a CA section":  func(f *File) { *f = *f2; f.PartnerCA = f3.PartnerCA },
		"format 3 without a signer":   func(f *File) { *f = *f3; f.AuditSigner = nil },
		"format 3 without a CA":       func(f *File) { *f = *f3; f.PartnerCA = nil },
		"format 3 without a verifier": func(f *File) { *f = *f3; f.AuditVerifier = "" },
		"format 3, a section cut":     func(f *File) { *f = *f3; f.PartnerCA = f.PartnerCA[:40] },
		"format 3, not a verifier":    func(f *File) { *f = *f3; f.AuditVerifier = "coffre/audit+00000000+AAAA" },
		"format 3, a | in the verifier": func(f *File) {
			*f = *f3
			f.AuditVerifier = strings.Replace(f.AuditVerifier, "coffre/audit", "coffre/audit|x", 1)
		},
	} {
		var g File
		edit(&g)
		p := filepath.Join(dir, name)
		if err := Write(p, &g); err != nil {
			t.Fatal(err)
		}
		if _, err := Read(p); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Read = %v, want ErrMalformed", name, err)
		}
	}
}

// TestSections: a format 3 file opens to the contents sealed; the
// keyring section's key opens neither the signer's nor the CA's section,
// whatever associated data it is given; a tampered section, sections
// swapped, or another verifier key fail with ErrMalformed naming the
// section, and no error holds key material.
func TestSections(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	c := newContents(t)
	f, err := Seal(key, "0123456789abcdef", 2, 3, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.Format != format3 || f.AuditVerifier != c.AuditVerifier || f.Wrapped != nil {
		t.Fatalf("Seal made %+v", f)
	}
	set, err := f.OpenSet(key)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(set.AuditSeed, c.AuditSeed) || !bytes.Equal(set.CASeed, c.CASeed) || set.Check() != nil {
		t.Fatal("OpenSet does not give back the seeds sealed")
	}
	if legacy, _, _ := keyset.Legacy(map[uint32][]byte{1: mustSeed(t, c.Keyring)}); bytes.Equal(legacy, set.AuditSeed) {
		t.Fatal("the signer is the one the root seed derives")
	}

	dataAEAD, err := f.aead(key, infoKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, ct := range [][]byte{f.AuditSigner, f.PartnerCA} {
		for _, sec := range []string{sectionKeyring, sectionAudit, sectionCA} {
			if _, err := dataAEAD.Open(nil, ct[:12], ct[12:], f.ad(sec)); err == nil {
				t.Fatalf("the keyring section's key opens another section (associated data of %q)", sec)
			}
		}
	}

	secret := []string{base64.StdEncoding.EncodeToString(c.AuditSeed), base64.StdEncoding.EncodeToString(c.CASeed), hex.EncodeToString(c.AuditSeed)}
	for name, tt := range map[string]struct {
		edit func(*File)
		want string
	}{
		"signer tampered":               {func(f *File) { f.AuditSigner = flip(f.AuditSigner, 20) }, "audit signer section does not open"},
		"CA nonce tampered":             {func(f *File) { f.PartnerCA = flip(f.PartnerCA, 0) }, "partner ca section does not open"},
		"keyring tampered":              {func(f *File) { f.Sealed = flip(f.Sealed, len(f.Sealed)-1) }, "keyring section does not open"},
		"sections swapped":              {func(f *File) { f.AuditSigner, f.PartnerCA = f.PartnerCA, f.AuditSigner }, "audit signer section does not open"},
		"signer in the keyring's place": {func(f *File) { f.Sealed = f.AuditSigner }, "keyring section does not open"},
		"another verifier": {func(f *File) {
			other, _ := audit.NewSigner("coffre/audit", bytes.Repeat([]byte{9}, 32))
			f.AuditVerifier = other.VerifierKey()
		}, "keyring section does not open"},
		"another threshold": {func(f *File) { f.Threshold = 3 }, "keyring section does not open"},
	} {
		t.Run(name, func(t *testing.T) {
			g := *f
			tt.edit(&g)
			_, err := g.OpenSet(key)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("OpenSet = %v; want ErrMalformed saying %q", err, tt.want)
			}
			for _, s := range secret {
				if strings.Contains(err.Error(), s) {
					t.Fatalf("error %q holds key material", err)
				}
			}
		})
	}
	if _, err := f.OpenSet(make([]byte, 32)); !errors.Is(err, ErrWrongKey) {
		t.Errorf("OpenSet(wrong key) = %v, want ErrWrongKey", err)
	}
}

// flip returns b with the byte at i changed.
func flip(b []byte, i int) []byte {
	b = bytes.Clone(b)
	b[i] ^= 1
	return b
}

// mustSeed returns the one root seed of a keyring encoding.
func mustSeed(t *testing.T, keyring []byte) []byte {
	t.Helper()
	seeds, _, err := rootkey.Decode(keyring)
	if err != nil || len(seeds) != 1 {
		t.Fatalf("Decode: %v, %d seeds", err, len(seeds))
	}
	for _, s := range seeds {
		return s
	}
	return nil
}

// TestFormat3Vector reads testdata/keyring-format3.sealed (unseal key 32
// bytes of 3; root seed 32 bytes of 9 as version 1, signer seed of 10s,
// CA seed of 11s): the format must not change.
func TestFormat3Vector(t *testing.T) {
	f, err := Read("testdata/keyring-format3.sealed")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := audit.NewSigner("coffre/audit", bytes.Repeat([]byte{10}, 32))
	if f.Format != format3 || f.AuditVerifier != signer.VerifierKey() || f.Wrapped != nil {
		t.Fatalf("read as %+v", f)
	}
	set, err := f.OpenSet(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := envelope.NewKeyring(map[uint32][]byte{1: bytes.Repeat([]byte{9}, 32)}, 1)
	if !bytes.Equal(set.Ring.BlindIndex("f", "v"), want.BlindIndex("f", "v")) ||
		!bytes.Equal(set.AuditSeed, bytes.Repeat([]byte{10}, 32)) || !bytes.Equal(set.CASeed, bytes.Repeat([]byte{11}, 32)) {
		t.Fatal("the format 3 vector opens to other keys")
	}
}
