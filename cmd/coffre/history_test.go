package main

import (
	"context"
	"encoding/hex"
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
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

// TestVerifySubject: reads written through the vault, a first checkpoint
// made before the subject index (the one-line body the integrator signed
// before), then checkpoints with it. `audit verify` accepts the whole log;
// `audit history` writes a file `audit verify-subject` accepts, and
// rejects, exit 1, once an entry is removed from the middle, or when the
// newest entry a notice named is left off.
func TestVerifySubject(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	// Working hours, for the demo guard.
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
	read := func(n int) {
		for i := range n {
			worker := identity.Actor{ID: "op_cw", Role: "caseworker", Unit: rows[i%3].Unit, Origin: "127.0.0.1"}
			if _, err := a.vault.Read(ctx, worker, ids[i%3], "case-handling", "ticket"); err != nil {
				t.Fatal(err)
			}
		}
	}
	read(3) // entries 1 (import) to 4
	oldCheckpoint(t, a.store, a.signer)
	read(6)
	in := &auditlog.Integrator{Store: a.store, Signer: a.signer}
	if _, err := in.Step(ctx); err != nil {
		t.Fatal(err)
	}
	read(6)
	if size, err := in.Step(ctx); err != nil || size != 16 {
		t.Fatalf("Step = %d, %v; want 16", size, err)
	}
	vkey := a.signer.VerifierKey()
	a.close()

	code, stdout, stderr := runCLI(t, "audit", "verify", "--dev", "--data", dir)
	if code != 0 || !strings.Contains(stdout, "audit log verified: 16 entries, 3 checkpoints") {
		t.Fatalf("verify = %d, %q, %q", code, stdout, stderr)
	}
	code, stdout, stderr = runCLI(t, "audit", "history", ids[0], "--dev", "--data", dir)
	if code != 0 {
		t.Fatalf("history = %d, %q", code, stderr)
	}
	var h auditlog.History
	if err := json.Unmarshal([]byte(stdout), &h); err != nil {
		t.Fatal(err)
	}
	if len(h.Entries) != 4 { // entries 5…16 about ids[0]: 5, 8, 11, 14
		t.Fatalf("history holds %d entries, want 4", len(h.Entries))
	}
	newest := func(h *auditlog.History) string {
		return strconv.FormatInt(h.Entries[0].Seq, 10) + ":" + hex.EncodeToString(audit.Hasher.HashLeaf(h.Entries[0].Leaf))
	}
	save := func(h *auditlog.History) string {
		b, _ := json.Marshal(h)
		f := filepath.Join(t.TempDir(), "history.json")
		os.WriteFile(f, b, 0o600)
		return f
	}
	whole := save(&h)
	code, stdout, stderr = runCLI(t, "audit", "verify-subject", whole, "--key", vkey, "--newest", newest(&h))
	if code != 0 || !strings.Contains(stdout, "history of "+ids[0]+" verified: 4 entries, complete from entry 5 up to the checkpoint of size 16; holds the notice's entry 14") {
		t.Fatalf("verify-subject = %d, %q, %q", code, stdout, stderr)
	}

	middle := h
	middle.Entries = append(append([]auditlog.HistoryEntry{}, h.Entries[:1]...), h.Entries[2:]...)
	code, _, stderr = runCLI(t, "audit", "verify-subject", save(&middle), "--key", vkey)
	if code != 1 || !strings.Contains(stderr, "entry 14 names entry 11 as the subject's previous entry, but the next entry in the history is 8: an entry is missing") {
		t.Fatalf("verify-subject without a middle entry = %d, %q", code, stderr)
	}
	cut := h
	cut.Entries = h.Entries[1:]
	code, _, stderr = runCLI(t, "audit", "verify-subject", save(&cut), "--key", vkey, "--newest", newest(&h))
	if code != 1 || !strings.Contains(stderr, "the notice's entry 14 is not in the history") {
		t.Fatalf("verify-subject without the newest entry = %d, %q", code, stderr)
	}
	code, _, stderr = runCLI(t, "audit", "verify-subject", whole, "--key", vkey, "--newest", "14:00")
	if code != 2 || !strings.Contains(stderr, "--newest") {
		t.Fatalf("verify-subject with a bad --newest = %d, %q", code, stderr)
	}
	other, _ := audit.NewSigner(auditlog.Origin, make([]byte, 32))
	code, _, stderr = runCLI(t, "audit", "verify-subject", whole, "--key", other.VerifierKey())
	if code != 1 || !strings.Contains(stderr, "bad checkpoint") {
		t.Fatalf("verify-subject with another key = %d, %q", code, stderr)
	}
}

// oldCheckpoint signs the log as the integrator did before the subject
// index: a one-line-root body, tiles, no index.
func oldCheckpoint(t *testing.T, st store.Store, signer *audit.Signer) {
	t.Helper()
	ctx := context.Background()
	tree, _ := audit.NewTree(0, nil)
	tiler := audit.NewTiler(0, nil)
	var leaves []byte
	err := st.View(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.AuditLeaves(ctx, 1, 1<<40, func(_ int64, leaf []byte) error {
			h := audit.Hasher.HashLeaf(leaf)
			leaves = append(leaves, h...)
			tiler.Append(tree.Size(), h)
			return tree.Append(h)
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	cp, _ := signer.Sign(tree.Size(), tree.Root(), nil)
	c := &audit.StoredCheckpoint{Size: cp.Size, Root: cp.Root, Note: cp.Note, Range: tree.Hashes(), Leaves: leaves, Created: time.Now()}
	err = st.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tx.PutCheckpoint(ctx, c); err != nil {
			return err
		}
		return tx.PutTiles(ctx, tiler.Changed())
	})
	if err != nil {
		t.Fatal(err)
	}
}
