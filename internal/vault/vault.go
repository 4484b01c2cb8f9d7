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
// entry cannot be written returns [store.ErrUnavailable] and no data. Denied
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

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/mask"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/public"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/subject"
	"github.com/coffre/coffre/internal/subjectid"
	"github.com/coffre/coffre/internal/value"
)

// Vault is the core service. It is safe for concurrent use.
type Vault struct {
	store     store.Store
	keys      *envelope.Keyring
	pol       *policy.Policy
	now       func() time.Time
	log       *slog.Logger
	reasonMax int
	visible   map[string][]string // purpose → fields it shows, schema order
	byName    []policy.Field      // the schema's fields sorted by name (the sealed blob's order)
	guard     *Guard
	lims      map[string]*guard.Limits // the guard's limits by role, read-only
	memo      *guard.Memo
	stepUpFor time.Duration
}

// Config wires a Vault. Store, Keys and Policy are required.
type Config struct {
	Store  store.Store
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
	// StepUpFor is the step-up window of a purpose that sets none
	// (policy.Purpose.StepUpWindow; default 5 minutes).
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
	if c.Guard != nil {
		v.lims = make(map[string]*guard.Limits, len(c.Guard.Limits))
		for role, l := range c.Guard.Limits {
			v.lims[role] = &l
		}
	}
	for name, pu := range c.Policy.Purposes {
		v.visible[name] = c.Policy.VisibleFields(pu)
	}
	v.byName = slices.SortedFunc(slices.Values(c.Policy.Fields), func(a, b policy.Field) int { return strings.Compare(a.Name, b.Name) })
	return v
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

func (v *Vault) can(a identity.Actor, p policy.Permission) error {
	r, err := v.pol.Role(a.Role)
	if err != nil {
		return forbidden("%v", err)
	}
	if !r.Has(p) {
		return forbidden("role %q lacks permission %q", a.Role, p)
	}
	return nil
}

func (v *Vault) purpose(a identity.Actor, name, reason string) (*policy.Purpose, error) {
	if name == "" {
		return nil, invalid("no purpose declared")
	}
	if len(reason) > v.reasonMax {
		return nil, invalid("reason longer than %d bytes", v.reasonMax)
	}
	pu, err := v.pol.Purpose(a.Role, name)
	switch {
	case errors.Is(err, policy.ErrUnknownPurpose):
		return nil, invalid("%v", err)
	case err != nil:
		return nil, forbidden("%v", err)
	}
	if pu.RequireReason && strings.TrimSpace(reason) == "" {
		return nil, fmt.Errorf("%w: purpose %q", access.ErrReasonRequired, name)
	}
	if pu.StepUp != "" && !v.steppedUp(a, pu) {
		key := pu.StepUp == "webauthn"
		hint := fmt.Sprintf(`POST /v1/auth/stepup/totp {"code":"…","purpose":%q} or /v1/auth/stepup/webauthn/begin then /finish {"credential":…,"purpose":%q}, then retry`, name, name)
		if key {
			hint = fmt.Sprintf(`POST /v1/auth/stepup/webauthn/begin then /finish {"credential":…,"purpose":%q} with a security key, then retry`, name)
		}
		return nil, public.Errorf(access.ErrStepUpRequired, "step-up required: purpose %q needs a fresh %s proof, from a step-up that names it", name, map[bool]string{true: "security key", false: "second-factor"}[key]).WithHint(hint)
	}
	return pu, nil
}

// steppedUp reports whether the actor's session proved a factor for pu: a
// step-up that named a purpose of pu's step-up group (never the login's
// own factor, whose group is ""), within pu's window, with a security key
// if pu asks for one.
func (v *Vault) steppedUp(a identity.Actor, pu *policy.Purpose) bool {
	window := pu.StepUpWindow
	if window <= 0 {
		window = v.stepUpFor
	}
	return a.StepGroup != "" && a.StepGroup == pu.Group() && v.now().Sub(a.SteppedUp) <= window &&
		(pu.StepUp != "webauthn" || a.StepFactor == "webauthn")
}

// errorCode is the short code of an error for the audit decision.
func errorCode(err error) string {
	switch {
	case errors.Is(err, access.ErrForbidden):
		return "forbidden"
	case errors.Is(err, access.ErrReasonRequired):
		return "reason_required"
	case errors.Is(err, access.ErrStepUpRequired):
		return "step_up_required"
	case errors.Is(err, access.ErrInvalid):
		return "invalid"
	case errors.Is(err, store.ErrNotFound):
		return "not_found"
	case errors.Is(err, store.ErrConflict):
		return "conflict"
	default:
		return "error"
	}
}

// deny audits a refused attempt. Its own failure is logged: the attempt is
// refused either way.
func (v *Vault) deny(ctx context.Context, e audit.Entry, cause error) {
	e.Decision = "deny:" + errorCode(cause)
	e.Time = v.now().UTC()
	if len(e.Reason) > v.reasonMax {
		e.Reason = e.Reason[:v.reasonMax]
	}
	if err := v.store.Update(ctx, func(ctx context.Context, tx store.Tx) error { e := e; return tx.AppendAudit(ctx, &e) }); err != nil {
		v.log.ErrorContext(ctx, "audit denied attempt", "actor", e.Actor, "action", e.Action, "error", err)
	}
}

// invalid, forbidden and conflict make errors of the kinds ErrInvalid,
// ErrForbidden and store.ErrConflict whose text is public (package
// public): field, purpose, role and unit names and limits, never a stored
// value or a store's message. Policy errors formatted into them name
// configuration entries only.
func invalid(format string, args ...any) error {
	return public.Errorf(access.ErrInvalid, "invalid input: "+format, args...)
}

func forbidden(format string, args ...any) error {
	return public.Errorf(access.ErrForbidden, "forbidden: "+format, args...)
}

func conflict(format string, args ...any) error {
	return public.Errorf(store.ErrConflict, "conflict: "+format, args...)
}

func unavailable(err error) error {
	if errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrPanic) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: %v", store.ErrUnavailable, err)
}

// Read returns subject id as purpose shows it, after its audit entry is
// durable.
func (v *Vault) Read(ctx context.Context, a identity.Actor, id, purposeName, reason string) (*View, error) {
	entry := audit.Entry{Actor: a.ID, Action: "read", Subject: id, Purpose: purposeName, Reason: reason, Origin: a.Origin}
	pseudonym := ""
	switch {
	case a.Sector != "" && !ValidPseudonym(id):
		return nil, invalid("malformed pseudonym: a partner names subjects by the pseudonyms its lookups return")
	case a.Sector != "":
		pseudonym = id
	case !subjectid.Valid(id):
		return nil, invalid("malformed subject id")
	}
	pu, err := v.purpose(a, purposeName, reason)
	if err != nil {
		v.deny(ctx, entry, err)
		return nil, err
	}
	fields := v.visible[pu.Name]
	x := attempt[*subject.Row]{actor: a, entry: entry, now: v.now(), guard: guard.Access{Kind: guard.Read}}
	if v.limits(a.Role) != nil {
		x.guard.Repeat, x.guard.RepeatDay = v.memo.Seen(a.ID, id, v.guardTime(x.now))
	}
	x.find = func(ctx context.Context, tx store.Tx, lim *guard.Limits, e *audit.Entry, acc *guard.Access) (*subject.Row, error) {
		if pseudonym != "" {
			s, err := tx.ResolvePseudonym(ctx, a.Sector, pseudonym)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
			if s != "" {
				e.Subject = s // the audit log keeps the real id
			}
		}
		r, err := tx.GetSubject(ctx, e.Subject)
		if errors.Is(err, store.ErrNotFound) || err == nil && r.Erased {
			e.Decision, acc.Missing = "deny:not_found", true
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		e.Fields = returned(fields, r.Fields)
		acc.Subject, acc.Created, acc.Canary = r.ID, r.Seq, r.Canary
		if lim != nil {
			if acc.Scope, err = scope(ctx, tx, lim, a, r.ID, r.Unit); err != nil {
				return nil, err
			}
		}
		return r, nil
	}
	res, err := run(ctx, v, x)
	switch {
	case err != nil:
		return nil, unavailable(err)
	case res.refusal != nil:
		return nil, res.refusal
	case res.val == nil:
		return nil, fmt.Errorf("subject: %w", store.ErrNotFound)
	}
	if v.limits(a.Role) != nil {
		v.memo.Record(a.ID, id, v.guardTime(x.now))
	}
	out, err := v.view(res.val, pu, fields, res.seq)
	if err == nil && pseudonym != "" {
		out.ID = pseudonym
	}
	return out, err
}

// ValidPseudonym reports whether p has the form of a sector pseudonym.
func ValidPseudonym(p string) bool {
	return len(p) == 30 && strings.HasPrefix(p, "psn_") && subjectid.Valid("sub_"+p[4:])
}

// decisionOf is the audit decision of a refused guarded access.
func decisionOf(refusal error, dec guard.Decision) string {
	if errors.Is(refusal, access.ErrReasonRequired) {
		return "deny:reason_required"
	}
	d, _ := verdict(dec)
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

func (v *Vault) view(row *subject.Row, pu *policy.Purpose, fields []string, seq int64) (*View, error) {
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
func (v *Vault) Lookup(ctx context.Context, a identity.Actor, purposeName, reason, field, val string) (string, error) {
	entry := audit.Entry{Actor: a.ID, Action: "lookup", Purpose: purposeName, Reason: reason, Fields: []string{field}, Origin: a.Origin}
	f, ok := v.pol.Field(field)
	if !ok || !f.Lookup {
		err := invalid("field %q has no lookup index", field)
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
		err = forbidden("purpose %q does not show field %q", purposeName, field)
	}
	if err == nil {
		if verr := value.Validate(f, val); verr != nil {
			err = invalid("%v", verr)
		}
	}
	if err != nil {
		v.deny(ctx, entry, err)
		return "", err
	}
	norm := value.Normalize(f.Type, val)
	h := v.keys.BlindIndex(field, norm)
	x := attempt[string]{actor: a, entry: entry, now: v.now(), guard: guard.Access{Kind: guard.Lookup}}
	if v.limits(a.Role) != nil {
		x.guard.ValueRun = v.memo.ValueRun(a.ID, valueKey(norm))
	}
	x.find = func(ctx context.Context, tx store.Tx, lim *guard.Limits, e *audit.Entry, acc *guard.Access) (string, error) {
		found, err := tx.LookupIndex(ctx, h)
		if errors.Is(err, store.ErrNotFound) {
			e.Decision, acc.Missing = "deny:not_found", true
			return "", nil
		}
		if err != nil {
			return "", err
		}
		e.Subject, acc.Subject = found, found
		if lim != nil {
			_, err := tx.GetCanary(ctx, found)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return "", err
			}
			acc.Canary = err == nil
		}
		return found, nil
	}
	if a.Sector != "" {
		// A partner gets the sector's pseudonym, never the id.
		x.write = func(ctx context.Context, tx store.Tx, found string, _ *audit.Entry) (string, error) {
			if found == "" {
				return "", nil
			}
			p := v.keys.Pseudonym(a.Sector, found)
			return p, tx.PutPseudonym(ctx, a.Sector, p, found)
		}
	}
	res, err := run(ctx, v, x)
	switch {
	case err != nil:
		return "", unavailable(err)
	case res.refusal != nil:
		return "", res.refusal
	case res.val == "":
		return "", fmt.Errorf("lookup: %w", store.ErrNotFound)
	}
	return res.val, nil
}

// records is what writing a subject takes: its row and its index entries.
type records interface {
	subject.Rows
	subject.Indexes
}

// sealed is a validated, encrypted subject ready to store.
type sealed struct {
	row     *subject.Row
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
func (e *FieldError) Unwrap() error { return access.ErrInvalid }

// seal encrypts validated fields for a new subject.
func (v *Vault) seal(id, unit string, fields map[string]string, now time.Time) (*sealed, error) {
	dk, wrapped, err := v.keys.NewDEK(id)
	if err != nil {
		return nil, err
	}
	s := &sealed{row: &subject.Row{ID: id, Unit: unit, DEK: wrapped, DEKVersion: dk.Version(), Created: now, Updated: now}, in: fields}
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
func (s *sealed) put(ctx context.Context, tx records) error {
	for i, h := range s.indexes {
		if err := tx.PutIndex(ctx, h, s.row.ID); err != nil {
			if !errors.Is(err, store.ErrConflict) {
				return err
			}
			for _, added := range s.indexes[:i] {
				if err := tx.DeleteIndex(ctx, added); err != nil {
					return err
				}
			}
			return conflict("a lookup value (one of %s) already belongs to another subject", strings.Join(s.names(), ", "))
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
func (v *Vault) openLive(ctx context.Context, tx subject.Rows, id string) (*subject.Row, *envelope.DataKey, map[string][]byte, [][]byte, error) {
	row, err := tx.GetSubject(ctx, id)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if row.Erased {
		return nil, nil, nil, nil, fmt.Errorf("subject: %w", store.ErrNotFound)
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
func (v *Vault) Create(ctx context.Context, a identity.Actor, unit string, fields map[string]string) (string, error) {
	entry := audit.Entry{Actor: a.ID, Action: "create", Origin: a.Origin}
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
	x := attempt[string]{actor: a, entry: entry, now: now, guard: guard.Access{Kind: guard.Lookup}, freeIfWritten: true}
	x.find = func(_ context.Context, _ store.Tx, _ *guard.Limits, e *audit.Entry, _ *guard.Access) (string, error) {
		e.Fields = s.names()
		return "", nil
	}
	x.write = func(ctx context.Context, tx store.Tx, _ string, e *audit.Entry) (string, error) {
		if err := s.put(ctx, tx); err != nil {
			return "", err
		}
		e.Subject = s.row.ID
		return s.row.ID, nil
	}
	res, err := run(ctx, v, x)
	switch {
	case err != nil:
		return "", unavailable(err)
	case res.refusal != nil:
		return "", res.refusal
	}
	return res.val, nil
}

// Update changes fields of a subject: a value sets a field, nil removes it.
func (v *Vault) Update(ctx context.Context, a identity.Actor, id string, changes map[string]*string) error {
	entry := audit.Entry{Actor: a.ID, Action: "update", Subject: id, Origin: a.Origin}
	if !subjectid.Valid(id) {
		return invalid("malformed subject id")
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
	err := v.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
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
					if errors.Is(err, store.ErrConflict) {
						return conflict("a changed lookup value already belongs to another subject")
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
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict):
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
func (v *Vault) Erase(ctx context.Context, a identity.Actor, id, reason string) error {
	entry := audit.Entry{Actor: a.ID, Action: "erase", Subject: id, Reason: reason, Origin: a.Origin}
	if !subjectid.Valid(id) {
		return invalid("malformed subject id")
	}
	if len(reason) > v.reasonMax {
		return invalid("reason longer than %d bytes", v.reasonMax)
	}
	if err := v.can(a, policy.PermErase); err != nil {
		v.deny(ctx, entry, err)
		return err
	}
	now := v.now().UTC()
	err := v.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
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
	case errors.Is(err, store.ErrNotFound):
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
func (v *Vault) AuditEntries(ctx context.Context, a identity.Actor, from, to int64) ([]audit.Entry, error) {
	entry := audit.Entry{Actor: a.ID, Action: "audit.entries", Reason: fmt.Sprintf("%d-%d", from, to), Origin: a.Origin}
	if err := v.can(a, policy.PermAudit); err != nil {
		v.deny(ctx, entry, err)
		return nil, err
	}
	if from < 1 || to <= from {
		return nil, invalid("want 1 ≤ from < to")
	}
	out, err := update(ctx, v.store, func(ctx context.Context, tx store.Tx) ([]audit.Entry, error) {
		out, err := tx.AuditEntries(ctx, from, to, MaxAuditPage)
		if err != nil {
			return nil, err
		}
		e := entry
		e.Time, e.Decision = v.now().UTC(), "allow"
		return out, tx.AppendAudit(ctx, &e)
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
func (v *Vault) Refused(ctx context.Context, a identity.Actor, route string) {
	v.deny(ctx, audit.Entry{Actor: a.ID, Action: "refused", Reason: route, Origin: a.Origin}, access.ErrInvalid)
}
