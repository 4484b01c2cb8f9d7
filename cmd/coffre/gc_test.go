package main

import (
	"os"
	"runtime/debug"
	"testing"
)

// TestTuneGC: a serving process collects at serverGCPercent unless its
// environment sets GOGC, which wins (GOGC=off included).
func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, tc := range []struct {
		name string
		env  *string
		// atStart is the percentage the runtime set from GOGC when the
		// process started (it reads GOGC once).
		atStart, want int
	}{
		{"unset", nil, 100, serverGCPercent},
		{"empty", ptr(""), 100, serverGCPercent},
		{"150", ptr("150"), 150, 150},
		{"off", ptr("off"), -1, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GOGC", "")
			if tc.env == nil {
				os.Unsetenv("GOGC")
			} else {
				os.Setenv("GOGC", *tc.env)
			}
			debug.SetGCPercent(tc.atStart)
			if got := tuneGC(); got != tc.want {
				t.Errorf("tuneGC = %d, want %d", got, tc.want)
			}
			if got := debug.SetGCPercent(100); got != tc.want {
				t.Errorf("the collector's percentage is %d, want %d", got, tc.want)
			}
		})
	}
}

func ptr(s string) *string { return &s }
