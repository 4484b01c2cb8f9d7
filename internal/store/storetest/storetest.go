// Package storetest is the conformance suite every store.Store
// implementation runs: it states the contract of package vault's Store and
// Tx in executable form.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return openTestStore(t) })
//	}
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/subject"
	"github.com/coffre/coffre/internal/subjectid"
)

// Run runs the suite; open returns a fresh, empty store for each subtest
// (closing it is open's business, with t.Cleanup).
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"SubjectRoundTrip", subjectRoundTrip},
		{"SubjectConflictAndReplace", subjectConflictAndReplace},
		{"EraseKeepsTombstone", eraseKeepsTombstone},
		{"CountSubjects", countSubjects},
		{"KeylessSubjects", keylessSubjects},
		{"IndexExactOnly", indexExactOnly},
		{"SubjectIDs", subjectIDs},
		{"TxRollback", txRollback},
		{"GroupIsolation", groupIsolation},
		{"AuditSequence", auditSequence},
		{"ConcurrentAppend", concurrentAppend},
		{"Operators", operators},
		{"TOTPStepAdvancesOnce", totpStep},
		{"Sessions", sessions},
		{"SessionChangesSeenAtOnce", sessionChangesSeenAtOnce},
		{"CanceledContext", canceledContext},
		{"BulkAllOrNothing", bulkAllOrNothing},
		{"Checkpoints", checkpoints},
		{"Guards", guards},
		{"GuardStateGroups", guardStateGroups},
		{"Caseloads", caseloads},
		{"Identity", identityRecords},
		{"Partners", partners},
		{"AuditLeaves", auditLeaves},
		{"PanicFailsAlone", panicFailsAlone},
		{"Lifecycle", lifecycle},
		{"Enrolments", enrolments},
		{"SealFlag", sealFlag},
		{"RootKeys", rootKeys},
		{"BlindKeys", blindKeys},
		{"Delivery", delivery},
		{"DeliveryClaimOnce", deliveryClaimOnce},
		{"DeliveryPutMessage", deliveryPutMessage},
		{"DeliveryPrune", deliveryPrune},
		{"SubjectIndex", subjectIndex},
		{"ConsentRequests", consentRequests},
		{"ContactChanges", contactChanges},
		{"Rights", rightsRequests},
		{"Signin", signin},
		{"Incidents", incidents},
		{"LegalHolds", legalHolds},
		{"SubjectActivity", subjectActivity},
		{"ActivityMark", activityMark},
		{"StatCounters", statCounters},
		{"StatBudgets", statBudgets},
		{"AuditEpochs", auditEpochs},
		{"LoginThrottle", loginThrottle},
		{"AuditStreams", auditStreams},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t))
		})
	}
}

var ctx = context.Background()

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func update(t *testing.T, s store.Store, fn func(context.Context, store.Tx) error) {
	t.Helper()
	if err := s.Update(ctx, fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func newRow(id string) *subject.Row {
	return &subject.Row{ID: id, Unit: "unit-a", DEK: []byte("wrapped-" + id), DEKVersion: 1,
		Fields: []byte("sealed-" + id), Created: t0, Updated: t0}
}

func getSubject(t *testing.T, s store.Store, id string) (*subject.Row, error) {
	t.Helper()
	var got *subject.Row
	err := s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		got, err = tx.GetSubject(ctx, id)
		return err
	})
	return got, err
}

func subjectRoundTrip(t *testing.T, s store.Store) {
	want := newRow("sub_1")
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutSubject(ctx, want) })
	got, err := getSubject(t, s, "sub_1")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != want.ID || got.Unit != want.Unit || !bytes.Equal(got.DEK, want.DEK) || got.DEKVersion != 1 ||
		!bytes.Equal(got.Fields, want.Fields) || !got.Created.Equal(t0) || got.Erased {
		t.Fatalf("GetSubject = %+v, want %+v", got, want)
	}
	if _, err := getSubject(t, s, "sub_none"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing subject: %v, want ErrNotFound", err)
	}
}

func subjectConflictAndReplace(t *testing.T, s store.Store) {
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutSubject(ctx, newRow("sub_1")) })
	err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.PutSubject(ctx, newRow("sub_1")) })
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second put: %v, want ErrConflict", err)
	}
	r := newRow("sub_1")
	r.Fields, r.Unit, r.Updated = []byte("new"), "unit-b", t0.Add(time.Hour)
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.ReplaceSubject(ctx, r) })
	got, _ := getSubject(t, s, "sub_1")
	if string(got.Fields) != "new" || got.Unit != "unit-b" || !got.Updated.Equal(r.Updated) {
		t.Fatalf("after replace: %+v", got)
	}
	err = s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.ReplaceSubject(ctx, newRow("sub_2")) })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("replace missing: %v, want ErrNotFound", err)
	}
}

func eraseKeepsTombstone(t *testing.T, s store.Store) {
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutSubject(ctx, newRow("sub_1")) })
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.EraseSubject(ctx, "sub_1", t0) })
	got, err := getSubject(t, s, "sub_1")
	if err != nil {
		t.Fatal(err)
	}
	if !got.Erased || got.DEK != nil || got.Fields != nil {
		t.Fatalf("after erase: erased=%v dek=%q fields=%q; want tombstone without key or data", got.Erased, got.DEK, got.Fields)
	}
	err = s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.ReplaceSubject(ctx, newRow("sub_1")) })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("replace erased: %v, want ErrNotFound", err)
	}
	// Erased once only: of two erasures at once, the second finds the
	// record gone (it would count it out of the statistics twice).
	err = s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.EraseSubject(ctx, "sub_1", t0.Add(time.Hour)) })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("erase erased: %v, want ErrNotFound", err)
	}
	if got, err := getSubject(t, s, "sub_1"); err != nil || !got.Updated.Equal(t0) {
		t.Fatalf("after a second erasure: %+v, %v; want the first's time kept", got, err)
	}
}

func countSubjects(t *testing.T, s store.Store) {
	count := func() int64 {
		t.Helper()
		var n int64
		if err := s.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
			n, err = tx.CountSubjects(ctx)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 0 {
		t.Fatalf("CountSubjects of an empty store = %d", n)
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, id := range []string{"sub_1", "sub_2", "sub_3", "sub_4"} {
			if err := tx.PutSubject(ctx, newRow(id)); err != nil {
				return err
			}
		}
		return nil
	})
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.EraseSubject(ctx, "sub_2", t0) })
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutCanary(ctx, "sub_3", "", t0) })
	if n := count(); n != 2 {
		t.Fatalf("CountSubjects of 4 records, one erased and one a canary = %d; want 2", n)
	}
	var canaries []string
	if err := s.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
		canaries, err = tx.CanarySubjects(ctx)
		return err
	}); err != nil || len(canaries) != 1 || canaries[0] != "sub_3" {
		t.Fatalf("CanarySubjects = %v, %v; want sub_3", canaries, err)
	}
}

// keylessSubjects: the records without a key that are not marked erased
// (a restore's, whose key backup lacked their key) are found, in
// creation order, up to the limit and after a given one; erased ones are
// not.
func keylessSubjects(t *testing.T, s store.Store) {
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, id := range []string{"sub_1", "sub_2", "sub_3", "sub_4"} {
			r := newRow(id)
			if id != "sub_1" {
				r.DEK = nil
			}
			if err := tx.PutSubject(ctx, r); err != nil {
				return err
			}
		}
		return tx.EraseSubject(ctx, "sub_3", t0)
	})
	keyless := func(after string, limit int) []string {
		t.Helper()
		var ids []string
		if err := s.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
			ids, err = tx.KeylessSubjects(ctx, after, limit)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return ids
	}
	for _, tt := range []struct {
		after string
		limit int
		want  []string
	}{
		{"", 10, []string{"sub_2", "sub_4"}}, // sub_1 has its key, sub_3 is erased
		{"", 1, []string{"sub_2"}},
		{"sub_2", 10, []string{"sub_4"}},
		{"sub_1", 1, []string{"sub_2"}},
		{"sub_4", 10, nil},
	} {
		if got := keyless(tt.after, tt.limit); !slices.Equal(got, tt.want) {
			t.Fatalf("KeylessSubjects(after %q, limit %d) = %v; want %v", tt.after, tt.limit, got, tt.want)
		}
	}
	// Their index entries go by subject: sub_2's two, not sub_1's.
	hashes := map[string]string{"keyless-2-email.": "sub_2", "keyless-2-phone.": "sub_2", "keyed-1-email...": "sub_1"}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for h, id := range hashes {
			if err := tx.PutIndex(ctx, 1, []byte(h), id); err != nil {
				return err
			}
		}
		return nil
	})
	var deleted int64
	update(t, s, func(ctx context.Context, tx store.Tx) (err error) {
		deleted, err = tx.DeleteIndexesOf(ctx, []string{"sub_2", "sub_4", "sub_unknown"})
		return err
	})
	if deleted != 2 {
		t.Fatalf("DeleteIndexesOf(sub_2, sub_4, sub_unknown) deleted %d entries; want sub_2's 2", deleted)
	}
	for h, id := range hashes {
		var got string
		err := s.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
			got, err = tx.LookupIndex(ctx, []byte(h))
			return err
		})
		if id == "sub_2" && !errors.Is(err, store.ErrNotFound) || id == "sub_1" && (err != nil || got != id) {
			t.Fatalf("LookupIndex(%s's entry) after DeleteIndexesOf = %q, %v", id, got, err)
		}
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.EraseSubject(ctx, "sub_2", t0) })
	if got := keyless("", 10); !slices.Equal(got, []string{"sub_4"}) {
		t.Fatalf("KeylessSubjects after sub_2's erasure = %v; want sub_4", got)
	}
}

// newIDs returns n ids from the store.
func newIDs(t *testing.T, s store.Store, n int) []string {
	t.Helper()
	ids, err := s.NewSubjectIDs(ctx, n)
	if err != nil || len(ids) != n {
		t.Fatalf("NewSubjectIDs(%d) = %d ids, %v", n, len(ids), err)
	}
	return ids
}

// subjectIDs checks the ids a store makes: well-formed, never repeated,
// and naming the subject stored under them; and that ids made elsewhere
// (subjects from before ids were the store's) still name theirs.
func subjectIDs(t *testing.T, s store.Store) {
	seen := map[string]bool{}
	var ids []string
	for _, n := range []int{1, 3, 0, 50} {
		for _, id := range newIDs(t, s, n) {
			if !subjectid.Valid(id) || seen[id] {
				t.Fatalf("NewSubjectIDs gave %q: malformed or repeated", id)
			}
			seen[id] = true
			ids = append(ids, id)
		}
	}
	// Written out of order, with an id never written in between (a gap).
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, id := range []string{ids[3], ids[0], ids[10]} {
			if err := tx.PutSubject(ctx, newRow(id)); err != nil {
				return err
			}
		}
		return tx.PutSubject(ctx, newRow("sub_made_elsewhere"))
	})
	for _, id := range []string{ids[3], ids[0], ids[10], "sub_made_elsewhere"} {
		got, err := getSubject(t, s, id)
		if err != nil || got.ID != id || string(got.Fields) != "sealed-"+id {
			t.Fatalf("GetSubject(%s) = %+v, %v", id, got, err)
		}
	}
	for _, id := range []string{ids[1], ids[53]} {
		if _, err := getSubject(t, s, id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("id handed out, never written: %v, want ErrNotFound", err)
		}
	}
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.PutSubject(ctx, newRow(ids[0])) }); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second put of a store-made id: %v, want ErrConflict", err)
	}
	// Ids made after a subject from elsewhere do not collide with it.
	later := newIDs(t, s, 1)[0]
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutSubject(ctx, newRow(later)) })
	if got, err := getSubject(t, s, "sub_made_elsewhere"); err != nil || string(got.Fields) != "sealed-sub_made_elsewhere" {
		t.Fatalf("subject from elsewhere after a later put: %+v, %v", got, err)
	}
	// Both kinds in the blind index.
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.PutIndex(ctx, 1, []byte("hash-of-store-id"), ids[3]); err != nil {
			return err
		}
		return tx.PutIndex(ctx, 1, []byte("hash-of-old-id.."), "sub_made_elsewhere")
	})
	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		for h, want := range map[string]string{"hash-of-store-id": ids[3], "hash-of-old-id..": "sub_made_elsewhere"} {
			if got, err := tx.LookupIndex(ctx, []byte(h)); err != nil || got != want {
				t.Errorf("LookupIndex(%s) = %q, %v; want %q", h, got, err, want)
			}
		}
		return nil
	})
	err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.PutIndex(ctx, 1, []byte("hash-of-nobody.."), "sub_nobody")
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("index entry for an unknown subject from elsewhere: %v, want ErrNotFound", err)
	}
}

func indexExactOnly(t *testing.T, s store.Store) {
	h1, h2 := []byte("0123456789abcdef"), []byte("0123456789abcdeg")
	ids := newIDs(t, s, 2)
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutIndex(ctx, 1, h1, ids[0]) })
	err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.PutIndex(ctx, 1, h1, ids[1]) })
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate hash: %v, want ErrConflict", err)
	}
	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		if id, err := tx.LookupIndex(ctx, h1); err != nil || id != ids[0] {
			t.Errorf("LookupIndex = %q, %v; want %s", id, err, ids[0])
		}
		if _, err := tx.LookupIndex(ctx, h2); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("neighbour hash: %v, want ErrNotFound", err)
		}
		if _, err := tx.LookupIndex(ctx, h1[:8]); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("prefix hash: %v, want ErrNotFound", err)
		}
		return nil
	})
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteIndex(ctx, h1) })
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteIndex(ctx, h2) })
	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.LookupIndex(ctx, h1); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("after delete: %v, want ErrNotFound", err)
		}
		return nil
	})
}

func txRollback(t *testing.T, s store.Store) {
	boom := errors.New("boom")
	err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tx.PutSubject(ctx, newRow("sub_1")); err != nil {
			return err
		}
		if err := tx.AppendAudit(ctx, &audit.Entry{Time: t0, Actor: "op_1", Action: "create", Decision: "allow"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want fn's error", err)
	}
	if _, err := getSubject(t, s, "sub_1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("subject survived rollback: %v", err)
	}
	var n int
	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		es, err := tx.AuditEntries(ctx, 1, 100, 100)
		n = len(es)
		return err
	})
	if n != 0 {
		t.Fatalf("audit entries after rollback = %d, want 0", n)
	}
}

// groupIsolation runs many concurrent updates, half of which fail: the
// failures leave nothing, the successes all land, whatever the grouping.
func groupIsolation(t *testing.T, s store.Store) {
	const n = 64
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
				if err := tx.PutSubject(ctx, newRow(fmt.Sprintf("sub_%d", i))); err != nil {
					return err
				}
				if i%2 == 1 {
					return fmt.Errorf("fail %d", i)
				}
				return nil
			})
		})
	}
	wg.Wait()
	for i := range n {
		_, err := getSubject(t, s, fmt.Sprintf("sub_%d", i))
		if i%2 == 0 && (errs[i] != nil || err != nil) {
			t.Errorf("update %d: %v / get: %v; want it committed", i, errs[i], err)
		}
		if i%2 == 1 && (errs[i] == nil || !errors.Is(err, store.ErrNotFound)) {
			t.Errorf("update %d: %v / get: %v; want it rolled back", i, errs[i], err)
		}
	}
}

func auditSequence(t *testing.T, s store.Store) {
	for i := range 3 {
		e := &audit.Entry{Time: t0.Add(time.Duration(i) * time.Second), Actor: "op_1", Action: "read", Subject: "sub_1",
			Purpose: "case-handling", Reason: "ticket 42", Fields: []string{"given_name", "phone"}, Decision: "allow", Origin: "127.0.0.1"}
		update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.AppendAudit(ctx, e) })
		if e.Seq != int64(i+1) {
			t.Fatalf("entry %d got Seq %d, want %d", i, e.Seq, i+1)
		}
	}
	// A rolled-back append leaves no gap.
	s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		tx.AppendAudit(ctx, &audit.Entry{Time: t0, Actor: "op_2", Action: "read", Decision: "allow"})
		return errors.New("abort")
	})
	e := &audit.Entry{Time: t0, Actor: "op_3", Action: "lookup", Decision: "deny:not_found"}
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.AppendAudit(ctx, e) })
	if e.Seq != 4 {
		t.Fatalf("after rollback Seq = %d, want 4", e.Seq)
	}
	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		es, err := tx.AuditEntries(ctx, 2, 4, 10)
		if err != nil || len(es) != 2 || es[0].Seq != 2 || es[1].Seq != 3 {
			t.Fatalf("AuditEntries(2,4) = %+v, %v", es, err)
		}
		if got := es[0]; got.Actor != "op_1" || got.Purpose != "case-handling" || got.Reason != "ticket 42" ||
			len(got.Fields) != 2 || got.Fields[1] != "phone" || got.Origin != "127.0.0.1" || !got.Time.Equal(t0.Add(time.Second)) {
			t.Fatalf("entry round trip: %+v", got)
		}
		mine, err := tx.SubjectAudit(ctx, "sub_1", 2)
		if err != nil || len(mine) != 2 || mine[0].Seq != 3 {
			t.Fatalf("SubjectAudit = %+v, %v; want the 2 newest of sub_1", mine, err)
		}
		return nil
	})
}

func concurrentAppend(t *testing.T, s store.Store) {
	const n = 200
	seqs := make([]int64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			e := &audit.Entry{Time: t0, Actor: "op_1", Action: "read", Decision: "allow"}
			if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.AppendAudit(ctx, e) }); err != nil {
				t.Error(err)
			}
			seqs[i] = e.Seq
		})
	}
	wg.Wait()
	seen := make([]bool, n+1)
	for _, q := range seqs {
		if q < 1 || q > n || seen[q] {
			t.Fatalf("sequence %d out of range or repeated", q)
		}
		seen[q] = true
	}
}

func operators(t *testing.T, s store.Store) {
	o := &identity.Operator{ID: "op_1", Username: "alice", PasswordHash: "$argon2id$x", TOTPSecret: []byte("sealed"), Role: "caseworker", Unit: "u1", Created: t0}
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutOperator(ctx, o) })
	dup := *o
	dup.ID = "op_2"
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.PutOperator(ctx, &dup) }); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate username: %v, want ErrConflict", err)
	}
	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.GetOperatorByName(ctx, "alice")
		if err != nil || got.ID != "op_1" || got.Role != "caseworker" || string(got.TOTPSecret) != "sealed" || !got.Created.Equal(t0) {
			t.Fatalf("GetOperatorByName = %+v, %v", got, err)
		}
		if _, err := tx.GetOperator(ctx, "op_9"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("missing operator: %v", err)
		}
		if n, err := tx.CountOperators(ctx); n != 1 || err != nil {
			t.Fatalf("CountOperators = %d, %v", n, err)
		}
		for unit, want := range map[string]bool{o.Unit: true, o.Unit + "x": false, "": false} {
			if ok, err := tx.UnitExists(ctx, unit); ok != want || err != nil {
				t.Fatalf("UnitExists(%q) = %v, %v; want %v", unit, ok, err, want)
			}
		}
		return nil
	})
}

func totpStep(t *testing.T, s store.Store) {
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.PutOperator(ctx, &identity.Operator{ID: "op_1", Username: "a", PasswordHash: "h", Role: "r", Unit: "u", Created: t0})
	})
	steps := []struct {
		step int64
		want bool
	}{{100, true}, {100, false}, {99, false}, {101, true}}
	for _, st := range steps {
		var ok bool
		update(t, s, func(ctx context.Context, tx store.Tx) error {
			var err error
			ok, err = tx.AdvanceTOTP(ctx, "op_1", st.step)
			return err
		})
		if ok != st.want {
			t.Errorf("AdvanceTOTP(%d) = %v, want %v", st.step, ok, st.want)
		}
	}
}

func sessions(t *testing.T, s store.Store) {
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.PutOperator(ctx, &identity.Operator{ID: "op_1", Username: "a", PasswordHash: "h", Role: "auditor", Unit: "u9", Created: t0})
	})
	h := []byte("hash-1")
	ses := &identity.Session{Hash: h, Kind: identity.KindLogin, Operator: "op_1", Created: t0, LastSeen: t0, Expires: t0.Add(time.Hour), Origin: "10.0.0.1"}
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutSession(ctx, ses) })
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.TouchSession(ctx, h, t0.Add(time.Minute), true)
	})
	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.GetSession(ctx, h)
		if err != nil || got.Kind != identity.KindLogin || got.Operator != "op_1" || got.Role != "auditor" || got.Unit != "u9" ||
			got.Attempts != 1 || !got.LastSeen.Equal(t0.Add(time.Minute)) || !got.Expires.Equal(t0.Add(time.Hour)) {
			t.Fatalf("GetSession = %+v, %v", got, err)
		}
		return nil
	})
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.PutSession(ctx, &identity.Session{Hash: []byte("hash-2"), Kind: identity.KindSession, Operator: "op_1", Created: t0, LastSeen: t0, Expires: t0})
	})
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteSession(ctx, h) })
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteOperatorSessions(ctx, "op_1") })
	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		for _, hh := range [][]byte{h, []byte("hash-2")} {
			if _, err := tx.GetSession(ctx, hh); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("session %s after delete: %v", hh, err)
			}
		}
		return nil
	})
}

func canceledContext(t *testing.T, s store.Store) {
	c, cancel := context.WithCancel(ctx)
	cancel()
	ran := false
	err := s.Update(c, func(ctx context.Context, tx store.Tx) error { ran = true; return nil })
	if err == nil || ran {
		t.Fatalf("Update on canceled ctx: err %v ran %v; want an error and fn not run", err, ran)
	}
}

// bulkAllOrNothing checks the optional subject.Bulk: a chunk with a taken
// or repeated hash writes no entry, and the existing entry survives.
func bulkAllOrNothing(t *testing.T, s store.Store) {
	probe := false
	s.View(ctx, func(ctx context.Context, tx store.Tx) error { _, probe = tx.(subject.Bulk); return nil })
	if !probe {
		t.Skip("store has no subject.Bulk")
	}
	h := func(i int) []byte { return Hash(fmt.Sprint("hash-", i)) }
	bulk := func(fn func(subject.Bulk) error) error {
		return s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return fn(tx.(subject.Bulk)) })
	}
	id := newIDs(t, s, 5)
	if err := bulk(func(b subject.Bulk) error { return b.PutIndexes(ctx, 1, [][]byte{h(1), h(2)}, []string{id[0], id[0]}) }); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		hashes   [][]byte
		subjects []string
	}{
		{"taken", [][]byte{h(3), h(2), h(4)}, []string{id[1], id[1], id[2]}},
		{"repeated", [][]byte{h(5), h(5)}, []string{id[3], id[4]}},
	}
	for _, c := range cases {
		err := bulk(func(b subject.Bulk) error { return b.PutIndexes(ctx, 1, c.hashes, c.subjects) })
		if !errors.Is(err, store.ErrConflict) {
			t.Fatalf("%s: PutIndexes = %v, want ErrConflict", c.name, err)
		}
	}
	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		for i, want := range map[int]string{1: id[0], 2: id[0], 3: "", 4: "", 5: ""} {
			got, err := tx.LookupIndex(ctx, h(i))
			if want == "" && !errors.Is(err, store.ErrNotFound) || want != "" && got != want {
				t.Errorf("hash %d → %q, %v; want %q", i, got, err, want)
			}
		}
		return nil
	})
	more := newIDs(t, s, 3)
	rows := []*subject.Row{newRow(more[0]), newRow(more[1]), newRow("sub_made_elsewhere")}
	if err := bulk(func(b subject.Bulk) error { return b.PutSubjects(ctx, rows) }); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if got, err := getSubject(t, s, r.ID); err != nil || got.Unit != "unit-a" || got.ID != r.ID {
			t.Fatalf("bulk subject %s: %+v, %v", r.ID, got, err)
		}
	}
	err := bulk(func(b subject.Bulk) error {
		return b.PutSubjects(ctx, []*subject.Row{newRow(more[2]), newRow(more[0])})
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("bulk put of a taken id: %v, want ErrConflict", err)
	}
	if _, err := getSubject(t, s, more[2]); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("subject of a failed bulk put: %v, want ErrNotFound", err)
	}
}

func checkpoints(t *testing.T, s store.Store) {
	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.LatestCheckpoint(ctx); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("empty LatestCheckpoint: %v, want ErrNotFound", err)
		}
		return nil
	})
	h := func(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }
	for _, size := range []uint64{3, 7, 12} {
		c := &audit.StoredCheckpoint{Size: size, Root: h(byte(size)), Note: []byte(fmt.Sprintf("note %d", size)),
			Range: [][]byte{h(1), h(2)}, Leaves: bytes.Repeat(h(9), 2), Created: t0}
		update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.PutCheckpoint(ctx, c) })
	}
	dup := &audit.StoredCheckpoint{Size: 7, Root: h(0), Note: []byte("x"), Created: t0}
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.PutCheckpoint(ctx, dup) }); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second checkpoint of size 7: %v, want ErrConflict", err)
	}
	s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		c, err := tx.LatestCheckpoint(ctx)
		if err != nil || c.Size != 12 || !bytes.Equal(c.Root, h(12)) || len(c.Range) != 2 || !bytes.Equal(c.Range[1], h(2)) ||
			len(c.Leaves) != 0 || string(c.Note) != "note 12" || !c.Created.Equal(t0) {
			t.Fatalf("LatestCheckpoint = %+v, %v", c, err)
		}
		cs, err := tx.CheckpointsAfter(ctx, 3, 10)
		if err != nil || len(cs) != 2 || cs[0].Size != 7 || cs[1].Size != 12 || len(cs[1].Leaves) != 64 {
			t.Fatalf("CheckpointsAfter(3) = %+v, %v", cs, err)
		}
		return nil
	})
}

// Hash is a blind index hash for the tests: subject.HashLen bytes made
// from s, so that each test names its entries.
func Hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:subject.HashLen]
}
