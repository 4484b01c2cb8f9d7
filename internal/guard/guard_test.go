package guard

import (
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"
)

var paris = func() *time.Location {
	l, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		panic(err)
	}
	return l
}()

// monday is 09:00 on a Monday in Paris.
var monday = time.Date(2026, 11, 23, 9, 0, 0, 0, paris)

func caseworker() *Limits {
	h, err := ParseHours("mon-fri 07:00-20:00")
	if err != nil {
		panic(err)
	}
	return &Limits{
		Rate: 1, Burst: 20,
		SubjectsPerHour: 30, SubjectsPerDay: 100,
		OutOfCaseloadPerDay: 6, OutOfUnitPerDay: 2, UntrustedPerDay: 5,
		LookupsPerHour: 40, MissesPerHour: 8,
		VelocitySubjects: 12, VelocityWindow: 10 * time.Minute,
		EnumerationRun: 10, Hours: h, HardMargin: 5,
	}
}

// sim drives one operator's accesses through Decide.
type sim struct {
	lim *Limits
	st  State
	now time.Time
	n   int
}

func (s *sim) do(a Access) Decision {
	if a.Time.IsZero() {
		a.Time = s.now
	}
	if a.Origin == "" {
		a.Origin = "10.1.2.3"
		a.Trusted = true
	}
	var d Decision
	d, s.st = Decide(s.lim, s.st, a)
	if d.Verdict == Lock {
		s.st.Locked = d.Code
	}
	return d
}

// subject returns a distinct, non-sequential subject id and creation seq.
func (s *sim) next() (string, int64) {
	s.n++
	// Alternate high and low ids so that no id or creation run forms.
	k := s.n * 7919 % 10007
	if s.n%2 == 0 {
		k = 10007 - k
	}
	return fmt.Sprintf("sub_%05d%021d", k, 0), int64(k)
}

func (s *sim) read(scope Scope, gap time.Duration) Decision {
	id, c := s.next()
	s.now = s.now.Add(gap)
	return s.do(Access{Kind: Read, Subject: id, Created: c, Scope: scope})
}

// until reads new subjects every gap until the verdict is not Allow, and
// returns how many were allowed and the first other decision.
func (s *sim) until(scope Scope, gap time.Duration, max int) (int, Decision) {
	for i := 0; i < max; i++ {
		if d := s.read(scope, gap); d.Verdict != Allow {
			return i, d
		}
	}
	return max, Decision{}
}

func TestDetectors(t *testing.T) {
	tests := []struct {
		name    string
		run     func(s *sim) (int, Decision)
		allowed int
		verdict Verdict
		code    string
	}{
		{"velocity: a fast scrape of the caseload locks", func(s *sim) (int, Decision) {
			return s.until(InCaseload, time.Second, 100)
		}, 12, Lock, CodeVelocity},
		{"rate: burst then 429", func(s *sim) (int, Decision) {
			s.lim.VelocitySubjects = 0
			return s.until(InCaseload, 10*time.Millisecond, 100)
		}, 20, Limit, CodeRate},
		{"subjects per hour: 429 until the next hour", func(s *sim) (int, Decision) {
			s.lim.VelocitySubjects = 0
			return s.until(InCaseload, 30*time.Second, 100)
		}, 30, Limit, CodeSubjectsHour},
		{"subjects per day", func(s *sim) (int, Decision) {
			s.lim.VelocitySubjects, s.lim.SubjectsPerHour = 0, 0
			return s.until(InCaseload, 2*time.Minute, 200)
		}, 100, Limit, CodeSubjectsDay},
		{"out of caseload per day", func(s *sim) (int, Decision) {
			return s.until(InUnit, 3*time.Minute, 100)
		}, 6, Limit, CodeOutOfCaseload},
		{"out of unit per day", func(s *sim) (int, Decision) {
			return s.until(OutOfUnit, 3*time.Minute, 100)
		}, 2, Limit, CodeOutOfUnit},
		{"untrusted origin per day", func(s *sim) (int, Decision) {
			for i := 0; i < 100; i++ {
				id, c := s.next()
				s.now = s.now.Add(3 * time.Minute)
				if d := s.do(Access{Kind: Read, Subject: id, Created: c, Origin: "203.0.113.9"}); d.Verdict != Allow {
					return i, d
				}
			}
			return 100, Decision{}
		}, 5, Limit, CodeUntrusted},
		{"id enumeration: ascending ids lock", func(s *sim) (int, Decision) {
			for i := 0; i < 100; i++ {
				s.now = s.now.Add(3 * time.Minute)
				id := fmt.Sprintf("sub_%08d%018d", i*1000+1, 0)
				if d := s.do(Access{Kind: Read, Subject: id, Created: int64(100 - i%2)}); d.Verdict != Allow {
					return i, d
				}
			}
			return 100, Decision{}
		}, 10, Lock, CodeEnumeration},
		{"creation order walk locks", func(s *sim) (int, Decision) {
			for i := 0; i < 100; i++ {
				id, _ := s.next()
				s.now = s.now.Add(3 * time.Minute)
				if d := s.do(Access{Kind: Read, Subject: id, Created: int64(5000 + 3*i)}); d.Verdict != Allow {
					return i, d
				}
			}
			return 100, Decision{}
		}, 10, Lock, CodeCreationOrder},
		{"reads of unknown ids lock (probing)", func(s *sim) (int, Decision) {
			for i := 0; i < 100; i++ {
				s.now = s.now.Add(time.Minute)
				if d := s.do(Access{Kind: Read, Missing: true}); d.Verdict != Allow {
					return i, d
				}
			}
			return 100, Decision{}
		}, 8, Lock, CodeProbing},
		{"lookup misses lock", func(s *sim) (int, Decision) {
			for i := 0; i < 100; i++ {
				s.now = s.now.Add(time.Minute)
				if d := s.do(Access{Kind: Lookup, Missing: true}); d.Verdict != Allow {
					return i, d
				}
			}
			return 100, Decision{}
		}, 8, Lock, CodeProbing},
		{"lookups per hour", func(s *sim) (int, Decision) {
			for i := 0; i < 100; i++ {
				s.now = s.now.Add(20 * time.Second)
				if d := s.do(Access{Kind: Lookup, Subject: "sub_x"}); d.Verdict != Allow {
					return i, d
				}
			}
			return 100, Decision{}
		}, 40, Limit, CodeLookups},
		{"alphabetical lookup values lock", func(s *sim) (int, Decision) {
			for i := 0; i < 100; i++ {
				s.now = s.now.Add(time.Minute)
				if d := s.do(Access{Kind: Lookup, Subject: "sub_x", ValueRun: i}); d.Verdict != Allow {
					return i, d
				}
			}
			return 100, Decision{}
		}, 10, Lock, CodeValueOrder},
		{"canary locks at the first touch", func(s *sim) (int, Decision) {
			n, _ := s.until(InCaseload, 5*time.Minute, 3)
			return n, s.do(Access{Kind: Read, Subject: "sub_canary", Canary: true})
		}, 3, Lock, CodeCanary},
		{"canary lookup locks", func(s *sim) (int, Decision) {
			return 0, s.do(Access{Kind: Lookup, Subject: "sub_canary", Canary: true})
		}, 0, Lock, CodeCanary},
		{"off hours: 429 until opening", func(s *sim) (int, Decision) {
			s.now = time.Date(2026, 11, 28, 23, 0, 0, 0, paris) // Saturday night
			return s.until(InCaseload, time.Minute, 1)
		}, 0, Limit, CodeOffHours},
		{"pushing past a soft limit locks", func(s *sim) (int, Decision) {
			n, _ := s.until(OutOfUnit, 3*time.Minute, 100) // 2 allowed, then limited
			for i := 0; i < 10; i++ {
				if d := s.read(OutOfUnit, time.Minute); d.Verdict == Lock {
					return n + i, d
				}
			}
			return n, Decision{}
		}, 2 + 3, Lock, CodeOutOfUnit}, // the 5th refusal (HardMargin) locks
		{"a locked state stays locked", func(s *sim) (int, Decision) {
			s.st.Locked = CodeVelocity
			return s.until(InCaseload, time.Hour, 1)
		}, 0, Lock, CodeVelocity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &sim{lim: caseworker(), now: monday}
			n, d := tt.run(s)
			if n != tt.allowed || d.Verdict != tt.verdict || d.Code != tt.code {
				t.Errorf("allowed %d then %+v; want %d then verdict %d code %s", n, d, tt.allowed, tt.verdict, tt.code)
			}
			if d.Verdict == Limit && d.RetryAfter < time.Second {
				t.Errorf("retry after %s", d.RetryAfter)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	s := &sim{lim: caseworker(), now: monday}
	s.lim.VelocitySubjects = 0
	n, d := s.until(InCaseload, 30*time.Second, 100)
	if n != 30 || d.Code != CodeSubjectsHour {
		t.Fatalf("got %d then %+v", n, d)
	}
	if want := s.now.Truncate(time.Hour).Add(time.Hour).Sub(s.now); d.RetryAfter != want {
		t.Errorf("retry after %s, want %s (the next hour)", d.RetryAfter, want)
	}
	// The next hour, the hour budget is back.
	s.now = s.now.Add(d.RetryAfter)
	if d := s.read(InCaseload, 0); d.Verdict != Allow {
		t.Errorf("after the hour: %+v", d)
	}
	s.now = time.Date(2026, 11, 28, 12, 0, 0, 0, paris) // Saturday noon
	_, d = s.until(InCaseload, 0, 1)
	if want := time.Date(2026, 11, 30, 7, 0, 0, 0, paris).Sub(s.now); d.Code != CodeOffHours || d.RetryAfter != want {
		t.Errorf("saturday: %+v, want retry %s (monday 07:00)", d, want)
	}
}

func TestRepeatVisitsAreFree(t *testing.T) {
	s := &sim{lim: caseworker(), now: monday}
	id, c := s.next()
	for i := 0; i < 200; i++ {
		s.now = s.now.Add(3 * time.Minute) // within the rate
		d := s.do(Access{Kind: Read, Subject: id, Created: c})
		if d.Verdict != Allow {
			t.Fatalf("visit %d of the same subject: %+v", i, d)
		}
	}
	if s.st.DaySubjects != 1 {
		t.Errorf("day subjects %d, want 1", s.st.DaySubjects)
	}
}

func TestExtension(t *testing.T) {
	s := &sim{lim: caseworker(), now: monday}
	s.st.ExtID, s.st.ExtRemaining, s.st.ExtUntil = "ext_1", 10, monday.Add(8*time.Hour).Unix()
	n, d := s.until(InUnit, 3*time.Minute, 100)
	if n != 6+10 || d.Code != CodeOutOfCaseload {
		t.Errorf("with an extension of 10: %d allowed then %+v, want 16", n, d)
	}
	s2 := &sim{lim: caseworker(), now: monday}
	s2.st.ExtID, s2.st.ExtRemaining, s2.st.ExtUntil = "ext_1", 10, monday.Add(-time.Hour).Unix()
	if n, _ := s2.until(InUnit, 3*time.Minute, 100); n != 6 {
		t.Errorf("with an expired extension: %d allowed, want 6", n)
	}
}

func TestNewOrigin(t *testing.T) {
	s := &sim{lim: caseworker(), now: monday}
	if d := s.read(InCaseload, time.Minute); d.Alert != "" {
		t.Errorf("first origin alerted: %+v", d)
	}
	s.now = s.now.Add(time.Minute)
	id, c := s.next()
	if d := s.do(Access{Kind: Read, Subject: id, Created: c, Origin: "198.51.100.7"}); d.Alert != CodeNewOrigin || d.Verdict != Allow {
		t.Errorf("new untrusted origin: %+v", d)
	}
	s.now = s.now.Add(time.Minute)
	id, c = s.next()
	if d := s.do(Access{Kind: Read, Subject: id, Created: c, Origin: "198.51.100.7"}); d.Alert != "" {
		t.Errorf("known origin alerted again: %+v", d)
	}
}

func TestStateRoundTrip(t *testing.T) {
	s := &sim{lim: caseworker(), now: monday}
	s.until(InUnit, 3*time.Minute, 100)
	s.st.AddEvidence(42)
	s.st.ExtID, s.st.Locked = "ext_abc", CodeVelocity
	got, err := Unmarshal(s.st.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, s.st) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, s.st)
	}
	if z, err := Unmarshal(nil); err != nil || !reflect.DeepEqual(z, State{}) {
		t.Errorf("empty: %+v %v", z, err)
	}
	b := s.st.Marshal()
	for _, bad := range [][]byte{{9}, b[:len(b)-1], append(append([]byte(nil), b...), 0)} {
		if _, err := Unmarshal(bad); err == nil {
			t.Errorf("Unmarshal(%x) accepted", bad)
		}
	}
}

// TestStateVersion1 reads states written before the write counters
// (version 1), the administration counters (version 2), the break-glass
// reads (version 3) and the visits and value order (version 4): they read
// as zero, and the state is otherwise intact.
func TestStateVersion1(t *testing.T) {
	s := &sim{lim: caseworker(), now: monday}
	s.until(InUnit, 3*time.Minute, 20)
	if len(s.st.Visits) != s.st.DaySubjects*visitLen {
		t.Fatalf("%d bytes of visits after %d subjects", len(s.st.Visits), s.st.DaySubjects)
	}
	s.st.Visits = nil // what an older version has not
	b := s.st.Marshal()
	// The counters each version appended are zero: one byte each.
	for v, cut := range map[byte]int{1: 4 + 6 + 1 + 3, 2: 6 + 1 + 3, 3: 1 + 3, 4: 3} {
		old := append([]byte{v}, b[1:len(b)-cut]...)
		got, err := Unmarshal(old)
		if err != nil || !reflect.DeepEqual(got, s.st) {
			t.Fatalf("version %d: %v\n got %+v\nwant %+v", v, err, got, s.st)
		}
	}
	s.st.DayCreates = 3
	b = s.st.Marshal()
	v2 := append([]byte{2}, b[1:len(b)-7-3]...) // without the assignments, the administration, break-glass and visits
	if got, err := Unmarshal(v2); err != nil || !reflect.DeepEqual(got, s.st) {
		t.Fatalf("version 2: %v\n got %+v\nwant %+v", err, got, s.st)
	}
}

// TestAssignments walks the assignment budget: counted per subject, a
// removal (Count 0) costs none, a request past the budget assigns nothing
// and is refused until tomorrow, an extension does not stretch it, and
// refusals lock at the hard margin.
func TestAssignments(t *testing.T) {
	lim := caseworker()
	lim.AssignmentsPerDay, lim.Rate = 10, 0
	s := &sim{lim: lim, now: monday}
	s.st.ExtID, s.st.ExtRemaining, s.st.ExtUntil = "ext_1", 100, monday.Add(24*time.Hour).Unix()
	steps := []struct {
		count int
		want  Verdict
	}{{4, Allow}, {0, Allow}, {6, Allow}, {1, Limit}, {0, Allow}}
	for i, st := range steps {
		s.now = s.now.Add(time.Minute)
		d := s.do(Access{Kind: Assign, Count: st.count})
		if d.Verdict != st.want || d.Extension != "" || st.want == Limit && (d.Code != CodeAssignments || d.RetryAfter < time.Hour) {
			t.Fatalf("step %d (%d subjects): %+v, want %v", i, st.count, d, st.want)
		}
	}
	if s.st.DayAssignments != 10 {
		t.Errorf("DayAssignments = %d, want 10 (a refused request counts nothing)", s.st.DayAssignments)
	}
	for i := 2; i < lim.HardMargin; i++ {
		s.do(Access{Kind: Assign, Count: 1})
	}
	if d := s.do(Access{Kind: Assign, Count: 1}); d.Verdict != Lock || d.Code != CodeAssignments {
		t.Errorf("at the hard margin: %+v, want a lock", d)
	}
	// Tomorrow the budget is whole again.
	s = &sim{lim: lim, now: monday}
	s.do(Access{Kind: Assign, Count: 10})
	s.now = s.now.Add(24 * time.Hour)
	if d := s.do(Access{Kind: Assign, Count: 10}); d.Verdict != Allow {
		t.Errorf("the next day: %+v", d)
	}
}

// TestWrites walks the budgets of creates, updates and erasures.
func TestWrites(t *testing.T) {
	lim := caseworker()
	lim.CreatesPerDay, lim.UpdatesPerHour, lim.UpdatesPerDay, lim.ErasuresPerDay = 3, 4, 6, 2
	lim.Rate = 0
	tests := []struct {
		name    string
		acc     Access
		gap     time.Duration
		allowed int
		code    string
	}{
		{"creates per day", Access{Kind: Create}, time.Hour, 3, CodeCreates},
		{"updates per hour", Access{Kind: Update, Subject: "sub_a"}, time.Minute, 4, CodeUpdatesHour},
		{"updates per day", Access{Kind: Update, Subject: "sub_a"}, 40 * time.Minute, 6, CodeUpdatesDay},
		{"erasures per day", Access{Kind: Erase, Subject: "sub_a"}, time.Hour, 2, CodeErasures},
		{"out of caseload", Access{Kind: Update, Subject: "sub_a", Scope: InUnit}, time.Minute, 6, CodeOutOfCaseload},
		{"out of unit", Access{Kind: Erase, Subject: "sub_a", Scope: OutOfUnit}, 2 * time.Hour, 2, CodeErasures},
		{"probes are lookups", Access{Kind: Update, Subject: "sub_a", Probes: true}, time.Minute, 40, CodeLookups},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := *lim
			if tt.code == CodeLookups || tt.code == CodeOutOfCaseload {
				l.UpdatesPerHour, l.UpdatesPerDay = 0, 0
			}
			s := &sim{lim: &l, now: monday}
			n := 0
			for ; n < 100; n++ {
				d := s.do(tt.acc)
				if d.Verdict != Allow {
					if d.Verdict != Limit || d.Code != tt.code {
						t.Fatalf("after %d: %+v, want a limit %s", n, d, tt.code)
					}
					break
				}
				s.now = s.now.Add(tt.gap)
			}
			if n != tt.allowed {
				t.Errorf("allowed %d, want %d", n, tt.allowed)
			}
			// Refusals past the budget lock at the hard margin.
			for i := 1; i < l.HardMargin; i++ {
				s.do(tt.acc)
			}
			if s.st.Locked == "" {
				t.Errorf("not locked after %d refusals", l.HardMargin)
			}
		})
	}
}

func TestWriteMissesAndConflicts(t *testing.T) {
	s := &sim{lim: caseworker(), now: monday}
	for i := 0; i < s.lim.MissesPerHour; i++ {
		if d := s.do(Access{Kind: Erase, Missing: true}); d.Verdict != Allow {
			t.Fatalf("miss %d: %+v", i, d)
		}
	}
	if d := s.do(Access{Kind: Update, Missing: true}); d.Verdict != Lock || d.Code != CodeProbing {
		t.Errorf("one miss too many: %+v", d)
	}
	st, n := State{}, 0
	for locks := false; !locks && n < 100; n++ {
		locks, st = Conflict(s.lim, st, monday)
	}
	if n != s.lim.MissesPerHour+1 {
		t.Errorf("conflicts lock after %d, want %d", n, s.lim.MissesPerHour+1)
	}
}

// TestExtensionKeepsDetectors: reads under an extension still run the
// enumeration detector, and a velocity bound grown by the extension's pace
// only.
func TestExtensionKeepsDetectors(t *testing.T) {
	lim := caseworker()
	lim.SubjectsPerHour, lim.Rate = 2, 0
	extend := func(s *sim, n int, hours int) {
		s.st.ExtID, s.st.ExtRemaining, s.st.ExtUntil = "ext_1", n, s.now.Add(time.Duration(hours)*time.Hour).Unix()
	}
	t.Run("enumeration", func(t *testing.T) {
		s := &sim{lim: lim, now: monday}
		extend(s, 1000, 10)
		var d Decision
		for i := 0; i < 20 && d.Verdict == Allow; i++ {
			s.now = s.now.Add(time.Minute)
			d = s.do(Access{Kind: Read, Subject: fmt.Sprintf("sub_%05d%021d", 100+i, 0), Created: int64(100 + i)})
		}
		if d.Verdict != Lock || (d.Code != CodeEnumeration && d.Code != CodeCreationOrder) {
			t.Errorf("ids in order under an extension: %+v, want an enumeration lock", d)
		}
	})
	t.Run("velocity", func(t *testing.T) {
		// 360 subjects over 6 hours: 10 per 10-minute window on top of the
		// role's 12.
		s := &sim{lim: lim, now: monday}
		extend(s, 360, 6)
		n, d := s.until(InUnit, 20*time.Second, 100)
		if d.Verdict != Lock || d.Code != CodeVelocity || n < 20 || n > 23 {
			t.Errorf("%d read, then %+v; want a velocity lock after 20 to 23", n, d)
		}
	})
}

func TestExtensionStretchesWrites(t *testing.T) {
	lim := caseworker()
	lim.ErasuresPerDay = 1
	s := &sim{lim: lim, now: monday}
	s.st.ExtID, s.st.ExtRemaining, s.st.ExtUntil = "ext_1", 2, monday.Add(time.Hour).Unix()
	var codes []string
	for range 4 {
		d := s.do(Access{Kind: Erase, Subject: "sub_a"})
		codes = append(codes, fmt.Sprint(d.Verdict, d.Extension, d.Code))
	}
	want := []string{"0", "0ext_1", "0ext_1", "1" + CodeErasures}
	if !reflect.DeepEqual(codes, want) {
		t.Errorf("got %q, want %q", codes, want)
	}
}

func FuzzUnmarshal(f *testing.F) {
	s := &sim{lim: caseworker(), now: monday}
	s.until(InUnit, 3*time.Minute, 100)
	f.Add(s.st.Marshal())
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := Unmarshal(b)
		if err != nil {
			return
		}
		again, err := Unmarshal(st.Marshal())
		if err != nil || !reflect.DeepEqual(again, st) {
			t.Errorf("re-encoding %x: %v", b, err)
		}
	})
}

func TestHours(t *testing.T) {
	tests := []struct {
		in   string
		want string
		err  bool
	}{
		{"always", "always", false},
		{"mon-fri 07:00-20:00", "mon,tue,wed,thu,fri 07:00-20:00", false},
		{"sat-mon 08:30-12:00", "mon,sat,sun 08:30-12:00", false},
		{"mon,wed 00:00-24:00", "mon,wed 00:00-24:00", false},
		{"mon-fri", "", true},
		{"moon 07:00-20:00", "", true},
		{"mon 20:00-07:00", "", true},
		{"mon 7:0-20:00", "", true},
		{"mon 25:00-26:00", "", true},
	}
	for _, tt := range tests {
		h, err := ParseHours(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("ParseHours(%q) error %v", tt.in, err)
			continue
		}
		if err == nil && h.String() != tt.want {
			t.Errorf("ParseHours(%q) = %q, want %q", tt.in, h.String(), tt.want)
		}
	}
}

// TestVisits: a subject read earlier this hour is a repeat, one read
// earlier today a repeat of the day only (it counts for the hour's budget
// again), one read yesterday a new subject; the visits travel with the
// stored state (another node, a restart), and an unlock forgets them.
func TestVisits(t *testing.T) {
	s := &sim{lim: caseworker(), now: monday.Add(time.Hour)}
	a, ca := s.next()
	b, cb := s.next()
	steps := []struct {
		name              string
		gap               time.Duration
		subject           string
		created           int64
		hourSubj, daySubj int
	}{
		{"first read of a", 0, a, ca, 1, 1},
		{"a again, same hour", 10 * time.Minute, a, ca, 1, 1},
		{"b", time.Minute, b, cb, 2, 2},
		{"a, the next hour", time.Hour, a, ca, 1, 2},
		{"a again that hour", time.Minute, a, ca, 1, 2},
		{"a, the next day", 24 * time.Hour, a, ca, 1, 1},
	}
	for _, st := range steps {
		s.now = s.now.Add(st.gap)
		// Each access starts from the stored bytes, as on any node.
		stored, err := Unmarshal(s.st.Marshal())
		if err != nil {
			t.Fatal(err)
		}
		s.st = stored
		if d := s.do(Access{Kind: Read, Subject: st.subject, Created: st.created}); d.Verdict != Allow {
			t.Fatalf("%s: %+v", st.name, d)
		}
		if s.st.HourSubjects != st.hourSubj || s.st.DaySubjects != st.daySubj {
			t.Errorf("%s: subjects %d this hour, %d today; want %d, %d", st.name, s.st.HourSubjects, s.st.DaySubjects, st.hourSubj, st.daySubj)
		}
	}
	s.st.Reset()
	if s.st.visited(a, s.st.Hour); len(s.st.Visits) != 0 {
		t.Error("an unlock kept the visits")
	}
}

// TestVisitsBound: past maxVisits the visits of earlier hours go, then
// all of them; what stays is sorted and well-formed, and a refused read
// records no visit.
func TestVisitsBound(t *testing.T) {
	var st State
	hour := int64(1000)
	for i := range maxVisits {
		st.visit(fmt.Sprint("sub_", i), hour)
	}
	inOrder := func(vs []byte) bool {
		for i := visitLen; i < len(vs); i += visitLen {
			if hashAt(vs, i-visitLen) >= hashAt(vs, i) {
				return false
			}
		}
		return validVisits(vs)
	}
	if len(st.Visits) != maxVisits*visitLen || !inOrder(st.Visits) {
		t.Fatalf("%d bytes, in order %v", len(st.Visits), inOrder(st.Visits))
	}
	st.visit("sub_new", hour+1) // earlier hours go
	if h, d := st.visited("sub_new", hour+1); !h || !d || len(st.Visits) != visitLen {
		t.Fatalf("after the bound with a new hour: %d bytes, newest seen %v", len(st.Visits), h)
	}
	for i := range maxVisits - 1 {
		st.visit(fmt.Sprint("sub_", i), hour+1)
	}
	st.visit("sub_last", hour+1) // all of this hour: all go
	if _, d := st.visited("sub_0", hour+1); d || len(st.Visits) != visitLen || !inOrder(st.Visits) {
		t.Errorf("after the bound within one hour: %d bytes", len(st.Visits))
	}

	s := &sim{lim: caseworker(), now: monday}
	s.lim.SubjectsPerHour = 1
	s.read(InCaseload, time.Minute)
	before := len(s.st.Visits)
	if d := s.read(InCaseload, time.Minute); d.Verdict != Limit || len(s.st.Visits) != before {
		t.Errorf("a read over the budget: %+v, visits %d bytes, want %d", d, len(s.st.Visits), before)
	}
}

// TestValueOrder: the run of lookup values in one order.
func TestValueOrder(t *testing.T) {
	var st State
	var runs []int
	prev, ok := uint64(0), false
	for _, k := range []uint64{5, 6, 7, 3, 2, 2, 9} {
		runs = append(runs, st.NoteValue(prev, ok, k))
		prev, ok = k, true
	}
	if want := []int{0, 1, 2, 1, 2, 0, 1}; !reflect.DeepEqual(runs, want) {
		t.Errorf("value runs %v, want %v", runs, want)
	}
}

// FuzzParseHours: what ParseHours accepts renders back to the same hours.
func FuzzParseHours(f *testing.F) {
	for _, seed := range []string{"always", "mon-fri 07:00-20:00", "sat-mon 08:30-12:00", "mon,wed 00:00-24:00", "x", "mon 7:00-8:00"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHours(s)
		if err != nil {
			return
		}
		again, err := ParseHours(h.String())
		if err != nil || again != h {
			t.Fatalf("%q → %q → %+v, %v", s, h.String(), again, err)
		}
		if h.Set && (h.From < 0 || h.To > 24*60 || h.From >= h.To) {
			t.Fatalf("%q: span %d-%d", s, h.From, h.To)
		}
	})
}

func TestNetworks(t *testing.T) {
	ns := Networks{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
	for addr, want := range map[string]bool{
		"10.1.2.3": true, "11.0.0.1": false, "::ffff:10.0.0.1": true, "2001:db8::7": true,
		"2001:db9::7": false, "": false, "10.0.0.1:80": false, "example.org": false,
	} {
		if got := ns.Contains(addr); got != want {
			t.Errorf("Contains(%q) = %v, want %v", addr, got, want)
		}
	}
}

// TestAdminActs walks the budgets of administrative acts, the burst alert
// and the off-hours alert.
func TestAdminActs(t *testing.T) {
	lim := caseworker()
	lim.Rate = 0
	lim.OperatorsPerDay, lim.RolesPerDay, lim.FactorResetsPerDay, lim.PartnersPerDay, lim.AdminBurstPerHour = 2, 3, 1, 1, 4
	for _, tt := range []struct {
		act     Act
		allowed int
		code    string
	}{
		{ActOperator, 2, CodeOperators},
		{ActRole, 3, CodeRoles},
		{ActFactorReset, 1, CodeFactorResets},
		{ActPartner, 1, CodePartners},
	} {
		s := &sim{lim: lim, now: monday}
		n := 0
		for ; n < 10; n++ {
			if d := s.do(Access{Kind: Admin, Act: tt.act}); d.Verdict != Allow {
				if d.Verdict != Limit || d.Code != tt.code {
					t.Errorf("act %d after %d: %+v, want a limit %s", tt.act, n, d, tt.code)
				}
				break
			}
		}
		if n != tt.allowed {
			t.Errorf("act %d: %d allowed, want %d", tt.act, n, tt.allowed)
		}
	}
	s := &sim{lim: lim, now: monday}
	var alerts []string
	for _, act := range []Act{ActOperator, ActRole, ActRole, ActOperator, ActRole} {
		alerts = append(alerts, s.do(Access{Kind: Admin, Act: act}).Alert)
	}
	if want := []string{"", "", "", "", CodeAdminBurst}; !reflect.DeepEqual(alerts, want) {
		t.Errorf("alerts %q, want %q", alerts, want)
	}
	night := &sim{lim: lim, now: monday.Add(13 * time.Hour)}
	if d := night.do(Access{Kind: Admin, Act: ActRole}); d.Verdict != Limit || d.Alert != CodeAdminOffHours {
		t.Errorf("at 22:00: %+v, want a limit with the off-hours alert", d)
	}
}

// TestBreakGlass walks the break-glass budget: counted per emergency read,
// repeat visit or not, a read past it refused until tomorrow (and
// counted towards the hard margin), an ordinary read unaffected, the
// budget back the next day; a break-glass read of an unknown id is a
// miss, not a break-glass read. A refusal raises an alert.
func TestBreakGlass(t *testing.T) {
	lim := caseworker()
	lim.BreakGlassPerDay, lim.Rate = 2, 0
	s := &sim{lim: lim, now: monday}
	id, c := s.next()
	steps := []struct {
		name   string
		a      Access
		want   Verdict
		code   string
		bgLeft int // DayBreakGlass after
	}{
		{"first", Access{Kind: Read, Subject: id, Created: c, BreakGlass: true}, Allow, "", 1},
		{"same person again", Access{Kind: Read, Subject: id, Created: c, BreakGlass: true}, Allow, "", 2},
		{"unknown id", Access{Kind: Read, Subject: "sub_none", Missing: true, BreakGlass: true}, Allow, "", 2},
		{"over the budget", Access{Kind: Read, Subject: id, Created: c, BreakGlass: true}, Limit, CodeBreakGlass, 2},
		{"an ordinary read", Access{Kind: Read, Subject: id, Created: c}, Allow, "", 2},
	}
	for _, st := range steps {
		s.now = s.now.Add(time.Minute)
		d := s.do(st.a)
		if d.Verdict != st.want || d.Code != st.code || s.st.DayBreakGlass != st.bgLeft {
			t.Fatalf("%s: %+v, break-glass today %d; want verdict %d %q, %d", st.name, d, s.st.DayBreakGlass, st.want, st.code, st.bgLeft)
		}
		if d.Verdict == Limit && (d.RetryAfter < 10*time.Hour || d.Alert != CodeBreakGlass) {
			t.Errorf("%s: retry after %s, alert %q; want tomorrow, and an alert", st.name, d.RetryAfter, d.Alert)
		}
	}
	if s.st.HourOver != 1 {
		t.Errorf("HourOver = %d after one refusal, want 1", s.st.HourOver)
	}
	s.now = monday.Add(24 * time.Hour)
	if d := s.do(Access{Kind: Read, Subject: id, Created: c, BreakGlass: true}); d.Verdict != Allow || s.st.DayBreakGlass != 1 {
		t.Errorf("the next day: %+v, break-glass today %d; want allowed, 1", d, s.st.DayBreakGlass)
	}
}

// TestBudgets: the budgets a role's limits set, with what is used in the
// current hour and day; counts of a past window are not used any more; a
// limit left at zero is not a budget.
func TestBudgets(t *testing.T) {
	lim := &Limits{SubjectsPerHour: 30, SubjectsPerDay: 100, LookupsPerHour: 20}
	now := time.Date(2026, 3, 2, 10, 30, 0, 0, time.UTC)
	st := State{Hour: now.Unix() / 3600, Day: now.Unix() / 86400, HourSubjects: 4, DaySubjects: 12, HourLookups: 7, HourMisses: 3}
	want := []Budget{{"subjects", "hour", 4, 30, time.Time{}}, {"subjects", "day", 12, 100, time.Time{}}, {"lookups", "hour", 7, 20, time.Time{}}}
	if got := Budgets(lim, st, now); !slices.Equal(got, want) {
		t.Errorf("Budgets now: %+v, want %+v", got, want)
	}
	later := now.Add(time.Hour)
	want = []Budget{{"subjects", "hour", 0, 30, time.Time{}}, {"subjects", "day", 12, 100, time.Time{}}, {"lookups", "hour", 0, 20, time.Time{}}}
	if got := Budgets(lim, st, later); !slices.Equal(got, want) {
		t.Errorf("Budgets an hour later: %+v, want %+v", got, want)
	}
	// An approved extension in force is the last budget: how many more
	// people, until when; spent or past its end, it is gone.
	st.ExtID, st.ExtRemaining, st.ExtUntil = "ext_1", 40, now.Add(2*time.Hour).Unix()
	ext := Budget{Name: "extension", Window: "extension", Limit: 40, Until: now.Add(2 * time.Hour)}
	if got := Budgets(lim, st, now); len(got) != 4 || got[3] != ext {
		t.Errorf("Budgets under an extension: %+v, want last %+v", got, ext)
	}
	if got := Budgets(lim, st, now.Add(2*time.Hour)); len(got) != 3 {
		t.Errorf("Budgets once the extension ended: %+v", got)
	}
	st.ExtRemaining = 0
	if got := Budgets(lim, st, now); len(got) != 3 {
		t.Errorf("Budgets once the extension is spent: %+v", got)
	}
	if got := Budgets(nil, st, now); got != nil {
		t.Errorf("Budgets without limits: %+v", got)
	}
}
