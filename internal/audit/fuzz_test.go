package audit

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// FuzzOpen feeds arbitrary notes to the checkpoint parser: it must never
// panic, and must accept only notes signed by the key, whose body it can
// render back exactly.
func FuzzOpen(f *testing.F) {
	s, err := NewSigner("coffre/audit", bytes.Repeat([]byte{9}, 32))
	if err != nil {
		f.Fatal(err)
	}
	cp, _ := s.Sign(3, bytes.Repeat([]byte{1}, 32), nil)
	f.Add(cp.Note)
	cp, _ = s.Sign(3, bytes.Repeat([]byte{1}, 32), &IndexHead{From: 1, Size: 2, Root: bytes.Repeat([]byte{2}, 32)})
	f.Add(cp.Note)
	f.Add([]byte("coffre/audit\n3\nAAAA\n\n— coffre/audit xyz\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, note []byte) {
		got, err := Open(note, s.VerifierKey())
		if err != nil {
			return
		}
		if !bytes.HasPrefix(note, []byte(Body(got.Origin, got.Size, got.Root, got.Index))) {
			t.Fatalf("accepted a note whose body is not the checkpoint it parsed to: %q", note)
		}
	})
}

// FuzzParseLeaf: what ParseLeaf accepts re-encodes to the same bytes.
func FuzzParseLeaf(f *testing.F) {
	f.Add(LeafData(&Entry{Seq: 7, Time: time.UnixMicro(1700000000000000), Actor: "op_a", Action: "read", Subject: "sub_x", Fields: []string{"a", "b"}, Decision: "allow"}))
	f.Add(LeafData(&Entry{Seq: 10, Time: time.UnixMicro(1700000000000001), Actor: "op_a", Action: "read", Subject: "sub_x", Purpose: "case-handling", Reason: "ticket 1", Decision: "allow:break_glass", Origin: "10.0.0.1"}))
	f.Add([]byte("coffre-audit/v1"))
	// v2: a sealed reason, a dropped one, and forms that are not.
	f.Add(LeafData(&Entry{Seq: 8, Time: time.UnixMicro(1700000000000000), Actor: "op_a", Action: "read", Subject: "sub_x", SealedReason: bytes.Repeat([]byte{7}, 40), Decision: "allow"}))
	f.Add(LeafData(&Entry{Seq: 9, Time: time.UnixMicro(1700000000000000), Actor: "op_a", Action: "read", Subject: "sub_x", ReasonDropped: true, Decision: "deny:not_found"}))
	f.Add([]byte("coffre-audit/v2\x011\x011\x00\x00\x00\x00\x01x\x00\x00\x00"))
	f.Add([]byte("coffre-audit/v2\x011\x011\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseLeaf(b)
		if err != nil {
			return
		}
		if s, err := LeafSubject(b); err != nil || s != e.Subject {
			t.Fatalf("LeafSubject(%q) = %q, %v; ParseLeaf says %q", b, s, err, e.Subject)
		}
		want := Access{Time: e.Time, Action: e.Action, Subject: e.Subject, Purpose: e.Purpose, Decision: e.Decision}
		if a, err := LeafAccess(b); err != nil || a != want {
			t.Fatalf("LeafAccess(%q) = %+v, %v; ParseLeaf says %+v", b, a, err, want)
		}
		if again := LeafData(&e); !bytes.Equal(again, b) {
			t.Fatalf("%q → %+v → %q", b, e, again)
		}
		if v2 := bytes.HasPrefix(b, []byte(leafPrefixV2)); v2 != e.sealed() || v2 && e.Reason != "" {
			t.Fatalf("%q: a v2 leaf must seal or drop its reason, and nothing else may: %+v", b, e)
		}
	})
}

// FuzzParseEpochEntry: what ParseEpochEntry accepts of a stored entry's
// reason is what EpochEntry writes, and nothing else.
func FuzzParseEpochEntry(f *testing.F) {
	ep := &Epoch{Number: 3, Last: 1200, Closed: time.UnixMicro(1700000000000000), Root: bytes.Repeat([]byte{5}, 32)}
	f.Add(EpochEntry(ep).Reason)
	f.Add("closes epoch 0 at 1 AAAA")
	f.Add("closes epoch 1 at -1 " + strings.Repeat("A", 44))
	f.Fuzz(func(t *testing.T, reason string) {
		e := &Entry{Actor: "system", Action: ActionEpoch, Decision: "allow", Reason: reason}
		n, last, root, err := ParseEpochEntry(e)
		if err != nil {
			return
		}
		again := EpochEntry(&Epoch{Number: n, Last: last, Root: root})
		if again.Reason != reason {
			t.Fatalf("%q parses to %d, %d, %x, which EpochEntry writes %q", reason, n, last, root, again.Reason)
		}
	})
}
