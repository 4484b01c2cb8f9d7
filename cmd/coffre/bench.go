package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/coffre/coffre/internal/bench"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
	"github.com/pquerna/otp/totp"
)

// benchSeed fixes the benchmark's synthetic population.
const benchSeed = 1_000_000

// Files bench import leaves in the data directory for bench read.
const (
	benchIDsFile      = "bench-ids"      // subject ids, one a line
	benchOperatorFile = "bench-operator" // benchOperator as JSON, 0600
	benchServeLog     = "bench-serve.log"
)

// benchOperator is the caseworker bench read logs in as.
type benchOperator struct {
	Username   string `json:"username"`
	Password   string `json:"password"`
	TOTPSecret string `json:"totp_secret"`
}

const benchUsage = `Usage: coffre bench import|read [flags]

  import   create a fresh data directory with N synthetic people (default 1,000,000)
  read     serve that directory in a child process and measure audited reads over HTTP

Example:
  coffre bench import --people 1000000 --data ./coffre-bench
  coffre bench read --data ./coffre-bench --duration 10s --concurrency 1,8,32
`

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "import":
			return runBenchImport(ctx, args[1:], stdout, stderr)
		case "read":
			return runBenchRead(ctx, args[1:], stdout, stderr)
		case "audit":
			return runBenchAudit(ctx, args[1:], stdout, stderr)
		case "-h", "--help", "help":
			fmt.Fprint(stderr, benchUsage)
			return flag.ErrHelp
		}
	}
	return &usageError{msg: "want a subcommand: import or read", hint: "coffre bench import --data ./coffre-bench, then coffre bench read --data ./coffre-bench"}
}

func runBenchImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench import", "[--people N] [--data DIR] [--store URL] [--batch N] [--fresh] [--json]",
		"coffre bench import --people 1000000 --data ./coffre-bench --fresh", stderr)
	people := fs.Int("people", 1_000_000, "synthetic people to import")
	data := fs.String("data", "./coffre-bench", "benchmark data `directory`, created empty")
	batch := fs.Int("batch", 50000, "records per transaction")
	fresh := fs.Bool("fresh", false, "first delete --data if it holds an earlier benchmark")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the import to this `file`")
	storeURL := fs.String("store", "", "import into this PostgreSQL store (a postgres:// `URL`) instead of --data's SQLite file")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() != 0:
		return &usageError{msg: "unexpected argument " + strconv.Quote(fs.Arg(0)), hint: "coffre bench import --people 1000000"}
	case *people < 1 || *people > 10_000_000:
		return &usageError{msg: "--people must be between 1 and 10,000,000"}
	case *batch < 1 || *batch > 200000:
		return &usageError{msg: "--batch must be between 1 and 200,000"}
	case *data == "":
		return &usageError{msg: "--data must name a directory", hint: "coffre bench import --data ./coffre-bench"}
	}
	if err := prepareBenchDir(*data, *fresh); err != nil {
		return err
	}
	idsPath := filepath.Join(*data, benchIDsFile)
	f, err := os.OpenFile(idsPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	a, err := openApp(ctx, appOptions{dev: true, dataDir: *data, store: *storeURL, bulkCache: bulkCacheKiB}, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	// The embedded store unless COFFRE_STORE names a PostgreSQL one.
	lite, _ := a.store.(*sqlite.Store)
	op, err := a.auth.AddOperator(ctx, "bench", "", "caseworker", "ac-versailles")
	if err != nil {
		return err
	}
	cred, _ := json.Marshal(benchOperator{Username: op.Operator.Username, Password: op.Password, TOTPSecret: op.TOTPSecret})
	if err := os.WriteFile(filepath.Join(*data, benchOperatorFile), append(cred, '\n'), 0o600); err != nil {
		return fmt.Errorf("write bench operator: %w", err)
	}

	bw := bufio.NewWriterSize(f, 1<<20)
	actor := identity.Actor{ID: "bench-import", Role: "admin", Origin: "cli"}
	const every = 100_000
	var generated, imported int
	start := time.Now()
	lastN, lastT := 0, start
	next := func() ([]vault.ImportRow, error) {
		rows := make([]vault.ImportRow, min(*batch, *people-generated))
		for j := range rows {
			p := synth.Make(benchSeed, generated+j)
			rows[j] = vault.ImportRow{Num: generated + j + 1, Unit: p.Unit, Fields: p.Fields}
		}
		generated += len(rows)
		return rows, nil
	}
	done := func(ids []string, failed []vault.RowError) error {
		if len(failed) > 0 {
			return fmt.Errorf("%d synthetic rows rejected, the first: %s", len(failed), failed[0].Error())
		}
		if err := bench.WriteIDs(bw, ids); err != nil {
			return fmt.Errorf("write %s: %w", idsPath, err)
		}
		imported += len(ids)
		if imported/every > lastN/every || imported == *people {
			now := time.Now()
			fmt.Fprintf(stderr, "imported %8d / %d  %6.1f s  %7.0f records/s  (last %d: %.0f/s)\n",
				imported, *people, now.Sub(start).Seconds(), float64(imported)/now.Sub(start).Seconds(),
				imported-lastN, float64(imported-lastN)/now.Sub(lastT).Seconds())
			lastN, lastT = imported, now
		}
		return nil
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	if err := a.vault.ImportAll(ctx, actor, next, done); err != nil {
		return fmt.Errorf("import (%d records written before): %w", imported, err)
	}
	// The clock stops once the database file holds everything, not just
	// the write-ahead log.
	if lite != nil {
		if err := lite.Checkpoint(ctx); err != nil {
			return err
		}
	}
	el := time.Since(start)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", idsPath, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", idsPath, err)
	}
	var dbBytes int64
	where := "PostgreSQL (COFFRE_STORE)"
	if lite != nil {
		where = lite.Path()
		for _, suffix := range []string{"", "-wal"} {
			if st, err := os.Stat(where + suffix); err == nil {
				dbBytes += st.Size()
			}
		}
	}
	rate := float64(imported) / el.Seconds()
	if *asJSON {
		return writeIndentedJSON(stdout, map[string]any{
			"people": imported, "seconds": el.Seconds(), "records_per_sec": rate, "batch": *batch,
			"durability": "full", "db_bytes": dbBytes, "data_dir": *data,
		})
	}
	fmt.Fprintf(stdout, "imported %d synthetic people in %s: %.0f records/s (batches of %d, durability full)\n",
		imported, el.Round(time.Millisecond), rate, *batch)
	if lite != nil {
		fmt.Fprintf(stdout, "database: %.1f MB in %s\n", float64(dbBytes)/1e6, where)
	} else {
		fmt.Fprintf(stdout, "database: %s\n", where)
	}
	fmt.Fprintf(stdout, "next: coffre bench read --data %s\n", *data)
	return nil
}

// prepareBenchDir makes dir an empty directory. A non-empty one is deleted
// only with fresh, and only if an earlier bench import made it.
func prepareBenchDir(dir string, fresh bool) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	case len(entries) == 0:
	case !fresh:
		return &usageError{msg: dir + " is not empty", hint: "pass --fresh to delete the earlier benchmark in it, or choose another --data"}
	default:
		if _, err := os.Stat(filepath.Join(dir, benchIDsFile)); err != nil {
			return &usageError{msg: dir + " holds no " + benchIDsFile + " file, so it was not made by bench import: not deleting it", hint: "choose another --data"}
		}
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("delete earlier benchmark: %w", err)
		}
	}
	return os.MkdirAll(dir, 0o700)
}

func runBenchRead(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench read", "[--data DIR] [--store URL] [--duration D] [--warmup D] [--concurrency N,N…] [--purpose P] [--json]",
		"coffre bench read --data ./coffre-bench --duration 10s --concurrency 1,8,32", stderr)
	data := fs.String("data", "./coffre-bench", "benchmark data `directory` made by coffre bench import")
	duration := fs.Duration("duration", 10*time.Second, "measured `time` at each concurrency level")
	warmup := fs.Duration("warmup", 2*time.Second, "unmeasured `time` before each level")
	levelsFlag := fs.String("concurrency", "1,8,32", "concurrent readers, a comma-separated `list` of levels")
	purpose := fs.String("purpose", "case-handling", "the `purpose` every read declares (Coffre-Purpose)")
	reason := fs.String("reason", "", "a Coffre-Reason to send, for purposes that require one")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	server := fs.String("server", "", "the coffre `binary` to run as the server (default: this one)")
	integrator := fs.Bool("integrator", true, "run the server's audit integrator; --integrator=false gives the core's figure without checkpoints")
	guardOn := fs.Bool("guard", true, "run the guard's checks on every read (with limits that never bind); --guard=false measures the core alone")
	storeURL := fs.String("store", "", "serve from this PostgreSQL store (a postgres:// `URL`, as given to bench import --store)")
	if err := parse(fs, args); err != nil {
		return err
	}
	levels, err := parseLevels(*levelsFlag)
	if *guardOn && *reason == "" {
		// Most subjects are outside the bench operator's unit, where the
		// guard asks for a reason.
		*reason = "bench"
	}
	switch {
	case fs.NArg() != 0:
		return &usageError{msg: "unexpected argument " + strconv.Quote(fs.Arg(0)), hint: "coffre bench read --data ./coffre-bench"}
	case err != nil:
		return &usageError{msg: "--concurrency: " + err.Error(), hint: "--concurrency 1,8,32"}
	case *duration < time.Second || *duration > time.Hour:
		return &usageError{msg: "--duration must be between 1s and 1h", hint: "--duration 10s"}
	case *warmup < 0 || *warmup > time.Minute:
		return &usageError{msg: "--warmup must be between 0s and 1m", hint: "--warmup 2s"}
	case !printable(*reason) || len(*reason) > 200:
		return &usageError{msg: "--reason must be printable text of at most 200 bytes"}
	}
	cfg, err := loadConfig(appOptions{dev: true, dataDir: *data})
	if err != nil {
		return err
	}
	pu, err := cfg.Policy.Purpose("caseworker", *purpose)
	if err != nil {
		return &usageError{msg: "--purpose: " + err.Error(), hint: "the bench operator is a caseworker: --purpose case-handling or directory"}
	}
	if pu.RequireReason && strings.TrimSpace(*reason) == "" {
		return &usageError{msg: "purpose " + *purpose + " requires a reason", hint: "--reason 'ticket 4521'"}
	}
	var op benchOperator
	b, err := os.ReadFile(filepath.Join(*data, benchOperatorFile))
	if err == nil {
		err = json.Unmarshal(b, &op)
	}
	if err != nil {
		return &usageError{msg: "no benchmark in " + *data + ": " + err.Error(), hint: "run coffre bench import --data " + *data + " first"}
	}
	ids, err := bench.ReadIDs(filepath.Join(*data, benchIDsFile))
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return &usageError{msg: "no subject ids in " + filepath.Join(*data, benchIDsFile), hint: "run coffre bench import --data " + *data + " --fresh"}
	}
	bin := *server
	if bin == "" {
		if bin, err = os.Executable(); err != nil {
			return fmt.Errorf("find this binary: %w", err)
		}
	}

	guardMode := "off"
	if *guardOn {
		guardMode = "bench"
	}
	srv, err := startBenchServer(ctx, bin, *data, *storeURL, guardMode, *integrator)
	if err != nil {
		return err
	}
	defer srv.stop()
	fmt.Fprintf(stderr, "server: pid %d at http://%s, holding %d subjects; its log is %s\n", srv.cmd.Process.Pid, srv.addr, len(ids), srv.log)
	peakSampled := bench.SampleRSS(ctx, srv.cmd.Process.Pid, 100*time.Millisecond)

	maxc := slices.Max(levels)
	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConns: 2 * maxc, MaxIdleConnsPerHost: 2 * maxc, IdleConnTimeout: 90 * time.Second, DisableCompression: true},
	}
	base := "http://" + srv.addr
	token, err := benchLogin(ctx, client, base, op, stderr)
	if err != nil {
		return err
	}
	load := &bench.Reads{Client: client, BaseURL: base, Token: token, Purpose: *purpose, Reason: *reason, IDs: ids}
	lagCtx, stopLag := context.WithCancel(ctx)
	defer stopLag()
	lags := sampleLag(lagCtx, client, base+"/metrics", 250*time.Millisecond)
	var results []*bench.Result
	for _, n := range levels {
		fmt.Fprintf(stderr, "concurrency %d: %s warm-up, %s measured…\n", n, *warmup, *duration)
		r, err := load.Run(ctx, n, *warmup, *duration)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "concurrency %d: %.0f reads/s, p50 %s, p99 %s, %d errors\n", n, r.Rate(), ms(r.Percentile(0.50)), ms(r.Percentile(0.99)), r.Errors)
		results = append(results, r)
	}
	stopLag()
	lag := <-lags
	mem, err := bench.ProcMemory(srv.cmd.Process.Pid)
	if err != nil {
		return err
	}
	sampled := peakSampled()
	if err := srv.stop(); err != nil {
		return err
	}

	errs := 0
	for _, r := range results {
		errs += r.Errors
	}
	if *asJSON {
		var lv []map[string]any
		for _, r := range results {
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
		if err := writeIndentedJSON(stdout, map[string]any{
			"subjects": len(ids), "purpose": *purpose, "duration_s": duration.Seconds(), "warmup_s": warmup.Seconds(),
			"levels": lv, "server_peak_rss_mb": float64(mem.Peak) / 1e6, "server_max_sampled_rss_mb": float64(sampled) / 1e6,
			"audit_lag_p99_s": bench.Percentile(lag, 0.99).Seconds(), "audit_lag_max_s": bench.Percentile(lag, 1).Seconds(), "audit_lag_samples": len(lag),
		}); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "concurrency\treads/s\tp50\tp99\tmax\terrors\t")
		for _, r := range results {
			fmt.Fprintf(tw, "%d\t%.0f\t%s\t%s\t%s\t%d\t\n", r.Concurrency, r.Rate(), ms(r.Percentile(0.50)), ms(r.Percentile(0.99)), ms(r.Max()), r.Errors)
		}
		tw.Flush()
		fmt.Fprintf(stdout, "server peak RSS: %.1f MB (VmHWM; largest 100 ms sample %.1f MB), %d subjects, purpose %s, %s per level\n",
			float64(mem.Peak)/1e6, float64(sampled)/1e6, len(ids), *purpose, *duration)
		fmt.Fprintf(stdout, "audit integration lag during the run: p99 %.2f s, max %.2f s (%d samples of /metrics)\n",
			bench.Percentile(lag, 0.99).Seconds(), bench.Percentile(lag, 1).Seconds(), len(lag))
	}
	if errs > 0 {
		for _, r := range results {
			if r.Errors > 0 {
				fmt.Fprintf(stderr, "concurrency %d: %d errors by status (0: transport) %v; first: %s\n", r.Concurrency, r.Errors, r.ByStatus, r.FirstError)
			}
		}
		return fmt.Errorf("%d reads failed (see above and %s)", errs, srv.log)
	}
	return nil
}

func parseLevels(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 1024 {
			return nil, fmt.Errorf("%q is not a number of readers between 1 and 1024", f)
		}
		out = append(out, n)
	}
	if len(out) > 16 {
		return nil, errors.New("at most 16 levels")
	}
	return out, nil
}

// benchServer is coffre serve running as a child process.
type benchServer struct {
	cmd      *exec.Cmd
	addr     string
	log      string
	exited   chan struct{} // closed once cmd.Wait returned
	waitErr  error
	stopOnce sync.Once
	stopErr  error
}

// startBenchServer runs bin serve --dev on dir at a free loopback port and
// waits until it answers /healthz.
func startBenchServer(ctx context.Context, bin, dir, store, guard string, integrator bool) (*benchServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("find a free port: %w", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	logPath := filepath.Join(dir, benchServeLog)
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child holds its own descriptor
	args := []string{"serve", "--dev", "--data", dir, "--listen", addr, "--guard", guard, fmt.Sprintf("--integrator=%t", integrator)}
	if store != "" {
		args = append(args, "--store", store)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	s := &benchServer{cmd: cmd, addr: addr, log: logPath, exited: make(chan struct{})}
	go func() { s.waitErr = cmd.Wait(); close(s.exited) }()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := client.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("server exited before answering (%v); its log:\n%s", s.waitErr, tail(logPath, 2000))
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("server did not answer /healthz within 2 minutes; see %s", logPath)
		}
	}
}

// stop sends SIGTERM and waits for the server to exit (killing it after
// 15 s); it reports an early or unclean exit.
func (s *benchServer) stop() error {
	s.stopOnce.Do(func() {
		select {
		case <-s.exited:
			s.stopErr = fmt.Errorf("server exited during the benchmark (%v); see %s", s.waitErr, s.log)
			return
		default:
		}
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
			if s.waitErr != nil {
				s.stopErr = fmt.Errorf("server: %v; see %s", s.waitErr, s.log)
			}
		case <-time.After(15 * time.Second):
			s.cmd.Process.Kill()
			<-s.exited
			s.stopErr = fmt.Errorf("server still running 15 s after SIGTERM: killed; see %s", s.log)
		}
	})
	return s.stopErr
}

// tail returns the last n bytes of a file, for an error message.
func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// benchLogin logs op in over the API (password, then a TOTP code) and
// returns the session token.
func benchLogin(ctx context.Context, client *http.Client, base string, op benchOperator, stderr io.Writer) (string, error) {
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
		fmt.Fprintf(stderr, "TOTP code refused (%v), probably used by an earlier run; waiting %s for the next one\n", err, wait.Round(time.Second))
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

func postJSON(ctx context.Context, client *http.Client, url string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return json.Unmarshal(b, out)
}

func writeIndentedJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// ms formats a latency in milliseconds.
func ms(d time.Duration) string { return strconv.FormatFloat(msf(d), 'f', 2, 64) + " ms" }

func msf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	for _, c := range s {
		if c < 0x20 || c == 0x7f || c == 0xfffd {
			return false
		}
	}
	return true
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

// startCPUProfile writes a CPU profile to path until the returned function
// is called.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
