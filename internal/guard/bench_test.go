package guard

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkReadState is one read's work on an operator's state as the
// vault does it: decode the stored bytes, decide, encode; with the
// visits of a busy day (full: the benchmark's operator, whose budgets
// never bind) and of a caseworker's (100).
func BenchmarkReadState(b *testing.B) {
	lim := &Limits{Rate: 1e9, Burst: 1e9, SubjectsPerHour: 1e9, SubjectsPerDay: 1e9, OutOfCaseloadPerDay: 1e9, OutOfUnitPerDay: 1e9,
		UntrustedPerDay: 1e9, LookupsPerHour: 1e9, MissesPerHour: 1e9, VelocitySubjects: 63, VelocityWindow: time.Microsecond, EnumerationRun: 1000, HardMargin: 1e9}
	for _, visits := range []int{100, maxVisits - 1} {
		b.Run(fmt.Sprint(visits), func(b *testing.B) {
			now := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
			var st State
			for i := range visits {
				_, st = Decide(lim, st, Access{Time: now, Kind: Read, Subject: fmt.Sprint("sub_", i), Trusted: true, Origin: "10.0.0.1"})
			}
			stored := st.Marshal()
			ids := make([]string, 4096)
			for i := range ids {
				ids[i] = fmt.Sprint("sub_", visits/2+i%2*1_000_000+i) // half repeats, half new
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				st, err := Unmarshal(stored)
				if err != nil {
					b.Fatal(err)
				}
				_, st = Decide(lim, st, Access{Time: now, Kind: Read, Subject: ids[i%len(ids)], Trusted: true, Origin: "10.0.0.1"})
				_ = st.Marshal()
			}
		})
	}
}
