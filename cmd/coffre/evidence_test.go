package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/incident"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

// TestIncidentEvidence: reads by two operators written through the vault
// and signed; an incident names one of them. `incident evidence` writes a
// bundle of exactly that operator's entries, which `audit verify-evidence`
// accepts offline (no data directory), and rejects, exit 1 naming the
// entry, once one line of entries.jsonl is edited, or with another key.
// A second bundle into the same directory is refused.
func TestIncidentEvidence(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	noon := func() time.Time { return time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC) }
	a, err := openApp(ctx, appOptions{dev: true, dataDir: dir, now: noon}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var rows []vault.ImportRow
	for i := range 3 {
		p := synth.Make(4, i)
		rows = append(rows, vault.ImportRow{Num: i + 1, Unit: p.Unit, Fields: p.Fields})
	}
	ids, _, err := a.vault.Import(ctx, identity.Actor{ID: "op_hr", Role: "hr-officer"}, rows)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		for _, id := range []string{"op_cw", "op_cx"} {
			if err := tx.PutOperator(ctx, &identity.Operator{ID: id, Username: id, PasswordHash: "x", Role: "caseworker", Unit: rows[0].Unit, Created: noon()}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i := range 8 {
		op := []string{"op_cw", "op_cx"}[i%2]
		worker := identity.Actor{ID: op, Role: "caseworker", Unit: rows[i%3].Unit, Origin: "127.0.0.1"}
		if _, err := a.vault.Read(ctx, worker, ids[i%3], "case-handling", "ticket"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := (&auditlog.Integrator{Store: a.store, Signer: a.signer}).Step(ctx); err != nil {
		t.Fatal(err)
	}
	inc, err := a.vault.OpenIncident(ctx, host, &incident.Incident{Title: "scrape", Nature: []string{incident.Confidentiality},
		Aware: noon(), Scope: incident.Scope{Operators: []string{"op_cw"}, From: noon().Add(-time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	vkey := a.signer.VerifierKey()
	a.close()

	out := filepath.Join(t.TempDir(), "evidence")
	code, stdout, stderr := runCLI(t, "incident", "evidence", inc.ID, "--out", out, "--dev", "--data", dir)
	if code != 0 || !strings.Contains(stdout, "4 entries in scope (of 9 in the window)") {
		t.Fatalf("incident evidence = %d, %q, %q", code, stdout, stderr)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the directory: %v, %v; want mode 0700", fi.Mode(), err)
	}
	for _, f := range []string{"checkpoint", "entries.jsonl", "key", "README.md"} {
		if fi, err := os.Stat(filepath.Join(out, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v; want mode 0600", f, err)
		}
	}
	entries, err := os.ReadFile(filepath.Join(out, "entries.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(entries)), "\n")
	if len(lines) != 5 {
		t.Fatalf("entries.jsonl has %d lines, want a header and 4 entries", len(lines))
	}
	for _, l := range lines[1:] {
		var e auditlog.EvidenceEntry
		if err := json.Unmarshal([]byte(l), &e); err != nil || e.Entry.Actor != "op_cw" || e.Entry.Action != "read" {
			t.Errorf("entry line %s (%v): want a read of op_cw", l, err)
		}
	}

	// Offline: no --dev, no --data.
	code, stdout, stderr = runCLI(t, "audit", "verify-evidence", out, "--key", vkey)
	if code != 0 || !strings.Contains(stdout, "evidence verified: 4 entries of "+inc.ID) || !strings.Contains(stdout, "OK") {
		t.Fatalf("verify-evidence = %d, %q, %q", code, stdout, stderr)
	}
	code, stdout, _ = runCLI(t, "audit", "verify-evidence", out)
	if code != 0 || !strings.Contains(stdout, "checked with the bundle's own key") {
		t.Errorf("verify-evidence with the bundle's key = %d, %q", code, stdout)
	}
	other, _ := audit.NewSigner(auditlog.Origin, make([]byte, 32))
	code, _, stderr = runCLI(t, "audit", "verify-evidence", out, "--key", other.VerifierKey())
	if code != 1 || !strings.Contains(stderr, "bad checkpoint") {
		t.Errorf("verify-evidence with another key = %d, %q", code, stderr)
	}

	// One line edited: the entry read by op_cw now says op_cx.
	var e auditlog.EvidenceEntry
	json.Unmarshal([]byte(lines[2]), &e)
	lines[2] = strings.Replace(lines[2], `"actor":"op_cw"`, `"actor":"op_cx"`, 1)
	if err := os.WriteFile(filepath.Join(out, "entries.jsonl"), []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCLI(t, "audit", "verify-evidence", out, "--key", vkey)
	want := "entry " + strconv.FormatInt(e.Seq, 10) + ": its actor is not what its leaf holds"
	if code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("verify-evidence of an edited line = %d, %q; want %q", code, stderr, want)
	}

	code, _, stderr = runCLI(t, "incident", "evidence", inc.ID, "--out", out, "--dev", "--data", dir)
	if code != 2 || !strings.Contains(stderr, "exists and is not empty") {
		t.Errorf("evidence into a full directory = %d, %q", code, stderr)
	}
}
