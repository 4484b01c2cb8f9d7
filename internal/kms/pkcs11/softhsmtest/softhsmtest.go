// Package softhsmtest makes SoftHSM2 tokens for tests: Debian's software
// PKCS#11 module, a real token module that CI installs. Without it a test
// is skipped, unless COFFRE_REQUIRE_SOFTHSM=1 (set by .ci/run), when it
// fails.
package softhsmtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Module returns the SoftHSM2 module to test against: $COFFRE_TEST_SOFTHSM,
// or Debian's path; it skips (or fails, in CI) when it is not installed.
func Module(t testing.TB) string {
	t.Helper()
	module := os.Getenv("COFFRE_TEST_SOFTHSM")
	if module == "" {
		module = "/usr/lib/softhsm/libsofthsm2.so"
	}
	_, errModule := os.Stat(module)
	_, errUtil := exec.LookPath("softhsm2-util")
	if errModule != nil || errUtil != nil {
		msg := "SoftHSM2 is not installed (apt-get install softhsm2, or set COFFRE_TEST_SOFTHSM to its module)"
		if os.Getenv("COFFRE_REQUIRE_SOFTHSM") == "1" {
			t.Fatalf("%s; COFFRE_REQUIRE_SOFTHSM=1: %v %v", msg, errModule, errUtil)
		}
		t.Skip(msg)
	}
	return module
}

// Token makes a token labelled label with user PIN pin in a temporary
// directory (SOFTHSM2_CONF points at it for the rest of the test) and
// returns the module and a file holding the PIN.
func Token(t *testing.T, label, pin string) (module, pinFile string) {
	t.Helper()
	module = Module(t)
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	body := "directories.tokendir = " + tokens + "\nobjectstore.backend = file\nlog.level = ERROR\n"
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	out, err := exec.Command("softhsm2-util", "--init-token", "--free", "--label", label,
		"--pin", pin, "--so-pin", "8765-test-so").CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util --init-token: %v\n%s", err, out)
	}
	pinFile = filepath.Join(dir, "pin")
	if err := os.WriteFile(pinFile, []byte(pin+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return module, pinFile
}
