package vault_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/access"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

var host = identity.Actor{ID: "system", Role: "admin", Origin: "cli"}

// caseloadEnv is a vault without a guard holding people of two units and
// operators of every kind a caseload change meets.
type caseloadEnv struct {
	v      *vault.Vault
	fs     *failingStore
	people map[string][]string // unit → ids
	emails map[string]string   // id → work email
	erased string              // an erased person of unit u1
}

func newCaseloadEnv(t *testing.T) *caseloadEnv {
	t.Helper()
	v, fs := newVault(t)
	e := &caseloadEnv{v: v, fs: fs, people: map[string][]string{}, emails: map[string]string{}}
	for i := range 6 {
		p := synth.Make(5, i)
		unit := []string{"u1", "u2"}[i%2]
		id, err := v.Create(ctx, identity.Actor{ID: "op_hr", Role: "hr-officer", Unit: unit, Origin: "127.0.0.1"}, unit, p.Fields)
		if err != nil {
			t.Fatal(err)
		}
		e.people[unit] = append(e.people[unit], id)
		e.emails[id] = p.Fields[synth.EmailPro]
	}
	p := synth.Make(5, 99)
	id, err := v.Create(ctx, hr, "u1", p.Fields)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Erase(ctx, hr, id, "left"); err != nil {
		t.Fatal(err)
	}
	e.erased = id
	ops := []*identity.Operator{
		{ID: "op_cw", Username: "camille", Role: "caseworker", Unit: "u1"},
		{ID: "op_cw2", Username: "claude", Role: "caseworker", Unit: "u2"},
		{ID: "op_off", Username: "olga", Role: "caseworker", Unit: "u1", Disabled: true},
		{ID: "op_aud", Username: "alex", Role: "auditor", Unit: "u1"},
		{ID: "op_ptn", Username: "mission-locale", Role: "partner", Unit: "u1", PasswordHash: "!"},
	}
	err = fs.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		for _, op := range ops {
			if op.PasswordHash == "" {
				op.PasswordHash = "x"
			}
			if err := tx.PutOperator(ctx, op); err != nil {
				return err
			}
		}
		return tx.PutPartner(ctx, &identity.Partner{ID: "op_ptn", Name: "mission-locale", Sector: "employment", KeyHash: []byte("k"), CertSerial: "01"})
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// assigned returns which of ids are in operator's caseload now.
func (e *caseloadEnv) assigned(t *testing.T, operator string, ids ...string) []bool {
	t.Helper()
	out := make([]bool, len(ids))
	e.fs.View(ctx, func(ctx context.Context, tx store.Tx) error {
		for i, id := range ids {
			in, err := tx.InCaseload(ctx, operator, id, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			out[i] = in
		}
		return nil
	})
	return out
}

func rowErrors(es []vault.RowError) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Error())
	}
	return out
}

// TestChangeCaseloadRows: a host change applies its good rows and
// reports the others by row, column and reason, never by value.
func TestChangeCaseloadRows(t *testing.T) {
	e := newCaseloadEnv(t)
	u1, u2 := e.people["u1"], e.people["u2"]
	soon, far, past := time.Now().Add(48*time.Hour), time.Now().Add(3*365*24*time.Hour), time.Now().Add(-time.Hour)
	rows := []vault.CaseloadRow{
		{Num: 2, Subject: u1[0], Until: soon},
		{Num: 3, Subject: "email_pro=" + strings.ToUpper(e.emails[u1[1]])}, // normalised like a lookup
		{Num: 4, Subject: u2[0]},
		{Num: 5, Subject: "email_pro=nobody@example.org"},
		{Num: 6, Subject: "given_name=Marie"},
		{Num: 7, Subject: "sub_nothing"},
		{Num: 8, Subject: e.erased},
		{Num: 9, Subject: u1[2], Until: past},
		{Num: 10, Subject: u1[2], Until: far},
		{Num: 11, Subject: "email_pro=not-an-email"},
		{Num: 13, Subject: "email_pro=" + e.emails[u1[1]], Until: past},
		{Num: 12, Subject: u1[0]}, // again: the last row's end (none) wins
	}
	res, err := e.v.ChangeCaseload(ctx, host, vault.CaseloadChange{Username: "camille", Rows: rows, Sync: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`row 4: field "subject": not of unit u1, the operator's`,
		`row 5: field "subject": no one has this lookup value`,
		`row 6: field "subject": want a subject id (sub_…) or FIELD=VALUE of a lookup field`,
		`row 7: field "subject": want a subject id (sub_…) or FIELD=VALUE of a lookup field`,
		`row 8: field "subject": no such subject, or it was erased`,
		`row 9: field "until": in the past: an assignment ends in the future`,
		`row 10: field "until": more than 2 years ahead: assign again when the time comes`,
		`row 11: field "subject": the value: not a valid email address`,
		`row 13: field "until": in the past: an assignment ends in the future`,
	}
	if got := rowErrors(res.Failed); !slices.Equal(got, want) {
		t.Errorf("row errors:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, f := range res.Failed {
		if strings.Contains(f.Reason, "@") || strings.Contains(f.Reason, "Marie") {
			t.Errorf("row error holds a value: %v", f)
		}
	}
	if res.Operator != "op_cw" || res.Assigned != 2 || res.Synced || res.Removed != 0 {
		t.Errorf("result = %+v; want 2 assigned to op_cw, not synced (bad rows)", res)
	}
	if got := e.assigned(t, "op_cw", u1[0], u1[1], u1[2]); !slices.Equal(got, []bool{true, true, false}) {
		t.Errorf("assigned = %v", got)
	}
	e.fs.View(ctx, func(ctx context.Context, tx store.Tx) error {
		if u, err := tx.CaseloadUntil(ctx, "op_cw", u1[0]); err != nil || !u.IsZero() {
			t.Errorf("the repeated subject ends %v, %v; want no end (its last row)", u, err)
		}
		return nil
	})

	// A clean sync file makes the caseload the file: u1[0] leaves it.
	res, err = e.v.ChangeCaseload(ctx, host, vault.CaseloadChange{ID: "op_cw", Rows: []vault.CaseloadRow{{Num: 2, Subject: u1[1]}, {Num: 3, Subject: u1[2], Until: soon}}, Sync: true})
	if err != nil || len(res.Failed) > 0 || !res.Synced || res.Assigned != 2 || res.Removed != 1 {
		t.Fatalf("sync = %+v, %v; want 2 assigned, 1 removed", res, err)
	}
	if got := e.assigned(t, "op_cw", u1[0], u1[1], u1[2]); !slices.Equal(got, []bool{false, true, true}) {
		t.Errorf("after sync: %v", got)
	}
	// A sync whose file held a bad row of this operator (Incomplete) ends nothing.
	res, _ = e.v.ChangeCaseload(ctx, host, vault.CaseloadChange{ID: "op_cw", Rows: []vault.CaseloadRow{{Num: 2, Subject: u1[1]}}, Sync: true, Incomplete: true})
	if res.Synced || res.Removed != 0 || !slices.Equal(e.assigned(t, "op_cw", u1[2]), []bool{true}) {
		t.Errorf("incomplete sync = %+v: ended assignments", res)
	}
	// Removal by id or value; subjects not assigned are no error.
	res, err = e.v.ChangeCaseload(ctx, host, vault.CaseloadChange{ID: "op_cw", Remove: true, Rows: []vault.CaseloadRow{{Num: 1, Subject: "email_pro=" + e.emails[u1[1]]}, {Num: 2, Subject: u2[1]}}})
	if err != nil || res.Removed != 1 || len(res.Failed) > 0 {
		t.Errorf("remove = %+v, %v", res, err)
	}

	// Operators that hold no caseload fail every row, and change nothing.
	for _, tt := range []struct{ name, why string }{
		{"nobody", "no such operator"},
		{"olga", "is disabled: enable the account first"},
		{"alex", `has role "auditor", which reads no one: only a role with purposes has a caseload`},
		{"mission-locale", "is a partner's client: partners have no caseload"},
	} {
		res, err := e.v.ChangeCaseload(ctx, host, vault.CaseloadChange{Username: tt.name, Rows: vault.CaseloadRows(u1[:2], time.Time{}), Sync: true})
		if err != nil || len(res.Failed) != 2 || res.Failed[0].Field != "operator" || res.Failed[0].Reason != tt.why || res.Assigned != 0 {
			t.Errorf("%s: %+v, %v; want both rows refused: %s", tt.name, res, err, tt.why)
		}
	}
	// Every change is audited: ids and counts, never a value or a username.
	var reasons []string
	for _, en := range auditEntries(t, e.fs) {
		if strings.HasPrefix(en.Action, "caseload.") {
			reasons = append(reasons, en.Action+" "+en.Decision+" "+en.Reason)
			if en.Subject != "" || en.Actor != "system" {
				t.Errorf("entry %+v: want actor system and no subject", en)
			}
		}
	}
	wantReasons := []string{
		"caseload.sync allow op_cw: 2 assigned, 0 removed, 9 rows refused",
		"caseload.sync allow op_cw: 2 assigned, 1 removed, 0 rows refused",
		"caseload.sync allow op_cw: 1 assigned, 0 removed, 0 rows refused",
		"caseload.remove allow op_cw: 0 assigned, 1 removed, 0 rows refused",
		"caseload.sync deny:not_found no such operator: 2 rows refused",
		"caseload.sync deny:invalid op_off: 2 rows refused: operator is disabled: enable the account first",
		`caseload.sync deny:invalid op_aud: 2 rows refused: operator has role "auditor", which reads no one: only a role with purposes has a caseload`,
		"caseload.sync deny:invalid op_ptn: 2 rows refused: operator is a partner's client: partners have no caseload",
	}
	if !slices.Equal(reasons, wantReasons) {
		t.Errorf("audit:\n%s\nwant\n%s", strings.Join(reasons, "\n"), strings.Join(wantReasons, "\n"))
	}
}

// TestCaseloadFailClosed: a caseload change whose audit entry cannot be
// written does not happen, on every path.
func TestCaseloadFailClosed(t *testing.T) {
	e := newCaseloadEnv(t)
	u1 := e.people["u1"]
	lea := identity.Actor{ID: "op_lea", Role: "supervisor", Unit: "u1", Origin: "127.0.0.1", SteppedUp: time.Now()}
	e.fs.fail = true
	if _, err := e.v.AssignCaseload(ctx, lea, "op_cw", u1[:2], time.Now().Add(time.Hour)); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("AssignCaseload: %v, want ErrUnavailable", err)
	}
	if _, err := e.v.ChangeCaseload(ctx, host, vault.CaseloadChange{ID: "op_cw", Rows: vault.CaseloadRows(u1[:2], time.Time{})}); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("ChangeCaseload: %v, want ErrUnavailable", err)
	}
	p := synth.Make(5, 50)
	ids, failed, err := e.v.Import(ctx, host, []vault.ImportRow{{Num: 2, Unit: "u1", Fields: p.Fields, Caseworker: "camille"}})
	if !errors.Is(err, store.ErrUnavailable) || len(ids) > 0 || len(failed) > 0 {
		t.Errorf("Import: %v, %v, %v; want ErrUnavailable", ids, failed, err)
	}
	e.fs.fail = false
	if got := e.assigned(t, "op_cw", u1[0], u1[1]); slices.Contains(got, true) {
		t.Errorf("assigned without an audit entry: %v", got)
	}
	e.fs.View(ctx, func(ctx context.Context, tx store.Tx) error {
		if n, _ := tx.CountCaseload(ctx, "op_cw", time.Now()); n != 0 {
			t.Errorf("caseload of %d after failed changes", n)
		}
		return nil
	})
	// And the API removal: assigned from the host, the failed removal
	// leaves the assignment.
	e.v.ChangeCaseload(ctx, host, vault.CaseloadChange{ID: "op_cw", Rows: vault.CaseloadRows(u1[:1], time.Time{})})
	e.fs.fail = true
	if _, err := e.v.RemoveCaseload(ctx, lea, "op_cw", u1[:1]); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("RemoveCaseload: %v, want ErrUnavailable", err)
	}
	e.fs.fail = false
	if got := e.assigned(t, "op_cw", u1[0]); !got[0] {
		t.Error("removed without an audit entry")
	}
}

// TestCaseloadRerun runs caseload changes' transactions twice, the first
// time seeing no subject and failing: the second run's outcome is the one
// returned.
func TestCaseloadRerun(t *testing.T) {
	e := newCaseloadEnv(t)
	u1 := e.people["u1"]
	lea := identity.Actor{ID: "op_lea", Role: "supervisor", Unit: "u1", Origin: "127.0.0.1", SteppedUp: time.Now()}
	e.fs.rerun = true
	n, err := e.v.AssignCaseload(ctx, lea, "op_cw", u1[:2], time.Now().Add(time.Hour))
	if err != nil || n != 2 {
		t.Errorf("AssignCaseload under rerun = %d, %v", n, err)
	}
	res, err := e.v.ChangeCaseload(ctx, host, vault.CaseloadChange{ID: "op_cw", Rows: vault.CaseloadRows(u1[2:3], time.Time{})})
	if err != nil || res.Assigned != 1 || len(res.Failed) > 0 {
		t.Errorf("ChangeCaseload under rerun = %+v, %v", res, err)
	}
	e.fs.rerun = false
	if got := e.assigned(t, "op_cw", u1...); !slices.Equal(got, []bool{true, true, true}) {
		t.Errorf("assigned = %v", got)
	}
}

// TestAssignCaseloadRefusals: the API path's refusals, each audited with
// its decision and no subject.
func TestAssignCaseloadRefusals(t *testing.T) {
	e := newCaseloadEnv(t)
	u1, u2 := e.people["u1"], e.people["u2"]
	lea := identity.Actor{ID: "op_lea", Role: "supervisor", Unit: "u1", Origin: "127.0.0.1", SteppedUp: time.Now()}
	soon := time.Now().Add(24 * time.Hour)
	many := make([]string, vault.MaxCaseloadBatch+1)
	for i := range many {
		many[i] = u1[0]
	}
	tests := []struct {
		name     string
		a        identity.Actor
		op       string
		subjects []string
		until    time.Time
		want     error
		msg      string
	}{
		{"no permission", cw, "op_cw2", u1[:1], soon, access.ErrForbidden, `lacks permission "assign"`},
		{"malformed operator", lea, "a.martin@example.org", u1[:1], soon, access.ErrInvalid, "malformed operator id"},
		{"oneself", identity.Actor{ID: "op_cw", Role: "supervisor", Unit: "u1", SteppedUp: time.Now()}, "op_cw", u1[:1], soon, access.ErrForbidden, "nobody changes their own caseload"},
		{"no subjects", lea, "op_cw", nil, soon, access.ErrInvalid, "want 1 to 500"},
		{"too many", lea, "op_cw", many, soon, access.ErrInvalid, "want 1 to 500"},
		{"malformed id", lea, "op_cw", []string{u1[0], "sub_x"}, soon, access.ErrInvalid, "subjects[1]: malformed subject id"},
		{"no end", lea, "op_cw", u1[:1], time.Time{}, access.ErrInvalid, `"until": required`},
		{"past", lea, "op_cw", u1[:1], time.Now().Add(-time.Minute), access.ErrInvalid, "in the past"},
		{"too far", lea, "op_cw", u1[:1], time.Now().Add(800 * 24 * time.Hour), access.ErrInvalid, "more than 2 years"},
		{"unknown operator", lea, "op_nobody", u1[:1], soon, store.ErrNotFound, "no such operator op_nobody"},
		{"other unit", lea, "op_cw2", u2[:1], soon, access.ErrForbidden, "not of your unit"},
		{"disabled", lea, "op_off", u1[:1], soon, access.ErrInvalid, "is disabled"},
		{"reads no one", lea, "op_aud", u1[:1], soon, access.ErrInvalid, "reads no one"},
		{"partner", lea, "op_ptn", u1[:1], soon, access.ErrInvalid, "partner"},
		{"erased subject", lea, "op_cw", []string{u1[0], e.erased}, soon, store.ErrNotFound, "no such subject " + e.erased},
		{"subject of another unit", lea, "op_cw", []string{u1[0], u2[0]}, soon, access.ErrInvalid, "is not of unit u1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(auditEntries(t, e.fs))
			_, err := e.v.AssignCaseload(ctx, tt.a, tt.op, tt.subjects, tt.until)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v, want %v with %q", err, tt.want, tt.msg)
			}
			es := auditEntries(t, e.fs)[before:]
			if len(es) != 1 || es[0].Action != "caseload.assign" || !strings.HasPrefix(es[0].Decision, "deny:") || es[0].Subject != "" || strings.Contains(es[0].Reason, "@") {
				t.Errorf("audit = %+v, want one caseload.assign denial without a subject", es)
			}
		})
	}
	if got := e.assigned(t, "op_cw", u1...); slices.Contains(got, true) {
		t.Errorf("a refused request assigned: %v", got)
	}
	n, err := e.v.AssignCaseload(ctx, lea, "op_cw", []string{u1[0], u1[1], u1[0]}, soon)
	if err != nil || n != 2 {
		t.Fatalf("AssignCaseload = %d, %v; want 2 (duplicates once)", n, err)
	}
	// Idempotent: again, with another end.
	if n, err := e.v.AssignCaseload(ctx, lea, "op_cw", u1[:2], soon.Add(time.Hour)); err != nil || n != 2 {
		t.Fatalf("again = %d, %v", n, err)
	}
	es := auditEntries(t, e.fs)
	last := es[len(es)-1]
	if want := fmt.Sprintf("op_cw: 2 subjects until %s", soon.Add(time.Hour).UTC().Format(time.RFC3339)); last.Reason != want || last.Decision != "allow" {
		t.Errorf("entry = %s %q, want allow %q", last.Decision, last.Reason, want)
	}
	// A removal from a disabled operator is allowed (a leaver's caseload).
	if n, err := e.v.RemoveCaseload(ctx, lea, "op_off", u1[:1]); err != nil || n != 0 {
		t.Errorf("remove from a disabled operator = %d, %v", n, err)
	}
	if n, err := e.v.RemoveCaseload(ctx, lea, "op_cw", u1); err != nil || n != 2 {
		t.Errorf("remove = %d, %v; want 2", n, err)
	}
}

// TestImportCaseworker: the import's caseworker columns, validated per row.
func TestImportCaseworker(t *testing.T) {
	e := newCaseloadEnv(t)
	soon := time.Now().AddDate(0, 1, 0).Format(time.DateOnly)
	rows := []vault.ImportRow{
		{Num: 2, Unit: "u1", Caseworker: "camille", CaseworkerUntil: soon},
		{Num: 3, Unit: "u1", Caseworker: "camille"},
		{Num: 4, Unit: "u2", Caseworker: "camille"},
		{Num: 5, Unit: "u1", Caseworker: "nobody"},
		{Num: 6, Unit: "u1", Caseworker: "olga"},
		{Num: 7, Unit: "u1", Caseworker: "camille", CaseworkerUntil: "tomorrow"},
		{Num: 8, Unit: "u1", Caseworker: "camille", CaseworkerUntil: "2001-01-01"},
		{Num: 9, Unit: "u1", CaseworkerUntil: soon},
		{Num: 10, Unit: "u2", Caseworker: "claude"},
		{Num: 11, Unit: "u1"},
	}
	for i := range rows {
		rows[i].Fields = synth.Make(6, i).Fields
	}
	ids, failed, err := e.v.Import(ctx, host, rows)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`row 4: field "caseworker": not of the row's unit: a caseload holds people of one's unit`,
		`row 5: field "caseworker": no such operator`,
		`row 6: field "caseworker": operator is disabled: enable the account first`,
		`row 7: field "caseworker_until": want an RFC 3339 date-time (2026-09-30T18:00:00+02:00) or a date (2026-09-30, to the end of that day)`,
		`row 8: field "caseworker_until": in the past: an assignment ends in the future`,
		`row 9: field "caseworker_until": given without a caseworker`,
	}
	if got := rowErrors(failed); !slices.Equal(got, want) {
		t.Errorf("row errors:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(ids) != 4 {
		t.Fatalf("%d imported, want 4", len(ids))
	}
	if got := e.assigned(t, "op_cw", ids[0], ids[1], ids[3]); !slices.Equal(got, []bool{true, true, false}) {
		t.Errorf("camille's = %v", got)
	}
	if got := e.assigned(t, "op_cw2", ids[2]); !got[0] {
		t.Error("claude's not assigned")
	}
	e.fs.View(ctx, func(ctx context.Context, tx store.Tx) error {
		u, err := tx.CaseloadUntil(ctx, "op_cw", ids[0])
		day, _ := time.Parse(time.DateOnly, soon)
		if err != nil || !u.Equal(day.AddDate(0, 0, 1)) {
			t.Errorf("until = %v, %v; want the end of %s (UTC without a guard)", u, err, soon)
		}
		return nil
	})
	var reasons []string
	for _, en := range auditEntries(t, e.fs) {
		if en.Action == "caseload.assign" {
			reasons = append(reasons, en.Reason)
		}
	}
	if want := []string{"op_cw: 2 assigned (import)", "op_cw2: 1 assigned (import)"}; !slices.Equal(reasons, want) {
		t.Errorf("audit = %q, want %q", reasons, want)
	}
}

// TestCaseloadMember: the operator's own count and membership, expired
// assignments out.
func TestCaseloadMember(t *testing.T) {
	e := newCaseloadEnv(t)
	u1 := e.people["u1"]
	me := identity.Actor{ID: "op_cw", Role: "caseworker", Unit: "u1"}
	e.fs.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tx.AssignCaseload(ctx, "op_cw", u1[:1], time.Time{}); err != nil {
			return err
		}
		return tx.AssignCaseload(ctx, "op_cw", u1[1:2], time.Now().Add(-time.Minute))
	})
	if n, err := e.v.CaseloadCount(ctx, me); err != nil || n != 1 {
		t.Errorf("count = %d, %v; want 1 (the expired one is out)", n, err)
	}
	for i, want := range []bool{true, false, false} {
		m, err := e.v.CaseloadMember(ctx, me, u1[i])
		if err != nil || m.Assigned != want || m.Subject != u1[i] || (i == 1) == m.Until.IsZero() {
			t.Errorf("member(%d) = %+v, %v; want assigned %v", i, m, err, want)
		}
	}
	if _, err := e.v.CaseloadMember(ctx, me, "sub_x"); !errors.Is(err, access.ErrInvalid) {
		t.Errorf("malformed id: %v", err)
	}
}
