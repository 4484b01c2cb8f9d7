// Package sqlitetest registers SQL functions that let tests play an insider
// editing the audit log with SQL, now that an entry is stored as its leaf:
//
//	audit_set(leaf, field, value)  the leaf with one field rewritten
//	audit_leaf(seq, ts, actor, action, subject, purpose, reason, fields, decision, origin)
//
// Tests import it for that side effect, and for IDs.
package sqlitetest

import (
	"database/sql/driver"
	"fmt"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/subjectid"
	"modernc.org/sqlite"
)

func init() {
	sqlite.MustRegisterDeterministicScalarFunction("audit_set", 3, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		leaf, _ := args[0].([]byte)
		e, err := audit.ParseLeaf(leaf)
		if err != nil {
			return nil, err
		}
		v := fmt.Sprint(args[2])
		switch args[1] {
		case "actor":
			e.Actor = v
		case "action":
			e.Action = v
		case "subject":
			e.Subject = v
		case "purpose":
			e.Purpose = v
		case "reason": // in clear, a sealed one's ciphertext gone
			e.Reason, e.SealedReason, e.ReasonDropped = v, nil, false
		case "decision":
			e.Decision = v
		case "origin":
			e.Origin = v
		default:
			return nil, fmt.Errorf("audit_set: no field %v", args[1])
		}
		return audit.LeafData(&e), nil
	})
	sqlite.MustRegisterDeterministicScalarFunction("audit_leaf", 10, func(_ *sqlite.FunctionContext, a []driver.Value) (driver.Value, error) {
		s := func(i int) string { return fmt.Sprint(a[i]) }
		seq, _ := a[0].(int64)
		ts, _ := a[1].(int64)
		e := audit.Entry{Seq: seq, Time: time.UnixMicro(ts), Actor: s(2), Action: s(3), Subject: s(4), Purpose: s(5), Reason: s(6), Decision: s(8), Origin: s(9)}
		if f := s(7); f != "" {
			e.Fields = strings.Split(f, ",")
		}
		return audit.LeafData(&e), nil
	})
}

// IDs returns a subject id codec under a fixed key, for the stores tests
// open (sqlite.Options.IDs).
func IDs() *subjectid.Codec {
	c, err := subjectid.New(make([]byte, 32))
	if err != nil {
		panic(err)
	}
	return c
}
