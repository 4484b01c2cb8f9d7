// Package event names the lines of the server's log that operators alert
// on: each carries a stable code in its "event" attribute, so that a log
// shipper or a SIEM can match it whatever the message's words become.
// Catalogue lists them all, with what each means and what to do;
// docs/events.md is its Markdown (TestCatalogueDoc). Like every log line,
// an event names ids, never a person's data.
package event

import (
	"fmt"
	"strings"
)

// The events.
const (
	GuardLock             = "guard.lock"
	AuditIntegratorFailed = "audit.integrator_failed"
	AuditLagging          = "audit.lagging"
	AuditWitnessFailed    = "audit.witness_failed"
	AuditStreamFailing    = "audit.stream_failing"
	AuditStreamRecovered  = "audit.stream_recovered"
	Seal                  = "seal"
	SealFlagMoved         = "seal.flag_moved"
	SealedStart           = "seal.sealed_start"
	UnsealFailed          = "seal.unseal_failed"
	HSMUnsealFailed       = "seal.hsm_failed"
	StorePanic            = "store.panic"
	RequestFailed         = "http.request_failed"
	NotReady              = "ready.failing"
	DeliveryFailed        = "delivery.failed"
	DeliveryNotRecorded   = "delivery.not_recorded"
	TracingExportFailed   = "tracing.export_failed"
)

// Event is one entry of the catalogue.
type Event struct {
	Code, Level, Means, Do string
}

// Catalogue is every event, in the order docs/events.md lists them.
var Catalogue = []Event{
	{GuardLock, "WARN", "the guard locked an operator's account (attribute operator: its id; code: the detector); its sessions are revoked and an alert is queued to the security officers", "look at the alert's evidence (GET /v1/alerts); unlock with POST /v1/operators/{id}/unlock once explained"},
	{AuditIntegratorFailed, "ERROR", "a step of the audit integrator failed: new entries are not yet in a signed checkpoint", "read the error; reads go on, audited; /readyz fails once the lag passes audit.max_lag"},
	{AuditLagging, "WARN", "/readyz found the audit integrator further behind than audit.max_lag: the node answers 503 audit_lagging", "see audit.integrator_failed lines; check the store's health"},
	{AuditWitnessFailed, "WARN", "a witness (audit.witnesses) did not take a new checkpoint", "check the witness's address and service; the next checkpoint is sent again"},
	{AuditStreamFailing, "WARN", "the audit stream to a sink (attribute sink) fails and is retried: the SOC is not receiving entries; reads go on, /readyz warns, coffre_audit_stream_lag_entries grows", "check the receiver and the network; the stream resumes from its cursor by itself"},
	{AuditStreamRecovered, "INFO", "the audit stream to a sink works again (attribute down: how long it failed)", "nothing: it sends what the sink missed"},
	{Seal, "WARN", "the vault was sealed (by an operator, an incident's containment or a quorum of share holders): every data route answers 503", "unseal with the share holders when the cause is dealt with (coffre unseal)"},
	{SealFlagMoved, "WARN", "another node (or this one) sealed the deployment: this node sealed itself", "unseal each node with its shares"},
	{SealedStart, "WARN", "the server started sealed: no data is served until M share holders unseal it", "run coffre unseal, one holder a call"},
	{UnsealFailed, "ERROR", "the shares entered did not open the keyring", "check the holders' shares (a wrong or old share); start again with coffre unseal --reset"},
	{HSMUnsealFailed, "WARN", "the HSM did not unseal the server at start: it stays sealed", "check the token and its PIN; the shares still unseal it"},
	{StorePanic, "ERROR", "a transaction function panicked (a bug): its writes were rolled back, its caller answered 500, the others went on", "report it with the stack in the line"},
	{RequestFailed, "ERROR", "a request was answered 500 or 503 (attributes route, status, error: the cause)", "a run of them: see the store's health (/readyz) and the cause"},
	{NotReady, "WARN", "/readyz answered 503: the store cannot be reached or written", "check the database server, the disk and the network; ready again at the next good write"},
	{DeliveryFailed, "WARN", "a message (an alert, a notice) was not delivered and will be retried (attribute next)", "a run of them: check the SMTP server, the webhook or the SMS gateway"},
	{DeliveryNotRecorded, "WARN", "the outcomes of sent messages could not be recorded: they may be sent again", "check the store's health"},
	{TracingExportFailed, "WARN", "the OpenTelemetry collector (tracing.endpoint) did not take a batch of spans: they are dropped, and so are the next ones until it does (logged once a run of failures); requests are not held back", "check the collector's address and service; the traces resume by themselves"},
}

// Markdown is the catalogue as docs/events.md holds it.
func Markdown() string {
	var b strings.Builder
	b.WriteString("# Log events\n\nGenerated from package internal/event (`go test ./internal/event -update`): do not edit.\n\n")
	b.WriteString("The lines of the server's log that operators alert on carry a stable code in their `event`\n")
	b.WriteString("attribute (`event=guard.lock` in the text log, `\"event\":\"guard.lock\"` with `log_format: json`).\n")
	b.WriteString("They name ids only, never a person's data.\n\n")
	b.WriteString("| event | level | what it means | what to do |\n| --- | --- | --- | --- |\n")
	for _, e := range Catalogue {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", e.Code, e.Level, e.Means, e.Do)
	}
	return b.String()
}
