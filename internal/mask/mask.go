// Package mask turns a field's clear value into the masked form a purpose
// may see. Masking is done by the server, after decryption and before the
// value leaves the vault, so a masked field never reaches the client in
// clear.
//
// # Masks
//
//	initials  "Marie-Claire Dupont"     → "M.-C. D."
//	email     "marie.dupont@example.fr" → "m***@example.fr"
//	last2     "06 12 34 56 78"          → "********78"
//	last4     "06 12 34 56 78"          → "******5678"
//	year      "1984-03-12"              → "1984"
//	redact    anything                  → "[redacted]"
//
// # Failing closed
//
// A mask shows at most what its name promises, and less when in doubt:
//
//   - an unknown mask name gives [Redacted];
//   - initials shows only the first letter of each word and of each part of a
//     hyphenated word; a value with no letter gives [Redacted];
//   - email shows the first character of the local part, three stars
//     whatever the local part's length, and the domain; a value that is not
//     shaped like an address gives [Redacted];
//   - last2 and last4 drop separators, show one star per hidden letter or
//     digit and the last 2 or 4 of them; a value with no more than 2 letters
//     and digits beyond those kept (at most 4 for last2, 6 for last4) is all
//     stars, so a short value is never given away whole or nearly whole;
//   - year shows the year of a YYYY-MM-DD date; anything else gives
//     [Redacted].
//
// An empty (or all-space) value masks to "" under every mask except
// redact: there is nothing to hide.
package mask

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/coffre/coffre/internal/policy"
)

// Redacted is the output of the redact mask and of every mask that cannot
// apply to a value.
const Redacted = "[redacted]"

// Apply masks v, a value of a field of type t, with the mask called name.
// No mask depends on t yet; it is passed so that a type-aware mask needs no
// change of signature. Apply never fails: see the package documentation for
// what each mask shows and how it fails closed.
func Apply(name string, t policy.FieldType, v string) string {
	if name == Redact || !Valid(name) {
		return Redacted
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return ""
	}
	switch name {
	case Initials:
		return initials(v)
	case Email:
		return email(v)
	case Last2:
		return lastN(v, 2)
	case Last4:
		return lastN(v, 4)
	case Year:
		return year(v)
	}
	return Redacted
}

// initials keeps the first letter of each word, with the combining marks
// that follow it, upper-cased and followed by a dot; the parts of a
// hyphenated word are joined by "-".
func initials(v string) string {
	var words []string
	for w := range strings.FieldsSeq(v) {
		var parts []string
		for p := range strings.SplitSeq(w, "-") {
			if in := initial(p); in != "" {
				parts = append(parts, in+".")
			}
		}
		if len(parts) > 0 {
			words = append(words, strings.Join(parts, "-"))
		}
	}
	if len(words) == 0 {
		return Redacted
	}
	return strings.Join(words, " ")
}

// initial returns the first letter of s, upper-cased, with the combining
// marks that follow it (a decomposed É), or "" if s has no letter.
func initial(s string) string {
	i := strings.IndexFunc(s, unicode.IsLetter)
	if i < 0 {
		return ""
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	out := string(unicode.ToUpper(r))
	for _, m := range s[i+n:] {
		if !unicode.Is(unicode.Mn, m) {
			break
		}
		out += string(m)
	}
	return out
}

// email keeps the first character of the local part and the domain.
func email(v string) string {
	if strings.Count(v, "@") != 1 {
		return Redacted
	}
	local, domain, _ := strings.Cut(v, "@")
	// A domain shows a dot between two labels; the whole address is
	// printable UTF-8 without spaces.
	if local == "" || len(domain) < 3 || !strings.Contains(domain[1:len(domain)-1], ".") || !utf8.ValidString(v) {
		return Redacted
	}
	for _, r := range v {
		if !unicode.IsGraphic(r) || unicode.IsSpace(r) {
			return Redacted
		}
	}
	r, _ := utf8.DecodeRuneInString(local)
	return string(r) + "***@" + domain
}

// isAlnum reports whether r counts as a character for last2 and last4.
func isAlnum(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// lastN keeps the last n letters or digits, one star for each hidden one,
// and drops everything else; with no more than n+2 of them, all are hidden.
func lastN(v string, n int) string {
	var kept []rune
	for _, r := range v {
		if isAlnum(r) {
			kept = append(kept, r)
		}
	}
	if len(kept) <= n+2 {
		return strings.Repeat("*", len(kept))
	}
	return strings.Repeat("*", len(kept)-n) + string(kept[len(kept)-n:])
}

// year keeps the year of a YYYY-MM-DD calendar date.
func year(v string) string {
	t, err := time.Parse(time.DateOnly, v)
	if err != nil || t.Format(time.DateOnly) != v {
		return Redacted
	}
	return v[:4]
}
