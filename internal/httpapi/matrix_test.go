package httpapi_test

import (
	"crypto/rand"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/httpapi"
	"github.com/coffre/coffre/internal/partner"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/synth"
)

// TestAuthorizationMatrix walks every route of the API as anonymous and as
// an operator of every role of the configuration, and checks the answer
// against the route's declared rule: refused means 401 unauthenticated
// without a session and 403 forbidden with one; allowed means anything
// else (a 404 for the sample id, a 400 for a sample body, 204…). Each
// route runs on a fresh server, each request with a fresh login.
func TestAuthorizationMatrix(t *testing.T) {
	if testing.Short() {
		// A fresh server and login a route and role: over a minute under
		// the race detector, which CI runs with -short, and nothing in it
		// concurrent; go test ./... runs it.
		t.Skip("walks every route as every role: run without -short")
	}
	cfg, roles := demoRoles(t)
	for _, rt := range httpapi.Routes() {
		t.Run(rt.Method+" "+rt.Path, func(t *testing.T) {
			t.Parallel() // each route has its own server and store
			e := newEnv(t)
			ops := map[string]*auth.NewOperator{}
			for _, role := range roles[1:] {
				ops[role] = e.addOperator(t, "op-"+role, role, "u1")
			}
			// The account the routes on an account act on: disabling,
			// deleting or locking it leaves every role's login working.
			ops["victim"] = e.addOperator(t, "op-victim", "caseworker", "u1")
			// A partner's API key is nothing here: every route answers it
			// as it answers anonymous.
			pt, err := e.auth.AddPartner(t.Context(), matrixCA(t), "matrix-partner", "employment", "partner", "u1")
			if err != nil {
				t.Fatal(err)
			}
			hrTok := e.login(t, ops["hr-officer"])
			p, _ := person(t, 0, false)
			p.Unit = "u1"
			subject := e.create(t, hrTok, p)
			res := e.call(t, req{Method: rt.Method, Path: strings.NewReplacer("{id}", sampleID(rt.Path, subject, ops)).Replace(rt.Path), Token: pt.APIKey, Purpose: "referral", Body: sampleBody(t, e, rt.Path, nil, p)})
			if rt.Access.Kind != httpapi.Public && (res.Status != http.StatusUnauthorized || res.Err.Code != "unauthenticated") {
				t.Errorf("as a partner client: %d %s, want 401 unauthenticated", res.Status, res.Err.Code)
			}
			for _, role := range roles {
				var tok string
				var op *auth.NewOperator
				if role != "" {
					op = ops[role]
					tok = e.login(t, op)
					e.clock.Advance(30 * time.Second) // a fresh TOTP step for bodies that carry a code
				}
				path := strings.NewReplacer("{id}", sampleID(rt.Path, subject, ops)).Replace(rt.Path)
				r := req{Method: rt.Method, Path: path, Token: tok, Body: sampleBody(t, e, rt.Path, op, p)}
				r.Purpose = samplePurpose(cfg.Policy, role, rt)
				r.Reason = "matrix"
				res := e.call(t, r)
				denied := res.Status == http.StatusUnauthorized && res.Err.Code == "unauthenticated" ||
					res.Status == http.StatusForbidden && res.Err.Code == "forbidden"
				want := !rt.Access.Allows(cfg.Policy.Roles[role])
				if denied != want {
					name := role
					if name == "" {
						name = "anonymous"
					}
					t.Errorf("%s as %s: %d %s; want refused=%v (rule: %s)", path, name, res.Status, res.Err.Code, want, rt.Access)
				}
			}
		})
	}
}

// TestHeadIsNoAccess: HEAD on a GET route that needs a session answers
// 405 with an Allow header, as an operator allowed the GET, without running
// the handler (ServeMux would let the GET pattern serve HEAD: an access,
// audited, whose answer is thrown away).
func TestHeadIsNoAccess(t *testing.T) {
	t.Parallel()
	cfg, roles := demoRoles(t)
	e := newEnv(t)
	hr := e.addOperator(t, "op-hr", "hr-officer", "u1")
	p, _ := person(t, 0, false)
	p.Unit = "u1"
	subject := e.create(t, e.login(t, hr), p)
	ops := map[string]*auth.NewOperator{"hr-officer": hr}
	var n int
	for _, rt := range httpapi.Routes() {
		if rt.Method != http.MethodGet || rt.Access.Kind == httpapi.Public || rt.Access.Kind == httpapi.Person {
			continue // the person's routes: TestPersonRoutes
		}
		n++
		t.Run(rt.Path, func(t *testing.T) {
			i := slices.IndexFunc(roles[1:], func(r string) bool { return rt.Access.Allows(cfg.Policy.Roles[r]) })
			if i < 0 {
				t.Fatalf("no role may GET %s", rt.Path)
			}
			role := roles[1+i]
			if ops[role] == nil {
				ops[role] = e.addOperator(t, "op-"+role, role, "u1")
			}
			tok := e.login(t, ops[role])
			purpose := ""
			if pu := cfg.Policy.Roles[role].Purposes; len(pu) > 0 {
				purpose = pu[0]
			}
			path := strings.ReplaceAll(rt.Path, "{id}", subject)
			before := len(e.auditEntries(t))
			r := e.call(t, req{Method: "HEAD", Path: path, Token: tok, Purpose: purpose, Reason: "head"})
			if r.Status != http.StatusMethodNotAllowed || !strings.Contains(r.Header.Get("Allow"), "GET") || r.Header.Get("Content-Type") != "application/json" {
				t.Errorf("HEAD %s as %s = %d, Allow %q, Content-Type %q; want 405, an Allow with GET, JSON",
					path, role, r.Status, r.Header.Get("Allow"), r.Header.Get("Content-Type"))
			}
			if after := len(e.auditEntries(t)); after != before {
				t.Errorf("HEAD %s as %s wrote %d audit entries, want none", path, role, after-before)
			}
		})
	}
	if n < 5 {
		t.Errorf("%d session GET routes, want at least 5", n)
	}
}

// sampleID fills a route's {id}.
func sampleID(path, subject string, ops map[string]*auth.NewOperator) string {
	switch {
	case strings.HasPrefix(path, "/v1/subjects/"):
		return subject
	case strings.HasPrefix(path, "/v1/operators/") && ops["victim"] != nil:
		return ops["victim"].Operator.ID
	case strings.HasPrefix(path, "/v1/operators/"):
		return ops["caseworker"].Operator.ID
	case strings.HasPrefix(path, "/v1/account/caseload/"):
		return subject
	case strings.HasPrefix(path, "/v1/account/sessions/"):
		return "0123456789abcdef"
	case strings.HasPrefix(path, "/v1/account/webauthn/"):
		return "AQID"
	default:
		return "ext_0000000000000000"
	}
}

// sampleBody is a well-formed body for a route (nil for none).
func sampleBody(t *testing.T, e *env, path string, op *auth.NewOperator, p synth.Person) any {
	code := "000000"
	if op != nil {
		code = e.code(t, op, 0)
	}
	switch path {
	case "/v1/auth/login":
		return map[string]string{"username": "nobody", "password": "wrong"}
	case "/v1/auth/enrol":
		return map[string]string{"username": "nobody", "code": "aaaaa-aaaaa-aaaaa-aaaaa", "password": "a matrix passphrase"}
	case "/v1/auth/totp", "/v1/auth/recovery":
		return map[string]string{"login_token": "cfl_none", "code": "123456"}
	case "/v1/auth/webauthn/begin":
		return map[string]string{"login_token": "cfl_none"}
	case "/v1/auth/webauthn/finish":
		return map[string]any{"login_token": "cfl_none", "credential": map[string]string{"id": "AQID"}}
	case "/v1/auth/stepup/totp", "/v1/extensions/{id}/approve":
		return map[string]string{"code": code}
	case "/v1/auth/stepup/webauthn/finish", "/v1/account/webauthn/finish":
		return map[string]any{"credential": map[string]string{"id": "AQID"}}
	case "/v1/subjects":
		return map[string]any{"unit": "u1", "fields": map[string]string{"given_name": "Ana", "family_name": "Matrix"}}
	case "/v1/subjects/lookup":
		return map[string]string{"field": "email_pro", "value": p.Fields["email_pro"]}
	case "/v1/subjects/{id}":
		return map[string]any{"fields": map[string]string{"job_title": "Matrix"}}
	case "/v1/extensions":
		return map[string]any{"subjects": 5, "hours": 1, "reason": "matrix"}
	case "/v1/operators":
		return map[string]string{"username": "new-op", "role": "caseworker", "unit": "u1"}
	case "/v1/operators/{id}":
		return map[string]string{"role": "support", "unit": "u1"}
	case "/v1/partners":
		return map[string]string{"name": "new-partner", "sector": "employment", "unit": "u1"}
	case "/v1/operators/{id}/caseload":
		return map[string]any{"subjects": []string{unknownID}} // PUT: 400 (no end); DELETE: 200
	case "/v1/operators/{id}/unlock", "/v1/operators/{id}/sessions/revoke", "/v1/sessions/revoke-all",
		"/v1/operators/{id}/disable", "/v1/operators/{id}/enable", "/v1/operators/{id}/lock":
		return map[string]string{"reason": "matrix"}
	}
	return nil
}

// TestAuthorizationDoc: docs/authorization.md is the matrix the code
// states (regenerate with: go run ./cmd/coffre authz --dev > docs/authorization.md).
func TestAuthorizationDoc(t *testing.T) {
	cfg, err := config.Demo(nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../docs/authorization.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), httpapi.Matrix(cfg.Policy)) {
		t.Error("docs/authorization.md is out of date: go run ./cmd/coffre authz --dev > docs/authorization.md")
	}
}

func matrixCA(t *testing.T) *partner.CA {
	seed := make([]byte, 32)
	rand.Read(seed)
	ca, err := partner.NewCA(seed)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// demoRoles returns the demo configuration, and "" (anonymous) and then
// every role of it, sorted.
func demoRoles(t *testing.T) (*config.Config, []string) {
	t.Helper()
	cfg, err := config.Demo(nil)
	if err != nil {
		t.Fatal(err)
	}
	roles := []string{""}
	for name := range cfg.Policy.Roles {
		roles = append(roles, name)
	}
	slices.Sort(roles)
	return cfg, roles
}

// samplePurpose is the purpose a request of role to rt declares: for an
// update, the role's write purpose that changes job_title (the field
// sampleBody sends: so the matrix covers the write purposes); for a
// lookup, directory if the role has it; otherwise the role's first purpose
// that asks for no step-up ("" for a role without purposes).
func samplePurpose(pol *policy.Policy, role string, rt httpapi.Route) string {
	if role == "" {
		return ""
	}
	pu := pol.Roles[role].Purposes
	switch {
	case rt.Method == "PATCH" && rt.Path == "/v1/subjects/{id}":
		for _, name := range pu {
			if pol.Purposes[name].MayUpdate("job_title") {
				return name
			}
		}
	case strings.HasSuffix(rt.Path, "/lookup") && slices.Contains(pu, "directory"):
		return "directory"
	}
	for _, name := range pu {
		if pol.Purposes[name].StepUp == "" {
			return name
		}
	}
	return ""
}
