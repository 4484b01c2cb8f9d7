package vault_test

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/incident"
	"github.com/coffre/coffre/internal/public"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/vault"
)

var auditor = identity.Actor{ID: "op_au", Role: "auditor", Origin: "127.0.0.1"}

// TestReasonsAreChecked: every path that takes a typed reason refuses one
// that is too long, holds control characters or does not begin with the
// configured pattern, with a hint, and audits the refusal.
func TestReasonsAreChecked(t *testing.T) {
	v, fs := newVaultWith(t, func(c *vault.Config) {
		c.ReasonMaxLen = 40
		c.ReasonPattern, c.ReasonPatternText = regexp.MustCompile(`^(?:[A-Z]+-[0-9]+)`), "[A-Z]+-[0-9]+"
	})
	id, p := create(t, v, 3)
	paths := map[string]func(reason string) error{
		"read": func(r string) error { _, err := v.Read(ctx, worker, id, "case-handling", r); return err },
		"break-glass": func(r string) error {
			_, err := v.BreakGlass(ctx, worker, id, "case-handling", r, "malaise")
			return err
		},
		"lookup": func(r string) error {
			_, err := v.Lookup(ctx, worker, "case-handling", r, "email_pro", p.Fields["email_pro"])
			return err
		},
		"update": func(r string) error {
			x := "Note"
			_, err := v.Update(ctx, hr, id, "hr-admin", r, map[string]*string{"given_name": &x})
			return err
		},
		"erase": func(r string) error { return v.Erase(ctx, hr, id, r) },
	}
	bad := map[string]string{
		"too long":         "OPS-1 " + strings.Repeat("x", 40),
		"control":          "OPS-1\nsecond line",
		"tab":              "OPS-1\tx",
		"pattern":          "ticket 12",
		"invalid UTF-8":    "OPS-1 \xff",
		"pattern not head": "see OPS-12",
	}
	for path, do := range paths {
		for name, reason := range bad {
			t.Run(path+"/"+name, func(t *testing.T) {
				before := len(auditEntries(t, fs))
				err := do(reason)
				if !errors.Is(err, access.ErrInvalid) || public.Hint(err, "") == "" && name != "invalid UTF-8" {
					t.Fatalf("%s with a reason %s: %v, want invalid input with a hint", path, name, err)
				}
				if strings.Contains(err.Error(), reason) {
					t.Errorf("the error quotes the reason: %v", err)
				}
				es := auditEntries(t, fs)
				if len(es) != before+1 || es[len(es)-1].Decision != "deny:invalid" {
					t.Fatalf("refusal not audited deny:invalid: %d → %d entries", before, len(es))
				}
			})
		}
	}
	if _, err := v.Read(ctx, worker, id, "case-handling", "OPS-12 call back"); err != nil {
		t.Errorf("a reason beginning with a ticket id: %v", err)
	}
	if _, err := v.Read(ctx, worker, id, "case-handling", ""); err != nil {
		t.Errorf("no reason, where the purpose asks none: %v", err)
	}
}

// TestErasedReasonIsUnreadable: the reason typed on a read of a person is
// sealed under their data key: the stored leaf never holds it in clear,
// the log's views open it while the person is there, and once they are
// erased every view shows it erased, while the whole log, the person's
// history and the evidence bundle still verify (no leaf changed).
func TestErasedReasonIsUnreadable(t *testing.T) {
	v, fs := newVault(t)
	st := fs.Store.(*sqlite.Store)
	const typed = "OPS-7 her lawyer called about the divorce"
	start := time.Now().UTC().Add(-time.Minute)
	id, _ := create(t, v, 4)
	other, _ := create(t, v, 5)
	view, err := v.Read(ctx, worker, id, "case-handling", typed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Read(ctx, worker, other, "case-handling", "OPS-8 kept"); err != nil {
		t.Fatal(err)
	}
	// No view of an entry without a subject changes: its reason stays in
	// clear.
	if _, err := v.AuditEntries(ctx, auditor, 1, 2); err != nil {
		t.Fatal(err)
	}
	var leaves [][]byte
	if err := fs.View(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.AuditLeaves(ctx, 1, 1<<62, func(_ int64, leaf []byte) error {
			leaves = append(leaves, bytes.Clone(leaf))
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	for _, l := range leaves {
		if bytes.Contains(l, []byte("divorce")) {
			t.Fatalf("a stored leaf holds the reason in clear: %q", l)
		}
	}
	reasonOf := func(seq int64) audit.Entry {
		t.Helper()
		es, err := v.AuditEntries(ctx, auditor, seq, seq+1)
		if err != nil || len(es) != 1 {
			t.Fatalf("AuditEntries(%d): %v, %v", seq, es, err)
		}
		return es[0]
	}
	if e := reasonOf(view.AuditSeq); e.Reason != typed || e.ReasonErased() {
		t.Fatalf("before the erasure: reason %q (erased %v), want it opened", e.Reason, e.ReasonErased())
	}
	if e := reasonOf(view.AuditSeq + 2); e.Action != "audit.entries" || e.Reason != "1-2" || e.ReasonErased() {
		t.Errorf("an entry with no subject: %+v, want its reason in clear", e)
	}

	signer, err := audit.NewSigner(auditlog.Origin, make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	integrate := func() {
		t.Helper()
		if _, err := (&auditlog.Integrator{Store: st, Signer: signer}).Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	integrate()
	before, err := auditlog.SubjectHistory(ctx, st, id, 0)
	if err != nil {
		t.Fatal(err)
	}

	if err := v.Erase(ctx, hr, id, "OPS-9 art. 17 request"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Read(ctx, worker, id, "case-handling", "OPS-10 after her erasure"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("read after erasure: %v", err)
	}
	integrate()

	e := reasonOf(view.AuditSeq)
	if e.Reason != "" || !e.ReasonErased() {
		t.Errorf("after the erasure: reason %q (erased %v), want it unreadable", e.Reason, e.ReasonErased())
	}
	if e := reasonOf(view.AuditSeq + 1); e.Reason != "OPS-8 kept" {
		t.Errorf("another person's reason: %q, want it opened still", e.Reason)
	}
	last, err := v.AuditEntries(ctx, auditor, 1, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range last {
		if x.Subject == id && x.Reason != "" {
			t.Errorf("entry %d (%s) about the erased person shows reason %q", x.Seq, x.Action, x.Reason)
		}
		if (x.Action == "read" && x.Decision == "deny:not_found" || x.Action == "erase" && x.Subject == id) && !x.ReasonDropped {
			t.Errorf("a read of the erased person, or the erasure, kept its reason: %+v", x)
		}
	}

	// The log verifies: no leaf changed.
	if _, err := auditlog.Verify(ctx, st, signer.VerifierKey()); err != nil {
		t.Fatalf("audit verify after the erasure: %v", err)
	}
	// The person's history, asked before and after, verifies.
	after, err := auditlog.SubjectHistory(ctx, st, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []*auditlog.History{before, after} {
		if _, err := auditlog.VerifyHistory(h, signer.VerifierKey(), nil); err != nil {
			t.Errorf("history: %v", err)
		}
	}
	if len(after.Entries) <= len(before.Entries) || !bytes.Equal(after.Entries[len(after.Entries)-len(before.Entries)].Leaf, before.Entries[0].Leaf) {
		t.Errorf("the history's older leaves changed")
	}

	// The evidence bundle of an incident over the reads shows it erased
	// and verifies offline.
	if err := fs.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.PutOperator(ctx, &identity.Operator{ID: worker.ID, Username: worker.ID, PasswordHash: "x", Role: worker.Role, Unit: "u1", Created: start})
	}); err != nil {
		t.Fatal(err)
	}
	inc, err := v.OpenIncident(ctx, officer, &incident.Incident{Title: "check", Nature: []string{incident.Confidentiality}, Aware: time.Now().UTC(),
		Scope: incident.Scope{Operators: []string{worker.ID}, From: start}})
	if err != nil {
		t.Fatal(err)
	}
	integrate()
	ev, err := v.Evidence(ctx, officer, inc.ID, signer.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	var seen, kept int
	for _, x := range ev.Entries {
		switch {
		case x.Entry.Subject == id && x.Entry.Reason == "" && x.Entry.ReasonErased:
			seen++
		case x.Entry.Subject == id:
			t.Errorf("evidence entry %d about the erased person: %+v", x.Seq, x.Entry)
		case x.Entry.Reason == "OPS-8 kept":
			kept++
		}
	}
	if seen != 2 || kept != 1 {
		t.Errorf("evidence: %d erased reasons, %d opened; want 2 and 1", seen, kept)
	}
	if _, err := auditlog.VerifyEvidence(ev, signer.VerifierKey()); err != nil {
		t.Errorf("evidence after the erasure: %v", err)
	}
}
