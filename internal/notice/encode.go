package notice

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// Encode is the payload of n: the bytes json.Marshal gives, made without
// reflection, since every read that tells its person encodes one in its
// transaction, on the store's one writer (FuzzEncode checks they are the
// same).
func Encode(n *Notice) []byte {
	b := make([]byte, 0, 256)
	b = append(b, `{"subject":`...)
	b = appendString(b, n.Subject)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, n.Seq, 10)
	b = append(b, `,"time":"`...)
	b = n.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","action":`...)
	b = appendString(b, n.Action)
	b = append(b, `,"purpose":`...)
	b = appendString(b, n.Purpose)
	if len(n.Fields) > 0 {
		b = append(b, `,"fields":[`...)
		for i, f := range n.Fields {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, f)
		}
		b = append(b, ']')
	}
	for _, f := range [...]struct{ name, v string }{{"role", n.Role}, {"unit", n.Unit}, {"operator", n.Operator}, {"partner", n.Partner}} {
		if f.v != "" {
			b = append(b, `,"`+f.name+`":`...)
			b = appendString(b, f.v)
		}
	}
	b = append(b, `,"mode":`...)
	b = appendString(b, n.Mode)
	if n.Basis != "" {
		b = append(b, `,"basis":`...)
		b = appendString(b, n.Basis)
	}
	return append(b, '}')
}

const hex = "0123456789abcdef"

// appendString appends s as a JSON string escaped as encoding/json does:
// quotes, backslashes and control characters, <, > and & (HTML-safe),
// U+2028 and U+2029, and invalid UTF-8 as U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
