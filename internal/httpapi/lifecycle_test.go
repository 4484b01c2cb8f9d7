package httpapi_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/partner"
	"github.com/coffre/coffre/internal/store"
)

// operator reads an account from the store.
func (e *env) operator(t *testing.T, id string) *identity.Operator {
	t.Helper()
	var o *identity.Operator
	if err := e.auth.Store.View(context.Background(), func(ctx context.Context, tx store.Tx) error {
		var err error
		o, err = tx.GetOperator(ctx, id)
		return err
	}); err != nil {
		t.Fatalf("GetOperator(%s): %v", id, err)
	}
	return o
}

// probeSession answers whether a session token still authenticates: the
// status of GET /v1/account/sessions.
func (e *env) probeSession(t *testing.T, tok string) int {
	t.Helper()
	return e.call(t, req{Method: "GET", Path: "/v1/account/sessions", Token: tok}).Status
}

// TestLifecycleHTTP: a disabled or locked-by-hand operator gets no
// session with the right password and TOTP code; the sessions of an
// account disabled, locked or deleted stop at its next request; bad input
// is refused with 400 and audited.
func TestLifecycleHTTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	adminOp := e.addOperator(t, "root", "admin", "u1")
	secOp := e.addOperator(t, "sam", "security-officer", "u1")
	admin, sec := e.login(t, adminOp), e.login(t, secOp)
	cw := e.addOperator(t, "camille", "caseworker", "u1")
	id := cw.Operator.ID

	// noSession: the right password and code give no session, and the
	// answer is the one a wrong password gets.
	noSession := func(what string) {
		t.Helper()
		e.clock.Advance(30 * time.Second)
		r := e.call(t, req{Method: "POST", Path: "/v1/auth/login", Body: map[string]string{"username": cw.Operator.Username, "password": cw.Password}})
		if r.Status == http.StatusOK {
			var out struct {
				LoginToken string `json:"login_token"`
			}
			json.Unmarshal(r.Body, &out)
			r = e.totp(t, out.LoginToken, e.code(t, cw, 0))
		}
		r.want(t, http.StatusUnauthorized, "invalid_credentials")
		if r.Err.Message != "invalid credentials" {
			t.Errorf("%s: %q, want the answer of a wrong password", what, r.Err.Message)
		}
	}

	for _, tc := range []struct {
		name string
		// off is the act and on the one that lifts it, given the
		// administrator's and the security officer's tokens.
		off, on  func(admin, sec string) req
		decision string // the refused login's audit decision
	}{
		{"disable",
			func(admin, _ string) req {
				return req{Method: "POST", Path: "/v1/operators/" + id + "/disable", Token: admin, Body: map[string]string{"reason": "left the agency"}}
			},
			func(admin, _ string) req {
				return req{Method: "POST", Path: "/v1/operators/" + id + "/enable", Token: admin}
			},
			"deny:disabled"},
		{"lock",
			func(_, sec string) req {
				return req{Method: "POST", Path: "/v1/operators/" + id + "/lock", Token: sec, Body: map[string]string{"reason": "phishing report 42"}}
			},
			func(_, sec string) req {
				return req{Method: "POST", Path: "/v1/operators/" + id + "/unlock", Token: sec, Body: map[string]string{"reason": "password changed"}}
			},
			"deny:locked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := e.login(t, cw)
			if got := e.probeSession(t, tok); got != http.StatusOK {
				t.Fatalf("the session before: %d", got)
			}
			e.call(t, tc.off(admin, sec)).want(t, http.StatusOK, "")
			if got := e.probeSession(t, tok); got != http.StatusUnauthorized {
				t.Errorf("the session at its next request: %d, want 401", got)
			}
			noSession(tc.name)
			// Time does not lift it.
			e.clock.Advance(48 * time.Hour)
			noSession(tc.name + " two days later")
			var decisions []string
			for _, en := range e.auditEntries(t) {
				if en.Actor == id && en.Action == "login.password" {
					decisions = append(decisions, en.Decision)
				}
			}
			if n := len(decisions); n < 2 || decisions[n-1] != tc.decision || decisions[n-2] != tc.decision {
				t.Errorf("refused logins audited %v, want %s", decisions, tc.decision)
			}
			admin, sec = e.login(t, adminOp), e.login(t, secOp)
			e.call(t, tc.on(admin, sec)).want(t, http.StatusOK, "")
			e.login(t, cw)
		})
	}

	// A session in flight when the account is disabled: every request
	// after answers 401, whatever the route.
	tok := e.login(t, cw)
	e.call(t, req{Method: "POST", Path: "/v1/operators/" + id + "/disable", Token: admin}).want(t, http.StatusOK, "")
	for _, r := range []req{
		{Method: "GET", Path: "/v1/account/sessions", Token: tok},
		{Method: "POST", Path: "/v1/subjects/lookup", Token: tok, Purpose: "directory", Body: map[string]string{"field": "email_pro", "value": "a@example.org"}},
		{Method: "POST", Path: "/v1/auth/stepup/totp", Token: tok, Body: map[string]string{"code": e.code(t, cw, 0)}},
	} {
		e.call(t, r).want(t, http.StatusUnauthorized, "unauthenticated")
	}
	e.call(t, req{Method: "POST", Path: "/v1/operators/" + id + "/enable", Token: admin}).want(t, http.StatusOK, "")

	// A lock by hand ends the sessions in its own transaction: the next
	// request is not authenticated.
	other := e.login(t, cw)
	e.call(t, req{Method: "POST", Path: "/v1/operators/" + id + "/lock", Token: sec, Body: map[string]string{"reason": "stolen laptop"}}).want(t, http.StatusOK, "")
	e.call(t, req{Method: "GET", Path: "/v1/account/sessions", Token: other}).want(t, http.StatusUnauthorized, "unauthenticated")
	e.call(t, req{Method: "POST", Path: "/v1/operators/" + id + "/unlock", Token: sec, Body: map[string]string{"reason": "laptop found"}}).want(t, http.StatusOK, "")

	// Delete: gone for good, the id kept.
	e.call(t, req{Method: "DELETE", Path: "/v1/operators/" + id, Token: admin, Reason: "HR ticket 7"}).want(t, http.StatusOK, "")
	noSession("deleted")
	if o := e.operator(t, id); o.Username != auth.Tombstone(id) || o.PasswordHash != "" || o.Deleted.IsZero() {
		t.Errorf("deleted account = %+v", o)
	}

	// Bad input and refusals: the usual error shape, audited. A fresh
	// login: acts that give power need a factor of the last two minutes.
	e.clock.Advance(30 * time.Second)
	admin = e.login(t, adminOp)
	for _, tc := range []struct {
		name   string
		r      req
		status int
		code   string
	}{
		{"malformed id", req{Method: "POST", Path: "/v1/operators/Camille/disable", Token: admin}, 400, "invalid_request"},
		{"id with a slash", req{Method: "POST", Path: "/v1/operators/op_x%2F1/disable", Token: admin}, 400, "invalid_request"},
		{"unknown operator", req{Method: "POST", Path: "/v1/operators/op_aaaaaaaaaaaaaaaa/disable", Token: admin}, 404, "not_found"},
		{"disable oneself", req{Method: "POST", Path: "/v1/operators/" + adminOp.Operator.ID + "/disable", Token: admin}, 403, "forbidden"},
		{"delete oneself", req{Method: "DELETE", Path: "/v1/operators/" + adminOp.Operator.ID, Token: admin}, 403, "forbidden"},
		{"lock oneself", req{Method: "POST", Path: "/v1/operators/" + secOp.Operator.ID + "/lock", Token: sec, Body: map[string]string{"reason": "test"}}, 403, "forbidden"},
		{"disable the security officer", req{Method: "POST", Path: "/v1/operators/" + secOp.Operator.ID + "/disable", Token: admin}, 403, "forbidden"},
		{"lock without a reason", req{Method: "POST", Path: "/v1/operators/" + adminOp.Operator.ID + "/lock", Token: sec}, 400, "invalid_request"},
		{"lock with a blank reason", req{Method: "POST", Path: "/v1/operators/" + adminOp.Operator.ID + "/lock", Token: sec, Body: map[string]string{"reason": "  "}}, 400, "invalid_request"},
		{"reason too long", req{Method: "POST", Path: "/v1/operators/" + adminOp.Operator.ID + "/lock", Token: sec, Body: map[string]string{"reason": strings.Repeat("x", reasonMax+1)}}, 400, "invalid_request"},
		{"control characters", req{Method: "POST", Path: "/v1/operators/" + adminOp.Operator.ID + "/lock", Token: sec, Body: map[string]string{"reason": "a\x00b"}}, 400, "invalid_request"},
		{"unknown field", req{Method: "POST", Path: "/v1/operators/" + adminOp.Operator.ID + "/lock", Token: sec, Body: map[string]string{"why": "x"}}, 400, "invalid_request"},
		{"not JSON", req{Method: "POST", Path: "/v1/operators/" + adminOp.Operator.ID + "/lock", Token: sec, Body: "reason=x"}, 400, "invalid_request"},
		{"deleted already", req{Method: "DELETE", Path: "/v1/operators/" + id, Token: admin}, 409, "conflict"},
		{"enable a deleted account", req{Method: "POST", Path: "/v1/operators/" + id + "/enable", Token: admin}, 409, "conflict"},
		{"admin may not lock", req{Method: "POST", Path: "/v1/operators/" + secOp.Operator.ID + "/lock", Token: admin, Body: map[string]string{"reason": "x"}}, 403, "forbidden"},
		{"security officer may not disable", req{Method: "POST", Path: "/v1/operators/" + adminOp.Operator.ID + "/disable", Token: sec}, 403, "forbidden"},
		{"limit 0", req{Method: "GET", Path: "/v1/operators?limit=0", Token: admin}, 400, "invalid_request"},
		{"limit too large", req{Method: "GET", Path: "/v1/operators?limit=501", Token: admin}, 400, "invalid_request"},
		{"after malformed", req{Method: "GET", Path: "/v1/operators?after=%25", Token: admin}, 400, "invalid_request"},
		{"filter", req{Method: "GET", Path: "/v1/operators?unit=u1", Token: admin}, 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.auditEntries(t))
			r := e.call(t, tc.r)
			r.want(t, tc.status, tc.code)
			if r.Err.Hint == "" {
				t.Errorf("no hint: %s", r.Body)
			}
			if after := len(e.auditEntries(t)); after <= before {
				t.Errorf("not audited")
			}
		})
	}
}

// TestListOperators: the accounts, paged by id, with their state and no
// secret; every page audited.
func TestListOperators(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	adminOp := e.addOperator(t, "root", "admin", "u1")
	admin := e.login(t, adminOp)
	want := map[string]string{adminOp.Operator.ID: "root"}
	for i := range 6 {
		op := e.addOperator(t, fmt.Sprintf("agent-%d", i), "caseworker", "u2")
		want[op.Operator.ID] = op.Operator.Username
	}
	e.call(t, req{Method: "POST", Path: "/v1/operators/" + e.operatorID(t, want, "agent-1") + "/disable", Token: admin}).want(t, http.StatusOK, "")
	before := len(e.auditEntries(t))
	got := map[string]string{}
	var pages int
	for after := ""; ; {
		pages++
		path := "/v1/operators?limit=3"
		if after != "" {
			path += "&after=" + after
		}
		r := e.call(t, req{Method: "GET", Path: path, Token: admin})
		r.want(t, http.StatusOK, "")
		if strings.Contains(string(r.Body), "password") || strings.Contains(string(r.Body), "totp") {
			t.Fatalf("a page shows a secret's field: %s", r.Body)
		}
		var page struct {
			Operators []auth.OperatorInfo `json:"operators"`
			Next      string              `json:"next"`
		}
		decodeStrict(t, r.Body, &page)
		for _, o := range page.Operators {
			if o.ID <= after {
				t.Errorf("%s after %s: not in id order", o.ID, after)
			}
			got[o.ID] = o.Username
			if o.Username == "agent-1" && !o.Disabled || o.Username == "root" && o.LastLogin.IsZero() {
				t.Errorf("state of %s: %+v", o.Username, o)
			}
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	if len(got) != len(want) || pages != 3 {
		t.Errorf("listed %d accounts in %d pages, want %d in 3", len(got), pages, len(want))
	}
	for id, name := range want {
		if got[id] != name {
			t.Errorf("%s listed as %q, want %q", id, got[id], name)
		}
	}
	var pagesAudited int
	for _, en := range e.auditEntries(t)[before:] {
		if en.Action == "operator.list" && en.Actor == adminOp.Operator.ID && en.Decision == "allow" {
			pagesAudited++
		}
	}
	if pagesAudited != 3 {
		t.Errorf("%d pages audited, want 3", pagesAudited)
	}
}

func (e *env) operatorID(t *testing.T, ids map[string]string, name string) string {
	t.Helper()
	for id, n := range ids {
		if n == name {
			return id
		}
	}
	t.Fatalf("no operator %s", name)
	return ""
}

// auditDown is a store whose audit appends fail while down is set, as they
// do on a full disk or a lost connection (the store says ErrUnavailable).
type auditDown struct {
	store.Store
	down atomic.Bool
}

type auditDownTx struct{ store.Tx }

func (auditDownTx) AppendAudit(context.Context, *audit.Entry) error {
	return fmt.Errorf("injected audit failure: %w", store.ErrUnavailable)
}

func (s *auditDown) Update(ctx context.Context, fn func(context.Context, store.Tx) error) error {
	if !s.down.Load() {
		return s.Store.Update(ctx, fn)
	}
	return s.Store.Update(ctx, func(ctx context.Context, tx store.Tx) error { return fn(ctx, auditDownTx{tx}) })
}

// TestAdminChangesFailClosed: every administrative route, with its audit
// entry unwritable, answers 503 and changes nothing: the change and its
// entry are one transaction. On both stores.
func TestAdminChangesFailClosed(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testAdminChangesFailClosed(t, nil) })
	t.Run("postgres", func(t *testing.T) {
		testAdminChangesFailClosed(t, func(t *testing.T) store.Store { return openPostgres(t, pgURL(t)) })
	})
}

func testAdminChangesFailClosed(t *testing.T, open func(*testing.T) store.Store) {
	seed := make([]byte, 32)
	rand.Read(seed)
	ca, err := partner.NewCA(seed)
	if err != nil {
		t.Fatal(err)
	}
	var ad *auditDown
	o := envOptions{ca: ca, wrap: func(s store.Store) store.Store { ad = &auditDown{Store: s}; return ad }}
	if open != nil {
		o.store = open(t)
	}
	e := newEnvOpts(t, o)
	ctx := context.Background()
	adminOp := e.addOperator(t, "root", "admin", "u1")
	secOp := e.addOperator(t, "sam", "security-officer", "u1")
	cwOp := e.addOperator(t, "camille", "caseworker", "u1")
	offOp := e.addOperator(t, "olga", "caseworker", "u1")
	lockedOp := e.addOperator(t, "luc", "caseworker", "u1")
	for _, act := range []struct {
		a  auth.Act
		op *auth.NewOperator
	}{{auth.Disable, offOp}, {auth.Lock, lockedOp}} {
		if _, err := e.auth.Lifecycle(ctx, auth.Host, nil, act.a, act.op.Operator.Username, "set up"); err != nil {
			t.Fatal(err)
		}
	}
	admin, sec, cw, cw2 := e.login(t, adminOp), e.login(t, secOp), e.login(t, cwOp), e.login(t, cwOp)
	// Accounts waiting: one for a second administrator's approval, one
	// for its holder's enrolment.
	adaOp := e.addOperator(t, "ada", "admin", "u1")
	ada := e.login(t, adaOp)
	rootA := identity.Actor{ID: adminOp.Operator.ID, Role: "admin", Origin: "127.0.0.1", SteppedUp: e.clock.Now()}
	pia, err := e.auth.AdminAddOperator(ctx, rootA, e.policy, "pia", "caseworker", "u1")
	if err != nil {
		t.Fatal(err)
	}
	rex, err := e.auth.AdminAddOperator(ctx, rootA, e.policy, "rex", "caseworker", "u1")
	if err != nil {
		t.Fatal(err)
	}
	rexCode, err := e.auth.ApproveEnrolment(ctx, identity.Actor{ID: adaOp.Operator.ID, Role: "admin", Origin: "127.0.0.1", SteppedUp: e.clock.Now()}, e.policy, rex.ID)
	if err != nil {
		t.Fatal(err)
	}
	// A security key to remove.
	key := newSoftKey(t)
	opts := e.call(t, req{Method: "POST", Path: "/v1/account/webauthn/begin", Token: cw})
	e.call(t, req{Method: "POST", Path: "/v1/account/webauthn/finish", Token: cw, Body: map[string]any{"name": "key", "credential": key.create(t, opts.Body)}}).want(t, http.StatusCreated, "")
	var sessions struct {
		Sessions []auth.SessionInfo `json:"sessions"`
	}
	decodeStrict(t, e.call(t, req{Method: "GET", Path: "/v1/account/sessions", Token: cw2}).Body, &sessions)
	var otherSession string
	for _, s := range sessions.Sessions {
		if !s.Current {
			otherSession = s.ID
		}
	}

	state := func() string {
		t.Helper()
		var b strings.Builder
		e.auth.Store.View(ctx, func(ctx context.Context, tx store.Tx) error {
			for _, id := range []string{adminOp.Operator.ID, secOp.Operator.ID, cwOp.Operator.ID, offOp.Operator.ID, lockedOp.Operator.ID} {
				o, err := tx.GetOperator(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(&b, "%s %s %s %s disabled=%v locked=%q deleted=%v\n", o.ID, o.Username, o.Role, o.Unit, o.Disabled, o.Locked, !o.Deleted.IsZero())
				ss, _ := tx.OperatorSessions(ctx, id)
				ks, _ := tx.WebAuthnCredentials(ctx, id)
				n, _ := tx.CountRecoveryCodes(ctx, id)
				fmt.Fprintf(&b, "  sessions=%d keys=%d recovery=%d\n", len(ss), len(ks), n)
				for _, s := range ss {
					fmt.Fprintf(&b, "  session %x stepped_up=%s group=%q\n", s.Hash[:4], s.SteppedUp.Format(time.RFC3339), s.StepGroup)
				}
			}
			for _, id := range []string{pia.ID, rex.ID} {
				o, err := tx.GetOperator(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				en, err := tx.GetEnrolment(ctx, id)
				fmt.Fprintf(&b, "%s %s password=%q totp=%d enrolment=%+v %v\n", o.ID, o.Username, o.PasswordHash, len(o.TOTPSecret), en, err)
			}
			for _, name := range []string{"newbie", "partner:pole-emploi"} {
				if _, err := tx.GetOperatorByName(ctx, name); err == nil {
					fmt.Fprintf(&b, "%s exists\n", name)
				}
			}
			last, _ := tx.LastAuditSeq(ctx)
			fmt.Fprintf(&b, "audit %d\n", last)
			return nil
		})
		return b.String()
	}

	cases := []struct {
		name string
		r    req
	}{
		{"add an operator", req{Method: "POST", Path: "/v1/operators", Token: admin, Body: map[string]string{"username": "newbie", "role": "caseworker", "unit": "u1"}}},
		{"approve an account", req{Method: "POST", Path: "/v1/operators/" + pia.ID + "/approve", Token: ada}},
		{"enrol", req{Method: "POST", Path: "/v1/auth/enrol", Body: map[string]string{"username": "rex", "code": rexCode.Code, "password": "rex's own passphrase"}}},
		{"change a role", req{Method: "PATCH", Path: "/v1/operators/" + cwOp.Operator.ID, Token: admin, Body: map[string]string{"role": "support", "unit": "u2"}}},
		{"add a partner", req{Method: "POST", Path: "/v1/partners", Token: admin, Body: map[string]string{"name": "pole-emploi", "sector": "employment", "unit": "u1"}}},
		{"list the operators", req{Method: "GET", Path: "/v1/operators", Token: admin}},
		{"disable", req{Method: "POST", Path: "/v1/operators/" + cwOp.Operator.ID + "/disable", Token: admin}},
		{"enable", req{Method: "POST", Path: "/v1/operators/" + offOp.Operator.ID + "/enable", Token: admin}},
		{"delete", req{Method: "DELETE", Path: "/v1/operators/" + cwOp.Operator.ID, Token: admin}},
		{"lock", req{Method: "POST", Path: "/v1/operators/" + cwOp.Operator.ID + "/lock", Token: sec, Body: map[string]string{"reason": "test"}}},
		{"unlock", req{Method: "POST", Path: "/v1/operators/" + lockedOp.Operator.ID + "/unlock", Token: sec, Body: map[string]string{"reason": "test"}}},
		{"revoke an operator's sessions", req{Method: "POST", Path: "/v1/operators/" + cwOp.Operator.ID + "/sessions/revoke", Token: sec, Body: map[string]string{"reason": "test"}}},
		{"revoke everyone's sessions", req{Method: "POST", Path: "/v1/sessions/revoke-all", Token: sec, Body: map[string]string{"reason": "test"}}},
		{"revoke one's own session", req{Method: "DELETE", Path: "/v1/account/sessions/" + otherSession, Token: cw2}},
		{"new recovery codes", req{Method: "POST", Path: "/v1/account/recovery-codes", Token: cw}},
		{"remove a security key", req{Method: "DELETE", Path: "/v1/account/webauthn/" + b64(key.id), Token: cw}},
		{"log out", req{Method: "POST", Path: "/v1/auth/logout", Token: cw}},
	}
	before := state()
	ad.down.Store(true)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.call(t, tc.r).want(t, http.StatusServiceUnavailable, "unavailable")
		})
	}
	// A step-up, and a security key's registration, each with a proof
	// that is good.
	e.clock.Advance(30 * time.Second)
	e.call(t, req{Method: "POST", Path: "/v1/auth/stepup/totp", Token: cw, Body: map[string]string{"code": e.code(t, cwOp, 0)}}).want(t, http.StatusServiceUnavailable, "unavailable")
	ad.down.Store(false)
	opts = e.call(t, req{Method: "POST", Path: "/v1/account/webauthn/begin", Token: cw2})
	ad.down.Store(true)
	e.call(t, req{Method: "POST", Path: "/v1/account/webauthn/finish", Token: cw2, Body: map[string]any{"name": "second", "credential": newSoftKey(t).create(t, opts.Body)}}).want(t, http.StatusServiceUnavailable, "unavailable")
	ad.down.Store(false)
	if after := state(); after != before {
		t.Errorf("with the audit log unwritable the state changed:\nbefore\n%s\nafter\n%s", before, after)
	}
	// The same acts go through once the log can be written.
	for _, tc := range cases {
		r := e.call(t, tc.r)
		if r.Status >= 500 {
			t.Errorf("%s with the log back: %d %s", tc.name, r.Status, r.Body)
		}
	}
}
