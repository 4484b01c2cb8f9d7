package breach

import (
	"encoding/json"
	"fmt"

	"github.com/coffre/coffre/internal/incident"
)

// LetterKind is the kind of the queued message that carries a [Letter] to
// one person (outbox channel person: the address is read from the record
// when it is sent).
const LetterKind = "breach-letter"

// LetterMessage is a queued letter's payload: the incident and the
// person's exposed fields, names only.
type LetterMessage struct {
	Incident string     `json:"incident"`
	Fields   []Exposure `json:"fields"`
}

// LetterKey is the idempotency key of incident's letter to subject: a
// second notify queues none.
func LetterKey(incident, subject string) string { return "breach-" + incident + "-" + subject }

// DecodeLetter reads a queued letter's payload.
func DecodeLetter(b []byte) (*LetterMessage, error) {
	var m LetterMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decode breach letter: %w", err)
	}
	if !incident.ValidID(m.Incident) || len(m.Fields) == 0 {
		return nil, fmt.Errorf("decode breach letter: no incident or no field")
	}
	for _, f := range m.Fields {
		if f.Field == "" || len(f.Field) > 64 {
			return nil, fmt.Errorf("decode breach letter: malformed field")
		}
	}
	return &m, nil
}
