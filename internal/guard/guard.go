package guard

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"time"
)

// Scope is where a subject stands relative to the operator.
type Scope int

// Scopes, from ordinary to exceptional.
const (
	InCaseload Scope = iota // assigned to the operator
	InUnit                  // the operator's unit, not assigned
	OutOfUnit               // another unit: needs a reason
)

// Kind is the kind of access.
type Kind int

// Kinds of access.
const (
	Read Kind = iota
	Lookup
	Create // a new subject
	Update // a change of a subject's fields
	Erase  // a subject crypto-shredded
	Assign // subjects assigned to an operator's caseload (Access.Count of them)
	Admin  // an administrative act (Access.Act says which)
)

// Act is an administrative act: each has a budget per day.
type Act int

// Administrative acts.
const (
	ActOperator    Act = iota + 1 // an operator created
	ActRole                       // a role granted (or a disabled account enabled)
	ActFactorReset                // an operator's second factors reset
	ActPartner                    // partner credentials issued
	ActOther                      // other administration: no budget of its own
	ActRefused                    // an act refused before its transaction: counted towards the hard margin
)

// Access is one request as the guard sees it: no personal value.
type Access struct {
	Time    time.Time // in the guard's time zone
	Kind    Kind
	Subject string // read: the id asked; lookup: the id found, if any
	// Created orders subjects by creation (the store's insertion time).
	Created int64
	Scope   Scope
	Canary  bool
	// Missing: a read of an unknown id, or a lookup that found nothing.
	Missing bool
	// Trusted: the origin is inside the trusted networks.
	Trusted bool
	// Origin is the client address; only its hash is kept.
	Origin string
	// ValueRun is the length of the run of lookup values in one order
	// (lookups only), as State.NoteValue counted it.
	ValueRun int
	// Probes: a create or update that sets a value of a lookup field. It
	// tells whether the value is taken (a conflict), so it is counted as a
	// lookup too.
	Probes bool
	// Act is the administrative act of an Admin access.
	Act Act
	// Count is how many subjects an assignment (Assign) covers; zero for
	// a removal, which costs a request and no budget.
	Count int
	// BreakGlass: an emergency read without the person's consent. It
	// counts against BreakGlassPerDay, repeat visit or not.
	BreakGlass bool
}

// Verdict is what the guard decides.
type Verdict int

// Verdicts.
const (
	Allow Verdict = iota
	Limit         // soft limit: refuse with 429 and Retry-After
	Lock          // lock the account
)

// Decision is the guard's answer for one access.
type Decision struct {
	Verdict    Verdict
	Code       string        // reason code of a Limit or Lock
	RetryAfter time.Duration // for Limit
	// Alert names a detector that fired without locking (new_origin).
	Alert string
	// Extension: allowed beyond a budget under an approved extension.
	Extension string
}

// Reason codes.
const (
	CodeCanary        = "canary"
	CodeRate          = "rate"
	CodeOffHours      = "off_hours"
	CodeSubjectsHour  = "subjects_per_hour"
	CodeSubjectsDay   = "subjects_per_day"
	CodeOutOfCaseload = "out_of_caseload"
	CodeOutOfUnit     = "out_of_unit"
	CodeUntrusted     = "untrusted_origin"
	CodeLookups       = "lookups_per_hour"
	CodeProbing       = "probing"
	CodeVelocity      = "velocity"
	CodeEnumeration   = "enumeration"
	CodeCreationOrder = "creation_order"
	CodeValueOrder    = "lookup_value_order"
	CodeNewOrigin     = "new_origin"
	CodeCreates       = "creates_per_day"
	CodeUpdatesHour   = "updates_per_hour"
	CodeUpdatesDay    = "updates_per_day"
	CodeErasures      = "erasures_per_day"
	CodeAssignments   = "assignments_per_day"
	CodeConflicts     = "conflicts"
	CodeRefusals      = "refusals"
	CodeOperators     = "operators_per_day"
	CodeRoles         = "roles_per_day"
	CodeFactorResets  = "factor_resets_per_day"
	CodePartners      = "partners_per_day"
	CodeAdminBurst    = "admin_burst"     // alert: many acts within an hour
	CodeAdminOffHours = "admin_off_hours" // alert: an act outside the hours
	CodeBreakGlass    = "break_glass"     // an emergency read: its budget, and the alert each raises
	// CodeManual is the lock a security officer sets by hand (no detector
	// decides it, and it never lifts with time).
	CodeManual = "manual"
)

// State is one operator's guard state, kept in the store. Counters belong
// to the hour and day they name.
type State struct {
	Tokens   float64
	TokensAt int64 // unix microseconds
	Hour     int64 // hours since the epoch
	Day      int64 // days since the epoch, in the guard's time zone

	HourSubjects, HourLookups, HourMisses, HourOver int
	DaySubjects, DayOutOfCaseload, DayOutOfUnit     int
	DayUntrusted                                    int
	// Writes: updates this hour; creates, updates and erasures today.
	HourUpdates                         int
	DayCreates, DayUpdates, DayErasures int
	// DayAssignments counts subjects assigned to caseloads today.
	DayAssignments int
	// DayBreakGlass counts today's emergency reads without consent.
	DayBreakGlass int
	// Administration: acts this hour; operators created, roles granted,
	// factors reset and partners registered today.
	HourAdmin                                      int
	DayOperators, DayRoles, DayResets, DayPartners int

	Recent      []int64 // unix seconds of the latest new subjects (velocity)
	LastID      uint64  // order key of the last new subject's id
	IDRun       int     // + ascending run, - descending run
	LastCreated int64
	CreatedRun  int
	Origins     []uint64 // hashes of the origins seen, newest last
	Evidence    []int64  // audit sequence numbers of the latest accesses

	// Visits are the subjects read today (see visits.go): a repeat
	// visit is free.
	Visits []byte
	// The order of lookup values: the run the latest lookups make, and
	// the latest value's order key, sealed by the caller (NoteValue).
	ValueRun  int
	ValueLast []byte

	// An approved extension: Remaining subjects beyond the budgets until
	// Until (unix seconds).
	ExtID        string
	ExtRemaining int
	ExtUntil     int64

	// Locked is the reason code of the lock, "" when not locked. The
	// operator row holds the lock too (for logins); this copy lets the
	// access transaction refuse without reading it.
	Locked string
}

const (
	maxOrigins  = 16
	maxEvidence = 16
	maxRecent   = 64
)

// originKey is the stored form of an origin address.
func originKey(origin string) uint64 {
	h := sha256.Sum256([]byte(origin))
	return binary.BigEndian.Uint64(h[:8])
}

// Decide applies lim to one access and returns the decision and the new
// state. The state passed in is not modified.
func Decide(lim *Limits, st State, a Access) (Decision, State) {
	now := a.Time
	originKey := originKey(a.Origin)
	if st.Locked != "" {
		return Decision{Verdict: Lock, Code: st.Locked}, st
	}
	st.roll(now)
	st.Recent = append([]int64(nil), st.Recent...)
	st.Origins = append([]uint64(nil), st.Origins...)
	st.Evidence = append([]int64(nil), st.Evidence...)

	// Detectors that lock at once.
	if a.Canary {
		return Decision{Verdict: Lock, Code: CodeCanary}, st
	}
	var d Decision
	if !containsU(st.Origins, originKey) {
		if len(st.Origins) > 0 && !a.Trusted {
			d.Alert = CodeNewOrigin
		}
		st.Origins = append(st.Origins, originKey)
		if len(st.Origins) > maxOrigins {
			st.Origins = st.Origins[1:]
		}
	}

	limit := func(code string, retry time.Duration) (Decision, State) {
		st.HourOver++
		if lim.HardMargin > 0 && st.HourOver >= lim.HardMargin {
			return Decision{Verdict: Lock, Code: code, Alert: d.Alert}, st
		}
		if retry < time.Second {
			retry = time.Second
		}
		return Decision{Verdict: Limit, Code: code, RetryAfter: retry, Alert: d.Alert}, st
	}

	if !lim.Hours.Open(now) {
		if a.Kind == Admin {
			d.Alert = CodeAdminOffHours // outside office hours: refused, and said
		}
		return limit(CodeOffHours, lim.Hours.Next(now).Sub(now))
	}
	if lim.Rate > 0 {
		last := time.UnixMicro(st.TokensAt)
		if st.TokensAt == 0 {
			st.Tokens = lim.Burst
		} else if el := now.Sub(last).Seconds(); el > 0 {
			st.Tokens = min(lim.Burst, st.Tokens+el*lim.Rate)
		}
		st.TokensAt = now.UnixMicro()
		if st.Tokens < 1 {
			return limit(CodeRate, time.Duration((1-st.Tokens)/lim.Rate*float64(time.Second)))
		}
		st.Tokens--
	}

	if a.Kind == Admin {
		return decideAdmin(lim, st, a, d, limit)
	}
	if a.Kind >= Create {
		return decideWrite(lim, st, a, d, limit)
	}
	if a.Kind == Lookup {
		st.HourLookups++
		if over(lim.LookupsPerHour, st.HourLookups) {
			st.HourLookups--
			return limit(CodeLookups, nextHour(now))
		}
		if a.Missing {
			st.HourMisses++
			if over(lim.MissesPerHour, st.HourMisses) {
				return Decision{Verdict: Lock, Code: CodeProbing, Alert: d.Alert}, st
			}
		}
		if lim.EnumerationRun > 0 && a.ValueRun >= lim.EnumerationRun {
			return Decision{Verdict: Lock, Code: CodeValueOrder, Alert: d.Alert}, st
		}
		return d, st
	}

	if a.Missing {
		st.HourMisses++
		if over(lim.MissesPerHour, st.HourMisses) {
			return Decision{Verdict: Lock, Code: CodeProbing, Alert: d.Alert}, st
		}
		return d, st
	}
	if a.BreakGlass {
		// Before the repeat visit: an emergency read is never free.
		if st.DayBreakGlass++; over(lim.BreakGlassPerDay, st.DayBreakGlass) {
			// Refused, and said: an emergency beyond the day's share is
			// for the security officer to look at.
			st.DayBreakGlass--
			if d.Alert == "" {
				d.Alert = CodeBreakGlass
			}
			return limit(CodeBreakGlass, nextDay(now))
		}
	}
	repeat, repeatDay := st.visited(a.Subject, st.Hour)
	if repeat {
		return d, st // a repeat visit within the hour costs nothing more
	}

	// A new subject for the hour (and maybe the day): budgets.
	scope := a.Scope
	if lim.AllUnits {
		scope = InCaseload
	}
	next := st
	next.HourSubjects++
	var code string
	var retry time.Duration
	if over(lim.SubjectsPerHour, next.HourSubjects) {
		code, retry = CodeSubjectsHour, nextHour(now)
	}
	if !repeatDay {
		next.DaySubjects++
		switch scope {
		case InUnit:
			next.DayOutOfCaseload++
		case OutOfUnit:
			next.DayOutOfUnit++
		}
		if !a.Trusted {
			next.DayUntrusted++
		}
		tomorrow := nextDay(now)
		switch {
		case over(lim.SubjectsPerDay, next.DaySubjects):
			code, retry = CodeSubjectsDay, tomorrow
		case over(lim.OutOfCaseloadPerDay, next.DayOutOfCaseload):
			code, retry = CodeOutOfCaseload, tomorrow
		case over(lim.OutOfUnitPerDay, next.DayOutOfUnit):
			code, retry = CodeOutOfUnit, tomorrow
		case over(lim.UntrustedPerDay, next.DayUntrusted):
			code, retry = CodeUntrusted, tomorrow
		}
	}
	extended := false
	if code != "" {
		if st.ExtRemaining <= 0 || now.Unix() >= st.ExtUntil {
			return limit(code, retry)
		}
		next.ExtRemaining--
		extended = true
	}
	st = next
	st.visit(a.Subject, st.Hour)
	if extended {
		d.Extension = st.ExtID
	}

	// Velocity: new subjects within the window; under an extension, the
	// bound grows by the extension's pace (what is left of it over the
	// time left), so that an approved extension is read over its hours,
	// not in one burst.
	if lim.VelocitySubjects > 0 {
		// The state keeps maxRecent times: the bound stays under it.
		bound := min(lim.VelocitySubjects+extensionPace(st, now, lim.VelocityWindow), maxRecent-1)
		cut := now.Add(-lim.VelocityWindow).Unix()
		kept := st.Recent[:0]
		for _, t := range st.Recent {
			if t > cut {
				kept = append(kept, t)
			}
		}
		st.Recent = append(kept, now.Unix())
		if len(st.Recent) > maxRecent {
			st.Recent = st.Recent[len(st.Recent)-maxRecent:]
		}
		if len(st.Recent) > bound {
			return Decision{Verdict: Lock, Code: CodeVelocity, Alert: d.Alert}, st
		}
	}
	// Enumeration: runs in id order and in creation order.
	id := idKey(a.Subject)
	st.IDRun = run(st.IDRun, st.LastID, id, st.LastID != 0)
	st.LastID = id
	st.CreatedRun = run(st.CreatedRun, uint64(st.LastCreated), uint64(a.Created), st.LastCreated != 0)
	st.LastCreated = a.Created
	if lim.EnumerationRun > 0 { // under an extension too: it is never what one asked for
		switch {
		case abs(st.IDRun) >= lim.EnumerationRun:
			return Decision{Verdict: Lock, Code: CodeEnumeration, Alert: d.Alert}, st
		case abs(st.CreatedRun) >= lim.EnumerationRun:
			return Decision{Verdict: Lock, Code: CodeCreationOrder, Alert: d.Alert}, st
		}
	}
	return d, st
}

// extensionPace is how many new subjects within window an extension adds
// to the velocity bound: what is left of it spread over the time left,
// rounded up.
func extensionPace(st State, now time.Time, window time.Duration) int {
	left := st.ExtUntil - now.Unix()
	if left <= 0 || st.ExtRemaining <= 0 {
		return 0
	}
	return int((int64(st.ExtRemaining)*int64(window/time.Second) + left - 1) / left)
}

// decideWrite is Decide for creates, updates, erasures and assignments,
// once the canary, the hours and the rate let them through: a subject that
// is not there counts as a miss; then the budgets of the kind and, for a
// change of someone outside one's caseload or unit, the day's out-of-scope
// budgets, which reads share; a write that probes a lookup value counts as
// a lookup. An approved extension stretches the budgets as for reads, but
// never the assignments: it is granted for reading, and a caseload grown
// under it would outlive it.
func decideWrite(lim *Limits, st State, a Access, d Decision, limit func(string, time.Duration) (Decision, State)) (Decision, State) {
	now := a.Time
	if a.Missing {
		st.HourMisses++
		if over(lim.MissesPerHour, st.HourMisses) {
			return Decision{Verdict: Lock, Code: CodeProbing, Alert: d.Alert}, st
		}
		return d, st
	}
	next := st
	var code string
	var retry time.Duration
	tomorrow := nextDay(now)
	switch a.Kind {
	case Create:
		if next.DayCreates++; over(lim.CreatesPerDay, next.DayCreates) {
			code, retry = CodeCreates, tomorrow
		}
	case Update:
		next.HourUpdates++
		next.DayUpdates++
		switch {
		case over(lim.UpdatesPerHour, next.HourUpdates):
			code, retry = CodeUpdatesHour, nextHour(now)
		case over(lim.UpdatesPerDay, next.DayUpdates):
			code, retry = CodeUpdatesDay, tomorrow
		}
	case Erase:
		if next.DayErasures++; over(lim.ErasuresPerDay, next.DayErasures) {
			code, retry = CodeErasures, tomorrow
		}
	case Assign:
		if next.DayAssignments += a.Count; over(lim.AssignmentsPerDay, next.DayAssignments) {
			return limit(CodeAssignments, tomorrow)
		}
		return d, next
	}
	scope := a.Scope
	if lim.AllUnits {
		scope = InCaseload
	}
	if code == "" && a.Kind != Create {
		switch scope {
		case InUnit:
			if next.DayOutOfCaseload++; over(lim.OutOfCaseloadPerDay, next.DayOutOfCaseload) {
				code, retry = CodeOutOfCaseload, tomorrow
			}
		case OutOfUnit:
			if next.DayOutOfUnit++; over(lim.OutOfUnitPerDay, next.DayOutOfUnit) {
				code, retry = CodeOutOfUnit, tomorrow
			}
		}
	}
	if code == "" && a.Probes {
		// Not under the extension: a probe is never what one was asked for.
		if next.HourLookups++; over(lim.LookupsPerHour, next.HourLookups) {
			return limit(CodeLookups, nextHour(now))
		}
	}
	if code != "" {
		if st.ExtRemaining <= 0 || now.Unix() >= st.ExtUntil {
			return limit(code, retry)
		}
		next.ExtRemaining--
		d.Extension = st.ExtID
	}
	return d, next
}

// decideAdmin is Decide for an administrative act: the day's budget of
// its kind, beyond which an approved extension (a second administrator's
// approval) or 429; more than AdminBurstPerHour acts within an hour raise
// an alert.
func decideAdmin(lim *Limits, st State, a Access, d Decision, limit func(string, time.Duration) (Decision, State)) (Decision, State) {
	next := st
	var count *int
	var budget int
	var code string
	switch a.Act {
	case ActOperator:
		count, budget, code = &next.DayOperators, lim.OperatorsPerDay, CodeOperators
	case ActRole:
		count, budget, code = &next.DayRoles, lim.RolesPerDay, CodeRoles
	case ActFactorReset:
		count, budget, code = &next.DayResets, lim.FactorResetsPerDay, CodeFactorResets
	case ActPartner:
		count, budget, code = &next.DayPartners, lim.PartnersPerDay, CodePartners
	case ActOther:
	default:
		return limit(CodeRefusals, time.Second) // an act the guard does not know: refused
	}
	next.HourAdmin++
	if count == nil {
		return d, next
	}
	*count++
	if over(lim.AdminBurstPerHour, next.HourAdmin) && d.Alert == "" {
		d.Alert = CodeAdminBurst
	}
	if over(budget, *count) {
		if st.ExtRemaining <= 0 || a.Time.Unix() >= st.ExtUntil {
			return limit(code, nextDay(a.Time))
		}
		next.ExtRemaining--
		d.Extension = st.ExtID
	}
	return d, next
}

// Conflict counts a create or update refused because a lookup value it
// sets is taken: it told the operator that someone holds the value, so
// it counts as a probe, and too many within an hour lock (CodeConflicts).
func Conflict(lim *Limits, st State, now time.Time) (bool, State) {
	st.roll(now)
	st.HourMisses++
	return over(lim.MissesPerHour, st.HourMisses), st
}

// AddEvidence records the audit sequence number of an access in the state.
func (st *State) AddEvidence(seq int64) {
	st.Evidence = append(st.Evidence, seq)
	if len(st.Evidence) > maxEvidence {
		st.Evidence = st.Evidence[len(st.Evidence)-maxEvidence:]
	}
}

// Refuse counts a request refused before the budgets (an out-of-unit read
// without a reason, say) towards the hard margin, and says whether it locks.
func Refuse(lim *Limits, st State, now time.Time) (bool, State) {
	st.roll(now)
	st.HourOver++
	return lim.HardMargin > 0 && st.HourOver >= lim.HardMargin, st
}

// Reset clears the counters and detector state (an unlock), keeping the
// known origins.
func (st *State) Reset() {
	*st = State{Origins: st.Origins}
}

// roll moves the hour and day windows to now.
func (st *State) roll(now time.Time) {
	_, off := now.Zone()
	local := now.Unix() + int64(off)
	hour, day := now.Unix()/3600, local/86400
	if hour != st.Hour {
		st.Hour, st.HourSubjects, st.HourLookups, st.HourMisses, st.HourOver, st.HourUpdates, st.HourAdmin = hour, 0, 0, 0, 0, 0, 0
	}
	if day != st.Day {
		st.Day, st.DaySubjects, st.DayOutOfCaseload, st.DayOutOfUnit, st.DayUntrusted = day, 0, 0, 0, 0
		st.DayCreates, st.DayUpdates, st.DayErasures, st.DayAssignments = 0, 0, 0, 0
		st.DayOperators, st.DayRoles, st.DayResets, st.DayPartners = 0, 0, 0, 0
		st.DayBreakGlass, st.Visits = 0, nil
	}
}

// run extends a run of strictly increasing (positive) or decreasing
// (negative) keys.
func run(r int, last, cur uint64, have bool) int {
	switch {
	case !have || last == cur:
		return 0
	case cur > last && r > 0:
		return r + 1
	case cur > last:
		return 1
	case r < 0:
		return r - 1
	default:
		return -1
	}
}

// idKey orders subject ids: the first 8 characters after "sub_".
func idKey(id string) uint64 {
	if len(id) > 4 {
		id = id[4:]
	}
	var b [8]byte
	copy(b[:], id)
	return binary.BigEndian.Uint64(b[:])
}

func over(limit, n int) bool { return limit > 0 && n > limit }

func nextHour(now time.Time) time.Duration { return now.Truncate(time.Hour).Add(time.Hour).Sub(now) }

func nextDay(now time.Time) time.Duration {
	y, m, d := now.Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, now.Location()).Sub(now)
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func containsU(s []uint64, v uint64) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// ErrCorrupt is returned by Unmarshal for a state it cannot read.
var ErrCorrupt = errors.New("guard state corrupt")

// Budget is one of an operator's read budgets as it stands: Used of
// Limit in the current Window ("hour" or "day").
type Budget struct {
	Name   string `json:"name"` // subjects, lookups, misses, out_of_caseload, out_of_unit
	Window string `json:"window"`
	Used   int    `json:"used"`
	Limit  int    `json:"limit"`
	// Until is when an approved extension ends (name extension, window
	// extension: Limit is how many more people it still allows).
	Until time.Time `json:"until,omitzero"`
}

// Budgets returns the read budgets lim sets (those it leaves at zero
// bind nothing and are left out) as st stands at now (the guard's time
// zone): what an operator may still read before the guard slows them,
// and last the approved extension in force, if any.
func Budgets(lim *Limits, st State, now time.Time) []Budget {
	if lim == nil {
		return nil
	}
	st.roll(now)
	var out []Budget
	for _, b := range []Budget{
		{Name: "subjects", Window: "hour", Used: st.HourSubjects, Limit: lim.SubjectsPerHour},
		{Name: "subjects", Window: "day", Used: st.DaySubjects, Limit: lim.SubjectsPerDay},
		{Name: "lookups", Window: "hour", Used: st.HourLookups, Limit: lim.LookupsPerHour},
		{Name: "misses", Window: "hour", Used: st.HourMisses, Limit: lim.MissesPerHour},
		{Name: "out_of_caseload", Window: "day", Used: st.DayOutOfCaseload, Limit: lim.OutOfCaseloadPerDay},
		{Name: "out_of_unit", Window: "day", Used: st.DayOutOfUnit, Limit: lim.OutOfUnitPerDay},
	} {
		if b.Limit > 0 {
			out = append(out, b)
		}
	}
	if st.ExtRemaining > 0 && now.Unix() < st.ExtUntil {
		out = append(out, Budget{Name: "extension", Window: "extension", Limit: st.ExtRemaining, Until: time.Unix(st.ExtUntil, 0).UTC()})
	}
	return out
}
