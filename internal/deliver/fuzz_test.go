package deliver_test

import (
	"testing"
	"time"

	"github.com/coffre/coffre/internal/deliver"
)

// FuzzVerifyWebhook: any header and body are judged without a panic; a
// header Sign made for a body verifies it, and the same header refuses any
// other body.
func FuzzVerifyWebhook(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	f.Add("t=1800000000,v1=00", []byte(`{"event":"alert"}`), []byte("x"))
	f.Add(deliver.Sign(secret, []byte("{}"), now), []byte("{}"), []byte("{ }"))
	f.Add("t=,v1=,v1=,=", []byte{}, []byte{0})
	f.Fuzz(func(t *testing.T, header string, body, other []byte) {
		deliver.VerifyWebhook(secret, header, body, now, 5*time.Minute)
		h := deliver.Sign(secret, body, now)
		if err := deliver.VerifyWebhook(secret, h, body, now, 5*time.Minute); err != nil {
			t.Fatalf("a signed body does not verify: %v", err)
		}
		if string(other) != string(body) {
			if err := deliver.VerifyWebhook(secret, h, other, now, 5*time.Minute); err != deliver.ErrSignature {
				t.Fatalf("another body under the same header: %v, want ErrSignature", err)
			}
		}
	})
}
