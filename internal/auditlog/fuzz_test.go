package auditlog

import (
	"bytes"
	"slices"
	"testing"
)

// FuzzWitnessBody feeds arbitrary witness requests to the parser: never a
// panic, and what it accepts survives an encode-parse round trip.
func FuzzWitnessBody(f *testing.F) {
	f.Add(WitnessBody(0, nil, []byte("note\n")))
	f.Add(WitnessBody(7, [][]byte{bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)}, []byte("x")))
	f.Add([]byte("old 1\nnot base64\n\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		old, p, note, err := parseWitnessBody(body)
		if err != nil {
			return
		}
		old2, p2, note2, err := parseWitnessBody(WitnessBody(old, p, note))
		if err != nil || old2 != old || !slices.EqualFunc(p, p2, bytes.Equal) || !bytes.Equal(note, note2) {
			t.Fatalf("round trip of %q: %d %x %q, %v", body, old2, p2, note2, err)
		}
	})
}
