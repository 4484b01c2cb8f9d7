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
	"cmp"
	"context"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/contact"
	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/mask"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/public"
	"github.com/coffre/coffre/internal/rights"
	"github.com/coffre/coffre/internal/stats"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/subject"
	"github.com/coffre/coffre/internal/subjectid"
	"github.com/coffre/coffre/internal/value"
)

// Vault is the core service. It is safe for concurrent use.
type Vault struct {
	// decisions counts the guard's decisions (nil: not counted).
	decisions DecisionObserver
	store     store.Store
	keys      *envelope.Keyring
	pol       *policy.Policy
	now       func() time.Time
	log       *slog.Logger
	reasonMax int
	// reasonPattern, when set, is what a typed reason begins with
	// (Config.ReasonPattern), reasonPatternText as configured.
	reasonPattern     *regexp.Regexp
	reasonPatternText string
	visible           map[string][]string // purpose → fields it shows, schema order
	byName            []policy.Field      // the schema's fields sorted by name (the sealed blob's order)
	guard             *Guard
	lims              map[string]*guard.Limits // the guard's limits by role, read-only
	stepUpFor         time.Duration
	notices           Notices
	// noticesOff: no notice is queued (Config.Notices.Off).
	noticesOff bool
	queued     func()
	// coolingOff is how long a change of a contact field waits.
	coolingOff time.Duration
	rights     Rights
	// retain is the retention policy besides the fields' rules;
	// activity its activity purposes, ruleDates the date fields its
	// rules count from.
	retain    Retention
	activity  map[string]bool
	ruleDates []string
	// stats declares the statistics (nil or empty: none), whose cell
	// counters every change to a record keeps (stats.go);
	// statsCurrent remembers that the store's counters are of it.
	stats        *stats.Declaration
	statFields   []string // stats.Fields()
	statsCurrent atomic.Bool
	// afterPreRead, set by tests only, runs between a read's pre-read
	// and its transaction (preread.go).
	afterPreRead func()
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
	// ReasonPattern, when set, is what every typed reason that is not
	// empty begins with, such as a ticket id (limits.reason_pattern,
	// anchored at the start by package config); ReasonPatternText is
	// the pattern as configured, for the refusal's hint.
	ReasonPattern     *regexp.Regexp
	ReasonPatternText string
	// Guard enables budgets and detectors (nil: no guard).
	Guard *Guard
	// StepUpFor is the step-up window of a purpose that sets none
	// (policy.Purpose.StepUpWindow; default 5 minutes).
	StepUpFor time.Duration
	// Notices says when digests go out and where a person is told
	// (nil: the zero Notices). Every allowed read and update queues a
	// notice to the person after its purpose's mode (package notice),
	// unless Notices.Off.
	Notices *Notices
	// Queued, when set, is called after an access that queued an
	// immediate notice has committed (to wake the delivery worker).
	Queued func()
	// ContactCoolingOff is how long a change of a contact field (email,
	// phone) waits before it takes effect (default
	// DefaultContactCoolingOff, 72 hours).
	ContactCoolingOff time.Duration
	// Rights says who decides the persons' requests, who still reaches
	// a restricted record, and whom a person may turn to (nil: nobody
	// decides, and the persons' requests are refused).
	Rights *Rights
	// Retention is the record's retention rule and the purposes whose
	// reads are activity (nil: none).
	Retention *Retention
	// Stats declares the aggregate statistics: their dimensions, whose
	// anonymous cell counters every change to a record keeps, the
	// minimum cell size and the privacy budget (nil: none).
	Stats *stats.Declaration
	// Decisions, when set, counts the guard's decisions.
	Decisions DecisionObserver
}

// New returns a Vault.
func New(c Config) *Vault {
	v := &Vault{store: c.Store, keys: c.Keys, pol: c.Policy, now: c.Now, log: c.Logger, reasonMax: c.ReasonMaxLen, reasonPattern: c.ReasonPattern, reasonPatternText: c.ReasonPatternText, visible: map[string][]string{}, guard: c.Guard, stepUpFor: c.StepUpFor,
		coolingOff: c.ContactCoolingOff, decisions: c.Decisions}
	if v.coolingOff <= 0 {
		v.coolingOff = DefaultContactCoolingOff
	}
	if v.stepUpFor <= 0 {
		v.stepUpFor = 5 * time.Minute
	}
	if c.Notices != nil {
		v.notices = *c.Notices
	}
	if len(v.notices.Contacts) == 0 {
		v.notices.Contacts = policy.ContactFields(c.Policy.Fields)
	}
	v.noticesOff, v.queued = v.notices.Off, c.Queued
	if c.Rights != nil {
		v.rights = *c.Rights
	}
	if c.Retention != nil {
		v.retain = *c.Retention
	}
	v.activity = map[string]bool{}
	for _, p := range v.retain.Activity {
		v.activity[p] = true
	}
	v.ruleDates = ruleDates(c.Policy, v.retain.Record)
	if c.Stats.Enabled() {
		v.stats, v.statFields = c.Stats, c.Stats.Fields()
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
		return nil, public.Errorf(access.ErrReasonRequired, "purpose %q requires a reason", name)
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

// deny audits a refused attempt of a and, when a's role is guarded, counts
// it towards the hard margin that locks the account, as the guard's own
// refusals do: probing the policy (a purpose the role lacks, a field the
// purpose does not allow, a malformed id) is not free. A refusal for want
// of a step-up is the ordinary way to ask for one, and is not counted. It
// returns what the caller returns: cause, or access.ErrLocked when this
// refusal locked the account. Its own failure is logged: the attempt is
// refused either way.
func (v *Vault) deny(ctx context.Context, a identity.Actor, e audit.Entry, cause error) error {
	now := v.now()
	e.Decision, e.Time, e.Reason = "deny:"+errorCode(cause), now.UTC(), cutUTF8(e.Reason, v.reasonMax)
	locked, err := update(ctx, v.store, func(ctx context.Context, tx store.Tx) (bool, error) {
		e := e
		if _, err := v.sealReason(ctx, tx, &e, nil, nil); err != nil {
			return false, err
		}
		var g *guardRun
		if !errors.Is(cause, access.ErrStepUpRequired) {
			var err error
			if g, err = v.countRefusal(ctx, tx, a, now); err != nil {
				return false, err
			}
		}
		if err := tx.AppendAudit(ctx, &e); err != nil {
			return false, err
		}
		if g == nil {
			return false, nil
		}
		return g.dec.Verdict == guard.Lock, v.finishGuard(ctx, tx, g, a, e.Seq, now.UTC())
	})
	if err != nil {
		v.log.ErrorContext(ctx, "audit denied attempt", "actor", e.Actor, "action", e.Action, "error", err)
		return cause
	}
	if locked {
		return access.ErrLocked
	}
	return cause
}

// cutUTF8 cuts s to at most n bytes without splitting a character.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// invalid, forbidden and conflict make errors of the kinds ErrInvalid,
// ErrForbidden and store.ErrConflict whose text is public (package
// public): field, purpose, role and unit names and limits, never a stored
// value or a store's message. Policy errors formatted into them name
// configuration entries only.
func invalid(format string, args ...any) *public.Error {
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
//
// Under a purpose that asks for the person's consent, Read returns the
// view only when the person approved a request of a's for that purpose
// and the approval is still valid; that read uses it up. Otherwise it
// returns a *[ConsentPending] error holding the request: a new one (the
// person is told), or a's request still waiting for the decision. Asking
// is an access like a read: the guard counts it, it is audited
// ("consent.request"), and a canary locks.
func (v *Vault) Read(ctx context.Context, a identity.Actor, id, purposeName, reason string) (*View, error) {
	return v.read(ctx, a, id, purposeName, reason, "", false, nil)
}

// ReadFields is Read narrowed to some of the fields purpose shows: only
// they are opened, returned, audited and named in the person's notice
// (least data: the console's reveal of one masked field under a purpose
// that shows it in clear). Each of fields must be one the purpose shows.
func (v *Vault) ReadFields(ctx context.Context, a identity.Actor, id, purposeName, reason string, fields []string) (*View, error) {
	if len(fields) == 0 {
		return nil, invalid("no field named: name the fields to read, or read the purpose's whole view")
	}
	return v.read(ctx, a, id, purposeName, reason, "", false, fields)
}

// BreakGlass is an emergency read of subject id under a purpose that
// allows it (break_glass), without the person's consent: why says what the
// emergency is, and is required. The read is audited as "read" with the
// decision "allow:break_glass" and counts against the guard's budgets and
// the role's break-glass reads per day; in its transaction it queues an
// immediate notice to the person, whatever the purpose's notice mode, and
// raises an alert for the security officers.
func (v *Vault) BreakGlass(ctx context.Context, a identity.Actor, id, purposeName, reason, why string) (*View, error) {
	return v.read(ctx, a, id, purposeName, reason, why, true, nil)
}

// maxNamedFields bounds the fields a narrowed read names.
const maxNamedFields = 64

// narrow returns the fields of only, in the order purpose pu shows them
// (visible), and a copy of pu that denies every other field: what a
// narrowed read opens. A field pu does not show, or named twice, is
// refused.
func narrow(pu *policy.Purpose, visible, only []string) ([]string, *policy.Purpose, error) {
	if len(only) > maxNamedFields {
		return nil, nil, invalid("%d fields named: at most %d", len(only), maxNamedFields)
	}
	for i, f := range only {
		if !slices.Contains(visible, f) {
			return nil, nil, public.Errorf(access.ErrInvalid, "invalid input: purpose %q does not show field %q", pu.Name, f).
				WithHint("name fields the purpose shows (clear or masked), or choose a purpose that shows this one")
		}
		if slices.Contains(only[:i], f) {
			return nil, nil, invalid("field %q named twice", f)
		}
	}
	fields := slices.DeleteFunc(slices.Clone(visible), func(f string) bool { return !slices.Contains(only, f) })
	cp := *pu
	cp.Fields = make(map[string]policy.Treatment, len(fields)) // a field not named is denied
	for _, f := range fields {
		cp.Fields[f] = pu.Fields[f]
	}
	return fields, &cp, nil
}

// breakGlassReason is the audited reason of a break-glass read: the
// emergency, after the operator's Coffre-Reason when there is one.
func breakGlassReason(reason, why string) string {
	if reason == "" {
		return "break-glass: " + why
	}
	return reason + " | break-glass: " + why
}

func (v *Vault) read(ctx context.Context, a identity.Actor, id, purposeName, reason, why string, breakGlass bool, only []string) (*View, error) {
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
	if err := v.checkReason(reason); err != nil {
		return nil, v.deny(ctx, a, entry, err)
	}
	if breakGlass {
		why = strings.TrimSpace(why)
		if err := v.checkEmergency(why); err != nil {
			return nil, v.deny(ctx, a, entry, err)
		}
		if why == "" {
			return nil, v.deny(ctx, a, entry, public.Errorf(access.ErrReasonRequired, "a break-glass read needs a reason: say what the emergency is").
				WithHint("send Coffre-Break-Glass: <the emergency>, or read without it to ask the person's consent"))
		}
		reason = breakGlassReason(reason, why)
		entry.Reason = reason
	}
	pu, err := v.purpose(a, purposeName, reason)
	switch {
	case err != nil:
	case pu.Consent && a.Sector != "":
		err = forbidden("purpose %q asks for the person's consent, which partners cannot ask", pu.Name)
	case breakGlass && !pu.BreakGlass:
		err = public.Errorf(access.ErrForbidden, "forbidden: purpose %q allows no break-glass read", pu.Name).
			WithHint("break-glass is for the purposes whose policy allows it (break_glass: true); read without Coffre-Break-Glass")
	}
	if err != nil {
		return nil, v.deny(ctx, a, entry, err)
	}
	fields, shown := v.visible[pu.Name], pu
	if only != nil {
		if fields, shown, err = narrow(pu, fields, only); err != nil {
			return nil, v.deny(ctx, a, entry, err)
		}
	}
	x := attempt[*readResult]{actor: a, entry: entry, now: v.now(), guard: guard.Access{Kind: guard.Read, BreakGlass: breakGlass}, purpose: pu}
	asks := pu.Consent && !breakGlass
	if pseudonym == "" {
		if x.pre, err = v.preRead(ctx, id); err != nil {
			return nil, unavailable(err)
		}
		if v.afterPreRead != nil {
			v.afterPreRead()
		}
	}
	x.find = func(ctx context.Context, tx store.Tx, lim *guard.Limits, e *audit.Entry, acc *guard.Access) (*readResult, error) {
		if pseudonym != "" {
			s, err := tx.ResolvePseudonym(ctx, a.Sector, pseudonym)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
			if s != "" {
				e.Subject = s // the audit log keeps the real id
			}
		}
		r, err := v.reach(ctx, tx, lim, a, e, acc, x.pre)
		if r == nil || err != nil {
			return nil, err
		}
		e.Fields = returned(fields, r.Fields)
		res := &readResult{row: r}
		if asks {
			return res, v.findConsent(ctx, tx, a, pu, x.now, e, res)
		}
		return res, nil
	}
	if breakGlass || asks {
		x.write = func(ctx context.Context, tx store.Tx, res *readResult, e *audit.Entry) (*readResult, error) {
			switch {
			case res == nil:
				return nil, nil
			case breakGlass:
				e.Decision = "allow:break_glass"
				return res, nil
			}
			return res, v.writeConsent(ctx, tx, a, pu, x.now, e, res)
		}
	}
	if breakGlass {
		// The person is told at once, whatever the purpose's notice mode.
		x.notice = policy.NoticeImmediate
		x.audited = func(ctx context.Context, tx store.Tx, res *readResult, e *audit.Entry) error {
			if res == nil {
				return nil
			}
			now := x.now.UTC()
			return guard.RaiseAlert(ctx, tx, &guard.Alert{Time: now, Operator: a.ID, Code: guard.CodeBreakGlass, Severity: "high", Action: "alert", Evidence: []int64{e.Seq}})
		}
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
	if c := res.val.request; c != nil {
		return nil, &ConsentPending{Request: *c, New: res.val.opened}
	}
	out, err := v.view(res.val.row, shown, fields, res.seq, res.dk)
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
	eachKnownField(blob, shown, func(i int, _ []byte) error {
		if i < 64 {
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

// view opens the fields of row that pu shows, once the access's entry
// is durable; dk is the data key when sealing the entry's reason opened
// it already (nil: opened here).
func (v *Vault) view(row *subject.Row, pu *policy.Purpose, fields []string, seq int64, dk *envelope.DataKey) (*View, error) {
	if dk == nil {
		var err error
		if dk, err = v.keys.OpenDEK(row.ID, row.DEKVersion, row.DEK); err != nil {
			return nil, fmt.Errorf("open data key of %s: %w", row.ID, err)
		}
	}
	out := &View{ID: row.ID, Unit: row.Unit, Purpose: pu.Name, Fields: make(map[string]string, len(fields)), Masked: []string{}, AuditSeq: seq}
	// fields are those pu shows: any other is never decrypted. Each value
	// is opened into one buffer, wiped after.
	var pt []byte
	err := eachKnownField(row.Fields, fields, func(i int, ct []byte) error {
		name := fields[i]
		t := pu.Fields[name]
		if t.Action == policy.Deny {
			return nil
		}
		var err error
		if pt, err = dk.AppendOpen(pt[:0], name, ct); err != nil {
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
	clear(pt[:cap(pt)])
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
		return "", v.deny(ctx, a, entry, err)
	}
	if err := v.can(a, policy.PermLookup); err != nil {
		return "", v.deny(ctx, a, entry, err)
	}
	if err := v.checkReason(reason); err != nil {
		return "", v.deny(ctx, a, entry, err)
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
		return "", v.deny(ctx, a, entry, err)
	}
	norm := value.Normalize(f.Type, val)
	h := v.keys.BlindIndex(field, norm) // the active generation's
	key := valueKey(norm)
	x := attempt[string]{actor: a, entry: entry, now: v.now(), guard: guard.Access{Kind: guard.Lookup}, valueKey: &key}
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
		unit := func() (string, error) {
			r, err := tx.GetSubject(ctx, found)
			if err != nil {
				return "", err
			}
			return r.Unit, nil
		}
		if err := v.limited(ctx, tx, a, found, unit, e); err != nil {
			return "", err
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
	row *subject.Row
	entries
	in map[string]string // the fields given, by name (nil once an import batch holds it)
	// cell is the record's statistics cell ("" when none are declared).
	cell string
}

// entries are a subject's blind index entries under the generations a
// keyring snapshot writes: the active generation's (hashes), which
// lookups use and whose conflicts refuse a write, and, while the index
// is rebuilt or just after the switch, another generation's (also; see
// package reindex).
type entries struct {
	blind  *envelope.Blind
	hashes [][]byte
	also   [][]byte
}

func (e *entries) add(field, normalised string) {
	h, also := e.blind.Hashes(field, normalised)
	e.hashes = append(e.hashes, h)
	if also != nil {
		e.also = append(e.also, also)
	}
}

// putAlso writes the other generation's entries of subject id. The
// active generation's entries of the same values are id's, so an entry
// of the same hash in the other generation is stale (a write that missed
// it): it is replaced.
func (e *entries) putAlso(ctx context.Context, tx subject.Indexes, id string) error {
	for _, h := range e.also {
		if err := tx.DeleteIndex(ctx, h); err != nil {
			return err
		}
		if err := tx.PutIndex(ctx, e.blind.Also(), h, id); err != nil {
			return fmt.Errorf("put index of generation %d: %v", e.blind.Also(), err)
		}
	}
	return nil
}

// delete removes the entries of every generation.
func (e *entries) delete(ctx context.Context, tx subject.Indexes) error {
	for _, h := range slices.Concat(e.hashes, e.also) {
		if err := tx.DeleteIndex(ctx, h); err != nil {
			return err
		}
	}
	return nil
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

// seal encrypts validated fields for a new subject, with its blind index
// entries under the generations of b.
func (v *Vault) seal(blind *envelope.Blind, id, unit string, fields map[string]string, now time.Time) (*sealed, error) {
	dk, wrapped, err := v.keys.NewDEK(id)
	if err != nil {
		return nil, err
	}
	s := &sealed{row: &subject.Row{ID: id, Unit: unit, DEK: wrapped, DEKVersion: dk.Version(), Created: now, Updated: now}, in: fields, entries: entries{blind: blind}}
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
			s.add(f.Name, value.Normalize(f.Type, canon))
		}
	}
	s.row.Fields = b
	if v.stats.Enabled() {
		s.cell = v.CellOf(s.row, v.dimensionValues(fields))
	}
	return s, nil
}

// dimensionValues returns the fields the statistics' dimensions read,
// canonical as stored.
func (v *Vault) dimensionValues(fields map[string]string) map[string]string {
	out := map[string]string{}
	for _, name := range v.statFields {
		if val, ok := fields[name]; ok {
			f, _ := v.pol.Field(name)
			out[name] = value.Canonical(f.Type, val)
		}
	}
	return out
}

// put stores a sealed subject in tx: its active generation's index
// entries first, so that a lookup value already taken fails before
// anything else is written. On such a conflict put removes the entries it
// added and returns ErrConflict, so the caller may go on with the same
// transaction (the bulk import does). When the keyring's generations
// changed since s was sealed (a rebuild began or switched), the entries
// are made again under the current ones first.
func (v *Vault) put(ctx context.Context, tx records, s *sealed) error {
	if err := v.refresh(s); err != nil {
		return err
	}
	for i, h := range s.hashes {
		if err := tx.PutIndex(ctx, s.blind.Active(), h, s.row.ID); err != nil {
			if !errors.Is(err, store.ErrConflict) {
				return err
			}
			for _, added := range s.hashes[:i] {
				if err := tx.DeleteIndex(ctx, added); err != nil {
					return err
				}
			}
			return conflict("a lookup value (one of %s) already belongs to another subject", strings.Join(s.names(), ", "))
		}
	}
	if err := s.putAlso(ctx, tx, s.row.ID); err != nil {
		return err
	}
	return tx.PutSubject(ctx, s.row)
}

// refresh makes s's entries again, from its sealed fields, when the
// keyring's generations are no longer those s was sealed with.
func (v *Vault) refresh(s *sealed) error {
	b := v.keys.Blind()
	if b.Same(s.blind) {
		return nil
	}
	e, err := v.rowEntries(b, s.row)
	if err != nil {
		return err
	}
	s.entries = e
	return nil
}

// rowEntries returns the blind index entries of a stored subject's
// lookup fields under the generations of b.
func (v *Vault) rowEntries(b *envelope.Blind, row *subject.Row) (entries, error) {
	dk, err := v.keys.OpenDEK(row.ID, row.DEKVersion, row.DEK)
	if err != nil {
		return entries{}, fmt.Errorf("open data key of %s: %w", row.ID, err)
	}
	cts, err := sealedFields(row.Fields)
	if err != nil {
		return entries{}, err
	}
	return v.entriesOf(b, dk, cts)
}

// entriesOf returns the blind index entries of a subject's sealed fields
// under the generations of b.
func (v *Vault) entriesOf(b *envelope.Blind, dk *envelope.DataKey, cts map[string][]byte) (entries, error) {
	e := entries{blind: b}
	for _, name := range v.pol.LookupFields() {
		ct, ok := cts[name]
		if !ok {
			continue
		}
		pt, err := dk.Open(name, ct)
		if err != nil {
			return entries{}, fmt.Errorf("open field %s: %w", name, err)
		}
		f, _ := v.pol.Field(name)
		e.add(name, value.Normalize(f.Type, string(pt)))
	}
	return e, nil
}

// IndexHashes returns the blind index entries of a live subject's lookup
// fields under generation gen, which the keyring must hold: what a
// rebuild of the index (package reindex) adds for the subject.
func (v *Vault) IndexHashes(row *subject.Row, gen uint32) ([][]byte, error) {
	dk, err := v.keys.OpenDEK(row.ID, row.DEKVersion, row.DEK)
	if err != nil {
		return nil, fmt.Errorf("open data key of %s: %w", row.ID, err)
	}
	cts, err := sealedFields(row.Fields)
	if err != nil {
		return nil, fmt.Errorf("fields of %s: %w", row.ID, err)
	}
	b := v.keys.Blind()
	var out [][]byte
	for _, name := range v.pol.LookupFields() {
		ct, ok := cts[name]
		if !ok {
			continue
		}
		pt, err := dk.Open(name, ct)
		if err != nil {
			return nil, fmt.Errorf("open field %s of %s: %w", name, row.ID, err)
		}
		f, _ := v.pol.Field(name)
		h, err := b.Hash(gen, name, value.Normalize(f.Type, string(pt)))
		clear(pt)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

// sealedFields decodes a subject's fields blob into a map.
func sealedFields(blob []byte) (map[string][]byte, error) {
	cts := map[string][]byte{}
	err := eachField(blob, func(name string, ct []byte) error { cts[name] = ct; return nil })
	return cts, err
}

// reach is the find step of an access to one subject by id (e.Subject):
// reachRow's, then the limits the person set on the record
// ([Vault.limited]).
func (v *Vault) reach(ctx context.Context, tx store.Tx, lim *guard.Limits, a identity.Actor, e *audit.Entry, acc *guard.Access, pre *preread) (*subject.Row, error) {
	if r := pre.row(tx, e.Subject); r != nil {
		r, err := reached(ctx, tx, lim, a, e, acc, r, nil)
		if err != nil {
			return nil, err
		}
		if err := v.limitedBy(pre.limits, a, func() (string, error) { return r.Unit, nil }, e); err != nil {
			return nil, err
		}
		return r, nil
	}
	r, err := reachRow(ctx, tx, lim, a, e, acc)
	if r == nil || err != nil {
		return r, err
	}
	if err := v.limited(ctx, tx, a, r.ID, func() (string, error) { return r.Unit, nil }, e); err != nil {
		return nil, err
	}
	return r, nil
}

// reachRow finds one subject by id (e.Subject): the row, or nil and a
// not-found decision (a miss for the guard) when it is not there or
// erased; and what the guard knows of it, with its scope when the guard
// runs.
func reachRow(ctx context.Context, tx store.Tx, lim *guard.Limits, a identity.Actor, e *audit.Entry, acc *guard.Access) (*subject.Row, error) {
	r, err := tx.GetSubject(ctx, e.Subject)
	return reached(ctx, tx, lim, a, e, acc, r, err)
}

// reached is reachRow's decision on r, the subject's row as read (err:
// GetSubject's error).
func reached(ctx context.Context, tx store.Tx, lim *guard.Limits, a identity.Actor, e *audit.Entry, acc *guard.Access, r *subject.Row, err error) (*subject.Row, error) {
	if errors.Is(err, store.ErrNotFound) || err == nil && r.Gone() {
		e.Decision, e.Fields, acc.Missing = "deny:not_found", nil, true
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	acc.Subject, acc.Created, acc.Canary = r.ID, r.Seq, r.Canary
	if lim != nil {
		acc.Scope, err = scope(ctx, tx, lim, a, r.ID, r.Unit, acc.Time)
	}
	return r, err
}

// Create stores a new subject and returns its id.
//
// A create is an access like any other: in the operator's own unit
// (unless the role's limits say all_units), within the role's creates per
// day. A create whose lookup value is taken answers ErrConflict, which
// tells the caller the value exists: a lookup by other means. The guard
// therefore counts a create that sets a lookup field as a lookup, refuses
// every such create, conflicting or not, once the lookup budget is spent,
// so that a refusal gives nothing away either, and counts a conflict as a
// probe.
func (v *Vault) Create(ctx context.Context, a identity.Actor, unit string, fields map[string]string) (string, error) {
	entry := audit.Entry{Actor: a.ID, Action: "create", Origin: a.Origin}
	if err := v.can(a, policy.PermCreate); err != nil {
		return "", v.deny(ctx, a, entry, err)
	}
	if err := v.checkFields(unit, fields); err != nil {
		return "", v.deny(ctx, a, entry, err)
	}
	lim := v.limits(a.Role)
	switch {
	case lim == nil || unit == a.Unit:
	case !lim.AllUnits:
		return "", v.deny(ctx, a, entry, forbidden("you create people in your own unit (%s) only", a.Unit))
	default:
		// An all_units role may create in any unit that has staff, so that
		// a typo does not start a unit of its own.
		var exists bool
		if err := v.store.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
			exists, err = tx.UnitExists(ctx, unit)
			return err
		}); err != nil {
			return "", unavailable(err)
		}
		if !exists {
			return "", v.deny(ctx, a, entry, invalid("unit %q does not exist: no operator belongs to it", unit))
		}
	}
	now := v.now().UTC()
	ids, err := v.newSubjectIDs(ctx, 1)
	if err != nil {
		return "", err
	}
	s, err := v.seal(v.keys.Blind(), ids[0], unit, fields, now)
	if err != nil {
		return "", err
	}
	x := attempt[string]{actor: a, entry: entry, now: now, guard: guard.Access{Kind: guard.Create, Probes: len(s.hashes) > 0}}
	x.find = func(_ context.Context, _ store.Tx, _ *guard.Limits, e *audit.Entry, _ *guard.Access) (string, error) {
		e.Fields = s.names()
		return "", nil
	}
	x.write = func(ctx context.Context, tx store.Tx, _ string, e *audit.Entry) (string, error) {
		if err := v.put(ctx, tx, s); err != nil {
			return "", err
		}
		if err := v.countLive(ctx, tx, map[string]int64{s.cell: 1}); err != nil {
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

// Update changes fields of a subject for a write purpose, which must list
// every field changed under its updates: a value sets a field, nil
// removes it. Changing a contact or lookup field needs a reason. An update
// is an access: the subject's scope (a reason outside one's unit), the
// role's update budgets, and, when it sets a lookup value (which tells
// whether someone holds it), the lookup budget, as for creates.
//
// A change of a contact field (email or phone: where notices and sign-in
// go) does not take effect at once: it joins the person's pending contact
// change (package contact), sealed under their data key, the address it
// replaces is told, and it takes effect after the cooling-off
// (Config.ContactCoolingOff), when ApplyContactChanges applies it; the
// record and its blind index keep the current values until then. The
// other fields change at once. Updated says which did and what waits.
func (v *Vault) Update(ctx context.Context, a identity.Actor, id, purposeName, reason string, changes map[string]*string) (Updated, error) {
	entry := audit.Entry{Actor: a.ID, Action: "update", Subject: id, Purpose: purposeName, Reason: reason, Origin: a.Origin}
	if !subjectid.Valid(id) {
		entry.Subject = ""
		return Updated{}, v.deny(ctx, a, entry, invalid("malformed subject id"))
	}
	if err := v.can(a, policy.PermUpdate); err != nil {
		return Updated{}, v.deny(ctx, a, entry, err)
	}
	if err := v.checkReason(reason); err != nil {
		return Updated{}, v.deny(ctx, a, entry, err)
	}
	pu, err := v.purpose(a, purposeName, reason)
	if err != nil {
		return Updated{}, v.deny(ctx, a, entry, err)
	}
	probes, err := v.checkChanges(pu, reason, changes)
	if err != nil {
		return Updated{}, v.deny(ctx, a, entry, err)
	}
	entry.Fields = slices.Sorted(maps.Keys(changes))
	now, later := v.splitContact(changes)
	x := attempt[*updateResult]{actor: a, entry: entry, now: v.now(), guard: guard.Access{Kind: guard.Update, Probes: probes}, purpose: pu}
	if len(now) == 0 {
		// Only contact fields, which wait: the person is told by the
		// change's own message (to the old address), not by a notice.
		x.notice = policy.NoticeHistory
	}
	x.find = func(ctx context.Context, tx store.Tx, lim *guard.Limits, e *audit.Entry, acc *guard.Access) (*updateResult, error) {
		r, err := v.reach(ctx, tx, lim, a, e, acc, nil)
		if r == nil || err != nil {
			return nil, err
		}
		return &updateResult{row: r}, nil
	}
	x.write = func(ctx context.Context, tx store.Tx, res *updateResult, e *audit.Entry) (*updateResult, error) {
		if res == nil {
			return nil, nil
		}
		at := x.now.UTC()
		var p *pendingChange
		if len(later) > 0 {
			// Before anything is written: its conflicts refuse the update.
			var err error
			if p, err = v.prepareContact(ctx, tx, res.row, later, at); err != nil {
				return nil, err
			}
		}
		if len(now) > 0 {
			if err := v.change(ctx, tx, res.row, now, at); err != nil {
				return nil, err
			}
		}
		out := &updateResult{row: res.row, applied: slices.Sorted(maps.Keys(now))}
		if p != nil {
			if err := writeContact(ctx, tx, a, pu, p, at, e); err != nil {
				return nil, err
			}
			out.pending = cmp.Or(p.change, p.same)
		}
		return out, nil
	}
	res, err := run(ctx, v, x)
	switch {
	case err != nil:
		return Updated{}, unavailable(err)
	case res.refusal != nil:
		return Updated{}, res.refusal
	case res.val == nil:
		return Updated{}, public.Errorf(store.ErrNotFound, "no such subject, or it was erased")
	}
	return updated(res.val), nil
}

// checkChanges validates the changes of an update under purpose pu, and
// reports whether they set a lookup value.
func (v *Vault) checkChanges(pu *policy.Purpose, reason string, changes map[string]*string) (probes bool, err error) {
	if len(changes) == 0 {
		return false, &FieldError{Field: "fields", Reason: "no field to change"}
	}
	needsReason := false
	for _, name := range slices.Sorted(maps.Keys(changes)) {
		val := changes[name]
		f, ok := v.pol.Field(name)
		switch {
		case !ok:
			return false, &FieldError{Field: name, Reason: "no such field in the schema"}
		case !pu.MayUpdate(name):
			return false, forbidden("purpose %q may not change field %q", pu.Name, name)
		case val == nil && f.Required:
			return false, &FieldError{Field: name, Reason: "required: cannot be removed"}
		case val != nil:
			if err := value.Validate(f, *val); err != nil {
				return false, fieldError(name, err)
			}
		}
		probes = probes || f.Lookup && val != nil
		needsReason = needsReason || f.Lookup || f.Sensitivity == policy.Contact
	}
	if needsReason && strings.TrimSpace(reason) == "" {
		return false, public.Errorf(access.ErrReasonRequired, "changing a contact or lookup field needs a reason")
	}
	return probes, nil
}

// change applies changes to row in tx. A lookup value another subject
// holds refuses the change before anything is written (ErrConflict). The
// row is written before its index entries, so that a rebuild's pass,
// which locks the row before adding entries, either finds it changed or
// adds entries this change then deletes (reindex.Index.AddIndexes).
func (v *Vault) change(ctx context.Context, tx store.Tx, row *subject.Row, changes map[string]*string, now time.Time) error {
	dk, err := v.keys.OpenDEK(row.ID, row.DEKVersion, row.DEK)
	if err != nil {
		return err
	}
	cts, err := sealedFields(row.Fields)
	if err != nil {
		return err
	}
	b := v.keys.Blind()
	old, err := v.entriesOf(b, dk, cts)
	if err != nil {
		return err
	}
	before, after, err := v.changedCell(row, func(name string) (string, bool, error) {
		ct, ok := cts[name]
		if !ok {
			return "", false, nil
		}
		pt, err := dk.Open(name, ct)
		return string(pt), true, err
	}, changes)
	if err != nil {
		return err
	}
	if err := v.countLive(ctx, tx, moveCell(before, after)); err != nil {
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
	if !reindex {
		row.Fields, row.Updated = encodeFields(cts), now
		return tx.ReplaceSubject(ctx, row)
	}
	next, err := v.entriesOf(b, dk, cts)
	if err != nil {
		return err
	}
	for _, h := range next.hashes {
		switch owner, err := tx.LookupIndex(ctx, h); {
		case err == nil && owner != row.ID:
			return conflict("a changed lookup value already belongs to another subject")
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return err
		}
	}
	row.Fields, row.Updated = encodeFields(cts), now
	if err := tx.ReplaceSubject(ctx, row); err != nil {
		return err
	}
	if err := old.delete(ctx, tx); err != nil {
		return err
	}
	for _, h := range next.hashes {
		if err := tx.PutIndex(ctx, b.Active(), h, row.ID); err != nil {
			// Checked free above: only a concurrent writer takes it,
			// and the whole transaction fails.
			return fmt.Errorf("put index: %v", err)
		}
	}
	return next.putAlso(ctx, tx, row.ID)
}

// Erase crypto-shreds a subject: its wrapped data key and ciphertexts are
// destroyed, its index entries removed; a tombstone and the audit trail
// stay. Nothing can recover the record afterwards. An erasure is a
// deliberate act: the erase permission, a reason, the subject's scope, and
// the role's erasures per day, beyond which a supervisor's approved
// extension is needed.
func (v *Vault) Erase(ctx context.Context, a identity.Actor, id, reason string) error {
	entry := audit.Entry{Actor: a.ID, Action: "erase", Subject: id, Reason: reason, Origin: a.Origin}
	if !subjectid.Valid(id) {
		entry.Subject = ""
		return v.deny(ctx, a, entry, invalid("malformed subject id"))
	}
	if err := v.checkReason(reason); err != nil {
		return v.deny(ctx, a, entry, err)
	}
	if err := v.can(a, policy.PermErase); err != nil {
		return v.deny(ctx, a, entry, err)
	}
	if strings.TrimSpace(reason) == "" {
		return v.deny(ctx, a, entry, public.Errorf(access.ErrReasonRequired, "an erasure needs a reason"))
	}
	x := attempt[*subject.Row]{actor: a, entry: entry, now: v.now(), guard: guard.Access{Kind: guard.Erase}}
	x.find = func(ctx context.Context, tx store.Tx, lim *guard.Limits, e *audit.Entry, acc *guard.Access) (*subject.Row, error) {
		row, err := v.reach(ctx, tx, lim, a, e, acc, nil)
		if err != nil {
			return nil, err
		}
		// A held record is not erased: refused before the guard's
		// budgets, audited deny:legal_hold.
		return row, refuseHeld(ctx, tx, row, e)
	}
	x.write = func(ctx context.Context, tx store.Tx, row *subject.Row, _ *audit.Entry) (*subject.Row, error) {
		if row == nil {
			return nil, nil
		}
		err := v.eraseRow(ctx, tx, a, row, x.now.UTC())
		if errors.Is(err, errErasedMeanwhile) { // nothing written
			return nil, refuse("deny:not_found", public.Errorf(store.ErrNotFound, "no such subject, or it was erased"))
		}
		return row, err
	}
	return v.finishWrite(ctx, x)
}

// errErasedMeanwhile: eraseRow found the row erased already (by another
// node since it was read), and wrote nothing.
var errErasedMeanwhile = errors.New("erased meanwhile")

// eraseRow crypto-shreds row in tx: its wrapped key and ciphertexts,
// then its index entries; the limits on it go, and the person's requests
// still open are closed (the record they are about is gone). The erasure
// of a request a handler accepts takes this path too. Its callers refuse
// a held row before (refuseHeld); should one not, the hold still stops
// the erasure here, failing the whole transaction.
func (v *Vault) eraseRow(ctx context.Context, tx store.Tx, a identity.Actor, row *subject.Row, now time.Time) error {
	if err := Held(ctx, tx, row.ID); err != nil {
		return fmt.Errorf("erase %s: %w", row.ID, err)
	}
	e, err := v.rowEntries(v.keys.Blind(), row)
	if err != nil {
		return err
	}
	// Its cell, while its key can still open its fields (the row read).
	cell, err := v.rowCell(row)
	if err != nil {
		return err
	}
	// The row first (see change), before anything is counted: erased
	// meanwhile (another node), it is errErasedMeanwhile with nothing
	// written.
	switch err := tx.EraseSubject(ctx, row.ID, now); {
	case errors.Is(err, store.ErrNotFound):
		return errErasedMeanwhile
	case err != nil:
		return err
	}
	if err := v.countLive(ctx, tx, map[string]int64{cell: -1}); err != nil {
		return err
	}
	if err := e.delete(ctx, tx); err != nil {
		return err
	}
	return forget(ctx, tx, a, row.ID, now)
}

// forget ends what hangs on an erased record id: the limits on it, a
// pending change of its contact (sealed by the key that is gone), and
// the person's open requests, closed by a.
func forget(ctx context.Context, tx store.Tx, a identity.Actor, id string, now time.Time) error {
	if err := tx.ClearLimits(ctx, id); err != nil {
		return err
	}
	// A pending contact change dies with the data key that seals it.
	switch c, err := tx.PendingContactChange(ctx, id); {
	case err == nil:
		if err := tx.CloseContactChange(ctx, c.ID, contact.StatusPending, contact.StatusCancelled, now); err != nil {
			return fmt.Errorf("close contact change: %w", err)
		}
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	rs, err := tx.SubjectRequests(ctx, id)
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r.Open() {
			r.Status, r.Decided, r.DecidedBy = rights.Closed, now, a.ID
			if err := tx.UpdateRequest(ctx, &r); err != nil {
				return err
			}
		}
	}
	return nil
}

// finishWrite runs an update or erasure and returns what its caller does.
func (v *Vault) finishWrite(ctx context.Context, x attempt[*subject.Row]) error {
	res, err := run(ctx, v, x)
	switch {
	case err != nil:
		return unavailable(err)
	case res.refusal != nil:
		return res.refusal
	case res.val == nil:
		return public.Errorf(store.ErrNotFound, "no such subject, or it was erased")
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
		return nil, v.deny(ctx, a, entry, err)
	}
	if from < 1 || to <= from {
		return nil, invalid("want 1 ≤ from < to")
	}
	return listAudited(ctx, v, entry, func(ctx context.Context, tx store.Tx) ([]audit.Entry, error) {
		out, err := tx.AuditEntries(ctx, from, to, MaxAuditPage)
		if err != nil {
			return nil, err
		}
		return out, v.openReasons(ctx, tx, out)
	})
}

// Refused audits a request of an authenticated operator that was refused
// before it reached the vault (a malformed id, purpose header or body):
// probing leaves a trace too. route names the endpoint pattern, never the
// raw path or any value sent.
func (v *Vault) Refused(ctx context.Context, a identity.Actor, route string) {
	v.deny(ctx, a, audit.Entry{Actor: a.ID, Action: "refused", Reason: route, Origin: a.Origin}, access.ErrInvalid)
}

// Seal audits a seal by a: refused (and audited) without the seal
// permission; with it, the entry "seal" is committed in its own
// transaction before Seal returns, so that the caller drops the keys only
// once the seal is on the record. The same transaction sets the store's
// seal flag (seal.Flag), which every other unsealed node of the
// deployment watches. A store that cannot take the entry
// leaves the vault unsealed (the caller can retry, or stop the process).
func (v *Vault) Seal(ctx context.Context, a identity.Actor, reason string) error {
	entry := audit.Entry{Actor: a.ID, Action: "seal", Reason: reason, Origin: a.Origin}
	if err := v.can(a, policy.PermSeal); err != nil {
		return v.deny(ctx, a, entry, err)
	}
	_, err := update(ctx, v.store, func(ctx context.Context, tx store.Tx) (struct{}, error) {
		e := entry
		e.Time, e.Decision = v.now().UTC(), "allow"
		if err := tx.MarkSealed(ctx, e.Time); err != nil {
			return struct{}{}, err
		}
		return struct{}{}, tx.AppendAudit(ctx, &e)
	})
	if err != nil {
		return unavailable(err)
	}
	return nil
}

// SealByQuorum audits a seal by M share holders (configuration seal.by:
// quorum) and marks the deployment sealed, in one transaction: no
// account's permission is involved, the shares are the authority. set is
// the share set, the entry's actor "quorum:" and set.
func (v *Vault) SealByQuorum(ctx context.Context, set, reason, origin string) error {
	_, err := update(ctx, v.store, func(ctx context.Context, tx store.Tx) (struct{}, error) {
		e := audit.Entry{Time: v.now().UTC(), Actor: "quorum:" + set, Action: "seal", Reason: reason, Decision: "allow", Origin: origin}
		if err := tx.MarkSealed(ctx, e.Time); err != nil {
			return struct{}{}, err
		}
		return struct{}{}, tx.AppendAudit(ctx, &e)
	})
	if err != nil {
		return unavailable(err)
	}
	return nil
}
