// Package vault is Coffre's core: person records encrypted at rest under a
// key per subject, reached one at a time for a declared purpose, every
// access audited in the same transaction as the read.
//
// # The read path
//
//	policy (role ∋ purpose) ─► one store transaction { ciphertext + wrapped DEK; audit entry }
//	─► unwrap DEK, open the fields the purpose shows, and only those ─► mask ─► View
//
// The audit entry is durable before Read returns anything: a read whose
// entry cannot be written returns [ErrUnavailable] and no data. Denied
// attempts are audited as well.
//
// There is no method that returns more than one subject: no listing, no
// prefix or range lookup. [Vault.Lookup] finds one subject by the exact
// value of a field with a blind index.
package vault

import (
	"context"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/mask"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/subjectid"
	"github.com/coffre/coffre/internal/value"
)

// Errors callers branch on (besides ErrNotFound and ErrConflict).
var (
	// ErrForbidden: the role may not declare the purpose, or lacks the
	// permission for the action.
	ErrForbidden = errors.New("forbidden")
	// ErrInvalid: the input is malformed; the error says which part.
	ErrInvalid = errors.New("invalid input")
	// ErrReasonRequired: the purpose requires a Coffre-Reason.
	ErrReasonRequired = errors.New("reason required")
	// ErrUnavailable: the store (and so the audit log) could not be
	// written; nothing was returned or changed.
	ErrUnavailable = errors.New("audit log unavailable")
	// ErrStepUpRequired: the purpose needs a fresh second factor in this
	// session (or a hardware key's).
	ErrStepUpRequired = errors.New("step-up required")
)

// Vault is the core service. It is safe for concurrent use.
type Vault struct {
	store     Store
	keys      *envelope.Keyring
	pol       *policy.Policy
	now       func() time.Time
	log       *slog.Logger
	reasonMax int
	visible   map[string][]string // purpose → fields it shows, schema order
	byName    []policy.Field      // the schema's fields sorted by name (the sealed blob's order)
	guard     *Guard
	memo      *guard.Memo
	stepUpFor time.Duration
}

// Config wires a Vault. Store, Keys and Policy are required.
type Config struct {
	Store  Store
	Keys   *envelope.Keyring
	Policy *policy.Policy
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives ids and error causes, never personal values
	// (default slog.Default()).
	Logger *slog.Logger
	// ReasonMaxLen caps Coffre-Reason in bytes (default 200).
	ReasonMaxLen int
	// Guard enables budgets and detectors (nil: no guard).
	Guard *Guard
	// StepUpFor is how long a proved second factor is fresh for purposes
	// that require a step-up (default 5 minutes).
	StepUpFor time.Duration
}

// New returns a Vault.
func New(c Config) *Vault {
	v := &Vault{store: c.Store, keys: c.Keys, pol: c.Policy, now: c.Now, log: c.Logger, reasonMax: c.ReasonMaxLen, visible: map[string][]string{}, guard: c.Guard, memo: &guard.Memo{}, stepUpFor: c.StepUpFor}
	if v.stepUpFor <= 0 {
		v.stepUpFor = 5 * time.Minute
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.log == nil {
		v.log = slog.Default()
	}
	if v.reasonMax <= 0 {
		v.reasonMax = 200
	}
	for name, pu := range c.Policy.Purposes {
		v.visible[name] = c.Policy.VisibleFields(pu)
	}
	v.byName = slices.SortedFunc(slices.Values(c.Policy.Fields), func(a, b policy.Field) int { return strings.Compare(a.Name, b.Name) })
	return v
}

// Actor is who asks: an authenticated operator and where they ask from.
type Actor struct {
	ID     string // operator id
	Role   string
	Unit   string
	Origin string // client address
	// SteppedUp is when the session last proved a second factor, and
	// StepFactor which (purposes may require a fresh one).
	SteppedUp  time.Time
	StepFactor string
	// Sector is set for a partner organisation's client: it names subjects
	// by the sector's pseudonyms, never by their ids.
	Sector string
}

// View is one subject's record as a purpose shows it.
type View struct {
	ID      string            `json:"id"`
	Unit    string            `json:"unit"`
	Purpose string            `json:"purpose"`
	Fields  map[string]string `json:"fields"`
	// Masked lists the fields shown masked.
	Masked []string `json:"masked"`
	// AuditSeq is the sequence number of the audit entry of this read.
	AuditSeq int64 `json:"audit_seq"`
}

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// ValidSubjectID reports whether id has the form of a subject id.
func ValidSubjectID(id string) bool { return subjectid.Valid(id) }

// newSubjectIDs asks the store for n new subject ids.
func (v *Vault) newSubjectIDs(ctx context.Context, n int) ([]string, error) {
	ids, err := v.store.NewSubjectIDs(ctx, n)
	if err != nil {
		return nil, unavailable(fmt.Errorf("new subject ids: %w", err))
	}
	return ids, nil
}

// ValidUnit reports whether u is a well-formed unit code.
func ValidUnit(u string) bool {
	if len(u) == 0 || len(u) > 64 {
		return false
	}
	for _, c := range u {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func (v *Vault) can(a Actor, p policy.Permission) error {
	r, err := v.pol.Role(a.Role)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrForbidden, err)
	}
	if !r.Has(p) {
		return fmt.Errorf("%w: role %q lacks permission %q", ErrForbidden, a.Role, p)
	}
	return nil
}

func (v *Vault) purpose(a Actor, name, reason string) (*policy.Purpose, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: no purpose declared", ErrInvalid)
	}
	if len(reason) > v.reasonMax {
		return nil, fmt.Errorf("%w: reason longer than %d bytes", ErrInvalid, v.reasonMax)
	}
	pu, err := v.pol.Purpose(a.Role, name)
	switch {
	case errors.Is(err, policy.ErrUnknownPurpose):
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrForbidden, err)
	}
	if pu.RequireReason && strings.TrimSpace(reason) == "" {
		return nil, fmt.Errorf("%w: purpose %q", ErrReasonRequired, name)
	}
	if pu.StepUp != "" && (v.now().Sub(a.SteppedUp) > v.stepUpFor || pu.StepUp == "webauthn" && a.StepFactor != "webauthn") {
		return nil, fmt.Errorf("%w: purpose %q needs a fresh %s proof", ErrStepUpRequired, name, map[bool]string{true: "security key", false: "second-factor"}[pu.StepUp == "webauthn"])
	}
	return pu, nil
}

// errorCode is the short code of an error for the audit decision.
func errorCode(err error) string {
	switch {
	case errors.Is(err, ErrForbidden):
		return "forbidden"
	case errors.Is(err, ErrReasonRequired):
		return "reason_required"
	case errors.Is(err, ErrStepUpRequired):
		return "step_up_required"
	case errors.Is(err, ErrInvalid):
		return "invalid"
	case errors.Is(err, ErrNotFound):
		return "not_found"
	case errors.Is(err, ErrConflict):
		return "conflict"
	default:
		return "error"
	}
}

// deny audits a refused attempt. Its own failure is logged: the attempt is
// refused either way.
func (v *Vault) deny(ctx context.Context, e AuditEntry, cause error) {
	e.Decision = "deny:" + errorCode(cause)
	e.Time = v.now().UTC()
	if len(e.Reason) > v.reasonMax {
		e.Reason = e.Reason[:v.reasonMax]
	}
	if err := v.store.Update(ctx, func(ctx context.Context, tx Tx) error { return tx.AppendAudit(ctx, &e) }); err != nil {
		v.log.ErrorContext(ctx, "audit denied attempt", "actor", e.Actor, "action", e.Action, "error", err)
	}
}

func unavailable(err error) error {
	if errors.Is(err, ErrUnavailable) || errors.Is(err, ErrPanic) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: %v", ErrUnavailable, err)
}

// Read returns subject id as purpose shows it, after its audit entry is
// durable.
func (v *Vault) Read(ctx context.Context, a Actor, id, purposeName, reason string) (*View, error) {
	entry := AuditEntry{Actor: a.ID, Action: "read", Subject: id, Purpose: purposeName, Reason: reason, Origin: a.Origin}
	pseudonym := ""
	switch {
	case a.Sector != "" && !ValidPseudonym(id):
		return nil, fmt.Errorf("%w: malformed pseudonym: a partner names subjects by the pseudonyms its lookups return", ErrInvalid)
	case a.Sector != "":
		pseudonym = id
	case !ValidSubjectID(id):
		return nil, fmt.Errorf("%w: malformed subject id", ErrInvalid)
	}
	pu, err := v.purpose(a, purposeName, reason)
	if err != nil {
		v.deny(ctx, entry, err)
		return nil, err
	}
	fields := v.visible[pu.Name]
	lim := v.limits(a.Role)
	now := v.now()
	gnow := v.guardTime(now)
	var repeat, repeatDay bool
	if lim != nil {
		repeat, repeatDay = v.memo.Seen(a.ID, id, gnow)
	}
	var row *SubjectRow
	var missing bool
	var refusal error
	err = v.store.Update(ctx, func(ctx context.Context, tx Tx) error {
		row, refusal = nil, nil
		e := entry
		subject := id
		if pseudonym != "" {
			s, err := tx.ResolvePseudonym(ctx, a.Sector, pseudonym)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			if s != "" {
				subject, e.Subject = s, s // the audit log keeps the real id
			}
		}
		r, err := tx.GetSubject(ctx, subject)
		missing = errors.Is(err, ErrNotFound) || err == nil && r.Erased
		if err != nil && !missing {
			return err
		}
		e.Time = now.UTC()
		if missing {
			e.Decision = "deny:not_found"
		} else {
			e.Decision, e.Fields = "allow", returned(fields, r.Fields)
		}
		var g *guardRun
		if lim != nil {
			g = &guardRun{lim: lim}
			if err := g.load(ctx, tx, a.ID); err != nil {
				return err
			}
			if refusal, err = v.guardRead(ctx, tx, g, a, r, missing, reason, gnow, repeat, repeatDay); err != nil {
				return err
			}
			switch {
			case refusal != nil:
				e.Fields = nil
				e.Decision = decisionOf(refusal, g.dec)
			case !missing:
				e.Decision, _ = outcome(g.dec) // "allow", or allowed under an extension
			}
		}
		if err := tx.AppendAudit(ctx, &e); err != nil {
			return err
		}
		if g != nil {
			if err := v.finishGuard(ctx, tx, g, a, e.Seq, now.UTC()); err != nil {
				return err
			}
		}
		entry.Seq = e.Seq
		if refusal == nil {
			row = r
		}
		return nil
	})
	if err != nil {
		return nil, unavailable(err)
	}
	if refusal != nil {
		return nil, refusal
	}
	if missing {
		return nil, fmt.Errorf("subject: %w", ErrNotFound)
	}
	if lim != nil {
		v.memo.Record(a.ID, id, gnow)
	}
	out, err := v.view(row, pu, fields, entry.Seq)
	if err == nil && pseudonym != "" {
		out.ID = pseudonym
	}
	return out, err
}

// ValidPseudonym reports whether p has the form of a sector pseudonym.
func ValidPseudonym(p string) bool {
	return len(p) == 30 && strings.HasPrefix(p, "psn_") && ValidSubjectID("sub_"+p[4:])
}

// guardRead runs the guard for a read inside the access transaction: the
// subject's scope, canary flag and order, then the decision. It returns
// the refusal the caller gets (nil: allowed), or an error of the store.
func (v *Vault) guardRead(ctx context.Context, tx Tx, g *guardRun, a Actor, r *SubjectRow, missing bool, reason string, now time.Time, repeat, repeatDay bool) (refusal, err error) {
	acc := guard.Access{Time: now, Kind: guard.Read, Missing: missing, Trusted: v.trusted(a.Origin), Origin: a.Origin, Repeat: repeat, RepeatDay: repeatDay}
	if !missing {
		acc.Subject, acc.Created, acc.Canary = r.ID, r.Seq, r.Canary
		switch {
		case g.lim.AllUnits:
			acc.Scope = guard.InCaseload
		case r.Unit != a.Unit:
			acc.Scope = guard.OutOfUnit
		default:
			in, err := tx.InCaseload(ctx, a.ID, r.ID)
			if err != nil {
				return nil, err
			}
			if !in {
				acc.Scope = guard.InUnit
			}
		}
		if acc.Scope == guard.OutOfUnit && reason == "" && !acc.Canary && g.state.Locked == "" {
			// Outside one's unit a reason is required; the refusal counts
			// towards the hard margin, so that probing locks.
			locks, st := guard.Refuse(g.lim, g.state, now)
			g.state = st
			if locks {
				g.dec = guard.Decision{Verdict: guard.Lock, Code: guard.CodeOutOfUnit}
				return ErrLocked, nil
			}
			return fmt.Errorf("%w: subject outside your unit", ErrReasonRequired), nil
		}
	}
	g.dec, g.state = guard.Decide(g.lim, g.state, acc)
	_, refusal = outcome(g.dec)
	return refusal, nil
}

// decisionOf is the audit decision of a refused guarded access.
func decisionOf(refusal error, dec guard.Decision) string {
	if errors.Is(refusal, ErrReasonRequired) {
		return "deny:reason_required"
	}
	d, _ := outcome(dec)
	return d
}

// returned lists the fields of shown that the sealed blob holds: what a
// read actually returns, for the audit entry (a field the subject lacks was
// not exposed).
func returned(shown []string, blob []byte) []string {
	// This runs inside the group commit, so it allocates only the result:
	// a bit per shown field the blob holds (schemas have far fewer than 64).
	var present uint64
	eachField(blob, func(name string, _ []byte) error {
		if i := slices.Index(shown, name); i >= 0 && i < 64 {
			present |= 1 << i
		}
		return nil
	})
	out := make([]string, 0, len(shown))
	for i, f := range shown {
		if i >= 64 || present&(1<<i) != 0 {
			out = append(out, f)
		}
	}
	return out
}

func (v *Vault) view(row *SubjectRow, pu *policy.Purpose, fields []string, seq int64) (*View, error) {
	dk, err := v.keys.OpenDEK(row.ID, row.DEKVersion, row.DEK)
	if err != nil {
		return nil, fmt.Errorf("open data key of %s: %w", row.ID, err)
	}
	out := &View{ID: row.ID, Unit: row.Unit, Purpose: pu.Name, Fields: make(map[string]string, len(fields)), Masked: []string{}, AuditSeq: seq}
	err = eachField(row.Fields, func(name string, ct []byte) error {
		t := pu.Fields[name]
		if t.Action == policy.Deny {
			return nil // never decrypted
		}
		pt, err := dk.Open(name, ct)
		if err != nil {
			return fmt.Errorf("open field %s of %s: %w", name, row.ID, err)
		}
		if t.Action == policy.Clear {
			out.Fields[name] = string(pt)
			return nil
		}
		f, _ := v.pol.Field(name)
		out.Fields[name] = mask.Apply(t.Mask, f.Type, string(pt))
		out.Masked = append(out.Masked, name)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Lookup finds the one subject whose field equals value exactly (after
// normalisation). The purpose must show the field. Misses are audited.
func (v *Vault) Lookup(ctx context.Context, a Actor, purposeName, reason, field, val string) (string, error) {
	entry := AuditEntry{Actor: a.ID, Action: "lookup", Purpose: purposeName, Reason: reason, Fields: []string{field}, Origin: a.Origin}
	f, ok := v.pol.Field(field)
	if !ok || !f.Lookup {
		err := fmt.Errorf("%w: field %q has no lookup index", ErrInvalid, field)
		entry.Fields = nil
		v.deny(ctx, entry, err)
		return "", err
	}
	if err := v.can(a, policy.PermLookup); err != nil {
		v.deny(ctx, entry, err)
		return "", err
	}
	pu, err := v.purpose(a, purposeName, reason)
	if err == nil && pu.Fields[field].Action == policy.Deny {
		err = fmt.Errorf("%w: purpose %q does not show field %q", ErrForbidden, purposeName, field)
	}
	if err == nil {
		if verr := value.Validate(f, val); verr != nil {
			err = fmt.Errorf("%w: %v", ErrInvalid, verr)
		}
	}
	if err != nil {
		v.deny(ctx, entry, err)
		return "", err
	}
	norm := value.Normalize(f.Type, val)
	h := v.keys.BlindIndex(field, norm)
	lim := v.limits(a.Role)
	now := v.now()
	gnow := v.guardTime(now)
	valueRun := 0
	if lim != nil {
		valueRun = v.memo.ValueRun(a.ID, valueKey(norm))
	}
	var id string
	var refusal error
	err = v.store.Update(ctx, func(ctx context.Context, tx Tx) error {
		id, refusal = "", nil
		found, err := tx.LookupIndex(ctx, h)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		e := entry
		e.Time = now.UTC()
		e.Subject = found
		e.Decision = "allow"
		if found == "" {
			e.Decision = "deny:not_found"
		}
		var g *guardRun
		if lim != nil {
			g = &guardRun{lim: lim}
			if err := g.load(ctx, tx, a.ID); err != nil {
				return err
			}
			acc := guard.Access{Time: gnow, Kind: guard.Lookup, Subject: found, Missing: found == "", Trusted: v.trusted(a.Origin), Origin: a.Origin, ValueRun: valueRun}
			if found != "" {
				if _, err := tx.GetCanary(ctx, found); err == nil {
					acc.Canary = true
				} else if !errors.Is(err, ErrNotFound) {
					return err
				}
			}
			g.dec, g.state = guard.Decide(lim, g.state, acc)
			if _, refusal = outcome(g.dec); refusal != nil {
				e.Decision = decisionOf(refusal, g.dec)
			}
		}
		if err := tx.AppendAudit(ctx, &e); err != nil {
			return err
		}
		if g != nil {
			if err := v.finishGuard(ctx, tx, g, a, e.Seq, now.UTC()); err != nil {
				return err
			}
		}
		if refusal == nil {
			id = found
			if a.Sector != "" && found != "" {
				// A partner gets the sector's pseudonym, never the id.
				id = v.keys.Pseudonym(a.Sector, found)
				if err := tx.PutPseudonym(ctx, a.Sector, id, found); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return "", unavailable(err)
	}
	if refusal != nil {
		return "", refusal
	}
	if id == "" {
		return "", fmt.Errorf("lookup: %w", ErrNotFound)
	}
	return id, nil
}

// sealed is a validated, encrypted subject ready to store.
type sealed struct {
	row     *SubjectRow
	indexes [][]byte
	in      map[string]string // the fields given, by name (nil once an import batch holds it)
}

// names returns the names of the fields given, sorted.
func (s *sealed) names() []string { return slices.Sorted(maps.Keys(s.in)) }

// checkFields validates a complete set of fields (a new subject's).
func (v *Vault) checkFields(unit string, fields map[string]string) error {
	if !ValidUnit(unit) {
		return &FieldError{Field: "unit", Reason: "must be 1 to 64 characters of a-z, 0-9, '-', '_', '.'"}
	}
	for name, val := range fields {
		f, ok := v.pol.Field(name)
		if !ok {
			return &FieldError{Field: name, Reason: "no such field in the schema"}
		}
		if err := value.Validate(f, val); err != nil {
			return fieldError(name, err)
		}
	}
	for _, f := range v.pol.Fields {
		if _, ok := fields[f.Name]; f.Required && !ok {
			return &FieldError{Field: f.Name, Reason: "required"}
		}
	}
	return nil
}

// FieldError says which field of the input is wrong and why; it never
// holds the value. It wraps ErrInvalid.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return fmt.Sprintf("field %q: %s", e.Field, e.Reason) }

// fieldError turns a value.Validate error into a FieldError.
func fieldError(name string, err error) *FieldError {
	var ve *value.Error
	if errors.As(err, &ve) {
		return &FieldError{Field: name, Reason: ve.Reason}
	}
	return &FieldError{Field: name, Reason: "invalid value"}
}

// Unwrap returns ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// seal encrypts validated fields for a new subject.
func (v *Vault) seal(id, unit string, fields map[string]string, now time.Time) (*sealed, error) {
	dk, wrapped, err := v.keys.NewDEK(id)
	if err != nil {
		return nil, err
	}
	s := &sealed{row: &SubjectRow{ID: id, Unit: unit, DEK: wrapped, DEKVersion: dk.Version(), Created: now, Updated: now}, in: fields}
	// The blob of encodeFields, written in place: fields in name order.
	n := 0
	for name, val := range fields {
		n += len(name) + envelope.SealedLen(len(val)) + 2*binary.MaxVarintLen32
	}
	b := make([]byte, 0, n)
	for _, f := range v.byName {
		val, ok := fields[f.Name]
		if !ok {
			continue
		}
		canon := value.Canonical(f.Type, val)
		b = appendFieldHead(b, f.Name, envelope.SealedLen(len(canon)))
		b = dk.AppendSeal(b, f.Name, []byte(canon))
		if f.Lookup {
			s.indexes = append(s.indexes, v.keys.BlindIndex(f.Name, value.Normalize(f.Type, canon)))
		}
	}
	s.row.Fields = b
	return s, nil
}

// put stores a sealed subject in tx: its indexes first, so that a lookup
// value already taken fails before anything else is written. On such a
// conflict put removes the entries it added and returns ErrConflict, so the
// caller may go on with the same transaction (the bulk import does).
func (s *sealed) put(ctx context.Context, tx Tx) error {
	for i, h := range s.indexes {
		if err := tx.PutIndex(ctx, h, s.row.ID); err != nil {
			if !errors.Is(err, ErrConflict) {
				return err
			}
			for _, added := range s.indexes[:i] {
				if err := tx.DeleteIndex(ctx, added); err != nil {
					return err
				}
			}
			return fmt.Errorf("%w: a lookup value (one of %s) already belongs to another subject", ErrConflict, strings.Join(s.names(), ", "))
		}
	}
	return tx.PutSubject(ctx, s.row)
}

// indexHashes returns the blind index entries of a subject's sealed fields.
func (v *Vault) indexHashes(dk *envelope.DataKey, cts map[string][]byte) ([][]byte, error) {
	var out [][]byte
	for _, name := range v.pol.LookupFields() {
		ct, ok := cts[name]
		if !ok {
			continue
		}
		pt, err := dk.Open(name, ct)
		if err != nil {
			return nil, fmt.Errorf("open field %s: %w", name, err)
		}
		f, _ := v.pol.Field(name)
		out = append(out, v.keys.BlindIndex(name, value.Normalize(f.Type, string(pt))))
	}
	return out, nil
}

// openLive reads a subject that is not erased in tx and opens what a
// change needs: its data key, its sealed fields and its blind-index hashes.
func (v *Vault) openLive(ctx context.Context, tx Tx, id string) (*SubjectRow, *envelope.DataKey, map[string][]byte, [][]byte, error) {
	row, err := tx.GetSubject(ctx, id)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if row.Erased {
		return nil, nil, nil, nil, fmt.Errorf("subject: %w", ErrNotFound)
	}
	dk, err := v.keys.OpenDEK(id, row.DEKVersion, row.DEK)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	cts, err := sealedFields(row.Fields)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	hashes, err := v.indexHashes(dk, cts)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	return row, dk, cts, hashes, nil
}

// sealedFields decodes a subject's fields blob into a map.
func sealedFields(blob []byte) (map[string][]byte, error) {
	cts := map[string][]byte{}
	err := eachField(blob, func(name string, ct []byte) error { cts[name] = ct; return nil })
	return cts, err
}

// Create stores a new subject and returns its id.
//
// A create whose lookup value is taken answers ErrConflict, which tells
// the caller the value exists: a lookup by other means. Under a guarded
// role the guard therefore decides every create as a lookup, counts the
// ones that conflict against the lookup budget (a create that succeeds
// costs nothing), and refuses every create, conflicting or not, once the
// budget is spent, so that a refusal gives nothing away either.
func (v *Vault) Create(ctx context.Context, a Actor, unit string, fields map[string]string) (string, error) {
	entry := AuditEntry{Actor: a.ID, Action: "create", Origin: a.Origin}
	if err := v.can(a, policy.PermCreate); err != nil {
		v.deny(ctx, entry, err)
		return "", err
	}
	if err := v.checkFields(unit, fields); err != nil {
		return "", err
	}
	now := v.now().UTC()
	ids, err := v.newSubjectIDs(ctx, 1)
	if err != nil {
		return "", err
	}
	s, err := v.seal(ids[0], unit, fields, now)
	if err != nil {
		return "", err
	}
	lim := v.limits(a.Role)
	var taken, refusal error
	err = v.store.Update(ctx, func(ctx context.Context, tx Tx) error {
		taken, refusal = nil, nil
		e := entry
		e.Time, e.Fields = now, s.names()
		var g *guardRun
		if lim != nil {
			g = &guardRun{lim: lim}
			if err := g.load(ctx, tx, a.ID); err != nil {
				return err
			}
			acc := guard.Access{Time: v.guardTime(now), Kind: guard.Lookup, Trusted: v.trusted(a.Origin), Origin: a.Origin}
			g.dec, g.state = guard.Decide(lim, g.state, acc)
			if _, refusal = outcome(g.dec); refusal != nil {
				e.Decision = decisionOf(refusal, g.dec)
				if err := tx.AppendAudit(ctx, &e); err != nil {
					return err
				}
				return v.finishGuard(ctx, tx, g, a, e.Seq, now)
			}
		}
		if err := s.put(ctx, tx); err == nil {
			e.Subject, e.Decision = s.row.ID, "allow"
			return tx.AppendAudit(ctx, &e) // the guard's state stays as it was
		} else if !errors.Is(err, ErrConflict) {
			return err
		} else {
			taken = err
		}
		e.Decision = "deny:conflict"
		if err := tx.AppendAudit(ctx, &e); err != nil {
			return err
		}
		if g != nil {
			return v.finishGuard(ctx, tx, g, a, e.Seq, now)
		}
		return nil
	})
	if err != nil {
		return "", unavailable(err)
	}
	if refusal != nil {
		return "", refusal
	}
	if taken != nil {
		return "", taken
	}
	return s.row.ID, nil
}

// Update changes fields of a subject: a value sets a field, nil removes it.
func (v *Vault) Update(ctx context.Context, a Actor, id string, changes map[string]*string) error {
	entry := AuditEntry{Actor: a.ID, Action: "update", Subject: id, Origin: a.Origin}
	if !ValidSubjectID(id) {
		return fmt.Errorf("%w: malformed subject id", ErrInvalid)
	}
	if err := v.can(a, policy.PermUpdate); err != nil {
		v.deny(ctx, entry, err)
		return err
	}
	if len(changes) == 0 {
		return &FieldError{Field: "fields", Reason: "no field to change"}
	}
	for name, val := range changes {
		f, ok := v.pol.Field(name)
		switch {
		case !ok:
			return &FieldError{Field: name, Reason: "no such field in the schema"}
		case val == nil && f.Required:
			return &FieldError{Field: name, Reason: "required: cannot be removed"}
		case val != nil:
			if err := value.Validate(f, *val); err != nil {
				return fieldError(name, err)
			}
		}
	}
	names := slices.Sorted(maps.Keys(changes))
	now := v.now().UTC()
	err := v.store.Update(ctx, func(ctx context.Context, tx Tx) error {
		row, dk, cts, oldHashes, err := v.openLive(ctx, tx, id)
		if err != nil {
			return err
		}
		reindex := false
		for name, val := range changes {
			f, _ := v.pol.Field(name)
			reindex = reindex || f.Lookup
			if val == nil {
				delete(cts, name)
				continue
			}
			cts[name] = dk.Seal(name, []byte(value.Canonical(f.Type, *val)))
		}
		if reindex {
			for _, h := range oldHashes {
				if err := tx.DeleteIndex(ctx, h); err != nil {
					return err
				}
			}
			newHashes, err := v.indexHashes(dk, cts)
			if err != nil {
				return err
			}
			for _, h := range newHashes {
				if err := tx.PutIndex(ctx, h, id); err != nil {
					if errors.Is(err, ErrConflict) {
						return fmt.Errorf("%w: a changed lookup value already belongs to another subject", ErrConflict)
					}
					return err
				}
			}
		}
		row.Fields, row.Updated = encodeFields(cts), now
		if err := tx.ReplaceSubject(ctx, row); err != nil {
			return err
		}
		e := entry
		e.Time, e.Fields, e.Decision = now, names, "allow"
		return tx.AppendAudit(ctx, &e)
	})
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrConflict):
		v.deny(ctx, entry, err)
		return err
	case err != nil:
		return unavailable(err)
	}
	return nil
}

// Erase crypto-shreds a subject: its wrapped data key and ciphertexts are
// destroyed, its index entries removed; a tombstone and the audit trail
// stay. Nothing can recover the record afterwards.
func (v *Vault) Erase(ctx context.Context, a Actor, id, reason string) error {
	entry := AuditEntry{Actor: a.ID, Action: "erase", Subject: id, Reason: reason, Origin: a.Origin}
	if !ValidSubjectID(id) {
		return fmt.Errorf("%w: malformed subject id", ErrInvalid)
	}
	if len(reason) > v.reasonMax {
		return fmt.Errorf("%w: reason longer than %d bytes", ErrInvalid, v.reasonMax)
	}
	if err := v.can(a, policy.PermErase); err != nil {
		v.deny(ctx, entry, err)
		return err
	}
	now := v.now().UTC()
	err := v.store.Update(ctx, func(ctx context.Context, tx Tx) error {
		_, _, _, hashes, err := v.openLive(ctx, tx, id)
		if err != nil {
			return err
		}
		for _, h := range hashes {
			if err := tx.DeleteIndex(ctx, h); err != nil {
				return err
			}
		}
		if err := tx.EraseSubject(ctx, id, now); err != nil {
			return err
		}
		e := entry
		e.Time, e.Decision = now, "allow"
		return tx.AppendAudit(ctx, &e)
	})
	switch {
	case errors.Is(err, ErrNotFound):
		v.deny(ctx, entry, err)
		return err
	case err != nil:
		return unavailable(err)
	}
	return nil
}

// MaxAuditPage bounds the entries one AuditEntries call returns.
const MaxAuditPage = 1000

// AuditEntries returns the audit entries with from ≤ Seq < to, at most
// MaxAuditPage, to a role with the audit permission. The read is itself
// audited.
func (v *Vault) AuditEntries(ctx context.Context, a Actor, from, to int64) ([]AuditEntry, error) {
	entry := AuditEntry{Actor: a.ID, Action: "audit.entries", Reason: fmt.Sprintf("%d-%d", from, to), Origin: a.Origin}
	if err := v.can(a, policy.PermAudit); err != nil {
		v.deny(ctx, entry, err)
		return nil, err
	}
	if from < 1 || to <= from {
		return nil, fmt.Errorf("%w: want 1 ≤ from < to", ErrInvalid)
	}
	var out []AuditEntry
	err := v.store.Update(ctx, func(ctx context.Context, tx Tx) error {
		var err error
		if out, err = tx.AuditEntries(ctx, from, to, MaxAuditPage); err != nil {
			return err
		}
		e := entry
		e.Time, e.Decision = v.now().UTC(), "allow"
		return tx.AppendAudit(ctx, &e)
	})
	if err != nil {
		return nil, unavailable(err)
	}
	return out, nil
}

// Refused audits a request of an authenticated operator that was refused
// before it reached the vault (a malformed id, purpose header or body):
// probing leaves a trace too. route names the endpoint pattern, never the
// raw path or any value sent.
func (v *Vault) Refused(ctx context.Context, a Actor, route string) {
	v.deny(ctx, AuditEntry{Actor: a.ID, Action: "refused", Reason: route, Origin: a.Origin}, ErrInvalid)
}
