package value

import (
	"testing"

	"github.com/coffre/coffre/internal/policy"
)

// normalizeClasses are equivalence classes: one person's value typed in
// different ways, which must all normalise to want.
var normalizeClasses = []struct {
	typ  policy.FieldType
	want string
	in   []string
}{
	{policy.TypeEmail, "marie.dupont@example.fr", []string{
		"marie.dupont@example.fr", "Marie.Dupont@Example.FR", "  MARIE.DUPONT@EXAMPLE.FR ",
	}},
	{policy.TypePhone, "0612345678", []string{
		"0612345678", "06 12 34 56 78", "06.12.34.56.78", "06-12-34-56-78",
		"+33 6 12 34 56 78", "+33612345678", "0033612345678", "0033 6 12 34 56 78",
		"+33 (0)6 12 34 56 78", " 06 12 34 56 78 ",
	}},
	{policy.TypePhone, "442079460958", []string{
		"+44 20 7946 0958", "0044 20 7946 0958", "+44 (20) 7946-0958",
	}},
	{policy.TypeNationalID, "184127645108946", []string{
		"1 84 12 76 451 089 46", "184127645108946", "1.84.12.76.451.089.46", "1-84-12-76-451-089-46", " 1 84 12 76 451 089 46 ",
	}},
	{policy.TypeNationalID, "175032A00401738", []string{
		"1 75 03 2A 004 017 38", "1 75 03 2a 004 017 38", "175032a00401738",
	}},
	{policy.TypeName, "marie-claire dupont", []string{
		"Marie-Claire Dupont", "MARIE-CLAIRE DUPONT", "  marie-claire   dupont ", "Marie-Claire\u00a0Dupont",
	}},
	{policy.TypeName, "élodie ñúñez", []string{"Élodie Ñúñez", "ÉLODIE ÑÚÑEZ", "élodie ñúñez"}},
	{policy.TypeAddress, "12 rue de la paix 75002 paris", []string{
		"12 rue de la Paix\n75002 Paris", "12 Rue de la Paix 75002 PARIS", "12  rue de la paix\n\n75002 paris  ",
	}},
	{policy.TypeText, "allergie pénicilline", []string{"Allergie  Pénicilline", " allergie pénicilline"}},
	{policy.TypeDate, "1984-03-12", []string{"1984-03-12", " 1984-03-12 "}},
}

func TestNormalize(t *testing.T) {
	for _, cls := range normalizeClasses {
		for _, v := range cls.in {
			if err := Validate(field(cls.typ), v); err != nil {
				t.Errorf("Validate(%s, %q) = %v: the class should hold valid values", cls.typ, v, err)
			}
			got := Normalize(cls.typ, v)
			if got != cls.want {
				t.Errorf("Normalize(%s, %q) = %q, want %q", cls.typ, v, got, cls.want)
			}
			if again := Normalize(cls.typ, got); again != got {
				t.Errorf("Normalize(%s, %q) = %q: not idempotent", cls.typ, got, again)
			}
		}
	}
}

// TestNormalizeDistinct checks that normalisation does not merge values
// that differ.
func TestNormalizeDistinct(t *testing.T) {
	tests := []struct {
		typ  policy.FieldType
		a, b string
	}{
		{policy.TypePhone, "06 12 34 56 78", "06 12 34 56 79"},
		{policy.TypePhone, "+33 6 12 34 56 78", "+44 6 12 34 56 78"},
		{policy.TypeEmail, "marie.dupont@example.fr", "mariedupont@example.fr"},
		{policy.TypeName, "Marie-Claire Dupont", "Marie Claire Dupont"},
		{policy.TypeNationalID, "1 75 03 2A 004 017 38", "1 75 03 19 004 017 38"},
	}
	for _, tt := range tests {
		if a, b := Normalize(tt.typ, tt.a), Normalize(tt.typ, tt.b); a == b {
			t.Errorf("Normalize(%s, %q) = Normalize(%s, %q) = %q, want different", tt.typ, tt.a, tt.typ, tt.b, a)
		}
	}
}

func TestNormalizePhoneEdges(t *testing.T) {
	tests := []struct{ in, want string }{
		{"+0012345678", "12345678"},
		{"000033612345678", "0612345678"},
		{"+33 00 12 34 56", "0123456"},
		{"+1 (555) 010-9999", "15550109999"},
		{"331234567", "331234567"}, // no + or 00: not international
		{"", ""},
	}
	for _, tt := range tests {
		got := Normalize(policy.TypePhone, tt.in)
		if got != tt.want {
			t.Errorf("Normalize(phone, %q) = %q, want %q", tt.in, got, tt.want)
		}
		if again := Normalize(policy.TypePhone, got); again != got {
			t.Errorf("Normalize(phone, %q) = %q: not idempotent", got, again)
		}
	}
}

func TestCanonical(t *testing.T) {
	tests := []struct {
		typ     policy.FieldType
		in, out string
	}{
		{policy.TypeNationalID, " 1 84 12 76 451 089 46 ", "184127645108946"},
		{policy.TypeNationalID, "1.75.03.2a.004.017.38", "175032A00401738"},
		{policy.TypePhone, " +33 6 12 34 56 78 ", "+33 6 12 34 56 78"},
		{policy.TypeEmail, " Marie.Dupont@Example.fr ", "Marie.Dupont@Example.fr"},
		{policy.TypeName, "  Marie-Claire  Dupont ", "Marie-Claire  Dupont"},
		{policy.TypeAddress, "12 rue de la Paix\n75002 Paris\n", "12 rue de la Paix\n75002 Paris"},
		{policy.TypeDate, "1984-03-12", "1984-03-12"},
	}
	for _, tt := range tests {
		if got := Canonical(tt.typ, tt.in); got != tt.out {
			t.Errorf("Canonical(%s, %q) = %q, want %q", tt.typ, tt.in, got, tt.out)
		}
	}
}
