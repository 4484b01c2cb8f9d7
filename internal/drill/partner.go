package drill

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	api "github.com/coffre/coffre/client"
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
	pl, err := d.newPuller(creds, unit)
	if err != nil {
		return err
	}
	if _, err := pl.burst(ctx, s); err != nil {
		return err
	}
	// Slow: every ten simulated minutes for a day.
	for range 6 * 24 {
		d.Env.Clock.Set(d.Env.Clock.Now().Add(10 * time.Minute))
		if _, err := pl.pull(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// puller reads records through the partner listener with a partner's
// credentials: a lookup of the next email of a leaked list, and a read of
// what it finds.
type puller struct {
	d      *Drill
	c      *http.Client
	creds  *PartnerCreds
	emails []string
	next   atomic.Int64
}

// newPuller returns a puller with creds whose leaked list holds people of
// the partner's own unit first (the worst case), then anyone.
func (d *Drill) newPuller(creds *PartnerCreds, unit string) (*puller, error) {
	cert, err := tls.X509KeyPair(creds.CertPEM, creds.KeyPEM)
	if err != nil {
		return nil, err
	}
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16,
		TLSClientConfig: &tls.Config{RootCAs: d.Env.CA, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}}}
	pl := &puller{d: d, c: c, creds: creds}
	own := d.byUnit[unit]
	for _, j := range own[:min(2000, len(own))] {
		pl.emails = append(pl.emails, d.Env.Emails[j])
	}
	d.mu.Lock()
	for range 3000 {
		pl.emails = append(pl.emails, d.Env.Emails[d.rng.IntN(len(d.Env.Emails))])
	}
	d.mu.Unlock()
	return pl, nil
}

// pull looks the next email of the list up and reads what it finds; it
// returns the status of its last request.
func (pl *puller) pull(ctx context.Context, s *scenarioRun) (int, error) {
	d := pl.d
	email := pl.emails[int(pl.next.Add(1)-1)%len(pl.emails)]
	var out struct {
		ID string `json:"id"`
	}
	st, err := partnerCall(ctx, pl.c, d.partners, "POST", "/v1/subjects/lookup", pl.creds.APIKey, map[string]string{"field": "email_pro", "value": email}, &out)
	s.count(st)
	if err != nil || st != http.StatusOK {
		return st, err
	}
	st, err = partnerCall(ctx, pl.c, d.partners, "GET", "/v1/subjects/"+out.ID, pl.creds.APIKey, nil, nil)
	s.count(st)
	return st, err
}

// burst pulls with eight clients as fast as the server answers, through
// the list, until the server refuses for good (423, 401); it returns the
// last refusal's status (200 if none).
func (pl *puller) burst(ctx context.Context, s *scenarioRun) (int, error) {
	var stop atomic.Bool
	var last atomic.Int64
	last.Store(http.StatusOK)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for !stop.Load() {
				if int(pl.next.Load()) >= len(pl.emails) {
					return
				}
				st, err := pl.pull(ctx, s)
				if err != nil {
					errs <- err
					stop.Store(true)
					return
				}
				if st == http.StatusLocked || st == http.StatusUnauthorized {
					last.Store(int64(st))
					stop.Store(true)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return int(last.Load()), <-errs
}

// partnerCall sends one partner request, through the public client
// package with the partner's own TLS client, and decodes a 2xx answer
// into out.
func partnerCall(ctx context.Context, c *http.Client, to *nodes, method, path, key string, body, out any) (int, error) {
	h := http.Header{}
	h.Set("Coffre-Api-Key", key)
	h.Set("Coffre-Purpose", "referral")
	h.Set("Coffre-Reason", attackReason)
	st, err := to.doWith(ctx, c, func(a *api.Client) (int, error) { return a.Do(ctx, method, path, h, body, out) })
	var e *api.Error
	switch {
	case errors.As(err, &e) && e.Status >= 500:
		return e.Status, fmt.Errorf("%s %s: %d", method, path, e.Status)
	case errors.As(err, &e):
		return e.Status, nil
	}
	return st, err
}
