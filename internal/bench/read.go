package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/coffre/coffre/internal/mailsink"
)

// ReadBench serves a directory made by [ImportBench] in a child process
// (Server serve --dev) and measures audited reads over HTTP at each level
// of concurrency, as [Operator], with [Reads].
//
// The server delivers the notices each read queues to a local SMTP sink
// in this process (package mailsink, keeping nothing), and the queue's
// depth is sampled from its /metrics during each level. The queue is
// drained before the first level and after the last, so that a run
// leaves no notice for the next one.
type ReadBench struct {
	Server     string // the coffre binary to run as the server
	Dir        string // the benchmark's data directory
	Store      string // a postgres:// URL, or "" for Dir's SQLite file
	Guard      bool   // run the guard's checks (with limits that never bind)
	Integrator bool   // run the server's audit integrator
	// NoNotices serves with --notices=false: reads queue no notice.
	NoNotices bool
	// NoDelivery serves with no mail server: reads queue their notices,
	// and nothing delivers them (the read path's share of their cost).
	NoDelivery bool
	Levels     []int // concurrent readers, one run each
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
	// Notices is false when the server queued none (NoNotices);
	// Delivered false when it queued them with no worker (NoDelivery).
	Notices, Delivered bool
	// Queue is the notices' queue at each level, in Levels' order.
	Queue []QueueLevel
	// Backlog is the queue's depth when the server started, and
	// BacklogDrain how long it took to empty before the first level.
	Backlog      int64
	BacklogDrain time.Duration
	// Drain is how long the queue took to empty after the last level
	// (-1: it did not within DrainLimit).
	Drain time.Duration
	// Sink holds how long the sink took over each message, sorted.
	Sink []time.Duration
}

// QueueLevel is the notices' queue during one level, and the CPU the
// server and this process (the load and the sink) used in its window.
type QueueLevel struct {
	ServerCPU, BenchCPU time.Duration
	// MachineCPU is what every process on the machine used meanwhile:
	// the others had MachineCPU - ServerCPU - BenchCPU.
	MachineCPU time.Duration
	// Delivered is the messages the sink took during the measured window.
	Delivered int64
	Window    time.Duration
	// MaxDepth is the deepest the queue was in the samples of the level
	// (warm-up included), EndDepth its depth at the level's end; Samples
	// is how many samples were read.
	MaxDepth, EndDepth int64
	Samples            int
}

// Rate is the messages delivered per second in the measured window.
func (q QueueLevel) Rate() float64 {
	if q.Window <= 0 {
		return 0
	}
	return float64(q.Delivered) / q.Window.Seconds()
}

// DrainLimit bounds the wait for the notices' queue to empty, before the
// first level and after the last.
const DrainLimit = 2 * time.Minute

// sinkEnv configures a server's delivery to a sink: plain SMTP on
// loopback, and a rate limit above any the benchmark reaches.
func sinkEnv(sink *mailsink.Sink) []string {
	return []string{"COFFRE_DELIVERY_SMTP_HOST=127.0.0.1", "COFFRE_DELIVERY_SMTP_PORT=" + strconv.Itoa(sink.Addr().Port),
		"COFFRE_DELIVERY_SMTP_STARTTLS=none", "COFFRE_DELIVERY_SMTP_FROM=bench@coffre.localhost", "COFFRE_DELIVERY_RATES_EMAIL=10000"}
}

// Run starts the server, logs in, runs each level and stops the server.
func (b *ReadBench) Run(ctx context.Context) (*ReadReport, error) {
	guardMode := "off"
	if b.Guard {
		guardMode = "bench"
	}
	sink, err := mailsink.Start("", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer sink.Close()
	env, to := sinkEnv(sink), "to an SMTP sink at "+sink.Addr().String()
	if b.NoDelivery {
		env, to = nil, "queued, never delivered"
	}
	srv, err := startServer(ctx, b.Server, b.Dir, serverOptions{store: b.Store, guard: guardMode, integrator: b.Integrator, noNotices: b.NoNotices, env: env})
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	fmt.Fprintf(b.Log, "server: pid %d at http://%s, holding %d subjects, notices %s %s; its log is %s\n",
		srv.cmd.Process.Pid, srv.addr, len(b.IDs), onOff(!b.NoNotices), to, srv.log)
	peakSampled := SampleRSS(ctx, srv.cmd.Process.Pid, 100*time.Millisecond)
	metricsURL := "http://" + srv.addr + "/metrics"
	probe := &http.Client{Timeout: 10 * time.Second}
	rep := &ReadReport{Subjects: len(b.IDs), Purpose: b.Purpose, Duration: b.Duration, Warmup: b.Warmup, ServerLog: srv.log,
		Notices: !b.NoNotices, Delivered: !b.NoDelivery}
	// Notices an earlier run left are delivered first: they would load
	// this run's server, whichever its side. Without delivery they stay.
	if st, err := scrape(ctx, probe, metricsURL); err == nil && st.depth > 0 && !b.NoDelivery {
		rep.Backlog = st.depth
		fmt.Fprintf(b.Log, "%d notices queued by an earlier run: delivering them first…\n", st.depth)
		if rep.BacklogDrain = drain(ctx, probe, metricsURL, DrainLimit); rep.BacklogDrain < 0 {
			return nil, fmt.Errorf("the notices an earlier run left (%d) were not delivered within %s; see %s", st.depth, DrainLimit, srv.log)
		}
	}

	maxc := slices.Max(b.Levels)
	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConns: 2 * maxc, MaxIdleConnsPerHost: 2 * maxc, IdleConnTimeout: 90 * time.Second, DisableCompression: true},
	}
	base := "http://" + srv.addr
	token, err := login(ctx, client, base, b.Dir, b.Operator, b.Log)
	if err != nil {
		return nil, err
	}
	load := &Reads{Client: client, BaseURL: base, Token: token, Purpose: b.Purpose, Reason: b.Reason, IDs: b.IDs}
	for _, n := range b.Levels {
		fmt.Fprintf(b.Log, "concurrency %d: %s warm-up, %s measured…\n", n, b.Warmup, b.Duration)
		sampleCtx, stopSampling := context.WithCancel(ctx)
		samples := sampleMetrics(sampleCtx, client, metricsURL, 250*time.Millisecond)
		counted := countDuring(sink, srv.cmd.Process.Pid, b.Warmup, b.Duration)
		r, err := load.Run(ctx, n, b.Warmup, b.Duration)
		stopSampling()
		if err != nil {
			return nil, err
		}
		w := <-counted
		q := QueueLevel{Window: b.Duration, Delivered: w.sent, ServerCPU: w.server, BenchCPU: w.bench, MachineCPU: w.machine, EndDepth: -1}
		for _, s := range <-samples {
			rep.Lag = append(rep.Lag, s.lag)
			q.MaxDepth = max(q.MaxDepth, s.depth)
			q.Samples++
		}
		if st, err := scrape(ctx, client, metricsURL); err == nil {
			q.EndDepth = st.depth
		}
		fmt.Fprintf(b.Log, "concurrency %d: %.0f reads/s, p50 %s, p99 %s, %d errors; %.0f notices/s delivered, queue max %d, at the end %d; CPU: server %.2f, load and sink %.2f, others %.2f cores\n",
			n, r.Rate(), ms(r.Percentile(0.50)), ms(r.Percentile(0.99)), r.Errors, q.Rate(), q.MaxDepth, q.EndDepth, q.cores(q.ServerCPU), q.cores(q.BenchCPU), q.cores(q.others()))
		rep.Levels = append(rep.Levels, r)
		rep.Queue = append(rep.Queue, q)
	}
	slices.Sort(rep.Lag)
	rep.Drain = -1
	if !b.NoDelivery {
		rep.Drain = drain(ctx, client, metricsURL, DrainLimit)
	}
	rep.Sink = sink.Timings()
	slices.Sort(rep.Sink)
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
	for i, r := range rep.Levels {
		m := map[string]any{"concurrency": r.Concurrency, "reads": r.Reads, "reads_per_sec": r.Rate(),
			"p50_ms": msf(r.Percentile(0.50)), "p99_ms": msf(r.Percentile(0.99)), "max_ms": msf(r.Max()), "errors": r.Errors}
		if i < len(rep.Queue) {
			q := rep.Queue[i]
			m["notices_delivered"], m["notices_per_sec"], m["queue_depth_max"], m["queue_depth_end"], m["queue_samples"] = q.Delivered, q.Rate(), q.MaxDepth, q.EndDepth, q.Samples
			m["server_cpu_cores"], m["bench_cpu_cores"], m["other_cpu_cores"] = q.cores(q.ServerCPU), q.cores(q.BenchCPU), q.cores(q.others())
		}
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
		"notices": rep.Notices, "delivered": rep.Delivered, "queue_backlog": rep.Backlog, "queue_backlog_drain_s": rep.BacklogDrain.Seconds(), "queue_drain_s": rep.Drain.Seconds(),
		"sink_messages": len(rep.Sink), "sink_p50_ms": msf(Percentile(rep.Sink, 0.5)), "sink_p99_ms": msf(Percentile(rep.Sink, 0.99)), "sink_max_ms": msf(Percentile(rep.Sink, 1)),
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
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "concurrency\tserver CPU\tload+sink CPU\tother processes\tserver CPU a read\t")
	for i, q := range rep.Queue {
		r := rep.Levels[i]
		perRead := 0.0
		if r.Reads > 0 {
			perRead = float64(q.ServerCPU.Microseconds()) / float64(r.Reads)
		}
		fmt.Fprintf(tw, "%d\t%.2f cores\t%.2f cores\t%.2f cores\t%.0f µs\t\n", r.Concurrency, q.cores(q.ServerCPU), q.cores(q.BenchCPU), q.cores(q.others()), perRead)
	}
	tw.Flush()
	if !rep.Notices {
		fmt.Fprintln(w, "notices: off (serve --notices=false)")
		return
	}
	if !rep.Delivered {
		end := int64(0)
		if len(rep.Queue) > 0 {
			end = rep.Queue[len(rep.Queue)-1].EndDepth
		}
		fmt.Fprintf(w, "notices: queued, never delivered (no mail server): %d in the queue at the end, which the next run that delivers sends first\n", end)
		return
	}
	fmt.Fprintf(w, "notices: on, delivered to a local SMTP sink: %d messages, each taking the sink p50 %s, p99 %s, max %s (MAIL FROM to the answer to DATA)\n",
		len(rep.Sink), ms(Percentile(rep.Sink, 0.5)), ms(Percentile(rep.Sink, 0.99)), ms(Percentile(rep.Sink, 1)))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "concurrency\tnotices/s\tqueue max\tqueue at end\t")
	for i, q := range rep.Queue {
		fmt.Fprintf(tw, "%d\t%.0f\t%d\t%d\t\n", rep.Levels[i].Concurrency, q.Rate(), q.MaxDepth, q.EndDepth)
	}
	tw.Flush()
	if rep.Backlog > 0 {
		fmt.Fprintf(w, "an earlier run left %d notices queued: delivered in %.1f s before the first level\n", rep.Backlog, rep.BacklogDrain.Seconds())
	}
	if rep.Drain < 0 {
		fmt.Fprintf(w, "the queue was not empty %s after the last level\n", DrainLimit)
	} else {
		fmt.Fprintf(w, "the queue was empty %.1f s after the last level\n", rep.Drain.Seconds())
	}
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

// login returns a session token of op: the one an earlier run kept in
// dir when the server still takes it (a TOTP code works once: runs in the
// same 30 s step would otherwise wait for the next), else a new login
// over the API (password, then a TOTP code), kept for the next run.
func login(ctx context.Context, client *http.Client, base, dir string, op Operator, log io.Writer) (string, error) {
	kept := filepath.Join(dir, "bench-session-"+op.Username)
	if b, err := os.ReadFile(kept); err == nil {
		token := strings.TrimSpace(string(b))
		var sessions any
		if call(ctx, client, http.MethodGet, base+"/v1/account/sessions", token, nil, &sessions) == nil {
			return token, nil
		}
	}
	token, err := newLogin(ctx, client, base, op, log)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(kept, []byte(token+"\n"), 0o600); err != nil {
		return "", err
	}
	return token, nil
}

// newLogin logs op in over the API and returns the session token.
func newLogin(ctx context.Context, client *http.Client, base string, op Operator, log io.Writer) (string, error) {
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

// metricsSample is what one read of the server's /metrics gave: the
// audit integration lag and the notices' queue depth (person channel).
type metricsSample struct {
	lag   time.Duration
	depth int64
}

// scrape reads the server's /metrics once.
func scrape(ctx context.Context, c *http.Client, url string) (metricsSample, error) {
	var s metricsSample
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return s, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return s, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return s, err
	}
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	for line := range strings.Lines(string(body)) {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "coffre_audit_integration_lag_seconds "); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				s.lag = time.Duration(f * float64(time.Second))
			}
		}
		if v, ok := strings.CutPrefix(line, `coffre_delivery_queue_depth{channel="person"} `); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				s.depth = int64(f)
			}
		}
	}
	return s, nil
}

// sampleMetrics reads the server's /metrics every interval until ctx
// ends, then sends the samples.
func sampleMetrics(ctx context.Context, c *http.Client, url string, every time.Duration) <-chan []metricsSample {
	out := make(chan []metricsSample, 1)
	go func() {
		var samples []metricsSample
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				out <- samples
				return
			case <-t.C:
			}
			if s, err := scrape(ctx, c, url); err == nil {
				samples = append(samples, s)
			}
		}
	}()
	return out
}

// drain waits until the server's notices' queue is empty and returns how
// long that took, or -1 after limit.
func drain(ctx context.Context, c *http.Client, url string, limit time.Duration) time.Duration {
	start := time.Now()
	for time.Since(start) < limit && ctx.Err() == nil {
		if s, err := scrape(ctx, c, url); err == nil && s.depth == 0 {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return -1
}

// windowCounts are what a measured window saw: the messages the sink
// took, the CPU the server (pid) and this process used.
type windowCounts struct {
	sent                   int64
	server, bench, machine time.Duration
}

// countDuring sends what the window that starts after warmup and lasts
// window saw.
func countDuring(sink *mailsink.Sink, pid int, warmup, window time.Duration) <-chan windowCounts {
	out := make(chan windowCounts, 1)
	snap := func() windowCounts {
		srv, _ := ProcCPU(pid)
		self, _ := ProcCPU(0)
		all, _ := MachineCPU()
		return windowCounts{sent: sink.Received(), server: srv, bench: self, machine: all}
	}
	go func() {
		time.Sleep(warmup)
		a := snap()
		time.Sleep(window)
		b := snap()
		out <- windowCounts{sent: b.sent - a.sent, server: b.server - a.server, bench: b.bench - a.bench, machine: b.machine - a.machine}
	}()
	return out
}

// others is the CPU the machine's other processes used in the window.
func (q QueueLevel) others() time.Duration { return max(0, q.MachineCPU-q.ServerCPU-q.BenchCPU) }

// cores is CPU time over the window, in cores.
func (q QueueLevel) cores(cpu time.Duration) float64 {
	if q.Window <= 0 {
		return 0
	}
	return cpu.Seconds() / q.Window.Seconds()
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

func writeIndentedJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// ms formats a latency in milliseconds.
func ms(d time.Duration) string { return strconv.FormatFloat(msf(d), 'f', 2, 64) + " ms" }

func msf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
