// Package kmstest is the conformance suite every [kms.Wrapper] passes:
// the contract of the kms package, checked once for all implementations.
package kmstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/coffre/coffre/internal/kms"
)

// Exercise checks w against the contract. other is a wrapper of the same
// kind under another key id (nil skips that part). reopen, when not nil,
// returns a fresh wrapper of the same key (a new session, as after a
// restart); Exercise closes nothing.
func Exercise(t *testing.T, w, other kms.Wrapper, reopen func(t *testing.T) kms.Wrapper) {
	t.Helper()
	ctx := context.Background()
	seed := make([]byte, 32)
	if _, err := rand.Read(seed); err != nil {
		t.Fatal(err)
	}
	blob, err := w.Wrap(ctx, seed)
	if err != nil {
		t.Fatalf("Wrap: %v", err)
	}

	t.Run("RoundTrip", func(t *testing.T) {
		got, err := w.Unwrap(ctx, blob)
		if err != nil {
			t.Fatalf("Unwrap: %v", err)
		}
		if !bytes.Equal(got, seed) {
			t.Fatal("Unwrap gave back other bytes")
		}
		if bytes.Contains(blob, seed) {
			t.Fatal("the blob holds the plaintext")
		}
		again, err := w.Wrap(ctx, seed)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(again, blob) {
			t.Fatal("two wraps of one secret are equal: no fresh nonce")
		}
	})

	t.Run("Header", func(t *testing.T) {
		b, err := kms.ParseBlob(blob)
		if err != nil {
			t.Fatalf("ParseBlob: %v", err)
		}
		if b.Kind != w.Name() || b.KeyID == "" {
			t.Fatalf("header %+v, want kind %q and a key id", b.Header, w.Name())
		}
	})

	t.Run("Tampered", func(t *testing.T) {
		for i := range blob {
			bad := bytes.Clone(blob)
			bad[i] ^= 0x01
			if _, err := w.Unwrap(ctx, bad); err == nil {
				t.Fatalf("byte %d flipped: Unwrap succeeded", i)
			} else {
				noSecret(t, err, seed)
			}
		}
		head := len(blob) - len(mustParse(t, blob).Payload)
		bad := bytes.Clone(blob)
		bad[len(bad)-1] ^= 0x80
		if _, err := w.Unwrap(ctx, bad); !errors.Is(err, kms.ErrTampered) {
			t.Fatalf("payload changed: %v, want ErrTampered", err)
		}
		for _, n := range []int{0, 1, head, len(blob) - 1} {
			if _, err := w.Unwrap(ctx, blob[:n]); err == nil {
				t.Fatalf("cut to %d bytes: Unwrap succeeded", n)
			}
		}
		if _, err := w.Unwrap(ctx, append(bytes.Clone(blob), 0)); err == nil {
			t.Fatal("a byte appended: Unwrap succeeded")
		}
	})

	t.Run("OtherKey", func(t *testing.T) {
		if other == nil {
			t.Skip("no other key")
		}
		theirs, err := other.Wrap(ctx, seed)
		if err != nil {
			t.Fatal(err)
		}
		_, err = w.Unwrap(ctx, theirs)
		var oke *kms.OtherKeyError
		if !errors.Is(err, kms.ErrOtherKey) || !errors.As(err, &oke) {
			t.Fatalf("Unwrap of another key's blob: %v, want ErrOtherKey", err)
		}
		noSecret(t, err, seed)
		// Relabelled to look like ours, it still fails: the header is
		// authenticated and the key differs.
		b := mustParse(t, theirs)
		mine := mustParse(t, blob)
		forged, err := kms.NewBlob(mine.Header)
		if err != nil {
			t.Fatal(err)
		}
		forged = append(forged, b.Payload...)
		if _, err := w.Unwrap(ctx, forged); !errors.Is(err, kms.ErrTampered) {
			t.Fatalf("another key's payload under our header: %v, want ErrTampered", err)
		}
	})

	t.Run("Reopen", func(t *testing.T) {
		if reopen == nil {
			t.Skip("no reopen")
		}
		w2 := reopen(t)
		got, err := w2.Unwrap(ctx, blob)
		if err != nil {
			t.Fatalf("Unwrap after reopening: %v", err)
		}
		if !bytes.Equal(got, seed) {
			t.Fatal("Unwrap after reopening gave back other bytes")
		}
	})

	t.Run("Cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := w.Unwrap(cctx, blob); !errors.Is(err, context.Canceled) {
			t.Fatalf("Unwrap with a cancelled context: %v", err)
		}
		if _, err := w.Wrap(cctx, seed); !errors.Is(err, context.Canceled) {
			t.Fatalf("Wrap with a cancelled context: %v", err)
		}
	})
}

func mustParse(t *testing.T, b []byte) kms.Blob {
	t.Helper()
	p, err := kms.ParseBlob(b)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// noSecret fails when err's text shows the secret in hex or base64.
func noSecret(t *testing.T, err error, secret []byte) {
	t.Helper()
	msg := strings.ToLower(err.Error())
	for _, s := range []string{hex.EncodeToString(secret), strings.ToLower(base64.StdEncoding.EncodeToString(secret)), strings.ToLower(base64.RawURLEncoding.EncodeToString(secret))} {
		if strings.Contains(msg, s[:16]) {
			t.Fatalf("error shows the secret: %v", err)
		}
	}
}
