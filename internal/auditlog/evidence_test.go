package auditlog_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auditlog"
)

// TestEvidence: a bundle of one actor's entries of a window holds exactly
// those entries, survives being written and read back, verifies with the
// verifier key alone, and fails, naming the entry, once an entry, a proof
// or the checkpoint is tampered with.
func TestEvidence(t *testing.T) {
	const n = 1000
	st, vkey := windowLog(t, n, n)
	from, to := windowTime(201), windowTime(600)
	keep := func(e *audit.Entry) (bool, error) { return e.Actor == "op_3", nil }
	ev, rep, err := auditlog.BuildEvidence(ctx, st, vkey, from, to, keep)
	if err != nil {
		t.Fatal(err)
	}
	var want []int64 // an independent count, from windowLog's times and actors
	for s := int64(1); s <= n; s++ {
		if tm := windowTime(s); s%7 == 3 && !tm.Before(from) && tm.Before(to) {
			want = append(want, s)
		}
	}
	var got []int64
	for _, e := range ev.Entries {
		got = append(got, e.Seq)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("evidence holds entries %v, want %v", got, want)
	}
	if ev.Header.Size != n || ev.Header.Scanned != rep.InWindow || ev.Header.Entries != len(want) {
		t.Errorf("header %+v, window %+v", ev.Header, rep)
	}

	// What is verified is what was written and read back.
	reread := func(t *testing.T, ev *auditlog.Evidence) *auditlog.Evidence {
		t.Helper()
		var b bytes.Buffer
		if err := ev.WriteEntries(&b); err != nil {
			t.Fatal(err)
		}
		got, err := auditlog.ParseEvidence(bytes.NewReader(ev.Checkpoint), &b)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	ev = reread(t, ev)
	vr, err := auditlog.VerifyEvidence(ev, vkey)
	if err != nil {
		t.Fatal(err)
	}
	if vr.Entries != len(want) || vr.Size != n {
		t.Errorf("report %+v", vr)
	}

	victim := ev.Entries[3].Seq
	tests := []struct {
		name   string
		tamper func(ev *auditlog.Evidence)
		want   string
	}{
		{"an entry rewritten, leaf and reading", func(ev *auditlog.Evidence) {
			e, _ := audit.ParseLeaf(ev.Entries[3].Leaf)
			e.Subject = "sub_other"
			ev.Entries[3].Leaf, ev.Entries[3].Entry.Subject = audit.LeafData(&e), "sub_other"
		}, "entry %d: its inclusion proof does not take its leaf to the signed root"},
		{"an entry's reading edited", func(ev *auditlog.Evidence) {
			ev.Entries[3].Entry.Fields = []string{"birth_date"}
		}, "entry %d: its fields is not what its leaf holds"},
		{"a proof node dropped", func(ev *auditlog.Evidence) {
			p := ev.Entries[3].Proof
			ev.Entries[3].Proof = p[:len(p)-1]
		}, "entry %d: its inclusion proof does not take its leaf"},
		{"an entry dropped", func(ev *auditlog.Evidence) {
			ev.Entries = slices.Delete(ev.Entries, 3, 4)
		}, "the header counts"},
		{"an entry moved out of the window", func(ev *auditlog.Evidence) {
			ev.Header.To = ev.Entries[3].Entry.Time
		}, "entry %d is timed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := reread(t, ev)
			tt.tamper(ev)
			_, err := auditlog.VerifyEvidence(reread(t, ev), vkey)
			msg := tt.want
			if strings.Contains(msg, "%d") {
				msg = fmt.Sprintf(msg, victim)
			}
			if !errors.Is(err, auditlog.ErrBadEvidence) || !strings.Contains(err.Error(), msg) {
				t.Fatalf("VerifyEvidence = %v, want ErrBadEvidence saying %q", err, msg)
			}
		})
	}

	// The same checkpoint signed by another key: its root and size, not
	// the log's signature.
	other, _ := audit.NewSigner(auditlog.Origin, bytes.Repeat([]byte{7}, 32))
	cp, err := audit.Open(ev.Checkpoint, vkey)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := other.Sign(cp.Size, cp.Root, cp.Index)
	if err != nil {
		t.Fatal(err)
	}
	bad := reread(t, ev)
	bad.Checkpoint = forged.Note
	if _, err := auditlog.VerifyEvidence(bad, vkey); !errors.Is(err, audit.ErrBadCheckpoint) {
		t.Errorf("a checkpoint signed by another key: %v, want ErrBadCheckpoint", err)
	}
	if _, err := auditlog.VerifyEvidence(ev, other.VerifierKey()); !errors.Is(err, audit.ErrBadCheckpoint) {
		t.Errorf("verified with another key: %v, want ErrBadCheckpoint", err)
	}

	// A log tampered with inside the window gives no bundle.
	sqlEdit(`UPDATE audit SET leaf = audit_set(leaf, 'reason', 'x') WHERE seq = 400`)(t, st)
	var te *auditlog.TamperError
	if _, _, err := auditlog.BuildEvidence(ctx, st, vkey, from, to, keep); !errors.As(err, &te) || te.Index != 399 {
		t.Errorf("evidence of a tampered log: %v, want a *TamperError at index 399", err)
	}
}
