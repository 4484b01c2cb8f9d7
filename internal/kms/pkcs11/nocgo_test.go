//go:build !cgo

package pkcs11_test

import (
	"os"
	"testing"
)

// Without cgo the package is empty (crypto11 needs cgo); CI, which
// requires the SoftHSM2 test, must not pass by building it away.
func TestSoftHSMNeedsCgo(t *testing.T) {
	if os.Getenv("COFFRE_REQUIRE_SOFTHSM") == "1" {
		t.Fatal("COFFRE_REQUIRE_SOFTHSM=1 but cgo is off: the PKCS#11 wrapper is not built")
	}
	t.Skip("cgo is off: the PKCS#11 wrapper (crypto11) is not built")
}
