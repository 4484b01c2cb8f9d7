package value

import (
	"errors"
	"net/mail"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/coffre/coffre/internal/policy"
)

func field(t policy.FieldType) policy.Field { return policy.Field{Name: "f_" + string(t), Type: t} }

// Known-good NIRs, keys computed independently (python: 97 - n % 97 with
// 2A read as 19 and 2B as 18).
var goodNIRs = []string{
	"1 84 12 76 451 089 46",
	"184127645108946",
	"2 68 03 75 056 012 77",
	"1 75 03 2A 004 017 38", // Corsica, Corse-du-Sud
	"2 69 05 2B 033 092 75", // Corsica, Haute-Corse
	"1.75.03.2a.004.017.38",
	"1-84-12-76-451-089-46",
}

var validateTests = []struct {
	typ  policy.FieldType
	v    string
	want string // "" for valid, else the exact reason
}{
	// Common rules.
	{policy.TypeText, "", "is empty"},
	{policy.TypeText, "   ", "is empty"},
	{policy.TypeText, "\xff\xfe", "not valid UTF-8"},
	{policy.TypeText, "a\x00b", "contains a control or non-printable character"},
	{policy.TypeText, "a\tb", "contains a control or non-printable character"},
	{policy.TypeText, "line\nbreak", "contains a control or non-printable character"},
	{policy.TypeText, "bidi\u202eoverride", "contains a control or non-printable character"},
	{policy.TypeText, "zero\u200bwidth", "contains a control or non-printable character"},
	{policy.TypeText, strings.Repeat("a", 1000), ""},
	{policy.TypeText, strings.Repeat("a", 1001), "longer than 1000 bytes"},
	{policy.TypeText, "  padded  ", ""},
	{policy.TypeText, "Allergie : pénicilline\u00a0!", ""},
	{policy.FieldType("nope"), "x", "unknown field type"},

	// Address.
	{policy.TypeAddress, "12 rue de la Paix\n75002 Paris", ""},
	{policy.TypeAddress, "12 rue de la Paix\r\n75002 Paris", "contains a control or non-printable character"},
	{policy.TypeAddress, strings.Repeat("a", 501), "longer than 500 bytes"},

	// Name.
	{policy.TypeName, "Marie-Claire Dupont", ""},
	{policy.TypeName, "Jean de La Fontaine", ""},
	{policy.TypeName, "d'Artagnan", ""},
	{policy.TypeName, "N’Diaye", ""},
	{policy.TypeName, "Élodie Ñúñez", ""},
	{policy.TypeName, "E\u0301lodie", ""}, // decomposed É
	{policy.TypeName, "J. R. R. Tolkien", ""},
	{policy.TypeName, "Владимир Петров", ""},
	{policy.TypeName, "山田 太郎", ""},
	{policy.TypeName, "Louis XIV", ""},
	{policy.TypeName, "Louis 14", "name contains a character other than letters, spaces, hyphens, apostrophes and dots"},
	{policy.TypeName, "a@b", "name contains a character other than letters, spaces, hyphens, apostrophes and dots"},
	{policy.TypeName, "- . '", "name contains no letter"},
	{policy.TypeName, strings.Repeat("é", 101), "longer than 200 bytes"},

	// Email.
	{policy.TypeEmail, "marie.dupont@example.fr", ""},
	{policy.TypeEmail, "Marie.Dupont+tag@Example.FR", ""},
	{policy.TypeEmail, "a@b.co", ""},
	{policy.TypeEmail, "x@sub-domain.example.org", ""},
	{policy.TypeEmail, "marie.dupont@example", "not a valid email address"},
	{policy.TypeEmail, "marie.dupontexample.fr", "not a valid email address"},
	{policy.TypeEmail, "a@b@example.fr", "not a valid email address"},
	{policy.TypeEmail, "@example.fr", "not a valid email address"},
	{policy.TypeEmail, "marie@", "not a valid email address"},
	{policy.TypeEmail, "marie dupont@example.fr", "not a valid email address"},
	{policy.TypeEmail, "Marie <marie@example.fr>", "not a valid email address"},
	{policy.TypeEmail, "<marie@example.fr>", "not a valid email address"},
	{policy.TypeEmail, `"marie"@example.fr`, "not a valid email address"},
	{policy.TypeEmail, "marie..dupont@example.fr", "not a valid email address"},
	{policy.TypeEmail, ".marie@example.fr", "not a valid email address"},
	{policy.TypeEmail, "marie@-example.fr", "not a valid email address"},
	{policy.TypeEmail, "marie@example..fr", "not a valid email address"},
	{policy.TypeEmail, "marie@exa_mple.fr", "not a valid email address"},
	{policy.TypeEmail, "marie@[192.0.2.1]", "not a valid email address"},
	{policy.TypeEmail, strings.Repeat("a", 65) + "@example.fr", "not a valid email address"},
	{policy.TypeEmail, strings.Repeat("a", 64) + "@example.fr", ""},

	// Phone.
	{policy.TypePhone, "06 12 34 56 78", ""},
	{policy.TypePhone, "+33 6 12 34 56 78", ""},
	{policy.TypePhone, "+33 (0)6 12 34 56 78", ""},
	{policy.TypePhone, "0033612345678", ""},
	{policy.TypePhone, "06.12.34.56.78", ""},
	{policy.TypePhone, "06-12-34-56-78", ""},
	{policy.TypePhone, "123456", ""},
	{policy.TypePhone, "12345", "phone number must have 6 to 15 digits"},
	{policy.TypePhone, "+1234567890123456", "phone number must have 6 to 15 digits"},
	{policy.TypePhone, "06 12 34 56 7a", "phone number contains a character other than digits, +, spaces, dots, dashes and parentheses"},
	{policy.TypePhone, "06 12 +34 56 78", "phone number contains a character other than digits, +, spaces, dots, dashes and parentheses"},
	{policy.TypePhone, "٠٦١٢٣٤٥٦٧٨", "phone number contains a character other than digits, +, spaces, dots, dashes and parentheses"},

	// Date.
	{policy.TypeDate, "1984-03-12", ""},
	{policy.TypeDate, "2000-02-29", ""},
	{policy.TypeDate, "1900-01-01", ""},
	{policy.TypeDate, "2100-12-31", ""},
	{policy.TypeDate, "1899-12-31", "date is outside 1900-01-01 to 2100-12-31"},
	{policy.TypeDate, "2101-01-01", "date is outside 1900-01-01 to 2100-12-31"},
	{policy.TypeDate, "1900-02-29", "not a calendar date"},
	{policy.TypeDate, "2023-02-30", "not a calendar date"},
	{policy.TypeDate, "2023-13-01", "not a calendar date"},
	{policy.TypeDate, "2023-00-10", "not a calendar date"},
	{policy.TypeDate, "12/03/1984", "date is not written YYYY-MM-DD"},
	{policy.TypeDate, "1984-3-12", "date is not written YYYY-MM-DD"},
	{policy.TypeDate, "1984-03-12T00:00:00Z", "longer than 10 bytes"},

	// National id.
	{policy.TypeNationalID, "1 84 12 76 451 089 45", reasonNIRKey},
	{policy.TypeNationalID, "1 84 12 76 451 089 64", reasonNIRKey},
	{policy.TypeNationalID, "1 75 03 2B 004 017 38", reasonNIRKey}, // 2A's key with 2B
	{policy.TypeNationalID, "1 84 12 76 451 089", "national id must have 15 characters without separators"},
	{policy.TypeNationalID, "5 84 12 76 451 089 46", "national id must start with 1, 2, 3, 4, 7 or 8"},
	{policy.TypeNationalID, "1 84 13 76 451 089 46", "national id has an invalid month"},
	{policy.TypeNationalID, "1 84 00 76 451 089 46", "national id has an invalid month"},
	{policy.TypeNationalID, "1 84 12 2C 451 089 46", "national id must be digits, with 2A or 2B as department"},
	{policy.TypeNationalID, "1 84 12 76 4A1 089 46", "national id must be digits, with 2A or 2B as department"},
	{policy.TypeNationalID, "1 84 12 76 451 089 4x", "national id key must be two digits"},
	{policy.TypeNationalID, "1_84_12_76_451_089_46", "national id must have 15 characters without separators"},
	{policy.TypeNationalID, "1 / 84 / 12 / 76 / 451 / 089 / 46", "longer than 21 bytes"},
}

func TestValidate(t *testing.T) {
	for _, tt := range validateTests {
		t.Run(string(tt.typ)+"/"+tt.v, func(t *testing.T) {
			err := Validate(field(tt.typ), tt.v)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate(%s, %q) = %v, want nil", tt.typ, tt.v, err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Validate(%s, %q) = %v, want an *Error", tt.typ, tt.v, err)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Validate(%s, %q): error does not wrap ErrInvalid", tt.typ, tt.v)
			}
			if e.Reason != tt.want || e.Field != "f_"+string(tt.typ) {
				t.Errorf("Validate(%s, %q) = {%q, %q}, want {%q, %q}", tt.typ, tt.v, e.Field, e.Reason, "f_"+string(tt.typ), tt.want)
			}
		})
	}
}

func TestValidateNIR(t *testing.T) {
	f := field(policy.TypeNationalID)
	for _, v := range goodNIRs {
		if err := Validate(f, v); err != nil {
			t.Errorf("Validate(national_id, %q) = %v, want nil", v, err)
		}
	}
	// Every wrong key of a good NIR is rejected for its check digits.
	s := stripNIR(goodNIRs[0])
	for k := 0; k < 100; k++ {
		v := s[:13] + string(rune('0'+k/10)) + string(rune('0'+k%10))
		if v == s {
			continue
		}
		var e *Error
		if err := Validate(f, v); !errors.As(err, &e) || e.Reason != reasonNIRKey {
			t.Errorf("Validate(national_id, %q) = %v, want %q", v, err, reasonNIRKey)
		}
	}
}

func TestValidateMaxLen(t *testing.T) {
	f := policy.Field{Name: "nickname", Type: policy.TypeName, MaxLen: 5}
	if err := Validate(f, "Marie"); err != nil {
		t.Errorf("Validate(MaxLen 5, %q) = %v, want nil", "Marie", err)
	}
	if err := Validate(f, " Marie "); err != nil {
		t.Errorf("Validate(MaxLen 5, %q) = %v, want nil (length counts once trimmed)", " Marie ", err)
	}
	err := Validate(f, "Marie-Claire")
	if err == nil || err.Error() != "field nickname: longer than 5 bytes" {
		t.Errorf("Validate(MaxLen 5, %q) = %v, want %q", "Marie-Claire", err, "field nickname: longer than 5 bytes")
	}
}

// TestErrorNoValue checks that no error message leaks the value (DESIGN:
// no personal data in errors).
func TestErrorNoValue(t *testing.T) {
	for _, tt := range validateTests {
		if tt.want == "" {
			continue
		}
		err := Validate(field(tt.typ), tt.v)
		if err == nil {
			t.Fatalf("Validate(%s, %q) = nil, want an error", tt.typ, tt.v)
		}
		if v := strings.TrimSpace(tt.v); len(v) > 1 && strings.Contains(err.Error(), v) {
			t.Errorf("Validate(%s, %q) = %q: the message contains the value", tt.typ, tt.v, err)
		}
	}
	// Values that look like the words of reasons, and the field name itself,
	// must not sneak in either.
	for _, v := range []string{"secret-marie", "0612345678x", "marie@@example.fr", "9 99 99 99 999 999 99"} {
		for _, typ := range policy.FieldTypes {
			if err := Validate(field(typ), v); err != nil && strings.Contains(err.Error(), v) {
				t.Errorf("Validate(%s, %q) = %q: the message contains the value", typ, v, err)
			}
		}
	}
}

func TestNIRKey(t *testing.T) {
	tests := []struct {
		first13, want string
	}{
		{"1841276451089", "46"},
		{"2680375056012", "77"},
		{"175032A004017", "38"},
		{"175032a004017", "38"},
		{"269052B033092", "75"},
		{"1750319004017", "38"}, // 2A reads as 19
		{"0000000000000", "97"},
		{"0000000000097", "97"},
		{"0000000000096", "01"},
	}
	for _, tt := range tests {
		got, err := NIRKey(tt.first13)
		if err != nil || got != tt.want {
			t.Errorf("NIRKey(%q) = %q, %v, want %q", tt.first13, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "184127645108", "18412764510891", "1 84 12 76 451 089", "18412764510A9", "184122C451089", "1841276451089\x00"} {
		_, err := NIRKey(bad)
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("NIRKey(%q) = %v, want an error wrapping ErrInvalid", bad, err)
		}
		if err != nil && len(bad) > 1 && strings.Contains(err.Error(), bad) {
			t.Errorf("NIRKey(%q) = %q: the message contains the input", bad, err)
		}
	}
	// Every key NIRKey produces validates.
	for _, first13 := range []string{"1841276451089", "290052A004123", "7991299999999", "8000101001001"} {
		k, err := NIRKey(first13)
		if err != nil {
			t.Fatal(err)
		}
		if err := Validate(field(policy.TypeNationalID), first13+k); err != nil {
			t.Errorf("Validate(%q) = %v, want nil", first13+k, err)
		}
	}
}

// knownReason reports whether r is one of the fixed reasons of
// validateTests or "longer than N bytes".
func knownReason(r string) bool {
	for _, tt := range validateTests {
		if r == tt.want && r != "" {
			return true
		}
	}
	n, ok := strings.CutPrefix(r, "longer than ")
	n, ok2 := strings.CutSuffix(n, " bytes")
	return ok && ok2 && allDigits(n)
}

// fuzzTypes are the types FuzzValidate picks from by index; the last one is
// unknown.
var fuzzTypes = append(append([]policy.FieldType{}, policy.FieldTypes...), "unknown")

func fuzzTypeIndex(t policy.FieldType) uint8 {
	for i, ft := range fuzzTypes {
		if ft == t {
			return uint8(i)
		}
	}
	return uint8(len(fuzzTypes) - 1)
}

func FuzzValidate(f *testing.F) {
	for _, tt := range validateTests {
		f.Add(fuzzTypeIndex(tt.typ), tt.v)
	}
	for _, v := range goodNIRs {
		f.Add(fuzzTypeIndex(policy.TypeNationalID), v)
	}
	for _, cls := range normalizeClasses {
		for _, v := range cls.in {
			f.Add(fuzzTypeIndex(cls.typ), v)
		}
	}
	f.Fuzz(func(t *testing.T, ti uint8, v string) {
		ft := fuzzTypes[int(ti)%len(fuzzTypes)]
		err := Validate(policy.Field{Name: "f", Type: ft}, v)
		n := Normalize(ft, v)
		_ = Canonical(ft, v)
		if err != nil {
			// The message is built only from the field name and a fixed
			// reason, so it cannot carry the value.
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrInvalid) || e.Field != "f" || !knownReason(e.Reason) {
				t.Fatalf("Validate(%s, %q) = %#v, want an *Error with a fixed reason wrapping ErrInvalid", ft, v, err)
			}
			return
		}
		if nn := Normalize(ft, n); nn != n {
			t.Fatalf("Normalize not idempotent for %s %q: %q then %q", ft, v, n, nn)
		}
		if c := Canonical(ft, v); Normalize(ft, c) != n {
			t.Fatalf("Normalize(Canonical(%s, %q)) = %q, want Normalize(v) = %q", ft, v, Normalize(ft, c), n)
		}
		if err := Validate(policy.Field{Name: "f", Type: ft}, Canonical(ft, v)); err != nil {
			t.Fatalf("Validate(Canonical(%s, %q)) = %v, want nil", ft, v, err)
		}
	})
}

// slowEmailLocal is net/mail's verdict on a local part, which
// asciiDotAtom stands in for.
func slowEmailLocal(local string) bool {
	v := local + "@example.org"
	a, err := mail.ParseAddress(v)
	return err == nil && a.Name == "" && a.Address == v
}

var localParts = []string{"marie.dupont", "a", "a.b.c", "x+tag", "o'neil", "_~!#$%&*/=?^`{|}-", "1234",
	".a", "a.", "a..b", "a b", "a\tb", "a(b", "a)b", "a<b", "a>b", "a[b", "a]b", "a:b", "a;b", "a\\b", "a,b", `a"b`, "\"ab\"",
	"a\x00b", "a\x7fb", "é", "zoë.x", ""}

func TestEmailFastPathAgreesWithNetMail(t *testing.T) {
	for _, local := range localParts {
		ok, sure := asciiDotAtom(local)
		if sure && local != "" && ok != slowEmailLocal(local) {
			t.Errorf("local part %q: fast path says %v, net/mail %v", local, ok, !ok)
		}
	}
}

func FuzzEmailFastPath(f *testing.F) {
	for _, l := range localParts {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, local string) {
		ok, sure := asciiDotAtom(local)
		if sure && local != "" && ok != slowEmailLocal(local) {
			t.Fatalf("local part %q: fast path says %v, net/mail %v", local, ok, !ok)
		}
	})
}

// slowPrintable and slowCheckDate are what printable and checkDate stand
// in for: the plain library calls they replaced on the import's path.
func slowPrintable(v string, newlines bool) string {
	if !utf8.ValidString(v) {
		return reasonUTF8
	}
	for _, r := range v {
		if r == '\n' && newlines {
			continue
		}
		if !unicode.IsGraphic(r) {
			return reasonControl
		}
	}
	return ""
}

func slowCheckDate(v string) string {
	if len(v) != 10 || v[4] != '-' || v[7] != '-' {
		return "date is not written YYYY-MM-DD"
	}
	d, err := time.Parse(time.DateOnly, v)
	if err != nil || d.Format(time.DateOnly) != v {
		return "not a calendar date"
	}
	if d.Before(time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)) || d.After(time.Date(2100, 12, 31, 0, 0, 0, 0, time.UTC)) {
		return "date is outside 1900-01-01 to 2100-12-31"
	}
	return ""
}

var fastPathInputs = []string{"", "Marie", "a\nb", "a\tb", "a\x7fb", "é", "zoë", "\xff", "a\x00\xff", "\u00a0", "\u200b", "\U0001F600",
	"2024-02-29", "2023-02-29", "1900-01-01", "1899-12-31", "2100-12-31", "2101-01-01", "2024-13-01", "2024-00-10",
	"2024-04-31", "2024-04-30", "0000-01-01", "2024-1a-01", "+024-01-01", "2024-01-1 ", "９９９９-01-01"}

func TestFastPathsAgree(t *testing.T) {
	for _, v := range fastPathInputs {
		for _, nl := range []bool{false, true} {
			if got, want := printable(v, nl), slowPrintable(v, nl); got != want {
				t.Errorf("printable(%q, %v) = %q, want %q", v, nl, got, want)
			}
		}
		if got, want := checkDate(v), slowCheckDate(v); got != want {
			t.Errorf("checkDate(%q) = %q, want %q", v, got, want)
		}
	}
}

func FuzzFastPaths(f *testing.F) {
	for _, v := range fastPathInputs {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		for _, nl := range []bool{false, true} {
			if got, want := printable(v, nl), slowPrintable(v, nl); got != want {
				t.Fatalf("printable(%q, %v) = %q, want %q", v, nl, got, want)
			}
		}
		if got, want := checkDate(v), slowCheckDate(v); got != want {
			t.Fatalf("checkDate(%q) = %q, want %q", v, got, want)
		}
	})
}
