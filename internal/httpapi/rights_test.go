package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/coffre/coffre/internal/rights"
)

// rightsEnv is a server with a person (their session stands in the
// Test-Subject header), a dpo, a caseworker and an HR officer of the
// person's unit, logged in.
type rightsEnv struct {
	*env
	subject           string
	dpo, cw, hr       string // tokens
	dpoID             string
	personH           map[string]string
	personUnit, email string
}

func newRightsEnv(t *testing.T) *rightsEnv {
	t.Helper()
	e := &rightsEnv{env: newEnv(t)}
	p, _ := person(t, 0, false)
	p.Unit = "u1"
	hr := e.addOperator(t, "op-hr", "hr-officer", "u1")
	e.hr = e.login(t, hr)
	e.subject = e.create(t, e.hr, p)
	e.personUnit, e.email = p.Unit, p.Fields["email_pro"]
	dpo := e.addOperator(t, "op-dpo", "dpo", "dpo-office")
	e.dpo, e.dpoID = e.login(t, dpo), dpo.Operator.ID
	e.cw = e.login(t, e.addOperator(t, "op-cw", "caseworker", "u1"))
	e.addOperator(t, "op-other", "caseworker", "u2") // unit u2 has staff
	e.personH = map[string]string{"Test-Subject": e.subject}
	return e
}

// me calls a /v1/me route as the person.
func (e *rightsEnv) me(t *testing.T, method, path string, body any) *response {
	t.Helper()
	return e.call(t, req{Method: method, Path: path, Header: e.personH, Body: body})
}

type requestOut struct {
	ID           string   `json:"id"`
	Subject      string   `json:"subject"`
	Kind         string   `json:"kind"`
	Article      string   `json:"article"`
	Fields       []string `json:"fields"`
	Text         string   `json:"text"`
	Status       string   `json:"status"`
	Filed        string   `json:"filed"`
	Due          string   `json:"due"`
	Overdue      bool     `json:"overdue"`
	ExtendBy     string   `json:"extend_by"`
	Extended     string   `json:"extended"`
	ExtendReason string   `json:"extend_reason"`
	Decided      string   `json:"decided"`
	DecidedBy    string   `json:"decided_by"`
	Answer       string   `json:"answer"`
	Lifted       string   `json:"lifted"`
	Erased       bool     `json:"erased"`
	AuditSeq     int64    `json:"audit_seq"`
}

func (e *rightsEnv) file(t *testing.T, kind string, fields []string, text string) requestOut {
	t.Helper()
	r := e.me(t, "POST", "/v1/me/requests", map[string]any{"kind": kind, "fields": fields, "text": text})
	r.want(t, http.StatusCreated, "")
	var out requestOut
	decodeStrict(t, r.Body, &out)
	return out
}

// TestMeWithoutSession: every /v1/me route answers 401 to a request that
// carries no person's session, and 403 to an operator's: a person is
// never named by the request itself.
func TestMeWithoutSession(t *testing.T) {
	e := newRightsEnv(t)
	for _, rt := range []struct{ method, path string }{
		{"GET", "/v1/me/data"}, {"POST", "/v1/me/requests"}, {"GET", "/v1/me/requests"},
		{"POST", "/v1/me/blocks"}, {"GET", "/v1/me/blocks"}, {"DELETE", "/v1/me/blocks/unit:u2"},
	} {
		r := e.call(t, req{Method: rt.method, Path: rt.path, Body: map[string]string{"subject": e.subject}})
		r.want(t, http.StatusUnauthorized, "unauthenticated")
		if !strings.Contains(r.Err.Hint, "POST /v1/me/login") {
			t.Errorf("%s %s: hint %q", rt.method, rt.path, r.Err.Hint)
		}
		e.call(t, req{Method: rt.method, Path: rt.path, Token: e.dpo, Body: map[string]string{"subject": e.subject}}).want(t, http.StatusForbidden, "forbidden")
	}
}

// TestRightsOverHTTP: a person files requests and blocks; the dpo lists,
// opens and decides; a restriction keeps the caseworker out (403
// restricted); every bad input answers the error shape with its code.
func TestRightsOverHTTP(t *testing.T) {
	e := newRightsEnv(t)

	// Bad input from the person.
	for _, tt := range []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"malformed kind", map[string]any{"kind": "deletion"}, 400, "invalid_request"},
		{"unknown JSON field", map[string]any{"kind": "erasure", "subject": "sub_x"}, 400, "invalid_request"},
		{"unknown field", map[string]any{"kind": "rectification", "fields": []string{"shoe_size"}}, 400, "invalid_field"},
		{"text as a number", map[string]any{"kind": "objection", "text": 3}, 400, "invalid_request"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e.me(t, "POST", "/v1/me/requests", tt.body).want(t, tt.status, tt.code)
		})
	}

	rest := e.file(t, rights.Restriction, nil, "Mon adresse est fausse.")
	rect := e.file(t, rights.Rectification, []string{"address"}, "12 rue des Lilas")
	if rest.Status != "pending" || rest.Article != "18" || rest.Subject != "" || rest.ExtendBy == "" {
		t.Errorf("filed %+v", rest)
	}
	e.me(t, "POST", "/v1/me/requests", map[string]any{"kind": "restriction"}).want(t, http.StatusConflict, "too_many")

	// The queue: the dpo sees ids and kinds, nobody's id or words; others
	// may not call it.
	r := e.call(t, req{Method: "GET", Path: "/v1/requests", Token: e.dpo})
	r.want(t, http.StatusOK, "")
	var q struct {
		Requests []requestOut `json:"requests"`
		Next     string       `json:"next"`
	}
	decodeStrict(t, r.Body, &q)
	if len(q.Requests) != 2 || q.Requests[0].ID == q.Requests[1].ID || q.Requests[0].Subject != "" || q.Requests[0].Text != "" || q.Next != "" {
		t.Errorf("queue = %s", r.Body)
	}
	if strings.Contains(string(r.Body), e.subject) || strings.Contains(string(r.Body), "Lilas") {
		t.Errorf("the queue names the person or quotes them: %s", r.Body)
	}
	first := q.Requests[0].ID // the same due time: by id
	r = e.call(t, req{Method: "GET", Path: "/v1/requests?limit=1", Token: e.dpo})
	decodeStrict(t, r.Body, &q)
	if len(q.Requests) != 1 || q.Next != first {
		t.Errorf("first page of one = %s", r.Body)
	}
	e.call(t, req{Method: "GET", Path: "/v1/requests?after=" + q.Next, Token: e.dpo}).want(t, http.StatusOK, "")
	e.call(t, req{Method: "GET", Path: "/v1/requests?limit=0", Token: e.dpo}).want(t, http.StatusBadRequest, "invalid_request")
	e.call(t, req{Method: "GET", Path: "/v1/requests", Token: e.cw}).want(t, http.StatusForbidden, "forbidden")

	r = e.call(t, req{Method: "GET", Path: "/v1/requests/" + rest.ID, Token: e.dpo})
	r.want(t, http.StatusOK, "")
	var opened requestOut
	decodeStrict(t, r.Body, &opened)
	if opened.Subject != e.subject || opened.Text != "Mon adresse est fausse." || opened.AuditSeq == 0 {
		t.Errorf("opened %s", r.Body)
	}

	decide := func(tok, id, decision, reason string) *response {
		return e.call(t, req{Method: "POST", Path: "/v1/requests/" + id, Token: tok, Body: map[string]string{"decision": decision, "reason": reason}})
	}
	for _, tt := range []struct {
		name, tok, id, decision, reason string
		status                          int
		code                            string
	}{
		{"a caseworker decides", e.cw, rest.ID, "accept", "", 403, "forbidden"},
		{"malformed id", e.dpo, "req_1", "accept", "", 400, "invalid_request"},
		{"unknown id", e.dpo, "req_0000000000000000", "accept", "", 404, "not_found"},
		{"malformed decision", e.dpo, rest.ID, "maybe", "", 400, "invalid_request"},
		{"refusal without reason", e.dpo, rect.ID, "refuse", "", 400, "reason_required"},
		{"extension", e.dpo, rect.ID, "extend", "Nous vérifions auprès du service.", 200, ""},
		{"extension twice", e.dpo, rect.ID, "extend", "encore", 409, "already_extended"},
		{"accept the restriction", e.dpo, rest.ID, "accept", "", 200, ""},
		{"accept it twice", e.dpo, rest.ID, "accept", "", 409, "already_decided"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			decide(tt.tok, tt.id, tt.decision, tt.reason).want(t, tt.status, tt.code)
		})
	}
	r = e.call(t, req{Method: "GET", Path: "/v1/subjects/" + e.subject, Token: e.cw, Purpose: "case-handling"})
	r.want(t, http.StatusForbidden, "restricted")
	if !strings.Contains(r.Err.Message, "dpo") {
		t.Errorf("restricted message %q: want it to name who reaches the record", r.Err.Message)
	}
	e.call(t, req{Method: "GET", Path: "/v1/subjects/" + e.subject, Token: e.dpo, Purpose: "rights-review", Reason: rest.ID}).want(t, http.StatusOK, "")

	// The person follows both, with the handler's reason.
	r = e.me(t, "GET", "/v1/me/requests", nil)
	r.want(t, http.StatusOK, "")
	var mine struct {
		Requests []requestOut `json:"requests"`
	}
	decodeStrict(t, r.Body, &mine)
	byID := map[string]requestOut{}
	for _, m := range mine.Requests {
		byID[m.ID] = m
	}
	if len(byID) != 2 || byID[rect.ID].ExtendReason != "Nous vérifions auprès du service." || byID[rest.ID].Status != "accepted" ||
		strings.Contains(string(r.Body), e.dpoID) {
		t.Errorf("the person's requests = %s", r.Body)
	}
	decide(e.dpo, rest.ID, "lift", "").want(t, http.StatusOK, "")
	e.call(t, req{Method: "GET", Path: "/v1/subjects/" + e.subject, Token: e.cw, Purpose: "case-handling"}).want(t, http.StatusOK, "")
}

// TestBlocksOverHTTP: a person blocks another unit, which then gets 403
// blocked_by_person; blocks of their own unit, of nothing, or of both a
// partner and a unit are refused with their code.
func TestBlocksOverHTTP(t *testing.T) {
	e := newRightsEnv(t)
	for _, tt := range []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"nothing named", map[string]string{}, 400, "invalid_request"},
		{"both named", map[string]string{"partner": "op_x", "unit": "u2"}, 400, "invalid_request"},
		{"unknown partner", map[string]string{"partner": "op_nobody"}, 404, "unknown_target"},
		{"unknown unit", map[string]string{"unit": "u9"}, 404, "unknown_target"},
		{"own unit", map[string]string{"unit": "u1"}, 409, "own_unit"},
		{"another unit", map[string]string{"unit": "u2"}, 201, ""},
		{"the same twice", map[string]string{"unit": "u2"}, 409, "conflict"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e.me(t, "POST", "/v1/me/blocks", tt.body).want(t, tt.status, tt.code)
		})
	}
	r := e.me(t, "GET", "/v1/me/blocks", nil)
	r.want(t, http.StatusOK, "")
	if !strings.Contains(string(r.Body), `"id":"unit:u2"`) {
		t.Errorf("blocks = %s", r.Body)
	}
	other := e.login(t, e.addOperator(t, "op-u2", "caseworker", "u2"))
	e.call(t, req{Method: "GET", Path: "/v1/subjects/" + e.subject, Token: other, Purpose: "case-handling", Reason: "ticket 9"}).want(t, http.StatusForbidden, "blocked_by_person")
	e.call(t, req{Method: "GET", Path: "/v1/subjects/" + e.subject, Token: e.cw, Purpose: "case-handling"}).want(t, http.StatusOK, "")
	e.me(t, "DELETE", "/v1/me/blocks/unit:u2", nil).want(t, http.StatusNoContent, "")
	e.me(t, "DELETE", "/v1/me/blocks/unit:u2", nil).want(t, http.StatusNotFound, "not_found")
	e.me(t, "DELETE", "/v1/me/blocks/restricted:x", nil).want(t, http.StatusBadRequest, "invalid_request")
	e.call(t, req{Method: "GET", Path: "/v1/subjects/" + e.subject, Token: other, Purpose: "case-handling", Reason: "ticket 9"}).want(t, http.StatusOK, "")
}

// TestMyDataOverHTTP: the art. 15 package over HTTP: every field in
// clear, the processing, whom to turn to; the history waits for a
// checkpoint (this server has none).
func TestMyDataOverHTTP(t *testing.T) {
	e := newRightsEnv(t)
	r := e.me(t, "GET", "/v1/me/data", nil)
	r.want(t, http.StatusOK, "")
	var out struct {
		Subject    string            `json:"subject"`
		Unit       string            `json:"unit"`
		Created    string            `json:"created"`
		Updated    string            `json:"updated"`
		Fields     map[string]string `json:"fields"`
		Restricted bool              `json:"restricted"`
		Requests   []requestOut      `json:"requests"`
		Blocks     []map[string]any  `json:"blocks"`
		Holds      []map[string]any  `json:"holds"`
		Processing struct {
			Controller         string              `json:"controller"`
			DPO                string              `json:"dpo"`
			Authority          string              `json:"authority"`
			Purposes           []map[string]any    `json:"purposes"`
			Categories         map[string][]string `json:"categories"`
			Retention          map[string]string   `json:"retention"`
			Handler            string              `json:"handler"`
			RestrictedReaders  []string            `json:"restricted_readers"`
			Rights             []map[string]string `json:"rights"`
			AutomatedDecisions string              `json:"automated_decisions"`
		} `json:"processing"`
		AuditSeq    int64  `json:"audit_seq"`
		History     any    `json:"history"`
		HistoryNote string `json:"history_note"`
	}
	decodeStrict(t, r.Body, &out)
	if out.Holds == nil || len(out.Holds) != 0 {
		t.Errorf("holds %v, want an empty list", out.Holds)
	}
	if out.Subject != e.subject || out.Fields["email_pro"] != e.email || out.AuditSeq == 0 || out.History != nil || out.HistoryNote == "" {
		t.Errorf("package = %s", r.Body)
	}
	pr := out.Processing
	if !strings.Contains(pr.Authority, "CNIL") || pr.DPO == "" || pr.Controller == "" || len(pr.Purposes) != 11 || pr.Retention["health_note"] == "" ||
		len(pr.Categories["special"]) != 1 || pr.Handler != "dpo" {
		t.Errorf("processing = %+v", pr)
	}
}
