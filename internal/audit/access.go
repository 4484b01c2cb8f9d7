package audit

import (
	"encoding/binary"
	"strconv"
	"time"
)

// Access is what a stored leaf says of the access it records, read
// without decoding the rest ([LeafAccess]): when, what, about whom, for
// which purpose, and the decision.
type Access struct {
	Time                               time.Time
	Action, Subject, Purpose, Decision string
}

// LeafAccess returns the access a stored leaf (LeafData, v1 or v2)
// records, for the paths that read every leaf (the integrator, a
// retention sweep's look at the entries not integrated yet). Like
// [LeafSubject] it does not check the leaf is canonical.
func LeafAccess(leaf []byte) (Access, error) {
	var a Access
	if len(leaf) < len(leafPrefix) || string(leaf[:len(leafPrefix)]) != leafPrefix && string(leaf[:len(leafPrefix)]) != leafPrefixV2 {
		return a, ErrBadLeaf
	}
	b := leaf[len(leafPrefix):]
	// seq, time, actor, action, subject, purpose, reason, fields, decision
	for i := 0; i <= 8; i++ {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return Access{}, ErrBadLeaf
		}
		v := b[k : k+int(n)]
		switch i {
		case 1:
			us, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil {
				return Access{}, ErrBadLeaf
			}
			a.Time = time.UnixMicro(us).UTC()
		case 3:
			a.Action = string(v)
		case 4:
			a.Subject = string(v)
		case 5:
			a.Purpose = string(v)
		case 8:
			a.Decision = string(v)
		}
		b = b[k+int(n):]
	}
	return a, nil
}
