package vault_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetest"
	"github.com/coffre/coffre/internal/subject"

	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetemplate"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

var ctx = context.Background()

var (
	hr     = identity.Actor{ID: "op_hr", Role: "hr-officer", Unit: "u1", Origin: "127.0.0.1"}
	worker = identity.Actor{ID: "op_cw", Role: "caseworker", Origin: "127.0.0.1"}
	desk   = identity.Actor{ID: "op_sd", Role: "support", Origin: "127.0.0.1"}
)

// failingStore wraps a store and makes AppendAudit fail when fail is set:
// failure injection for the fail-closed guarantee.
type failingStore struct {
	store.Store
	fail bool
	// rerun makes every Update run its function twice, as a store does
	// when another function of the group failed: first against a
	// transaction in which no subject exists and every write fails, then
	// for real.
	rerun bool
}

// missingTx answers that nothing exists and fails every write an access
// makes before its audit entry: the first run of a rerun.
type missingTx struct{ store.Tx }

var errFirstRun = errors.New("injected: first run of the group fails")

func (missingTx) GetSubject(context.Context, string) (*subject.Row, error) {
	return nil, store.ErrNotFound
}
func (missingTx) LookupIndex(context.Context, []byte) (string, error)    { return "", store.ErrNotFound }
func (missingTx) PutIndex(context.Context, uint32, []byte, string) error { return errFirstRun }
func (missingTx) PutSubject(context.Context, *subject.Row) error         { return errFirstRun }
func (missingTx) AppendAudit(context.Context, *audit.Entry) error        { return errFirstRun }

type failingTx struct{ store.Tx }

func (failingTx) AppendAudit(context.Context, *audit.Entry) error {
	return errors.New("injected audit failure")
}

func (f *failingStore) Update(ctx context.Context, fn func(context.Context, store.Tx) error) error {
	if f.rerun {
		return f.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			if err := fn(ctx, missingTx{tx}); !errors.Is(err, errFirstRun) {
				return fmt.Errorf("first run: got %v, want the injected failure", err)
			}
			return fn(ctx, tx)
		})
	}
	if !f.fail {
		return f.Store.Update(ctx, fn)
	}
	return f.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error { return fn(ctx, failingTx{tx}) })
}

func newVault(t testing.TB) (*vault.Vault, *failingStore) {
	t.Helper()
	return newVaultWith(t, func(*vault.Config) {})
}

// newVaultWith is newVault with its configuration changed by edit.
func newVaultWith(t testing.TB, edit func(*vault.Config)) (*vault.Vault, *failingStore) {
	t.Helper()
	cfg, err := config.Demo(nil)
	if err != nil {
		t.Fatal(err)
	}
	seed := make([]byte, envelope.SeedSize)
	rand.Read(seed)
	keys, err := envelope.NewKeyring(map[uint32][]byte{1: seed}, 1)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlitetemplate.Open(ctx, filepath.Join(t.TempDir(), "c.db"), sqlite.Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	fs := &failingStore{Store: st}
	c := vault.Config{Store: fs, Keys: keys, Policy: cfg.Policy}
	edit(&c)
	return vault.New(c), fs
}

func create(t *testing.T, v *vault.Vault, i int) (string, synth.Person) {
	t.Helper()
	p := synth.Make(7, i)
	id, err := v.Create(ctx, hr, p.Unit, p.Fields)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return id, p
}

func auditEntries(t *testing.T, s store.Store) []audit.Entry {
	t.Helper()
	var es []audit.Entry
	err := s.View(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		es, err = tx.AuditEntries(ctx, 1, 1<<62, 10000)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func TestReadViewsDifferByPurpose(t *testing.T) {
	v, _ := newVault(t)
	id, p := create(t, v, 1)
	dir, err := v.Read(ctx, worker, id, "directory", "")
	if err != nil {
		t.Fatal(err)
	}
	if dir.Fields["email_pro"] != p.Fields["email_pro"] || dir.Fields["family_name"] != p.Fields["family_name"] {
		t.Errorf("directory view lacks clear professional fields: %v", dir.Fields)
	}
	for _, absent := range []string{"phone", "national_id", "birth_date", "health_note", "email_personal"} {
		if _, ok := dir.Fields[absent]; ok {
			t.Errorf("directory view shows %s", absent)
		}
	}
	cs, err := v.Read(ctx, worker, id, "case-handling", "ticket 1")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cs.Fields["birth_date"], p.Fields["birth_date"][:4]; got != want {
		t.Errorf("case-handling birth_date = %q, want year %q", got, want)
	}
	nid := cs.Fields["national_id"]
	if strings.Contains(nid, p.Fields["national_id"][:6]) || !strings.HasSuffix(nid, p.Fields["national_id"][11:]) {
		t.Errorf("case-handling national_id = %q: want all but the last 4 hidden", nid)
	}
	if _, ok := cs.Fields["health_note"]; ok {
		t.Error("case-handling shows the special-category field")
	}
	if cs.AuditSeq <= dir.AuditSeq {
		t.Errorf("audit seq did not advance: %d then %d", dir.AuditSeq, cs.AuditSeq)
	}
}

func TestPolicyDenialIsAudited(t *testing.T) {
	v, fs := newVault(t)
	id, _ := create(t, v, 2)
	tests := []struct {
		name    string
		actor   identity.Actor
		purpose string
		reason  string
		want    error
	}{
		{"role lacks purpose", desk, "payroll", "", access.ErrForbidden},
		{"unknown purpose", worker, "marketing", "", access.ErrInvalid},
		{"no purpose", worker, "", "", access.ErrInvalid},
		{"reason required", hr, "workplace-adjustment", "", access.ErrReasonRequired},
		{"unknown role", identity.Actor{ID: "op_x", Role: "ghost"}, "directory", "", access.ErrForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(auditEntries(t, fs))
			view, err := v.Read(ctx, tt.actor, id, tt.purpose, tt.reason)
			if !errors.Is(err, tt.want) || view != nil {
				t.Fatalf("Read = %v, %v; want %v and no view", view, err, tt.want)
			}
			es := auditEntries(t, fs)
			if len(es) != before+1 || !strings.HasPrefix(es[len(es)-1].Decision, "deny:") {
				t.Fatalf("denial not audited: %d → %d entries", before, len(es))
			}
		})
	}
}

func TestFailClosed(t *testing.T) {
	v, fs := newVault(t)
	id, p := create(t, v, 3)
	fs.fail = true
	view, err := v.Read(ctx, worker, id, "case-handling", "")
	if !errors.Is(err, store.ErrUnavailable) || view != nil {
		t.Fatalf("Read with failing audit = %v, %v; want ErrUnavailable and no view", view, err)
	}
	if _, err := v.Lookup(ctx, worker, "directory", "", "email_pro", p.Fields["email_pro"]); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Lookup with failing audit = %v; want ErrUnavailable", err)
	}
	if _, err := v.Create(ctx, hr, p.Unit, synth.Make(7, 99).Fields); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Create with failing audit = %v; want ErrUnavailable", err)
	}
	fs.fail = false
	if _, err := v.Lookup(ctx, worker, "directory", "", "email_pro", synth.Make(7, 99).Fields["email_pro"]); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a create whose audit failed left a record behind: %v", err)
	}
	if _, err := v.Read(ctx, worker, id, "case-handling", ""); err != nil {
		t.Fatalf("Read after recovery: %v", err)
	}
}

func TestLookupNormalisation(t *testing.T) {
	v, _ := newVault(t)
	id, p := create(t, v, 4)
	email := p.Fields["email_pro"]
	phone := strings.ReplaceAll(p.Fields["phone"], " ", "")
	tests := []struct{ field, value, purpose string }{
		{"email_pro", email, "directory"},
		{"email_pro", "  " + strings.ToUpper(email) + " ", "directory"},
		{"phone", "+33 " + phone[1:], "case-handling"},
		{"phone", "0033" + phone[1:], "case-handling"},
		{"phone", strings.Join([]string{phone[:2], phone[2:4], phone[4:6], phone[6:8], phone[8:]}, "."), "case-handling"},
	}
	for _, tt := range tests {
		got, err := v.Lookup(ctx, worker, tt.purpose, "", tt.field, tt.value)
		if err != nil || got != id {
			t.Errorf("Lookup(%s, variant %d chars) = %q, %v; want %s", tt.field, len(tt.value), got, err, id)
		}
	}
	misses := []struct{ field, value, purpose string }{
		{"email_pro", email[:len(email)-1], "directory"}, // a prefix is not a match
		{"email_pro", "*", "directory"},
		{"phone", phone, "directory"},                 // directory does not show phone
		{"birth_date", "1980-01-01", "case-handling"}, // no index
	}
	for _, tt := range misses {
		if got, err := v.Lookup(ctx, worker, tt.purpose, "", tt.field, tt.value); err == nil {
			t.Errorf("Lookup(%s) = %q; want an error", tt.field, got)
		}
	}
}

func TestEraseShredsKey(t *testing.T) {
	v, fs := newVault(t)
	id, p := create(t, v, 5)
	if err := v.Erase(ctx, worker, id, ""); !errors.Is(err, access.ErrForbidden) {
		t.Fatalf("caseworker erase = %v, want ErrForbidden", err)
	}
	if err := v.Erase(ctx, hr, id, "art. 17 request 88"); err != nil {
		t.Fatal(err)
	}
	var row *subject.Row
	fs.View(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		row, err = tx.GetSubject(ctx, id)
		return err
	})
	if row == nil || !row.Erased || row.DEK != nil || row.Fields != nil {
		t.Fatalf("after erase the row still holds key or data: %+v", row)
	}
	if _, err := v.Read(ctx, worker, id, "directory", ""); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("read after erase = %v, want ErrNotFound", err)
	}
	if _, err := v.Lookup(ctx, worker, "directory", "", "email_pro", p.Fields["email_pro"]); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("lookup after erase = %v, want ErrNotFound", err)
	}
	// The same person can be created again: the indexes are gone.
	if _, err := v.Create(ctx, hr, p.Unit, p.Fields); err != nil {
		t.Fatalf("re-create after erase: %v", err)
	}
}

// TestMovedCiphertextFails copies one subject's sealed fields into another's
// row, as an insider with database access might: the read must fail.
func TestMovedCiphertextFails(t *testing.T) {
	v, fs := newVault(t)
	a, _ := create(t, v, 6)
	b, _ := create(t, v, 8)
	err := fs.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		ra, err := tx.GetSubject(ctx, a)
		if err != nil {
			return err
		}
		rb, err := tx.GetSubject(ctx, b)
		if err != nil {
			return err
		}
		rb.Fields = ra.Fields
		return tx.ReplaceSubject(ctx, rb)
	})
	if err != nil {
		t.Fatal(err)
	}
	if view, err := v.Read(ctx, worker, b, "directory", ""); err == nil {
		t.Fatalf("read of moved ciphertext succeeded: %v", view.Fields)
	}
}

// TestUpdate: the fields that are not contacts change at once; the
// contact fields (an email set, another removed) wait out the cooling-off
// in a pending change, and the record, its lookups and its view keep the
// current values until the pass applies it.
func TestUpdate(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	v, fs := newVaultWith(t, func(c *vault.Config) { c.Now = clk.Now })
	id, p := create(t, v, 9)
	newEmail, addr := "nouvelle.adresse@ac-versailles.fr", "2 rue des Lilas, 78000 Versailles"
	u, err := v.Update(ctx, worker, id, "case-update", "ticket 12", map[string]*string{"email_pro": &newEmail, "email_personal": nil, "address": &addr})
	if err != nil {
		t.Fatal(err)
	}
	at := clk.Now().Add(vault.DefaultContactCoolingOff)
	if !slices.Equal(u.Applied, []string{"address"}) || len(u.Pending) != 2 || !u.Pending["email_pro"].Equal(at) || !u.Pending["email_personal"].Equal(at) || !vault.ValidChangeID(u.Change) {
		t.Fatalf("Update = %+v; want address applied, email_pro and email_personal pending until %s", u, at)
	}
	view, _ := v.Read(ctx, worker, id, "case-handling", "")
	if view.Fields["address"] != addr || view.Fields["email_pro"] != p.Fields["email_pro"] || view.Fields["email_personal"] == "" {
		t.Errorf("view during the cooling-off: %v; want the new address, the old emails", view.Fields)
	}
	if got, err := v.Lookup(ctx, worker, "directory", "", "email_pro", p.Fields["email_pro"]); err != nil || got != id {
		t.Errorf("old email during the cooling-off: %q, %v", got, err)
	}
	if _, err := v.Lookup(ctx, worker, "directory", "", "email_pro", newEmail); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("new email found during the cooling-off: %v", err)
	}
	clk.Add(vault.DefaultContactCoolingOff - time.Second)
	if n, err := v.ApplyContactChanges(ctx, 10); err != nil || n != 0 {
		t.Fatalf("ApplyContactChanges before the date = %d, %v; want 0", n, err)
	}
	clk.Add(time.Second)
	if n, err := v.ApplyContactChanges(ctx, 10); err != nil || n != 1 {
		t.Fatalf("ApplyContactChanges at the date = %d, %v; want 1", n, err)
	}
	if _, err := v.Lookup(ctx, worker, "directory", "", "email_pro", p.Fields["email_pro"]); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("old email still found: %v", err)
	}
	if got, err := v.Lookup(ctx, worker, "directory", "", "email_pro", newEmail); err != nil || got != id {
		t.Errorf("new email: %q, %v", got, err)
	}
	view, _ = v.Read(ctx, worker, id, "case-handling", "")
	if _, ok := view.Fields["email_personal"]; ok {
		t.Error("removed field still present")
	}
	bad, name := "not an email", "Zoé"
	var fe *vault.FieldError
	refused := []struct {
		name    string
		a       identity.Actor
		purpose string
		reason  string
		changes map[string]*string
		fe      string // the FieldError's field, or
		want    error  // the error
	}{
		{"invalid value", worker, "case-update", "t", map[string]*string{"email_pro": &bad}, "email_pro", nil},
		{"unknown field", worker, "case-update", "t", map[string]*string{"nickname": &name}, "nickname", nil},
		{"no change", worker, "case-update", "t", map[string]*string{}, "fields", nil},
		{"field the purpose does not change", worker, "case-update", "t", map[string]*string{"given_name": &name}, "", access.ErrForbidden},
		{"read purpose", worker, "case-handling", "t", map[string]*string{"phone": nil}, "", access.ErrForbidden},
		{"purpose of another role", worker, "hr-records", "t", map[string]*string{"phone": nil}, "", access.ErrForbidden},
		{"required field removed", hr, "hr-records", "t", map[string]*string{"given_name": nil}, "given_name", nil},
		{"contact change without a reason", worker, "case-update", "", map[string]*string{"address": &name}, "", access.ErrReasonRequired},
		{"no update permission", desk, "support-call", "t", map[string]*string{"phone": nil}, "", access.ErrForbidden},
	}
	for _, tt := range refused {
		_, err := v.Update(ctx, tt.a, id, tt.purpose, tt.reason, tt.changes)
		if tt.fe != "" && (!errors.As(err, &fe) || fe.Field != tt.fe) || tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v%s", tt.name, err, tt.want, tt.fe)
		}
	}
	// Every refusal is audited, and none changed the record.
	es := auditEntries(t, fs)
	denied := 0
	for _, e := range es {
		if e.Action == "update" && strings.HasPrefix(e.Decision, "deny:") {
			denied++
		}
	}
	if denied != len(refused) {
		t.Errorf("%d refused updates audited, want %d", denied, len(refused))
	}
	if got, err := v.Lookup(ctx, worker, "directory", "", "email_pro", newEmail); err != nil || got != id {
		t.Errorf("after the refusals: %q, %v", got, err)
	}
}

func TestImportReportsRows(t *testing.T) {
	v, fs := newVault(t)
	good := synth.Make(7, 20)
	dup := synth.Make(7, 21)
	bad := synth.Make(7, 22)
	bad.Fields["national_id"] = "123"
	noName := synth.Make(7, 23)
	delete(noName.Fields, "family_name")
	rows := []vault.ImportRow{
		{Num: 2, Unit: good.Unit, Fields: good.Fields},
		{Num: 3, Unit: dup.Unit, Fields: dup.Fields},
		{Num: 4, Unit: dup.Unit, Fields: dup.Fields}, // same lookup values as row 3
		{Num: 5, Unit: bad.Unit, Fields: bad.Fields},
		{Num: 6, Unit: noName.Unit, Fields: noName.Fields},
		{Num: 7, Unit: "Bad Unit!", Fields: good.Fields},
	}
	ids, failed, err := v.Import(ctx, hr, rows)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 {
		t.Fatalf("imported %d, want 2", len(ids))
	}
	want := map[int]string{4: "", 5: "national_id", 6: "family_name", 7: "unit"}
	if len(failed) != len(want) {
		t.Fatalf("failed rows = %+v, want rows 4-7", failed)
	}
	for _, f := range failed {
		field, ok := want[f.Num]
		if !ok || f.Field != field {
			t.Errorf("failed row %+v: want row in %v with field %q", f, want, field)
		}
		for _, val := range dup.Fields {
			if strings.Contains(f.Error(), val) {
				t.Errorf("row error %q contains a value", f.Error())
			}
		}
	}
	// Row 4's conflict must not have removed row 3's index entries.
	if got, err := v.Lookup(ctx, worker, "directory", "", "email_pro", dup.Fields["email_pro"]); err != nil || got != ids[1] {
		t.Errorf("row 3 lookup = %q, %v; want %s", got, err, ids[1])
	}
	if _, _, err := v.Import(ctx, worker, rows[:1]); !errors.Is(err, access.ErrForbidden) {
		t.Errorf("caseworker import = %v, want ErrForbidden", err)
	}
	_ = fs
}

// TestAuditHoldsNoValues reads every audit entry after a mix of actions
// and checks no personal value appears in it.
func TestAuditHoldsNoValues(t *testing.T) {
	v, fs := newVault(t)
	id, p := create(t, v, 30)
	v.Read(ctx, worker, id, "case-handling", "ticket 77")
	v.Lookup(ctx, worker, "directory", "", "email_pro", p.Fields["email_pro"])
	v.Lookup(ctx, worker, "directory", "", "email_pro", "absent@example.org")
	v.Read(ctx, desk, id, "payroll", "")
	for _, e := range auditEntries(t, fs) {
		blob := strings.Join(append([]string{e.Actor, e.Action, e.Subject, e.Purpose, e.Reason, e.Decision, e.Origin}, e.Fields...), "|")
		for name, val := range p.Fields {
			if strings.Contains(blob, val) {
				t.Errorf("audit entry %d holds the value of %s", e.Seq, name)
			}
		}
		if strings.Contains(blob, "absent@example.org") {
			t.Errorf("audit entry %d holds a looked-up value", e.Seq)
		}
	}
}

// TestImportBatchAllOrNothing fails the batch's last write (its audit
// entry): none of the batch's records may survive.
func TestImportBatchAllOrNothing(t *testing.T) {
	v, fs := newVault(t)
	var rows []vault.ImportRow
	for i := range 300 {
		p := synth.Make(11, i)
		rows = append(rows, vault.ImportRow{Num: i + 2, Unit: p.Unit, Fields: p.Fields})
	}
	fs.fail = true
	if _, _, err := v.Import(ctx, hr, rows); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Import with failing audit = %v, want ErrUnavailable", err)
	}
	fs.fail = false
	for _, r := range rows {
		if id, err := v.Lookup(ctx, worker, "directory", "", "email_pro", r.Fields["email_pro"]); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("row %d survived a failed batch: %q, %v", r.Num, id, err)
		}
	}
	ids, failed, err := v.Import(ctx, hr, rows)
	if err != nil || len(ids) != len(rows) || len(failed) != 0 {
		t.Fatalf("retry: %d imported, %v, %v", len(ids), failed, err)
	}
}

// TestImportBulkPath imports batches big enough for several multi-row
// statements of every size, and checks every lookup value of every row
// finds its own subject (the email on every row; the vault's lookup
// purposes offer no other field); then a batch holding one row whose value is
// taken, in its middle: that row alone fails, the others are written.
func TestImportBulkPath(t *testing.T) {
	v, _ := newVault(t)
	const n = 2500 // 10,000 index entries: 4096 + 4096 + 1024 + 512 + ...
	var rows []vault.ImportRow
	for i := range n {
		p := synth.Make(13, i)
		rows = append(rows, vault.ImportRow{Num: i + 2, Unit: p.Unit, Fields: p.Fields})
	}
	ids, failed, err := v.Import(ctx, hr, rows)
	if err != nil || len(ids) != n || len(failed) != 0 {
		t.Fatalf("import: %d written, failed %v, %v", len(ids), failed, err)
	}
	// Index entries are written in hash order: every row's email is in
	// some statement of some size.
	for i, r := range rows {
		got, err := v.Lookup(ctx, worker, "directory", "", "email_pro", r.Fields["email_pro"])
		if err != nil || got != ids[i] {
			t.Fatalf("row %d → %q, %v; want %s", r.Num, got, err, ids[i])
		}
	}
	var more []vault.ImportRow
	for i := range 300 {
		p := synth.Make(13, n+i)
		more = append(more, vault.ImportRow{Num: i + 2, Unit: p.Unit, Fields: p.Fields})
	}
	more[150].Fields["phone"] = rows[42].Fields["phone"]
	ids2, failed, err := v.Import(ctx, hr, more)
	if err != nil || len(ids2) != len(more)-1 || len(failed) != 1 || failed[0].Num != more[150].Num {
		t.Fatalf("second import: %d written, failed %+v, %v; want all but row %d", len(ids2), failed, err, more[150].Num)
	}
	if got, err := v.Lookup(ctx, worker, "directory", "", "email_pro", more[151].Fields["email_pro"]); err != nil || got != ids2[150] {
		t.Fatalf("row after the failed one → %q, %v; want %s", got, err, ids2[150])
	}
}

// TestAccessRerun runs every access's transaction twice, the first time
// seeing no subject and failing: the second run's results are the ones
// returned, and one audit entry is written per access.
func TestAccessRerun(t *testing.T) {
	v, fs := newVault(t)
	id, p := create(t, v, 1)
	fs.rerun = true
	before := len(auditEntries(t, fs))
	id2, err := v.Create(ctx, hr, p.Unit, synth.Make(7, 2).Fields)
	if err != nil || id2 == "" {
		t.Fatalf("Create under rerun: %q, %v", id2, err)
	}
	got, err := v.Read(ctx, worker, id, "directory", "")
	if err != nil {
		t.Fatalf("Read under rerun: %v", err)
	}
	if got.ID != id || got.Fields["email_pro"] == "" {
		t.Errorf("Read under rerun = %+v, want subject %s with its email", got, id)
	}
	found, err := v.Lookup(ctx, worker, "directory", "", "email_pro", p.Fields["email_pro"])
	if err != nil || found != id {
		t.Errorf("Lookup under rerun = %q, %v; want %s", found, err, id)
	}
	fs.rerun = false
	entries := auditEntries(t, fs)[before:]
	if len(entries) != 3 {
		t.Fatalf("%d audit entries for 3 accesses under rerun: %+v", len(entries), entries)
	}
	for i, want := range []string{"create", "read", "lookup"} {
		if entries[i].Action != want || entries[i].Decision != "allow" {
			t.Errorf("entry %d = %s %s, want %s allow", i, entries[i].Action, entries[i].Decision, want)
		}
	}
}

// TestLongReasonCutOnACharacter: a reason over the limit is refused, and
// its audit entry keeps a prefix cut on a UTF-8 boundary.
func TestLongReasonCutOnACharacter(t *testing.T) {
	v, fs := newVault(t)
	id, _ := create(t, v, 3)
	reason := "x" + strings.Repeat("é", 150) // 301 bytes; byte 200 is inside an é
	if _, err := v.Read(ctx, worker, id, "directory", reason); !errors.Is(err, access.ErrInvalid) {
		t.Fatalf("read with a long reason: %v, want ErrInvalid", err)
	}
	es := auditEntries(t, fs)
	if err := vault.OpenReasons(ctx, v, es); err != nil {
		t.Fatal(err)
	}
	got := es[len(es)-1].Reason
	if !utf8.ValidString(got) || len(got) > 200 || len(got) < 199 || !strings.HasPrefix(reason, got) {
		t.Errorf("audited reason %q (%d bytes): want a valid prefix of at most 200 bytes", got, len(got))
	}
}

// TestReadFields: a read narrowed to some fields opens, returns, audits
// and tells the person of those alone; fields the purpose does not show,
// or named twice, are refused and the refusal audited.
func TestReadFields(t *testing.T) {
	v, fs := newVault(t)
	id, p := create(t, v, 3)
	checker := worker
	checker.StepFactor, checker.SteppedUp, checker.StepGroup = "totp", time.Now(), v.Policy().Purposes["identity-check"].Group()
	got, err := v.ReadFields(ctx, checker, id, "identity-check", "case 12: the person's identity before the decision", []string{"national_id"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Fields) != 1 || got.Fields["national_id"] != p.Fields["national_id"] || len(got.Masked) != 0 {
		t.Errorf("narrowed view = %v (masked %v), want national_id alone, in clear", got.Fields, got.Masked)
	}
	es := auditEntries(t, fs)
	if e := es[len(es)-1]; e.Seq != got.AuditSeq || e.Action != "read" || !slices.Equal(e.Fields, []string{"national_id"}) {
		t.Errorf("audit entry %+v, want a read of national_id alone at %d", e, got.AuditSeq)
	}
	// Masked under its purpose, a narrowed field stays masked.
	cs, err := v.ReadFields(ctx, worker, id, "case-handling", "ticket 1", []string{"birth_date", "given_name"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs.Fields) != 2 || cs.Fields["birth_date"] != p.Fields["birth_date"][:4] || !slices.Equal(cs.Masked, []string{"birth_date"}) {
		t.Errorf("case-handling narrowed view = %v (masked %v)", cs.Fields, cs.Masked)
	}
	for _, tt := range []struct {
		name   string
		fields []string
	}{
		{"none", []string{}},
		{"denied by the purpose", []string{"health_note"}},
		{"unknown", []string{"shoe_size"}},
		{"twice", []string{"given_name", "given_name"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := len(auditEntries(t, fs))
			view, err := v.ReadFields(ctx, worker, id, "case-handling", "ticket 1", tt.fields)
			if !errors.Is(err, access.ErrInvalid) || view != nil {
				t.Fatalf("ReadFields(%v) = %v, %v; want ErrInvalid", tt.fields, view, err)
			}
			if n := len(auditEntries(t, fs)); len(tt.fields) > 0 && n != before+1 {
				t.Errorf("the refusal is not audited: %d → %d entries", before, n)
			}
		})
	}
}
