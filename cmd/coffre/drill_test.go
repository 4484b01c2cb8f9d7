package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffre/coffre/internal/synth"
)

// TestDrill runs the drill's fast scenarios on a small directory and checks
// the JSON report's shape and bounds; the numbers come from the audit log
// of a real server, so a guard that stopped locking would fail here.
func TestDrill(t *testing.T) {
	if testing.Short() {
		t.Skip("loads a directory")
	}
	code, stdout, stderr := runCLI(t, "drill", "--people", "20000", "--json", "--data", t.TempDir(),
		"--scenario", "versailles-scrape,leaked-emails,canary,many-accounts,partner-hijack")
	if code != 0 {
		t.Fatalf("drill exit %d\n%s", code, stderr)
	}
	var rep struct {
		Scenarios []map[string]any `json:"scenarios"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("JSON: %v\n%s", err, stdout)
	}
	if len(rep.Scenarios) != 5 {
		t.Fatalf("%d scenarios, want 5", len(rep.Scenarios))
	}
	for _, r := range rep.Scenarios {
		for _, k := range []string{"scenario", "kind", "exfiltrated", "exfiltrated_out_of_scope", "locked_accounts", "false_lockouts", "seconds_to_lockout"} {
			if _, ok := r[k]; !ok {
				t.Errorf("%v lacks %q", r["scenario"], k)
			}
		}
		name := r["scenario"].(string)
		ex := r["exfiltrated"].(float64)
		switch name {
		case "versailles-scrape", "leaked-emails", "partner-hijack":
			if ex > 25 || r["locked_accounts"].(float64) != 1 || r["seconds_to_lockout"] == nil {
				t.Errorf("%s: exfiltrated %v, locked %v, lockout %v", name, ex, r["locked_accounts"], r["seconds_to_lockout"])
			}
		case "canary":
			if r["exfiltrated_after_canary"].(float64) != 0 || !strings.Contains(strings.Join(codes(r), ","), "canary") {
				t.Errorf("canary: %v", r)
			}
		case "many-accounts":
			if ex > 100 || ex == 0 {
				t.Errorf("many-accounts exfiltrated %v", ex)
			}
		}
	}
}

func codes(r map[string]any) []string {
	var out []string
	for _, c := range r["lock_codes"].([]any) {
		out = append(out, c.(string))
	}
	return out
}

// TestCanaryCommands plants canaries bound to a partner, then finds the
// partner from a canary's email, as from a leaked data set.
func TestCanaryCommands(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := runCLI(t, "canary", "plant", "2", "--partner", "mission-locale", "--dev", "--data", dir)
	if code != 0 || strings.Count(stdout, "\nsub_") != 2 || !strings.Contains(stdout, "bound to mission-locale") {
		t.Fatalf("plant: %d\n%s\n%s", code, stdout, stderr)
	}
	// The first canary of an empty store is person 1000 of the demo population.
	email := synth.Make(demoSeed, 1000).Fields[synth.EmailPro]
	code, stdout, stderr = runCLI(t, "canary", "find", "email_pro", email, "--dev", "--data", dir)
	if code != 0 || !strings.Contains(stdout, "bound to partner mission-locale") {
		t.Fatalf("find a canary's email: %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, _ = runCLI(t, "canary", "find", "email_pro", synth.Make(demoSeed, 5).Fields[synth.EmailPro], "--dev", "--data", dir)
	if code != 1 || !strings.Contains(stdout, "not a canary") {
		t.Fatalf("find another email: %d %s", code, stdout)
	}
	if code, _, stderr = runCLI(t, "canary", "find", "birth_date", "1990-01-01", "--dev", "--data", dir); code != 2 || !strings.Contains(stderr, "no lookup index") {
		t.Fatalf("find on a field without index: %d %s", code, stderr)
	}
}

// TestOperatorAndPartnerCommands: the host grants any role and moves
// operators; partners are registered and rotated, their files written 0600.
func TestOperatorAndPartnerCommands(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := runCLI(t, "operator", "add", "marie", "--role", "security-officer", "--unit", "u1", "--dev", "--data", dir); code != 0 {
		t.Fatalf("add: %s", stderr)
	}
	code, stdout, stderr := runCLI(t, "operator", "role", "marie", "--role", "auditor", "--unit", "u2", "--dev", "--data", dir)
	if code != 0 || !strings.Contains(stdout, "role auditor, unit u2") {
		t.Fatalf("role: %d %s %s", code, stdout, stderr)
	}
	if code, _, stderr := runCLI(t, "operator", "role", "nobody", "--role", "auditor", "--unit", "u2", "--dev", "--data", dir); code != 2 || !strings.Contains(stderr, `no operator "nobody"`) {
		t.Fatalf("role of nobody: %d %s", code, stderr)
	}
	code, stdout, stderr = runCLI(t, "partner", "add", "mission-locale", "--sector", "employment", "--unit", "u1", "--dev", "--data", dir)
	if code != 0 || !strings.Contains(stdout, "API key (shown once") {
		t.Fatalf("partner add: %d %s %s", code, stdout, stderr)
	}
	for _, f := range []string{"mission-locale.crt", "mission-locale.key", "coffre-ca.crt"} {
		fi, err := os.Stat(filepath.Join(dir, "partners", f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", f, fi, err)
		}
	}
	old, _ := os.ReadFile(filepath.Join(dir, "partners", "mission-locale.crt"))
	if code, stdout, _ = runCLI(t, "partner", "rotate", "mission-locale", "--dev", "--data", dir); code != 0 || !strings.Contains(stdout, "rotated") {
		t.Fatalf("rotate: %d %s", code, stdout)
	}
	if now, _ := os.ReadFile(filepath.Join(dir, "partners", "mission-locale.crt")); string(now) == string(old) {
		t.Error("rotate kept the certificate")
	}
	if code, _, stderr = runCLI(t, "partner", "add", "mission-locale", "--sector", "employment", "--unit", "u1", "--dev", "--data", dir); code != 2 || !strings.Contains(stderr, "exists") {
		t.Errorf("second add: %d %s", code, stderr)
	}
}
