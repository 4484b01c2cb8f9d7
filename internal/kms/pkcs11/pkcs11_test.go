//go:build cgo

package pkcs11_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffre/coffre/internal/kms"
	"github.com/coffre/coffre/internal/kms/kmstest"
	"github.com/coffre/coffre/internal/kms/pkcs11"
	"github.com/coffre/coffre/internal/kms/pkcs11/softhsmtest"
)

const (
	tokenLabel = "coffre-test"
	userPIN    = "4321-test-pin"
)

// newToken makes a SoftHSM2 token in a temporary directory and returns a
// Config for it (key label "root-a"), its PIN in a file.
func newToken(t *testing.T) pkcs11.Config {
	t.Helper()
	module, pinFile := softhsmtest.Token(t, tokenLabel, userPIN)
	return pkcs11.Config{Module: module, TokenLabel: tokenLabel, PINFile: pinFile, KeyLabel: "root-a"}
}

func open(t *testing.T, c pkcs11.Config) *pkcs11.Wrapper {
	t.Helper()
	w, err := pkcs11.Open(c)
	if err != nil {
		t.Fatalf("Open(%v): %v", c, err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func TestSoftHSM(t *testing.T) {
	cfg := newToken(t)
	otherCfg := cfg
	otherCfg.KeyLabel = "root-b"

	if _, err := pkcs11.Open(cfg); !errors.Is(err, pkcs11.ErrNoKey) {
		t.Fatalf("Open before GenerateKey: %v, want ErrNoKey", err)
	}
	for _, c := range []pkcs11.Config{cfg, otherCfg} {
		if err := pkcs11.GenerateKey(c); err != nil {
			t.Fatalf("GenerateKey(%v): %v", c, err)
		}
	}
	if err := pkcs11.GenerateKey(cfg); !errors.Is(err, pkcs11.ErrKeyExists) {
		t.Fatalf("GenerateKey twice: %v, want ErrKeyExists", err)
	}

	w := open(t, cfg)
	other := open(t, otherCfg)
	kmstest.Exercise(t, w, other, func(t *testing.T) kms.Wrapper { return open(t, cfg) })

	// The unattended restart: every context closed (the module is
	// finalised), then the token opened afresh unwraps what was wrapped.
	ctx := context.Background()
	seed := bytes.Repeat([]byte{0x5c}, 32)
	blob, err := w.Wrap(ctx, seed)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	other.Close()
	if _, err := w.Unwrap(ctx, blob); !errors.Is(err, pkcs11.ErrClosed) {
		t.Fatalf("Unwrap after Close: %v, want ErrClosed", err)
	}
	if _, err := w.Wrap(ctx, seed); !errors.Is(err, pkcs11.ErrClosed) {
		t.Fatalf("Wrap after Close: %v, want ErrClosed", err)
	}
	envCfg := cfg
	envCfg.PINFile, envCfg.PINEnv = "", "COFFRE_TEST_HSM_PIN"
	t.Setenv("COFFRE_TEST_HSM_PIN", userPIN)
	again := open(t, envCfg)
	got, err := again.Unwrap(ctx, blob)
	if err != nil || !bytes.Equal(got, seed) {
		t.Fatalf("Unwrap after a restart: %v", err)
	}
}

func TestSoftHSMBadConfig(t *testing.T) {
	cfg := newToken(t)
	if err := pkcs11.GenerateKey(cfg); err != nil {
		t.Fatal(err)
	}

	wrongPIN := cfg
	wrongPIN.PINFile = filepath.Join(t.TempDir(), "pin")
	os.WriteFile(wrongPIN.PINFile, []byte("0000-wrong-pin"), 0o600)
	_, err := pkcs11.Open(wrongPIN)
	if err == nil {
		t.Fatal("Open with a wrong PIN succeeded")
	}
	if strings.Contains(err.Error(), "0000-wrong-pin") || strings.Contains(wrongPIN.String(), "0000-wrong-pin") {
		t.Fatalf("the PIN shows: %v / %v", err, wrongPIN)
	}

	for name, c := range map[string]pkcs11.Config{
		"no PIN":       {Module: cfg.Module, TokenLabel: tokenLabel, KeyLabel: "root-a"},
		"both PINs":    {Module: cfg.Module, TokenLabel: tokenLabel, KeyLabel: "root-a", PINFile: cfg.PINFile, PINEnv: "X"},
		"unset PIN":    {Module: cfg.Module, TokenLabel: tokenLabel, KeyLabel: "root-a", PINEnv: "COFFRE_TEST_UNSET_PIN"},
		"other token":  {Module: cfg.Module, TokenLabel: "nope", KeyLabel: "root-a", PINFile: cfg.PINFile},
		"no module":    {Module: "/nonexistent/libp11.so", TokenLabel: tokenLabel, KeyLabel: "root-a", PINFile: cfg.PINFile},
		"no key label": {Module: cfg.Module, TokenLabel: tokenLabel, PINFile: cfg.PINFile},
	} {
		if w, err := pkcs11.Open(c); err == nil {
			w.Close()
			t.Errorf("%s: Open succeeded", name)
		} else if strings.Contains(err.Error(), userPIN) {
			t.Errorf("%s: the PIN shows: %v", name, err)
		}
	}
}
