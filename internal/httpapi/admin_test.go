package httpapi_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/vault"
)

// TestAdministration: an administrator creates and moves operators of
// ordinary roles through the API, each act audited; it cannot grant a
// privileged role (to anyone, itself included), touch a privileged
// account, or change its own role.
func TestAdministration(t *testing.T) {
	e := newEnv(t)
	root := e.addOperator(t, "root", "admin", "u1")
	sec := e.addOperator(t, "sam", "security-officer", "u1")
	tok := e.login(t, root)
	r := e.call(t, req{Method: "POST", Path: "/v1/operators", Token: tok, Body: map[string]string{"username": "lea", "role": "caseworker", "unit": "u1"}})
	r.want(t, http.StatusCreated, "")
	var created struct {
		ID, Username, Role, Unit, Status, Note string
	}
	decodeStrict(t, r.Body, &created) // nothing more: no password, no TOTP, no code
	if !opID.MatchString(created.ID) || created.Status != "pending_approval" {
		t.Fatalf("created %s; want an id and status pending_approval", r.Body)
	}
	for _, tc := range []struct {
		name string
		r    req
		code string
	}{
		{"grant security-officer", req{Method: "POST", Path: "/v1/operators", Body: map[string]string{"username": "mal", "role": "security-officer", "unit": "u1"}}, "forbidden"},
		{"grant auditor", req{Method: "POST", Path: "/v1/operators", Body: map[string]string{"username": "mal", "role": "auditor", "unit": "u1"}}, "forbidden"},
		{"grant admin", req{Method: "POST", Path: "/v1/operators", Body: map[string]string{"username": "mal", "role": "admin", "unit": "u1"}}, "forbidden"},
		{"own role", req{Method: "PATCH", Path: "/v1/operators/" + root.Operator.ID, Body: map[string]string{"role": "caseworker", "unit": "u1"}}, "forbidden"},
		{"promote to security-officer", req{Method: "PATCH", Path: "/v1/operators/" + created.ID, Body: map[string]string{"role": "security-officer", "unit": "u1"}}, "forbidden"},
		{"demote the security officer", req{Method: "PATCH", Path: "/v1/operators/" + sec.Operator.ID, Body: map[string]string{"role": "caseworker", "unit": "u1"}}, "forbidden"},
		{"unknown role", req{Method: "POST", Path: "/v1/operators", Body: map[string]string{"username": "mal", "role": "god", "unit": "u1"}}, "invalid_request"},
		{"an operator in a partner role", req{Method: "POST", Path: "/v1/operators", Body: map[string]string{"username": "mal", "role": "partner", "unit": "u1"}}, "forbidden"},
		{"a partner in an operator's role", req{Method: "POST", Path: "/v1/partners", Body: map[string]string{"name": "ml", "sector": "employment", "unit": "u1", "role": "hr-officer"}}, "forbidden"},
		{"duplicate username", req{Method: "POST", Path: "/v1/operators", Body: map[string]string{"username": "lea", "role": "support", "unit": "u1"}}, "conflict"},
		{"missing operator", req{Method: "PATCH", Path: "/v1/operators/op_aaaaaaaaaaaaaaaa", Body: map[string]string{"role": "support", "unit": "u1"}}, "not_found"},
	} {
		tc.r.Token = tok
		res := e.call(t, tc.r)
		if res.Err.Code != tc.code {
			t.Errorf("%s: %d %s, want %s", tc.name, res.Status, res.Err.Code, tc.code)
		}
	}
	e.call(t, req{Method: "PATCH", Path: "/v1/operators/" + created.ID, Token: tok, Body: map[string]string{"role": "support", "unit": "u2"}}).want(t, http.StatusOK, "")
	var acts []string
	for _, en := range e.auditEntries(t) {
		if en.Actor == root.Operator.ID && (en.Action == "operator.add" || en.Action == "operator.role") {
			acts = append(acts, en.Action+"="+en.Decision)
		}
	}
	want := "operator.add=allow operator.add=deny:forbidden operator.add=deny:forbidden operator.add=deny:forbidden operator.role=deny:forbidden operator.role=deny:forbidden operator.role=deny:forbidden operator.add=deny:invalid operator.add=deny:forbidden operator.add=deny:conflict operator.role=deny:not_found operator.role=allow"
	if got := join(acts); got != want {
		t.Errorf("audited\n%s\nwant\n%s", got, want)
	}
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}

// TestAdminGuard: administration goes through the guard. An act that
// gives power needs a second factor of the last two minutes (a stolen
// session token alone administers nothing); roles granted beyond the day's
// budget answer 429, and refusals lock the administrator at the hard
// margin. Every refusal is audited.
func TestAdminGuard(t *testing.T) {
	e := newEnvWith(t, &vault.Guard{Limits: map[string]guard.Limits{"admin": {RolesPerDay: 2, HardMargin: 3}}}, nil)
	root := e.addOperator(t, "root", "admin", "u1")
	var targets []string
	for _, name := range []string{"ana", "bob", "cyd"} {
		targets = append(targets, e.addOperator(t, name, "caseworker", "u1").Operator.ID)
	}
	tok := e.login(t, root)
	grant := func(id string) *response {
		return e.call(t, req{Method: "PATCH", Path: "/v1/operators/" + id, Token: tok, Body: map[string]string{"role": "support", "unit": "u1"}})
	}
	e.clock.Advance(3 * time.Minute)
	grant(targets[0]).want(t, http.StatusUnauthorized, "step_up_required")
	e.call(t, req{Method: "POST", Path: "/v1/auth/stepup/totp", Token: tok, Body: map[string]string{"code": e.code(t, root, 0)}}).want(t, http.StatusNoContent, "")
	grant(targets[0]).want(t, http.StatusOK, "")
	grant(targets[1]).want(t, http.StatusOK, "")
	grant(targets[2]).want(t, http.StatusTooManyRequests, "rate_limited")
	grant(targets[2]).want(t, http.StatusTooManyRequests, "rate_limited")
	grant(targets[2]).want(t, http.StatusLocked, "account_locked")
	var got []string
	for _, en := range e.auditEntries(t) {
		if en.Actor == root.Operator.ID && en.Action == "operator.role" {
			got = append(got, en.Decision)
		}
	}
	want := []string{"deny:step_up_required", "allow", "allow", "deny:limited:roles_per_day", "deny:limited:roles_per_day", "deny:locked:roles_per_day"}
	if !slices.Equal(got, want) {
		t.Errorf("audited %q, want %q", got, want)
	}
}
