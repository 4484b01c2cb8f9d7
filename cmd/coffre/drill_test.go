package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffre/coffre/internal/store/postgres"
	"github.com/coffre/coffre/internal/store/postgres/pgtest"
	"github.com/coffre/coffre/internal/synth"
)

// TestDrill runs the drill's fast scenarios on a small directory (the
// legitimate days with a tenth of their staff) and checks the JSON
// report's shape and bounds; the numbers come from the audit log of a real
// server, so a guard that stopped locking would fail here.
func TestDrill(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("loads a directory")
	}
	names := []string{"versailles-scrape", "leaked-emails", "console-scrape", "canary", "many-accounts", "partner-hijack",
		"update-oracle", "erase-spree", "create-probe", "policy-probing", "purpose-combination", "consent-break-glass", "rogue-admin",
		"person-signin", "caseworker-day", "support-desk"}
	code, stdout, stderr := runCLI(t, "drill", "--people", "20000", "--scale", "10", "--json", "--data", t.TempDir(),
		"--scenario", strings.Join(names, ","))
	var rep struct {
		Scenarios []map[string]any `json:"scenarios"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("drill exit %d, JSON: %v\n%s\n%s", code, err, stdout, stderr)
	}
	if len(rep.Scenarios) != len(names) {
		t.Fatalf("%d scenarios, want %d", len(rep.Scenarios), len(names))
	}
	// The drill fails (exit 1) when a bound is exceeded: only rogue-admin
	// may, and only while the server hands an account's credentials to
	// its creator (see below).
	if code != 0 && !(code == 1 && rogueGap(rep.Scenarios)) {
		t.Fatalf("drill exit %d\n%s", code, stderr)
	}
	for _, r := range rep.Scenarios {
		for _, k := range []string{"scenario", "kind", "exfiltrated", "exfiltrated_out_of_scope", "locked_accounts", "false_lockouts", "seconds_to_lockout"} {
			if _, ok := r[k]; !ok {
				t.Errorf("%v lacks %q", r["scenario"], k)
			}
		}
		name := r["scenario"].(string)
		ex := r["exfiltrated"].(float64)
		locked := r["locked_accounts"].(float64)
		f := figures(r)
		switch name {
		case "versailles-scrape", "leaked-emails", "console-scrape", "partner-hijack":
			if ex > 25 || locked != 1 || r["seconds_to_lockout"] == nil {
				t.Errorf("%s: exfiltrated %v, locked %v, lockout %v", name, ex, locked, r["seconds_to_lockout"])
			}
		case "canary":
			if r["exfiltrated_after_canary"].(float64) != 0 || !strings.Contains(strings.Join(codes(r), ","), "canary") {
				t.Errorf("canary: %v", r)
			}
		case "many-accounts":
			if ex > 100 || ex == 0 {
				t.Errorf("many-accounts exfiltrated %v", ex)
			}
		case "update-oracle", "create-probe":
			// Confirmed values, counted from the audit log: at most 25,
			// then the lock; the attack did learn something (or it did
			// not run).
			if f["values_confirmed"] > 25 || f["values_confirmed"] == 0 || locked != 1 || ex != 0 {
				t.Errorf("%s: figures %v, locked %v, exfiltrated %v", name, f, locked, ex)
			}
		case "erase-spree":
			if f["erased_beyond_budget"] > 5 || f["erased"] == 0 || locked != 1 {
				t.Errorf("erase-spree: figures %v, locked %v", f, locked)
			}
		case "policy-probing":
			if f["requests_before_lock"] > 10 || f["refusals_before_lock"] == 0 || locked != 1 || ex != 0 {
				t.Errorf("policy-probing: figures %v, locked %v, exfiltrated %v", f, locked, ex)
			}
		case "purpose-combination":
			if f["people_assembled"] > 25 || f["people_assembled"] == 0 || locked != 1 {
				t.Errorf("purpose-combination: figures %v, locked %v", f, locked)
			}
		case "consent-break-glass":
			// One emergency read (the day's), then consent requests until
			// the lock; nobody approves, so nothing more is read.
			if f["health_notes_without_consent"] != 1 || f["break_glass_refused"] == 0 || f["people_asked"] == 0 || f["people_asked"] > 25 || locked != 1 || ex != 1 {
				t.Errorf("consent-break-glass: figures %v, locked %v, exfiltrated %v", f, locked, ex)
			}
		case "rogue-admin":
			// Every path was tried, through the admin API, and its
			// refusals are the guard's and the policy's: partners get
			// partner roles only, and the stolen sessions met the
			// administrators' budgets (the fast one locked, the slow one
			// never refused).
			if f["partner_roles_refused"] != 2 || f["partners_registered"] == 0 || f["admins_locked"] != 1 || f["admin_limited"] == 0 ||
				f["admin_limited_slow"] != 0 || f["accounts_minted"] == 0 || f["records_admin"] != 0 || f["records_partner"] > 25 {
				t.Errorf("rogue-admin: figures %v", f)
			}
			// The bound: at most 25 records in all. It holds only once
			// creating an account no longer hands its credentials to the
			// creator (pending a second administrator's approval); until
			// then the accounts minted read what their budgets allow and
			// the report says FAILED.
			if f["credentials_received"] == 0 && (ex > 25 || r["pass"] != true) {
				t.Errorf("rogue-admin: %v records with no credentials received, want ≤ 25", ex)
			}
			if f["credentials_received"] > 0 {
				t.Logf("rogue-admin: %v records, the creator received %v accounts' credentials: bound not met until creation stops handing them out", ex, f["credentials_received"])
				continue
			}
		case "person-signin":
			// Nothing learned from the answers, the address limited, the
			// guesses bounded and no session, the person's codes bounded,
			// and a stolen person's session reaching no one else.
			if f["oracle_distinguishable"] != 0 || f["answered_before_limit"] != 30 || f["code_guesses"] == 0 || f["code_guesses"] > 10 ||
				f["sessions_obtained"] != 0 || f["contact_locks"] == 0 || f["codes_to_one_person"] != 5 || f["other_people_reached"] != 0 || f["own_history_read"] != 1 {
				t.Errorf("person-signin: figures %v", f)
			}
		case "caseworker-day", "support-desk":
			if r["false_lockouts"].(float64) != 0 || f["updates"] == 0 || name == "caseworker-day" && f["creates"] == 0 {
				t.Errorf("%s: false lockouts %v, figures %v", name, r["false_lockouts"], f)
			}
			// caseworker-day's five caseworkers (--scale 10) got their
			// caseloads of 250 through the API, from their units'
			// supervisors, nothing refused.
			if name == "caseworker-day" && (f["assigned"] != 5*250 || f["assignments_refused"] != 0) {
				t.Errorf("caseworker-day: assigned through the API %v, refused %v; want 1250, 0", f["assigned"], f["assignments_refused"])
			}
		}
		if r["pass"] != true {
			t.Errorf("%s: bound not met: %v", name, r)
		}
	}
}

// rogueGap reports whether rs fail only where rogue-admin exceeds its
// bound through accounts whose credentials the server handed to their
// creator: the gap that pending approval of new accounts closes.
func rogueGap(rs []map[string]any) bool {
	gap := false
	for _, r := range rs {
		switch {
		case r["pass"] == true:
		case r["scenario"] == "rogue-admin" && figures(r)["credentials_received"] > 0:
			gap = true
		default:
			return false
		}
	}
	return gap
}

// figures returns a result's own figures.
func figures(r map[string]any) map[string]float64 {
	out := map[string]float64{}
	m, _ := r["figures"].(map[string]any)
	for k, v := range m {
		out[k] = v.(float64)
	}
	return out
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

// TestDrillNodes runs the drill on three nodes sharing one PostgreSQL
// database, every client's requests spread over them, and kills the node
// running the audit sequencer two seconds in: the attack is still bounded
// as on one node, the caseworkers' day has no false lockout, and the log
// that remains has every number once and verifies.
func TestDrillNodes(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("loads a directory into PostgreSQL")
	}
	pg := pgtest.Migrated(t, postgres.Digest(), postgres.Migrate)
	code, stdout, stderr := runCLI(t, "drill", "--nodes", "3", "--store", pg, "--kill-sequencer", "2s", "--people", "20000", "--scale", "25",
		"--json", "--data", t.TempDir(), "--scenario", "caseworker-day,versailles-scrape")
	var rep struct {
		Nodes     int              `json:"nodes"`
		Scenarios []map[string]any `json:"scenarios"`
		Killed    *struct {
			Node int `json:"node"`
			Log  struct {
				Entries int64 `json:"entries"`
				Voids   int   `json:"voids"`
			} `json:"log"`
		} `json:"killed"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || code != 0 {
		t.Fatalf("drill exit %d, JSON: %v\n%s\n%s", code, err, stdout, stderr)
	}
	if rep.Nodes != 3 || rep.Killed == nil || rep.Killed.Node < 0 || rep.Killed.Log.Entries == 0 {
		t.Fatalf("nodes %d, killed %+v", rep.Nodes, rep.Killed)
	}
	for _, r := range rep.Scenarios {
		switch r["scenario"] {
		case "caseworker-day":
			if r["false_lockouts"].(float64) != 0 || r["records_read"].(float64) == 0 {
				t.Errorf("caseworker-day over 3 nodes: %v", r)
			}
		case "versailles-scrape":
			if ex := r["exfiltrated"].(float64); ex > 25 || r["locked_accounts"].(float64) != 1 {
				t.Errorf("versailles-scrape over 3 nodes: exfiltrated %v, locked %v", ex, r["locked_accounts"])
			}
		}
	}
	t.Logf("killed node %d; the log: %d entries, %d voids", rep.Killed.Node, rep.Killed.Log.Entries, rep.Killed.Log.Voids)
}
