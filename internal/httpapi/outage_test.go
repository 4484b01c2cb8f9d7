package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/logburst"
	"github.com/coffre/coffre/internal/synth"
)

// cutProxy forwards TCP connections to a server until Cut: then it closes
// every connection it holds and closes new ones at once (the server is
// gone, as in an outage or a partition), until Restore.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  map[net.Conn]bool
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.Cut() })
	return p
}

func (p *cutProxy) Addr() string { return p.ln.Addr().String() }

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.forward(c)
	}
}

func (p *cutProxy) forward(c net.Conn) {
	p.mu.Lock()
	cut := p.cut
	p.mu.Unlock()
	if cut {
		c.Close()
		return
	}
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		c.Close()
		s.Close()
		return
	}
	p.conns[c], p.conns[s] = true, true
	p.mu.Unlock()
	done := func() {
		c.Close()
		s.Close()
		p.mu.Lock()
		delete(p.conns, c)
		delete(p.conns, s)
		p.mu.Unlock()
	}
	go func() { io.Copy(s, c); done() }()
	io.Copy(c, s)
	done()
}

// Cut drops every connection and refuses new ones.
func (p *cutProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// Restore forwards new connections again.
func (p *cutProxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
}

// syncBuffer is a log destination safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// readyz returns /readyz's status and error code.
func (e *env) readyz(t *testing.T) (int, apiError) {
	t.Helper()
	r, err := e.send(req{Method: "GET", Path: "/readyz"})
	if err != nil {
		t.Fatalf("GET /readyz: %v", err)
	}
	var body struct {
		Error apiError `json:"error"`
	}
	json.Unmarshal(r.Body, &body)
	return r.Status, body.Error
}

// waitReady polls /readyz every 20 ms until it answers want or limit
// passes, and returns how long that took and the last answer.
func (e *env) waitReady(t *testing.T, want int, limit time.Duration) (time.Duration, int, apiError) {
	t.Helper()
	start := time.Now()
	for {
		status, ae := e.readyz(t)
		if status == want || time.Since(start) > limit {
			return time.Since(start), status, ae
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// oneReader makes an HR officer and a caseworker of unit u1, has the
// officer create synthetic person i in u1 and the caseworker read it, and
// waits for /readyz to answer 200. It returns the caseworker's token and
// the person's id.
func (e *env) oneReader(t *testing.T, i int) (token, id string) {
	t.Helper()
	hr := e.login(t, e.addOperator(t, "helene", "hr-officer", "u1"))
	cw := e.login(t, e.addOperator(t, "camille", "caseworker", "u1"))
	p := synth.Make(seed, i)
	p.Unit = "u1"
	id = e.create(t, hr, p)
	e.readView(t, cw, id, "case-handling", "")
	if took, status, ae := e.waitReady(t, http.StatusOK, 5*time.Second); status != http.StatusOK {
		t.Fatalf("before the fault: /readyz = %d %s after %s, want 200", status, ae.Code, took)
	}
	return cw, id
}

// readers reads subject id with token from n goroutines until stop is
// closed, and counts the answers by status and code; an answer other
// than 200 or 503 is kept whole.
type readers struct {
	mu     sync.Mutex
	counts map[string]int
	odd    []string
	wg     sync.WaitGroup
}

func (e *env) startReaders(n int, token, id string, stop chan struct{}) *readers {
	rs := &readers{counts: map[string]int{}}
	for range n {
		rs.wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				r, err := e.send(req{Method: "GET", Path: "/v1/subjects/" + id, Token: token, Purpose: "case-handling"})
				key := "transport error"
				if err == nil {
					var body struct {
						Error apiError `json:"error"`
					}
					json.Unmarshal(r.Body, &body)
					key = http.StatusText(r.Status) + " " + body.Error.Code
				}
				rs.mu.Lock()
				rs.counts[key]++
				if err != nil || r.Status != http.StatusOK && r.Status != http.StatusServiceUnavailable {
					if len(rs.odd) < 5 {
						rs.odd = append(rs.odd, key+": "+string(r.Body))
					}
				}
				rs.mu.Unlock()
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
	return rs
}

// take returns the counts so far and starts afresh.
func (rs *readers) take() (map[string]int, []string) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	c, o := rs.counts, rs.odd
	rs.counts, rs.odd = map[string]int{}, nil
	return c, o
}

// TestPostgresOutage cuts the connection to PostgreSQL (through a proxy,
// so that the shared server keeps running) under concurrent reads; see
// outageUnderReads for what must hold.
func TestPostgresOutage(t *testing.T) {
	u, err := url.Parse(pgURL(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := newCutProxy(t, u.Host)
	u.Host = proxy.Addr()
	outageUnderReads(t, u.String(), proxy.Cut, proxy.Restore)
}

// TestPostgresStopped stops a PostgreSQL server of the test's own (a
// cluster made with initdb, so that the shared server and the other
// packages' tests are not disturbed) under concurrent reads, with the
// fast shutdown an operator or a crash gives (connections terminated,
// 57P01), then starts it again; see outageUnderReads.
func TestPostgresStopped(t *testing.T) {
	pg := startPrivatePostgres(t)
	outageUnderReads(t, pg.url, pg.stop, pg.start)
}

// outageUnderReads serves from the PostgreSQL at u and reads under four
// clients while cut makes the server unreachable, then restore brings it
// back: every refused request is 503 unavailable, none 500; /readyz is
// 503 within a second and 200 again once the server is back; the log
// holds one line per kind of failure, not one per request.
func outageUnderReads(t *testing.T, u string, cut, restore func()) {
	logs := &syncBuffer{}
	burst := logburst.New(slog.NewTextHandler(logs, nil), logburst.Options{Window: time.Hour})
	e := newEnvOpts(t, envOptions{store: openPostgres(t, u), readiness: true, start: time.Now(), logger: slog.New(burst)})

	cw, id := e.oneReader(t, 1)

	stop := make(chan struct{})
	rs := e.startReaders(4, cw, id, stop)
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		rs.wg.Wait()
	}()
	time.Sleep(200 * time.Millisecond)
	if c, odd := rs.take(); c["OK "] == 0 || len(odd) > 0 {
		t.Fatalf("before the cut: answers %v, %q; want 200s only", c, odd)
	}

	cut()
	took, status, ae := e.waitReady(t, http.StatusServiceUnavailable, 3*time.Second)
	if status != http.StatusServiceUnavailable || took > time.Second {
		t.Errorf("after the cut: /readyz = %d %s after %s, want 503 within 1 s", status, ae.Code, took)
	}
	if ae.Code != "store_unreachable" && ae.Code != "audit_unwritable" {
		t.Errorf("after the cut: /readyz code %q, want store_unreachable or audit_unwritable", ae.Code)
	}
	time.Sleep(1500 * time.Millisecond)
	c, odd := rs.take()
	t.Logf("during the cut: %v", c)
	if len(odd) > 0 {
		t.Errorf("during the cut, answers other than 200 and 503: %v: %q", c, odd)
	}
	if c["Service Unavailable unavailable"] == 0 {
		t.Errorf("during the cut: answers %v, want 503 unavailable", c)
	}
	if _, status, ae := e.waitReady(t, http.StatusOK, 0); status != http.StatusServiceUnavailable {
		t.Errorf("still cut: /readyz = %d %s, want 503", status, ae.Code)
	}

	restore()
	took, status, ae = e.waitReady(t, http.StatusOK, 10*time.Second)
	if status != http.StatusOK {
		t.Fatalf("after the restore: /readyz = %d %s after %s, want 200", status, ae.Code, took)
	}
	t.Logf("ready again %s after the restore", took)
	// Requests in flight at the restore, and pooled connections the cut
	// broke, may still fail once each: wait for a quiet window of 200s.
	recovered := false
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		time.Sleep(300 * time.Millisecond)
		c, odd := rs.take()
		if len(odd) > 0 {
			t.Errorf("after the restore, answers other than 200 and 503: %v: %q", c, odd)
			break
		}
		if c["OK "] > 0 && len(c) == 1 {
			recovered = true
			break
		}
	}
	close(stop)
	rs.wg.Wait()
	if !recovered {
		t.Error("after the restore: reads did not answer 200 alone within 5 s")
	}

	failed := strings.Count(logs.String(), `msg="request failed"`)
	refused := 0
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "status=500") {
			t.Errorf("a 500 in the log: %s", l)
		}
		if strings.Contains(l, `msg="request failed"`) && strings.Contains(l, "status=503") {
			refused++
		}
	}
	if refused == 0 || failed > 10 {
		t.Errorf("log: %d request-failed lines (%d of them 503), want a few (one per route and code):\n%s", failed, refused, logs.String())
	}
	burst.Flush()
	if !strings.Contains(logs.String(), "repeated=") {
		t.Errorf("log: no repeated=N line after Flush")
	}
}

// privatePostgres is a PostgreSQL cluster of one test's own.
type privatePostgres struct {
	url         string
	stop, start func()
}

// startPrivatePostgres makes a throwaway cluster with initdb (as the
// postgres user when the test runs as root, since PostgreSQL refuses to
// run as root), starts it on a free loopback port, and removes it at the
// end of the test. It skips when the PostgreSQL binaries are absent,
// unless COFFRE_REQUIRE_POSTGRES is set.
func startPrivatePostgres(t *testing.T) *privatePostgres {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(bins) == 0 {
		if os.Getenv("COFFRE_REQUIRE_POSTGRES") != "" {
			t.Fatal("no pg_ctl under /usr/lib/postgresql/*/bin")
		}
		t.Skip("no PostgreSQL server binaries (pg_ctl, initdb) to start a private cluster")
	}
	bin := filepath.Dir(bins[len(bins)-1])
	dir, err := os.MkdirTemp("", "coffre-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	run := func(name string, args ...string) error {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		if os.Geteuid() == 0 {
			cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(bin, name)}, args...)...)
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %v: %s", name, err, out)
		}
		return nil
	}
	if os.Geteuid() == 0 {
		pw, err := user.Lookup("postgres")
		if err != nil {
			t.Skipf("running as root and no postgres user to run a private cluster: %v", err)
		}
		uid, _ := strconv.Atoi(pw.Uid)
		gid, _ := strconv.Atoi(pw.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	data := filepath.Join(dir, "data")
	if err := run("initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"); err != nil {
		t.Fatal(err)
	}
	opts := "-p " + port + " -k " + dir + " -c listen_addresses=127.0.0.1 -c fsync=off"
	pg := &privatePostgres{url: "postgres://postgres@127.0.0.1:" + port + "/postgres?sslmode=disable"}
	pg.start = func() {
		if err := run("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "start"); err != nil {
			t.Fatal(err)
		}
	}
	pg.stop = func() {
		if err := run("pg_ctl", "-D", data, "-m", "fast", "-w", "stop"); err != nil {
			t.Fatal(err)
		}
	}
	pg.start()
	t.Cleanup(func() { run("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop") })
	return pg
}
