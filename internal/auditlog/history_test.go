package auditlog_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetemplate"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetest"
)

var update = flag.Bool("update", false, "update golden files")

// busiest returns the subject with the most entries in the log, and its
// entries' seqs, newest first.
func busiest(t *testing.T, st store.Store) (string, []int64) {
	t.Helper()
	var entries []audit.Entry
	st.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
		entries, err = tx.AuditEntries(ctx, 1, 1<<40, 1<<20)
		return err
	})
	by := map[string][]int64{}
	best := ""
	for _, e := range entries {
		if e.Subject == "" {
			continue
		}
		by[e.Subject] = append([]int64{e.Seq}, by[e.Subject]...)
		if len(by[e.Subject]) > len(by[best]) {
			best = e.Subject
		}
	}
	return best, by[best]
}

func history(t *testing.T, st store.Store, subject string, size uint64) *auditlog.History {
	t.Helper()
	h, err := auditlog.SubjectHistory(ctx, st, subject, size)
	if err != nil {
		t.Fatal(err)
	}
	// What is verified is what was saved and read back.
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	h, err = auditlog.ParseHistory(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func newestOf(h *auditlog.History) *auditlog.Newest {
	e := h.Entries[0]
	return &auditlog.Newest{Seq: e.Seq, LeafHash: audit.Hasher.HashLeaf(e.Leaf)}
}

// TestSubjectHistory: a history of entries written through the vault
// verifies, at the latest checkpoint and an older one, and holds exactly
// the subject's entries.
func TestSubjectHistory(t *testing.T) {
	path, vkey := newLog(t)
	st := openStore(t, path)
	subject, seqs := busiest(t, st)
	if len(seqs) < 3 {
		t.Fatalf("the busiest subject has %d entries; the test wants 3 or more", len(seqs))
	}
	h := history(t, st, subject, 0)
	var got []int64
	for _, e := range h.Entries {
		got = append(got, e.Seq)
	}
	if !slices.Equal(got, seqs) {
		t.Fatalf("history of %s holds entries %v, want %v", subject, got, seqs)
	}
	rep, err := auditlog.VerifyHistory(h, vkey, newestOf(h))
	if err != nil || rep.Entries != len(seqs) || !rep.NewestSeen || rep.IndexFrom != 1 || rep.Size != 50 {
		t.Fatalf("VerifyHistory = %+v, %v", rep, err)
	}
	old := history(t, st, subject, 20)
	if _, err := auditlog.VerifyHistory(old, vkey, nil); err != nil {
		t.Fatalf("history at size 20: %v", err)
	}
	for _, e := range old.Entries {
		if e.Seq > 20 {
			t.Fatalf("history at size 20 holds entry %d", e.Seq)
		}
	}
	// A notice of an entry after the checkpoint asks for a newer one.
	if _, err := auditlog.VerifyHistory(old, vkey, newestOf(h)); err == nil || !strings.Contains(err.Error(), "after the checkpoint") {
		t.Fatalf("history at size 20 with a newer notice: %v", err)
	}
	if h, err := auditlog.SubjectHistory(ctx, st, "sub_nobody", 0); err != nil || len(h.Entries) != 0 {
		t.Fatalf("history of a subject with no entries = %+v, %v", h, err)
	}
}

// present fills h as for its person: each entry summarised, the second
// one (by position) withheld.
func present(t *testing.T, h *auditlog.History) {
	t.Helper()
	i := 0
	err := h.Present(func(e *audit.Entry) (*auditlog.Summary, bool) {
		i++
		return &auditlog.Summary{Time: e.Time, Action: e.Action, Purpose: e.Purpose, Fields: e.Fields, Decision: e.Decision,
			By: auditlog.ByStaff, Role: "caseworker", Operator: e.Actor}, i == 2
	})
	if err != nil {
		t.Fatal(err)
	}
	// What is verified is what was saved and read back.
	b, _ := json.Marshal(h)
	h2, err := auditlog.ParseHistory(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	*h = *h2
}

// TestHistoryPresented: summaries and a withheld entry keep the history
// verifiable and complete; a summary that says other than its leaf, and
// a withheld entry left out or altered, fail.
func TestHistoryPresented(t *testing.T) {
	path, vkey := newLog(t)
	st := openStore(t, path)
	subject, _ := busiest(t, st)
	h := history(t, st, subject, 0)
	newest := newestOf(h)
	present(t, h)
	if w := h.Entries[1]; !w.Withheld || w.Leaf != nil || w.Summary != nil || len(w.LeafHash) != 32 {
		t.Fatalf("the withheld entry = %+v", w)
	}
	if h.Entries[0].Summary == nil || h.Entries[0].Summary.Action == "" {
		t.Fatalf("the newest entry has no summary: %+v", h.Entries[0])
	}
	rep, err := auditlog.VerifyHistory(h, vkey, newest)
	if err != nil || rep.Withheld != 1 || !rep.NewestSeen {
		t.Fatalf("VerifyHistory = %+v, %v; want verified with 1 entry withheld", rep, err)
	}
	// A withheld newest entry is still the notice's.
	h = history(t, st, subject, 0)
	h.Present(func(e *audit.Entry) (*auditlog.Summary, bool) { return nil, e.Seq == newest.Seq })
	if _, err := auditlog.VerifyHistory(h, vkey, newest); err != nil {
		t.Fatalf("a withheld newest entry: %v", err)
	}
	for _, tt := range []struct {
		name string
		edit func(h *auditlog.History)
		want string
	}{
		{"summary's purpose", func(h *auditlog.History) { h.Entries[0].Summary.Purpose = "other" }, "summary's purpose"},
		{"summary's time", func(h *auditlog.History) { h.Entries[0].Summary.Time = h.Entries[0].Summary.Time.Add(time.Second) }, "summary's time"},
		{"summary's fields", func(h *auditlog.History) { h.Entries[0].Summary.Fields = []string{"national_id"} }, "summary's fields"},
		{"summary's operator", func(h *auditlog.History) { h.Entries[0].Summary.Operator = "op_other" }, "summary's operator"},
		{"summary says you", func(h *auditlog.History) { h.Entries[0].Summary.By = auditlog.ByYou }, "summary's actor"},
		{"withheld entry removed", func(h *auditlog.History) { h.Entries = slices.Delete(h.Entries, 1, 2) }, "an entry is missing"},
		{"withheld entry's hash changed", func(h *auditlog.History) { h.Entries[1].LeafHash[0] ^= 1 }, "inclusion proof in the log does not verify"},
		{"withheld entry shows its leaf", func(h *auditlog.History) { h.Entries[1].Leaf = h.Entries[0].Leaf }, "withheld but shows"},
		{"leaf hash beside a leaf", func(h *auditlog.History) { h.Entries[0].LeafHash = h.Entries[1].LeafHash }, "its leaf hash is not its leaf's"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := history(t, st, subject, 0)
			present(t, h)
			tt.edit(h)
			if _, err := auditlog.VerifyHistory(h, vkey, nil); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("VerifyHistory = %v; want an error saying %q", err, tt.want)
			}
		})
	}
}

// TestHistoryTampering: each way of leaving out or changing something fails
// verification, with a message naming it.
func TestHistoryTampering(t *testing.T) {
	path, vkey := newLog(t)
	st := openStore(t, path)
	subject, _ := busiest(t, st)
	tests := []struct {
		name   string
		edit   func(h *auditlog.History)
		newest bool // verify with the untouched history's newest entry
		want   string
	}{
		{"entry removed from the middle", func(h *auditlog.History) { h.Entries = slices.Delete(h.Entries, 1, 2) }, false, "an entry is missing"},
		{"newest entry removed", func(h *auditlog.History) { h.Entries = h.Entries[1:] }, true, "leaves it out"},
		{"oldest entry removed", func(h *auditlog.History) { h.Entries = h.Entries[:len(h.Entries)-1] }, false, "cut short"},
		{"leaf changed", func(h *auditlog.History) {
			e, _ := audit.ParseLeaf(h.Entries[1].Leaf)
			e.Purpose = "payroll"
			h.Entries[1].Leaf = audit.LeafData(&e)
		}, false, "inclusion proof in the log does not verify"},
		{"log proof changed", func(h *auditlog.History) { h.Entries[0].Proof[0][3] ^= 1 }, false, "inclusion proof in the log does not verify"},
		{"index proof changed", func(h *auditlog.History) { h.Entries[1].IndexProof[0][0] ^= 1 }, false, "not in the signed subject index"},
		{"previous changed", func(h *auditlog.History) { h.Entries[0].Previous = 0; h.Entries = h.Entries[:1] }, false, "not in the signed subject index"},
		{"another subject", func(h *auditlog.History) { h.Subject = "sub_other" }, false, "about"},
		{"checkpoint changed", func(h *auditlog.History) {
			h.Checkpoint = strings.Replace(h.Checkpoint, "\n50\n", "\n49\n", 1)
		}, false, "bad checkpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := history(t, st, subject, 0)
			var newest *auditlog.Newest
			if tt.newest {
				newest = newestOf(h)
			}
			tt.edit(h)
			_, err := auditlog.VerifyHistory(h, vkey, newest)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("VerifyHistory = %v; want an error saying %q", err, tt.want)
			}
		})
	}
	h := history(t, st, subject, 0)
	n := newestOf(h)
	n.LeafHash[0] ^= 1
	if _, err := auditlog.VerifyHistory(h, vkey, n); err == nil || !strings.Contains(err.Error(), "the notice names") {
		t.Fatalf("a notice naming another leaf hash: %v", err)
	}
}

// TestIndexBeforeUpgrade: a log whose first checkpoints were made before
// the subject index (one-line body) still verifies; the index starts after
// them, and histories are complete from there.
func TestIndexBeforeUpgrade(t *testing.T) {
	path := filepath.Join(t.TempDir(), "coffre.db")
	st, err := sqlitetemplate.Open(ctx, path, sqlite.Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	signer, _ := audit.NewSigner(auditlog.Origin, bytes.Repeat([]byte{3}, 32))
	appendN(t, st, 10)
	// The integrator as it was: a checkpoint without index, and tiles.
	tree, _ := audit.NewTree(0, nil)
	tiler := audit.NewTiler(0, nil)
	var leaves []byte
	st.View(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.AuditLeaves(ctx, 1, 11, func(_ int64, leaf []byte) error {
			h := audit.Hasher.HashLeaf(leaf)
			leaves = append(leaves, h...)
			tiler.Append(tree.Size(), h)
			return tree.Append(h)
		})
	})
	cp, _ := signer.Sign(tree.Size(), tree.Root(), nil)
	if bytes.Contains(cp.Note, []byte("subject-index")) {
		t.Fatal("a checkpoint without index has an index line")
	}
	old := &audit.StoredCheckpoint{Size: cp.Size, Root: cp.Root, Note: cp.Note, Range: tree.Hashes(), Leaves: leaves, Created: time.Now()}
	err = st.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tx.PutCheckpoint(ctx, old); err != nil {
			return err
		}
		return tx.PutTiles(ctx, tiler.Changed())
	})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, st, 7)
	in := &auditlog.Integrator{Store: st, Signer: signer}
	if size, err := in.Step(ctx); err != nil || size != 17 {
		t.Fatalf("Step = %d, %v", size, err)
	}
	rep, err := auditlog.Verify(ctx, st, signer.VerifierKey())
	if err != nil || rep.Checkpoints != 2 {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
	h := history(t, st, "sub_0", 0)
	r, err := auditlog.VerifyHistory(h, signer.VerifierKey(), nil)
	// sub_0: of entries 11…17, 15 (12 is about no one); 3, 6 and 9 are
	// before the index.
	if err != nil || r.IndexFrom != 11 || r.IndexSize != 5 || len(h.Entries) != 1 || h.Entries[0].Seq != 15 {
		t.Fatalf("VerifyHistory = %+v, %v (%d entries)", r, err, len(h.Entries))
	}
	if _, err := auditlog.SubjectHistory(ctx, st, "sub_0", 10); !errors.Is(err, auditlog.ErrNoIndex) {
		t.Fatalf("history at a checkpoint before the index: %v, want ErrNoIndex", err)
	}
}

// appendN appends n entries about sub_0, sub_1, sub_2 in turn (numbered by
// the log's size) and one without subject every fourth.
func appendN(t *testing.T, st store.Store, n int) {
	t.Helper()
	err := st.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		last, err := tx.LastAuditSeq(ctx)
		if err != nil {
			return err
		}
		for i := range n {
			seq := last + int64(i) + 1
			e := &audit.Entry{Time: time.Date(2026, 11, 30, 9, 0, int(seq), 0, time.UTC), Actor: "op_cw", Action: "read",
				Subject: fmt.Sprintf("sub_%d", seq%3), Purpose: "case-handling", Fields: []string{"phone"}, Decision: "allow", Origin: "127.0.0.1"}
			if seq%4 == 0 {
				e.Subject, e.Action = "", "import"
			}
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

// TestVerifyChecksTheIndex: a checkpoint whose signed subject index is not
// the one the entries make (here: re-signed by the key holder over another
// root, as an integrator that skipped an entry would) fails audit verify.
func TestVerifyChecksTheIndex(t *testing.T) {
	path, vkey := newLog(t)
	signer := signerFor(t, path)
	st := openStore(t, path)
	var c *audit.StoredCheckpoint
	st.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
		c, err = tx.LatestCheckpoint(ctx)
		return err
	})
	forged := *c.Index
	forged.Root = audit.IndexLeafHash("sub_x", 1, c.Root, 0)
	cp, _ := signer.Sign(c.Size, c.Root, &forged)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE checkpoints SET note = ?, index_root = ? WHERE size = ?`, cp.Note, forged.Root, c.Size); err != nil {
		t.Fatal(err)
	}
	_, err = auditlog.Verify(ctx, st, vkey)
	var te *auditlog.TamperError
	if !errors.As(err, &te) || te.Index != 40 || !strings.Contains(te.Reason, "subject index") {
		t.Fatalf("Verify = %v; want a TamperError at index 40 about the subject index", err)
	}
}

// TestHistoryGolden pins the file format: a history of a fixed log matches
// testdata/subject-history.json (go test -update rewrites it) and verifies.
func TestHistoryGolden(t *testing.T) {
	st, err := sqlitetemplate.Open(ctx, filepath.Join(t.TempDir(), "coffre.db"), sqlite.Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	signer, _ := audit.NewSigner(auditlog.Origin, bytes.Repeat([]byte{5}, 32))
	in := &auditlog.Integrator{Store: st, Signer: signer, Now: func() time.Time { return time.Unix(0, 0) }}
	appendN(t, st, 6)
	in.Step(ctx)
	appendN(t, st, 5)
	in.Step(ctx)
	h, err := auditlog.SubjectHistory(ctx, st, "sub_1", 0)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.MarshalIndent(h, "", "  ")
	got = append(got, '\n')
	golden := filepath.Join("testdata", "subject-history.json")
	if *update {
		os.MkdirAll("testdata", 0o755)
		os.WriteFile(golden, got, 0o644)
		os.WriteFile(filepath.Join("testdata", "subject-history.key"), []byte(signer.VerifierKey()+"\n"), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("history differs from %s (go test -update to rewrite):\n%s", golden, got)
	}
	parsed, err := auditlog.ParseHistory(bytes.NewReader(want))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auditlog.VerifyHistory(parsed, signer.VerifierKey(), newestOf(parsed)); err != nil {
		t.Fatalf("golden history: %v", err)
	}
}

// crashingStore fails its failAt-th Update before running it, as if the
// process had stopped there.
type crashingStore struct {
	store.Store
	updates, failAt int
}

func (s *crashingStore) Update(ctx context.Context, fn func(context.Context, store.Tx) error) error {
	if s.updates++; s.updates == s.failAt {
		return errors.New("stopped")
	}
	return s.Store.Update(ctx, fn)
}

// TestStepStopsBeforeCheckpoint: a step writes its index rows in several
// transactions ahead of its checkpoint; stopped after some of them (or
// all), it leaves rows beyond the signed index size, which histories
// ignore and the next step writes again, replacing even a wrong one.
func TestStepStopsBeforeCheckpoint(t *testing.T) {
	for _, failAt := range []int{1, 2, 4, 5} { // of 4 row transactions, then the checkpoint's
		t.Run(fmt.Sprintf("update %d", failAt), func(t *testing.T) {
			st, err := sqlitetemplate.Open(ctx, filepath.Join(t.TempDir(), "coffre.db"), sqlite.Options{IDs: sqlitetest.IDs()})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			signer, _ := audit.NewSigner(auditlog.Origin, bytes.Repeat([]byte{7}, 32))
			vkey := signer.VerifierKey()
			appendN(t, st, 10)
			if size, err := (&auditlog.Integrator{Store: st, Signer: signer}).Step(ctx); err != nil || size != 10 {
				t.Fatalf("Step = %d, %v", size, err)
			}
			appendN(t, st, 9) // 11…19: 7 about a subject (12 and 16 are not)
			crash := &crashingStore{Store: st, failAt: failAt}
			in := &auditlog.Integrator{Store: crash, Signer: signer, IndexRows: 2, Rest: -1}
			if _, err := in.Step(ctx); err == nil || crash.updates != failAt {
				t.Fatalf("Step = %v after %d updates; want it stopped at update %d", err, crash.updates, failAt)
			}
			var signed uint64
			st.View(ctx, func(ctx context.Context, tx store.Tx) error {
				c, err := tx.LatestCheckpoint(ctx)
				if err == nil {
					signed = c.Index.Size
				}
				return err
			})
			// A row written ahead that is not what the next step makes.
			err = st.Update(ctx, func(ctx context.Context, tx store.Tx) error {
				return tx.PutSubjectIndex(ctx, signed, []audit.IndexEntry{{Subject: "sub_1", Seq: 13, Pos: signed + 100, Prev: 999}})
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{"sub_0", "sub_1", "sub_2"} {
				h := history(t, st, s, 0)
				if _, err := auditlog.VerifyHistory(h, vkey, nil); err != nil {
					t.Fatalf("history of %s at the checkpoint before the stop: %v", s, err)
				}
				if h.Entries[0].Seq > 10 {
					t.Fatalf("history of %s at size 10 holds entry %d", s, h.Entries[0].Seq)
				}
			}
			in = &auditlog.Integrator{Store: st, Signer: signer}
			if size, err := in.Step(ctx); err != nil || size != 19 {
				t.Fatalf("the next Step = %d, %v; want 19", size, err)
			}
			if rep, err := auditlog.Verify(ctx, st, vkey); err != nil || rep.Size != 19 {
				t.Fatalf("Verify = %+v, %v", rep, err)
			}
			for _, s := range []string{"sub_0", "sub_1", "sub_2"} {
				h := history(t, st, s, 0)
				var got, want []int64
				for _, e := range h.Entries {
					got = append(got, e.Seq)
				}
				for seq := int64(19); seq >= 1; seq-- {
					if fmt.Sprintf("sub_%d", seq%3) == s && seq%4 != 0 {
						want = append(want, seq)
					}
				}
				if !slices.Equal(got, want) {
					t.Fatalf("history of %s holds %v, want %v", s, got, want)
				}
				if _, err := auditlog.VerifyHistory(h, vkey, newestOf(h)); err != nil {
					t.Fatalf("history of %s: %v", s, err)
				}
			}
		})
	}
}
