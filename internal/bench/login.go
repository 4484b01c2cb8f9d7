package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/store"
)

// LoginBound is the largest relative difference between the two medians
// of a [LoginBench] that still counts as no timing oracle (issue 11).
const LoginBound = 0.02

// LoginBench measures the password step of POST /v1/auth/login from the
// outside, as a client probing for usernames would: a wrong password for
// an existing account, and an attempt for a username no account has.
// Attempts go in pairs, one of each kind, the order alternating from pair
// to pair, one request at a time: both kinds see the same machine, the
// same store and the same moments of noise, and neither always runs
// second. Every attempt has a fresh random password and every unknown
// username is new, as in a list of leaked credentials.
//
// Afterwards it reads the audit log the run added: one login.password
// entry per attempt, warm-up included, and none holding a username tried.
//
// The server must let the run through: the per-address throttle and the
// account lock raised out of reach, or every attempt after the limits is
// a 429 (or counted as a lock), which the bench reports as errors.
type LoginBench struct {
	URL      string       // the server, "http://127.0.0.1:8080"
	Client   *http.Client // nil: one keep-alive connection of its own
	Attempts int          // measured attempts of each kind
	Warmup   int          // unmeasured attempts of each kind, first
	Accounts int          // existing accounts, the known attempts' targets in turn
	// AddOperator creates an account named username, with a password the
	// bench does not need.
	AddOperator func(ctx context.Context, username string) error
	// Store is the server's store, read for the audit check.
	Store store.Store
	Log   io.Writer // progress
}

// The two kinds' usernames: a fixed prefix and 10 random characters, the
// same length, so the audit check can look for the prefixes.
const knownPrefix, unknownPrefix = "staff-", "ghost-"

// LoginReport is a [LoginBench]'s outcome.
type LoginReport struct {
	Attempts, Warmup, Accounts int
	// Known and Unknown are the measured attempts' latencies, sorted:
	// wrong password for an existing account, and unknown username.
	Known, Unknown []time.Duration
	Errors         int    // answers other than 401 invalid_credentials
	FirstError     string // the first one's status and body start
	// AuditEntries counts the login.password entries the run added, for
	// WantEntries attempts; InClear the entries holding a username tried.
	AuditEntries, WantEntries, InClear int
}

// Run creates the accounts, makes the attempts and checks the audit log.
func (b *LoginBench) Run(ctx context.Context) (*LoginReport, error) {
	if b.Attempts < 1 || b.Accounts < 1 || b.Warmup < 0 {
		return nil, errors.New("login bench: want at least one attempt and one account")
	}
	client := b.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: 1, IdleConnTimeout: 90 * time.Second, DisableCompression: true}}
	}
	log := b.Log
	if log == nil {
		log = io.Discard
	}
	accounts := make([]string, b.Accounts)
	for i := range accounts {
		accounts[i] = knownPrefix + randomName()
		if err := b.AddOperator(ctx, accounts[i]); err != nil {
			return nil, fmt.Errorf("add account: %w", err)
		}
	}
	from, err := lastAuditSeq(ctx, b.Store)
	if err != nil {
		return nil, err
	}
	from++
	fmt.Fprintf(log, "%d accounts; %d warm-up and %d measured attempts of each kind, in pairs…\n", b.Accounts, b.Warmup, b.Attempts)
	rep := &LoginReport{Attempts: b.Attempts, Warmup: b.Warmup, Accounts: b.Accounts,
		Known: make([]time.Duration, 0, b.Attempts), Unknown: make([]time.Duration, 0, b.Attempts)}
	start := time.Now()
	for i := range b.Warmup + b.Attempts {
		known := accounts[i%len(accounts)]
		unknown := unknownPrefix + randomName()
		for k := range 2 {
			isKnown := (i+k)%2 == 0 // known first in even pairs, second in odd ones
			name := unknown
			if isKnown {
				name = known
			}
			d, err := loginAttempt(ctx, client, b.URL, name)
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				rep.Errors++
				if rep.FirstError == "" {
					rep.FirstError = err.Error()
				}
				continue
			}
			switch {
			case i < b.Warmup:
			case isKnown:
				rep.Known = append(rep.Known, d)
			default:
				rep.Unknown = append(rep.Unknown, d)
			}
		}
		if n := i + 1 - b.Warmup; n > 0 && n%max(b.Attempts/10, 100) == 0 && n < b.Attempts {
			fmt.Fprintf(log, "%d / %d pairs, %s\n", n, b.Attempts, time.Since(start).Round(time.Second))
		}
	}
	slices.Sort(rep.Known)
	slices.Sort(rep.Unknown)
	rep.WantEntries = 2 * (b.Warmup + b.Attempts)
	err = b.Store.View(ctx, func(ctx context.Context, tx store.Tx) error {
		rep.AuditEntries, rep.InClear = 0, 0
		return tx.AuditLeaves(ctx, from, math.MaxInt64, func(seq int64, leaf []byte) error {
			e, err := audit.ParseLeaf(leaf)
			if err != nil {
				return fmt.Errorf("audit entry %d: %w", seq, err)
			}
			if e.Action == "login.password" {
				rep.AuditEntries++
			}
			// Raw bytes: a username anywhere in the entry, whatever field.
			if bytes.Contains(leaf, []byte(knownPrefix)) || bytes.Contains(leaf, []byte(unknownPrefix)) {
				rep.InClear++
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read the audit log: %w", err)
	}
	return rep, nil
}

// loginAttempt posts one login with a fresh random password and returns
// its wall time, request to the last byte of the answer; an error unless
// the answer is 401 invalid_credentials.
func loginAttempt(ctx context.Context, client *http.Client, base, username string) (time.Duration, error) {
	body, err := json.Marshal(map[string]string{"username": username, "password": randomName() + randomName()})
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/auth/login", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	got, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	d := time.Since(start)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusUnauthorized || !bytes.Contains(got, []byte(`"invalid_credentials"`)) {
		return 0, fmt.Errorf("POST /v1/auth/login: %s: %.200s", resp.Status, strings.TrimSpace(string(got)))
	}
	return d, nil
}

// randomName returns 10 random lowercase base32 characters.
func randomName() string {
	var b [10]byte
	rand.Read(b[:])
	return strings.ToLower(base32.StdEncoding.EncodeToString(b[:]))[:10]
}

func lastAuditSeq(ctx context.Context, st store.Store) (int64, error) {
	var n int64
	err := st.View(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		n, err = tx.LastAuditSeq(ctx)
		return err
	})
	return n, err
}

// KnownMedian is the median time of a wrong password for an existing
// account.
func (r *LoginReport) KnownMedian() time.Duration { return Percentile(r.Known, 0.5) }

// UnknownMedian is the median time of an attempt for an unknown username.
func (r *LoginReport) UnknownMedian() time.Duration { return Percentile(r.Unknown, 0.5) }

// Difference is (known − unknown) / unknown of the medians: positive when
// a wrong password for an existing account is the slower.
func (r *LoginReport) Difference() float64 {
	u := r.UnknownMedian()
	if u <= 0 {
		return 0
	}
	return float64(r.KnownMedian()-u) / float64(u)
}

// Within reports whether the medians differ by less than [LoginBound].
func (r *LoginReport) Within() bool { return math.Abs(r.Difference()) < LoginBound }

// WriteJSON prints the report as bench login --json does.
func (r *LoginReport) WriteJSON(w io.Writer) error {
	m := map[string]any{
		"attempts": r.Attempts, "warmup": r.Warmup, "accounts": r.Accounts,
		"known_median_ms": msf(r.KnownMedian()), "unknown_median_ms": msf(r.UnknownMedian()),
		"known_p90_ms": msf(Percentile(r.Known, 0.9)), "unknown_p90_ms": msf(Percentile(r.Unknown, 0.9)),
		"difference_pct": math.Round(r.Difference()*1e4) / 100, "bound_pct": LoginBound * 100, "within_bound": r.Within(),
		"errors": r.Errors, "audit_entries": r.AuditEntries, "attempts_audited_want": r.WantEntries, "usernames_in_clear": r.InClear,
	}
	if r.Errors > 0 {
		m["first_error"] = r.FirstError
	}
	return writeIndentedJSON(w, m)
}

// WriteText prints the report as bench login does.
func (r *LoginReport) WriteText(w io.Writer) {
	verdict := "within"
	if !r.Within() {
		verdict = "NOT within"
	}
	fmt.Fprintf(w, "login password step over HTTP, %d attempts of each kind in alternating pairs (accounts: %d, warm-up pairs: %d):\n", r.Attempts, r.Accounts, r.Warmup)
	fmt.Fprintf(w, "  wrong password, existing user  median %s  p90 %s\n", ms(r.KnownMedian()), ms(Percentile(r.Known, 0.9)))
	fmt.Fprintf(w, "  unknown username               median %s  p90 %s\n", ms(r.UnknownMedian()), ms(Percentile(r.Unknown, 0.9)))
	fmt.Fprintf(w, "  difference of the medians %+.2f%% (%s the %.0f%% bound)\n", r.Difference()*100, verdict, LoginBound*100)
	fmt.Fprintf(w, "audit: %d login.password entries for %d attempts, %d holding a username tried\n", r.AuditEntries, r.WantEntries, r.InClear)
}

// Failed returns an error if an attempt got another answer than 401
// invalid_credentials, or the audit log does not hold exactly one entry
// per attempt without the username; nil otherwise. The timing is not
// judged here: it is a figure to read, not a test.
func (r *LoginReport) Failed() error {
	var errs []error
	if r.Errors > 0 {
		errs = append(errs, fmt.Errorf("%d attempts were not answered 401 invalid_credentials; first: %s", r.Errors, r.FirstError))
	}
	if r.AuditEntries != r.WantEntries {
		errs = append(errs, fmt.Errorf("%d login.password audit entries for %d attempts", r.AuditEntries, r.WantEntries))
	}
	if r.InClear > 0 {
		errs = append(errs, fmt.Errorf("%d audit entries hold a username tried", r.InClear))
	}
	return errors.Join(errs...)
}
