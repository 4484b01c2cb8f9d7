package httpapi_test

// End-to-end tests of the HTTP API with real parts: a SQLite store in a
// temporary directory, a keyring with a random root seed, the demo policy,
// the vault, and an auth service whose clock the test drives. Operators log
// in over HTTP (password, then a TOTP code computed from the test clock).
//
// Every response with an error status is checked by [env.call] for the
// error shape of DESIGN §4, so each test checks it for every error it
// provokes.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/subjectid"

	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/envelope"
	"github.com/coffre/coffre/internal/httpapi"
	"github.com/coffre/coffre/internal/httpapi/apitest"
	"github.com/coffre/coffre/internal/mask"
	"github.com/coffre/coffre/internal/me"
	"github.com/coffre/coffre/internal/partner"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/seal"
	"github.com/coffre/coffre/internal/store/health"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/unseal"
	"github.com/coffre/coffre/internal/value"
	"github.com/coffre/coffre/internal/vault"
	"github.com/pquerna/otp/totp"
)

// Settings of the test server.
const (
	idle        = 15 * time.Minute
	absolute    = time.Hour
	loginTTL    = 2 * time.Minute
	maxAttempts = 3
	maxBody     = 8 << 10
	reasonMax   = 200
	seed        = 1 // synth population
)

// clock is the controllable time of the vault and the auth service, safe
// for the server's goroutines.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is one server with its own store.
type env struct {
	srv    *httptest.Server
	store  *sqlite.Store
	vault  *vault.Vault
	auth   *auth.Service
	policy *policy.Policy
	clock  *clock
	// keys is the keyring; me the persons' sign-in the API serves.
	keys *envelope.Keyring
	me   *me.Service
	// seal and shares are the seal state and the shares of its unseal
	// key (3 of 5) when the server starts sealed (envOptions.sealed).
	seal   *seal.State
	shares []unseal.Share
	// coolingOff is the vault's wait for a contact change (zero: its
	// default).
	coolingOff time.Duration
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, nil, nil)
}

// newEnvWith is newEnv with a guard and trusted proxies.
func newEnvWith(t *testing.T, g *vault.Guard, proxies []netip.Prefix) *env {
	t.Helper()
	return newEnvOpts(t, envOptions{guard: g, proxies: proxies})
}

// envOptions vary the test server: the zero value is newEnv's.
type envOptions struct {
	guard   *vault.Guard
	proxies []netip.Prefix
	// store is the store (nil: SQLite in a temporary directory); the
	// test closes it.
	store store.Store
	// wrap, when set, wraps the store the server uses (a fault injector).
	wrap func(store.Store) store.Store
	// readiness serves /readyz from the store, through store/health.
	readiness bool
	// logger receives the server's log (nil: discarded).
	logger *slog.Logger
	// start is the clock's start (zero: a fixed day in March 2026);
	// readiness wants the present, for the audit integrator's lag.
	start time.Time
	// ca lets the API issue partner credentials (nil: it does not).
	ca *partner.CA
	// sealed starts the server sealed, behind a Gate, with a sealed
	// keyring of 3 of 5 shares; the unsealed service is the API below.
	sealed bool
	// coolingOff is how long a contact change waits (zero: the
	// vault's default, 72 hours).
	coolingOff time.Duration
	// person is the server's Server.Subject (nil: no person signs in).
	person func(*http.Request) (string, error)
	// requests, when set, counts and times the requests; decisions the
	// guard's decisions.
	requests  httpapi.RequestObserver
	decisions vault.DecisionObserver
}

func newEnvOpts(t *testing.T, o envOptions) *env {
	t.Helper()
	// 5 s into a TOTP step, so that the clock sits well inside each step.
	clk := &clock{t: time.Date(2026, 3, 2, 9, 0, 5, 0, time.UTC)}
	if !o.start.IsZero() {
		clk.t = o.start.Truncate(30 * time.Second).Add(5 * time.Second)
	}
	var hs *health.Store
	s := apitest.New(t, apitest.Config{Store: o.store, Now: clk.Now, Logger: o.logger,
		Wrap: func(st store.Store) store.Store {
			if o.wrap != nil {
				st = o.wrap(st)
			}
			if o.readiness {
				hs = health.New(st, nil)
				st = hs
			}
			return st
		},
		Vault: vault.Config{ReasonMaxLen: reasonMax, Guard: o.guard, ContactCoolingOff: o.coolingOff, Decisions: o.decisions}})
	as := s.Auth
	as.Idle, as.Max, as.LoginTTL, as.MaxAttempts = idle, absolute, loginTTL, maxAttempts
	api := s.API
	api.MaxBodyBytes, api.ReasonMaxLen, api.TrustedProxies, api.CA, api.Requests = maxBody, reasonMax, o.proxies, o.ca, o.requests
	// The vault-side person routes are tested as o.person's, or the
	// Test-Subject header's, person (never on an operator's request);
	// the sign-in itself in me_test.go.
	httpapi.SetTestPerson(api, func(r *http.Request) (string, bool) {
		if o.person != nil {
			id, err := o.person(r)
			return id, err == nil && id != ""
		}
		id := r.Header.Get("Test-Subject")
		return id, id != ""
	})
	if hs != nil {
		api.Checkpoints, api.Health = hs, hs
	}
	var h http.Handler
	var state *seal.State
	var shares []unseal.Share
	if o.sealed {
		state, shares = sealedState(t, api)
		api.Seal = func(context.Context) error { return state.Seal() }
		h = (&httpapi.Gate{State: state, Logger: api.Logger, TrustedProxies: o.proxies, Now: clk.Now, PerOrigin: 100}).Handler()
	} else {
		h = api.Handler()
	}
	s.Serve(checkOpenAPI(t, h))
	return &env{srv: s.HTTP, store: s.SQLite, vault: s.Vault, auth: as, policy: s.Policy, clock: clk, keys: s.Keys, me: s.Me, seal: state, shares: shares, coolingOff: o.coolingOff}
}

// applyContacts moves the clock past the cooling-off of the contact
// changes pending now and runs the pass, which must apply want of them.
func (e *env) applyContacts(t *testing.T, want int) {
	t.Helper()
	d := e.coolingOff
	if d == 0 {
		d = vault.DefaultContactCoolingOff
	}
	e.clock.Advance(d)
	if n, err := e.vault.ApplyContactChanges(context.Background(), 100); err != nil || n != want {
		t.Fatalf("ApplyContactChanges = %d, %v; want %d", n, err, want)
	}
}

func (e *env) addOperator(t *testing.T, username, role, unit string) *auth.NewOperator {
	t.Helper()
	op, err := e.auth.AddReadyOperator(context.Background(), username, "", role, unit)
	if err != nil {
		t.Fatalf("AddReadyOperator(%s): %v", username, err)
	}
	return op
}

// response is an HTTP answer, read whole.
type response struct {
	Status int
	Header http.Header
	Body   []byte
	Err    apiError // when Status ≥ 400
}

type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Hint    string `json:"hint"`
}

// req describes a request: Body is sent as is when it is a string or
// []byte, as JSON otherwise; nil sends no body.
type req struct {
	Method, Path, Token string
	Purpose, Reason     string
	Header              map[string]string
	Body                any
}

var opID = regexp.MustCompile(`^op_[a-z2-7]{16}$`)

var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// call sends r and, for an error status, checks the error shape.
func (e *env) call(t *testing.T, r req) *response {
	t.Helper()
	out, err := e.send(r)
	if err != nil {
		t.Fatalf("%s %s: %v", r.Method, r.Path, err)
	}
	if out.Status >= 400 && r.Method != "HEAD" { // HEAD answers have no body
		out.Err = checkError(t, r.Method+" "+r.Path, out)
	}
	return out
}

// send sends r and reads the answer; it is safe to call from any goroutine.
func (e *env) send(r req) (*response, error) {
	var body io.Reader
	switch b := r.Body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("marshal request body: %w", err)
		}
		body = bytes.NewReader(j)
	}
	hr, err := http.NewRequest(r.Method, e.srv.URL+r.Path, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if r.Token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.Token)
	}
	if r.Purpose != "" {
		hr.Header.Set("Coffre-Purpose", r.Purpose)
	}
	if r.Reason != "" {
		hr.Header.Set("Coffre-Reason", r.Reason)
	}
	for k, v := range r.Header {
		hr.Header.Set(k, v)
	}
	res, err := e.srv.Client().Do(hr)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	out := &response{Status: res.StatusCode, Header: res.Header}
	if out.Body, err = io.ReadAll(res.Body); err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	return out, nil
}

// sendAll sends the requests at once, each from its own goroutine, and
// returns the answers in order, each checked by call's rules.
func (e *env) sendAll(t *testing.T, rs []req) []*response {
	t.Helper()
	out := make([]*response, len(rs))
	errs := make([]error, len(rs))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, r := range rs {
		wg.Go(func() {
			<-start
			out[i], errs[i] = e.send(r)
		})
	}
	close(start)
	wg.Wait()
	for i, r := range rs {
		if errs[i] != nil {
			t.Fatalf("%s %s: %v", r.Method, r.Path, errs[i])
		}
		if out[i].Status >= 400 {
			out[i].Err = checkError(t, r.Method+" "+r.Path, out[i])
		}
	}
	return out
}

// checkError checks the error shape of DESIGN §4: a JSON body holding
// exactly {"error":{"code","message","hint"}}, all three non-empty, the
// code in snake_case.
func checkError(t *testing.T, what string, r *response) apiError {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: status %d with Content-Type %q, want application/json; body %s", what, r.Status, ct, r.Body)
	}
	var shape struct {
		Error *apiError `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&shape); err != nil {
		t.Errorf("%s: status %d: error body %s does not decode strictly: %v", what, r.Status, r.Body, err)
		return apiError{}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		t.Errorf("%s: error body %s has data after the object", what, r.Body)
	}
	// The keys, exactly (a strict decode does not see absent ones).
	var keys map[string]map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &keys); err != nil || len(keys) != 1 {
		t.Errorf("%s: error body %s: want one key \"error\"", what, r.Body)
	} else if got := slices.Sorted(maps.Keys(keys["error"])); !slices.Equal(got, []string{"code", "hint", "message"}) {
		t.Errorf("%s: error keys %v, want code, hint, message", what, got)
	}
	if shape.Error == nil {
		t.Errorf("%s: error body %s has no error object", what, r.Body)
		return apiError{}
	}
	e := *shape.Error
	if !snakeCase.MatchString(e.Code) || e.Message == "" || e.Hint == "" {
		t.Errorf("%s: error %+v: want a snake_case code, a message and a hint", what, e)
	}
	return e
}

// want fails unless r has the status and, for errors, the code.
func (r *response) want(t *testing.T, status int, code string) {
	t.Helper()
	if r.Status != status || r.Status >= 400 && code != "" && r.Err.Code != code {
		t.Fatalf("got %d %s, want %d %s; body %s", r.Status, r.Err.Code, status, code, r.Body)
	}
}

// decodeStrict decodes a success body into v, rejecting unknown fields.
func decodeStrict(t *testing.T, body []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
}

// code returns the TOTP code of op at the test clock moved by d.
func (e *env) code(t *testing.T, op *auth.NewOperator, d time.Duration) string {
	t.Helper()
	c, err := totp.GenerateCode(op.TOTPSecret, e.clock.Now().Add(d))
	if err != nil {
		t.Fatalf("GenerateCode: %v", err)
	}
	return c
}

// wrongCode returns a 6-digit code that is neither the current nor the
// previous step's code of op.
func (e *env) wrongCode(t *testing.T, op *auth.NewOperator) string {
	t.Helper()
	good := []string{e.code(t, op, 0), e.code(t, op, -30*time.Second)}
	for i := 0; ; i++ {
		c := fmt.Sprintf("%06d", (123456+i*7919)%1000000)
		if !slices.Contains(good, c) {
			return c
		}
	}
}

// password does the first step of a login and returns the login token.
func (e *env) password(t *testing.T, username, password string) string {
	t.Helper()
	r := e.call(t, req{Method: "POST", Path: "/v1/auth/login", Body: map[string]string{"username": username, "password": password}})
	r.want(t, http.StatusOK, "")
	var out struct {
		MFA        []string `json:"mfa"`
		LoginToken string   `json:"login_token"`
	}
	decodeStrict(t, r.Body, &out)
	if !slices.Contains(out.MFA, "totp") || !strings.HasPrefix(out.LoginToken, "cfl_") {
		t.Fatalf("login answer %s: want mfa with totp and a cfl_ login token", r.Body)
	}
	return out.LoginToken
}

func (e *env) totp(t *testing.T, loginToken, code string) *response {
	t.Helper()
	return e.call(t, req{Method: "POST", Path: "/v1/auth/totp", Body: map[string]string{"login_token": loginToken, "code": code}})
}

// login logs op in over HTTP and returns the session token. It first moves
// the clock to the next TOTP step: a code is accepted once per operator.
func (e *env) login(t *testing.T, op *auth.NewOperator) string {
	t.Helper()
	e.clock.Advance(30 * time.Second)
	lt := e.password(t, op.Operator.Username, op.Password)
	r := e.totp(t, lt, e.code(t, op, 0))
	r.want(t, http.StatusOK, "")
	var out struct {
		Token     string `json:"token"`
		ExpiresAt string `json:"expires_at"`
	}
	decodeStrict(t, r.Body, &out)
	if !strings.HasPrefix(out.Token, "cfs_") {
		t.Fatalf("session token %q: want a cfs_ token", out.Token)
	}
	if want := e.clock.Now().Add(absolute).Format(time.RFC3339); out.ExpiresAt != want {
		t.Errorf("expires_at = %s, want %s", out.ExpiresAt, want)
	}
	return out.Token
}

// stepUp proves a fresh TOTP code in op's session tok for purpose (a
// purpose with step_up needs one), first moving the clock to the next TOTP
// step: a code is accepted once.
func (e *env) stepUp(t *testing.T, op *auth.NewOperator, tok, purpose string) {
	t.Helper()
	e.clock.Advance(30 * time.Second)
	e.call(t, req{Method: "POST", Path: "/v1/auth/stepup/totp", Token: tok, Body: map[string]string{"code": e.code(t, op, 0), "purpose": purpose}}).want(t, http.StatusNoContent, "")
}

// person returns the first person of the synth population at or after
// index from whose phone is a French mobile in national form (06 …) and who
// has, or has not, a health note.
func person(t *testing.T, from int, health bool) (synth.Person, int) {
	t.Helper()
	for i := from; i < from+10000; i++ {
		p := synth.Make(seed, i)
		_, h := p.Fields[synth.HealthNote]
		if h == health && strings.HasPrefix(p.Fields[synth.Phone], "06 ") {
			return p, i
		}
	}
	t.Fatalf("no synth person from %d with a 06 phone and health=%v", from, health)
	return synth.Person{}, 0
}

func (e *env) create(t *testing.T, token string, p synth.Person) string {
	t.Helper()
	r := e.call(t, req{Method: "POST", Path: "/v1/subjects", Token: token, Body: map[string]any{"unit": p.Unit, "fields": p.Fields}})
	r.want(t, http.StatusCreated, "")
	var out struct {
		ID string `json:"id"`
	}
	decodeStrict(t, r.Body, &out)
	if !subjectid.Valid(out.ID) {
		t.Fatalf("created id %q is not a subject id", out.ID)
	}
	return out.ID
}

// view is the read answer.
type view struct {
	ID       string            `json:"id"`
	Unit     string            `json:"unit"`
	Purpose  string            `json:"purpose"`
	Fields   map[string]string `json:"fields"`
	Masked   []string          `json:"masked"`
	AuditSeq int64             `json:"audit_seq"`
}

func (e *env) read(t *testing.T, token, id, purpose, reason string) *response {
	t.Helper()
	return e.call(t, req{Method: "GET", Path: "/v1/subjects/" + id, Token: token, Purpose: purpose, Reason: reason})
}

// readView reads and decodes a view that must be allowed.
func (e *env) readView(t *testing.T, token, id, purpose, reason string) view {
	t.Helper()
	r := e.read(t, token, id, purpose, reason)
	r.want(t, http.StatusOK, "")
	if ct, cc := r.Header.Get("Content-Type"), r.Header.Get("Cache-Control"); ct != "application/json" || cc != "no-store" {
		t.Errorf("read: Content-Type %q, Cache-Control %q; want application/json and no-store", ct, cc)
	}
	var v view
	decodeStrict(t, r.Body, &v)
	return v
}

func (e *env) lookup(t *testing.T, token, purpose, field, val string) *response {
	t.Helper()
	return e.call(t, req{Method: "POST", Path: "/v1/subjects/lookup", Token: token, Purpose: purpose, Body: map[string]string{"field": field, "value": val}})
}

// lookupID looks up a value that must be found and returns the id.
func (e *env) lookupID(t *testing.T, token, purpose, field, val string) string {
	t.Helper()
	r := e.lookup(t, token, purpose, field, val)
	r.want(t, http.StatusOK, "")
	var out struct {
		ID string `json:"id"`
	}
	decodeStrict(t, r.Body, &out)
	return out.ID
}

// expectedView computes what purpose shows of p from the policy: clear
// values, mask.Apply of the masked ones, nothing of the denied ones.
func (e *env) expectedView(t *testing.T, purpose string, fields map[string]string) (map[string]string, []string) {
	t.Helper()
	pu := e.policy.Purposes[purpose]
	if pu == nil {
		t.Fatalf("no purpose %q in the demo policy", purpose)
	}
	out := map[string]string{}
	var masked []string
	for name, val := range fields {
		f, ok := e.policy.Field(name)
		if !ok {
			t.Fatalf("no field %q in the demo schema", name)
		}
		switch tr := pu.Fields[name]; tr.Action {
		case policy.Clear:
			out[name] = value.Canonical(f.Type, val)
		case policy.Masked:
			out[name] = mask.Apply(tr.Mask, f.Type, value.Canonical(f.Type, val))
			masked = append(masked, name)
		}
	}
	slices.Sort(masked)
	return out, masked
}

func (e *env) auditEntries(t *testing.T) []audit.Entry {
	t.Helper()
	var es []audit.Entry
	err := e.store.View(context.Background(), func(ctx context.Context, tx store.Tx) error {
		var err error
		if es, err = tx.AuditEntries(ctx, 1, 1<<62, 100000); err != nil {
			return err
		}
		// The reasons sealed under their persons' keys, opened as the
		// log's views open them (an erased person's stay unreadable).
		return audit.OpenReasons(es, func(id string) (*envelope.DataKey, error) {
			row, err := tx.GetSubject(ctx, id)
			if errors.Is(err, store.ErrNotFound) || err == nil && (row.Erased || row.DEK == nil) {
				return nil, nil
			}
			if err != nil {
				return nil, err
			}
			return e.keys.OpenDEK(row.ID, row.DEKVersion, row.DEK)
		})
	})
	if err != nil {
		t.Fatalf("AuditEntries: %v", err)
	}
	return es
}

// intlPhone writes a French national number "06 12 34 56 78" in
// international form "+33 6 12 34 56 78".
func intlPhone(national string) string { return "+33 " + strings.TrimPrefix(national, "0") }

// unknownID is well formed and belongs to no subject.
const unknownID = "sub_0000000000000000000000000z"

// TestTour follows a subject from creation to reads under two purposes.
func TestTour(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	hr := e.login(t, e.addOperator(t, "helene", "hr-officer", "ac-normandie"))
	cw := e.login(t, e.addOperator(t, "camille", "caseworker", "ac-normandie"))

	p, _ := person(t, 0, true)
	id := e.create(t, hr, p)
	email := p.Fields[synth.EmailPro]

	t.Run("lookup normalisation", func(t *testing.T) {
		for _, tc := range []struct{ name, purpose, field, val string }{
			{"email as stored", "directory", synth.EmailPro, email},
			{"email upper case", "directory", synth.EmailPro, strings.ToUpper(email)},
			{"email with spaces", "directory", synth.EmailPro, "  " + email + "  "},
			{"email mixed case and spaces", "case-handling", synth.EmailPro, " " + strings.ToUpper(email[:1]) + email[1:] + " "},
			{"phone as stored", "case-handling", synth.Phone, p.Fields[synth.Phone]},
			{"phone international", "case-handling", synth.Phone, intlPhone(p.Fields[synth.Phone])},
			{"phone digits only", "case-handling", synth.Phone, strings.ReplaceAll(p.Fields[synth.Phone], " ", "")},
			{"phone 0033", "case-handling", synth.Phone, "0033" + strings.ReplaceAll(strings.TrimPrefix(p.Fields[synth.Phone], "0"), " ", "")},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if got := e.lookupID(t, cw, tc.purpose, tc.field, tc.val); got != id {
					t.Errorf("lookup %s %q under %s = %s, want %s", tc.field, tc.val, tc.purpose, got, id)
				}
			})
		}
	})

	t.Run("views differ by purpose", func(t *testing.T) {
		for _, tc := range []struct {
			purpose    string
			present    []string // shown, clear or masked
			absent     []string
			wantMasked []string
			check      func(t *testing.T, v view)
		}{
			{
				purpose:    "directory",
				present:    []string{"given_name", "family_name", "email_pro", "employer", "job_title"},
				absent:     []string{"email_personal", "phone", "birth_date", "national_id", "address", "health_note"},
				wantMasked: []string{},
			},
			{
				purpose:    "case-handling",
				present:    []string{"given_name", "family_name", "email_pro", "email_personal", "phone", "birth_date", "national_id", "address", "employer", "job_title"},
				absent:     []string{"health_note"},
				wantMasked: []string{"birth_date", "email_personal", "national_id"},
				check: func(t *testing.T, v view) {
					if got, want := v.Fields["birth_date"], p.Fields[synth.BirthDate][:4]; got != want {
						t.Errorf("birth_date = %q, want the year %q", got, want)
					}
					nir := p.Fields[synth.NationalID]
					if got, want := v.Fields["national_id"], strings.Repeat("*", len(nir)-4)+nir[len(nir)-4:]; got != want {
						t.Errorf("national_id = %q, want %q (last4)", got, want)
					}
					if got := v.Fields["email_personal"]; !strings.Contains(got, "***@") || got == p.Fields[synth.EmailPersonal] {
						t.Errorf("email_personal = %q, want it masked", got)
					}
					if got := v.Fields["phone"]; got != p.Fields[synth.Phone] {
						t.Errorf("phone = %q, want %q in clear", got, p.Fields[synth.Phone])
					}
				},
			},
		} {
			t.Run(tc.purpose, func(t *testing.T) {
				v := e.readView(t, cw, id, tc.purpose, "")
				if v.ID != id || v.Unit != p.Unit || v.Purpose != tc.purpose || v.AuditSeq <= 0 {
					t.Errorf("view header = %s %s %s seq %d, want %s %s %s and a positive seq", v.ID, v.Unit, v.Purpose, v.AuditSeq, id, p.Unit, tc.purpose)
				}
				if got := slices.Sorted(maps.Keys(v.Fields)); !slices.Equal(got, slices.Sorted(slices.Values(tc.present))) {
					t.Errorf("fields shown = %v, want %v", got, slices.Sorted(slices.Values(tc.present)))
				}
				for _, f := range tc.absent {
					if _, ok := v.Fields[f]; ok {
						t.Errorf("field %s shown under %s, want absent", f, tc.purpose)
					}
				}
				if got := slices.Sorted(slices.Values(v.Masked)); !slices.Equal(got, tc.wantMasked) {
					t.Errorf("masked = %v, want %v", got, tc.wantMasked)
				}
				wantFields, wantMasked := e.expectedView(t, tc.purpose, p.Fields)
				for name, want := range wantFields {
					if got := v.Fields[name]; got != want {
						t.Errorf("%s = %q, want %q", name, got, want)
					}
				}
				if got := slices.Sorted(slices.Values(v.Masked)); !slices.Equal(got, wantMasked) {
					t.Errorf("masked = %v, policy and mask.Apply say %v", got, wantMasked)
				}
				if tc.check != nil {
					tc.check(t, v)
				}
				// The special-category note never leaks under these purposes.
				if note := p.Fields[synth.HealthNote]; bytes.Contains(e.read(t, cw, id, tc.purpose, "").Body, []byte(note)) {
					t.Errorf("health note found in the %s view", tc.purpose)
				}
			})
		}
	})
}

// TestRefusals covers policy denials and malformed read headers.
func TestRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	hrOp := e.addOperator(t, "helene", "hr-officer", "ac-normandie")
	hr := e.login(t, hrOp)
	cw := e.login(t, e.addOperator(t, "camille", "caseworker", "ac-normandie"))
	sup := e.login(t, e.addOperator(t, "sacha", "support", "ac-normandie"))
	p, _ := person(t, 0, true)
	id := e.create(t, hr, p)
	email := p.Fields[synth.EmailPro]

	for _, tc := range []struct {
		name   string
		r      req
		status int
		code   string
	}{
		{"support reads payroll", req{Method: "GET", Path: "/v1/subjects/" + id, Token: sup, Purpose: "payroll"}, 403, "forbidden"},
		{"caseworker reads workplace-adjustment", req{Method: "GET", Path: "/v1/subjects/" + id, Token: cw, Purpose: "workplace-adjustment", Reason: "T-1"}, 403, "forbidden"},
		{"support looks up under payroll", req{Method: "POST", Path: "/v1/subjects/lookup", Token: sup, Purpose: "payroll", Body: map[string]string{"field": "email_pro", "value": email}}, 403, "forbidden"},
		{"directory does not show phone", req{Method: "POST", Path: "/v1/subjects/lookup", Token: cw, Purpose: "directory", Body: map[string]string{"field": "phone", "value": p.Fields[synth.Phone]}}, 403, "forbidden"},
		{"lookup on a field without index", req{Method: "POST", Path: "/v1/subjects/lookup", Token: cw, Purpose: "directory", Body: map[string]string{"field": "family_name", "value": p.Fields[synth.FamilyName]}}, 400, "invalid_request"},
		{"unknown purpose", req{Method: "GET", Path: "/v1/subjects/" + id, Token: cw, Purpose: "marketing"}, 400, "invalid_request"},
		{"malformed purpose", req{Method: "GET", Path: "/v1/subjects/" + id, Token: cw, Purpose: "Case-Handling"}, 400, "invalid_request"},
		{"missing purpose", req{Method: "GET", Path: "/v1/subjects/" + id, Token: cw}, 400, "invalid_request"},
		{"lookup without purpose", req{Method: "POST", Path: "/v1/subjects/lookup", Token: cw, Body: map[string]string{"field": "email_pro", "value": email}}, 400, "invalid_request"},
		{"malformed id", req{Method: "GET", Path: "/v1/subjects/sub_123", Token: cw, Purpose: "directory"}, 400, "invalid_request"},
		{"id with forbidden letters", req{Method: "GET", Path: "/v1/subjects/sub_iiiiiiiiiiiiiiiiiiiiiiiiii", Token: cw, Purpose: "directory"}, 400, "invalid_request"},
		{"id upper case", req{Method: "GET", Path: "/v1/subjects/" + strings.ToUpper(id), Token: cw, Purpose: "directory"}, 400, "invalid_request"},
		{"unknown id", req{Method: "GET", Path: "/v1/subjects/" + unknownID, Token: cw, Purpose: "directory"}, 404, "not_found"},
		{"reason required", req{Method: "GET", Path: "/v1/subjects/" + id, Token: hr, Purpose: "workplace-adjustment"}, 400, "reason_required"},
		{"reason only spaces", req{Method: "GET", Path: "/v1/subjects/" + id, Token: hr, Purpose: "workplace-adjustment", Header: map[string]string{"Coffre-Reason": " \t "}}, 400, "reason_required"},
		{"reason too long", req{Method: "GET", Path: "/v1/subjects/" + id, Token: hr, Purpose: "workplace-adjustment", Reason: strings.Repeat("r", reasonMax+1)}, 400, "invalid_request"},
		{"reason with a tab", req{Method: "GET", Path: "/v1/subjects/" + id, Token: hr, Purpose: "workplace-adjustment", Reason: "ticket\t42"}, 400, "invalid_request"},
		{"reason invalid UTF-8", req{Method: "GET", Path: "/v1/subjects/" + id, Token: hr, Purpose: "workplace-adjustment", Reason: "ticket \xff42"}, 400, "invalid_request"},
		{"reason with C1 control", req{Method: "GET", Path: "/v1/subjects/" + id, Token: hr, Purpose: "workplace-adjustment", Reason: "ticket \u008542"}, 400, "invalid_request"},
		{"reason with bidi override", req{Method: "GET", Path: "/v1/subjects/" + id, Token: hr, Purpose: "workplace-adjustment", Reason: "ticket \u202e42"}, 400, "invalid_request"},
		{"support cannot create", req{Method: "POST", Path: "/v1/subjects", Token: sup, Body: map[string]any{"unit": p.Unit, "fields": synth.Make(seed, 9000).Fields}}, 403, "forbidden"},
		{"support cannot update", req{Method: "PATCH", Path: "/v1/subjects/" + id, Token: sup, Body: map[string]any{"fields": map[string]string{"job_title": "x"}}}, 403, "forbidden"},
		{"create conflict on a lookup value", req{Method: "POST", Path: "/v1/subjects", Token: hr, Body: map[string]any{"unit": p.Unit, "fields": p.Fields}}, 409, "conflict"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.call(t, tc.r)
			r.want(t, tc.status, tc.code)
			for name, val := range p.Fields { // refusals hold no personal value
				if bytes.Contains(r.Body, []byte(val)) {
					t.Errorf("error body %s holds the value of %s", r.Body, name)
				}
			}
		})
	}

	e.stepUp(t, hrOp, hr, "workplace-adjustment")
	t.Run("reason given", func(t *testing.T) {
		v := e.readView(t, hr, id, "workplace-adjustment", "ticket RH-2026-042 (poste adapté)")
		if got := v.Fields["health_note"]; got != p.Fields[synth.HealthNote] {
			t.Errorf("health_note under workplace-adjustment = %q, want it in clear", got)
		}
		if got := slices.Sorted(maps.Keys(v.Fields)); !slices.Equal(got, []string{"employer", "family_name", "given_name", "health_note", "job_title"}) {
			t.Errorf("fields under workplace-adjustment = %v", got)
		}
	})
	t.Run("reason at the limit", func(t *testing.T) {
		e.readView(t, hr, id, "workplace-adjustment", strings.Repeat("r", reasonMax))
	})
}

// TestNoListing: no route answers with more than one subject.
func TestNoListing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	hr := e.login(t, e.addOperator(t, "helene", "hr-officer", "ac-normandie"))
	var ids []string
	var people []synth.Person
	for i := range 3 {
		p := synth.Make(seed, 100+i)
		ids, people = append(ids, e.create(t, hr, p)), append(people, p)
	}
	unit := people[0].Unit

	t.Run("GET /v1/subjects", func(t *testing.T) {
		for _, method := range []string{"GET", "HEAD", "PUT", "DELETE", "PATCH"} {
			r := e.call(t, req{Method: method, Path: "/v1/subjects", Token: hr, Purpose: "directory"})
			if method == "HEAD" { // no body to check
				if r.Status != http.StatusMethodNotAllowed {
					t.Errorf("HEAD /v1/subjects = %d, want 405", r.Status)
				}
				continue
			}
			r.want(t, http.StatusMethodNotAllowed, "no_listing")
			if allow := r.Header.Get("Allow"); allow != "POST" {
				t.Errorf("%s /v1/subjects: Allow %q, want POST", method, allow)
			}
		}
	})

	domain := strings.SplitN(people[0].Fields[synth.EmailPro], "@", 2)[1]
	for _, tc := range []struct {
		name         string
		method, path string
		body         any
		status       int
		code         string
	}{
		{"filter by unit", "GET", "/v1/subjects?unit=" + unit, nil, 405, "no_listing"},
		{"page", "GET", "/v1/subjects?limit=1000", nil, 405, "no_listing"},
		{"trailing slash", "GET", "/v1/subjects/", nil, 404, "no_such_route"},
		{"export", "GET", "/v1/export", nil, 404, "no_such_route"},
		{"post export", "POST", "/v1/export", map[string]string{"unit": unit}, 404, "no_such_route"},
		{"subjects export", "GET", "/v1/subjects/export", nil, 400, "invalid_request"}, // read with a malformed id
		{"search", "GET", "/v1/subjects/search?q=a", nil, 400, "invalid_request"},
		{"post search", "POST", "/v1/subjects/search", map[string]string{"q": "a"}, 405, "method_not_allowed"},
		{"global search", "GET", "/v1/search?q=%25", nil, 404, "no_such_route"},
		{"unit's subjects", "GET", "/v1/units/" + unit + "/subjects", nil, 404, "no_such_route"},
		{"sub-resource", "GET", "/v1/subjects/" + ids[0] + "/all", nil, 404, "no_such_route"},
		{"two ids", "GET", "/v1/subjects/" + ids[0] + "," + ids[1], nil, 400, "invalid_request"},
		{"dump", "GET", "/v1/dump", nil, 404, "no_such_route"},
		{"GET lookup", "GET", "/v1/subjects/lookup", nil, 400, "invalid_request"},
		{"PUT", "PUT", "/v1/subjects/" + ids[0], map[string]any{}, 405, "method_not_allowed"},
		{"HEAD is no read", "HEAD", "/v1/subjects/" + ids[0], nil, 405, ""},
		{"lookup wildcard", "POST", "/v1/subjects/lookup", map[string]string{"field": "email_pro", "value": "*"}, 400, "invalid_request"},
		{"lookup SQL wildcard", "POST", "/v1/subjects/lookup", map[string]string{"field": "email_pro", "value": "%@" + domain}, 404, "not_found"},
		{"lookup prefix", "POST", "/v1/subjects/lookup", map[string]string{"field": "email_pro", "value": people[0].Fields[synth.EmailPro][:5]}, 400, "invalid_request"},
		{"lookup domain", "POST", "/v1/subjects/lookup", map[string]string{"field": "email_pro", "value": "@" + domain}, 400, "invalid_request"},
		{"lookup by unit", "POST", "/v1/subjects/lookup", map[string]string{"field": "unit", "value": unit}, 400, "invalid_request"},
		{"lookup phone prefix", "POST", "/v1/subjects/lookup", map[string]string{"field": "phone", "value": "06"}, 403, "forbidden"}, // directory hides phone
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.call(t, req{Method: tc.method, Path: tc.path, Token: hr, Purpose: "directory", Body: tc.body})
			r.want(t, tc.status, tc.code)
			for i, id := range ids {
				// (A 404 names the path it got, with any id the path holds.)
				if bytes.Contains(r.Body, []byte(id)) && !strings.Contains(tc.path, id) {
					t.Errorf("body names subject %d: %s", i, r.Body)
				}
				for name, val := range people[i].Fields {
					if bytes.Contains(r.Body, []byte(val)) {
						t.Errorf("body holds %s of subject %d: %s", name, i, r.Body)
					}
				}
			}
		})
	}
}

// TestBadInput covers the error shape and the input checks.
func TestBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	hrOp := e.addOperator(t, "helene", "hr-officer", "ac-normandie")
	hr := e.login(t, hrOp)
	p := synth.Make(seed, 200)
	id := e.create(t, hr, p)
	loginToken := e.password(t, hrOp.Operator.Username, hrOp.Password)
	goodCreate := func(extra string) string {
		j, _ := json.Marshal(map[string]any{"unit": p.Unit, "fields": map[string]string{"given_name": "Zoé", "family_name": "Martin"}})
		return string(j[:len(j)-1]) + extra + "}"
	}

	for _, tc := range []struct {
		name   string
		r      req
		status int
		code   string
	}{
		{"no token", req{Method: "GET", Path: "/v1/subjects/" + id, Purpose: "directory"}, 401, "unauthenticated"},
		{"bad bearer", req{Method: "GET", Path: "/v1/subjects/" + id, Token: "nope", Purpose: "directory"}, 401, "unauthenticated"},
		{"unknown session token", req{Method: "GET", Path: "/v1/subjects/" + id, Token: "cfs_" + strings.Repeat("A", 43), Purpose: "directory"}, 401, "unauthenticated"},
		{"over-long token", req{Method: "GET", Path: "/v1/subjects/" + id, Token: "cfs_" + strings.Repeat("A", 200), Purpose: "directory"}, 401, "unauthenticated"},
		{"login token as bearer", req{Method: "GET", Path: "/v1/subjects/" + id, Token: loginToken, Purpose: "directory"}, 401, "unauthenticated"},
		{"basic auth", req{Method: "GET", Path: "/v1/subjects/" + id, Purpose: "directory", Header: map[string]string{"Authorization": "Basic aGVsZW5lOng="}}, 401, "unauthenticated"},
		{"token without scheme", req{Method: "GET", Path: "/v1/subjects/" + id, Purpose: "directory", Header: map[string]string{"Authorization": hr}}, 401, "unauthenticated"},
		{"unauthenticated create", req{Method: "POST", Path: "/v1/subjects", Body: map[string]any{"unit": p.Unit, "fields": p.Fields}}, 401, "unauthenticated"},
		{"unauthenticated logout", req{Method: "POST", Path: "/v1/auth/logout"}, 401, "unauthenticated"},
		{"unknown field in login", req{Method: "POST", Path: "/v1/auth/login", Body: `{"username":"helene","password":"x","admin":true}`}, 400, "invalid_request"},
		{"unknown field in create", req{Method: "POST", Path: "/v1/subjects", Token: hr, Body: goodCreate(`,"owner":"me"`)}, 400, "invalid_request"},
		{"unknown field in lookup", req{Method: "POST", Path: "/v1/subjects/lookup", Token: hr, Purpose: "directory", Body: `{"field":"email_pro","value":"a@b.fr","prefix":true}`}, 400, "invalid_request"},
		{"unknown field in update", req{Method: "PATCH", Path: "/v1/subjects/" + id, Token: hr, Body: `{"fields":{"job_title":"x"},"unit":"y"}`}, 400, "invalid_request"},
		{"unknown schema field in create", req{Method: "POST", Path: "/v1/subjects", Token: hr, Body: map[string]any{"unit": p.Unit, "fields": map[string]string{"given_name": "Zoé", "family_name": "Martin", "salary": "1"}}}, 400, "invalid_field"},
		{"missing required field", req{Method: "POST", Path: "/v1/subjects", Token: hr, Body: map[string]any{"unit": p.Unit, "fields": map[string]string{"given_name": "Zoé"}}}, 400, "invalid_field"},
		{"invalid unit", req{Method: "POST", Path: "/v1/subjects", Token: hr, Body: map[string]any{"unit": "AC Normandie", "fields": map[string]string{"given_name": "Zoé", "family_name": "Martin"}}}, 400, "invalid_field"},
		{"invalid email", req{Method: "POST", Path: "/v1/subjects", Token: hr, Body: map[string]any{"unit": p.Unit, "fields": map[string]string{"given_name": "Zoé", "family_name": "Martin", "email_pro": "zoé at home"}}}, 400, "invalid_field"},
		{"over-size body", req{Method: "POST", Path: "/v1/subjects", Token: hr, Body: goodCreate(`,"x":"` + strings.Repeat("a", maxBody) + `"`)}, 413, "body_too_large"},
		{"over-size login", req{Method: "POST", Path: "/v1/auth/login", Body: `{"username":"helene","password":"` + strings.Repeat("a", maxBody) + `"}`}, 413, "body_too_large"},
		{"over-size value", req{Method: "POST", Path: "/v1/subjects", Token: hr, Body: map[string]any{"unit": p.Unit, "fields": map[string]string{"given_name": "Zoé", "family_name": "Martin", "job_title": strings.Repeat("a", maxBody)}}}, 413, "body_too_large"},
		{"malformed JSON", req{Method: "POST", Path: "/v1/subjects", Token: hr, Body: `{"unit":`}, 400, "invalid_request"},
		{"not JSON", req{Method: "POST", Path: "/v1/auth/login", Body: `username=helene&password=x`}, 400, "invalid_request"},
		{"empty body", req{Method: "POST", Path: "/v1/auth/login", Body: ``}, 400, "invalid_request"},
		{"array body", req{Method: "POST", Path: "/v1/subjects/lookup", Token: hr, Purpose: "directory", Body: `[{"field":"email_pro","value":"a@b.fr"}]`}, 400, "invalid_request"},
		{"wrong JSON type", req{Method: "POST", Path: "/v1/subjects", Token: hr, Body: `{"unit":1,"fields":{}}`}, 400, "invalid_request"},
		{"trailing object", req{Method: "POST", Path: "/v1/auth/login", Body: `{"username":"helene","password":"x"}{}`}, 400, "invalid_request"},
		{"trailing garbage", req{Method: "POST", Path: "/v1/subjects", Token: hr, Body: goodCreate("") + ` garbage`}, 400, "invalid_request"},
		{"trailing brace", req{Method: "POST", Path: "/v1/subjects/lookup", Token: hr, Purpose: "directory", Body: `{"field":"email_pro","value":"a@b.fr"}}`}, 400, "invalid_request"},
		{"wrong content type", req{Method: "POST", Path: "/v1/auth/login", Body: `{"username":"helene","password":"x"}`, Header: map[string]string{"Content-Type": "text/plain"}}, 400, "invalid_request"},
		{"empty lookup value", req{Method: "POST", Path: "/v1/subjects/lookup", Token: hr, Purpose: "directory", Body: `{"field":"email_pro","value":""}`}, 400, "invalid_request"},
		{"empty update", req{Method: "PATCH", Path: "/v1/subjects/" + id, Token: hr, Purpose: "hr-records", Reason: "RH-4", Body: `{"fields":{}}`}, 400, "invalid_field"},
		{"update malformed id", req{Method: "PATCH", Path: "/v1/subjects/sub_x", Token: hr, Body: `{"fields":{"job_title":"x"}}`}, 400, "invalid_request"},
		{"erase malformed id", req{Method: "DELETE", Path: "/v1/subjects/sub_x", Token: hr}, 400, "invalid_request"},
		{"totp short code", req{Method: "POST", Path: "/v1/auth/totp", Body: map[string]string{"login_token": loginToken, "code": "12345"}}, 400, "invalid_request"},
		{"totp letters", req{Method: "POST", Path: "/v1/auth/totp", Body: map[string]string{"login_token": loginToken, "code": "12345a"}}, 400, "invalid_request"},
		{"totp unknown login token", req{Method: "POST", Path: "/v1/auth/totp", Body: map[string]string{"login_token": "cfl_nope", "code": "123456"}}, 401, "invalid_credentials"},
		{"totp session token as login token", req{Method: "POST", Path: "/v1/auth/totp", Body: map[string]string{"login_token": hr, "code": "123456"}}, 401, "invalid_credentials"},
		{"login empty password", req{Method: "POST", Path: "/v1/auth/login", Body: `{"username":"helene","password":""}`}, 400, "invalid_request"},
		{"no such route", req{Method: "GET", Path: "/v2/subjects", Token: hr}, 404, "no_such_route"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.call(t, tc.r)
			r.want(t, tc.status, tc.code)
		})
	}

	t.Run("content type with charset", func(t *testing.T) {
		r := e.call(t, req{Method: "POST", Path: "/v1/subjects/lookup", Token: hr, Purpose: "directory",
			Header: map[string]string{"Content-Type": "application/json; charset=utf-8"},
			Body:   map[string]string{"field": "email_pro", "value": p.Fields[synth.EmailPro]}})
		r.want(t, http.StatusOK, "")
	})
	t.Run("body at the limit", func(t *testing.T) {
		// A body of exactly MaxBodyBytes is accepted (here refused later,
		// for the value's length, not for the body's).
		b := goodCreate(`,"x":"`)
		b += strings.Repeat("a", maxBody-len(b)-2) + `"}`
		if len(b) != maxBody {
			t.Fatalf("body is %d bytes, want %d", len(b), maxBody)
		}
		r := e.call(t, req{Method: "POST", Path: "/v1/subjects", Token: hr, Body: b})
		r.want(t, http.StatusBadRequest, "invalid_request") // unknown field "x"
	})
}

// TestLogin covers the login steps and the session's life.
func TestLogin(t *testing.T) {
	t.Parallel()

	t.Run("wrong password and unknown user look alike", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		op := e.addOperator(t, "helene", "hr-officer", "ac-normandie")
		attempts := []map[string]string{
			{"username": "helene", "password": op.Password + "x"},
			{"username": "nobody", "password": op.Password},
			{"username": "Helene", "password": op.Password},
			{"username": "nobody", "password": "whatever-password"},
		}
		var first *response
		for _, body := range attempts {
			r := e.call(t, req{Method: "POST", Path: "/v1/auth/login", Body: body})
			r.want(t, http.StatusUnauthorized, "invalid_credentials")
			if first == nil {
				first = r
				continue
			}
			if !bytes.Equal(r.Body, first.Body) || r.Header.Get("Content-Type") != first.Header.Get("Content-Type") {
				t.Errorf("login %q answered %s, login %q answered %s: want identical answers",
					body["username"], r.Body, attempts[0]["username"], first.Body)
			}
		}
	})

	t.Run("code works once", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		op := e.addOperator(t, "helene", "hr-officer", "ac-normandie")
		e.login(t, op)
		// A second login in the same 30 s step, with the same code.
		lt := e.password(t, "helene", op.Password)
		e.totp(t, lt, e.code(t, op, 0)).want(t, http.StatusUnauthorized, "invalid_credentials")
		// The previous step's code is older than the accepted one.
		e.totp(t, lt, e.code(t, op, -30*time.Second)).want(t, http.StatusUnauthorized, "invalid_credentials")
		// The login token is still alive: the next step's code works.
		e.clock.Advance(30 * time.Second)
		e.totp(t, lt, e.code(t, op, 0)).want(t, http.StatusOK, "")
	})

	t.Run("drift window", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		op := e.addOperator(t, "helene", "hr-officer", "ac-normandie")
		lt := e.password(t, "helene", op.Password)
		e.totp(t, lt, e.code(t, op, -60*time.Second)).want(t, http.StatusUnauthorized, "invalid_credentials")
		e.totp(t, lt, e.code(t, op, 30*time.Second)).want(t, http.StatusUnauthorized, "invalid_credentials")
		e.totp(t, lt, e.code(t, op, -30*time.Second)).want(t, http.StatusOK, "") // one step of drift back
	})

	t.Run("attempts exhausted", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		op := e.addOperator(t, "helene", "hr-officer", "ac-normandie")
		lt := e.password(t, "helene", op.Password)
		for range maxAttempts {
			e.totp(t, lt, e.wrongCode(t, op)).want(t, http.StatusUnauthorized, "invalid_credentials")
		}
		e.totp(t, lt, e.code(t, op, 0)).want(t, http.StatusUnauthorized, "too_many_attempts")
		e.clock.Advance(30 * time.Second)
		e.totp(t, lt, e.code(t, op, 0)).want(t, http.StatusUnauthorized, "too_many_attempts")
		// A new login works.
		e.login(t, op)
	})

	t.Run("login token expires", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		op := e.addOperator(t, "helene", "hr-officer", "ac-normandie")
		lt := e.password(t, "helene", op.Password)
		e.clock.Advance(loginTTL + time.Second)
		e.totp(t, lt, e.code(t, op, 0)).want(t, http.StatusUnauthorized, "invalid_credentials")
	})

	// probe answers 404 (no such subject) with a live session, 401 without.
	probe := func(t *testing.T, e *env, tok string) int {
		t.Helper()
		return e.read(t, tok, unknownID, "directory", "").Status
	}

	t.Run("idle expiry", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		tok := e.login(t, e.addOperator(t, "helene", "hr-officer", "ac-normandie"))
		for range 3 { // activity keeps the session: 3×(idle-1m) > idle
			e.clock.Advance(idle - time.Minute)
			if got := probe(t, e, tok); got != http.StatusNotFound {
				t.Fatalf("active session answered %d, want 404", got)
			}
		}
		e.clock.Advance(idle + time.Second)
		if got := probe(t, e, tok); got != http.StatusUnauthorized {
			t.Fatalf("session idle for %v answered %d, want 401", idle+time.Second, got)
		}
	})

	t.Run("absolute expiry", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		tok := e.login(t, e.addOperator(t, "helene", "hr-officer", "ac-normandie"))
		start := e.clock.Now()
		step := idle - time.Minute
		for e.clock.Now().Add(step).Sub(start) <= absolute {
			e.clock.Advance(step)
			if got := probe(t, e, tok); got != http.StatusNotFound {
				t.Fatalf("session %v old answered %d, want 404", e.clock.Now().Sub(start), got)
			}
		}
		e.clock.Advance(step)
		if got := probe(t, e, tok); got != http.StatusUnauthorized {
			t.Fatalf("active session %v old (max %v) answered %d, want 401", e.clock.Now().Sub(start), absolute, got)
		}
	})

	t.Run("logout", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		op := e.addOperator(t, "helene", "hr-officer", "ac-normandie")
		tok := e.login(t, op)
		other := e.login(t, op)
		r := e.call(t, req{Method: "POST", Path: "/v1/auth/logout", Token: tok})
		r.want(t, http.StatusNoContent, "")
		if got := probe(t, e, tok); got != http.StatusUnauthorized {
			t.Errorf("after logout the session answered %d, want 401", got)
		}
		e.call(t, req{Method: "POST", Path: "/v1/auth/logout", Token: tok}).want(t, http.StatusUnauthorized, "unauthenticated")
		if got := probe(t, e, other); got != http.StatusNotFound {
			t.Errorf("the operator's other session answered %d after logout, want 404", got)
		}
	})
}

// TestFailClosed: when the audit log cannot be written, no data leaves.
func TestFailClosed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	hrOp := e.addOperator(t, "helene", "hr-officer", "ac-normandie")
	hr := e.login(t, hrOp)
	cw := e.login(t, e.addOperator(t, "camille", "caseworker", "ac-normandie"))
	p, _ := person(t, 300, true)
	id := e.create(t, hr, p)
	e.readView(t, cw, id, "case-handling", "")
	e.stepUp(t, hrOp, hr, "workplace-adjustment") // so that the read gets as far as the audit
	before := len(e.auditEntries(t))

	if err := e.store.Exec(ctx, `CREATE TRIGGER audit_fail BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'injected'); END`); err != nil {
		t.Fatalf("create trigger: %v", err)
	}
	for _, tc := range []struct {
		name string
		r    req
	}{
		{"read case-handling", req{Method: "GET", Path: "/v1/subjects/" + id, Token: cw, Purpose: "case-handling"}},
		{"read directory", req{Method: "GET", Path: "/v1/subjects/" + id, Token: cw, Purpose: "directory"}},
		{"read workplace-adjustment", req{Method: "GET", Path: "/v1/subjects/" + id, Token: hr, Purpose: "workplace-adjustment", Reason: "RH-1"}},
		{"lookup email", req{Method: "POST", Path: "/v1/subjects/lookup", Token: cw, Purpose: "directory", Body: map[string]string{"field": "email_pro", "value": p.Fields[synth.EmailPro]}}},
		{"lookup phone", req{Method: "POST", Path: "/v1/subjects/lookup", Token: cw, Purpose: "case-handling", Body: map[string]string{"field": "phone", "value": intlPhone(p.Fields[synth.Phone])}}},
		{"lookup miss", req{Method: "POST", Path: "/v1/subjects/lookup", Token: cw, Purpose: "directory", Body: map[string]string{"field": "email_pro", "value": "nobody@example.org"}}},
		{"read unknown id", req{Method: "GET", Path: "/v1/subjects/" + unknownID, Token: cw, Purpose: "directory"}},
		{"create", req{Method: "POST", Path: "/v1/subjects", Token: hr, Body: map[string]any{"unit": "ac-normandie", "fields": synth.Make(seed, 9001).Fields}}},
		{"update", req{Method: "PATCH", Path: "/v1/subjects/" + id, Token: hr, Purpose: "hr-records", Reason: "RH-2", Body: map[string]any{"fields": map[string]string{"job_title": "Proviseure"}}}},
		{"erase", req{Method: "DELETE", Path: "/v1/subjects/" + id, Token: hr, Reason: "RGPD 17"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.call(t, tc.r)
			r.want(t, http.StatusServiceUnavailable, "unavailable")
			for name, val := range p.Fields {
				if bytes.Contains(r.Body, []byte(val)) {
					t.Errorf("503 body holds %s: %s", name, r.Body)
				}
			}
			if bytes.Contains(r.Body, []byte(id)) {
				t.Errorf("503 body names the subject: %s", r.Body)
			}
		})
	}
	if err := e.store.Exec(ctx, `DROP TRIGGER audit_fail`); err != nil {
		t.Fatalf("drop trigger: %v", err)
	}
	if got := len(e.auditEntries(t)); got != before {
		t.Errorf("audit grew from %d to %d entries while it could not be written", before, got)
	}
	// Nothing changed while the log was down, and reads work again.
	v := e.readView(t, cw, id, "case-handling", "")
	if v.Fields["job_title"] != p.Fields[synth.JobTitle] {
		t.Errorf("job_title = %q after a refused update, want %q", v.Fields["job_title"], p.Fields[synth.JobTitle])
	}
	if got := e.lookupID(t, cw, "directory", synth.EmailPro, p.Fields[synth.EmailPro]); got != id {
		t.Errorf("lookup after recovery = %s, want %s", got, id)
	}
}

// TestAudit: allowed and denied accesses are audited with field names, and
// no entry holds a personal value.
func TestAudit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	hrOp := e.addOperator(t, "helene", "hr-officer", "ac-normandie")
	cwOp := e.addOperator(t, "camille", "caseworker", "ac-normandie")
	supOp := e.addOperator(t, "sacha", "support", "ac-normandie")
	hr, cw, sup := e.login(t, hrOp), e.login(t, cwOp), e.login(t, supOp)
	p, _ := person(t, 400, true)
	id := e.create(t, hr, p)

	// Personal values as typed, stored and normalised.
	var personal []string
	for name, val := range p.Fields {
		f, _ := e.policy.Field(name)
		personal = append(personal, val, value.Normalize(f.Type, val))
	}
	newEmail := "nouvelle.adresse@ac-normandie.fr"
	personal = append(personal, intlPhone(p.Fields[synth.Phone]), strings.ToUpper(p.Fields[synth.EmailPro]), newEmail, strings.ReplaceAll(p.Fields[synth.Phone], " ", ""))

	view := e.readView(t, cw, id, "case-handling", "dossier 2026-117")
	e.readView(t, cw, id, "directory", "")
	e.lookupID(t, cw, "case-handling", synth.Phone, intlPhone(p.Fields[synth.Phone]))
	e.lookupID(t, cw, "directory", synth.EmailPro, strings.ToUpper(p.Fields[synth.EmailPro]))
	e.lookup(t, cw, "directory", synth.EmailPro, "personne@example.org").want(t, http.StatusNotFound, "not_found")
	e.read(t, sup, id, "payroll", "").want(t, http.StatusForbidden, "forbidden")
	e.read(t, cw, id, "marketing", "").want(t, http.StatusBadRequest, "invalid_request")
	e.read(t, hr, id, "workplace-adjustment", "").want(t, http.StatusBadRequest, "reason_required")
	e.read(t, cw, unknownID, "directory", "").want(t, http.StatusNotFound, "not_found")
	e.lookup(t, sup, "payroll", synth.EmailPro, p.Fields[synth.EmailPro]).want(t, http.StatusForbidden, "forbidden")
	e.call(t, req{Method: "PATCH", Path: "/v1/subjects/" + id, Token: cw, Purpose: "case-update", Reason: "dossier 2026-118", Body: map[string]any{"fields": map[string]string{"email_pro": newEmail}}}).want(t, http.StatusAccepted, "")
	e.call(t, req{Method: "DELETE", Path: "/v1/subjects/" + id, Token: cw, Reason: "dossier 2026-119"}).want(t, http.StatusForbidden, "forbidden")

	entries := e.auditEntries(t)
	find := func(what string, match func(a audit.Entry) bool) *audit.Entry {
		t.Helper()
		for i := range entries {
			if match(entries[i]) {
				return &entries[i]
			}
		}
		t.Errorf("no audit entry for %s", what)
		return nil
	}
	dirFields := e.policy.VisibleFields(e.policy.Purposes["directory"])
	caseFields := e.policy.VisibleFields(e.policy.Purposes["case-handling"])
	for _, tc := range []struct {
		what   string
		actor  string
		action string
		subj   string
		purp   string
		dec    string
		fields []string // nil: not checked
	}{
		{"create", hrOp.Operator.ID, "create", id, "", "allow", slices.Sorted(maps.Keys(p.Fields))},
		{"read case-handling", cwOp.Operator.ID, "read", id, "case-handling", "allow", caseFields},
		{"read directory", cwOp.Operator.ID, "read", id, "directory", "allow", dirFields},
		{"lookup phone", cwOp.Operator.ID, "lookup", id, "case-handling", "allow", []string{"phone"}},
		{"lookup email", cwOp.Operator.ID, "lookup", id, "directory", "allow", []string{"email_pro"}},
		{"lookup miss", cwOp.Operator.ID, "lookup", "", "directory", "deny:not_found", []string{"email_pro"}},
		{"support payroll", supOp.Operator.ID, "read", id, "payroll", "deny:forbidden", []string{}},
		{"unknown purpose", cwOp.Operator.ID, "read", id, "marketing", "deny:invalid", []string{}},
		{"no reason", hrOp.Operator.ID, "read", id, "workplace-adjustment", "deny:reason_required", []string{}},
		{"unknown id", cwOp.Operator.ID, "read", unknownID, "directory", "deny:not_found", []string{}},
		{"support lookup payroll", supOp.Operator.ID, "lookup", "", "payroll", "deny:forbidden", nil},
		{"update", cwOp.Operator.ID, "update", id, "case-update", "allow:pending:", []string{"email_pro"}}, // a contact field: it waits
		{"caseworker erase", cwOp.Operator.ID, "erase", id, "", "deny:forbidden", []string{}},
	} {
		a := find(tc.what, func(a audit.Entry) bool {
			dec := a.Decision == tc.dec || strings.HasSuffix(tc.dec, ":") && strings.HasPrefix(a.Decision, tc.dec)
			return a.Actor == tc.actor && a.Action == tc.action && a.Subject == tc.subj && a.Purpose == tc.purp && dec
		})
		if a == nil {
			continue
		}
		if tc.fields != nil && !slices.Equal(a.Fields, tc.fields) && len(a.Fields)+len(tc.fields) > 0 {
			t.Errorf("%s: audit fields %v, want %v", tc.what, a.Fields, tc.fields)
		}
		if a.Origin == "" || a.Time.IsZero() {
			t.Errorf("%s: audit entry %+v has no origin or time", tc.what, *a)
		}
	}
	if a := find("the case-handling read's seq", func(a audit.Entry) bool { return a.Seq == view.AuditSeq }); a != nil &&
		(a.Action != "read" || a.Purpose != "case-handling" || a.Reason != "dossier 2026-117") {
		t.Errorf("entry %d = %+v, want the case-handling read with its reason", view.AuditSeq, *a)
	}

	for _, a := range entries {
		if !opID.MatchString(a.Actor) && a.Actor != "system" || a.Subject != "" && !subjectid.Valid(a.Subject) {
			t.Errorf("audit entry %d: actor %q, subject %q: want an operator id and a subject id", a.Seq, a.Actor, a.Subject)
		}
		texts := append([]string{a.Action, a.Purpose, a.Reason, a.Decision, a.Origin}, a.Fields...)
		for _, s := range texts {
			if opID.MatchString(s) { // operator.add names the new operator in Reason
				continue
			}
			for _, val := range personal {
				if val != "" && strings.Contains(strings.ToLower(s), strings.ToLower(val)) {
					t.Errorf("audit entry %d holds a personal value in %q", a.Seq, s)
				}
			}
		}
		for _, f := range a.Fields {
			if _, ok := e.policy.Field(f); !ok {
				t.Errorf("audit entry %d lists %q, not a field name", a.Seq, f)
			}
		}
	}
}

// TestUpdateAndErase: changed lookup values move the index (a contact
// field's once its cooling-off is over: a second here); erasure ends every
// way in.
func TestUpdateAndErase(t *testing.T) {
	t.Parallel()
	e := newEnvOpts(t, envOptions{coolingOff: time.Second})
	hr := e.login(t, e.addOperator(t, "helene", "hr-officer", "ac-normandie"))
	cw := e.login(t, e.addOperator(t, "camille", "caseworker", "ac-normandie"))
	p, _ := person(t, 500, false)
	id := e.create(t, hr, p)
	other := e.create(t, hr, synth.Make(seed, 501))
	purpose := map[string]string{hr: "hr-records", cw: "case-update"}
	patch := func(t *testing.T, tok, id string, body any) *response {
		t.Helper()
		return e.call(t, req{Method: "PATCH", Path: "/v1/subjects/" + id, Token: tok, Purpose: purpose[tok], Reason: "dossier 12", Body: body})
	}

	oldEmail, newEmail := p.Fields[synth.EmailPro], "Zoe.Nouvelle@AC-Normandie.fr"
	t.Run("change a lookup value", func(t *testing.T) {
		patch(t, cw, id, map[string]any{"fields": map[string]string{"email_pro": newEmail}}).want(t, http.StatusAccepted, "")
		e.applyContacts(t, 1)
		e.lookup(t, cw, "directory", synth.EmailPro, oldEmail).want(t, http.StatusNotFound, "not_found")
		if got := e.lookupID(t, cw, "directory", synth.EmailPro, strings.ToLower(newEmail)); got != id {
			t.Errorf("lookup of the new email = %s, want %s", got, id)
		}
		if got := e.readView(t, cw, id, "directory", "").Fields["email_pro"]; got != newEmail {
			t.Errorf("email_pro = %q, want %q", got, newEmail)
		}
		// The other lookup values still lead to the subject.
		if got := e.lookupID(t, cw, "case-handling", synth.Phone, p.Fields[synth.Phone]); got != id {
			t.Errorf("lookup by phone after the email change = %s, want %s", got, id)
		}
	})
	t.Run("taken lookup value", func(t *testing.T) {
		patch(t, cw, other, map[string]any{"fields": map[string]string{"email_pro": newEmail}}).want(t, http.StatusConflict, "conflict")
		if got := e.lookupID(t, cw, "directory", synth.EmailPro, newEmail); got != id {
			t.Errorf("after a refused update the email leads to %s, want %s", got, id)
		}
	})
	t.Run("remove an optional field", func(t *testing.T) {
		patch(t, cw, id, `{"fields":{"phone":null}}`).want(t, http.StatusAccepted, "")
		e.applyContacts(t, 1)
		v := e.readView(t, cw, id, "case-handling", "")
		if _, ok := v.Fields["phone"]; ok {
			t.Errorf("phone still shown after its removal: %q", v.Fields["phone"])
		}
		e.lookup(t, cw, "case-handling", synth.Phone, p.Fields[synth.Phone]).want(t, http.StatusNotFound, "not_found")
		if got := v.Fields["family_name"]; got != p.Fields[synth.FamilyName] {
			t.Errorf("family_name = %q after removing phone, want %q", got, p.Fields[synth.FamilyName])
		}
	})
	for _, tc := range []struct {
		name   string
		tok    string
		id     string
		body   any
		status int
		code   string
	}{
		{"remove a required field", hr, id, `{"fields":{"given_name":null}}`, 400, "invalid_field"},
		{"unknown field", cw, id, `{"fields":{"salary":"1"}}`, 400, "invalid_field"},
		{"invalid value", hr, id, `{"fields":{"birth_date":"1984-02-30"}}`, 400, "invalid_field"},
		{"field the purpose does not change", cw, id, `{"fields":{"birth_date":"1984-02-03"}}`, 403, "forbidden"},
		{"unknown subject", cw, unknownID, `{"fields":{"job_title":"x"}}`, 404, "not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			patch(t, tc.tok, tc.id, tc.body).want(t, tc.status, tc.code)
		})
	}
	t.Run("no purpose", func(t *testing.T) {
		e.call(t, req{Method: "PATCH", Path: "/v1/subjects/" + id, Token: cw, Body: `{"fields":{"job_title":"x"}}`}).want(t, 400, "invalid_request")
	})

	t.Run("erase", func(t *testing.T) {
		e.call(t, req{Method: "DELETE", Path: "/v1/subjects/" + id, Token: cw, Reason: "x"}).want(t, http.StatusForbidden, "forbidden")
		e.call(t, req{Method: "DELETE", Path: "/v1/subjects/" + id, Token: hr}).want(t, http.StatusBadRequest, "reason_required")
		e.readView(t, cw, id, "directory", "") // still there
		e.call(t, req{Method: "DELETE", Path: "/v1/subjects/" + id, Token: hr, Reason: "départ, demande RGPD 17"}).want(t, http.StatusNoContent, "")
		for _, purpose := range []string{"directory", "case-handling"} {
			e.read(t, cw, id, purpose, "").want(t, http.StatusNotFound, "not_found")
		}
		e.lookup(t, cw, "directory", synth.EmailPro, newEmail).want(t, http.StatusNotFound, "not_found")
		e.lookup(t, cw, "case-handling", synth.EmailPersonal, p.Fields[synth.EmailPersonal]).want(t, http.StatusNotFound, "not_found")
		e.call(t, req{Method: "DELETE", Path: "/v1/subjects/" + id, Token: hr, Reason: "again"}).want(t, http.StatusNotFound, "not_found")
		patch(t, cw, id, map[string]any{"fields": map[string]string{"job_title": "x"}}).want(t, http.StatusNotFound, "not_found")
		// The other subject is untouched, and the freed email can be reused.
		e.readView(t, cw, other, "directory", "")
		patch(t, cw, other, map[string]any{"fields": map[string]string{"email_pro": newEmail}}).want(t, http.StatusAccepted, "")
		e.applyContacts(t, 1)
		if got := e.lookupID(t, cw, "directory", synth.EmailPro, newEmail); got != other {
			t.Errorf("the freed email leads to %s, want %s", got, other)
		}
	})
}

// TestConcurrentReplay: of several logins racing with one code, exactly one
// gets a session.
func TestConcurrentReplay(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	op := e.addOperator(t, "helene", "hr-officer", "ac-normandie")
	code := e.code(t, op, 0)
	rs := make([]req, 8)
	for i := range rs {
		rs[i] = req{Method: "POST", Path: "/v1/auth/totp", Body: map[string]string{"login_token": e.password(t, "helene", op.Password), "code": code}}
	}
	ok := 0
	for _, r := range e.sendAll(t, rs) {
		switch {
		case r.Status == http.StatusOK:
			ok++
		case r.Status != http.StatusUnauthorized || r.Err.Code != "invalid_credentials":
			t.Errorf("racing login answered %d %s, want 200 or 401 invalid_credentials", r.Status, r.Err.Code)
		}
	}
	if ok != 1 {
		t.Errorf("%d of %d racing logins with one code got a session, want exactly 1", ok, len(rs))
	}
}

// TestTOTPAttemptsConcurrent: MaxAttempts bounds the second-factor guesses
// of a login token even when they arrive at once.
func TestTOTPAttemptsConcurrent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	op := e.addOperator(t, "helene", "hr-officer", "ac-normandie")
	lt := e.password(t, "helene", op.Password)
	wrong := e.wrongCode(t, op)
	rs := make([]req, 20)
	for i := range rs {
		rs[i] = req{Method: "POST", Path: "/v1/auth/totp", Body: map[string]string{"login_token": lt, "code": wrong}}
	}
	evaluated := 0
	for _, r := range e.sendAll(t, rs) {
		if r.Err.Code == "invalid_credentials" {
			evaluated++
		}
	}
	if evaluated > maxAttempts {
		t.Errorf("%d of %d concurrent wrong codes were checked, want at most MaxAttempts = %d", evaluated, len(rs), maxAttempts)
	}
}

// TestReadAuditNamesReturnedFields: a read's audit entry names the fields
// the answer holds, not those the purpose could show.
func TestReadAuditNamesReturnedFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	hr := e.login(t, e.addOperator(t, "helene", "hr-officer", "ac-normandie"))
	p, _ := person(t, 600, false)
	id := e.create(t, hr, p)
	e.call(t, req{Method: "PATCH", Path: "/v1/subjects/" + id, Token: hr, Purpose: "hr-records", Reason: "RH-3", Body: `{"fields":{"job_title":null}}`}).want(t, http.StatusNoContent, "")
	v := e.readView(t, hr, id, "directory", "")
	var audited []string
	for _, a := range e.auditEntries(t) {
		if a.Seq == v.AuditSeq {
			audited = a.Fields
		}
	}
	if got, want := slices.Sorted(slices.Values(audited)), slices.Sorted(maps.Keys(v.Fields)); !slices.Equal(got, want) {
		t.Errorf("audit entry %d names %v, the answer holds %v", v.AuditSeq, got, want)
	}
}

// TestReadNamedFields: ?fields= narrows a read to some of the purpose's
// fields (answered, audited); a field the purpose does not show, a
// malformed list, or one beside Coffre-Break-Glass is a 400 that says so.
func TestReadNamedFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	hr := e.login(t, e.addOperator(t, "helia", "hr-officer", "ac-normandie"))
	p, _ := person(t, 601, false)
	id := e.create(t, hr, p)
	r := e.call(t, req{Method: "GET", Path: "/v1/subjects/" + id + "?fields=email_pro,family_name", Token: hr, Purpose: "directory"})
	r.want(t, http.StatusOK, "")
	var v view
	decodeStrict(t, r.Body, &v)
	if got := slices.Sorted(maps.Keys(v.Fields)); !slices.Equal(got, []string{"email_pro", "family_name"}) {
		t.Errorf("fields %v, want email_pro and family_name alone", got)
	}
	for _, a := range e.auditEntries(t) {
		if a.Seq == v.AuditSeq && !slices.Equal(a.Fields, []string{"family_name", "email_pro"}) {
			t.Errorf("audit entry names %v, want the two fields in schema order", a.Fields)
		}
	}
	for _, tt := range []struct{ query, want string }{
		{"?fields=national_id", `purpose "directory" does not show field "national_id"`},
		{"?fields=", "empty or over-long"},
		{"?fields=email_pro,,family_name", "empty or over-long"},
		{"?fields=email_pro&fields=family_name", "given 2 times"},
		{"?fields=email_pro,email_pro", "named twice"},
	} {
		r := e.call(t, req{Method: "GET", Path: "/v1/subjects/" + id + tt.query, Token: hr, Purpose: "directory"})
		r.want(t, http.StatusBadRequest, "invalid_request")
		if !strings.Contains(r.Err.Message, tt.want) {
			t.Errorf("%s: message %q, want it to say %q", tt.query, r.Err.Message, tt.want)
		}
	}
}
