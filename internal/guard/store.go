package guard

import (
	"context"
	"encoding/json"
	"time"

	"github.com/coffre/coffre/internal/outbox"
)

// Store is what the guard keeps in the store, in the access's own
// transaction. Methods report the store's ErrNotFound and ErrConflict
// (package store) wrapped.
type Store interface {
	States
	Caseloads
	Alerts
	Extensions
}

// States holds what a decision reads and writes: per-operator state and
// canaries.
type States interface {
	// GetGuard returns an operator's guard state (the zero State if
	// none); ErrCorrupt, wrapped, for stored bytes that do not decode.
	GetGuard(ctx context.Context, operator string) (State, error)
	// PutGuard stores st. The store may keep it as given (the SQLite
	// writer keeps states decoded between groups, and writes each once a
	// group): the caller must not write into its slices afterwards.
	// Decide and State's methods never do; they make new ones.
	PutGuard(ctx context.Context, operator string, st State) error
	// GetCanary returns the partner a canary subject is bound to ("" for
	// none); ErrNotFound when subject is no canary.
	GetCanary(ctx context.Context, subject string) (string, error)
	// PutCanary makes an existing subject a canary (GetSubject reports it
	// in subject.Row.Canary); ErrNotFound if there is no such subject,
	// ErrConflict if it is one already.
	PutCanary(ctx context.Context, subject, partner string, at time.Time) error
}

// Caseloads holds the assignments of subjects to operators: the people an
// operator reads at no out-of-caseload cost. An assignment has an end,
// until (the zero time: none); at or after it the assignment no longer
// counts, though its row may stay. Subjects are named by id.
type Caseloads interface {
	// InCaseload reports whether subject is assigned to operator at at.
	InCaseload(ctx context.Context, operator, subject string, at time.Time) (bool, error)
	// CaseloadUntil returns the end of subject's assignment to operator
	// (zero: none), expired or not; ErrNotFound if there is none.
	CaseloadUntil(ctx context.Context, operator, subject string) (time.Time, error)
	// AssignCaseload assigns subjects to operator until until; a subject
	// assigned already takes the new end. Duplicates in subjects are
	// harmless.
	AssignCaseload(ctx context.Context, operator string, subjects []string, until time.Time) error
	// RemoveCaseload ends subjects' assignments to operator (the rows go)
	// and returns how many there were, expired ones included.
	RemoveCaseload(ctx context.Context, operator string, subjects []string) (int, error)
	// PruneCaseload removes operator's assignments of every subject not in
	// keep and returns how many it removed.
	PruneCaseload(ctx context.Context, operator string, keep []string) (int, error)
	// CountCaseload returns how many subjects are assigned to operator at
	// at.
	CountCaseload(ctx context.Context, operator string, at time.Time) (int, error)
}

// Alerts holds the alerts raised for the security officers.
type Alerts interface {
	// PutAlert stores a and sets a.ID.
	PutAlert(ctx context.Context, a *Alert) error
	// Alerts returns alerts with ID > after, oldest first, at most limit.
	Alerts(ctx context.Context, after int64, limit int) ([]Alert, error)
	// SequencedAlerts returns the alerts raised with the audit entries
	// from up to to (exclusive; see [Alert.Seq]), in the order of their
	// entries, then of their ids.
	SequencedAlerts(ctx context.Context, from, to int64) ([]Alert, error)
}

// Extensions holds requests to read beyond the budgets.
type Extensions interface {
	// PutExtension stores a budget extension request; ErrConflict if the id
	// exists.
	PutExtension(ctx context.Context, e *Extension) error
	GetExtension(ctx context.Context, id string) (*Extension, error)
	// ApproveExtension marks a pending request approved; ErrConflict if it
	// was approved already, ErrNotFound if there is none.
	ApproveExtension(ctx context.Context, id, by string, at time.Time) error
	// FirstApproval records the first of two approvals of a pending
	// request; ErrConflict if it has one already or is approved,
	// ErrNotFound if there is none.
	FirstApproval(ctx context.Context, id, by string) error
	// PendingExtensions returns the requests of unit not approved yet,
	// oldest first, at most limit.
	PendingExtensions(ctx context.Context, unit string, limit int) ([]Extension, error)
}

// Alert is a guard alert for the security officers.
type Alert struct {
	ID       int64     `json:"id"`
	Time     time.Time `json:"time"`
	Operator string    `json:"operator"`
	Code     string    `json:"code"`     // the detector's reason code
	Severity string    `json:"severity"` // critical, high, warning
	Action   string    `json:"action"`   // lock, alert, unlock
	// Evidence lists the audit sequence numbers of the accesses behind it.
	Evidence []int64 `json:"evidence"`
}

// Seq is the audit entry the alert is raised with: the access that
// raised it, the last of its evidence, written in the same transaction
// (0: none). The audit stream sends the alert after that entry.
func (a *Alert) Seq() int64 {
	var seq int64
	for _, s := range a.Evidence {
		seq = max(seq, s)
	}
	return seq
}

// Extension is a request to read beyond the budgets, and its approval.
type Extension struct {
	ID         string    `json:"id"`
	Operator   string    `json:"operator"`
	Unit       string    `json:"unit"`
	Subjects   int       `json:"subjects"`
	Hours      int       `json:"hours"`
	Reason     string    `json:"reason"`
	Created    time.Time `json:"created"`
	ApprovedBy string    `json:"approved_by,omitempty"`
	ApprovedAt time.Time `json:"approved_at,omitzero"`
	// FirstApprover approved an extension that needs two approvers;
	// ApprovedBy is then the second.
	FirstApprover string `json:"first_approver,omitempty"`
}

// Alerter is what raising an alert takes: the alerts, and the outbox
// that delivers them.
type Alerter interface {
	Alerts
	outbox.Queue
}

// RaiseAlert stores an alert for the security officers and queues it for
// delivery (email, webhook), in the caller's transaction.
func RaiseAlert(ctx context.Context, tx Alerter, al *Alert) error {
	if err := tx.PutAlert(ctx, al); err != nil {
		return err
	}
	payload, err := json.Marshal(al)
	if err != nil {
		return err
	}
	return tx.PutOutbox(ctx, "alert", payload, al.Time)
}
