package deliver

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/outbox"
)

// alertOf decodes a message's alert. It holds ids only: the operator's
// id, the detector's code, the audit entries' numbers.
func alertOf(m outbox.Message) (guard.Alert, error) {
	var al guard.Alert
	if m.Kind != "alert" {
		return al, &Error{Class: "unknown kind", Permanent: true}
	}
	if err := json.Unmarshal(m.Payload, &al); err != nil {
		return al, &Error{Class: "bad payload", Permanent: true}
	}
	return al, nil
}

func evidence(al guard.Alert) string {
	if len(al.Evidence) == 0 {
		return "none"
	}
	s := make([]string, len(al.Evidence))
	for i, e := range al.Evidence {
		s[i] = strconv.FormatInt(e, 10)
	}
	return strings.Join(s, ", ")
}

// emailText is an alert's subject and plain-text body.
func emailText(al guard.Alert) (subject, body string) {
	subject = fmt.Sprintf("[Coffre] %s alert: %s of operator %s (%s)", al.Severity, al.Action, al.Operator, al.Code)
	var b strings.Builder
	fmt.Fprintf(&b, "Coffre's guard raised alert %d.\n\n", al.ID)
	fmt.Fprintf(&b, "Time:      %s\n", al.Time.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "Operator:  %s (id)\n", al.Operator)
	fmt.Fprintf(&b, "Code:      %s\n", al.Code)
	fmt.Fprintf(&b, "Severity:  %s\n", al.Severity)
	fmt.Fprintf(&b, "Action:    %s\n", al.Action)
	fmt.Fprintf(&b, "Evidence:  audit entries %s\n\n", evidence(al))
	b.WriteString("Review the evidence in the audit log (GET /v1/alerts, GET /v1/audit/entries).\n")
	if al.Action == "lock" {
		b.WriteString("The account stays locked until a security officer unlocks it (POST /v1/operators/{id}/unlock).\n")
	}
	b.WriteString("\nThis message names ids only. It asks for no credentials: never sign in through a link in an email.\n")
	return subject, b.String()
}

// smsText is an alert in one short line.
func smsText(al guard.Alert) string {
	return fmt.Sprintf("Coffre %s alert %d: %s of operator %s (%s), audit entries %s.", al.Severity, al.ID, al.Action, al.Operator, al.Code, evidence(al))
}

// webhookBody is the JSON a webhook receives for an alert.
func webhookBody(m outbox.Message, al guard.Alert) ([]byte, error) {
	return json.Marshal(struct {
		Event string      `json:"event"`
		Key   string      `json:"idempotency_key"`
		Alert guard.Alert `json:"alert"`
	}{m.Kind, m.Key, al})
}
