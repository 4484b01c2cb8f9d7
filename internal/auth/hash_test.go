package auth

import (
	"strings"
	"testing"
)

var cheap = Params{Time: 1, Memory: 64, Threads: 1}

// TestParseHashRefuses: CheckPassword answers false, never panics, for
// hashes HashPassword does not write; t=0 and p=0 made argon2 panic.
func TestParseHashRefuses(t *testing.T) {
	good := HashPassword(cheap, "pw")
	_, _, _, err := parseHash(good)
	if err != nil {
		t.Fatalf("parseHash(HashPassword) = %v", err)
	}
	i := strings.LastIndex(good, "$")
	salt, key := good[strings.LastIndex(good[:i], "$")+1:i], good[i+1:]
	for _, h := range []string{
		"",
		"garbage",
		NoPassword,      // a partner's row
		PendingPassword, // an account waiting for enrolment: a login checks the dummy hash instead
		"$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=17,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=1048577,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=7,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=256$" + salt + "$" + key,
		"$argon2id$v=19$m=064,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=+64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=1,x=1$" + salt + "$" + key,
		"$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key,
		"$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"x$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key + "$",
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "==$" + key,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt[:len(salt)-1] + "\n" + salt[len(salt)-1:] + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key[:len(key)-4],
		"$argon2id$v=19$m=64,t=1,p=1$$" + key,
	} {
		if _, _, _, err := parseHash(h); err == nil {
			t.Errorf("parseHash(%q) accepted it", h)
		}
		if CheckPassword(h, "pw") {
			t.Errorf("CheckPassword(%q) = true", h)
		}
	}
}

// FuzzParseHash feeds arbitrary strings to the PHC parser: no panic; a
// hash that parses has parameters CheckPassword may run and formats back
// to the same string; every cut of it fails; CheckPassword never panics
// (run when the parameters are cheap).
func FuzzParseHash(f *testing.F) {
	f.Add(HashPassword(cheap, "correct horse"))
	f.Add(HashPassword(Params{Time: 2, Memory: 256, Threads: 4}, ""))
	f.Add(formatHash(DefaultParams, make([]byte, hashSaltLen), make([]byte, hashKeyLen)))
	f.Add("$argon2id$v=19$m=1024,t=0,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U")
	f.Add("$argon2id$x")
	f.Fuzz(func(t *testing.T, h string) {
		p, salt, key, err := parseHash(h)
		if err != nil {
			if CheckPassword(h, "pw") {
				t.Fatalf("CheckPassword(%q) true for a hash parseHash refuses", h)
			}
			return
		}
		if p.Time < 1 || p.Time > 16 || p.Threads < 1 || p.Memory < 8*uint32(p.Threads) || p.Memory > 1<<20 {
			t.Fatalf("parseHash(%q) accepted parameters %+v", h, p)
		}
		if again := formatHash(p, salt, key); again != h {
			t.Fatalf("parseHash(%q) formats back to %q", h, again)
		}
		for n := range len(h) {
			if _, _, _, err := parseHash(h[:n]); err == nil {
				t.Fatalf("parseHash accepts %q, a cut of %q", h[:n], h)
			}
		}
		if p.Memory <= 256 && p.Time <= 2 {
			CheckPassword(h, "pw")
		}
	})
}

// TestEnrolmentCodes: a code is 20 base32 characters in four groups of
// five; what a person may type for it (capitals, no dashes, spaces) hashes
// as it does; anything else is no code; the hash is bound to the account.
func TestEnrolmentCodes(t *testing.T) {
	code := newEnrolmentCode()
	if len(code) != 23 || strings.Count(code, "-") != 3 || code != strings.ToLower(code) {
		t.Fatalf("newEnrolmentCode() = %q, want 4 groups of 5 lower-case characters", code)
	}
	if newEnrolmentCode() == code {
		t.Fatal("two codes are equal")
	}
	want, ok := normalCode(code)
	if !ok {
		t.Fatalf("normalCode(%q) refused a fresh code", code)
	}
	for _, typed := range []string{strings.ToUpper(code), strings.ReplaceAll(code, "-", ""), strings.ReplaceAll(code, "-", " ")} {
		if got, ok := normalCode(typed); !ok || got != want {
			t.Errorf("normalCode(%q) = %q, %v; want %q", typed, got, ok, want)
		}
	}
	for _, bad := range []string{"", "abcde", want + "a", want[:19] + "1", want[:19] + "0", want[:19] + "é", "aaaaa_aaaaa_aaaaa_aaaaa"} {
		if got, ok := normalCode(bad); ok {
			t.Errorf("normalCode(%q) = %q, accepted", bad, got)
		}
	}
	if string(codeHash("op_a", want)) == string(codeHash("op_b", want)) {
		t.Error("the same code hashes the same for two accounts")
	}
}

// FuzzNormalCode: whatever a person types as an enrolment code, the
// normal form is codeLen characters of the code alphabet, a fixed point,
// and a new code is always accepted as itself.
func FuzzNormalCode(f *testing.F) {
	f.Add(newEnrolmentCode())
	f.Add("AAAAA-bbbbb-CCCCC-ddddd")
	f.Add(" a-a ")
	f.Fuzz(func(t *testing.T, code string) {
		n, ok := normalCode(code)
		if !ok {
			return
		}
		if len(n) != codeLen || strings.Trim(n, "abcdefghijklmnopqrstuvwxyz234567") != "" {
			t.Fatalf("normalCode(%q) = %q", code, n)
		}
		if again, ok := normalCode(n); !ok || again != n {
			t.Fatalf("normalCode is no fixed point on %q: %q, %v", n, again, ok)
		}
	})
}
