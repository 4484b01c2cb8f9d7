package drill

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// partnerHijack: a partner's client certificate and API key are stolen.
// The attacker pulls records as fast as it can (lookups from a leaked list
// of emails, each hit read at once, eight clients), then, once refused,
// slowly: one try every ten simulated minutes for a simulated day, in case
// the block was only a rate limit. Counted from the audit log: records
// returned before the partner was locked.
func partnerHijack(ctx context.Context, d *Drill, s *scenarioRun) error {
	if d.Env.AddPartner == nil || d.Env.PartnerURL == "" {
		return fmt.Errorf("the server has no partner listener")
	}
	unit := d.units()[4]
	creds, err := d.Env.AddPartner(ctx, fmt.Sprintf("hijacked-%d", d.nameN), "employment", unit)
	if err != nil {
		return err
	}
	d.nameN++
	s.accounts = append(s.accounts, &Account{ID: creds.ID, Name: "partner", Role: "partner", Unit: unit})
	cert, err := tls.X509KeyPair(creds.CertPEM, creds.KeyPEM)
	if err != nil {
		return err
	}
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16,
		TLSClientConfig: &tls.Config{RootCAs: d.Env.CA, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}}}
	// The leaked list: people of the partner's own unit first (the worst
	// case), then anyone.
	var emails []string
	own := d.byUnit[unit]
	for _, j := range own[:min(2000, len(own))] {
		emails = append(emails, d.Env.Emails[j])
	}
	for range 3000 {
		emails = append(emails, d.Env.Emails[d.rng.IntN(len(d.Env.Emails))])
	}
	pull := func(email string) (int, error) {
		var out struct {
			ID string `json:"id"`
		}
		st, err := partnerCall(ctx, c, d.Env.PartnerURL, "POST", "/v1/subjects/lookup", creds.APIKey, map[string]string{"field": "email_pro", "value": email}, &out)
		s.count(st)
		if err != nil || st != http.StatusOK {
			return st, err
		}
		st, err = partnerCall(ctx, c, d.Env.PartnerURL, "GET", "/v1/subjects/"+out.ID, creds.APIKey, nil, nil)
		s.count(st)
		return st, err
	}
	// Fast: eight clients until the server refuses for good.
	var next atomic.Int64
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for !stop.Load() {
				i := int(next.Add(1) - 1)
				if i >= len(emails) {
					return
				}
				st, err := pull(emails[i])
				if err != nil {
					errs <- err
					stop.Store(true)
					return
				}
				if st == http.StatusLocked || st == http.StatusUnauthorized {
					stop.Store(true)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	// Slow: every ten simulated minutes for a day.
	i := int(next.Load())
	for range 6 * 24 {
		d.Env.Clock.Set(d.Env.Clock.Now().Add(10 * time.Minute))
		if _, err := pull(emails[i%len(emails)]); err != nil {
			return err
		}
		i++
	}
	return nil
}

// partnerCall sends one partner request and decodes a 200 answer into out.
func partnerCall(ctx context.Context, c *http.Client, base, method, path, key string, body, out any) (int, error) {
	var rd *jsonBody
	if body != nil {
		rd = newJSONBody(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd.reader())
	if err != nil {
		return 0, err
	}
	req.Header.Set("Coffre-Api-Key", key)
	req.Header.Set("Coffre-Purpose", "referral")
	req.Header.Set("Coffre-Reason", attackReason)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if out != nil && res.StatusCode == http.StatusOK {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			return res.StatusCode, err
		}
	}
	if res.StatusCode >= 500 {
		return res.StatusCode, fmt.Errorf("%s %s: %d", method, path, res.StatusCode)
	}
	return res.StatusCode, nil
}
