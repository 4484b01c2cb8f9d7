package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/coffre/coffre/internal/mailsink"
)

// NoticesBench measures the delivery worker alone: Queue queues Notices
// notices in the benchmark's store with no server running (a read of a
// random person each, as the read benchmark's operator would), then a
// server (Server serve --dev) delivers them to a local SMTP sink in this
// process, and the benchmark times the drain and the CPU the server and
// the sink used. No read runs meanwhile, nor the audit integrator (which
// would fold in the queuing reads' entries): this is the worker's
// capacity on the machine, not its share under load ([ReadBench]
// measures that).
type NoticesBench struct {
	Server  string
	Dir     string
	Store   string
	Notices int
	// Queue queues n notices, integrates their audit entries (the
	// server runs without the integrator), and returns the messages
	// pending in all (those of earlier runs too).
	Queue func(ctx context.Context, n int) (pending int64, err error)
	Log   io.Writer
}

// NoticesReport is a [NoticesBench]'s outcome.
type NoticesReport struct {
	Queued  int           // notices this run queued
	Pending int64         // messages pending when the server started
	Queuing time.Duration // how long queuing (and integrating) took
	// Delivered is the messages the sink took between the first and the
	// last (Elapsed); ServerCPU and BenchCPU the CPU the server and this
	// process (the sink) used meanwhile.
	Delivered           int64
	Elapsed             time.Duration
	ServerCPU, BenchCPU time.Duration
	// Sink holds how long the sink took over each message, sorted.
	Sink      []time.Duration
	ServerLog string
}

// Rate is the notices delivered per second.
func (r *NoticesReport) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Delivered) / r.Elapsed.Seconds()
}

func (r *NoticesReport) perNotice(d time.Duration) float64 {
	if r.Delivered == 0 {
		return 0
	}
	return float64(d.Microseconds()) / float64(r.Delivered)
}

// Run queues the notices, serves, waits for the sink to hold them all
// and stops the server.
func (b *NoticesBench) Run(ctx context.Context) (*NoticesReport, error) {
	fmt.Fprintf(b.Log, "queuing %d notices (a read each, no server running), and integrating their audit entries…\n", b.Notices)
	start := time.Now()
	pending, err := b.Queue(ctx, b.Notices)
	if err != nil {
		return nil, err
	}
	rep := &NoticesReport{Queued: b.Notices, Pending: pending, Queuing: time.Since(start)}
	fmt.Fprintf(b.Log, "queued in %s; %d messages pending; serving…\n", rep.Queuing.Round(time.Millisecond), pending)

	sink, err := mailsink.Start("", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer sink.Close()
	srv, err := startServer(ctx, b.Server, b.Dir, serverOptions{store: b.Store, guard: "on", env: sinkEnv(sink)})
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	rep.ServerLog = srv.log
	pid := srv.cmd.Process.Pid
	fmt.Fprintf(b.Log, "server: pid %d at http://%s, delivering to an SMTP sink at %s; its log is %s\n", pid, srv.addr, sink.Addr(), srv.log)

	// The clock runs from the first message the sink takes to the last.
	var first windowCounts
	var t0 time.Time
	deadline := time.Now().Add(DrainLimit + time.Duration(pending)*time.Millisecond)
	for {
		n := sink.Received()
		if t0.IsZero() && n > 0 {
			t0 = time.Now()
			first.sent = n
			first.server, _ = ProcCPU(pid)
			first.bench, _ = ProcCPU(0)
		}
		if n >= pending {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the sink took %d of %d messages before the deadline; see %s", n, pending, srv.log)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	rep.Elapsed = time.Since(t0)
	serverCPU, _ := ProcCPU(pid)
	benchCPU, _ := ProcCPU(0)
	rep.Delivered = sink.Received() - first.sent
	rep.ServerCPU, rep.BenchCPU = serverCPU-first.server, benchCPU-first.bench
	// The queue empties once the server has recorded the last outcomes.
	client := &http.Client{Timeout: 10 * time.Second}
	if drain(ctx, client, "http://"+srv.addr+"/metrics", time.Minute) < 0 {
		return nil, fmt.Errorf("the queue was not empty a minute after the sink took every message; see %s", srv.log)
	}
	if err := srv.stop(); err != nil {
		return nil, err
	}
	rep.Sink = sink.Timings()
	slices.Sort(rep.Sink)
	return rep, nil
}

// WriteText prints the report as bench notices does.
func (r *NoticesReport) WriteText(w io.Writer) {
	fmt.Fprintf(w, "%d notices queued and their entries integrated in %s (%d messages pending at the server's start)\n", r.Queued, r.Queuing.Round(time.Millisecond), r.Pending)
	fmt.Fprintf(w, "delivered %d in %s: %.0f notices/s\n", r.Delivered, r.Elapsed.Round(time.Millisecond), r.Rate())
	fmt.Fprintf(w, "CPU a notice: server %.0f µs, sink %.0f µs (%.2f and %.2f cores)\n", r.perNotice(r.ServerCPU), r.perNotice(r.BenchCPU),
		r.ServerCPU.Seconds()/r.Elapsed.Seconds(), r.BenchCPU.Seconds()/r.Elapsed.Seconds())
	fmt.Fprintf(w, "sink: %d messages, each taking it p50 %s, p99 %s, max %s (MAIL FROM to the answer to DATA)\n",
		len(r.Sink), ms(Percentile(r.Sink, 0.5)), ms(Percentile(r.Sink, 0.99)), ms(Percentile(r.Sink, 1)))
}

// WriteJSON prints the report as bench notices --json does.
func (r *NoticesReport) WriteJSON(w io.Writer) error {
	return writeIndentedJSON(w, map[string]any{
		"queued": r.Queued, "pending": r.Pending, "queuing_s": r.Queuing.Seconds(),
		"delivered": r.Delivered, "elapsed_s": r.Elapsed.Seconds(), "notices_per_sec": r.Rate(),
		"server_cpu_us_per_notice": r.perNotice(r.ServerCPU), "sink_cpu_us_per_notice": r.perNotice(r.BenchCPU),
		"sink_messages": len(r.Sink), "sink_p50_ms": msf(Percentile(r.Sink, 0.5)), "sink_p99_ms": msf(Percentile(r.Sink, 0.99)), "sink_max_ms": msf(Percentile(r.Sink, 1)),
	})
}
