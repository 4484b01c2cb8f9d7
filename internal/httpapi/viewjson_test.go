package httpapi

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/coffre/coffre/internal/vault"
)

// encodeView is what writeJSON writes for v.
func encodeView(t testing.TB, v *vault.View) []byte {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestViewJSON: appendView writes what encoding/json writes, for views
// with masked and clear fields, none, and values that need escaping.
func TestViewJSON(t *testing.T) {
	for _, v := range []*vault.View{
		{ID: "sub_0aa1", Unit: "ac-versailles", Purpose: "case-handling", Fields: map[string]string{"phone": "•••• 42", "given_name": "Camille", "email_pro": "c<m>&\"x\"@example.fr"}, Masked: []string{"phone"}, AuditSeq: 1234},
		{ID: "sub_1", Fields: map[string]string{}, Masked: []string{}},
		{ID: "psn_x", Purpose: "p", Fields: nil, Masked: nil, AuditSeq: -1},
		{ID: "a\u2028b\u2029c\x00\x1f\b\f\n\r\t\\", Unit: "\xff\xfeé日本", Fields: map[string]string{"k\x7f": "\xc3"}},
	} {
		want, got := encodeView(t, v), appendView(nil, v)
		if !bytes.Equal(got, want) {
			t.Errorf("appendView(%+v)\n got %s\nwant %s", v, got, want)
		}
	}
}

// FuzzViewJSON holds appendView to encoding/json's bytes for any strings.
func FuzzViewJSON(f *testing.F) {
	f.Add("sub_1", "unit", "case-handling", "phone", "06 12 34 56 78", "masked", int64(7))
	f.Add("<a>", "&", "\u2028", "\xff", "\x00\"\\", "", int64(-9))
	f.Fuzz(func(t *testing.T, id, unit, purpose, key, val, masked string, seq int64) {
		v := &vault.View{ID: id, Unit: unit, Purpose: purpose, Fields: map[string]string{key: val, val: key}, Masked: []string{masked}, AuditSeq: seq}
		if want, got := encodeView(t, v), appendView(nil, v); !bytes.Equal(got, want) {
			t.Errorf("appendView = %q, encoding/json %q", got, want)
		}
	})
}
