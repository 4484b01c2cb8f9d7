package notice

import (
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"testing"
)

type hmacHasher []byte

func (k hmacHasher) StableHash(label, value string) []byte {
	h := hmac.New(sha256.New, k)
	h.Write([]byte(label + "\x00" + value))
	return h.Sum(nil)
}

func TestPhrase(t *testing.T) {
	if len(phraseEN) != 64 || len(phraseFR) != 64 {
		t.Fatalf("word lists hold %d and %d words, want 64 each", len(phraseEN), len(phraseFR))
	}
	k := hmacHasher("key one")
	a, b := Phrase(k, "sub_a", "en"), Phrase(k, "sub_b", "en")
	if a != Phrase(k, "sub_a", "en") {
		t.Error("the phrase of one person changes between calls")
	}
	if a == b {
		t.Errorf("two people share the phrase %q", a)
	}
	if Phrase(hmacHasher("key two"), "sub_a", "en") == a {
		t.Error("the phrase does not depend on the key")
	}
	if n := len(strings.Split(a, "-")); n != 4 {
		t.Errorf("phrase %q has %d words, want 4", a, n)
	}
	fr := Phrase(k, "sub_a", "fr")
	if !strings.Contains(phraseFR[0]+" "+strings.Join(phraseFR, " "), strings.Split(fr, "-")[0]) || fr == a {
		t.Errorf("French phrase %q is not from the French list", fr)
	}
}
