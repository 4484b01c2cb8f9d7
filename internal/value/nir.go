package value

import (
	"fmt"
	"strconv"
	"strings"
)

// A French NIR (numéro d'inscription au répertoire, the "numéro de sécurité
// sociale") is 13 characters and a 2-digit key:
//
//	s  yy mm dd ccc ooo kk
//	1  84 12 76 451 089 46
//
// s is 1 or 2 (3, 4, 7 or 8 for provisional numbers), yy and mm the year and
// month of birth (mm may also be 20–42 or 50–99 when unknown), dd the
// department, which is 2A or 2B for Corsica, ccc the commune, ooo the order
// number, and kk = 97 − (n mod 97) where n is the first 13 characters read
// as a number, with 2A read as 19 and 2B as 18.

// stripNIR removes the separators people type in a NIR (spaces, dots,
// dashes) and upper-cases the rest.
func stripNIR(v string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '.', '-':
			return -1
		}
		if r >= 'a' && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}, v)
}

// NIRKey returns the 2-digit key ("01" to "97") of the first 13 characters
// of a French NIR. first13 has 13 digits, except that the department
// (characters 6 and 7) may be 2A or 2B; separators are not allowed. The
// error wraps [ErrInvalid] and does not contain first13.
func NIRKey(first13 string) (string, error) {
	n, reason := nirNumber(strings.ToUpper(first13))
	if reason != "" {
		return "", fmt.Errorf("%w: %s", ErrInvalid, reason)
	}
	return fmt.Sprintf("%02d", 97-n%97), nil
}

// nirNumber reads the 13 characters of a NIR before its key as a number,
// with the Corsican departments 2A and 2B read as 19 and 18.
func nirNumber(s string) (int64, string) {
	if len(s) != 13 {
		return 0, "national id must have 13 characters before the key"
	}
	switch s[5:7] {
	case "2A":
		s = s[:5] + "19" + s[7:]
	case "2B":
		s = s[:5] + "18" + s[7:]
	}
	if !allDigits(s) {
		return 0, "national id must be digits, with 2A or 2B as department"
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil { // unreachable: 13 digits fit in an int64
		return 0, "national id is not a number"
	}
	return n, ""
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// checkNIR validates a French NIR written with or without separators.
func checkNIR(v string) string {
	s := stripNIR(v)
	if len(s) != 15 {
		return "national id must have 15 characters without separators"
	}
	switch s[0] {
	case '1', '2', '3', '4', '7', '8':
	default:
		return "national id must start with 1, 2, 3, 4, 7 or 8"
	}
	n, reason := nirNumber(s[:13])
	if reason != "" {
		return reason
	}
	switch m, _ := strconv.Atoi(s[3:5]); {
	case m >= 1 && m <= 12, m >= 20 && m <= 42, m >= 50 && m <= 99:
	default:
		return "national id has an invalid month"
	}
	if !allDigits(s[13:]) {
		return "national id key must be two digits"
	}
	key, _ := strconv.ParseInt(s[13:], 10, 64)
	if key != 97-n%97 {
		return reasonNIRKey
	}
	return ""
}
