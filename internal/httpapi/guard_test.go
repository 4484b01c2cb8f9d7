package httpapi_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/event"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/metrics"
	"github.com/coffre/coffre/internal/vault"
)

func guardedEnv(t *testing.T) *env { return guardedEnvLogging(t, nil, nil) }

// guardedEnvLogging is guardedEnv, its server logging to logger and
// counting the guard's decisions in decisions (nil: not counted).
func guardedEnvLogging(t *testing.T, logger *slog.Logger, decisions vault.DecisionObserver) *env {
	return newEnvOpts(t, envOptions{logger: logger, decisions: decisions, proxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, guard: &vault.Guard{
		Limits: map[string]guard.Limits{
			"caseworker": {OutOfUnitPerDay: 2, VelocitySubjects: 5, VelocityWindow: 10 * time.Minute, HardMargin: 3},
			"supervisor": {},
		},
		Trusted: func(o string) bool { return strings.HasPrefix(o, "10.") },
	}})
}

// TestGuardHTTP: a soft limit answers 429 with Retry-After, a detector 423;
// the lock revokes the session and refuses the next login; the security
// officer sees the alert and unlocks; the operator works again.
func TestGuardHTTP(t *testing.T) {
	var logs syncBuffer
	decisions := metrics.NewDecisions()
	e := guardedEnvLogging(t, slog.New(slog.NewJSONHandler(&logs, nil)), decisions)
	hr := e.addOperator(t, "hugo", "hr-officer", "u1")
	cw := e.addOperator(t, "camille", "caseworker", "u1")
	sec := e.addOperator(t, "sam", "security-officer", "u1")
	hrTok, hr2Tok := e.login(t, hr), e.login(t, e.addOperator(t, "hana", "hr-officer", "u2"))
	var other, mine []string
	for i := range 3 {
		p, _ := person(t, 100+i*10, false)
		p.Unit = "u2"
		other = append(other, e.create(t, hr2Tok, p))
	}
	for i := range 8 {
		p, _ := person(t, 200+i*10, false)
		p.Unit = "u1"
		mine = append(mine, e.create(t, hrTok, p))
	}
	tok := e.login(t, cw)
	read := func(id, reason string) *response {
		e.clock.Advance(time.Minute)
		return e.call(t, req{Method: "GET", Path: "/v1/subjects/" + id, Token: tok, Purpose: "case-handling", Reason: reason})
	}
	// Out of unit: a reason is required.
	read(other[0], "").want(t, http.StatusBadRequest, "reason_required")
	read(other[0], "ticket 1").want(t, http.StatusOK, "")
	read(other[1], "ticket 2").want(t, http.StatusOK, "")
	r := read(other[2], "ticket 3")
	r.want(t, http.StatusTooManyRequests, "rate_limited")
	if secs, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || secs < 1 || secs > 86400 {
		t.Errorf("Retry-After %q", r.Header.Get("Retry-After"))
	}
	if !strings.Contains(r.Err.Message, "out of unit") {
		t.Errorf("429 message %q does not name the budget", r.Err.Message)
	}
	// Fast reads in the unit: the velocity detector locks.
	var last *response
	for _, id := range mine {
		e.clock.Advance(10 * time.Second)
		last = e.call(t, req{Method: "GET", Path: "/v1/subjects/" + id, Token: tok, Purpose: "case-handling"})
		if last.Status != http.StatusOK {
			break
		}
	}
	last.want(t, http.StatusLocked, "account_locked")
	// The log says so once, as the event operators alert on, by id only.
	var locks []map[string]any
	for _, line := range strings.Split(logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["event"] == event.GuardLock {
			locks = append(locks, m)
		}
	}
	if len(locks) != 1 || locks[0]["operator"] != cw.Operator.ID || locks[0]["code"] != guard.CodeVelocity || strings.Contains(logs.String(), "camille") {
		t.Errorf("guard.lock events %v, want one naming %s and code %s, and no username", locks, cw.Operator.ID, guard.CodeVelocity)
	}
	// The decisions are counted by verdict and code, the lock once.
	rec := httptest.NewRecorder()
	metrics.Handler(e.store, slog.New(slog.DiscardHandler), nil, decisions).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{
		`coffre_guard_decisions_total{action="read",code="velocity",verdict="lock"} 1`,
		`coffre_guard_decisions_total{action="read",code="out_of_unit",verdict="limit"} 1`,
	} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// The session is revoked, and a new login is refused with 423.
	read(mine[0], "").want(t, http.StatusUnauthorized, "unauthenticated")
	e.clock.Advance(30 * time.Second)
	e.call(t, req{Method: "POST", Path: "/v1/auth/login", Body: map[string]string{"username": "camille", "password": cw.Password}}).want(t, http.StatusLocked, "account_locked")

	secTok := e.login(t, sec)
	// Only a security officer lists alerts.
	e.call(t, req{Method: "GET", Path: "/v1/alerts", Token: hrTok}).want(t, http.StatusForbidden, "forbidden")
	ar := e.call(t, req{Method: "GET", Path: "/v1/alerts", Token: secTok})
	ar.want(t, http.StatusOK, "")
	var alerts struct {
		Alerts []guard.Alert `json:"alerts"`
	}
	decodeStrict(t, ar.Body, &alerts)
	if len(alerts.Alerts) != 1 || alerts.Alerts[0].Code != guard.CodeVelocity || alerts.Alerts[0].Operator != cw.Operator.ID || len(alerts.Alerts[0].Evidence) == 0 {
		t.Fatalf("alerts = %+v", alerts.Alerts)
	}
	path := "/v1/operators/" + cw.Operator.ID + "/unlock"
	e.call(t, req{Method: "POST", Path: path, Token: hrTok, Body: map[string]string{"reason": "x"}}).want(t, http.StatusForbidden, "forbidden")
	e.call(t, req{Method: "POST", Path: path, Token: secTok, Body: map[string]string{}}).want(t, http.StatusBadRequest, "reason_required")
	e.call(t, req{Method: "POST", Path: path, Token: secTok, Body: map[string]string{"reason": "INC-7 cleared"}}).want(t, http.StatusOK, "")
	e.call(t, req{Method: "POST", Path: path, Token: secTok, Body: map[string]string{"reason": "again"}}).want(t, http.StatusConflict, "conflict")
	tok = e.login(t, cw)
	read(mine[0], "").want(t, http.StatusOK, "")
}

// TestExtensionHTTP: the two-person rule. A caseworker over its budget asks
// for an extension; it cannot approve it itself, a supervisor of another
// unit cannot either, nor one without a valid fresh code; the supervisor of
// its unit can, and the reads under it are audited as such.
func TestExtensionHTTP(t *testing.T) {
	e := guardedEnv(t)
	cw := e.addOperator(t, "camille", "caseworker", "u1")
	lea := e.addOperator(t, "lea", "supervisor", "u1")
	max := e.addOperator(t, "max", "supervisor", "u2")
	hr2Tok := e.login(t, e.addOperator(t, "hana", "hr-officer", "u2"))
	var other []string
	for i := range 5 {
		p, _ := person(t, 300+i*10, false)
		p.Unit = "u2"
		other = append(other, e.create(t, hr2Tok, p))
	}
	tok := e.login(t, cw)
	read := func(id string) *response {
		e.clock.Advance(3 * time.Minute)
		return e.call(t, req{Method: "GET", Path: "/v1/subjects/" + id, Token: tok, Purpose: "case-handling", Reason: "inspection 12"})
	}
	read(other[0]).want(t, http.StatusOK, "")
	read(other[1]).want(t, http.StatusOK, "")
	read(other[2]).want(t, http.StatusTooManyRequests, "rate_limited")

	bad := []map[string]any{
		{"subjects": 0, "hours": 8, "reason": "x"},
		{"subjects": 10, "hours": 0, "reason": "x"},
		{"subjects": 10, "hours": 8},
		{"subjects": 10, "hours": 8, "reason": "x", "extra": 1},
	}
	// Malformed requests count towards the hard margin: another
	// caseworker sends them.
	probeTok := e.login(t, e.addOperator(t, "claude", "caseworker", "u1"))
	for _, b := range bad {
		if r := e.call(t, req{Method: "POST", Path: "/v1/extensions", Token: probeTok, Body: b}); r.Status != http.StatusBadRequest {
			t.Errorf("extension request %v: %d", b, r.Status)
		}
	}
	r := e.call(t, req{Method: "POST", Path: "/v1/extensions", Token: tok, Body: map[string]any{"subjects": 2, "hours": 8, "reason": "inspection 12"}})
	r.want(t, http.StatusCreated, "")
	var ext guard.Extension
	if err := json.Unmarshal(r.Body, &ext); err != nil || !strings.HasPrefix(ext.ID, "ext_") {
		t.Fatalf("extension %s: %v", r.Body, err)
	}
	approve := "/v1/extensions/" + ext.ID + "/approve"
	// The supervisor of the unit sees it waiting; another unit's does not
	// (a caseworker may not list: the authorization matrix).
	pending := func(tok string) []string {
		r := e.call(t, req{Method: "GET", Path: "/v1/extensions", Token: tok})
		r.want(t, http.StatusOK, "")
		var l struct{ Extensions []guard.Extension }
		if err := json.Unmarshal(r.Body, &l); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, x := range l.Extensions {
			ids = append(ids, x.ID)
		}
		return ids
	}
	// Not by the requester (who lacks the permission anyway).
	e.call(t, req{Method: "POST", Path: approve, Token: tok, Body: map[string]string{"code": e.code(t, cw, 0)}}).want(t, http.StatusForbidden, "forbidden")
	leaTok := e.login(t, lea)
	maxTok := e.login(t, max)
	e.clock.Advance(30 * time.Second)
	// Not with a wrong code, not from another unit.
	e.call(t, req{Method: "POST", Path: approve, Token: leaTok, Body: map[string]string{"code": e.wrongCode(t, lea)}}).want(t, http.StatusUnauthorized, "invalid_credentials")
	e.call(t, req{Method: "POST", Path: approve, Token: maxTok, Body: map[string]string{"code": e.code(t, max, 0)}}).want(t, http.StatusForbidden, "forbidden")
	if got := pending(leaTok); len(got) != 1 || got[0] != ext.ID {
		t.Errorf("GET /v1/extensions for the unit's supervisor: %v, want [%s]", got, ext.ID)
	}
	if got := pending(maxTok); len(got) != 0 {
		t.Errorf("GET /v1/extensions for another unit's supervisor: %v, want none", got)
	}
	e.call(t, req{Method: "POST", Path: approve, Token: leaTok, Body: map[string]string{"code": e.code(t, lea, 0)}}).want(t, http.StatusOK, "")
	if got := pending(leaTok); len(got) != 0 {
		t.Errorf("GET /v1/extensions once approved: %v, want none", got)
	}
	// The code was used: a second approval with it fails on the code.
	e.call(t, req{Method: "POST", Path: approve, Token: leaTok, Body: map[string]string{"code": e.code(t, lea, 0)}}).want(t, http.StatusUnauthorized, "invalid_credentials")

	// The requester's own approval attempt counted towards the hard
	// margin; an hour later (and a new session) the margin starts afresh.
	e.clock.Advance(time.Hour)
	tok = e.login(t, cw)
	read(other[2]).want(t, http.StatusOK, "")
	read(other[3]).want(t, http.StatusOK, "")
	read(other[4]).want(t, http.StatusTooManyRequests, "rate_limited") // the extension is spent

	var under int
	for _, en := range e.auditEntries(t) {
		if en.Action == "read" && en.Decision == "allow:extension:"+ext.ID {
			under++
		}
		if en.Action == "extension.approve" && strings.HasPrefix(en.Decision, "allow") && en.Actor != lea.Operator.ID {
			t.Errorf("approval by %s", en.Actor)
		}
	}
	if under != 2 {
		t.Errorf("%d reads audited under the extension, want 2", under)
	}
}

// TestForwardedFor: behind a trusted proxy the client's address comes from
// X-Forwarded-For (and a new untrusted origin raises an alert); from
// anywhere else the header is ignored.
func TestForwardedFor(t *testing.T) {
	e := guardedEnv(t)
	hr := e.addOperator(t, "hugo", "hr-officer", "u1")
	cw := e.addOperator(t, "camille", "caseworker", "u1")
	sec := e.addOperator(t, "sam", "security-officer", "u1")
	hrTok := e.login(t, hr)
	p, _ := person(t, 500, false)
	p.Unit = "u1"
	id := e.create(t, hrTok, p)
	tok := e.login(t, cw)
	for _, xff := range []string{"10.0.0.9", "198.51.100.1, 10.0.0.9", "203.0.113.5"} {
		e.clock.Advance(time.Minute)
		h := map[string]string{"X-Forwarded-For": xff}
		r := e.call(t, req{Method: "GET", Path: "/v1/subjects/" + id, Token: tok, Purpose: "case-handling", Header: h})
		if r.Status == http.StatusUnauthorized && r.Err.Code == "session_moved" {
			// The session was opened elsewhere: re-prove from here.
			e.clock.Advance(30 * time.Second)
			if r := e.call(t, req{Method: "POST", Path: "/v1/auth/stepup/totp", Token: tok, Header: h, Body: map[string]string{"code": e.code(t, cw, 0)}}); r.Status != http.StatusNoContent {
				t.Fatalf("step-up from %s: %d %s", xff, r.Status, r.Body)
			}
			r = e.call(t, req{Method: "GET", Path: "/v1/subjects/" + id, Token: tok, Purpose: "case-handling", Header: h})
		}
		r.want(t, http.StatusOK, "")
	}
	var origins []string
	for _, en := range e.auditEntries(t) {
		if en.Action == "read" && en.Actor == cw.Operator.ID {
			origins = append(origins, en.Origin)
		}
	}
	if strings.Join(origins, " ") != "10.0.0.9 10.0.0.9 203.0.113.5" {
		t.Errorf("audited origins %v", origins)
	}
	ar := e.call(t, req{Method: "GET", Path: "/v1/alerts", Token: e.login(t, sec)})
	var alerts struct {
		Alerts []guard.Alert `json:"alerts"`
	}
	decodeStrict(t, ar.Body, &alerts)
	if len(alerts.Alerts) != 1 || alerts.Alerts[0].Code != guard.CodeNewOrigin || alerts.Alerts[0].Action != "alert" {
		t.Errorf("alerts = %+v, want one new_origin alert", alerts.Alerts)
	}
}

// TestWritesOutOfScope: an update or an erasure of a person outside one's
// unit, without a reason, is refused and audited; with a reason it draws
// on the out-of-unit budget like a read.
func TestWritesOutOfScope(t *testing.T) {
	e := newEnvWith(t, &vault.Guard{
		Limits: map[string]guard.Limits{
			"caseworker": {OutOfUnitPerDay: 1, HardMargin: 10},
			"hr-officer": {OutOfUnitPerDay: 1, HardMargin: 10},
		},
	}, nil)
	cw := e.addOperator(t, "camille", "caseworker", "u1")
	hr := e.addOperator(t, "hugo", "hr-officer", "u1")
	hrTok, cwTok := e.login(t, hr), e.login(t, cw)
	hr2Tok := e.login(t, e.addOperator(t, "hana", "hr-officer", "u2"))
	var other []string
	for i := range 3 {
		p, _ := person(t, 700+i*10, false)
		p.Unit = "u2"
		other = append(other, e.create(t, hr2Tok, p))
	}
	job := map[string]any{"fields": map[string]string{"job_title": "Gestionnaire"}}
	patch := func(tok, id, purpose, reason string) *response {
		return e.call(t, req{Method: "PATCH", Path: "/v1/subjects/" + id, Token: tok, Purpose: purpose, Reason: reason, Body: job})
	}
	erase := func(tok, id, reason string) *response {
		return e.call(t, req{Method: "DELETE", Path: "/v1/subjects/" + id, Token: tok, Reason: reason})
	}
	patch(cwTok, other[0], "case-update", "").want(t, http.StatusBadRequest, "reason_required")
	erase(hrTok, other[0], "").want(t, http.StatusBadRequest, "reason_required")
	patch(cwTok, other[0], "case-update", "mutation 7").want(t, http.StatusNoContent, "")
	patch(cwTok, other[1], "case-update", "mutation 8").want(t, http.StatusTooManyRequests, "rate_limited")
	erase(hrTok, other[2], "RGPD art. 17, demande 4").want(t, http.StatusNoContent, "")
	erase(hrTok, other[1], "RGPD art. 17, demande 5").want(t, http.StatusTooManyRequests, "rate_limited")

	var got []string
	for _, en := range e.auditEntries(t) {
		if (en.Action == "update" || en.Action == "erase") && (en.Actor == cw.Operator.ID || en.Actor == hr.Operator.ID) {
			got = append(got, en.Action+" "+en.Decision)
		}
	}
	want := []string{"update deny:reason_required", "erase deny:reason_required", "update allow", "update deny:limited:out_of_unit",
		"erase allow", "erase deny:limited:out_of_unit"}
	if !slices.Equal(got, want) {
		t.Errorf("audited\n%q\nwant\n%q", got, want)
	}
}
