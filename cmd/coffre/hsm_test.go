//go:build cgo

package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/kms/pkcs11/softhsmtest"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetest"
)

const hsmPIN = "4321-test-pin"

// softHSMToken makes a SoftHSM2 token in a temporary directory and points
// seal.pkcs11 at it through the environment, the PIN in a file. Without
// SoftHSM2 the test is skipped, unless COFFRE_REQUIRE_SOFTHSM=1 (CI), as
// in internal/kms/pkcs11.
func softHSMToken(t *testing.T) {
	t.Helper()
	module, pin := softhsmtest.Token(t, "coffre-test", hsmPIN)
	t.Setenv("COFFRE_SEAL_PKCS11_MODULE", module)
	t.Setenv("COFFRE_SEAL_PKCS11_TOKEN", "coffre-test")
	t.Setenv("COFFRE_SEAL_PKCS11_KEY", "coffre-unseal")
	t.Setenv("COFFRE_SEAL_PKCS11_PIN_FILE", pin)
}

// TestServeHSM: keys init --hsm --generate-key writes a sealed keyring
// whose unseal key the token wraps; serve --config then starts unsealed
// without a share. With a wrong PIN it starts sealed, says why without
// the PIN, and the shares still unseal it.
func TestServeHSM(t *testing.T) {
	softHSMToken(t)
	dir, out := t.TempDir(), filepath.Join(t.TempDir(), "shares")
	if code, _, stderr := runCLI(t, "keys", "init", "--config", demoYAML, "--data", dir, "--shares", "3", "--threshold", "2", "--hsm", "--json"); code == 0 || !strings.Contains(stderr, "no AES key") {
		t.Errorf("keys init --hsm without a key in the token = %d, %q; want a refusal", code, stderr)
	}
	code, stdout, stderr := runCLI(t, "keys", "init", "--config", demoYAML, "--data", dir, "--shares", "3", "--threshold", "2", "--out", out, "--hsm", "--generate-key", "--json")
	if code != 0 {
		t.Fatalf("keys init --hsm = %d, %q", code, stderr)
	}
	var res keysInitJSON
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || !strings.Contains(res.HSM, `key "coffre-unseal"`) || strings.Contains(stdout, hsmPIN) {
		t.Fatalf("keys init --hsm --json: %v %q", err, stdout)
	}

	base, logs, stop := startSealed(t, dir)
	if st, code := apiGet(t, base+"/readyz"); st != http.StatusOK {
		t.Errorf("/readyz after an HSM start = %d %s, want 200", st, code)
	}
	if st, code := apiGet(t, base+"/v1/subjects/sub_x"); st != http.StatusUnauthorized {
		t.Errorf("a data route after an HSM start = %d %s, want 401 (served, no session)", st, code)
	}
	stop()
	if !strings.Contains(logs.String(), "unsealed through the HSM") {
		t.Errorf("log of an HSM start:\n%s", logs.String())
	}

	// A wrong PIN: sealed, a clear line, no PIN; the shares still work.
	bad := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(bad, []byte("0000-wrong-pin\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("COFFRE_SEAL_PKCS11_PIN_FILE", bad)
	base, logs, stop = startSealed(t, dir)
	defer stop()
	if st, code := apiGet(t, base+"/v1/subjects/sub_x"); st != http.StatusServiceUnavailable || code != "sealed" {
		t.Errorf("a data route after a failed HSM unseal = %d %s, want 503 sealed", st, code)
	}
	if l := logs.String(); !strings.Contains(l, "HSM unseal failed") || strings.Contains(l, "0000-wrong-pin") || strings.Contains(l, hsmPIN) {
		t.Errorf("log of a failed HSM unseal:\n%s", l)
	}
	for i, want := range []string{"1 of 2 shares entered", "unsealed"} {
		if code, stdout, stderr := runCLI(t, "unseal", "--share-file", res.Items[i].File, "--url", base); code != 0 || !strings.Contains(stdout, want) {
			t.Fatalf("unseal %d = %d, %q %q", i+1, code, stdout, stderr)
		}
	}
	if st, code := apiGet(t, base+"/v1/subjects/sub_x"); st != http.StatusUnauthorized {
		t.Errorf("a data route once unsealed by shares = %d %s, want 401", st, code)
	}

	// A sealed deployment (a breach response) stays sealed across an
	// unattended restart, right PIN and all: only the share holders undo
	// a seal.
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "coffre.db"), sqlite.Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	err = st.Update(context.Background(), func(ctx context.Context, tx store.Tx) error { return tx.MarkSealed(ctx, time.Now()) })
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(good, []byte(hsmPIN+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("COFFRE_SEAL_PKCS11_PIN_FILE", good)
	base3, logs3, stop3 := startSealed(t, dir)
	defer stop3()
	if st, code := apiGet(t, base3+"/v1/subjects/sub_x"); st != http.StatusServiceUnavailable || code != "sealed" {
		t.Errorf("an HSM restart of a sealed deployment = %d %s, want 503 sealed", st, code)
	}
	if l := logs3.String(); !strings.Contains(l, "the deployment was sealed") {
		t.Errorf("log of an HSM restart of a sealed deployment:\n%s", l)
	}
}
