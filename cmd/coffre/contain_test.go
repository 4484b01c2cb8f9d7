package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/incident"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

// TestContainUnderLoad: a sealed server unsealed by its share holders
// serves three caseworkers reading their caseloads in a loop, and two
// partners over mutual TLS, one reading in a loop. The security officer
// opens an incident naming two of the caseworkers and the other partner,
// and contains it over HTTP: after revoke the two's next request is
// refused while the third still reads; after revoke-partners the named
// partner's key and certificate no longer work, the other's still do;
// after lock the two cannot log in again; after seal every data route of
// both listeners answers 503 (or the partner listener is closed), and no
// read that started after the seal's answer returned data, even with a
// slow request in the server across the seal. Unsealed again, the
// incident is contained, its timeline holding each act by the officer.
func TestContainUnderLoad(t *testing.T) {
	t.Parallel()
	dir, out := t.TempDir(), filepath.Join(t.TempDir(), "shares")
	code, stdout, stderr := runCLI(t, "keys", "init", "--config", demoYAML, "--data", dir, "--shares", "3", "--threshold", "2", "--out", out, "--json")
	if code != 0 {
		t.Fatalf("keys init = %d, %q", code, stderr)
	}
	var shares keysInitJSON
	if err := json.Unmarshal([]byte(stdout), &shares); err != nil {
		t.Fatal(err)
	}
	w := setUpContainment(t, dir, shares)

	// Only the rate limit is lifted: the readers loop faster than a
	// person reads; every other budget of the role binds, and each reads
	// the people of its own caseload.
	base, logs, stop := startSealed(t, dir, func(c *config.Config) {
		c.Partners.Listen = "127.0.0.1:0"
		for _, role := range []string{"caseworker", "partner"} {
			l := c.Guard.Roles[role]
			l.Rate, l.Burst = 0, 0
			c.Guard.Roles[role] = l
		}
	})
	defer stop()
	unsealWith := func(files ...string) {
		t.Helper()
		for _, f := range files {
			if code, _, stderr := runCLI(t, "unseal", "--share-file", f, "--url", base); code != 0 {
				t.Fatalf("unseal = %d, %q", code, stderr)
			}
		}
	}
	unsealWith(shares.Items[0].File, shares.Items[2].File)
	m := regexp.MustCompile(`msg="serving partners \(mutual TLS\)" addr=(\S+)`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no partner listener in the log:\n%s", logs.String())
	}
	pc := w.partnerClient(t, "https://"+m[1], w.partner)
	other := w.partnerClient(t, "https://"+m[1], w.other)

	officer := loginOperator(t, base, "sofia", w.ops["sofia"])
	tokens := map[string]string{}
	for _, name := range []string{"eve", "mallory", "paul"} {
		tokens[name] = loginOperator(t, base, name, w.ops[name])
	}
	if st, body := pc.call("POST", "/v1/subjects/lookup", "", map[string]string{"field": "email_pro", "value": w.partnerEmail}); st != http.StatusUnauthorized {
		t.Errorf("a partner lookup without its API key = %d %s, want 401", st, body)
	}
	pseudonym := pc.lookup(t, w.partner.APIKey, w.partnerEmail)
	if st, body := pc.call("GET", "/v1/subjects/"+pseudonym, w.partner.APIKey, nil); st != http.StatusOK {
		t.Fatalf("the partner's read before the incident = %d %s", st, body)
	}
	otherPseudonym := other.lookup(t, w.other.APIKey, w.partnerEmail)

	// The read load: each caseworker reads its caseload in a loop, and
	// the partner outside the scope reads its person.
	readers := map[string]func() int{}
	for name, token := range tokens {
		var i int
		readers[name] = func() int {
			i++
			st, _ := readSubject(base, token, w.caseloads[name][i%len(w.caseloads[name])])
			return st
		}
	}
	readers["cap-emploi"] = func() int {
		st, _ := other.call("GET", "/v1/subjects/"+otherPseudonym, w.other.APIKey, nil)
		return st
	}
	load := startReads(readers)
	defer load.stop()
	load.waitAll(t, http.StatusOK, time.Time{})

	// Refusals: no incident yet, a caseworker, an unknown act.
	unknown := incident.NewID()
	contain := func(token, id string, body any) (int, []byte) {
		t.Helper()
		return send(t, "POST", base+"/v1/incidents/"+id+"/contain", token, nil, body)
	}
	if st, body := contain(officer, unknown, map[string]string{"act": "revoke"}); st != http.StatusNotFound || !strings.Contains(string(body), "no such incident") {
		t.Errorf("contain on an unknown incident = %d %s, want 404 no such incident", st, body)
	}
	if st, body := contain(officer, "inc_NOT-AN-ID", map[string]string{"act": "revoke"}); st != http.StatusBadRequest {
		t.Errorf("contain on a malformed incident id = %d %s, want 400", st, body)
	}

	aware := time.Now().UTC()
	st, body := send(t, "POST", base+"/v1/incidents", officer, nil, map[string]any{
		"title": "two caseworker accounts and a partner's credentials stolen", "nature": []string{"confidentiality"},
		"aware": aware, "detection": "guard alert",
		"scope": map[string]any{"operators": []string{w.ops["eve"].Operator.ID, w.ops["mallory"].Operator.ID}, "partners": []string{w.partner.Partner.ID}, "from": aware.Add(-time.Hour)},
	})
	var opened vault.IncidentView
	if st != http.StatusCreated || json.Unmarshal(body, &opened) != nil || opened.Incident == nil {
		t.Fatalf("open the incident = %d %s", st, body)
	}
	id := opened.Incident.ID

	if st, body := contain(tokens["paul"], id, map[string]string{"act": "seal"}); st != http.StatusForbidden {
		t.Errorf("a caseworker's containment = %d %s, want 403", st, body)
	}
	var refusal struct {
		Error struct{ Code, Message, Hint string }
	}
	st, body = contain(officer, id, map[string]string{"act": "unplug"})
	if json.Unmarshal(body, &refusal); st != http.StatusBadRequest || !strings.Contains(refusal.Error.Message, `unknown act "unplug"`) || !strings.Contains(refusal.Error.Hint, "revoke-partners") {
		t.Errorf("an unknown act = %d %s, want 400 with the acts in the hint", st, body)
	}
	if st, body := contain(officer, id, map[string]any{"act": "lock", "everyone": true}); st != http.StatusBadRequest {
		t.Errorf("lock of everyone = %d %s, want 400", st, body)
	}

	// Revoke: the two's sessions end; the third reads on.
	res := w.act(t, contain, officer, id, "revoke")
	revoked := time.Now()
	for _, name := range []string{"eve", "mallory"} {
		if st, body := readSubject(base, tokens[name], w.caseloads[name][0]); st != http.StatusUnauthorized {
			t.Errorf("%s's next request after the revoke = %d %s, want 401", name, st, body)
		}
	}
	if st, body := readSubject(base, tokens["paul"], w.caseloads["paul"][0]); st != http.StatusOK {
		t.Errorf("paul's read after the revoke = %d %s, want 200 (not in the scope)", st, body)
	}
	if res.Sessions < 2 || !slices.Contains(res.Accounts, w.ops["eve"].Operator.ID) || !slices.Contains(res.Accounts, w.ops["mallory"].Operator.ID) {
		t.Errorf("revoke = %+v, want the two caseworkers' sessions ended", res)
	}
	load.waitAll(t, http.StatusUnauthorized, revoked, "eve", "mallory")
	load.waitAll(t, http.StatusOK, revoked, "paul")
	load.check(t, "eve", revoked, http.StatusOK)
	load.check(t, "mallory", revoked, http.StatusOK)

	// Revoke partners: the old key and certificate stop working at once;
	// the other partner reads on.
	w.act(t, contain, officer, id, "revoke-partners")
	partnersRevoked := time.Now()
	if st, body := pc.call("GET", "/v1/subjects/"+pseudonym, w.partner.APIKey, nil); st != http.StatusUnauthorized && st != http.StatusForbidden {
		t.Errorf("the partner's read after revoke-partners = %d %s, want 401 or 403", st, body)
	}
	if st, body := pc.call("POST", "/v1/subjects/lookup", w.partner.APIKey, map[string]string{"field": "email_pro", "value": w.partnerEmail}); st != http.StatusUnauthorized && st != http.StatusForbidden {
		t.Errorf("the partner's lookup after revoke-partners = %d %s, want 401 or 403", st, body)
	}
	load.waitAll(t, http.StatusOK, partnersRevoked, "cap-emploi")

	// Lock: the stolen passwords no longer open a session. A manual lock
	// answers as a wrong password does (auth.Login: it must not confirm
	// the password to whoever holds it).
	w.act(t, contain, officer, id, "lock")
	for _, name := range []string{"eve", "mallory"} {
		st, body := send(t, "POST", base+"/v1/auth/login", "", nil, map[string]string{"username": name, "password": w.ops[name].Password})
		if st != http.StatusUnauthorized || !strings.Contains(string(body), "invalid_credentials") || strings.Contains(string(body), "login_token") {
			t.Errorf("%s's login after the lock = %d %s, want 401 invalid_credentials", name, st, body)
		}
	}

	// Seal: nothing leaves once it has answered, on either listener,
	// even while a slow request (a body still on its way) is in the
	// server when the seal comes.
	slow, finish := slowRequest(t, base+"/v1/subjects/lookup", tokens["paul"])
	w.act(t, contain, officer, id, "seal")
	sealed := time.Now()
	time.Sleep(100 * time.Millisecond) // the partner reader tries meanwhile
	for _, r := range []struct{ method, path, token string }{
		{"GET", "/v1/subjects/" + w.caseloads["paul"][0], tokens["paul"]},
		{"POST", "/v1/subjects/lookup", tokens["paul"]},
		{"GET", "/v1/incidents/" + id, officer},
		{"POST", "/v1/incidents/" + id + "/contain", officer},
		{"GET", "/v1/account/sessions", officer},
		{"GET", "/readyz", ""},
	} {
		st, body := send(t, r.method, base+r.path, r.token, map[string]string{"Coffre-Purpose": "case-handling"}, nil)
		if st != http.StatusServiceUnavailable || !strings.Contains(string(body), `"sealed"`) {
			t.Errorf("%s %s after the seal = %d %s, want 503 sealed", r.method, r.path, st, body)
		}
	}
	if st, body := other.call("GET", "/v1/subjects/"+otherPseudonym, w.other.APIKey, nil); st != http.StatusServiceUnavailable && st != 0 {
		t.Errorf("the partner listener after the seal = %d %s, want 503 sealed or closed", st, body)
	}
	load.waitAll(t, http.StatusServiceUnavailable, sealed, "eve", "mallory", "paul")
	load.stop()
	for _, name := range load.names {
		load.check(t, name, sealed, http.StatusOK)
	}
	finish()
	if st := <-slow; st == http.StatusServiceUnavailable || st == 0 {
		t.Errorf("the slow request = %d: it was not in the server across the seal", st)
	}
	t.Logf("reads (status: count, of which after the seal): %s", load.summary(sealed))

	// Unsealed again, the incident holds the acts, by the officer.
	unsealWith(shares.Items[1].File, shares.Items[2].File)
	var view vault.IncidentView
	if st, body := send(t, "GET", base+"/v1/incidents/"+id, officer, nil, nil); st != http.StatusOK || json.Unmarshal(body, &view) != nil {
		t.Fatalf("GET the incident after the unseal = %d %s", st, body)
	}
	if view.Incident.Status != incident.Contained {
		t.Errorf("status = %q, want %q", view.Incident.Status, incident.Contained)
	}
	var kinds []string
	for _, e := range view.Events {
		kinds = append(kinds, e.Kind)
		if e.Actor != w.ops["sofia"].Operator.ID {
			t.Errorf("event %s by %q, want the officer %s", e.Kind, e.Actor, w.ops["sofia"].Operator.ID)
		}
	}
	if want := []string{"opened", "revoke", "revoke-partners", "lock", "seal"}; !slices.Equal(kinds, want) {
		t.Errorf("timeline = %v, want %v", kinds, want)
	}
	for _, e := range view.Events {
		if e.Kind == "revoke-partners" && !strings.Contains(e.Detail, w.partner.Partner.ID) {
			t.Errorf("revoke-partners detail %q does not name the partner", e.Detail)
		}
		if e.Kind == "lock" && (!strings.Contains(e.Detail, w.ops["eve"].Operator.ID) || !strings.Contains(e.Detail, w.ops["mallory"].Operator.ID)) {
			t.Errorf("lock detail %q does not name the two caseworkers", e.Detail)
		}
	}
}

// containWorld is what the host set up before the server started: the
// accounts and their credentials, the people and who reads whom.
type containWorld struct {
	ops          map[string]*auth.NewOperator // by username
	partner      *auth.NewPartner             // in the incident's scope
	other        *auth.NewPartner             // outside it
	partnerEmail string                       // a person's email_pro the partner looks up
	caPEM        []byte                       // Coffre's CA, which signs the partner listener's certificate
	caseloads    map[string][]string          // caseworker → subject ids
}

// setUpContainment adds, on the host with two shares, a security officer,
// three caseworkers of one unit with two people each in their caseload,
// and a partner of that unit.
func setUpContainment(t *testing.T, dir string, shares keysInitJSON) *containWorld {
	t.Helper()
	ctx := t.Context()
	a, err := openApp(ctx, appOptions{configPath: demoYAML, dataDir: dir, shareFiles: []string{shares.Items[0].File, shares.Items[1].File}}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	unit := synth.Make(7, 0).Unit
	w := &containWorld{ops: map[string]*auth.NewOperator{}, caseloads: map[string][]string{}, caPEM: a.ca.CertPEM()}
	for name, role := range map[string]string{"sofia": "security-officer", "eve": "caseworker", "mallory": "caseworker", "paul": "caseworker"} {
		if w.ops[name], err = a.auth.AddReadyOperator(ctx, name, "", role, unit); err != nil {
			t.Fatal(err)
		}
	}
	var rows []vault.ImportRow
	for i, name := range []string{"eve", "eve", "mallory", "mallory", "paul", "paul"} {
		p := synth.Make(7, i)
		rows = append(rows, vault.ImportRow{Num: i + 1, Unit: unit, Fields: p.Fields, Caseworker: name})
		if i == 0 {
			w.partnerEmail = p.Fields["email_pro"]
		}
	}
	ids, bad, err := a.vault.Import(ctx, identity.Actor{ID: "cli-import", Role: "admin", Origin: "cli"}, rows)
	if err != nil || len(bad) > 0 {
		t.Fatalf("import: %v %+v", err, bad)
	}
	for i, row := range rows {
		w.caseloads[row.Caseworker] = append(w.caseloads[row.Caseworker], ids[i])
	}
	if w.partner, err = a.auth.AddPartner(ctx, a.ca, "mission-locale", "employment", "partner", unit); err != nil {
		t.Fatal(err)
	}
	if w.other, err = a.auth.AddPartner(ctx, a.ca, "cap-emploi", "disability", "partner", unit); err != nil {
		t.Fatal(err)
	}
	return w
}

// act runs one act of containment by the officer and returns its result.
func (w *containWorld) act(t *testing.T, contain func(token, id string, body any) (int, []byte), officer, id, act string) containResult {
	t.Helper()
	st, body := contain(officer, id, map[string]string{"act": act})
	var res containResult
	if st != http.StatusOK || json.Unmarshal(body, &res) != nil || res.Act != act || res.Incident == nil {
		t.Fatalf("contain %s = %d %s", act, st, body)
	}
	if res.Incident.Status != incident.Contained {
		t.Errorf("after %s the incident is %q, want %q", act, res.Incident.Status, incident.Contained)
	}
	return res
}

// containResult is the answer of POST /v1/incidents/{id}/contain
// (contain.Result).
type containResult struct {
	Act      string             `json:"act"`
	Accounts []string           `json:"accounts"`
	Sessions int                `json:"sessions"`
	Detail   string             `json:"detail"`
	Incident *incident.Incident `json:"incident"`
}

// partnerClient is a client of the partner listener at url with the
// partner's certificate.
type partnerClient struct {
	url string
	c   *http.Client
}

func (w *containWorld) partnerClient(t *testing.T, url string, p *auth.NewPartner) *partnerClient {
	t.Helper()
	cert, err := tls.X509KeyPair(p.Cert.CertPEM, p.Cert.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(w.caPEM) {
		t.Fatal("no CA certificate")
	}
	return &partnerClient{url: url, c: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}}}}
}

// call sends a partner request under the referral purpose; a request the
// listener does not answer (closed) is status 0.
func (p *partnerClient) call(method, path, key string, body any) (int, string) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, p.url+path, rd)
	req.Header.Set("Coffre-Purpose", "referral")
	req.Header.Set("Coffre-Api-Key", key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := p.c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// lookup returns the partner's pseudonym of the person with email.
func (p *partnerClient) lookup(t *testing.T, key, email string) string {
	t.Helper()
	st, body := p.call("POST", "/v1/subjects/lookup", key, map[string]string{"field": "email_pro", "value": email})
	var out struct {
		ID string `json:"id"`
	}
	if st != http.StatusOK || json.Unmarshal([]byte(body), &out) != nil || out.ID == "" {
		t.Fatalf("the partner's lookup = %d %s", st, body)
	}
	return out.ID
}

// readSubject reads subject id under case-handling with token; a transport
// error is status 0.
func readSubject(base, token, id string) (int, string) {
	req, _ := http.NewRequest("GET", base+"/v1/subjects/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Coffre-Purpose", "case-handling")
	res, err := readClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

var readClient = &http.Client{Timeout: 10 * time.Second}

// readResult is one read of the load: when it started and ended, and its
// status.
type readResult struct {
	start, end time.Time
	status     int
}

// readLoad is readers reading in a loop, one goroutine each, until
// stopped.
type readLoad struct {
	mu      sync.Mutex
	names   []string
	results map[string][]readResult
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

func startReads(readers map[string]func() int) *readLoad {
	ctx, cancel := context.WithCancel(context.Background())
	l := &readLoad{names: slices.Sorted(maps.Keys(readers)), results: map[string][]readResult{}, cancel: cancel}
	for name, read := range readers {
		l.wg.Go(func() {
			for ctx.Err() == nil {
				start := time.Now()
				st := read()
				l.mu.Lock()
				l.results[name] = append(l.results[name], readResult{start, time.Now(), st})
				l.mu.Unlock()
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
	return l
}

// stop ends the load and waits for its readers.
func (l *readLoad) stop() {
	l.cancel()
	l.wg.Wait()
}

// waitAll waits until each reader named (all if none) has had a read of
// status that started after since.
func (l *readLoad) waitAll(t *testing.T, status int, since time.Time, names ...string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if len(names) == 0 {
			names = l.names
		}
		l.mu.Lock()
		missing := ""
		for _, name := range names {
			if !slices.ContainsFunc(l.results[name], func(r readResult) bool { return r.status == status && r.start.After(since) }) {
				missing = name
			}
		}
		l.mu.Unlock()
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %d for %s's reads after %v: %s", status, missing, since.Format(time.StampMicro), l.summary(since))
		}
	}
}

// check fails the test if one of name's reads that started after since
// answered status.
func (l *readLoad) check(t *testing.T, name string, since time.Time, status int) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.results[name] {
		if r.status == status && r.start.After(since) {
			t.Errorf("%s: a read that started %v after the act's answer returned %d (answered %v after it)", name, r.start.Sub(since), status, r.end.Sub(since))
			return
		}
	}
}

// summary counts the statuses of each reader, and those that started
// after since.
func (l *readLoad) summary(since time.Time) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, name := range l.names {
		all, after := map[int]int{}, map[int]int{}
		for _, r := range l.results[name] {
			all[r.status]++
			if r.start.After(since) {
				after[r.status]++
			}
		}
		fmt.Fprintf(&b, "%s:", name)
		for _, st := range slices.Sorted(maps.Keys(all)) {
			fmt.Fprintf(&b, " %d: %d (%d)", st, all[st], after[st])
		}
		b.WriteString("; ")
	}
	return b.String()
}

// slowRequest posts to url a body whose first bytes are sent and the rest
// held back until finish: a request in the server's handler meanwhile. Its
// status comes on the channel (0: no answer).
func slowRequest(t *testing.T, url, token string) (<-chan int, func()) {
	t.Helper()
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", url, pr)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Coffre-Purpose", "case-handling")
	req.Header.Set("Content-Type", "application/json")
	status := make(chan int, 1)
	go func() {
		res, err := readClient.Do(req)
		if err != nil {
			status <- 0
			return
		}
		res.Body.Close()
		status <- res.StatusCode
	}()
	if _, err := pw.Write([]byte(`{"field": "email_pro", `)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // in the handler, reading the body
	return status, func() {
		pw.Write([]byte(`"value": "nobody@example.org"}`))
		pw.Close()
	}
}
