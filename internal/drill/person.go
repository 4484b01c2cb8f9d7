package drill

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	api "github.com/coffre/coffre/client"
)

// personSignin attacks the sign-in of persons (/v1/me/…), the one route
// that answers anyone about a contact:
//
//   - enumeration: 40 addresses from one origin, every other one from the
//     leaked directory (the rest made up), to learn who has a record.
//     Counted: whether any answer tells them apart (status, body length),
//     and how many answers the address gets before the limit;
//   - brute force: one person's code guessed from a new address after
//     each lock, for a simulated hour. Counted: guesses checked, sessions
//     obtained (none), locks;
//   - a flood of codes at one person (an SMS bomb) from 10 addresses.
//     Counted: the codes queued to them;
//   - a stolen person's credential (their mailbox): the attacker signs in
//     as them, reads their history, and tries other people's records, the
//     lookup and the audit log. Counted: anything about others.
func personSignin(ctx context.Context, d *Drill, s *scenarioRun) error {
	f := map[string]int{}
	s.figures = f
	c := d.client
	n := len(d.Env.Emails)
	if n < 50 {
		return fmt.Errorf("person-signin: the directory has %d people, want 50 or more", n)
	}
	used := map[int]bool{}
	pick := func() int { // a person not picked before in this run
		for {
			if j := d.rng.IntN(n); !used[j] {
				used[j] = true
				return j
			}
		}
	}
	run := d.nameN
	d.nameN++

	// Enumeration.
	sig := map[bool]map[string]bool{true: {}, false: {}}
	origin := fmt.Sprintf("198.51.%d.23", 100+run%100)
	for i := range 40 {
		known := i%2 == 0
		contact := fmt.Sprintf("nobody%d.%d@example.org", run, i)
		if known {
			contact = d.Env.Emails[pick()]
		}
		st, body, err := c.raw(ctx, "POST", "/v1/me/login", origin, "", map[string]string{"contact": contact})
		if err != nil {
			return err
		}
		s.count(st)
		if st == http.StatusTooManyRequests {
			continue
		}
		f["answered_before_limit"]++
		var out map[string]string
		json.Unmarshal(body, &out)
		sig[known][fmt.Sprintf("%d/%d/%d", st, len(body), len(out))] = true
	}
	if len(sig[true]) != len(sig[false]) {
		f["oracle_distinguishable"] = 1
	}
	for k := range sig[true] {
		if !sig[false][k] {
			f["oracle_distinguishable"] = 1
		}
	}

	// Brute force of one person's code, over a simulated hour.
	victim := d.Env.Emails[pick()]
	end := d.Env.Clock.Now().Add(time.Hour)
	for round := 0; d.Env.Clock.Now().Before(end); round++ {
		from := fmt.Sprintf("203.0.%d.%d", 113+run%100, round+1)
		var lr struct {
			LoginToken string `json:"login_token"`
		}
		st, err := c.do(ctx, "POST", "/v1/me/login", from, "", nil, map[string]string{"contact": victim}, &lr)
		if err != nil {
			return err
		}
		s.count(st)
		if st == http.StatusOK {
			for g := 0; ; g++ {
				st, err := c.do(ctx, "POST", "/v1/me/login/code", from, "", nil, map[string]string{"login_token": lr.LoginToken, "code": fmt.Sprintf("%06d", (round*7919+g*104729)%1000000)}, nil)
				if err != nil {
					return err
				}
				s.count(st)
				if st == http.StatusOK {
					f["sessions_obtained"]++
				}
				if st != http.StatusUnauthorized {
					if st == http.StatusLocked {
						f["contact_locks"]++
					}
					break
				}
				f["code_guesses"]++
			}
		}
		d.Env.Clock.Set(d.Env.Clock.Now().Add(5 * time.Minute))
	}

	// A flood of codes at one person.
	target := d.Env.Emails[pick()]
	for i := range 10 {
		st, err := c.do(ctx, "POST", "/v1/me/login", fmt.Sprintf("192.0.%d.%d", 2+run%100, 10+i), "", nil, map[string]string{"contact": target}, nil)
		if err != nil {
			return err
		}
		s.count(st)
		if st == http.StatusOK {
			f["codes_to_one_person"]++
		}
	}

	// A stolen credential: the person's mailbox.
	j := pick()
	from := fmt.Sprintf("192.0.%d.200", 2+run%100)
	var lr struct {
		LoginToken string `json:"login_token"`
	}
	if st, err := c.do(ctx, "POST", "/v1/me/login", from, "", nil, map[string]string{"contact": d.Env.Emails[j]}, &lr); err != nil || st != http.StatusOK {
		return fmt.Errorf("person-signin: a person's code request: %d, %v", st, err)
	}
	code, err := d.Env.PersonCode(ctx, d.Env.IDs[j])
	if err != nil {
		return err
	}
	var ses struct {
		Token string `json:"token"`
	}
	if st, err := c.do(ctx, "POST", "/v1/me/login/code", from, "", nil, map[string]string{"login_token": lr.LoginToken, "code": code}, &ses); err != nil || st != http.StatusOK {
		return fmt.Errorf("person-signin: the stolen code: %d, %v", st, err)
	}
	if st, _, err := c.raw(ctx, "GET", "/v1/me/accesses", from, ses.Token, nil); err != nil {
		return err
	} else if st == http.StatusOK || st == http.StatusServiceUnavailable {
		f["own_history_read"]++
	}
	for range 10 {
		other := d.Env.IDs[pick()]
		for _, r := range []struct {
			method, path string
			body         any
		}{
			{"GET", "/v1/subjects/" + other, nil},
			{"POST", "/v1/subjects/lookup", map[string]string{"field": "email_pro", "value": d.Env.Emails[pick()]}},
			{"GET", "/v1/audit/entries?from=1&to=100", nil},
			{"GET", "/v1/me/accesses?subject=" + other, nil}, // a parameter is no way to another's history
		} {
			st, body, err := c.raw(ctx, r.method, r.path, from, ses.Token, r.body)
			if err != nil {
				return err
			}
			s.count(st)
			if st < 300 && (r.path[:8] != "/v1/me/a" || bytes.Contains(body, []byte(other)) && other != d.Env.IDs[j]) {
				f["other_people_reached"]++
			}
		}
	}
	return nil
}

// raw sends one request as Coffre-Purpose case-handling would be sent,
// and returns the status and the body of an answer under 400.
func (c *client) raw(ctx context.Context, method, path, origin, token string, body any) (int, []byte, error) {
	h := http.Header{}
	h.Set("X-Forwarded-For", origin)
	h.Set("Coffre-Purpose", "case-handling")
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	var out json.RawMessage
	st, err := c.nodes.do(ctx, func(a *api.Client) (int, error) { return a.Do(ctx, method, path, h, body, &out) })
	var e *api.Error
	if errors.As(err, &e) {
		return e.Status, nil, nil
	}
	return st, out, err
}
