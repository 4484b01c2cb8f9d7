package seal

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the sealed keyring parser, and what
// it accepts to OpenSet under the test vectors' unseal keys: no panic;
// OpenSet either gives a whole key set or fails with ErrWrongKey,
// ErrMalformed or the keyring encoding's own error, never with a set
// missing a key; what parse accepts encodes to a file it reads back the
// same.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"testdata/keyring-format1.sealed", "testdata/keyring-format2.sealed", "testdata/keyring-format3.sealed"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"format":"coffre-sealed-keyring-3"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		file, err := parse(body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("parse = %v, want ErrMalformed", err)
			}
			return
		}
		again, err := json.Marshal(file)
		if err != nil {
			t.Fatal(err)
		}
		if g, err := parse(again); err != nil || g.Format != file.Format || g.AuditVerifier != file.AuditVerifier || !bytes.Equal(g.AuditSigner, file.AuditSigner) {
			t.Fatalf("%q: re-encoded as %q, which reads as %+v, %v", body, again, g, err)
		}
		for _, k := range []byte{1, 2, 3} {
			set, err := file.OpenSet(bytes.Repeat([]byte{k}, 32))
			if err != nil {
				continue // ErrWrongKey, ErrMalformed, or a keyring that does not decode
			}
			if err := set.Check(); err != nil {
				t.Fatalf("%q opens to a set that is not whole: %v", body, err)
			}
		}
	})
}
