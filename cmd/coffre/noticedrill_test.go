package main

import (
	"context"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/deliver"
	"github.com/coffre/coffre/internal/deliver/delivertest"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/notice"
	"github.com/coffre/coffre/internal/outbox"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/postgres"
	"github.com/coffre/coffre/internal/store/postgres/pgtest"
	"github.com/coffre/coffre/internal/synth"
	"github.com/coffre/coffre/internal/vault"
)

// The crash drill's parameters. The lease is the shortest the
// configuration allows with a 1 s send timeout; the SMTP server takes
// drillDelay to answer each message, so that the queue drains over
// seconds and the kill lands in the middle of it.
const (
	drillLease   = 6 * time.Second
	drillTimeout = time.Second
	drillDelay   = 2 * time.Millisecond
)

// TestNoticesSurviveKill is issue 14's crash drill: 10,000 notices queued
// (one read of each of 10,000 people, with no delivery worker running),
// then a real `coffre serve` (this test binary run as coffre, as
// TestImportSurvivesKill does) delivers them to an in-process SMTP server
// that takes a few ms to answer each; once a quarter has arrived the
// server is killed with SIGKILL, mid-batch with messages leased, and
// started again. Every notice must arrive at least once (the receiver
// sees every idempotency key), the store must record every one sent and
// none dead, and the counts are printed: queued, received before the
// kill, leased at the kill, received after, duplicates, times.
//
// COFFRE_DRILL_NOTICES sets the number of notices on both stores
// (default 1,000 on both; with COFFRE_SOAK=1, 10,000 on SQLite and 2,500
// on PostgreSQL, whose queue is the same code under other SQL, at twice
// the time a notice).
func TestNoticesSurviveKill(t *testing.T) {
	t.Parallel()
	n, onPG := sized(10_000, 1000, 1000), sized(2500, 1000, 1000)
	if s := os.Getenv("COFFRE_DRILL_NOTICES"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 100 || n > 1_000_000 {
			t.Fatalf("COFFRE_DRILL_NOTICES=%q: want a number from 100 to 1,000,000", s)
		}
		onPG = n
	}
	t.Run("sqlite", func(t *testing.T) { noticeDrill(t, n, "") })
	t.Run("postgres", func(t *testing.T) {
		pg := pgtest.Migrated(t, postgres.Digest(), postgres.Migrate)
		noticeDrill(t, onPG, pg)
	})
}

func noticeDrill(t *testing.T, n int, pg string) {
	start := time.Now()
	data := t.TempDir()
	keys := queueNotices(t, data, pg, n)
	queued := time.Since(start)

	mx := delivertest.StartSMTPWith(t, delivertest.SMTPOptions{Delay: drillDelay})
	log := filepath.Join(data, "serve.log")
	first := time.Now()
	srv := startDrillServer(t, data, pg, mx, log)

	// The kill, once a quarter and a random part of two batches has
	// arrived: the worker is then between a claim and the record of its
	// outcomes, somewhere.
	mx.Wait(n/4+mrand.IntN(2*deliver.DefaultBatch), 2*time.Minute)
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-srv.exited
	killed := time.Now()
	before := distinctKeys(t, mx.Mails())
	if len(before) == 0 || len(before) == n {
		t.Fatalf("the kill did not land mid-delivery: %d of %d notices had arrived", len(before), n)
	}
	atKill := queueState(t, data, pg, killed)
	if atKill.leased == 0 {
		t.Errorf("no message leased at the kill (%+v): the drill did not interrupt a batch", atKill)
	}

	restart := time.Now()
	srv = startDrillServer(t, data, pg, mx, log)
	deadline := time.Now().Add(drillLease + 2*time.Minute)
	got := map[string]int{}
	var mails []delivertest.Mail
	for len(got) < n && time.Now().Before(deadline) {
		// Wait for a few more, and parse only the new ones.
		more := mx.Wait(len(mails)+min(500, n-len(got)), time.Second)
		for _, m := range more[len(mails):] {
			got[m.Header(t).Get(deliver.HeaderKey)]++
		}
		mails = more
	}
	delivered := time.Since(restart)
	for k := range keys {
		if got[k] == 0 {
			t.Errorf("notice %s never arrived (%d of %d did); the server's log is %s:\n%s", k, len(got), n, log, tailFile(log, 3000))
			break
		}
	}
	if len(got) != len(keys) {
		t.Errorf("the receiver saw %d keys, want the %d queued", len(got), len(keys))
	}
	// The server records the last outcomes just after the sends: wait
	// for /metrics to show an empty queue, then stop it.
	waitQueueEmpty(t, srv.base+"/metrics", 30*time.Second)
	srv.stop(t)
	end := queueState(t, data, pg, time.Now())
	if end.sent != n || end.pending != 0 || end.dead != 0 {
		t.Errorf("after the restart the store records %+v, want all %d sent", end, n)
	}
	t.Logf("crash drill (%s): %d notices queued in %v; killed %v after the first start with %d received (%d recorded sent, %d pending of which %d leased); "+
		"restarted: the other %d received %v after the restart, %d messages in all, %d duplicates (%d keys twice or more), the most tries of one message %d; total %v",
		storeName(pg), n, queued.Round(time.Millisecond), killed.Sub(first).Round(time.Millisecond), len(before), atKill.sent, atKill.pending, atKill.leased,
		n-len(before), delivered.Round(time.Millisecond), len(mails), len(mails)-len(got), dupKeys(got), end.maxTries, time.Since(start).Round(time.Millisecond))
}

func storeName(pg string) string {
	if pg != "" {
		return "PostgreSQL"
	}
	return "SQLite"
}

// queueNotices imports n people into a fresh data directory and reads
// each once (a caseworker, case-handling: a notice at once; directory's
// go in the day's digest), with no server running: n notices queued. It returns their keys.
func queueNotices(t *testing.T, data, pg string, n int) map[string]bool {
	t.Helper()
	ctx := t.Context()
	a, err := openApp(ctx, appOptions{dev: true, dataDir: data, store: pg, guard: "off"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	hr := identity.Actor{ID: "op_drill", Role: "hr-officer", Origin: "127.0.0.1"}
	var ids []string
	for from := 0; from < n; from += 5000 {
		rows := make([]vault.ImportRow, 0, 5000)
		for i := from; i < min(n, from+5000); i++ {
			p := synth.Make(14, i)
			rows = append(rows, vault.ImportRow{Num: i + 1, Unit: p.Unit, Fields: p.Fields})
		}
		got, failed, err := a.vault.Import(ctx, hr, rows)
		if err != nil || len(failed) > 0 {
			t.Fatalf("import: %v, %d rows failed", err, len(failed))
		}
		ids = append(ids, got...)
	}
	cw := identity.Actor{ID: "op_drill_cw", Role: "caseworker", Origin: "127.0.0.1"}
	keys := make(map[string]bool, n)
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := make(chan string)
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			for id := range next {
				v, err := a.vault.Read(ctx, cw, id, "case-handling", "drill")
				if err != nil {
					errs <- err
					continue
				}
				mu.Lock()
				keys[notice.Key(v.AuditSeq)] = true
				mu.Unlock()
			}
		})
	}
	for _, id := range ids {
		next <- id
	}
	close(next)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatalf("read: %v", err)
	}
	if len(keys) != n {
		t.Fatalf("%d notices queued, want %d", len(keys), n)
	}
	return keys
}

// drillQueue is what the store holds of the notices.
type drillQueue struct {
	sent, pending, leased, dead, maxTries int
}

// queueState opens the store (no server running) and counts the
// notices by state; leased are the pending ones whose lease runs past at.
func queueState(t *testing.T, data, pg string, at time.Time) drillQueue {
	t.Helper()
	a, err := openApp(t.Context(), appOptions{dev: true, dataDir: data, store: pg}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	var q drillQueue
	err = a.store.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
		for after := int64(0); ; {
			ms, err := tx.Messages(ctx, after, 5000)
			if err != nil || len(ms) == 0 {
				return err
			}
			for _, m := range ms {
				after = m.ID
				if m.Channel != outbox.ChannelPerson {
					continue
				}
				q.maxTries = max(q.maxTries, m.Tries)
				switch m.Status {
				case outbox.StatusSent:
					q.sent++
				case outbox.StatusDead:
					q.dead++
				default:
					q.pending++
					if m.LeaseUntil.After(at) {
						q.leased++
					}
				}
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// drillServer is coffre serve in a child process.
type drillServer struct {
	cmd    *exec.Cmd
	base   string
	exited chan struct{}
}

// startDrillServer runs this test binary as `coffre serve --dev` on data
// (and pg), delivering to mx with the drill's lease, and waits until it
// answers /healthz.
func startDrillServer(t *testing.T, data, pg string, mx *delivertest.SMTP, logPath string) *drillServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	args := []string{"serve", "--dev", "--data", data, "--listen", addr}
	if pg != "" {
		args = append(args, "--store", pg)
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "COFFRE_HELPER_ARGS="+strings.Join(args, "\x1f"),
		"COFFRE_DELIVERY_SMTP_HOST="+mx.Host, "COFFRE_DELIVERY_SMTP_PORT="+strconv.Itoa(mx.Port),
		"COFFRE_DELIVERY_SMTP_STARTTLS=none", "COFFRE_DELIVERY_SMTP_FROM=coffre@example.org",
		"COFFRE_DELIVERY_RATES_EMAIL=10000", "COFFRE_DELIVERY_TIMEOUT="+drillTimeout.String(), "COFFRE_DELIVERY_LEASE="+drillLease.String(),
		"COFFRE_NOTICES_LANGUAGE=en")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &drillServer{cmd: cmd, base: "http://" + addr, exited: make(chan struct{})}
	go func() { cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-s.exited
	})
	client := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(time.Minute); ; {
		if res, err := client.Get(s.base + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case <-s.exited:
			t.Fatalf("coffre serve exited at start:\n%s", tailFile(logPath, 3000))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("coffre serve did not answer /healthz within a minute:\n%s", tailFile(logPath, 3000))
		}
	}
}

// stop ends the server with SIGTERM, as an operator would.
func (s *drillServer) stop(t *testing.T) {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		t.Error("coffre serve still running 30 s after SIGTERM")
	}
}

// distinctKeys counts the messages of each idempotency key.
func distinctKeys(t *testing.T, mails []delivertest.Mail) map[string]int {
	t.Helper()
	got := make(map[string]int, len(mails))
	for _, m := range mails {
		got[m.Header(t).Get(deliver.HeaderKey)]++
	}
	return got
}

func dupKeys(got map[string]int) int {
	n := 0
	for _, c := range got {
		if c > 1 {
			n++
		}
	}
	return n
}

// waitQueueEmpty polls /metrics until the person channel has nothing
// pending.
func waitQueueEmpty(t *testing.T, url string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		_, text := getMetrics(t, url)
		if strings.Contains(text, `coffre_delivery_queue_depth{channel="person"} 0`) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the notices' queue is not empty %v after the last arrived:\n%s", d, grepLines(text, "coffre_delivery_"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func grepLines(text, prefix string) string {
	var b strings.Builder
	for line := range strings.Lines(text) {
		if strings.HasPrefix(line, prefix) {
			b.WriteString(line)
		}
	}
	return b.String()
}

func tailFile(path string, n int) string {
	b, _ := os.ReadFile(path)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
