// Package value validates a field's value against its [policy.FieldType]
// and puts it into the forms the vault stores and indexes.
//
// # Validation
//
// [Validate] checks a value before it is sealed. Its errors are
// [*Error] values that wrap [ErrInvalid] and name the field and a short,
// fixed reason; they never contain the value, so they may be logged and
// shown to the caller without leaking personal data.
//
// # Forms
//
// [Canonical] is the form stored (sealed) for a valid value: trimmed, and
// for a national id without separators and upper-cased. [Normalize] is the
// lookup form fed to the blind index: the same person's value typed in
// different ways ("+33 6 12 34 56 78", "06.12.34.56.78") normalises to the
// same string, and Normalize is idempotent on valid values.
//
// The package is pure: no I/O, no logging.
package value

import (
	"errors"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/coffre/coffre/internal/policy"
)

// ErrInvalid is wrapped by every error [Validate] returns; check it with
// errors.Is, or use errors.As with [*Error] for the field and reason.
var ErrInvalid = errors.New("invalid value")

// Error is a validation failure. Field is the field's name and Reason a short
// fixed English phrase ("is empty", "not a valid email address"); neither
// ever holds the value.
type Error struct {
	Field  string
	Reason string
}

// Error returns "field <name>: <reason>".
func (e *Error) Error() string { return "field " + e.Field + ": " + e.Reason }

// Unwrap returns [ErrInvalid].
func (e *Error) Unwrap() error { return ErrInvalid }

// Default maximum lengths in bytes, used when [policy.Field.MaxLen] is zero.
var defaultMaxLen = map[policy.FieldType]int{
	policy.TypeText:       1000,
	policy.TypeName:       200,
	policy.TypeEmail:      254,
	policy.TypePhone:      32,
	policy.TypeDate:       10,
	policy.TypeNationalID: 21, // 15 characters and up to 6 separators
	policy.TypeAddress:    500,
}

// Reasons that are used in more than one place.
const (
	reasonNIRKey  = "national id check digits do not match"
	reasonUTF8    = "not valid UTF-8"
	reasonControl = "contains a control or non-printable character"
)

// Validate reports whether v is a valid value for f: valid UTF-8, only
// printable characters (newlines are allowed in addresses only), not empty
// once trimmed, at most f.MaxLen bytes once trimmed (or the type's
// default), and of the shape f.Type requires. Surrounding spaces are
// allowed; [Canonical] removes them. An unknown type is rejected.
//
// A non-nil error is an [*Error] wrapping [ErrInvalid].
func Validate(f policy.Field, v string) error {
	fail := func(reason string) error { return &Error{Field: f.Name, Reason: reason} }

	max, known := defaultMaxLen[f.Type]
	if !known {
		return fail("unknown field type")
	}
	if f.MaxLen > 0 {
		max = f.MaxLen
	}
	if reason := printable(v, f.Type == policy.TypeAddress); reason != "" {
		return fail(reason)
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return fail("is empty")
	}
	if len(v) > max {
		return fail("longer than " + strconv.Itoa(max) + " bytes")
	}

	var reason string
	switch f.Type {
	case policy.TypeName:
		reason = checkName(v)
	case policy.TypeEmail:
		reason = checkEmail(v)
	case policy.TypePhone:
		reason = checkPhone(v)
	case policy.TypeDate:
		reason = checkDate(v)
	case policy.TypeNationalID:
		reason = checkNIR(v)
	case policy.TypeText, policy.TypeAddress:
		// Printable text, checked above.
	}
	if reason != "" {
		return fail(reason)
	}
	return nil
}

// printable is Validate's check that v is valid UTF-8 of printable
// characters only (newlines too when newlines is set): "" or the reason.
// ASCII, nearly every value, is checked a byte at a time; the rest by
// unicode.IsGraphic.
func printable(v string, newlines bool) string {
	reason := "" // invalid UTF-8 anywhere is the reason given first
	for i := 0; i < len(v); {
		c := v[i]
		if c < utf8.RuneSelf {
			if c < ' ' && !(c == '\n' && newlines) || c == 0x7f {
				reason = reasonControl
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(v[i:])
		if r == utf8.RuneError && size == 1 {
			return reasonUTF8
		}
		if !unicode.IsGraphic(r) {
			reason = reasonControl
		}
		i += size
	}
	return reason
}

// checkName accepts letters of any script (with combining marks, for
// decomposed accents), spaces (any Unicode space, such as the no-break
// space of pasted text), hyphens, apostrophes and dots, with at least
// one letter.
func checkName(v string) string {
	letters := 0
	for _, r := range v {
		switch {
		case unicode.IsLetter(r):
			letters++
		case unicode.Is(unicode.Mn, r), unicode.Is(unicode.Zs, r), r == '-', r == '\'', r == '’', r == '.':
		default:
			return "name contains a character other than letters, spaces, hyphens, apostrophes and dots"
		}
	}
	if letters == 0 {
		return "name contains no letter"
	}
	return ""
}

// checkEmail is a pragmatic address check: a bare addr-spec (no display name,
// no angle brackets, no quoted local part, no comments), one @, a local part
// of 1 to 64 bytes, and a domain of at least two labels of ASCII letters,
// digits and inner hyphens.
func checkEmail(v string) string {
	const bad = "not a valid email address"
	if strings.ContainsFunc(v, unicode.IsSpace) || strings.Count(v, "@") != 1 {
		return bad
	}
	local, domain, _ := strings.Cut(v, "@")
	if local == "" || len(local) > 64 {
		return bad
	}
	if !validDomain(domain) {
		return bad
	}
	if ok, sure := asciiDotAtom(local); sure {
		if !ok {
			return bad
		}
		return ""
	}
	// net/mail checks the local part's syntax (dot-atom). Anything it had
	// to rewrite (quotes, comments, brackets, a display name) is rejected.
	a, err := mail.ParseAddress(v)
	if err != nil || a.Name != "" || a.Address != v {
		return bad
	}
	return ""
}

// asciiDotAtom is net/mail's verdict on a local part of printable ASCII,
// without its cost: a dot-atom (RFC 5322 3.2.3), atext and dots, no dot
// first, last or doubled. sure is false for anything else (non-ASCII),
// which is left to net/mail.
func asciiDotAtom(local string) (ok, sure bool) {
	for i := 0; i < len(local); i++ {
		c := local[i]
		switch {
		case c >= 0x80:
			return false, false
		case c == '.':
			if i == 0 || i == len(local)-1 || local[i-1] == '.' {
				return false, true
			}
		case c < '!' || c > '~' || strings.IndexByte(`()<>[]:;@\,"`, c) >= 0:
			return false, true
		}
	}
	return true, true
}

func validDomain(d string) bool {
	if len(d) > 253 || !strings.Contains(d, ".") {
		return false
	}
	for label := range strings.SplitSeq(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// checkPhone accepts an optional leading +, ASCII digits and the separators
// space, dot, dash and parentheses, with 6 to 15 digits.
func checkPhone(v string) string {
	digits := 0
	for i, r := range v {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' && i == 0:
		case r == ' ', r == '.', r == '-', r == '(', r == ')':
		default:
			return "phone number contains a character other than digits, +, spaces, dots, dashes and parentheses"
		}
	}
	if digits < 6 || digits > 15 {
		return "phone number must have 6 to 15 digits"
	}
	return ""
}

// Date bounds, inclusive: 1900-01-01 to 2100-12-31.
const minYear, maxYear = 1900, 2100

// checkDate accepts a real calendar date written YYYY-MM-DD between
// 1900-01-01 and 2100-12-31.
func checkDate(v string) string {
	if len(v) != 10 || v[4] != '-' || v[7] != '-' {
		return "date is not written YYYY-MM-DD"
	}
	y, okY := digits(v[0:4])
	m, okM := digits(v[5:7])
	d, okD := digits(v[8:10])
	// time.Date normalises an impossible day (02-30) into the next month.
	if !okY || !okM || !okD || m < 1 || m > 12 || d < 1 || time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Day() != d {
		return "not a calendar date"
	}
	if y < minYear || y > maxYear {
		return "date is outside 1900-01-01 to 2100-12-31"
	}
	return ""
}

// digits is the number s writes in ASCII digits only.
func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}
