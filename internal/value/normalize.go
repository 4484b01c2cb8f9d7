package value

import (
	"strings"

	"github.com/coffre/coffre/internal/policy"
)

// Normalize returns the lookup form of v, the input of the blind index, so
// that one person's value typed in different ways matches:
//
//   - email: trimmed and lower-cased (the whole address);
//   - phone: digits only; an international prefix written + or 00 is
//     dropped, and a French number in international form (+33 6 12 34 56 78,
//     0033 6 12 34 56 78, +33 (0)6 12 34 56 78) becomes its national form
//     0612345678;
//   - national_id: spaces, dots and dashes removed, upper-cased;
//   - name, text and address: trimmed, runs of white space (newlines
//     included) collapsed to one space, lower-cased (no Unicode
//     normalisation: a decomposed é differs from a composed one);
//   - date and unknown types: trimmed.
//
// Normalize expects a value that passed [Validate]; on such values it is
// idempotent. It never fails: on other input it returns some string.
func Normalize(t policy.FieldType, v string) string {
	switch t {
	case policy.TypeEmail:
		return strings.ToLower(strings.TrimSpace(v))
	case policy.TypePhone:
		return normalizePhone(v)
	case policy.TypeNationalID:
		return stripNIR(strings.TrimSpace(v))
	case policy.TypeName, policy.TypeText, policy.TypeAddress:
		return strings.Join(strings.Fields(strings.ToLower(v)), " ")
	default:
		return strings.TrimSpace(v)
	}
}

func normalizePhone(v string) string {
	v = strings.TrimSpace(v)
	intl := strings.HasPrefix(v, "+")
	var b strings.Builder
	b.Grow(len(v))
	for i := 0; i < len(v); i++ {
		if c := v[i]; c >= '0' && c <= '9' {
			b.WriteByte(c)
		}
	}
	d := b.String()
	// 00 is the international prefix dialled from France; strip it as
	// often as it appears so that the result never starts with 00 and a
	// second pass changes nothing.
	for strings.HasPrefix(d, "00") {
		d, intl = d[2:], true
	}
	if intl && strings.HasPrefix(d, "33") {
		// French number: the national form has a single trunk 0, also when
		// the (0) was typed after +33.
		return "0" + strings.TrimLeft(d[2:], "0")
	}
	return d
}

// Canonical returns the form of a valid value that the vault stores: trimmed
// of surrounding white space; a national id also loses its separators and
// is upper-cased. Emails and phone numbers are kept as typed otherwise.
func Canonical(t policy.FieldType, v string) string {
	v = strings.TrimSpace(v)
	if t == policy.TypeNationalID {
		return stripNIR(v)
	}
	return v
}
