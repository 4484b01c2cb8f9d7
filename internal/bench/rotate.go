package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/coffre/coffre/internal/rotate"
)

// RotateBench measures audited reads with and without a root key
// rotation under way, alternating in one run: each round reads for
// Window with no rotation, then asks the server for a rotation (as
// Admin, who holds the seal permission) and reads for Window again while
// the pass rewraps every data key. It then waits for the pass to finish
// and reads its rate from the server's key status.
type RotateBench struct {
	Server      string
	Dir         string
	Store       string
	Operator    Operator // the reader
	Admin       Operator // rotates
	IDs         []string
	Concurrency int
	Warmup      time.Duration
	Window      time.Duration
	Rounds      int
	Purpose     string
	Reason      string
	Log         io.Writer
}

// RotateRound is one round of a [RotateBench].
type RotateRound struct {
	Without, During *Result
	Version         uint32
	Keys            int64         // keys the pass rewrapped
	Pass            time.Duration // from the version's activation to the pass's end
	// Overlapped reports whether the pass was still running when the
	// During window ended, so that the whole window was under rotation.
	Overlapped bool
}

// RotateReport is a [RotateBench]'s outcome.
type RotateReport struct {
	Subjects    int
	Concurrency int
	Window      time.Duration
	Rounds      []RotateRound
	ServerLog   string
}

// Run starts the server, runs the rounds and stops it.
func (b *RotateBench) Run(ctx context.Context) (*RotateReport, error) {
	srv, err := startServer(ctx, b.Server, b.Dir, serverOptions{store: b.Store, guard: "bench", integrator: true})
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	fmt.Fprintf(b.Log, "server: pid %d at http://%s, holding %d subjects; its log is %s\n", srv.cmd.Process.Pid, srv.addr, len(b.IDs), srv.log)
	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConns: 2 * b.Concurrency, MaxIdleConnsPerHost: 2 * b.Concurrency, IdleConnTimeout: 90 * time.Second, DisableCompression: true},
	}
	base := "http://" + srv.addr
	reader, err := login(ctx, client, base, b.Dir, b.Operator, b.Log)
	if err != nil {
		return nil, err
	}
	admin, err := newLogin(ctx, client, base, b.Admin, b.Log)
	if err != nil {
		return nil, err
	}
	load := &Reads{Client: client, BaseURL: base, Token: reader, Purpose: b.Purpose, Reason: b.Reason, IDs: b.IDs}
	rep := &RotateReport{Subjects: len(b.IDs), Concurrency: b.Concurrency, Window: b.Window, ServerLog: srv.log}
	for i := range b.Rounds {
		var round RotateRound
		fmt.Fprintf(b.Log, "round %d: reads without a rotation…\n", i+1)
		if round.Without, err = load.Run(ctx, b.Concurrency, b.Warmup, b.Window); err != nil {
			return nil, err
		}
		var rot struct {
			Version  uint32  `json:"version"`
			ActiveIn float64 `json:"active_in_seconds"`
		}
		if err := call(ctx, client, http.MethodPost, base+"/v1/sys/keys/rotate", admin, map[string]string{"reason": "bench"}, &rot); err != nil {
			return nil, fmt.Errorf("rotate: %w", err)
		}
		round.Version = rot.Version
		// The pass starts once the version is active and the rotator's
		// next tick comes: the window opens then.
		wait := time.Duration(rot.ActiveIn*float64(time.Second)) + rotate.DefaultTick
		fmt.Fprintf(b.Log, "round %d: version %d added; reads during its rewrap pass (from %s on)…\n", i+1, rot.Version, wait)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if round.During, err = load.Run(ctx, b.Concurrency, 0, b.Window); err != nil {
			return nil, err
		}
		st, err := b.status(ctx, client, base, admin)
		if err != nil {
			return nil, err
		}
		round.Overlapped = st.Rewrap == nil || st.Rewrap.Done == nil
		for st.Rewrap == nil || st.Rewrap.Version != rot.Version || st.Rewrap.Done == nil {
			select {
			case <-time.After(2 * time.Second):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if st, err = b.status(ctx, client, base, admin); err != nil {
				return nil, err
			}
		}
		round.Keys = st.Rewrap.Rewrapped
		for _, v := range st.Versions {
			if v.Version == rot.Version && v.Created != nil {
				round.Pass = st.Rewrap.Done.Sub(v.Created.Add(time.Duration(rot.ActiveIn * float64(time.Second))))
			}
		}
		fmt.Fprintf(b.Log, "round %d: %.0f reads/s without, %.0f during (%.0f%%); %d keys rewrapped in %s (%.0f keys/s)\n", i+1,
			round.Without.Rate(), round.During.Rate(), 100*round.During.Rate()/round.Without.Rate(), round.Keys, round.Pass.Round(time.Second), round.rate())
		rep.Rounds = append(rep.Rounds, round)
	}
	return rep, srv.stop()
}

func (r *RotateRound) rate() float64 {
	if r.Pass <= 0 {
		return 0
	}
	return float64(r.Keys) / r.Pass.Seconds()
}

func (b *RotateBench) status(ctx context.Context, client *http.Client, base, token string) (*rotate.Status, error) {
	var st rotate.Status
	if err := call(ctx, client, http.MethodGet, base+"/v1/sys/keys", token, nil, &st); err != nil {
		return nil, fmt.Errorf("key status: %w", err)
	}
	return &st, nil
}

// call sends in (nil: no body) to url, with the session token unless
// it is empty, and decodes a 200 answer into out.
func call(ctx context.Context, client *http.Client, method, url, token string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %.300s", method, url, resp.Status, raw)
	}
	return json.Unmarshal(raw, out)
}

// Ratio is the mean of the rounds' read rates during a rotation over the
// mean without.
func (rep *RotateReport) Ratio() float64 {
	var with, without float64
	for _, r := range rep.Rounds {
		with += r.During.Rate()
		without += r.Without.Rate()
	}
	if without == 0 {
		return 0
	}
	return with / without
}

// WriteJSON prints the report as bench rotate --json does.
func (rep *RotateReport) WriteJSON(w io.Writer) error {
	var rounds []map[string]any
	for _, r := range rep.Rounds {
		rounds = append(rounds, map[string]any{
			"version": r.Version, "reads_per_sec_without": r.Without.Rate(), "reads_per_sec_during": r.During.Rate(),
			"p99_ms_without": msf(r.Without.Percentile(0.99)), "p99_ms_during": msf(r.During.Percentile(0.99)),
			"errors": r.Without.Errors + r.During.Errors, "keys_rewrapped": r.Keys, "pass_s": r.Pass.Seconds(),
			"keys_per_sec": r.rate(), "window_under_rotation": r.Overlapped,
		})
	}
	return writeIndentedJSON(w, map[string]any{"subjects": rep.Subjects, "concurrency": rep.Concurrency, "window_s": rep.Window.Seconds(),
		"rounds": rounds, "ratio_during_over_without": rep.Ratio()})
}

// WriteText prints the report as bench rotate does.
func (rep *RotateReport) WriteText(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "round\treads/s without\treads/s during\tratio\tp99 without\tp99 during\tkeys rewrapped\tpass\tkeys/s\twindow under rotation\t")
	for i, r := range rep.Rounds {
		fmt.Fprintf(tw, "%d\t%.0f\t%.0f\t%.0f%%\t%s\t%s\t%d\t%s\t%.0f\t%t\t\n", i+1, r.Without.Rate(), r.During.Rate(), 100*r.During.Rate()/r.Without.Rate(),
			ms(r.Without.Percentile(0.99)), ms(r.During.Percentile(0.99)), r.Keys, r.Pass.Round(100*time.Millisecond), r.rate(), r.Overlapped)
	}
	tw.Flush()
	fmt.Fprintf(w, "%d subjects, %d concurrent readers, %s windows: reads during a rotation at %.0f%% of reads without (mean of %d rounds)\n",
		rep.Subjects, rep.Concurrency, rep.Window, 100*rep.Ratio(), len(rep.Rounds))
}

// Failed returns an error if any read failed or a window was not wholly
// under rotation.
func (rep *RotateReport) Failed() error {
	for i, r := range rep.Rounds {
		if n := r.Without.Errors + r.During.Errors; n > 0 {
			return fmt.Errorf("round %d: %d reads failed; first: %s (see %s)", i+1, n, r.During.FirstError+r.Without.FirstError, rep.ServerLog)
		}
		if !r.Overlapped {
			return fmt.Errorf("round %d: the pass ended before the window did; shorten --window", i+1)
		}
	}
	return nil
}
