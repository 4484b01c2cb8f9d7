package jsontext

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzAppendString holds AppendString to encoding/json's bytes.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "Camille", "c<m>&\"x\"@example.fr", "a\u2028b\u2029c", "\x00\x1f\b\f\n\r\t\\", "\xff\xfeé日本", "\x7f\xc3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendString([]byte("x"), s); !bytes.Equal(got[1:], want) || got[0] != 'x' {
			t.Errorf("AppendString(%q) = %s, encoding/json %s", s, got, want)
		}
	})
}
