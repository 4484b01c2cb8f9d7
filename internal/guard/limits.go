// Package guard decides, for each access of an operator, whether it is
// ordinary, over a soft limit (slow down: 429) or abnormal enough to lock the
// account (423): budgets, a token-bucket rate limit and detectors of bulk
// patterns (DESIGN §9).
//
// The package does no I/O of its own (RaiseAlert writes through the
// caller's transaction). The vault loads an operator's [State] from the
// store inside the access transaction, asks [Decide], and writes the state
// back in the same transaction, so that every node sharing the store shares
// one budget per operator and a restart forgets nothing.
//
// What the decision remembers lives in that state too: the subjects the
// operator read today (a repeat visit costs no budget) and the order of its
// latest lookup values, whose key derives from a personal value and is
// therefore kept sealed by the caller (State.ValueLast). A request landing
// on another node, or after a restart, is decided the same way.
package guard

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Limits are the budgets and detector thresholds of one role. A zero limit
// means "no limit" for budgets and "off" for detectors.
type Limits struct {
	// AllUnits makes every subject count as inside the operator's unit
	// (a support desk serving the whole organisation).
	AllUnits bool
	// Rate is a token bucket on requests: Rate tokens a second, Burst at
	// most.
	Rate  float64
	Burst float64
	// Distinct subjects read (repeat visits are free).
	SubjectsPerHour int
	SubjectsPerDay  int
	// Distinct subjects inside the unit but outside the caseload, and
	// outside the unit (which also needs a reason), per day.
	OutOfCaseloadPerDay int
	OutOfUnitPerDay     int
	// Distinct subjects per day read from an origin outside the trusted
	// networks.
	UntrustedPerDay int
	// Lookups per hour, and misses (reads of unknown ids and lookups that
	// find nothing) per hour before the account is locked.
	LookupsPerHour int
	MissesPerHour  int
	// Writes: subjects created per day, updates per hour and per day,
	// erasures per day (beyond them, an approved extension).
	CreatesPerDay  int
	UpdatesPerHour int
	UpdatesPerDay  int
	ErasuresPerDay int
	// AssignmentsPerDay bounds the subjects an operator holding the assign
	// permission adds to others' caseloads a day, counted per subject (an
	// assignment again, to move its end, counts too).
	AssignmentsPerDay int
	// BreakGlassPerDay bounds the emergency reads without the person's
	// consent (break-glass) a day, on top of the read budgets they also
	// count against.
	BreakGlassPerDay int
	// Administration per day: operators created, roles granted (and
	// accounts enabled), second factors reset, partners registered; beyond
	// them, an approved extension. More than AdminBurstPerHour acts within
	// an hour raise an alert.
	OperatorsPerDay    int
	RolesPerDay        int
	FactorResetsPerDay int
	PartnersPerDay     int
	AdminBurstPerHour  int
	// Velocity locks when more than VelocitySubjects new subjects are read
	// within VelocityWindow.
	VelocitySubjects int
	VelocityWindow   time.Duration
	// EnumerationRun locks after that many consecutive new subjects (or
	// lookup values) in strictly ascending or descending id, creation or
	// value order.
	EnumerationRun int
	// Hours are the operator's working hours; outside them requests are
	// slowed down, then the account locked.
	Hours Hours
	// HardMargin is how many refused requests over a soft limit, within an
	// hour, lock the account.
	HardMargin int
}

// Hours is a weekly schedule in a time zone: days of the week and a daily
// span [From, To) in minutes after midnight. The zero value is "always".
type Hours struct {
	Days     [7]bool // indexed by time.Weekday
	From, To int     // minutes
	Set      bool
}

// Open reports whether t falls inside the hours (in t's location).
func (h Hours) Open(t time.Time) bool {
	if !h.Set {
		return true
	}
	m := t.Hour()*60 + t.Minute()
	return h.Days[t.Weekday()] && m >= h.From && m < h.To
}

// Next returns the next opening at or after t (t itself if open).
func (h Hours) Next(t time.Time) time.Time {
	if h.Open(t) {
		return t
	}
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
	for i := 0; i < 8; i++ {
		d := day.AddDate(0, 0, i)
		start := d.Add(time.Duration(h.From) * time.Minute)
		if h.Days[d.Weekday()] && start.After(t) {
			return start
		}
	}
	return t.Add(24 * time.Hour)
}

var dayNames = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// ParseHours reads "mon-fri 07:00-20:00", "mon,wed,fri 08:30-17:00" or
// "always".
func ParseHours(s string) (Hours, error) {
	s = strings.TrimSpace(s)
	if s == "always" || s == "" {
		return Hours{}, nil
	}
	days, span, ok := strings.Cut(s, " ")
	if !ok {
		return Hours{}, fmt.Errorf("want days and a span, like \"mon-fri 07:00-20:00\"")
	}
	var h Hours
	for _, part := range strings.Split(days, ",") {
		a, b, isRange := strings.Cut(part, "-")
		from, to := dayIndex(a), dayIndex(b)
		if !isRange {
			to = from
		}
		if from < 0 || to < 0 {
			return Hours{}, fmt.Errorf("unknown day in %q: want sun, mon, tue, wed, thu, fri, sat", part)
		}
		for d := from; ; d = (d + 1) % 7 {
			h.Days[d] = true
			if d == to {
				break
			}
		}
	}
	a, b, ok := strings.Cut(strings.TrimSpace(span), "-")
	if !ok {
		return Hours{}, fmt.Errorf("want a span like 07:00-20:00, got %q", span)
	}
	var err error
	if h.From, err = clock(a); err == nil {
		h.To, err = clock(b)
	}
	if err != nil {
		return Hours{}, err
	}
	if h.From >= h.To {
		return Hours{}, fmt.Errorf("span %q ends before it starts", span)
	}
	h.Set = true
	return h, nil
}

func dayIndex(s string) int {
	for i, n := range dayNames {
		if n == s {
			return i
		}
	}
	return -1
}

func clock(s string) (int, error) {
	hh, mm, ok := strings.Cut(s, ":")
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if !ok || err1 != nil || err2 != nil || len(mm) != 2 || h < 0 || h > 24 || m < 0 || m > 59 || h == 24 && m != 0 {
		return 0, fmt.Errorf("time %q: want HH:MM between 00:00 and 24:00", s)
	}
	return h*60 + m, nil
}

// String renders the hours as ParseHours reads them.
func (h Hours) String() string {
	if !h.Set {
		return "always"
	}
	var days []string
	for i := 1; i <= 7; i++ {
		if d := i % 7; h.Days[d] {
			days = append(days, dayNames[d])
		}
	}
	return fmt.Sprintf("%s %02d:%02d-%02d:%02d", strings.Join(days, ","), h.From/60, h.From%60, h.To/60, h.To%60)
}

// Networks is a set of address ranges (trusted networks, trusted proxies).
type Networks []netip.Prefix

// Contains reports whether addr, an IP address in text, is inside one of
// the ranges; anything that is not an address is not.
func (ns Networks) Contains(addr string) bool {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range ns {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
