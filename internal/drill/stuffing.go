package drill

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// credentialStuffing: 10,000 login attempts over 500 accounts from one
// address (loopback, like every regular of the drill's office), the real
// password among an account's 20 candidates for one account in ten, tried
// round-robin (one try per account every few minutes: the slow kind). The
// attacker honours Retry-After in simulated time. Meanwhile 20 regulars
// who logged in from the same address before log in once a simulated
// minute. Counted: sessions obtained (must be none: the second factor
// stands), target accounts locked (all), regular logins refused (none).
func credentialStuffing(ctx context.Context, d *Drill, s *scenarioRun) error {
	const targets, perAccount, regulars, origin = 500, 20, 20, "127.0.0.1"
	units := d.units()
	accs := make([]*Account, targets+regulars)
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < len(accs); i += 4 {
				a, err := d.Env.AddOperator(ctx, fmt.Sprintf("stuffing-%d-%d", d.nameN, i), "caseworker", units[i%len(units)])
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				a.Origin = origin
				accs[i] = a
			}
		})
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return err
	}
	d.nameN++
	s.accounts = accs[:targets]
	regs := accs[targets:]
	f := map[string]int{"targets": targets}
	s.figures = f
	// The regulars' usual logins, before the attack.
	for _, a := range regs {
		se, err := d.client.login(ctx, a)
		if err != nil {
			return err
		}
		if se.token == "" {
			return fmt.Errorf("regular %s could not log in before the attack: %d", a.Name, se.loginStatus)
		}
		d.Env.Clock.Set(d.Env.Clock.Now().Add(31 * time.Second)) // next TOTP step
	}
	type attempt struct {
		acc      *Account
		password string
	}
	var list []attempt
	for k := range perAccount {
		for j, a := range accs[:targets] {
			pw := fmt.Sprintf("Summer%d!%d", 2000+k, j)
			if j%10 == 0 && k == j%perAccount {
				pw = a.Password // the leaked one
			}
			list = append(list, attempt{a, pw})
		}
	}
	var next, reg int
	var mu sync.Mutex
	for next < len(list) {
		minute := d.Env.Clock.Now().Truncate(time.Minute).Add(time.Minute)
		// A regular logs in.
		if se, err := d.client.login(ctx, regs[reg%regulars]); err != nil {
			return err
		} else if se.token != "" {
			f["regular_logins_ok"]++
		} else {
			f["regular_logins_failed"]++
		}
		reg++
		// The attacker until the address is throttled.
		var throttled atomic.Bool
		var werr error
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				for !throttled.Load() {
					mu.Lock()
					if next >= len(list) {
						mu.Unlock()
						return
					}
					at := list[next]
					next++
					mu.Unlock()
					st, got, err := d.client.stuff(ctx, at.acc, at.password)
					mu.Lock()
					f["attempts"]++
					switch {
					case err != nil:
						werr = err
						throttled.Store(true)
					case st == http.StatusTooManyRequests:
						f["throttled"]++
						throttled.Store(true)
					case st == http.StatusOK:
						f["password_accepted"]++
						if got {
							f["sessions_obtained"]++
						}
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if werr != nil {
			return werr
		}
		d.Env.Clock.Set(minute)
	}
	f["simulated_minutes"] = int(d.Env.Clock.Now().Sub(s.start).Minutes())
	for _, a := range accs[:targets] {
		code, err := d.Env.Locked(ctx, a.ID)
		if err != nil {
			return err
		}
		if code != "" {
			f["targets_locked"]++
		}
	}
	return nil
}

// stuff tries a password; when it is accepted, the attacker, who has no
// second factor, guesses a code. It returns the password step's status and
// whether a session was obtained.
func (c *client) stuff(ctx context.Context, a *Account, password string) (int, bool, error) {
	var lr struct {
		LoginToken string `json:"login_token"`
	}
	st, err := c.do(ctx, "POST", "/v1/auth/login", a.Origin, "", nil, map[string]string{"username": a.Name, "password": password}, &lr)
	if err != nil || st != http.StatusOK {
		return st, false, err
	}
	var tr struct {
		Token string `json:"token"`
	}
	ts, err := c.do(ctx, "POST", "/v1/auth/totp", a.Origin, "", nil, map[string]string{"login_token": lr.LoginToken, "code": "123456"}, &tr)
	return st, ts == http.StatusOK && tr.Token != "", err
}
