package notice

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// FuzzEncode: Encode gives exactly json.Marshal's bytes, whatever the
// strings hold.
func FuzzEncode(f *testing.F) {
	f.Add("sub_x", int64(7), int64(1_700_000_000_123_456_789), "read", "case-handling", "given_name,family_name", "caseworker", "u1", "", "", "immediate", "")
	f.Add("s\"<>&\u2028\x01\xff", int64(-1), int64(0), "", "", "", "", "", "op_1", "ptn_1", "deferred", "loi 78-17 art. 41")
	f.Add("é\t\n\r\b\f\\", int64(1<<62), int64(-9_000_000_000_000_000_000), "update", "p", ",", "r", "u", "o", "p", "digest", "b")
	f.Fuzz(func(t *testing.T, subject string, seq, nanos int64, action, purpose, fields, role, unit, operator, partner, mode, basis string) {
		n := Notice{Subject: subject, Seq: seq, Time: time.Unix(0, nanos).UTC(), Action: action, Purpose: purpose,
			Role: role, Unit: unit, Operator: operator, Partner: partner, Mode: mode, Basis: basis}
		if fields != "" {
			n.Fields = strings.Split(fields, ",")
		}
		want, err := json.Marshal(n)
		if err != nil {
			return // a time json refuses (a year past 9999) is never a notice's
		}
		if got := Encode(&n); !bytes.Equal(got, want) {
			t.Fatalf("Encode(%+v)\n = %s\nwant %s", n, got, want)
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	n := Notice{Subject: "sub_ypapxqr2qmva80dvpv77fgykzc", Seq: 123456, Time: time.Now().UTC(), Action: "read", Purpose: "case-handling",
		Fields: []string{"given_name", "family_name", "email_pro", "phone"}, Role: "caseworker", Unit: "u1", Mode: "immediate"}
	b.Run("Encode", func(b *testing.B) {
		for b.Loop() {
			Encode(&n)
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		for b.Loop() {
			json.Marshal(n)
		}
	})
}
