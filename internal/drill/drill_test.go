package drill

import (
	"testing"
	"time"

	"github.com/coffre/coffre/internal/guard"
)

func TestClockNeverGoesBack(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	c := NewClock(t0)
	c.Set(t0.Add(time.Hour))
	if got := c.Now(); got.Before(t0.Add(time.Hour)) || got.After(t0.Add(time.Hour+time.Second)) {
		t.Fatalf("after Set: %v", got)
	}
	c.Set(t0) // back: ignored
	if got := c.Now(); got.Before(t0.Add(time.Hour)) {
		t.Fatalf("the clock went back to %v", got)
	}
}

// TestAttackerArithmetic: the attacker who stays under every limit paces
// itself under the tightest of rate, velocity and hourly budgets, and reads
// no more per day than every daily budget allows.
func TestAttackerArithmetic(t *testing.T) {
	cw := guard.Limits{Rate: 1, SubjectsPerHour: 30, SubjectsPerDay: 100, OutOfCaseloadPerDay: 6, OutOfUnitPerDay: 2,
		UntrustedPerDay: 5, VelocitySubjects: 12, VelocityWindow: 10 * time.Minute}
	tests := []struct {
		name    string
		lim     guard.Limits
		trusted bool
		pace    time.Duration
		quota   quota
	}{
		{"trusted caseworker", cw, true, 126 * time.Second, quota{caseload: 92, unit: 6, outside: 2}},
		{"untrusted caseworker", cw, false, 126 * time.Second, quota{caseload: 0, unit: 5, outside: 0}},
		{"velocity binds", guard.Limits{VelocitySubjects: 10, VelocityWindow: time.Hour, SubjectsPerDay: 10}, true, 378 * time.Second, quota{caseload: 0, unit: 10, outside: 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if p := pace(tt.lim); p != tt.pace {
				t.Errorf("pace = %s, want %s", p, tt.pace)
			}
			if q := dayQuota(tt.lim, tt.trusted); q != tt.quota {
				t.Errorf("quota = %+v, want %+v", q, tt.quota)
			}
		})
	}
}
