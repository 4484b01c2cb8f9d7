package httpapi_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/store"
)

// enrolled is the answer of POST /v1/auth/enrol.
type enrolled struct {
	Username   string `json:"username"`
	TOTPURI    string `json:"totp_uri"`
	TOTPSecret string `json:"totp_secret"`
	Note       string `json:"note"`
}

// approval is the answer of POST /v1/operators/{id}/approve.
type approval struct {
	ID            string `json:"id"`
	Username      string `json:"username"`
	Status        string `json:"status"`
	EnrolmentCode string `json:"enrolment_code"`
	ExpiresAt     string `json:"expires_at"`
	Note          string `json:"note"`
}

// createPending creates username through the API as tok's holder and
// returns its id; the answer holds nothing secret.
func (e *env) createPending(t *testing.T, tok, username string) string {
	t.Helper()
	r := e.call(t, req{Method: "POST", Path: "/v1/operators", Token: tok, Body: map[string]string{"username": username, "role": "caseworker", "unit": "u1"}})
	r.want(t, http.StatusCreated, "")
	var out struct {
		ID, Username, Role, Unit, Status, Note string
	}
	decodeStrict(t, r.Body, &out)
	if !opID.MatchString(out.ID) || out.Status != "pending_approval" {
		t.Fatalf("POST /v1/operators = %s; want an id, status pending_approval", r.Body)
	}
	return out.ID
}

// approve approves id as tok's holder and returns the code.
func (e *env) approve(t *testing.T, tok, id string) approval {
	t.Helper()
	r := e.call(t, req{Method: "POST", Path: "/v1/operators/" + id + "/approve", Token: tok})
	r.want(t, http.StatusOK, "")
	var out approval
	decodeStrict(t, r.Body, &out)
	return out
}

func (e *env) enrol(t *testing.T, username, code, password string) *response {
	t.Helper()
	return e.call(t, req{Method: "POST", Path: "/v1/auth/enrol", Body: map[string]string{"username": username, "code": code, "password": password}})
}

// TestEnrolment: a new account's credentials are never returned to its
// creator. An administrator creates an account and receives no secret;
// it cannot approve it; a second administrator does and receives a code;
// the creator cannot log in as the account; the person enrols with the
// code, gets a TOTP secret and logs in with their password and TOTP; the
// code works once; an expired code fails; wrong codes lock the account as
// wrong passwords do; every step is audited.
func TestEnrolment(t *testing.T) {
	e := newEnv(t)
	rootOp := e.addOperator(t, "root", "admin", "u1")
	adaOp := e.addOperator(t, "ada", "admin", "u1")
	root, ada := e.login(t, rootOp), e.login(t, adaOp)

	// The creator receives the id, nothing secret.
	lea := e.createPending(t, root, "lea")
	// The creator cannot approve it.
	e.call(t, req{Method: "POST", Path: "/v1/operators/" + lea + "/approve", Token: root}).want(t, http.StatusForbidden, "forbidden")
	// Nor log in as it, whatever the password.
	for _, pw := range []string{"x", auth.PendingPassword, "correct horse battery"} {
		e.call(t, req{Method: "POST", Path: "/v1/auth/login", Body: map[string]string{"username": "lea", "password": pw}}).want(t, http.StatusUnauthorized, "invalid_credentials")
	}
	// Nor enrol it before an approval.
	e.enrol(t, "lea", "aaaaa-aaaaa-aaaaa-aaaaa", "correct horse battery").want(t, http.StatusUnauthorized, "invalid_credentials")

	// A second administrator approves it and receives the code.
	ap := e.approve(t, ada, lea)
	if ap.ID != lea || ap.Username != "lea" || ap.Status != "approved" || len(ap.EnrolmentCode) != 23 {
		t.Fatalf("approval = %+v", ap)
	}
	if want := e.clock.Now().Add(auth.DefaultEnrolFor).Format(time.RFC3339); ap.ExpiresAt != want {
		t.Errorf("expires_at = %s, want %s (72 hours)", ap.ExpiresAt, want)
	}
	e.call(t, req{Method: "POST", Path: "/v1/operators/" + lea + "/approve", Token: ada}).want(t, http.StatusConflict, "conflict")

	// The person enrols: their password, and a TOTP secret, once.
	const pw = "a passphrase lea chose"
	r := e.enrol(t, "lea", ap.EnrolmentCode, pw)
	r.want(t, http.StatusOK, "")
	var en enrolled
	decodeStrict(t, r.Body, &en)
	if en.Username != "lea" || !strings.HasPrefix(en.TOTPURI, "otpauth://totp/") || en.TOTPSecret == "" || !strings.Contains(en.TOTPURI, "secret="+en.TOTPSecret) {
		t.Fatalf("enrolment answer %s", r.Body)
	}
	// The code works once.
	e.enrol(t, "lea", ap.EnrolmentCode, pw).want(t, http.StatusUnauthorized, "invalid_credentials")
	// They log in with their password and TOTP.
	leaOp := &auth.NewOperator{Password: pw, TOTPSecret: en.TOTPSecret}
	leaOp.Operator = mustOperator(t, e, lea)
	tok := e.login(t, leaOp)
	e.call(t, req{Method: "GET", Path: "/v1/account/sessions", Token: tok}).want(t, http.StatusOK, "")

	// An expired code fails.
	max := e.createPending(t, root, "max")
	maxCode := e.approve(t, ada, max).EnrolmentCode
	e.clock.Advance(auth.DefaultEnrolFor)
	e.enrol(t, "max", maxCode, pw).want(t, http.StatusUnauthorized, "invalid_credentials")

	// Wrong codes count towards the account's failure lock (10 by
	// default), like wrong passwords: then even the right code fails.
	e.clock.Advance(time.Minute) // a fresh minute for the address throttle
	root, ada = e.login(t, rootOp), e.login(t, adaOp)
	zoe := e.createPending(t, root, "zoe")
	zoeCode := e.approve(t, ada, zoe).EnrolmentCode
	for i := range 10 {
		wrong := []byte("aaaaa-aaaaa-aaaaa-aaaaa")
		wrong[i%5] = 'b'
		e.enrol(t, "zoe", string(wrong), pw).want(t, http.StatusUnauthorized, "invalid_credentials")
	}
	e.enrol(t, "zoe", zoeCode, pw).want(t, http.StatusUnauthorized, "invalid_credentials")
	var list struct {
		Operators []auth.OperatorInfo `json:"operators"`
	}
	decodeStrict(t, e.call(t, req{Method: "GET", Path: "/v1/operators", Token: root}).Body, &list)
	states := map[string]string{}
	for _, o := range list.Operators {
		states[o.Username] = o.Locked
		if o.Pending != (o.Username == "max" || o.Username == "zoe") {
			t.Errorf("%s pending = %v", o.Username, o.Pending)
		}
	}
	if states["zoe"] != auth.LockLoginFailures {
		t.Errorf("after 10 wrong codes zoe's lock = %q, want %s", states["zoe"], auth.LockLoginFailures)
	}

	// Every step audited, in order.
	names := map[string]string{rootOp.Operator.ID: "root", adaOp.Operator.ID: "ada", lea: "lea", max: "max", zoe: "zoe"}
	var got []string
	for _, en := range e.auditEntries(t) {
		if !slices.Contains([]string{"operator.add", "operator.approve", "enrol", "login.password", "login.lock"}, en.Action) {
			continue
		}
		who := names[en.Actor]
		if who == "" {
			who = en.Actor
		}
		if en.Action == "login.password" && (who == "root" || who == "ada") || who == "system" {
			continue
		}
		got = append(got, who+" "+en.Action+" "+en.Decision)
	}
	want := []string{
		"root operator.add allow",
		"root operator.approve deny:forbidden",
		"lea login.password deny:bad_credentials",
		"lea login.password deny:bad_credentials",
		"lea login.password deny:bad_credentials",
		"lea enrol deny:not_approved",
		"ada operator.approve allow",
		"ada operator.approve deny:conflict",
		"lea enrol allow",
		"lea enrol deny:no_enrolment",
		"lea login.password allow",
		"root operator.add allow",
		"ada operator.approve allow",
		"max enrol deny:expired",
		"root operator.add allow",
		"ada operator.approve allow",
	}
	for range 9 {
		want = append(want, "zoe enrol deny:bad_code")
	}
	// The tenth failure locks the account, in its own transaction.
	want = append(want, "auth login.lock lock:"+zoe, "zoe enrol deny:bad_code", "zoe enrol deny:locked")
	if diff := strings.Join(got, "\n"); diff != strings.Join(want, "\n") {
		t.Errorf("audited\n%s\nwant\n%s", diff, strings.Join(want, "\n"))
	}
}

// mustOperator reads an operator by id.
func mustOperator(t *testing.T, e *env, id string) *identity.Operator {
	t.Helper()
	var op *identity.Operator
	err := e.store.View(context.Background(), func(ctx context.Context, tx store.Tx) error {
		var err error
		op, err = tx.GetOperator(ctx, id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return op
}

// TestEnrolmentBadInput: malformed enrolments and approvals get clear 4xx
// errors with hints, and a refused approval is audited.
func TestEnrolmentBadInput(t *testing.T) {
	e := newEnv(t)
	rootOp := e.addOperator(t, "root", "admin", "u1")
	adaOp := e.addOperator(t, "ada", "admin", "u1")
	root, ada := e.login(t, rootOp), e.login(t, adaOp)
	lea := e.createPending(t, root, "lea")
	for _, tc := range []struct {
		name   string
		r      req
		status int
		code   string
		hint   string // a part of the hint
	}{
		{"no code", req{Method: "POST", Path: "/v1/auth/enrol", Body: map[string]string{"username": "lea", "password": "long enough password"}}, 400, "invalid_request", ""},
		{"no password", req{Method: "POST", Path: "/v1/auth/enrol", Body: map[string]string{"username": "lea", "code": "aaaaa-aaaaa-aaaaa-aaaaa"}}, 400, "invalid_request", ""},
		{"a password too short", req{Method: "POST", Path: "/v1/auth/enrol", Body: map[string]string{"username": "lea", "code": "aaaaa-aaaaa-aaaaa-aaaaa", "password": "elevenchars"}}, 400, "invalid_request", "passphrase"},
		{"a password too long", req{Method: "POST", Path: "/v1/auth/enrol", Body: map[string]string{"username": "lea", "code": "aaaaa-aaaaa-aaaaa-aaaaa", "password": strings.Repeat("p", 1025)}}, 400, "invalid_request", "shorter"},
		{"a code too long", req{Method: "POST", Path: "/v1/auth/enrol", Body: map[string]string{"username": "lea", "code": strings.Repeat("a", 65), "password": "long enough password"}}, 400, "invalid_request", ""},
		{"an unknown field", req{Method: "POST", Path: "/v1/auth/enrol", Body: map[string]string{"username": "lea", "code": "x", "password": "long enough password", "totp": "x"}}, 400, "invalid_request", ""},
		{"a malformed id", req{Method: "POST", Path: "/v1/operators/lea/approve", Token: ada}, 400, "invalid_request", ""},
		{"an unknown field to approve", req{Method: "POST", Path: "/v1/operators/" + lea + "/approve", Token: ada, Body: map[string]string{"role": "admin"}}, 400, "invalid_request", ""},
		{"approve an unknown account", req{Method: "POST", Path: "/v1/operators/op_aaaaaaaaaaaaaaaa/approve", Token: ada}, 404, "not_found", "GET /v1/operators"},
		{"approve a ready account", req{Method: "POST", Path: "/v1/operators/" + rootOp.Operator.ID + "/approve", Token: ada}, 409, "conflict", "coffre operator enrol-code"},
		{"approve one's own creation", req{Method: "POST", Path: "/v1/operators/" + lea + "/approve", Token: root}, 403, "forbidden", "another holder"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.call(t, tc.r)
			r.want(t, tc.status, tc.code)
			if !strings.Contains(r.Err.Hint, tc.hint) {
				t.Errorf("hint %q, want it to mention %q", r.Err.Hint, tc.hint)
			}
		})
	}
	// Nothing of that approved lea, or changed it.
	if op := mustOperator(t, e, lea); op.PasswordHash != auth.PendingPassword || len(op.TOTPSecret) != 0 {
		t.Errorf("lea after the refusals: %+v", op)
	}
	e.approve(t, ada, lea)
	// Disabled, an approved account's code opens nothing.
	e.call(t, req{Method: "POST", Path: "/v1/operators/" + lea + "/disable", Token: root}).want(t, http.StatusOK, "")
	max := e.createPending(t, root, "max")
	e.call(t, req{Method: "POST", Path: "/v1/operators/" + max + "/disable", Token: root}).want(t, http.StatusOK, "")
	e.call(t, req{Method: "POST", Path: "/v1/operators/" + max + "/approve", Token: ada}).want(t, http.StatusConflict, "conflict")
}
