package audit

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

// TestIndexLeafEncoding pins the documented byte encoding of an index leaf.
func TestIndexLeafEncoding(t *testing.T) {
	lh := bytes.Repeat([]byte{0xab}, 32)
	got := IndexLeafData("sub_x", 258, lh, 7)
	want := append([]byte("coffre/subject-index/v1\x00\x05sub_x\x00\x00\x00\x00\x00\x00\x01\x02"), lh...)
	want = append(want, 0, 0, 0, 0, 0, 0, 0, 7)
	if !bytes.Equal(got, want) {
		t.Fatalf("IndexLeafData = %s\nwant %s", hex.EncodeToString(got), hex.EncodeToString(want))
	}
	if !bytes.Equal(IndexLeafHash("sub_x", 258, lh, 7), Hasher.HashLeaf(want)) {
		t.Fatal("IndexLeafHash is not the RFC 6962 leaf hash of IndexLeafData")
	}
	// Every part is bound, including the boundary between subject and seq.
	for name, other := range map[string][]byte{
		"subject": IndexLeafData("sub_y", 258, lh, 7),
		"seq":     IndexLeafData("sub_x", 259, lh, 7),
		"leaf":    IndexLeafData("sub_x", 258, bytes.Repeat([]byte{1}, 32), 7),
		"prev":    IndexLeafData("sub_x", 258, lh, 0),
		"border":  IndexLeafData("sub_x\x00", 258>>8, lh, 7),
	} {
		if bytes.Equal(other, got) {
			t.Errorf("changing %s left the index leaf unchanged", name)
		}
	}
}

func TestLeafSubject(t *testing.T) {
	e := entry(3)
	if s, err := LeafSubject(LeafData(e)); err != nil || s != "sub_x" {
		t.Fatalf("LeafSubject = %q, %v", s, err)
	}
	e.Subject = ""
	if s, err := LeafSubject(LeafData(e)); err != nil || s != "" {
		t.Fatalf("LeafSubject of no subject = %q, %v", s, err)
	}
	for _, b := range [][]byte{nil, []byte("coffre-audit/v1"), []byte("coffre-audit/v1\x01"), []byte("other")} {
		if _, err := LeafSubject(b); !errors.Is(err, ErrBadLeaf) {
			t.Errorf("LeafSubject(%q): %v, want ErrBadLeaf", b, err)
		}
	}
}

// TestCheckpointWithIndex: a checkpoint signs the index head in one extension
// line; one made before (no line) still opens; a changed line does not.
func TestCheckpointWithIndex(t *testing.T) {
	s, _ := NewSigner("coffre.test/audit", bytes.Repeat([]byte{7}, 32))
	root, iroot := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	cp, err := s.Sign(10, root, &IndexHead{From: 1, Size: 6, Root: iroot})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(cp.Note, []byte("\nsubject-index 1 6 AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=\n")) {
		t.Fatalf("note has no index line: %q", cp.Note)
	}
	got, err := Open(cp.Note, s.VerifierKey())
	if err != nil || got.Index == nil || got.Index.Size != 6 || got.Index.From != 1 || !bytes.Equal(got.Index.Root, iroot) {
		t.Fatalf("Open = %+v, %v", got, err)
	}
	old, _ := s.Sign(10, root, nil)
	if got, err := Open(old.Note, s.VerifierKey()); err != nil || got.Index != nil {
		t.Fatalf("Open of a checkpoint without index = %+v, %v", got, err)
	}
	tampered := bytes.Replace(cp.Note, []byte("subject-index 1 6"), []byte("subject-index 1 5"), 1)
	if _, err := Open(tampered, s.VerifierKey()); !errors.Is(err, ErrBadCheckpoint) {
		t.Fatalf("tampered index size: %v, want ErrBadCheckpoint", err)
	}
}
