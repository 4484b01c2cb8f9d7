package breach

import (
	"testing"
)

// FuzzDecodeLetter: a stored letter payload either decodes into an
// incident id and named fields, or is refused; never a panic.
func FuzzDecodeLetter(f *testing.F) {
	f.Add([]byte(`{"incident":"inc_aaaaaaaaaaaaaaaa","fields":[{"field":"email_pro","clear":true}]}`))
	f.Add([]byte(`{"incident":"inc_x","fields":[]}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeLetter(b)
		if err != nil {
			return
		}
		if len(m.Fields) == 0 || m.Incident == "" {
			t.Fatalf("decoded %+v from %q", m, b)
		}
	})
}
