package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pquerna/otp/totp"
)

// ReadBench serves a directory made by [ImportBench] in a child process
// (Server serve --dev) and measures audited reads over HTTP at each level
// of concurrency, as [Operator], with [Reads].
type ReadBench struct {
	Server     string // the coffre binary to run as the server
	Dir        string // the benchmark's data directory
	Store      string // a postgres:// URL, or "" for Dir's SQLite file
	Guard      bool   // run the guard's checks (with limits that never bind)
	Integrator bool   // run the server's audit integrator
	Levels     []int  // concurrent readers, one run each
	Warmup     time.Duration
	Duration   time.Duration // measured, at each level
	Purpose    string
	Reason     string // "" sends none
	Operator   Operator
	IDs        []string
	Log        io.Writer // progress
}

// ReadReport is a [ReadBench]'s outcome.
type ReadReport struct {
	Subjects   int
	Purpose    string
	Duration   time.Duration
	Warmup     time.Duration
	Levels     []*Result
	PeakRSS    int64           // the server's VmHWM, bytes
	SampledRSS int64           // the largest 100 ms sample of its VmRSS
	Lag        []time.Duration // audit integration lag samples, sorted
	ServerLog  string
}

// Run starts the server, logs in, runs each level and stops the server.
func (b *ReadBench) Run(ctx context.Context) (*ReadReport, error) {
	guardMode := "off"
	if b.Guard {
		guardMode = "bench"
	}
	srv, err := startServer(ctx, b.Server, b.Dir, b.Store, guardMode, b.Integrator)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	fmt.Fprintf(b.Log, "server: pid %d at http://%s, holding %d subjects; its log is %s\n", srv.cmd.Process.Pid, srv.addr, len(b.IDs), srv.log)
	peakSampled := SampleRSS(ctx, srv.cmd.Process.Pid, 100*time.Millisecond)

	maxc := slices.Max(b.Levels)
	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConns: 2 * maxc, MaxIdleConnsPerHost: 2 * maxc, IdleConnTimeout: 90 * time.Second, DisableCompression: true},
	}
	base := "http://" + srv.addr
	token, err := login(ctx, client, base, b.Operator, b.Log)
	if err != nil {
		return nil, err
	}
	load := &Reads{Client: client, BaseURL: base, Token: token, Purpose: b.Purpose, Reason: b.Reason, IDs: b.IDs}
	lagCtx, stopLag := context.WithCancel(ctx)
	defer stopLag()
	lags := sampleLag(lagCtx, client, base+"/metrics", 250*time.Millisecond)
	rep := &ReadReport{Subjects: len(b.IDs), Purpose: b.Purpose, Duration: b.Duration, Warmup: b.Warmup, ServerLog: srv.log}
	for _, n := range b.Levels {
		fmt.Fprintf(b.Log, "concurrency %d: %s warm-up, %s measured…\n", n, b.Warmup, b.Duration)
		r, err := load.Run(ctx, n, b.Warmup, b.Duration)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(b.Log, "concurrency %d: %.0f reads/s, p50 %s, p99 %s, %d errors\n", n, r.Rate(), ms(r.Percentile(0.50)), ms(r.Percentile(0.99)), r.Errors)
		rep.Levels = append(rep.Levels, r)
	}
	stopLag()
	rep.Lag = <-lags
	mem, err := ProcMemory(srv.cmd.Process.Pid)
	if err != nil {
		return nil, err
	}
	rep.PeakRSS = mem.Peak
	rep.SampledRSS = peakSampled()
	if err := srv.stop(); err != nil {
		return nil, err
	}
	return rep, nil
}

// WriteJSON prints the report as bench read --json does.
func (rep *ReadReport) WriteJSON(w io.Writer) error {
	var lv []map[string]any
	for _, r := range rep.Levels {
		m := map[string]any{"concurrency": r.Concurrency, "reads": r.Reads, "reads_per_sec": r.Rate(),
			"p50_ms": msf(r.Percentile(0.50)), "p99_ms": msf(r.Percentile(0.99)), "max_ms": msf(r.Max()), "errors": r.Errors}
		if r.Errors > 0 {
			by := map[string]int{}
			for s, n := range r.ByStatus {
				by[strconv.Itoa(s)] = n
			}
			m["errors_by_status"], m["first_error"] = by, r.FirstError
		}
		lv = append(lv, m)
	}
	return writeIndentedJSON(w, map[string]any{
		"subjects": rep.Subjects, "purpose": rep.Purpose, "duration_s": rep.Duration.Seconds(), "warmup_s": rep.Warmup.Seconds(),
		"levels": lv, "server_peak_rss_mb": float64(rep.PeakRSS) / 1e6, "server_max_sampled_rss_mb": float64(rep.SampledRSS) / 1e6,
		"audit_lag_p99_s": Percentile(rep.Lag, 0.99).Seconds(), "audit_lag_max_s": Percentile(rep.Lag, 1).Seconds(), "audit_lag_samples": len(rep.Lag),
	})
}

// WriteText prints the report as bench read does: a table of the levels,
// then the server's memory and the audit integration lag.
func (rep *ReadReport) WriteText(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "concurrency\treads/s\tp50\tp99\tmax\terrors\t")
	for _, r := range rep.Levels {
		fmt.Fprintf(tw, "%d\t%.0f\t%s\t%s\t%s\t%d\t\n", r.Concurrency, r.Rate(), ms(r.Percentile(0.50)), ms(r.Percentile(0.99)), ms(r.Max()), r.Errors)
	}
	tw.Flush()
	fmt.Fprintf(w, "server peak RSS: %.1f MB (VmHWM; largest 100 ms sample %.1f MB), %d subjects, purpose %s, %s per level\n",
		float64(rep.PeakRSS)/1e6, float64(rep.SampledRSS)/1e6, rep.Subjects, rep.Purpose, rep.Duration)
	fmt.Fprintf(w, "audit integration lag during the run: p99 %.2f s, max %.2f s (%d samples of /metrics)\n",
		Percentile(rep.Lag, 0.99).Seconds(), Percentile(rep.Lag, 1).Seconds(), len(rep.Lag))
}

// Failed returns an error if any read failed, after printing each
// level's errors to w; nil if none did.
func (rep *ReadReport) Failed(w io.Writer) error {
	errs := 0
	for _, r := range rep.Levels {
		errs += r.Errors
	}
	if errs == 0 {
		return nil
	}
	for _, r := range rep.Levels {
		if r.Errors > 0 {
			fmt.Fprintf(w, "concurrency %d: %d errors by status (0: transport) %v; first: %s\n", r.Concurrency, r.Errors, r.ByStatus, r.FirstError)
		}
	}
	return fmt.Errorf("%d reads failed (see above and %s)", errs, rep.ServerLog)
}

// login logs op in over the API (password, then a TOTP code) and returns
// the session token.
func login(ctx context.Context, client *http.Client, base string, op Operator, log io.Writer) (string, error) {
	var lr struct {
		LoginToken string `json:"login_token"`
	}
	if err := postJSON(ctx, client, base+"/v1/auth/login", map[string]string{"username": op.Username, "password": op.Password}, &lr); err != nil {
		return "", fmt.Errorf("log in as %s: %w", op.Username, err)
	}
	for try := 0; ; try++ {
		code, err := totp.GenerateCode(op.TOTPSecret, time.Now())
		if err != nil {
			return "", fmt.Errorf("bench operator's TOTP secret: %w", err)
		}
		var tr struct {
			Token string `json:"token"`
		}
		err = postJSON(ctx, client, base+"/v1/auth/totp", map[string]string{"login_token": lr.LoginToken, "code": code}, &tr)
		if err == nil {
			return tr.Token, nil
		}
		if try > 0 {
			return "", fmt.Errorf("second factor for %s: %w", op.Username, err)
		}
		// A code works once: an earlier run in the same 30 s step used it.
		wait := time.Until(time.Unix((time.Now().Unix()/30+1)*30, 0)) + 500*time.Millisecond
		fmt.Fprintf(log, "TOTP code refused (%v), probably used by an earlier run; waiting %s for the next one\n", err, wait.Round(time.Second))
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

func postJSON(ctx context.Context, client *http.Client, url string, in, out any) error {
	return call(ctx, client, http.MethodPost, url, "", in, out)
}

// sampleLag polls the server's /metrics for the audit integration lag
// until ctx ends, then sends the sorted samples.
func sampleLag(ctx context.Context, c *http.Client, url string, every time.Duration) <-chan []time.Duration {
	out := make(chan []time.Duration, 1)
	go func() {
		var lags []time.Duration
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				slices.Sort(lags)
				out <- lags
				return
			case <-t.C:
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			resp, err := c.Do(req)
			if err != nil {
				continue
			}
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			for _, line := range strings.Split(string(body), "\n") {
				if v, ok := strings.CutPrefix(line, "coffre_audit_integration_lag_seconds "); ok {
					if f, err := strconv.ParseFloat(v, 64); err == nil {
						lags = append(lags, time.Duration(f*float64(time.Second)))
					}
				}
			}
		}
	}()
	return out
}

func writeIndentedJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// ms formats a latency in milliseconds.
func ms(d time.Duration) string { return strconv.FormatFloat(msf(d), 'f', 2, 64) + " ms" }

func msf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
