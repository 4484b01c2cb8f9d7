package auditlog_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/retention"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/postgres"
	"github.com/coffre/coffre/internal/store/postgres/pgtest"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetemplate"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetest"
)

// appendAt appends n read entries timed at (a second apart), about
// sub_0…sub_2 in turn.
func appendAt(t *testing.T, st store.Store, at time.Time, n int) {
	t.Helper()
	err := st.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		for i := range n {
			e := &audit.Entry{Time: at.Add(time.Duration(i) * time.Second), Actor: "op_cw", Action: "read",
				Subject: fmt.Sprintf("sub_%d", i%3), Purpose: "case-handling", Fields: []string{"phone"}, Decision: "allow", Origin: "127.0.0.1"}
			if err := tx.AppendAudit(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestEpochsAndRetention closes epochs with a fake clock (one a year),
// deletes the one past its retention, and checks that the log, the
// checkpoint chain and a person's history whose earlier entries went
// with it still verify, that the pruning is bounded and audited, and
// that tampering with a retained entry is still caught.
func TestEpochsAndRetention(t *testing.T) {
	path := filepath.Join(t.TempDir(), "coffre.db")
	st, err := sqlitetemplate.Open(ctx, path, sqlite.Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	epochsAndRetention(t, st, func(q string) error { return st.Exec(ctx, q) })
}

// TestEpochsAndRetentionPostgres is TestEpochsAndRetention on
// PostgreSQL (but for the tampering, made with SQLite's SQL functions).
func TestEpochsAndRetentionPostgres(t *testing.T) {
	u := pgtest.Migrated(t, postgres.Digest(), postgres.Migrate)
	st, err := postgres.Open(ctx, u, postgres.Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	epochsAndRetention(t, st, nil)
}

func epochsAndRetention(t *testing.T, st store.Store, exec func(string) error) {
	signer, err := audit.NewSigner(auditlog.Origin, make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	vkey := signer.VerifierKey()
	in := &auditlog.Integrator{Store: st, Signer: signer}
	step := func(want uint64) {
		t.Helper()
		if size, err := in.Step(ctx); err != nil || size != want {
			t.Fatalf("Step = %d, %v; want %d", size, err, want)
		}
	}
	year := retention.Span{Years: 1}
	y2020 := time.Date(2020, 3, 1, 9, 0, 0, 0, time.UTC)

	// Epoch 1: 600 entries in 2020, the last 5 not yet integrated when it
	// closes.
	appendAt(t, st, y2020, 595)
	step(595)
	if ep, err := auditlog.CloseEpoch(ctx, st, y2020.AddDate(0, 6, 0), year); err != nil || ep != nil {
		t.Fatalf("CloseEpoch before it is due = %+v, %v; want nothing", ep, err)
	}
	appendAt(t, st, y2020.Add(time.Hour), 5)
	closed := y2020.AddDate(1, 0, 1)
	ep1, err := auditlog.CloseEpoch(ctx, st, closed, year)
	if err != nil || ep1 == nil || ep1.Number != 1 || ep1.First != 1 || ep1.Last != 600 {
		t.Fatalf("CloseEpoch = %+v, %v; want epoch 1 of entries 1…600", ep1, err)
	}
	appendAt(t, st, closed.Add(time.Minute), 10)
	step(600) // the step stops at the epoch's end: a checkpoint of its size
	step(611)
	if _, err := auditlog.Verify(ctx, st, vkey); err != nil {
		t.Fatalf("verify with a closed epoch: %v", err)
	}

	// Epoch 2: to 2022.
	appendAt(t, st, closed.AddDate(0, 2, 0), 40)
	step(651)
	ep2, err := auditlog.CloseEpoch(ctx, st, closed.AddDate(1, 0, 3), year)
	if err != nil || ep2 == nil || ep2.Number != 2 || ep2.First != 601 || ep2.Last != 651 {
		t.Fatalf("CloseEpoch = %+v, %v; want epoch 2 of entries 601…651", ep2, err)
	}
	appendAt(t, st, closed.AddDate(1, 0, 4), 9)
	step(661)

	subject := "sub_1"
	before, err := auditlog.SubjectHistory(ctx, st, subject, 0)
	if err != nil {
		t.Fatal(err)
	}

	// Ten years' retention: nothing is due. One year: epoch 1 is, epoch 2
	// not yet.
	now := closed.AddDate(1, 0, 2)
	if rep, err := auditlog.Prune(ctx, st, now, retention.Span{Years: 10}, "system"); err != nil || len(rep.Epochs) != 0 {
		t.Fatalf("Prune with 10 years = %+v, %v; want nothing", rep, err)
	}
	// Due, but the records' activity in it is not recorded yet: it waits.
	if rep, err := auditlog.Prune(ctx, st, now, year, "system"); err != nil || len(rep.Epochs) != 0 {
		t.Fatalf("Prune before the activity mark passed the epoch = %+v, %v; want nothing", rep, err)
	}
	if _, err := in.RecordActivity(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := auditlog.Prune(ctx, st, now, year, "system")
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Epochs) != 1 || rep.Epochs[0] != 1 || rep.Entries != 600 || rep.IndexRows != 600 || rep.Tiles != 4 || rep.Checkpoints != 2 {
		t.Fatalf("Prune = %+v; want epoch 1: 600 entries and index rows, 2 tiles of each log, the leaves of 2 checkpoints", rep)
	}
	if again, err := auditlog.Prune(ctx, st, now, year, "system"); err != nil || len(again.Epochs) != 0 {
		t.Errorf("Prune again = %+v, %v; want nothing more", again, err)
	}

	vr, err := auditlog.Verify(ctx, st, vkey)
	if err != nil {
		t.Fatalf("verify after the deletion: %v", err)
	}
	if vr.From != 601 || vr.Deleted != 1 || vr.Epochs != 2 || vr.Entries != 62 || vr.Checkpoints != 5 {
		t.Errorf("verify report %+v; want the log from 601 (62 entries), 1 of 2 epochs deleted, all 5 checkpoints checked", vr)
	}
	var es []audit.Entry
	st.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
		es, err = tx.AuditEntries(ctx, 1, 1<<40, 1000)
		return err
	})
	if first := es[0]; first.Seq != 601 || first.Action != audit.ActionEpoch {
		t.Errorf("the first entry kept: %+v, want epoch 2's opening entry", first)
	}
	if last := es[len(es)-1]; last.Action != "audit.prune" || last.Actor != "system" || !strings.Contains(last.Reason, "600 entries") {
		t.Errorf("the pruning's entry: %+v", last)
	}

	// The person's history: their entries kept, the chain ending before
	// the retained log.
	after, err := auditlog.SubjectHistory(ctx, st, subject, 0)
	if err != nil {
		t.Fatal(err)
	}
	hrep, err := auditlog.VerifyHistory(after, vkey, nil)
	if err != nil {
		t.Fatalf("the history after the deletion: %v", err)
	}
	if hrep.RetainedFrom != 601 || after.Epoch == nil || len(after.Entries) >= len(before.Entries) {
		t.Errorf("history report %+v (%d entries, %d before): want it complete from 601", hrep, len(after.Entries), len(before.Entries))
	}
	// Without its epoch entry, the history is cut short.
	cut := *after
	cut.Epoch = nil
	if _, err := auditlog.VerifyHistory(&cut, vkey, nil); !errors.Is(err, auditlog.ErrBadHistory) {
		t.Errorf("a history without the epoch entry: %v, want cut short", err)
	}
	// Another entry offered as the epoch entry is refused.
	forged := *after
	x := *after.Epoch
	x.Seq, x.Leaf = after.Entries[0].Seq, after.Entries[0].Leaf
	forged.Epoch = &x
	if _, err := auditlog.VerifyHistory(&forged, vkey, nil); !errors.Is(err, auditlog.ErrBadHistory) {
		t.Errorf("a history naming a read as the epoch entry: %v, want refused", err)
	}

	// Tampering with a retained entry is still caught.
	if exec == nil {
		return
	}
	if err := exec(`UPDATE audit SET leaf = audit_set(leaf, 'actor', 'op_x') WHERE seq = 640`); err != nil {
		t.Fatal(err)
	}
	_, err = auditlog.Verify(ctx, st, vkey)
	var te *auditlog.TamperError
	if !errors.As(err, &te) || te.Index != 639 {
		t.Fatalf("verify after tampering with entry 640: %v, want index 639", err)
	}
}

// TestDeletedEpochTampering: what a deleted epoch leaves (its closing
// checkpoint, the retained log's first entry) is checked.
func TestDeletedEpochTampering(t *testing.T) {
	for _, tc := range []struct {
		name, sql string
	}{
		{"the epoch entry rewritten", `UPDATE audit SET leaf = audit_set(leaf, 'reason', 'closes epoch 1 at 30 AAAA') WHERE seq = 31`},
		{"the kept checkpoint's range", `UPDATE checkpoints SET range = zeroblob(length(range)) WHERE size = 30`},
		{"the epoch's root", `UPDATE audit_epochs SET root = zeroblob(32) WHERE number = 1`},
		{"entries of the retained log gone", `DELETE FROM audit WHERE seq < 35`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "coffre.db")
			st, err := sqlitetemplate.Open(ctx, path, sqlite.Options{IDs: sqlitetest.IDs()})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			signer, _ := audit.NewSigner(auditlog.Origin, make([]byte, 32))
			in := &auditlog.Integrator{Store: st, Signer: signer}
			t0 := time.Date(2020, 3, 1, 9, 0, 0, 0, time.UTC)
			appendAt(t, st, t0, 30)
			if _, err := auditlog.CloseEpoch(ctx, st, t0.AddDate(1, 0, 0), retention.Span{Years: 1}); err != nil {
				t.Fatal(err)
			}
			appendAt(t, st, t0.AddDate(1, 0, 1), 10)
			for range 2 {
				if _, err := in.Step(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := in.RecordActivity(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := auditlog.Prune(ctx, st, t0.AddDate(3, 0, 0), retention.Span{Years: 1}, "system"); err != nil {
				t.Fatal(err)
			}
			if _, err := auditlog.Verify(ctx, st, signer.VerifierKey()); err != nil {
				t.Fatalf("before tampering: %v", err)
			}
			if err := st.Exec(ctx, tc.sql); err != nil {
				t.Fatal(err)
			}
			var te *auditlog.TamperError
			if _, err := auditlog.Verify(ctx, st, signer.VerifierKey()); !errors.As(err, &te) {
				t.Errorf("verify: %v, want a TamperError", err)
			}
		})
	}
}
