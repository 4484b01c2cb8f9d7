package impact_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/netip"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/impact"
	"github.com/coffre/coffre/internal/incident"
	"github.com/coffre/coffre/internal/notice"
	"github.com/coffre/coffre/internal/outbox"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetemplate"
	"github.com/coffre/coffre/internal/store/sqlite/sqlitetest"
	"github.com/coffre/coffre/internal/subject"
)

var ctx = context.Background()

var day = time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC)

// accounts are the test's accounts: three operators and a partner.
var accounts = map[string]impact.Account{
	"op_att":  {Unit: "unit-a"},
	"op_att2": {Unit: "unit-b"},
	"op_ok":   {Unit: "unit-b"},
	"op_prt":  {Unit: "partner", Partner: true},
}

func account(_ context.Context, actor string) (impact.Account, bool, error) {
	a, ok := accounts[actor]
	return a, ok, nil
}

// treatment is the test's policy: case-handling shows given_name in clear
// and masks email_pro and birth_date; directory shows given_name and masks
// phone.
func treatment(purpose, field string) (bool, string) {
	switch purpose + "/" + field {
	case "case-handling/email_pro":
		return false, "email"
	case "case-handling/birth_date":
		return false, "year"
	case "directory/phone", "partner-check/phone":
		return false, "last4"
	}
	return true, ""
}

var info = impact.Info{Account: account, Treatment: treatment}

// testLog is a store holding entries, integrated and signed.
type testLog struct {
	st   *sqlite.Store
	vkey string
	ids  []string // valid subject ids
}

func newTestLog(t *testing.T, people int) *testLog {
	t.Helper()
	st, err := sqlitetemplate.Open(ctx, filepath.Join(t.TempDir(), "coffre.db"), sqlite.Options{IDs: sqlitetest.IDs()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ids, err := st.NewSubjectIDs(ctx, people)
	if err != nil {
		t.Fatal(err)
	}
	return &testLog{st: st, ids: ids}
}

// write appends entries (their Seq set) and integrates them.
func (l *testLog) write(t *testing.T, entries []audit.Entry) {
	t.Helper()
	err := l.st.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		for i := range entries {
			if err := tx.AppendAudit(ctx, &entries[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	seed := make([]byte, 32)
	rand.Read(seed)
	signer, _ := audit.NewSigner(auditlog.Origin, seed)
	in := &auditlog.Integrator{Store: l.st, Signer: signer, MaxBatch: 500}
	for size := uint64(0); size < uint64(entries[len(entries)-1].Seq); {
		if size, err = in.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	l.vkey = signer.VerifierKey()
}

func (l *testLog) compute(t *testing.T, scope incident.Scope) (*impact.Result, error) {
	t.Helper()
	return impact.Compute(ctx, impact.Source{Store: l.st, Key: l.vkey}, scope, info, day.Add(72*time.Hour))
}

func TestComputeExact(t *testing.T) {
	l := newTestLog(t, 8)
	a, b, c, d, e, f := l.ids[0], l.ids[1], l.ids[2], l.ids[3], l.ids[4], l.ids[5]
	from, to := day.Add(10*time.Hour), day.Add(14*time.Hour)
	read := func(at time.Time, actor, sub, purpose, decision, origin string, fields ...string) audit.Entry {
		return audit.Entry{Time: at, Actor: actor, Action: "read", Subject: sub, Purpose: purpose, Fields: fields, Decision: decision, Origin: origin}
	}
	l.write(t, []audit.Entry{
		read(from.Add(-time.Microsecond), "op_att", a, "case-handling", "allow", "203.0.113.7", "given_name"), // just before: out
		read(from, "op_att", a, "case-handling", "allow", "203.0.113.7", "given_name", "email_pro"),           // at from: in
		read(from.Add(time.Hour), "op_att", a, "directory", "allow", "203.0.113.7", "given_name", "phone"),
		read(from.Add(time.Hour), "op_att", b, "case-handling", "allow:break_glass", "203.0.113.7", "birth_date"),
		read(from.Add(2*time.Hour), "op_att", c, "case-handling", "deny:limited:subjects", "203.0.113.7"),
		read(from.Add(2*time.Hour), "op_att", c, "case-handling", "deny:locked:velocity", "203.0.113.7"),
		{Time: from.Add(2 * time.Hour), Actor: "op_att", Action: "lookup", Subject: d, Purpose: "directory", Fields: []string{"email_pro"}, Decision: "allow", Origin: "203.0.113.7"},
		{Time: from.Add(2 * time.Hour), Actor: "op_att", Action: "lookup", Purpose: "directory", Fields: []string{"email_pro"}, Decision: "deny:not_found", Origin: "203.0.113.7"},
		{Time: from.Add(2 * time.Hour), Actor: "op_att", Action: "consent.request", Subject: e, Purpose: "health", Decision: "allow:cns_x", Origin: "203.0.113.7"},
		read(from.Add(3*time.Hour), "op_ok", e, "case-handling", "allow", "10.0.0.2", "given_name"), // another operator: out
		read(from.Add(3*time.Hour), "op_prt", f, "partner-check", "allow", "198.51.100.1", "phone"),
		{Time: from.Add(3 * time.Hour), Actor: "subject:" + a, Action: "me.data", Subject: a, Fields: []string{"given_name"}, Decision: "allow", Origin: "203.0.113.7"},
		{Time: from.Add(3 * time.Hour), Actor: "op_att", Action: "request.open", Subject: e, Reason: "req_1", Decision: "allow", Origin: "203.0.113.7"},
		read(to.Add(-time.Microsecond), "op_att", b, "case-handling", "allow", "203.0.113.7", "given_name"), // just before to: in
		read(to, "op_att", c, "case-handling", "allow", "203.0.113.7", "given_name"),                        // at to: out
	})
	tests := []struct {
		name   string
		scope  incident.Scope
		impact incident.Impact
		people []impact.Person
	}{
		{
			name:  "an operator",
			scope: incident.Scope{Operators: []string{"op_att"}, From: from, To: to},
			impact: incident.Impact{Scanned: 13, Matched: 10, Subjects: 2, Records: 5, Attempted: 1, Confirmed: 2,
				Fields: map[string]incident.FieldCount{
					"given_name": {Subjects: 2, Clear: 2},
					"email_pro":  {Subjects: 1, Mask: "email"},
					"phone":      {Subjects: 1, Mask: "last4"},
					"birth_date": {Subjects: 1, Mask: "year"},
				},
				Units: map[string]int64{"unit-a": 2}, Channels: map[string]int64{impact.Operator: 2}},
			people: []impact.Person{
				{Subject: a, Fields: []impact.Field{{Name: "email_pro", Mask: "email"}, {Name: "given_name", Clear: true}, {Name: "phone", Mask: "last4"}}},
				{Subject: b, Fields: []impact.Field{{Name: "birth_date", Mask: "year"}, {Name: "given_name", Clear: true}}},
				{Subject: c, Attempted: true},
				{Subject: d, Found: true},
				{Subject: e, Request: true},
			},
		},
		{
			name:  "an origin, without the person's own access from it",
			scope: incident.Scope{Origins: []string{"203.0.113.0/24"}, From: from, To: to},
			impact: incident.Impact{Scanned: 13, Matched: 10, Subjects: 2, Records: 5, Attempted: 1, Confirmed: 2,
				Fields: map[string]incident.FieldCount{
					"given_name": {Subjects: 2, Clear: 2},
					"email_pro":  {Subjects: 1, Mask: "email"},
					"phone":      {Subjects: 1, Mask: "last4"},
					"birth_date": {Subjects: 1, Mask: "year"},
				},
				Units: map[string]int64{"unit-a": 2}, Channels: map[string]int64{impact.Operator: 2}},
		},
		{
			name:  "a partner",
			scope: incident.Scope{Partners: []string{"op_prt"}, From: from, To: to},
			impact: incident.Impact{Scanned: 13, Matched: 1, Subjects: 1, Records: 1,
				Fields:   map[string]incident.FieldCount{"phone": {Subjects: 1, Mask: "last4"}},
				Units:    map[string]int64{impact.Partner: 1},
				Channels: map[string]int64{impact.Partner: 1}},
			people: []impact.Person{{Subject: f, Fields: []impact.Field{{Name: "phone", Mask: "last4"}}}},
		},
		{
			name:  "everything",
			scope: incident.Scope{Everything: true, From: from, To: to},
			impact: incident.Impact{Scanned: 13, Matched: 12, Subjects: 4, Records: 7, Attempted: 1, Confirmed: 1,
				Fields: map[string]incident.FieldCount{
					"given_name": {Subjects: 3, Clear: 3},
					"email_pro":  {Subjects: 1, Mask: "email"},
					"phone":      {Subjects: 2, Mask: "last4"},
					"birth_date": {Subjects: 1, Mask: "year"},
				},
				Units:    map[string]int64{"unit-a": 2, "unit-b": 1, impact.Partner: 1},
				Channels: map[string]int64{impact.Operator: 3, impact.Partner: 1}},
		},
		{
			name:   "a window with nothing in it",
			scope:  incident.Scope{Operators: []string{"op_att"}, From: day, To: day.Add(time.Hour)},
			impact: incident.Impact{},
			people: []impact.Person{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := l.compute(t, tt.scope)
			if err != nil {
				t.Fatal(err)
			}
			got := res.Impact
			if got.LogSize != 15 || got.Checkpoint != 15 || got.Unintegrated != 0 {
				t.Fatalf("log size %d, checkpoint %d, unintegrated %d; want 15, 15, 0", got.LogSize, got.Checkpoint, got.Unintegrated)
			}
			got.Computed, got.LogSize, got.Checkpoint = time.Time{}, 0, 0
			if !reflect.DeepEqual(got, tt.impact) {
				t.Fatalf("impact\n got %s\nwant %s", js(got), js(tt.impact))
			}
			slices.SortFunc(tt.people, func(a, b impact.Person) int { return strings.Compare(a.Subject, b.Subject) })
			if tt.people != nil && !reflect.DeepEqual(res.People, tt.people) {
				t.Fatalf("people\n got %s\nwant %s", js(res.People), js(tt.people))
			}
		})
	}
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestComputeMatchesIndependentCount computes the impact of a random log
// for several scopes and compares it with a count made here, entry by
// entry, from the entries as written.
func TestComputeMatchesIndependentCount(t *testing.T) {
	l := newTestLog(t, 40)
	rng := mrand.New(mrand.NewPCG(15, 15))
	actors := []string{"op_att", "op_att2", "op_ok", "op_prt", "system", "signin", "unknown:0123456789abcdef"}
	origins := []string{"203.0.113.7", "203.0.113.200", "10.0.0.2", "198.51.100.1", "2001:db8::1", ""}
	fields := []string{"given_name", "email_pro", "phone", "birth_date"}
	decisions := []string{"allow", "allow", "allow", "allow:break_glass", "allow:extension:ext_1", "deny:limited:subjects", "deny:locked:velocity", "deny:not_found", "deny:forbidden"}
	actions := []string{"read", "read", "read", "read", "lookup", "update", "request.open", "consent.request"}
	purposes := []string{"case-handling", "directory", "partner-check", "gone"}
	var entries []audit.Entry
	for i := range 3000 {
		e := audit.Entry{
			Time: day.Add(time.Duration(i) * 80 * time.Second).Add(time.Duration(rng.IntN(60)-30) * time.Second), Actor: actors[rng.IntN(len(actors))],
			Action: actions[rng.IntN(len(actions))], Subject: l.ids[rng.IntN(len(l.ids))], Purpose: purposes[rng.IntN(len(purposes))],
			Decision: decisions[rng.IntN(len(decisions))], Origin: origins[rng.IntN(len(origins))],
		}
		if rng.IntN(10) == 0 {
			e.Subject = ""
		}
		if rng.IntN(4) > 0 {
			for _, f := range fields {
				if rng.IntN(2) == 0 {
					e.Fields = append(e.Fields, f)
				}
			}
		}
		entries = append(entries, e)
	}
	l.write(t, entries)
	tests := []incident.Scope{
		{Operators: []string{"op_att"}, From: day.Add(10 * time.Hour), To: day.Add(34 * time.Hour)},
		{Operators: []string{"op_att", "op_att2"}, Partners: []string{"op_prt"}, From: day.Add(20 * time.Hour), To: day.Add(21 * time.Hour)},
		{Origins: []string{"203.0.113.0/24", "2001:db8::/32"}, From: day.Add(5 * time.Hour), To: day.Add(50 * time.Hour)},
		{Origins: []string{"10.0.0.2"}, Operators: []string{"op_prt"}, From: day, To: day.Add(80 * time.Hour)},
		{Everything: true, From: day.Add(30 * time.Hour)},
	}
	for i, scope := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			res, err := l.compute(t, scope)
			if err != nil {
				t.Fatal(err)
			}
			want := independent(entries, scope)
			if got := people(res); !reflect.DeepEqual(got, want) {
				t.Fatalf("people\n got %v\nwant %v", got, want)
			}
			var subjects, records, attempted int64
			for _, p := range res.People {
				switch {
				case len(p.Fields) > 0:
					subjects++
					records += int64(len(p.Fields))
				case p.Attempted:
					attempted++
				}
			}
			t.Logf("%d people: %d subjects, %d records, %d attempted, %d confirmed, %d matched of %d", len(res.People), subjects, records, attempted, res.Impact.Confirmed, res.Impact.Matched, res.Impact.Scanned)
			if res.Impact.Subjects != subjects || res.Impact.Records != records || res.Impact.Attempted != attempted || subjects == 0 {
				t.Fatalf("impact %+v; want %d subjects, %d records, %d attempted", res.Impact, subjects, records, attempted)
			}
		})
	}
}

// people renders a result's people as independent does.
func people(res *impact.Result) map[string]string {
	out := map[string]string{}
	for _, p := range res.People {
		var parts []string
		for _, f := range p.Fields {
			parts = append(parts, f.Name+"="+map[bool]string{true: "clear", false: f.Mask}[f.Clear])
		}
		if p.Found || p.Request {
			parts = append(parts, "confirmed")
		}
		if p.Attempted {
			parts = append(parts, "attempted")
		}
		out[p.Subject] = strings.Join(parts, " ")
	}
	return out
}

// independent is what scope exposed of each person, counted from the
// entries as written: "field=clear" or "field=mask" for each field
// returned (clear if ever in clear), "confirmed", "attempted".
func independent(entries []audit.Entry, scope incident.Scope) map[string]string {
	type key struct{ subject, field string }
	shown := map[key]string{} // "clear" or the masks
	confirmed, attempted, any := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, e := range entries {
		if e.Time.Before(scope.From) || !scope.To.IsZero() && !e.Time.Before(scope.To) {
			continue
		}
		if _, isAccount := accounts[e.Actor]; !isAccount || e.Subject == "" {
			continue
		}
		in := scope.Everything || slices.Contains(scope.Operators, e.Actor) || slices.Contains(scope.Partners, e.Actor)
		for _, o := range scope.Origins {
			p, _ := incident.ParseOrigin(o)
			if a, err := netip.ParseAddr(e.Origin); err == nil && p.Contains(a) {
				in = true
			}
		}
		if !in {
			continue
		}
		ok := strings.HasPrefix(e.Decision, "allow")
		switch {
		case ok && e.Action == "read" && len(e.Fields) > 0:
			for _, f := range e.Fields {
				k := key{e.Subject, f}
				clear, mask := treatment(e.Purpose, f)
				switch {
				case clear || shown[k] == "clear":
					shown[k] = "clear"
				case shown[k] == "" || shown[k] == mask:
					shown[k] = mask
				default:
					ms := append(strings.Split(shown[k], ","), mask)
					slices.Sort(ms)
					shown[k] = strings.Join(slices.Compact(ms), ",")
				}
			}
			any[e.Subject] = true
		case ok && (e.Action == "read" || e.Action == "lookup" || e.Action == "request.open"):
			confirmed[e.Subject], any[e.Subject] = true, true
		case !ok && e.Decision != "deny:not_found":
			attempted[e.Subject], any[e.Subject] = true, true
		}
	}
	out := map[string]string{}
	for s := range any {
		var parts []string
		for _, f := range []string{"birth_date", "email_pro", "given_name", "phone"} {
			if v := shown[key{s, f}]; v != "" {
				parts = append(parts, f+"="+map[bool]string{true: "clear", false: v}[v == "clear"])
			}
		}
		if confirmed[s] {
			parts = append(parts, "confirmed")
		}
		if attempted[s] && len(parts) == 0 {
			parts = append(parts, "attempted")
		}
		out[s] = strings.Join(parts, " ")
	}
	return out
}

func TestComputeTampered(t *testing.T) {
	l := newTestLog(t, 4)
	var entries []audit.Entry
	for i := range 1000 {
		entries = append(entries, audit.Entry{Time: day.Add(time.Duration(i) * time.Minute), Actor: "op_att", Action: "read", Subject: l.ids[i%4],
			Purpose: "case-handling", Fields: []string{"given_name"}, Decision: "allow", Origin: "203.0.113.7"})
	}
	l.write(t, entries)
	scope := incident.Scope{Operators: []string{"op_att"}, From: day.Add(5 * time.Hour), To: day.Add(6 * time.Hour)}
	if _, err := l.compute(t, scope); err != nil {
		t.Fatal(err)
	}
	// Entry 331 (index 330) is at 5 h 30: the attacker's read moved to
	// someone else.
	if err := l.st.Exec(ctx, `UPDATE audit SET leaf = audit_set(leaf, 'subject', 'sub_someoneelse') WHERE seq = 331`); err != nil {
		t.Fatal(err)
	}
	res, err := l.compute(t, scope)
	var te *auditlog.TamperError
	if !errors.As(err, &te) || te.Index != 330 || res != nil {
		t.Fatalf("Compute of a tampered window = %v, %v; want a TamperError at index 330 and no impact", res, err)
	}
	// Outside the window, the edit is not read: `coffre audit verify` finds it.
	if _, err := l.compute(t, incident.Scope{Operators: []string{"op_att"}, From: day.Add(10 * time.Hour), To: day.Add(11 * time.Hour)}); err != nil {
		t.Fatalf("Compute of another window = %v", err)
	}
}

func TestComputeUnintegrated(t *testing.T) {
	l := newTestLog(t, 2)
	read := audit.Entry{Time: day.Add(time.Hour), Actor: "op_att", Action: "read", Subject: l.ids[0], Purpose: "case-handling", Fields: []string{"given_name"}, Decision: "allow"}
	l.write(t, []audit.Entry{read})
	later := read
	later.Time, later.Subject = day.Add(2*time.Hour), l.ids[1]
	if err := l.st.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.AppendAudit(ctx, &later) }); err != nil {
		t.Fatal(err)
	}
	res, err := l.compute(t, incident.Scope{Operators: []string{"op_att"}, From: day})
	if err != nil {
		t.Fatal(err)
	}
	if res.Impact.Subjects != 1 || res.Impact.Unintegrated != 1 || len(res.Notes) != 1 {
		t.Fatalf("impact %+v, notes %q; want 1 person counted, 1 entry not yet signed, said in a note", res.Impact, res.Notes)
	}
}

func TestComputeStoreStolen(t *testing.T) {
	l := newTestLog(t, 5)
	err := l.st.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		for _, id := range l.ids {
			if err := tx.PutSubject(ctx, &subject.Row{ID: id, Unit: "unit-a", DEK: []byte("k"), DEKVersion: 1, Fields: []byte("f"), Created: day, Updated: day}); err != nil {
				return err
			}
		}
		return tx.EraseSubject(ctx, l.ids[4], day)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, safe := range []bool{true, false} {
		res, err := l.compute(t, incident.Scope{StoreStolen: true, KeysSafe: safe, From: day})
		if err != nil {
			t.Fatal(err)
		}
		if res.Impact.Stored != 4 || res.Window != nil || len(res.Notes) != 1 || strings.Contains(res.Notes[0], "unintelligible") != safe {
			t.Fatalf("keys safe %v: impact %+v, notes %q; want 4 stored and the note", safe, res.Impact, res.Notes)
		}
	}
}

func TestStoreAccounts(t *testing.T) {
	l := newTestLog(t, 1)
	err := l.st.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		for _, o := range []identity.Operator{{ID: "op_a", Username: "a", Role: "caseworker", Unit: "unit-a", Created: day}, {ID: "op_p", Username: "partner:p", Role: "partner", Unit: "unit-p", Created: day}} {
			if err := tx.PutOperator(ctx, &o); err != nil {
				return err
			}
		}
		return tx.PutPartner(ctx, &identity.Partner{ID: "op_p", Name: "p", Sector: "s", KeyHash: []byte("h"), CertSerial: "1", Created: day})
	})
	if err != nil {
		t.Fatal(err)
	}
	get := impact.StoreAccounts(l.st)
	for _, tt := range []struct {
		actor string
		want  impact.Account
		ok    bool
	}{
		{"op_a", impact.Account{Unit: "unit-a"}, true},
		{"op_p", impact.Account{Unit: impact.Partner, Partner: true}, true},
		{"system", impact.Account{}, false},
		{"subject:sub_x", impact.Account{}, false},
	} {
		got, ok, err := get(ctx, tt.actor)
		if err != nil || ok != tt.ok || got != tt.want {
			t.Errorf("StoreAccounts(%q) = %+v, %v, %v; want %+v, %v", tt.actor, got, ok, err, tt.want, tt.ok)
		}
	}
}

// TestComputeTold: a person counts as told when a notice of every read
// that exposed them was sent; one pending notice leaves them untold.
func TestComputeTold(t *testing.T) {
	l := newTestLog(t, 3)
	var entries []audit.Entry
	for i := range 6 { // person k read at entries 1+k and 4+k
		entries = append(entries, audit.Entry{Time: day.Add(time.Duration(i) * time.Minute), Actor: "op_att", Action: "read", Subject: l.ids[i%3],
			Purpose: "case-handling", Fields: []string{"given_name"}, Decision: "allow", Origin: "203.0.113.7"})
	}
	l.write(t, entries)
	err := l.st.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		for _, e := range entries {
			if err := tx.PutMessage(ctx, &outbox.Message{Kind: notice.Kind, Channel: outbox.ChannelPerson, Recipient: e.Subject, Key: notice.Key(e.Seq),
				Payload: []byte(`{}`), Next: day, Created: day}); err != nil {
				return err
			}
		}
		ms, err := tx.Claim(ctx, "w", day, time.Minute, 10)
		if err != nil {
			return err
		}
		for _, m := range ms {
			// Person 0's both, person 1's first only; person 2's none.
			if m.Key == notice.Key(entries[0].Seq) || m.Key == notice.Key(entries[3].Seq) || m.Key == notice.Key(entries[1].Seq) {
				if err := tx.MarkSent(ctx, m.ID, day); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := l.compute(t, incident.Scope{Operators: []string{"op_att"}, From: day.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Impact.Subjects != 3 || res.Impact.Told != 1 {
		t.Errorf("%d exposed, %d told; want 3 and 1", res.Impact.Subjects, res.Impact.Told)
	}
}

// TestComputeCanaries: the accesses to a canary are no one's exposure.
func TestComputeCanaries(t *testing.T) {
	l := newTestLog(t, 3)
	var entries []audit.Entry
	for i := range 3 {
		entries = append(entries, audit.Entry{Time: day.Add(time.Duration(i) * time.Minute), Actor: "op_att", Action: "read", Subject: l.ids[i],
			Purpose: "case-handling", Fields: []string{"given_name"}, Decision: "allow", Origin: "203.0.113.7"})
	}
	l.write(t, entries)
	in := info
	in.Canaries = map[string]bool{l.ids[1]: true}
	res, err := impact.Compute(ctx, impact.Source{Store: l.st, Key: l.vkey}, incident.Scope{Operators: []string{"op_att"}, From: day.Add(-time.Hour)}, in, day.Add(72*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if res.Impact.Subjects != 2 || len(res.People) != 2 || res.People[0].Subject == l.ids[1] || res.People[1].Subject == l.ids[1] {
		t.Errorf("%d exposed %v; want the two who are not the canary", res.Impact.Subjects, res.People)
	}
}
