package mask

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/coffre/coffre/internal/policy"
)

var applyTests = []struct {
	mask string
	typ  policy.FieldType
	in   string
	want string
}{
	// initials
	{Initials, policy.TypeName, "Marie-Claire Dupont", "M.-C. D."},
	{Initials, policy.TypeName, "jean de la fontaine", "J. D. L. F."},
	{Initials, policy.TypeName, "d'Artagnan", "D."},
	{Initials, policy.TypeName, "N’Diaye", "N."},
	{Initials, policy.TypeName, "Élodie Ñúñez", "É. Ñ."},
	{Initials, policy.TypeName, "E\u0301lodie", "E\u0301."}, // decomposed É keeps its accent
	{Initials, policy.TypeName, "  marie   curie ", "M. C."},
	{Initials, policy.TypeName, "Jean- -Paul", "J. P."},
	{Initials, policy.TypeName, "Владимир Петров", "В. П."},
	{Initials, policy.TypeName, "Louis 14", "L."},
	{Initials, policy.TypeName, "06 12 34", Redacted},
	{Initials, policy.TypeName, "- . '", Redacted},
	{Initials, policy.TypeName, "", ""},

	// email
	{Email, policy.TypeEmail, "marie.dupont@example.fr", "m***@example.fr"},
	{Email, policy.TypeEmail, "  Marie.Dupont@Example.fr ", "M***@Example.fr"},
	{Email, policy.TypeEmail, "m@example.fr", "m***@example.fr"},
	{Email, policy.TypeEmail, "élodie@example.fr", "é***@example.fr"},
	{Email, policy.TypeEmail, "marie.dupont", Redacted},
	{Email, policy.TypeEmail, "marie@example", Redacted},
	{Email, policy.TypeEmail, "marie@.fr", Redacted},
	{Email, policy.TypeEmail, "marie@example.", Redacted},
	{Email, policy.TypeEmail, "@example.fr", Redacted},
	{Email, policy.TypeEmail, "a@b@example.fr", Redacted},
	{Email, policy.TypeEmail, "marie dupont@example.fr", Redacted},
	{Email, policy.TypeEmail, "marie@exa\x00mple.fr", Redacted},
	{Email, policy.TypeEmail, "\xffmarie@example.fr", Redacted},
	{Email, policy.TypeEmail, "", ""},

	// last2 / last4
	{Last2, policy.TypePhone, "06 12 34 56 78", "********78"},
	{Last4, policy.TypePhone, "06 12 34 56 78", "******5678"},
	{Last2, policy.TypeNationalID, "1 84 12 76 451 089 46", "*************46"},
	{Last4, policy.TypeNationalID, "1 75 03 2A 004 017 38", "***********1738"},
	{Last4, policy.TypeText, "AB-12-cd", "******"},   // 6 ≤ 4+2: all hidden
	{Last4, policy.TypeText, "AB-123-cd", "***23cd"}, // 7 > 6
	{Last2, policy.TypeText, "1234", "****"},
	{Last2, policy.TypeText, "12345", "***45"},
	{Last2, policy.TypeText, "ab", "**"},
	{Last2, policy.TypeText, "é-ü-ñ-ç-ø", "***çø"},
	{Last2, policy.TypeText, "-- ..", ""},
	{Last4, policy.TypeText, "", ""},

	// year
	{Year, policy.TypeDate, "1984-03-12", "1984"},
	{Year, policy.TypeDate, " 2000-02-29 ", "2000"},
	{Year, policy.TypeDate, "2023-02-30", Redacted},
	{Year, policy.TypeDate, "12/03/1984", Redacted},
	{Year, policy.TypeDate, "1984", Redacted},
	{Year, policy.TypeText, "née en 1984", Redacted},
	{Year, policy.TypeDate, "", ""},

	// redact and unknown masks fail closed
	{Redact, policy.TypeName, "Marie Dupont", Redacted},
	{Redact, policy.TypeName, "", Redacted},
	{"", policy.TypeName, "Marie Dupont", Redacted},
	{"clear", policy.TypeName, "Marie Dupont", Redacted},
	{"Initials", policy.TypeName, "Marie Dupont", Redacted},
	{"last3", policy.TypePhone, "0612345678", Redacted},
}

func TestApply(t *testing.T) {
	for _, tt := range applyTests {
		t.Run(tt.mask+"/"+tt.in, func(t *testing.T) {
			if got := Apply(tt.mask, tt.typ, tt.in); got != tt.want {
				t.Errorf("Apply(%q, %s, %q) = %q, want %q", tt.mask, tt.typ, tt.in, got, tt.want)
			}
		})
	}
}

// TestEveryMaskTested makes sure a mask added to Names gets a test.
func TestEveryMaskTested(t *testing.T) {
	for _, n := range Names {
		found := false
		for _, tt := range applyTests {
			found = found || tt.mask == n
		}
		if !found {
			t.Errorf("mask %q has no case in applyTests", n)
		}
	}
}

func countAlnum(s string) int {
	n := 0
	for _, r := range s {
		if isAlnum(r) {
			n++
		}
	}
	return n
}

func FuzzApply(f *testing.F) {
	for _, tt := range applyTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, v string) {
		for _, name := range append(Names, "unknown") {
			for _, typ := range policy.FieldTypes {
				out := Apply(name, typ, v)
				if name == Redact || name == "unknown" {
					if out != Redacted {
						t.Fatalf("Apply(%q, %s, %q) = %q, want %q", name, typ, v, out, Redacted)
					}
					continue
				}
				if out == Redacted || out == "" {
					continue
				}
				check(t, name, v, out)
			}
		}
	})
}

// check verifies that out, the masked form of v under name, shows no more
// than the mask allows.
func check(t *testing.T, name, v, out string) {
	t.Helper()
	v = strings.TrimSpace(v)
	switch name {
	case Email:
		local, domain, ok := strings.Cut(v, "@")
		first, _ := utf8.DecodeRuneInString(local)
		if want := string(first) + "***@" + domain; !ok || out != want {
			t.Fatalf("Apply(email, %q) = %q, want %q: only the first character of the local part", v, out, want)
		}
	case Last2, Last4:
		n := map[string]int{Last2: 2, Last4: 4}[name]
		if got := countAlnum(out); got > n {
			t.Fatalf("Apply(%s, %q) = %q: shows %d letters or digits, want at most %d", name, v, out, got, n)
		}
		if total := countAlnum(v); utf8.RuneCountInString(out) != total {
			t.Fatalf("Apply(%s, %q) = %q: want one character per letter or digit (%d)", name, v, out, total)
		}
		if countAlnum(v) <= n+2 && strings.Trim(out, "*") != "" {
			t.Fatalf("Apply(%s, %q) = %q: a short value must be all stars", name, v, out)
		}
	case Year:
		if len(out) != 4 || !strings.HasPrefix(v, out) {
			t.Fatalf("Apply(year, %q) = %q, want the 4-digit year", v, out)
		}
	case Initials:
		// At most one letter per word part, each followed by a dot.
		parts := 0
		for w := range strings.FieldsSeq(v) {
			parts += len(strings.Split(w, "-"))
		}
		if got := countAlnum(out); got > parts {
			t.Fatalf("Apply(initials, %q) = %q: %d letters for %d word parts", v, out, got, parts)
		}
		if !strings.HasSuffix(out, ".") {
			t.Fatalf("Apply(initials, %q) = %q: does not end with a dot", v, out)
		}
	}
}
