package main

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/auth"
)

// TestSweepInactive: serve's sweep disables, at once, the accounts
// without a login within login.disable_after (90 days in the demo).
func TestSweepInactive(t *testing.T) {
	now := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	a, err := openApp(t.Context(), appOptions{dev: true, dataDir: t.TempDir(), now: func() time.Time { return now }}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	if a.auth.DisableAfter != 90*24*time.Hour {
		t.Fatalf("DisableAfter = %v, want the demo's 90 days", a.auth.DisableAfter)
	}
	for _, name := range []string{"idle", "busy"} {
		if _, err := a.auth.AddReadyOperator(t.Context(), name, "", "caseworker", "u1"); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(45 * 24 * time.Hour)
	if _, err := a.auth.Lifecycle(t.Context(), auth.Host, nil, auth.Disable, "busy", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := a.auth.Lifecycle(t.Context(), auth.Host, nil, auth.Enable, "busy", "back"); err != nil {
		t.Fatal(err) // enabling restarts the clock
	}
	now = now.Add(46 * 24 * time.Hour)
	sweep, stop := context.WithCancel(t.Context())
	done := a.sweepInactive(sweep)
	// The first sweep runs at once; wait for its work, then stop.
	deadline := time.Now().Add(10 * time.Second)
	for {
		rows, err := a.auth.Review(t.Context(), auth.Host, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		disabled := map[string]bool{}
		for _, r := range rows {
			disabled[r.Username] = r.Disabled
		}
		if disabled["idle"] {
			if disabled["busy"] {
				t.Error("the sweep disabled an account enabled 46 days ago")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sweep did not disable the idle account")
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	<-done
}
