package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"syscall"
	"text/tabwriter"
	"time"
)

// PurgeBench measures audited reads with and without `coffre retention
// run` purging expired records beside the server, alternating in one run
// until the purge has gone through every record: each round reads for
// Window with no purge, then starts `retention run` as a process of its
// own on the same store and reads for Window again while it purges, then
// stops it (SIGTERM: it ends between two batches and prints what it did).
// The purge's rate is the records it shredded over the time it ran.
type PurgeBench struct {
	Server      string // the coffre binary: the server and the purge
	Dir         string
	Store       string
	Operator    Operator
	IDs         []string // the readers' targets: none of them due
	Concurrency int
	Warmup      time.Duration
	Window      time.Duration // each window during the purge
	Baseline    time.Duration // each window without it
	MaxRounds   int
	Batch       int
	Rest        float64
	Purpose     string
	Reason      string
	Log         io.Writer
}

// PurgeRound is one round of a [PurgeBench].
type PurgeRound struct {
	Without, During *Result
	Purged          int           // records the purge shredded in the round
	Ran             time.Duration // how long it purged
	// Whole reports whether the purge ran through the whole During
	// window (the last round's may end early: it is left out of the
	// ratio).
	Whole bool
}

// PurgeReport is a [PurgeBench]'s outcome.
type PurgeReport struct {
	Subjects    int
	Concurrency int
	Window      time.Duration
	Batch       int
	Rest        float64
	Rounds      []PurgeRound
	Done        bool // the purge went through every record
	ServerLog   string
}

// purgeOutput is what `coffre retention run --json` prints.
type purgeOutput struct {
	Seen    int     `json:"seen"`
	Records int     `json:"records"`
	Held    int     `json:"held"`
	Seconds float64 `json:"seconds"`
}

// Run starts the server, runs rounds until the purge is done (or
// MaxRounds) and stops it.
func (b *PurgeBench) Run(ctx context.Context) (*PurgeReport, error) {
	srv, err := startServer(ctx, b.Server, b.Dir, serverOptions{store: b.Store, guard: "bench", integrator: true, noNotices: true})
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	fmt.Fprintf(b.Log, "server: pid %d at http://%s; readers read %d subjects; its log is %s\n", srv.cmd.Process.Pid, srv.addr, len(b.IDs), srv.log)
	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConns: 2 * b.Concurrency, MaxIdleConnsPerHost: 2 * b.Concurrency, IdleConnTimeout: 90 * time.Second, DisableCompression: true},
	}
	base := "http://" + srv.addr
	token, err := login(ctx, client, base, b.Dir, b.Operator, b.Log)
	if err != nil {
		return nil, err
	}
	load := &Reads{Client: client, BaseURL: base, Token: token, Purpose: b.Purpose, Reason: b.Reason, IDs: b.IDs}
	rep := &PurgeReport{Subjects: len(b.IDs), Concurrency: b.Concurrency, Window: b.Window, Batch: b.Batch, Rest: b.Rest, ServerLog: srv.log}
	for i := 0; i < b.MaxRounds && !rep.Done; i++ {
		var round PurgeRound
		fmt.Fprintf(b.Log, "round %d: reads without a purge…\n", i+1)
		if round.Without, err = load.Run(ctx, b.Concurrency, b.Warmup, b.Baseline); err != nil {
			return nil, err
		}
		p, err := b.startPurge()
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(b.Log, "round %d: reads during the purge…\n", i+1)
		// The purge opens the store first: its first batch comes within
		// the warm-up.
		if round.During, err = load.Run(ctx, b.Concurrency, b.Warmup, b.Window); err != nil {
			p.cmd.Process.Kill()
			return nil, err
		}
		out, finished, err := p.stop()
		if err != nil {
			return nil, err
		}
		round.Purged, round.Ran, round.Whole = out.Records, time.Duration(out.Seconds*float64(time.Second)), !finished
		rep.Done = finished
		fmt.Fprintf(b.Log, "round %d: %.0f reads/s without, %.0f during (%.0f%%); %d records purged in %s (%.0f/s)%s\n", i+1,
			round.Without.Rate(), round.During.Rate(), 100*round.During.Rate()/round.Without.Rate(), round.Purged, round.Ran.Round(100*time.Millisecond),
			round.rate(), map[bool]string{true: "; the purge is done", false: ""}[finished])
		rep.Rounds = append(rep.Rounds, round)
	}
	return rep, srv.stop()
}

func (r *PurgeRound) rate() float64 {
	if r.Ran <= 0 {
		return 0
	}
	return float64(r.Purged) / r.Ran.Seconds()
}

// purgeProc is a running `coffre retention run`.
type purgeProc struct {
	cmd    *exec.Cmd
	out    bytes.Buffer
	errs   bytes.Buffer
	exited chan struct{}
	err    error
}

func (b *PurgeBench) startPurge() (*purgeProc, error) {
	args := []string{"retention", "run", "--dev", "--data", b.Dir, "--json", "--batch", fmt.Sprint(b.Batch), "--rest", fmt.Sprint(b.Rest)}
	if b.Store != "" {
		args = append(args, "--store", b.Store)
	}
	p := &purgeProc{cmd: exec.Command(b.Server, args...), exited: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.errs
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start retention run: %w", err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	return p, nil
}

// stop ends the purge if it still runs and returns what it printed;
// finished reports whether it had ended by itself, its sweep done.
func (p *purgeProc) stop() (out purgeOutput, finished bool, err error) {
	select {
	case <-p.exited:
		finished = p.err == nil
	default:
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(time.Minute):
			p.cmd.Process.Kill()
			<-p.exited
			return out, false, fmt.Errorf("retention run still running a minute after SIGTERM: killed")
		}
	}
	if err := json.Unmarshal(p.out.Bytes(), &out); err != nil {
		return out, false, fmt.Errorf("retention run printed no counts (%v): %.500s", p.err, p.errs.String())
	}
	return out, finished, nil
}

// Purged is the records purged in all rounds, Ran the time the purge ran.
func (rep *PurgeReport) totals() (purged int, ran time.Duration) {
	for _, r := range rep.Rounds {
		purged += r.Purged
		ran += r.Ran
	}
	return purged, ran
}

// Ratio is the mean read rate of the whole rounds during the purge over
// the mean without.
func (rep *PurgeReport) Ratio() float64 {
	var with, without float64
	for _, r := range rep.Rounds {
		if r.Whole {
			with += r.During.Rate()
			without += r.Without.Rate()
		}
	}
	if without == 0 {
		return 0
	}
	return with / without
}

// WriteJSON prints the report as bench purge --json does.
func (rep *PurgeReport) WriteJSON(w io.Writer) error {
	var rounds []map[string]any
	for _, r := range rep.Rounds {
		rounds = append(rounds, map[string]any{
			"reads_per_sec_without": r.Without.Rate(), "reads_per_sec_during": r.During.Rate(),
			"p99_ms_without": msf(r.Without.Percentile(0.99)), "p99_ms_during": msf(r.During.Percentile(0.99)),
			"errors": r.Without.Errors + r.During.Errors, "purged": r.Purged, "purge_s": r.Ran.Seconds(), "purged_per_sec": r.rate(), "whole": r.Whole,
		})
	}
	purged, ran := rep.totals()
	return writeIndentedJSON(w, map[string]any{"readers_subjects": rep.Subjects, "concurrency": rep.Concurrency, "window_s": rep.Window.Seconds(),
		"batch": rep.Batch, "rest": rep.Rest, "rounds": rounds, "purged": purged, "purge_s": ran.Seconds(),
		"purged_per_sec": float64(purged) / max(ran.Seconds(), 1e-9), "done": rep.Done, "ratio_during_over_without": rep.Ratio()})
}

// WriteText prints the report as bench purge does.
func (rep *PurgeReport) WriteText(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "round\treads/s without\treads/s during\tratio\tp99 without\tp99 during\tpurged\tpurge time\tpurged/s\t")
	for i, r := range rep.Rounds {
		fmt.Fprintf(tw, "%d\t%.0f\t%.0f\t%.0f%%\t%s\t%s\t%d\t%s\t%.0f\t\n", i+1, r.Without.Rate(), r.During.Rate(), 100*r.During.Rate()/r.Without.Rate(),
			ms(r.Without.Percentile(0.99)), ms(r.During.Percentile(0.99)), r.Purged, r.Ran.Round(100*time.Millisecond), r.rate())
	}
	tw.Flush()
	purged, ran := rep.totals()
	done := "done"
	if !rep.Done {
		done = "NOT done (raise --rounds)"
	}
	fmt.Fprintf(w, "%d records purged in %s of purging (%.0f records/s; batches of %d, rest %g), %s; %d concurrent readers: reads during the purge at %.0f%% of reads without (whole rounds)\n",
		purged, ran.Round(time.Second), float64(purged)/max(ran.Seconds(), 1e-9), rep.Batch, rep.Rest, done, rep.Concurrency, 100*rep.Ratio())
}

// Failed returns an error if any read failed.
func (rep *PurgeReport) Failed() error {
	for i, r := range rep.Rounds {
		if n := r.Without.Errors + r.During.Errors; n > 0 {
			return fmt.Errorf("round %d: %d reads failed; first: %s (see %s)", i+1, n, r.During.FirstError+r.Without.FirstError, rep.ServerLog)
		}
	}
	return nil
}
