package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"filippo.io/age/armor"
	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/keyset"
	"github.com/coffre/coffre/internal/rootkey"
	"github.com/coffre/coffre/internal/seal"
	"github.com/coffre/coffre/internal/unseal"
)

// TestKeysInitSharesUnseal checks that the shares keys init prints, and
// those it writes with --out, rebuild a root seed of the keyring's size,
// and that the files are readable by their owner only.
func TestKeysInitSharesUnseal(t *testing.T) {
	code, stdout, stderr := runCLI(t, "keys", "init", "--data", t.TempDir(), "--shares", "4", "--threshold", "3", "--json")
	if code != 0 {
		t.Fatalf("keys init = %d, %q", code, stderr)
	}
	var res keysInitJSON
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	texts := make([]string, len(res.Items))
	for i, it := range res.Items {
		texts[i] = it.Share
	}
	if strings.Contains(stderr, texts[0]) {
		t.Error("a share was printed on stderr")
	}
	checkRebuild(t, res, texts, 3)

	data := t.TempDir()
	if code, _, _ := runCLI(t, "keys", "init", "--shares", "3", "--threshold", "2"); code == 0 {
		t.Error("keys init without --data or --config succeeded")
	}
	dir := filepath.Join(t.TempDir(), "out")
	code, stdout, stderr = runCLI(t, "keys", "init", "--data", data, "--shares", "3", "--threshold", "2", "--out", dir, "--json")
	if code != 0 {
		t.Fatalf("keys init --out = %d, %q", code, stderr)
	}
	res = keysInitJSON{}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	texts = nil
	for _, it := range res.Items {
		st, err := os.Stat(it.File)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %o, want 600", it.File, st.Mode().Perm())
		}
		b, err := os.ReadFile(it.File)
		if err != nil {
			t.Fatal(err)
		}
		texts = append(texts, string(b))
	}
	checkRebuild(t, res, texts, 2)
	if code, _, stderr := runCLI(t, "keys", "init", "--data", data, "--shares", "3", "--threshold", "2"); code == 0 || !strings.Contains(stderr, "sealed keyring already") {
		t.Errorf("keys init over a sealed keyring = %d, %q; want a refusal", code, stderr)
	}
}

// checkRebuild rebuilds the unseal key from m shares and opens the
// sealed keyring keys init wrote with it.
func checkRebuild(t *testing.T, res keysInitJSON, texts []string, m int) {
	t.Helper()
	a := unseal.NewAccumulator(unseal.Options{Set: res.Set})
	var key []byte
	for _, text := range texts[:m] {
		s, err := unseal.Parse(text)
		if err != nil {
			t.Fatalf("Parse(share) got %v", err)
		}
		if key, _, err = a.Add(s); err != nil {
			t.Fatalf("Add(share) got %v", err)
		}
	}
	f, err := seal.Read(res.Keyring)
	if err != nil {
		t.Fatal(err)
	}
	body, err := f.Open(key)
	if err != nil {
		t.Fatalf("the rebuilt key does not open the sealed keyring: %v", err)
	}
	if _, err := rootkey.Parse(body); err != nil {
		t.Fatalf("the sealed keyring holds no keyring: %v", err)
	}
	// The signer and the CA are keys of their own, and the verifier key
	// published is the signer's.
	set, err := f.OpenSet(key)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := audit.NewSigner(auditlog.Origin, set.AuditSeed)
	if err != nil {
		t.Fatal(err)
	}
	if signer.VerifierKey() != res.AuditVerifier || f.AuditVerifier != res.AuditVerifier {
		t.Errorf("published verifier key %q (file %q), the signer's is %q", res.AuditVerifier, f.AuditVerifier, signer.VerifierKey())
	}
	seeds, _, _ := rootkey.Decode(body)
	legacyAudit, legacyCA, _ := keyset.Legacy(seeds)
	if bytes.Equal(set.AuditSeed, legacyAudit) || bytes.Equal(set.CASeed, legacyCA) || bytes.Equal(set.AuditSeed, set.CASeed) {
		t.Error("the signer or the CA derives from the root seed, or they are one key")
	}
}

// holders makes n age identities and their identity files.
func holders(t *testing.T, n int) (ids []*age.X25519Identity, files []string) {
	t.Helper()
	dir := t.TempDir()
	for i := range n {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, fmt.Sprintf("holder%d.txt", i+1))
		if err := os.WriteFile(p, []byte(id.String()+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		ids, files = append(ids, id), append(files, p)
	}
	return ids, files
}

// TestKeysInitRecipients: with --recipient, share i is written, armored,
// to the i-th holder's public key; each holder's identity opens their
// file to a share, M of them open the sealed keyring, and no other
// identity opens it.
func TestKeysInitRecipients(t *testing.T) {
	ids, idFiles := holders(t, 4) // three holders and a stranger
	data, out := t.TempDir(), filepath.Join(t.TempDir(), "shares")
	args := []string{"keys", "init", "--data", data, "--shares", "3", "--threshold", "2", "--out", out, "--json"}
	for _, id := range ids[:3] {
		args = append(args, "--recipient", id.Recipient().String())
	}
	code, stdout, stderr := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("keys init --recipient = %d, %q", code, stderr)
	}
	var res keysInitJSON
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != 3 {
		t.Fatalf("keys init --recipient wrote %d files, want 3", len(res.Items))
	}
	texts := make([]string, 3)
	for i, it := range res.Items {
		if it.Share != "" || !strings.HasSuffix(it.File, fmt.Sprintf("-%d-of-3.age", i+1)) {
			t.Fatalf("item %d = %+v, want a file coffre-share-…-%d-of-3.age and no share", i, it, i+1)
		}
		st, err := os.Stat(it.File)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %o, want 600", it.File, st.Mode().Perm())
		}
		raw, err := os.ReadFile(it.File)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(raw, []byte(armor.Header)) || bytes.Contains(raw, []byte("coffre-share-1:")) {
			t.Errorf("%s is not an armored age file, or holds the share in clear", it.File)
		}
		if texts[i], err = readShare(it.File, idFiles[i:i+1]); err != nil {
			t.Fatalf("readShare(%s, holder %d) got %v", filepath.Base(it.File), i+1, err)
		}
		if s, err := unseal.Parse(texts[i]); err != nil || s.Index() != i+1 || s.Set() != res.Set {
			t.Fatalf("share file %d holds share %v (%v), want share %d of set %s", i+1, s, err, i+1, res.Set)
		}
		// Another holder's identity, or the stranger's, opens nothing.
		other := idFiles[(i+1)%3 : (i+1)%3+1]
		for _, wrong := range [][]string{other, idFiles[3:]} {
			_, err := readShare(it.File, wrong)
			var ue *usageError
			if !errors.As(err, &ue) || !strings.HasPrefix(ue.msg, "this identity does not open the share file "+it.File) {
				t.Errorf("readShare(%s, %s) got %v, want a usage error: this identity does not open …", filepath.Base(it.File), filepath.Base(wrong[0]), err)
			}
		}
		if _, err := readShare(it.File, nil); err == nil || !strings.Contains(err.Error(), "add --identity") {
			t.Errorf("readShare(%s) without identity got %v, want: add --identity", filepath.Base(it.File), err)
		}
	}
	if strings.Contains(stdout+stderr, texts[0]) {
		t.Error("a share was printed")
	}
	f, err := seal.Read(res.Keyring)
	if err != nil {
		t.Fatal(err)
	}
	for _, pair := range [][]string{texts[:2], texts[1:], {texts[0], texts[2]}} {
		if _, err := f.OpenShares(pair); err != nil {
			t.Errorf("two decrypted shares do not open the sealed keyring: %v", err)
		}
	}
	// All the identities at once (several holders at the host) open each file.
	for _, it := range res.Items {
		if _, err := readShare(it.File, idFiles); err != nil {
			t.Errorf("readShare(%s, every identity) got %v", filepath.Base(it.File), err)
		}
	}
}

// TestReadShare: a share file is read plain, armored or binary age; what
// is no share is refused without being quoted.
func TestReadShare(t *testing.T) {
	ids, idFiles := holders(t, 1)
	shares, err := unseal.Split(bytes.Repeat([]byte{7}, unsealKeySize), 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	text := shares[0].Text()
	mistyped := text[:len(text)-1] + "A" // its last character changed
	if strings.HasSuffix(text, "A") {
		mistyped = text[:len(text)-1] + "B"
	}
	armored, err := encryptShare(shares[0], ids[0].Recipient())
	if err != nil {
		t.Fatal(err)
	}
	var binary bytes.Buffer
	w, err := age.Encrypt(&binary, ids[0].Recipient())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, text+"\n")
	w.Close()
	var garbage bytes.Buffer
	w, _ = age.Encrypt(&garbage, ids[0].Recipient())
	io.WriteString(w, "AGE-SECRET-KEY-1NOTASHARE\n")
	w.Close()
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		content []byte
		ids     []string
		want    string // "" for the share's text, else in the error
	}{
		{"plain", []byte("\n" + text + "\n"), nil, ""},
		{"plain with an identity", []byte(text + "\n"), idFiles, ""},
		{"armored", armored, idFiles, ""},
		{"armored after blank lines", append([]byte("\n\n"), armored...), idFiles, ""},
		{"binary", binary.Bytes(), idFiles, ""},
		{"armored without identity", armored, nil, "is encrypted with age: add --identity FILE"},
		{"binary without identity", binary.Bytes(), nil, "is encrypted with age: add --identity FILE"},
		{"armored, cut", armored[:len(armored)-40], idFiles, "is damaged or cut"},
		{"binary, cut", binary.Bytes()[:binary.Len()-5], idFiles, "is damaged or cut"},
		{"no share", []byte("hello\n"), nil, "holds no Coffre share"},
		{"an encrypted non-share", garbage.Bytes(), idFiles, "holds no Coffre share"},
		{"a mistyped share", []byte(mistyped), nil, "holds no Coffre share"},
		{"identity file not an identity", armored, []string{write("notid.txt", []byte("age1notakey\n"))}, "is not an age identity file"},
		{"too large", bytes.Repeat([]byte{'a'}, shareFileMax+1), nil, "larger than 64 KiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := write("share", tt.content)
			got, err := readShare(p, tt.ids)
			switch {
			case tt.want == "" && (err != nil || got != text):
				t.Errorf("readShare got %v, want the share", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("readShare got %v, want an error with %q", err, tt.want)
			case err != nil && (strings.Contains(err.Error(), "AGE-SECRET-KEY") || strings.Contains(err.Error(), text[20:])):
				t.Errorf("readShare error quotes key material: %v", err)
			}
		})
	}
}

// TestKeysInitRecipientRefusals: a wrong count, a malformed or repeated
// recipient, a missing --out, or a keyring that cannot be written: init
// fails, and leaves neither a sealed keyring nor a share file.
func TestKeysInitRecipientRefusals(t *testing.T) {
	ids, _ := holders(t, 3)
	r := func(i int) string { return ids[i].Recipient().String() }
	recipFile := filepath.Join(t.TempDir(), "holders.txt")
	if err := os.WriteFile(recipFile, []byte("# holders\n"+r(0)+"\n\n"+r(1)+"\n"+r(0)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string // after --shares 3 --threshold 2
		data string   // "" for a fresh directory
		code int
		want string
	}{
		{"too few", []string{"--recipient", r(0), "--recipient", r(1)}, "", 2, "--recipient is given 2 times for 3 shares: want exactly 3"},
		{"too many", []string{"--recipient", r(0), "--recipient", r(1), "--recipient", r(2), "--recipient", r(2)}, "", 2, "given 4 times for 3 shares"},
		{"malformed", []string{"--recipient", r(0), "--recipient", r(1), "--recipient", "age1xyz"}, "", 2, "--recipient 3 is not an age public key"},
		{"secret key", []string{"--recipient", r(0), "--recipient", ids[1].String(), "--recipient", r(2)}, "", 2, "--recipient 2 is an age secret key"},
		{"duplicate", []string{"--recipient", r(0), "--recipient", r(1), "--recipient", r(0)}, "", 2, "--recipient 3 is the same key as recipient 1"},
		{"duplicate with spaces", []string{"--recipient", r(0), "--recipient", " " + r(0) + "\n", "--recipient", r(2)}, "", 2, "--recipient 2 is the same key as recipient 1"},
		{"duplicate in a file", []string{"--recipient-file", recipFile}, "", 2, "recipient 3 (line 5) is the same key as recipient 1"},
		{"both", []string{"--recipient-file", recipFile, "--recipient", r(0)}, "", 2, "not both"},
		{"no recipient file", []string{"--recipient-file", recipFile + ".missing"}, "", 2, "--recipient-file: open"},
		{"keyring not writable", []string{"--recipient", r(0), "--recipient", r(1), "--recipient", r(2)}, filepath.Join(blocker, "d"), 1, "write sealed keyring"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := tt.data
			if data == "" {
				data = t.TempDir()
			}
			out := filepath.Join(t.TempDir(), "shares")
			args := append([]string{"keys", "init", "--data", data, "--shares", "3", "--threshold", "2", "--out", out}, tt.args...)
			code, stdout, stderr := runCLI(t, args...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Errorf("keys init got %d, %q; want %d and %q", code, stderr, tt.code, tt.want)
			}
			if stdout != "" || strings.Contains(stderr, "coffre-share-1:") || strings.Contains(stderr, "AGE-SECRET-KEY") {
				t.Errorf("a failed keys init printed %q, %q", stdout, stderr)
			}
			if _, err := os.Stat(seal.Path(data)); err == nil {
				t.Error("a failed keys init left a sealed keyring")
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("a failed keys init left its --out directory")
			}
		})
	}
	if code, _, stderr := runCLI(t, "keys", "init", "--data", t.TempDir(), "--shares", "2", "--threshold", "2", "--recipient", r(0), "--recipient", r(1)); code != 2 || !strings.Contains(stderr, "want --out DIR") {
		t.Errorf("keys init --recipient without --out = %d, %q; want a usage error", code, stderr)
	}
}

// TestWriteSharesUndo: a share file that cannot be written removes those
// written before it, and keeps what was there.
func TestWriteSharesUndo(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "b"), []byte("kept"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := writeShares(dir, []shareFile{{"a", []byte("1")}, {"b", []byte("2")}, {"c", []byte("3")}})
	if err == nil {
		t.Fatal("writeShares over an existing file succeeded")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "b" {
		t.Errorf("after a failed writeShares the directory holds %v, want only the file that was there", entries)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "b")); string(b) != "kept" {
		t.Errorf("writeShares changed an existing file: %q", b)
	}
}
