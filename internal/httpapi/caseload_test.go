package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

// caseloadEnv is a server whose caseworkers have a budget of 2 people a
// day outside their caseload, and whose supervisors may assign 6 people a
// day and are locked at the 5th refusal within an hour.
func caseloadEnv(t *testing.T) *env {
	return newEnvWith(t, &vault.Guard{Limits: map[string]guard.Limits{
		"caseworker": {OutOfCaseloadPerDay: 2},
		"supervisor": {AssignmentsPerDay: 6, HardMargin: 5},
		"hr-officer": {},
	}}, nil)
}

// people creates n people of unit u1 and returns their ids and work emails.
func (e *env) people(t *testing.T, tok string, from, n int) (ids, emails []string) {
	t.Helper()
	for i := range n {
		p := synth.Make(seed, from+i)
		p.Unit = "u1"
		ids = append(ids, e.create(t, tok, p))
		emails = append(emails, p.Fields[synth.EmailPro])
	}
	return ids, emails
}

// readAll reads ids as tok for case-handling and returns the statuses,
// each a minute after the last.
func (e *env) readAll(t *testing.T, tok string, ids ...string) []int {
	t.Helper()
	var out []int
	for _, id := range ids {
		e.clock.Advance(time.Minute)
		r := e.call(t, req{Method: "GET", Path: "/v1/subjects/" + id, Token: tok, Purpose: "case-handling"})
		if r.Status == http.StatusTooManyRequests && !strings.Contains(r.Err.Message, "out of caseload") {
			t.Errorf("429 for %s: %q, want the out-of-caseload budget", id, r.Err.Message)
		}
		out = append(out, r.Status)
	}
	return out
}

// TestCaseloadHTTP is the first "done when": a caseworker whose
// caseload was assigned through the API (by a supervisor) and one whose
// caseload came through the sync path read the people in it without
// drawing on the out-of-caseload budget; once the assignment's end has
// passed, reads draw on it again.
func TestCaseloadHTTP(t *testing.T) {
	e := caseloadEnv(t)
	camille := e.addOperator(t, "camille", "caseworker", "u1")
	claude := e.addOperator(t, "claude", "caseworker", "u1")
	lea := e.addOperator(t, "lea", "supervisor", "u1")
	hrTok := e.login(t, e.addOperator(t, "hugo", "hr-officer", "u1"))
	ids, emails := e.people(t, hrTok, 400, 9)
	mine, theirs, others := ids[:4], ids[4:7], ids[7:]

	// The supervisor assigns four people to camille, until two days on.
	leaTok := e.login(t, lea)
	until := e.clock.Now().Add(48 * time.Hour).Truncate(time.Second).UTC()
	r := e.call(t, req{Method: "PUT", Path: "/v1/operators/" + camille.Operator.ID + "/caseload", Token: leaTok,
		Body: map[string]any{"subjects": append(slices.Clone(mine), mine[0]), "until": until.Format(time.RFC3339)}})
	r.want(t, http.StatusOK, "")
	var put struct {
		Operator string    `json:"operator"`
		Assigned int       `json:"assigned"`
		Until    time.Time `json:"until"`
	}
	decodeStrict(t, r.Body, &put)
	if put.Operator != camille.Operator.ID || put.Assigned != 4 || !put.Until.Equal(until) {
		t.Fatalf("PUT caseload = %+v", put)
	}
	// The nightly sync (the host's path: `coffre caseload sync` calls it)
	// gives claude three, one of them by a lookup value.
	res, err := e.vault.ChangeCaseload(context.Background(), identity.Actor{ID: "system", Role: "admin", Origin: "cli"}, vault.CaseloadChange{
		Username: "claude", Sync: true,
		Rows: []vault.CaseloadRow{{Num: 2, Subject: theirs[0], Until: until}, {Num: 3, Subject: "email_pro=" + emails[5], Until: until}, {Num: 4, Subject: theirs[2], Until: until}},
	})
	if err != nil || res.Assigned != 3 || len(res.Failed) > 0 || !res.Synced {
		t.Fatalf("sync = %+v, %v", res, err)
	}

	camTok, claTok := e.login(t, camille), e.login(t, claude)
	// Each reads all of its caseload, then two others of the unit (the
	// budget), and the third other is refused: the caseload cost nothing.
	ok, limited := http.StatusOK, http.StatusTooManyRequests
	if got := e.readAll(t, camTok, append(slices.Clone(mine), others[0], theirs[0], others[1])...); !slices.Equal(got, []int{ok, ok, ok, ok, ok, ok, limited}) {
		t.Errorf("camille's reads = %v", got)
	}
	if got := e.readAll(t, claTok, append(slices.Clone(theirs), others[0], mine[0], others[1])...); !slices.Equal(got, []int{ok, ok, ok, ok, ok, limited}) {
		t.Errorf("claude's reads = %v", got)
	}
	// What the audit log says of the reads: allowed, then the budget.
	var decisions []string
	for _, en := range e.auditEntries(t) {
		if en.Action == "read" && en.Actor == camille.Operator.ID {
			decisions = append(decisions, en.Decision)
		}
	}
	if want := []string{"allow", "allow", "allow", "allow", "allow", "allow", "deny:limited:out_of_caseload"}; !slices.Equal(decisions, want) {
		t.Errorf("camille's read decisions = %q, want %q", decisions, want)
	}
	// The caseworker sees her count and each membership, never a list.
	count := func(tok string) int {
		r := e.call(t, req{Method: "GET", Path: "/v1/account/caseload", Token: tok})
		r.want(t, http.StatusOK, "")
		var c struct {
			Operator string `json:"operator"`
			Count    int    `json:"count"`
		}
		decodeStrict(t, r.Body, &c)
		return c.Count
	}
	if n := count(camTok); n != 4 {
		t.Errorf("camille's count = %d, want 4", n)
	}
	member := func(tok, id string) (bool, time.Time) {
		r := e.call(t, req{Method: "GET", Path: "/v1/account/caseload/" + id, Token: tok})
		r.want(t, http.StatusOK, "")
		var m struct {
			Subject  string    `json:"subject"`
			Assigned bool      `json:"assigned"`
			Until    time.Time `json:"until"`
		}
		decodeStrict(t, r.Body, &m)
		return m.Assigned, m.Until
	}
	if in, u := member(camTok, mine[1]); !in || !u.Equal(until) {
		t.Errorf("member(mine[1]) = %v %v", in, u)
	}
	if in, _ := member(camTok, theirs[1]); in {
		t.Error("claude's person in camille's caseload")
	}
	if in, _ := member(camTok, unknownID); in {
		t.Error("an unknown id in camille's caseload")
	}
	e.call(t, req{Method: "GET", Path: "/v1/account/caseload/nope", Token: camTok}).want(t, http.StatusBadRequest, "invalid_request")

	// Three days on the assignments have ended: a new day's budget, and the
	// caseload now draws on it.
	e.clock.Advance(72 * time.Hour)
	camTok, claTok = e.login(t, camille), e.login(t, claude)
	if got := e.readAll(t, camTok, mine[:3]...); !slices.Equal(got, []int{ok, ok, limited}) {
		t.Errorf("camille's reads after the end = %v", got)
	}
	if got := e.readAll(t, claTok, theirs...); !slices.Equal(got, []int{ok, ok, limited}) {
		t.Errorf("claude's reads after the end = %v", got)
	}
	if n := count(camTok); n != 0 {
		t.Errorf("camille's count after the end = %d, want 0", n)
	}
	if in, u := member(camTok, mine[1]); in || !u.Equal(until) {
		t.Errorf("member after the end = %v %v; want not assigned, ended %v", in, u, until)
	}

	// Assigned again (a new end), the caseload is free again: the
	// supervisor's new day has room for four.
	leaTok = e.login(t, lea)
	e.call(t, req{Method: "PUT", Path: "/v1/operators/" + camille.Operator.ID + "/caseload", Token: leaTok,
		Body: map[string]any{"subjects": mine, "until": e.clock.Now().Add(24 * time.Hour).Format(time.DateOnly)}}).want(t, http.StatusOK, "")
	e.clock.Advance(24 * time.Hour) // a fresh budget; the date ends at the end of tomorrow
	camTok = e.login(t, camille)
	if got := e.readAll(t, camTok, append(slices.Clone(mine), others...)...); !slices.Equal(got, []int{ok, ok, ok, ok, ok, ok}) {
		t.Errorf("camille's reads once assigned again = %v", got)
	}
	// A removal ends them at once.
	leaTok = e.login(t, lea)
	r = e.call(t, req{Method: "DELETE", Path: "/v1/operators/" + camille.Operator.ID + "/caseload", Token: leaTok, Body: map[string]any{"subjects": mine[:2]}})
	r.want(t, http.StatusOK, "")
	if !strings.Contains(string(r.Body), `"removed":2`) {
		t.Errorf("DELETE = %s", r.Body)
	}
	if n := count(camTok); n != 2 {
		t.Errorf("count after removal = %d, want 2", n)
	}

	// Every change is one audit entry: the operator's id and a count,
	// never the subjects.
	var changes []string
	for _, en := range e.auditEntries(t) {
		if strings.HasPrefix(en.Action, "caseload.") {
			changes = append(changes, fmt.Sprintf("%s %s %s", en.Action, en.Actor, en.Decision))
			for _, id := range ids {
				if en.Subject != "" || strings.Contains(en.Reason, id) {
					t.Errorf("entry %+v names a subject", en)
				}
			}
		}
	}
	want := []string{
		"caseload.assign " + lea.Operator.ID + " allow",
		"caseload.sync system allow",
		"caseload.assign " + lea.Operator.ID + " allow",
		"caseload.remove " + lea.Operator.ID + " allow",
	}
	if !slices.Equal(changes, want) {
		t.Errorf("caseload entries = %q, want %q", changes, want)
	}
}

// TestCaseloadBadInput: every mistake is a clear 4xx in the usual shape,
// audited, and counted towards the supervisor's hard margin; nothing is
// assigned. The budget answers 429, and refusals past it lock.
func TestCaseloadBadInput(t *testing.T) {
	e := caseloadEnv(t)
	camille := e.addOperator(t, "camille", "caseworker", "u1")
	other := e.addOperator(t, "oscar", "caseworker", "u2")
	auditor := e.addOperator(t, "alex", "auditor", "u1")
	hrTok := e.login(t, e.addOperator(t, "hugo", "hr-officer", "u1"))
	ids, _ := e.people(t, hrTok, 500, 8)
	gone := ids[7]
	e.call(t, req{Method: "DELETE", Path: "/v1/subjects/" + gone, Token: hrTok, Reason: "left"}).want(t, http.StatusNoContent, "")
	p := synth.Make(seed, 600)
	p.Unit = "u2"
	otherUnit := e.create(t, e.login(t, e.addOperator(t, "hana", "hr-officer", "u2")), p)
	err := e.store.Update(context.Background(), func(ctx context.Context, tx store.Tx) error {
		return tx.PutOperator(ctx, &identity.Operator{ID: "op_olga", Username: "olga", PasswordHash: "x", Role: "caseworker", Unit: "u1", Disabled: true})
	})
	if err != nil {
		t.Fatal(err)
	}
	pt, err := e.auth.AddPartner(t.Context(), matrixCA(t), "mission-locale", "employment", "partner", "u1")
	if err != nil {
		t.Fatal(err)
	}
	soon := e.clock.Now().Add(24 * time.Hour).Format(time.RFC3339)
	cam := "/v1/operators/" + camille.Operator.ID + "/caseload"
	many := make([]string, vault.MaxCaseloadBatch+1)
	for i := range many {
		many[i] = ids[0]
	}
	type tc struct {
		name   string
		method string
		path   string
		body   any
		status int
		code   string
		msg    string
	}
	tests := []tc{
		{"unknown operator", "PUT", "/v1/operators/op_nobody/caseload", map[string]any{"subjects": ids[:1], "until": soon}, 404, "not_found", "no such operator op_nobody"},
		{"disabled operator", "PUT", "/v1/operators/op_olga/caseload", map[string]any{"subjects": ids[:1], "until": soon}, 400, "invalid_request", "is disabled"},
		{"partner", "PUT", "/v1/operators/" + pt.Partner.ID + "/caseload", map[string]any{"subjects": ids[:1], "until": soon}, 400, "invalid_request", "partners have no caseload"},
		{"role reading no one", "PUT", "/v1/operators/" + auditor.Operator.ID + "/caseload", map[string]any{"subjects": ids[:1], "until": soon}, 400, "invalid_request", "reads no one"},
		{"another unit's operator", "PUT", "/v1/operators/" + other.Operator.ID + "/caseload", map[string]any{"subjects": ids[:1], "until": soon}, 403, "forbidden", "not of your unit"},
		{"unknown subject", "PUT", cam, map[string]any{"subjects": []string{ids[0], unknownID}, "until": soon}, 404, "not_found", "no such subject " + unknownID},
		{"erased subject", "PUT", cam, map[string]any{"subjects": []string{gone}, "until": soon}, 404, "not_found", "or it was erased"},
		{"subject of another unit", "PUT", cam, map[string]any{"subjects": []string{otherUnit}, "until": soon}, 400, "invalid_request", "is not of unit u1"},
		{"malformed subject", "PUT", cam, map[string]any{"subjects": []string{"sub_nope"}, "until": soon}, 400, "invalid_request", "subjects[0]: malformed subject id"},
		{"no subjects", "PUT", cam, map[string]any{"subjects": []string{}, "until": soon}, 400, "invalid_request", "want 1 to 500"},
		// 501 ids are over this server's body limit (8 KiB) already; the
		// vault's bound is tested in its own package.
		{"too many", "PUT", cam, map[string]any{"subjects": many, "until": soon}, 413, "body_too_large", "body over"},
		{"no end", "PUT", cam, map[string]any{"subjects": ids[:1]}, 400, "invalid_field", `"until": required`},
		{"expired end", "PUT", cam, map[string]any{"subjects": ids[:1], "until": "2020-01-01"}, 400, "invalid_field", "in the past"},
		{"too far", "PUT", cam, map[string]any{"subjects": ids[:1], "until": e.clock.Now().AddDate(3, 0, 0).Format(time.RFC3339)}, 400, "invalid_field", "more than 2 years"},
		{"malformed end", "PUT", cam, map[string]any{"subjects": ids[:1], "until": "next week"}, 400, "invalid_request", "until: want an RFC 3339"},
		{"end on a removal", "DELETE", cam, map[string]any{"subjects": ids[:1], "until": soon}, 400, "invalid_request", "a removal takes no end"},
		{"unknown field", "PUT", cam, map[string]any{"subjects": ids[:1], "until": soon, "note": "x"}, 400, "invalid_request", ""},
		{"removal from an unknown operator", "DELETE", "/v1/operators/op_nobody/caseload", map[string]any{"subjects": ids[:1]}, 404, "not_found", "no such operator"},
	}
	// A supervisor is locked at its fifth refusal within an hour: four
	// mistakes each, then a fresh supervisor.
	var sup *struct{ tok, id string }
	for i, tt := range tests {
		if i%4 == 0 {
			op := e.addOperator(t, fmt.Sprintf("sup-%d", i), "supervisor", "u1")
			sup = &struct{ tok, id string }{e.login(t, op), op.Operator.ID}
		}
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.auditEntries(t))
			r := e.call(t, req{Method: tt.method, Path: tt.path, Token: sup.tok, Body: tt.body})
			r.want(t, tt.status, tt.code)
			if !strings.Contains(r.Err.Message, tt.msg) {
				t.Errorf("message %q, want %q", r.Err.Message, tt.msg)
			}
			if r.Err.Hint == "" {
				t.Error("no hint")
			}
			es := e.auditEntries(t)[before:]
			if len(es) != 1 || es[0].Actor != sup.id || !strings.HasPrefix(es[0].Decision, "deny:") || es[0].Subject != "" {
				t.Errorf("audit = %+v, want one denial by %s without a subject", es, sup.id)
			}
		})
	}
	// A role without the permission, and oneself.
	camTok := e.login(t, camille)
	e.call(t, req{Method: "PUT", Path: "/v1/operators/" + sup.id + "/caseload", Token: camTok, Body: map[string]any{"subjects": ids[:1], "until": soon}}).want(t, http.StatusForbidden, "forbidden")
	r := e.call(t, req{Method: "PUT", Path: "/v1/operators/" + sup.id + "/caseload", Token: sup.tok, Body: map[string]any{"subjects": ids[:1], "until": soon}})
	r.want(t, http.StatusForbidden, "forbidden")
	if !strings.Contains(r.Err.Message, "nobody changes their own caseload") {
		t.Errorf("oneself: %q", r.Err.Message)
	}
	if n := e.count(t, camTok); n != 0 {
		t.Errorf("after the refusals camille's caseload holds %d", n)
	}

	// The budget: six a day. lou assigns four, then three is one request
	// too many (nothing of it assigned), then one fits; refusals past the
	// budget lock at the hard margin.
	lou := e.addOperator(t, "lou", "supervisor", "u1")
	louTok := e.login(t, lou)
	put := func(subjects []string) *response {
		e.clock.Advance(time.Minute)
		// An assignment needs a factor of the last two minutes: a step-up
		// (it fails once the lock has ended the session).
		e.call(t, req{Method: "POST", Path: "/v1/auth/stepup/totp", Token: louTok, Body: map[string]string{"code": e.code(t, lou, 0)}})
		return e.call(t, req{Method: "PUT", Path: cam, Token: louTok, Body: map[string]any{"subjects": subjects, "until": soon}})
	}
	put(ids[:4]).want(t, http.StatusOK, "")
	r = put(ids[4:7])
	r.want(t, http.StatusTooManyRequests, "rate_limited")
	if !strings.Contains(r.Err.Message, "assignments per day") || r.Header.Get("Retry-After") == "" {
		t.Errorf("429 = %q, Retry-After %q", r.Err.Message, r.Header.Get("Retry-After"))
	}
	e.call(t, req{Method: "GET", Path: "/v1/account/caseload", Token: camTok}).want(t, http.StatusOK, "")
	put(ids[4:6]).want(t, http.StatusOK, "")
	for range 3 {
		put(ids[6:7]).want(t, http.StatusTooManyRequests, "rate_limited")
	}
	put(ids[6:7]).want(t, http.StatusLocked, "account_locked")
	put(ids[6:7]).want(t, http.StatusUnauthorized, "unauthenticated") // the lock ended the session
	var decisions []string
	for _, en := range e.auditEntries(t) {
		if en.Actor == lou.Operator.ID && en.Action == "caseload.assign" {
			decisions = append(decisions, en.Decision)
		}
	}
	wantDec := []string{"allow", "deny:limited:assignments_per_day", "allow", "deny:limited:assignments_per_day", "deny:limited:assignments_per_day",
		"deny:limited:assignments_per_day", "deny:locked:assignments_per_day"}
	if !slices.Equal(decisions, wantDec) {
		t.Errorf("lou's decisions = %q, want %q", decisions, wantDec)
	}
	var locked bool
	for _, en := range e.auditEntries(t) {
		locked = locked || en.Action == "guard.lock" && en.Decision == "lock:"+lou.Operator.ID
	}
	if !locked {
		t.Error("no guard.lock entry for lou")
	}
	// Nothing of the refused requests was assigned: camille holds ids[0:6].
	if n := e.count(t, e.login(t, camille)); n != 6 {
		t.Errorf("camille's caseload = %d, want 6", n)
	}
}

func (e *env) count(t *testing.T, tok string) int {
	t.Helper()
	r := e.call(t, req{Method: "GET", Path: "/v1/account/caseload", Token: tok})
	r.want(t, http.StatusOK, "")
	var c struct {
		Operator string `json:"operator"`
		Count    int    `json:"count"`
	}
	decodeStrict(t, r.Body, &c)
	return c.Count
}
