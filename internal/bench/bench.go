// Package bench holds Coffre's benchmarks, which `coffre bench` runs:
// [ImportBench] imports synthetic people through the vault, [ReadBench]
// serves them in a child process and measures audited reads over HTTP
// from the outside, [AuditBench] measures the audit log at scale,
// [HistoryBench] a person's history in a large log, and [LoginBench]
// times the login's password step for existing and unknown usernames, the
// two sides of a username oracle. The
// parts are usable alone: an HTTP load generator for audited reads
// ([Reads]), exact latency percentiles, and the memory of a process as
// Linux reports it in /proc.
//
// # Method
//
// [Reads.Run] starts n goroutines, each looping GET /v1/subjects/{id} on
// a random id, one request in flight per goroutine (a closed loop: the
// offered load adapts to the server's speed). Requests that start during a
// warm-up are discarded; of those that start in the measured window, every
// 200 answer's latency is kept, and the percentiles are read exactly from
// the sorted samples. Anything else (another status, a transport error)
// counts as an error, by status.
//
// The generator shares the machine with the server it measures: on a small
// machine its CPU time is taken from the server's, so figures are a floor.
package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coffre/coffre/internal/subjectid"
)

// Reads is an audited-read load against one server and one session.
type Reads struct {
	Client  *http.Client
	BaseURL string // "http://127.0.0.1:8080"
	Token   string // session token, sent as Authorization: Bearer
	Purpose string // Coffre-Purpose
	Reason  string // Coffre-Reason; empty sends none
	IDs     []string
}

// Result is one concurrency level's outcome.
type Result struct {
	Concurrency int
	Window      time.Duration // the measured window, warm-up excluded
	Reads       int           // 200 answers started in the window
	Errors      int           // other answers and transport errors
	// ByStatus counts errors by HTTP status; 0 is a transport error.
	ByStatus map[int]int
	// FirstError describes the first error seen (status and body start).
	FirstError string
	latencies  []time.Duration // sorted
}

// Rate is reads per second over the measured window.
func (r *Result) Rate() float64 {
	if r.Window <= 0 {
		return 0
	}
	return float64(r.Reads) / r.Window.Seconds()
}

// Percentile returns the latency below which a fraction p (0 < p ≤ 1) of
// the successful reads fall: the nearest-rank value of the sorted samples,
// or 0 without samples.
func (r *Result) Percentile(p float64) time.Duration {
	return Percentile(r.latencies, p)
}

// Percentile returns the nearest-rank p-quantile (0 < p ≤ 1) of sorted.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	k := int(math.Ceil(float64(n)*p)) - 1
	return sorted[min(max(k, 0), n-1)]
}

// Max returns the slowest successful read.
func (r *Result) Max() time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[len(r.latencies)-1]
}

type workerResult struct {
	lat      []time.Duration
	errors   int
	byStatus map[int]int
	first    string
}

// Run drives concurrency readers for warmup, then for window, and returns
// what the window saw. It returns an error only if ctx ends first.
func (l *Reads) Run(ctx context.Context, concurrency int, warmup, window time.Duration) (*Result, error) {
	if len(l.IDs) == 0 {
		return nil, errors.New("no subject ids to read")
	}
	t0 := time.Now().Add(warmup)
	t1 := t0.Add(window)
	out := make([]workerResult, concurrency)
	var wg sync.WaitGroup
	for w := range concurrency {
		wg.Go(func() { out[w] = l.worker(ctx, uint64(w), t0, t1) })
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res := &Result{Concurrency: concurrency, Window: window, ByStatus: map[int]int{}}
	for _, o := range out {
		res.latencies = append(res.latencies, o.lat...)
		res.Errors += o.errors
		for s, n := range o.byStatus {
			res.ByStatus[s] += n
		}
		if res.FirstError == "" {
			res.FirstError = o.first
		}
	}
	res.Reads = len(res.latencies)
	slices.Sort(res.latencies)
	return res, nil
}

func (l *Reads) worker(ctx context.Context, w uint64, t0, t1 time.Time) workerResult {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), w))
	res := workerResult{byStatus: map[int]int{}, lat: make([]time.Duration, 0, 1<<14)}
	for ctx.Err() == nil {
		start := time.Now()
		if !start.Before(t1) {
			break
		}
		id := l.IDs[rng.IntN(len(l.IDs))]
		status, msg := l.read(ctx, id)
		if start.Before(t0) {
			continue
		}
		if status == http.StatusOK {
			res.lat = append(res.lat, time.Since(start))
			continue
		}
		res.errors++
		res.byStatus[status]++
		if res.first == "" {
			res.first = msg
		}
	}
	return res
}

// read does one GET and returns its status (0 for a transport error) and,
// on an error, a short description.
func (l *Reads) read(ctx context.Context, id string) (int, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.BaseURL+"/v1/subjects/"+id, nil)
	if err != nil {
		return 0, err.Error()
	}
	req.Header.Set("Authorization", "Bearer "+l.Token)
	req.Header.Set("Coffre-Purpose", l.Purpose)
	if l.Reason != "" {
		req.Header.Set("Coffre-Reason", l.Reason)
	}
	resp, err := l.Client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, ""
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, fmt.Sprintf("GET /v1/subjects/%s: %s: %s", id, resp.Status, strings.TrimSpace(string(body)))
}

// WriteIDs writes subject ids to w, one a line.
func WriteIDs(w *bufio.Writer, ids []string) error {
	for _, id := range ids {
		w.WriteString(id)
		if err := w.WriteByte('\n'); err != nil {
			return err
		}
	}
	return nil
}

// ReadIDs reads a file of subject ids, one a line, checking each.
func ReadIDs(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ids []string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		id := sc.Text()
		if !subjectid.Valid(id) {
			return nil, fmt.Errorf("%s:%d: not a subject id", path, n)
		}
		ids = append(ids, id)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return ids, nil
}

// Memory is a process's resident memory, from /proc/PID/status.
type Memory struct {
	RSS  int64 // VmRSS, bytes: resident now
	Peak int64 // VmHWM, bytes: the most resident so far
}

// ProcMemory reads the memory of process pid (Linux only).
func ProcMemory(pid int) (Memory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, fmt.Errorf("read process memory: %w", err)
	}
	var m Memory
	for line := range strings.Lines(string(b)) {
		name, val, ok := strings.Cut(line, ":")
		if !ok || name != "VmRSS" && name != "VmHWM" {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("read process memory: %s: %w", name, err)
		}
		if name == "VmRSS" {
			m.RSS = kb << 10
		} else {
			m.Peak = kb << 10
		}
	}
	if m.Peak == 0 {
		return Memory{}, errors.New("read process memory: no VmHWM in /proc status")
	}
	return m, nil
}

// ProcCPU is the CPU time process pid (0: this one) has used, user and
// system, from /proc/PID/stat (Linux only; clock ticks of 1/100 s).
func ProcCPU(pid int) (time.Duration, error) {
	path := "/proc/self/stat"
	if pid != 0 {
		path = fmt.Sprintf("/proc/%d/stat", pid)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read process CPU: %w", err)
	}
	// The fields after the command name, which is in parentheses.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 13 {
		return 0, errors.New("read process CPU: unexpected /proc stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("read process CPU: %w", err)
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}

// MachineCPU is the CPU time all the machine's processes have used, from
// /proc/stat (Linux only): what is neither idle nor waiting for I/O.
func MachineCPU() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, fmt.Errorf("read machine CPU: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0, errors.New("read machine CPU: unexpected /proc/stat")
	}
	var busy int64
	for i, v := range f[1:] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("read machine CPU: %w", err)
		}
		if i != 3 && i != 4 && i < 8 { // not idle, iowait, guest
			busy += n
		}
	}
	return time.Duration(busy) * 10 * time.Millisecond, nil
}

// SampleRSS samples the resident memory of pid every interval until ctx
// ends, and returns a function that reports the largest sample so far.
func SampleRSS(ctx context.Context, pid int, interval time.Duration) func() int64 {
	var mu sync.Mutex
	var peak int64
	sample := func() {
		if m, err := ProcMemory(pid); err == nil {
			mu.Lock()
			peak = max(peak, m.RSS)
			mu.Unlock()
		}
	}
	sample()
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				sample()
			}
		}
	}()
	return func() int64 {
		sample()
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}
