package guard

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"sort"
)

// Visits are the subjects an operator read today, kept in its State so
// that every node sharing the store, and a restarted one, sees the same
// repeat visits (which cost no budget). A visit is visitLen bytes: the
// first 8 bytes of the SHA-256 of the subject's id, then the number of
// the hour of the latest read (hours since the epoch, modulo 2¹⁶: the
// visits are cleared every day). They are sorted by hash, so a lookup
// is a binary search in the stored bytes and nothing is decoded.
//
// A hash collision (odds about 2⁻⁶⁴ a pair) would make a new subject a
// repeat; subject ids are the server's, not the caller's choice.
const visitLen = 10

// maxVisits bounds the visits of one day (10 KiB): well above any
// reading budget of a person's day (the demo's largest is 250). Past it,
// the visits of earlier hours go, then all of them: stricter (repeats
// count again), never looser.
const maxVisits = 1024

func visitHash(subject string) []byte {
	h := sha256.Sum256([]byte(subject))
	return h[:8]
}

// find returns the index of the visit of hash h in vs, or where it would
// go, and whether it is there.
func findVisit(vs []byte, h []byte) (int, bool) {
	n := len(vs) / visitLen
	i := sort.Search(n, func(i int) bool { return bytes.Compare(vs[i*visitLen:i*visitLen+8], h) >= 0 })
	return i, i < n && bytes.Equal(vs[i*visitLen:i*visitLen+8], h)
}

// visited reports whether subject was read earlier this hour, and today
// (st rolled to hour's day).
func (st *State) visited(subject string, hour int64) (thisHour, today bool) {
	i, ok := findVisit(st.Visits, visitHash(subject))
	if !ok {
		return false, false
	}
	at := binary.BigEndian.Uint16(st.Visits[i*visitLen+8:])
	return at == uint16(hour), true
}

// visit records a read of subject in hour. It never writes into the
// bytes st.Visits held (they may be shared with the state passed to
// Decide, or with the store's copy).
func (st *State) visit(subject string, hour int64) {
	h := visitHash(subject)
	i, ok := findVisit(st.Visits, h)
	if ok {
		vs := bytes.Clone(st.Visits)
		binary.BigEndian.PutUint16(vs[i*visitLen+8:], uint16(hour))
		st.Visits = vs
		return
	}
	old := st.Visits
	if len(old)/visitLen >= maxVisits {
		old = visitsOf(old, uint16(hour))
		if len(old)/visitLen >= maxVisits/2 {
			old = nil
		}
		i, _ = findVisit(old, h)
	}
	vs := make([]byte, 0, len(old)+visitLen)
	vs = append(vs, old[:i*visitLen]...)
	vs = append(vs, h...)
	vs = binary.BigEndian.AppendUint16(vs, uint16(hour))
	st.Visits = append(vs, old[i*visitLen:]...)
}

// visitsOf returns the visits of hour, in order, in new bytes.
func visitsOf(vs []byte, hour uint16) []byte {
	var out []byte
	for i := 0; i+visitLen <= len(vs); i += visitLen {
		if binary.BigEndian.Uint16(vs[i+8:]) == hour {
			out = append(out, vs[i:i+visitLen]...)
		}
	}
	return out
}

// validVisits reports whether b is a well-formed list of visits: whole
// records, hashes strictly ascending, at most maxVisits.
func validVisits(b []byte) bool {
	if len(b)%visitLen != 0 || len(b)/visitLen > maxVisits {
		return false
	}
	for i := visitLen; i < len(b); i += visitLen {
		if bytes.Compare(b[i-visitLen:i-visitLen+8], b[i:i+8]) >= 0 {
			return false
		}
	}
	return true
}

// NoteValue notes a lookup of a value whose order key is key (the first
// bytes of the normalised value), after the previous one's, prev (ok
// false: none known), and returns the length of the run of strictly
// ascending or descending keys it ends. The caller keeps prev sealed in
// ValueLast: it derives from a personal value, and the state is stored.
func (st *State) NoteValue(prev uint64, ok bool, key uint64) int {
	st.ValueRun = run(st.ValueRun, prev, key, ok)
	return abs(st.ValueRun)
}
