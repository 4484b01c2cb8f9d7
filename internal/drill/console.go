package drill

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// consoleSession is a stolen login used through the web console's HTML
// forms, as a browser (or a script posing as one) would: cookies, the
// forms' CSRF tokens, no API.
type consoleSession struct {
	c    *client
	a    *Account
	http *http.Client
	csrf string // the find form's token, bound to the session
}

var (
	csrfField  = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	loginField = regexp.MustCompile(`name="login_token" value="([^"]+)"`)
)

// consoleLogin signs a in through the console's forms (password, then the
// TOTP code of the simulated time). It returns nil when the console
// refuses the login (locked, wrong code).
func (c *client) consoleLogin(ctx context.Context, a *Account) (*consoleSession, error) {
	jar, _ := cookiejar.New(nil)
	cs := &consoleSession{c: c, a: a, http: &http.Client{Transport: c.http.Transport, Timeout: c.http.Timeout, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	_, page, err := cs.send(ctx, http.MethodGet, "/console/", nil)
	if err != nil {
		return nil, err
	}
	st, page, err := cs.send(ctx, http.MethodPost, "/console/signin", url.Values{"csrf": {field(csrfField, page)}, "username": {a.Name}, "password": {a.Password}})
	if err != nil || st != http.StatusOK {
		return nil, err
	}
	code, err := totp.GenerateCodeCustom(a.Secret, c.env.Clock.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return nil, err
	}
	st, _, err = cs.send(ctx, http.MethodPost, "/console/totp", url.Values{"csrf": {field(csrfField, page)}, "login_token": {field(loginField, page)}, "code": {code}})
	if err != nil || st != http.StatusSeeOther {
		return nil, err
	}
	if _, page, err = cs.send(ctx, http.MethodGet, "/console/", nil); err != nil {
		return nil, err
	}
	cs.csrf = field(csrfField, page)
	return cs, nil
}

// find submits the console's find form: a lookup by an exact value and,
// when it finds someone, the read of their record, in one answer.
func (cs *consoleSession) find(ctx context.Context, purpose, lookupField, value, reason string) (int, error) {
	st, _, err := cs.send(ctx, http.MethodPost, "/console/find", url.Values{"csrf": {cs.csrf}, "purpose": {purpose}, "field": {lookupField}, "value": {value}, "reason": {reason}})
	return st, err
}

// send sends a request from the account's origin and returns the status
// and the page.
func (cs *consoleSession) send(ctx context.Context, method, path string, form url.Values) (int, string, error) {
	resp, err := cs.c.nodes.send(ctx, cs.http, func(base string) (*http.Request, error) {
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequestWithContext(ctx, method, base+path, body)
		if err != nil {
			return nil, err
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		req.Header.Set("X-Forwarded-For", cs.a.Origin)
		return req, nil
	})
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", err
	}
	if resp.StatusCode >= 500 && resp.StatusCode != http.StatusServiceUnavailable {
		return resp.StatusCode, "", fmt.Errorf("%s %s: %d", method, path, resp.StatusCode)
	}
	return resp.StatusCode, string(b), nil
}

// field returns the first match of re's group in page, or "".
func field(re *regexp.Regexp, page string) string {
	if m := re.FindStringSubmatch(page); m != nil {
		return m[1]
	}
	return ""
}

// consoleScrape: the leaked-emails attack through the web console instead
// of the API — a stolen caseworker login (password and authenticator)
// signs in to the console and submits its find form with each address of
// a leaked list, each hit opening the record. The console is the API's
// access code behind HTML forms: the same guard locks it.
func consoleScrape(ctx context.Context, d *Drill, s *scenarioRun) error {
	a, err := d.account(ctx, s, "caseworker", d.units()[len(d.units())-1], 250, "198.51.100.23")
	if err != nil {
		return err
	}
	cs, err := d.client.consoleLogin(ctx, a)
	if err != nil || cs == nil {
		return err
	}
	for range 3000 {
		email := d.Env.Emails[d.rng.IntN(len(d.Env.Emails))]
		if d.rng.IntN(10) < 3 {
			email = fmt.Sprintf("%d.%s", d.rng.IntN(90)+10, email) // not in the vault
		}
		st, err := cs.find(ctx, "case-handling", "email_pro", email, attackReason)
		s.count(st)
		switch {
		case err != nil:
			return err
		case st == http.StatusLocked:
			return nil // the guard locked the account: the session reads nothing more
		case st == http.StatusUnauthorized:
			if cs, err = d.client.consoleLogin(ctx, a); err != nil || cs == nil {
				return err // no new session: the account is locked
			}
		}
	}
	return nil
}
