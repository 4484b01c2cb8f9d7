package kms_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/coffre/coffre/internal/kms"
	"github.com/coffre/coffre/internal/kms/kmstest"
)

// localWrapper is AES-256-GCM with a key in memory: the reference the
// suite runs against without a token (tests only; a key beside the blob
// protects nothing).
type localWrapper struct {
	id   string
	aead cipher.AEAD
}

func newLocal(t *testing.T, id string) *localWrapper {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return &localWrapper{id: id, aead: aead}
}

func (l *localWrapper) Name() string { return "local" }

func (l *localWrapper) Wrap(ctx context.Context, plaintext []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b, err := kms.NewBlob(kms.Header{Kind: l.Name(), KeyID: l.id})
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, l.aead.NonceSize())
	rand.Read(nonce)
	return l.aead.Seal(append(b, nonce...), nonce, plaintext, b), nil
}

func (l *localWrapper) Unwrap(ctx context.Context, wrapped []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b, err := kms.Check(wrapped, kms.Header{Kind: l.Name(), KeyID: l.id})
	if err != nil {
		return nil, err
	}
	n := l.aead.NonceSize()
	if len(b.Payload) < n+l.aead.Overhead() {
		return nil, kms.ErrMalformed
	}
	pt, err := l.aead.Open(nil, b.Payload[:n], b.Payload[n:], b.AAD)
	if err != nil {
		return nil, kms.ErrTampered
	}
	return pt, nil
}

func TestContract(t *testing.T) {
	w := newLocal(t, "root-1")
	kmstest.Exercise(t, w, newLocal(t, "root-2"), func(*testing.T) kms.Wrapper { return w })
}

func TestParseBlob(t *testing.T) {
	h := kms.Header{Kind: "pkcs11", KeyID: "coffre-root"}
	b, err := kms.NewBlob(h)
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, 1, 2, 3)
	p, err := kms.ParseBlob(b)
	if err != nil || p.Header != h || string(p.Payload) != "\x01\x02\x03" || len(p.AAD) != len(b)-3 {
		t.Fatalf("ParseBlob = %+v, %v", p, err)
	}
	for _, bad := range [][]byte{nil, {2}, {1}, {1, 0}, {1, 3, 'a'}, {1, 1, 'a', 0}} {
		if _, err := kms.ParseBlob(bad); !errors.Is(err, kms.ErrMalformed) {
			t.Errorf("ParseBlob(%x) = %v, want ErrMalformed", bad, err)
		}
	}
	if _, err := kms.Check(b, kms.Header{Kind: "pkcs11", KeyID: "other"}); !errors.Is(err, kms.ErrOtherKey) {
		t.Errorf("Check with another key id: %v", err)
	}
	if _, err := kms.NewBlob(kms.Header{Kind: "x"}); err == nil {
		t.Error("NewBlob with no key id succeeded")
	}
}

func FuzzParseBlob(f *testing.F) {
	b, _ := kms.NewBlob(kms.Header{Kind: "pkcs11", KeyID: "k"})
	f.Add(append(b, 9, 9))
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := kms.ParseBlob(in)
		if err != nil {
			return
		}
		again, err := kms.NewBlob(p.Header)
		if err != nil {
			t.Fatalf("a parsed header does not encode: %v", err)
		}
		if string(append(again, p.Payload...)) != string(in) {
			t.Fatal("ParseBlob and NewBlob disagree")
		}
	})
}
