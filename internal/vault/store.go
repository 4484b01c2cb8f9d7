package vault

import (
	"context"
	"errors"
	"github.com/coffre/coffre/internal/audit"
	"time"
)

// Errors a store returns; callers branch on them with errors.Is.
var (
	// ErrNotFound: no such subject, operator, session or index entry.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique value (blind index, username, id) exists.
	ErrConflict = errors.New("conflict")
	// ErrPanic: the function given to Update or View panicked. The store
	// recovered: it rolled back that function's writes alone (the others
	// of its group commit), logged the panic's type and stack, and keeps
	// serving. The caller answers an internal error; the function is not
	// run again.
	ErrPanic = errors.New("transaction function panicked")
)

// Store is the persistence the core needs. Implementations: package
// store/sqlite (embedded default); PostgreSQL later. The conformance suite in
// package store/storetest states the contract.
type Store interface {
	// Update runs fn in a read-write transaction and returns once the
	// transaction is durable, or fn's error. A store may commit several
	// Update calls in one transaction (group commit); each fn is still
	// atomic: when it returns an error, none of its writes survive, and the
	// others in the group are unaffected. fn may be run more than once
	// (a store retries a group in which a function failed); only the run
	// whose transaction commits counts, so fn must set its results afresh
	// on each run. Should fn panic, Update returns an error wrapping
	// ErrPanic, and the group's other functions are unaffected.
	Update(ctx context.Context, fn func(context.Context, Tx) error) error
	// View runs fn read-only. Each read sees committed data; a View of
	// several reads is not guaranteed one snapshot. Should fn panic, View
	// returns an error wrapping ErrPanic.
	View(ctx context.Context, fn func(context.Context, Tx) error) error
	// NewSubjectIDs returns n ids for subjects about to be made, in
	// creation order (see package subjectid). An id is never handed out
	// twice, even to another process on the same database; one never
	// written is a gap. It may write (a reservation), so it is called
	// before Update, never inside one.
	NewSubjectIDs(ctx context.Context, n int) ([]string, error)
	Close() error
}

// Tx is what a transaction offers. Methods report ErrNotFound and
// ErrConflict wrapped.
type Tx interface {
	Subjects
	Indexes
	AuditLog
	Operators
	Sessions
	Checkpoints
	Guards
	Factors
	Partners
}

// Partners holds partner organisations and the sector pseudonyms they
// were given.
type Partners interface {
	// PutPartner stores a partner (its operator row must exist);
	// ErrConflict if the id, name or key exists.
	PutPartner(ctx context.Context, p *Partner) error
	GetPartner(ctx context.Context, id string) (*Partner, error)
	GetPartnerByName(ctx context.Context, name string) (*Partner, error)
	// GetPartnerByKey finds the partner of an API key hash.
	GetPartnerByKey(ctx context.Context, keyHash []byte) (*Partner, error)
	// SetPartnerCredentials replaces a partner's key hash and certificate
	// serial; ErrNotFound if there is no such partner.
	SetPartnerCredentials(ctx context.Context, id string, keyHash []byte, serial string) error
	// PutPseudonym records that pseudonym stands for subject in sector
	// (recording it again is no error).
	PutPseudonym(ctx context.Context, sector, pseudonym, subject string) error
	// ResolvePseudonym returns the subject of a pseudonym in sector, or
	// ErrNotFound.
	ResolvePseudonym(ctx context.Context, sector, pseudonym string) (string, error)
}

// Partner is a partner organisation.
type Partner struct {
	ID         string // its operator row's id
	Name       string
	Sector     string
	KeyHash    []byte
	CertSerial string // the only client certificate serial accepted
	Created    time.Time
}

// Factors holds operators' second factors and login-failure counts.
type Factors interface {
	// PutWebAuthn stores a credential; ErrConflict if its id exists.
	PutWebAuthn(ctx context.Context, c *WebAuthnCredential) error
	// WebAuthnCredentials returns an operator's credentials, oldest first.
	WebAuthnCredentials(ctx context.Context, operator string) ([]WebAuthnCredential, error)
	// UpdateWebAuthn records a use: the new credential record, sign count
	// and time; ErrNotFound if there is no such credential.
	UpdateWebAuthn(ctx context.Context, id, credential []byte, signCount uint32, at time.Time) error
	// DeleteWebAuthn removes one of an operator's credentials; ErrNotFound
	// if the operator has no such credential.
	DeleteWebAuthn(ctx context.Context, operator string, id []byte) error
	// PutRecoveryCodes replaces an operator's recovery codes (hashes).
	PutRecoveryCodes(ctx context.Context, operator string, hashes [][]byte) error
	// UseRecoveryCode marks an unused code of the operator used and reports
	// whether there was one.
	UseRecoveryCode(ctx context.Context, operator string, hash []byte) (bool, error)
	// CountRecoveryCodes returns how many unused codes the operator has.
	CountRecoveryCodes(ctx context.Context, operator string) (int, error)
	// LoginFailure counts a failed login of an operator at at: the count
	// restarts when its first failure is older than window. It returns the
	// count; ErrNotFound if there is no such operator.
	LoginFailure(ctx context.Context, id string, at time.Time, window time.Duration) (int, error)
	// ResetLoginFailures clears the count (a successful login).
	ResetLoginFailures(ctx context.Context, id string) error
}

// WebAuthnCredential is a registered security key.
type WebAuthnCredential struct {
	ID         []byte
	Operator   string
	Name       string
	Credential []byte // the WebAuthn library's credential record, JSON
	SignCount  uint32
	Created    time.Time
	LastUsed   time.Time
}

// Guards holds what the guard keeps: per-operator state, caseloads,
// canaries, locks, alerts and budget extensions.
type Guards interface {
	// GetGuard returns an operator's marshalled guard state (nil if none).
	GetGuard(ctx context.Context, operator string) ([]byte, error)
	PutGuard(ctx context.Context, operator string, state []byte) error
	// InCaseload reports whether subject is assigned to operator.
	InCaseload(ctx context.Context, operator, subject string) (bool, error)
	// AssignCaseload assigns subjects to operator (already assigned ones
	// are kept).
	AssignCaseload(ctx context.Context, operator string, subjects []string) error
	// GetCanary returns the partner a canary subject is bound to ("" for
	// none); ErrNotFound when subject is no canary.
	GetCanary(ctx context.Context, subject string) (string, error)
	// PutCanary makes an existing subject a canary (GetSubject reports it
	// in SubjectRow.Canary); ErrNotFound if there is no such subject,
	// ErrConflict if it is one already.
	PutCanary(ctx context.Context, subject, partner string, at time.Time) error
	// LockOperator sets (code != "") or clears (code == "") an operator's
	// lock; ErrNotFound if there is no such operator.
	LockOperator(ctx context.Context, id, code string, at time.Time) error
	// PutAlert stores a and sets a.ID.
	PutAlert(ctx context.Context, a *Alert) error
	// Alerts returns alerts with ID > after, oldest first, at most limit.
	Alerts(ctx context.Context, after int64, limit int) ([]Alert, error)
	// PutOutbox queues a message for delivery.
	PutOutbox(ctx context.Context, kind string, payload []byte, at time.Time) error
	// PutExtension stores a budget extension request; ErrConflict if the id
	// exists.
	PutExtension(ctx context.Context, e *Extension) error
	GetExtension(ctx context.Context, id string) (*Extension, error)
	// ApproveExtension marks a pending request approved; ErrConflict if it
	// was approved already, ErrNotFound if there is none.
	ApproveExtension(ctx context.Context, id, by string, at time.Time) error
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
}

// Checkpoints holds the audit log's signed tree heads.
type Checkpoints interface {
	// PutCheckpoint stores a checkpoint; ErrConflict if its size exists.
	PutCheckpoint(ctx context.Context, c *StoredCheckpoint) error
	// LatestCheckpoint returns the largest, without its Leaves (which only
	// the verifier reads, through CheckpointsAfter); ErrNotFound if none.
	LatestCheckpoint(ctx context.Context) (*StoredCheckpoint, error)
	// CheckpointsAfter returns checkpoints with Size > after, by size, at
	// most limit.
	CheckpointsAfter(ctx context.Context, after uint64, limit int) ([]StoredCheckpoint, error)
	// PutTiles stores tiles, replacing those with the same ID (a partial
	// tile grows).
	PutTiles(ctx context.Context, tiles []audit.Tile) error
	// GetTiles returns the tiles that exist among ids.
	GetTiles(ctx context.Context, ids []audit.TileID) (map[audit.TileID]audit.Tile, error)
}

// Subjects holds the encrypted records.
type Subjects interface {
	// PutSubject inserts a new subject; ErrConflict if the id exists.
	PutSubject(ctx context.Context, s *SubjectRow) error
	// ReplaceSubject overwrites an existing subject's unit, DEK and fields.
	ReplaceSubject(ctx context.Context, s *SubjectRow) error
	// GetSubject returns the subject; an erased one is returned with
	// Erased set and no key or fields.
	GetSubject(ctx context.Context, id string) (*SubjectRow, error)
	// EraseSubject destroys the wrapped DEK and the field ciphertexts,
	// keeping a tombstone (id, unit, erased time).
	EraseSubject(ctx context.Context, id string, at time.Time) error
}

// Indexes holds blind index entries: keyed hash → subject id.
type Indexes interface {
	// PutIndex adds an entry; ErrConflict if the hash is taken.
	PutIndex(ctx context.Context, hash []byte, subject string) error
	// LookupIndex returns the subject of an exact hash, or ErrNotFound.
	LookupIndex(ctx context.Context, hash []byte) (string, error)
	// DeleteIndex removes an entry; removing an absent one is no error.
	// (There is deliberately no index by subject: the vault recomputes a
	// subject's hashes from its fields, which keeps imports to one random
	// B-tree insert per lookup value.)
	DeleteIndex(ctx context.Context, hash []byte) error
}

// AuditLog is the append-only sequence of audit entries.
type AuditLog interface {
	// AppendAudit assigns e.Seq (1, 2, 3… with no gaps) and stores e.
	AppendAudit(ctx context.Context, e *AuditEntry) error
	// AuditEntries returns entries with from ≤ Seq < to, in order, at most
	// limit of them.
	AuditEntries(ctx context.Context, from, to int64, limit int) ([]AuditEntry, error)
	// AuditLeaves calls fn with the sequence number and the stored leaf
	// (audit.LeafData) of each entry with from ≤ Seq < to, in order; leaf
	// is only valid during the call. The verifier's path: no decoding.
	AuditLeaves(ctx context.Context, from, to int64, fn func(seq int64, leaf []byte) error) error
	// LastAuditSeq returns the Seq of the last entry (0 if none).
	LastAuditSeq(ctx context.Context) (int64, error)
	// SubjectAudit returns the entries about one subject, newest first, at
	// most limit.
	SubjectAudit(ctx context.Context, subject string, limit int) ([]AuditEntry, error)
}

// Operators holds staff accounts.
type Operators interface {
	// PutOperator inserts; ErrConflict if the id or username exists.
	PutOperator(ctx context.Context, o *Operator) error
	GetOperator(ctx context.Context, id string) (*Operator, error)
	GetOperatorByName(ctx context.Context, username string) (*Operator, error)
	// AdvanceTOTP records step as the operator's last accepted TOTP step
	// if it is greater than the stored one, and reports whether it was.
	AdvanceTOTP(ctx context.Context, id string, step int64) (bool, error)
	// CountOperators returns how many operators exist.
	CountOperators(ctx context.Context) (int, error)
	// SetOperatorRole changes an operator's role and unit; ErrNotFound if
	// there is no such operator.
	SetOperatorRole(ctx context.Context, id, role, unit string) error
}

// Sessions holds login challenges and sessions, by token hash.
type Sessions interface {
	PutSession(ctx context.Context, s *Session) error
	// GetSession returns the session with its operator's current role,
	// unit and state.
	GetSession(ctx context.Context, hash []byte) (*Session, error)
	// TouchSession sets last_seen; it adds 1 to attempts when attempt is set.
	TouchSession(ctx context.Context, hash []byte, lastSeen time.Time, attempt bool) error
	DeleteSession(ctx context.Context, hash []byte) error
	// DeleteOperatorSessions removes every session of an operator.
	DeleteOperatorSessions(ctx context.Context, operator string) error
	// DeleteAllSessions removes every session except those of operator
	// except ("" for none) and returns how many it removed.
	DeleteAllSessions(ctx context.Context, except string) (int, error)
	// OperatorSessions returns an operator's sessions (not login
	// challenges), newest first.
	OperatorSessions(ctx context.Context, operator string) ([]Session, error)
	// SetChallenge keeps a WebAuthn ceremony's state on a session or login
	// row (nil clears it).
	SetChallenge(ctx context.Context, hash, challenge []byte) error
	// StepUp records a fresh second factor on a session and binds it to
	// origin and user agent.
	StepUp(ctx context.Context, hash []byte, at time.Time, factor, origin, userAgent string) error
}

// SubjectRow is a subject as stored: ciphertext only.
type SubjectRow struct {
	ID         string
	Seq        int64 // creation order, set by the store
	Unit       string
	DEK        []byte // wrapped by the KEK; nil once erased
	DEKVersion uint32
	Fields     []byte // the sealed fields, see encodeFields
	Created    time.Time
	Updated    time.Time
	Erased     bool
	Canary     bool // a canary subject (see Guards.PutCanary)
}

// AuditEntry is one access or change; see package audit.
type AuditEntry = audit.Entry

// StoredCheckpoint is a signed tree head with what the integrator needs to
// go on from it and the verifier needs to name a bad entry.
type StoredCheckpoint struct {
	Size    uint64   // leaves (entries) covered
	Root    []byte   // RFC 6962 root hash
	Note    []byte   // the signed note
	Range   [][]byte // compact range hashes of the tree at Size
	Leaves  []byte   // leaf hashes (32 bytes each) of the entries added since the previous checkpoint
	Created time.Time
}

// Operator is a staff account.
type Operator struct {
	ID           string
	Username     string
	PasswordHash string // argon2id, PHC string format
	TOTPSecret   []byte // sealed by the keyring, bound to ID
	TOTPStep     int64  // last accepted step
	Role         string
	Unit         string
	Created      time.Time
	Disabled     bool
	Locked       string // the guard's reason code; "" when not locked
	LockedAt     time.Time
	// Failures counts failed logins since FailuresSince.
	Failures      int
	FailuresSince time.Time
}

// SessionKind tells a half-done login from a session.
type SessionKind string

// The kinds of session row.
const (
	KindLogin   SessionKind = "login"   // password checked, second factor pending
	KindSession SessionKind = "session" // fully authenticated
)

// Session is a login challenge or a session. Only the token's hash is stored.
type Session struct {
	Hash     []byte
	Kind     SessionKind
	Operator string
	Created  time.Time
	LastSeen time.Time
	Expires  time.Time // absolute expiry
	Attempts int       // failed second-factor attempts (login kind)
	Origin   string
	// UserAgent is the client's User-Agent; with Origin, what the session
	// is bound to.
	UserAgent string
	// Challenge is the state of a WebAuthn ceremony in progress.
	Challenge []byte
	// SteppedUp is when a second factor was last proved in this session
	// (the login's, then each step-up), and StepFactor which one.
	SteppedUp  time.Time
	StepFactor string

	// From the operator, filled by GetSession.
	Role     string
	Unit     string
	Disabled bool
	Locked   string
}

// BulkTx is an optional interface of a Tx for the bulk import: several rows
// per statement. The import uses it when the Tx has it, and the one-row
// methods otherwise.
type BulkTx interface {
	// PutIndexes adds entries (hashes[i] → subjects[i]), fastest in hash
	// order; if any hash is taken, or repeated, it adds none and returns
	// ErrConflict.
	PutIndexes(ctx context.Context, hashes [][]byte, subjects []string) error
	// PutSubjects inserts new subjects; ErrConflict if an id exists, in
	// which case some of rows may have been written: the caller fails its
	// transaction.
	PutSubjects(ctx context.Context, rows []*SubjectRow) error
}
