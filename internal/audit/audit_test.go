package audit

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/envelope"
	"github.com/transparency-dev/merkle/proof"
)

func entry(seq int64) *Entry {
	return &Entry{Seq: seq, Time: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC), Actor: "op_1", Action: "read",
		Subject: "sub_x", Purpose: "case-handling", Reason: "ticket 1", Fields: []string{"given_name", "phone"}, Decision: "allow", Origin: "127.0.0.1"}
}

func TestLeafBindsEveryField(t *testing.T) {
	base := LeafHash(entry(1))
	edits := map[string]func(e *Entry){
		"seq":      func(e *Entry) { e.Seq = 2 },
		"time":     func(e *Entry) { e.Time = e.Time.Add(time.Microsecond) },
		"actor":    func(e *Entry) { e.Actor = "op_2" },
		"action":   func(e *Entry) { e.Action = "lookup" },
		"subject":  func(e *Entry) { e.Subject = "sub_y" },
		"purpose":  func(e *Entry) { e.Purpose = "payroll" },
		"reason":   func(e *Entry) { e.Reason = "ticket 2" },
		"fields":   func(e *Entry) { e.Fields = []string{"given_name"} },
		"decision": func(e *Entry) { e.Decision = "deny:forbidden" },
		"origin":   func(e *Entry) { e.Origin = "10.0.0.1" },
		// Moving bytes between adjacent fields must change the leaf too.
		"boundary": func(e *Entry) { e.Actor, e.Action = "op_1r", "ead" },
	}
	for name, edit := range edits {
		e := entry(1)
		edit(e)
		if bytes.Equal(LeafHash(e), base) {
			t.Errorf("editing %s left the leaf hash unchanged", name)
		}
	}
}

// TestTreeMatchesReference appends leaves one by one, reopening the tree
// from its stored hashes each time, and checks the root against a direct
// RFC 6962 computation and an inclusion proof.
func TestTreeMatchesReference(t *testing.T) {
	var leaves [][]byte
	tree, _ := NewTree(0, nil)
	for i := range 37 {
		h := LeafHash(entry(int64(i + 1)))
		leaves = append(leaves, h)
		if err := tree.Append(h); err != nil {
			t.Fatal(err)
		}
		reopened, err := NewTree(tree.Size(), tree.Hashes())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(reopened.Root(), refRoot(leaves)) {
			t.Fatalf("size %d: root differs from the reference", i+1)
		}
		tree = reopened
	}
	// An inclusion proof built from the reference verifies against Root.
	idx := uint64(13)
	p := refInclusion(idx, leaves)
	if err := proof.VerifyInclusion(Hasher, idx, uint64(len(leaves)), leaves[idx], p, tree.Root()); err != nil {
		t.Fatalf("inclusion: %v", err)
	}
	if empty, _ := NewTree(0, nil); !bytes.Equal(empty.Root(), sha256.New().Sum(nil)) {
		t.Fatal("empty root is not SHA-256 of nothing")
	}
}

// refRoot is RFC 6962 MTH, computed directly.
func refRoot(leaves [][]byte) []byte {
	if len(leaves) == 1 {
		return leaves[0]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	return Hasher.HashChildren(refRoot(leaves[:k]), refRoot(leaves[k:]))
}

// refInclusion is RFC 6962 PATH(m, D[n]).
func refInclusion(m uint64, leaves [][]byte) [][]byte {
	if len(leaves) <= 1 {
		return nil
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	if m < uint64(k) {
		return append(refInclusion(m, leaves[:k]), refRoot(leaves[k:]))
	}
	return append(refInclusion(m-uint64(k), leaves[k:]), refRoot(leaves[:k]))
}

func TestCheckpointSignOpen(t *testing.T) {
	seed := bytes.Repeat([]byte{7}, 32)
	s, err := NewSigner("coffre.test/audit", seed)
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := NewSigner("coffre.test/audit", seed)
	if s.VerifierKey() != s2.VerifierKey() {
		t.Fatal("the key is not deterministic in the seed")
	}
	root := LeafHash(entry(1))
	cp, err := s.Sign(1, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Open(cp.Note, s.VerifierKey())
	if err != nil || got.Size != 1 || !bytes.Equal(got.Root, root) || got.Origin != "coffre.test/audit" {
		t.Fatalf("Open = %+v, %v", got, err)
	}
	tampered := bytes.Replace(cp.Note, []byte("\n1\n"), []byte("\n2\n"), 1)
	if _, err := Open(tampered, s.VerifierKey()); !errors.Is(err, ErrBadCheckpoint) {
		t.Fatalf("tampered size: %v, want ErrBadCheckpoint", err)
	}
	other, _ := NewSigner("coffre.test/audit", bytes.Repeat([]byte{8}, 32))
	if _, err := Open(cp.Note, other.VerifierKey()); !errors.Is(err, ErrBadCheckpoint) {
		t.Fatalf("other key: %v, want ErrBadCheckpoint", err)
	}
}

// TestSealedReason: a reason sealed under the subject's key makes a v2
// leaf that parses back, binds the ciphertext, opens with the key only,
// and after the key is gone reads as erased with the same leaf bytes.
func TestSealedReason(t *testing.T) {
	keys, err := envelope.NewKeyring(map[uint32][]byte{1: bytes.Repeat([]byte{3}, 32)}, 1)
	if err != nil {
		t.Fatal(err)
	}
	dk, _, err := keys.NewDEK("sub_x")
	if err != nil {
		t.Fatal(err)
	}
	other, _, _ := keys.NewDEK("sub_y")
	e := entry(5)
	SealReason(dk, e)
	if e.Reason != "ticket 1" || len(e.SealedReason) == 0 {
		t.Fatalf("SealReason: %+v", e)
	}
	leaf := LeafData(e)
	if !bytes.HasPrefix(leaf, []byte("coffre-audit/v2")) || bytes.Contains(leaf, []byte("ticket 1")) {
		t.Fatalf("leaf %q: want v2 without the reason in clear", leaf)
	}
	got, err := ParseLeaf(leaf)
	if err != nil || got.Reason != "" || !got.ReasonErased() || !bytes.Equal(got.SealedReason, e.SealedReason) {
		t.Fatalf("ParseLeaf = %+v, %v", got, err)
	}
	lookup := func(k *envelope.DataKey) func(string) (*envelope.DataKey, error) {
		return func(string) (*envelope.DataKey, error) { return k, nil }
	}
	for name, k := range map[string]*envelope.DataKey{"its key": dk, "another subject's key": other, "no key (erased)": nil} {
		es := []Entry{got}
		if err := OpenReasons(es, lookup(k)); err != nil {
			t.Fatal(err)
		}
		if want := k == dk; (es[0].Reason == "ticket 1") != want || es[0].ReasonErased() == want {
			t.Errorf("opened with %s: reason %q, erased %v", name, es[0].Reason, es[0].ReasonErased())
		}
		if !bytes.Equal(LeafData(&es[0]), leaf) {
			t.Errorf("opened with %s: the leaf changed", name)
		}
	}
	d := entry(6)
	DropReason(d)
	p, err := ParseLeaf(LeafData(d))
	if err != nil || !p.ReasonDropped || !p.ReasonErased() || p.Reason != "" {
		t.Fatalf("dropped reason: %+v, %v", p, err)
	}
	// Flipping a byte of the ciphertext changes the leaf hash.
	x := *e
	x.SealedReason = bytes.Clone(e.SealedReason)
	x.SealedReason[0] ^= 1
	if bytes.Equal(LeafHash(&x), LeafHash(e)) {
		t.Error("editing the sealed reason left the leaf hash unchanged")
	}
}

// BenchmarkSealReason is the work a read with a reason adds inside its
// transaction (issue 16): unwrapping the subject's data key and sealing
// the reason. The read then reuses the key for the fields.
func BenchmarkSealReason(b *testing.B) {
	keys, _ := envelope.NewKeyring(map[uint32][]byte{1: bytes.Repeat([]byte{3}, 32)}, 1)
	_, wrapped, _ := keys.NewDEK("sub_x")
	e := entry(1)
	for b.Loop() {
		dk, err := keys.OpenDEK("sub_x", 1, wrapped)
		if err != nil {
			b.Fatal(err)
		}
		SealReason(dk, e)
	}
}
