package notice

import (
	"strconv"
	"time"

	"github.com/coffre/coffre/internal/jsontext"
)

// Encode is the payload of n: the bytes json.Marshal gives, made without
// reflection, since every read that tells its person encodes one in its
// transaction, on the store's one writer (FuzzEncode checks they are the
// same).
func Encode(n *Notice) []byte {
	b := make([]byte, 0, 256)
	b = append(b, `{"subject":`...)
	b = jsontext.AppendString(b, n.Subject)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, n.Seq, 10)
	b = append(b, `,"time":"`...)
	b = n.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","action":`...)
	b = jsontext.AppendString(b, n.Action)
	b = append(b, `,"purpose":`...)
	b = jsontext.AppendString(b, n.Purpose)
	if len(n.Fields) > 0 {
		b = append(b, `,"fields":[`...)
		for i, f := range n.Fields {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsontext.AppendString(b, f)
		}
		b = append(b, ']')
	}
	for _, f := range [...]struct{ name, v string }{{"role", n.Role}, {"unit", n.Unit}, {"operator", n.Operator}, {"partner", n.Partner}} {
		if f.v != "" {
			b = append(b, `,"`+f.name+`":`...)
			b = jsontext.AppendString(b, f.v)
		}
	}
	b = append(b, `,"mode":`...)
	b = jsontext.AppendString(b, n.Mode)
	if n.Basis != "" {
		b = append(b, `,"basis":`...)
		b = jsontext.AppendString(b, n.Basis)
	}
	return append(b, '}')
}
