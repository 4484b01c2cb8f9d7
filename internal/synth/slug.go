package synth

// appendSlug appends name in the form used in email addresses: lower-case
// ASCII letters and hyphens, accents stripped ("Élodie" → "elodie", "Œ" →
// "oe"), spaces turned into hyphens ("Le Gall" → "le-gall") and apostrophes
// dropped ("N'Diaye" → "ndiaye").
func appendSlug(b []byte, name string) []byte {
	for _, c := range name {
		switch {
		case c >= 'a' && c <= 'z':
			b = append(b, byte(c))
		case c >= 'A' && c <= 'Z':
			b = append(b, byte(c-'A'+'a'))
		case c == ' ' || c == '-':
			b = append(b, '-')
		default:
			b = append(b, fold(c)...)
		}
	}
	return b
}

// appendInitials appends the lower-case first letter of each part of a
// given name: "Marie" → "m", "Jean-Baptiste" → "jb".
func appendInitials(b []byte, name string) []byte {
	start := true
	for _, c := range name {
		if c == '-' || c == ' ' {
			start = true
			continue
		}
		if start {
			if c >= 'A' && c <= 'Z' {
				b = append(b, byte(c-'A'+'a'))
			} else {
				b = append(b, fold(c)...)
			}
			start = false
		}
	}
	return b
}

// fold returns the lower-case ASCII letters for an accented Latin letter,
// and "" for anything else (apostrophes among them).
func fold(c rune) string {
	switch c {
	case 'à', 'â', 'ä', 'À', 'Â', 'Ä':
		return "a"
	case 'ç', 'Ç':
		return "c"
	case 'é', 'è', 'ê', 'ë', 'É', 'È', 'Ê', 'Ë':
		return "e"
	case 'î', 'ï', 'Î', 'Ï':
		return "i"
	case 'ô', 'ö', 'Ô', 'Ö':
		return "o"
	case 'ù', 'û', 'ü', 'Ù', 'Û', 'Ü':
		return "u"
	case 'ÿ', 'Ÿ':
		return "y"
	case 'œ', 'Œ':
		return "oe"
	case 'æ', 'Æ':
		return "ae"
	}
	return ""
}
