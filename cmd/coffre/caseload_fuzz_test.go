package main

import (
	"strings"
	"testing"
	"time"
)

// FuzzReadIDs: a caseload file of any bytes is read without panicking;
// each row is one trimmed, non-empty, non-comment line of at most
// maxIDLine bytes, numbered by its line, in order.
func FuzzReadIDs(f *testing.F) {
	f.Add("sub_0123456789abcdefghjkmnpqrs\n# comment\n\nemail_pro=a@b.fr\n")
	f.Add("\ufeffsub_x\r\n  \n")
	f.Fuzz(func(t *testing.T, in string) {
		rows, err := readIDs(strings.NewReader(in), time.Time{}, &caseloadReport{})
		if err != nil {
			return
		}
		last := 0
		for _, r := range rows {
			if r.Subject == "" || strings.HasPrefix(r.Subject, "#") || strings.TrimSpace(r.Subject) != r.Subject || len(r.Subject) > maxIDLine || r.Num <= last {
				t.Fatalf("row %+v after line %d", r, last)
			}
			last = r.Num
		}
	})
}
