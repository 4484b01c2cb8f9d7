package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
