package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sync"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/drill"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/postgres"
)

// fleet is the drill's servers: apps on one store, each serving a
// listener and a partner listener of its own, as nodes behind a load
// balancer do. The first also runs the drill's setup (Env).
type fleet struct {
	apps   []*app
	cancel []context.CancelFunc
	served []chan error
	mu     sync.Mutex
	dead   []bool
	closed bool
	// setup is held (read) by the drill's own calls into a node (see on)
	// and (write) by killLeader around a kill.
	setup sync.RWMutex
}

// startNodes opens n apps with o.
func startNodes(ctx context.Context, n int, o appOptions) (*fleet, error) {
	f := &fleet{}
	for range n {
		a, err := openApp(ctx, o, io.Discard)
		if err != nil {
			return f, err
		}
		// The drill's clients name their simulated origin in
		// X-Forwarded-For.
		a.cfg.Guard.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
		a.cfg.Partners.Listen, a.cfg.Partners.Hosts = "127.0.0.1:0", []string{"127.0.0.1"}
		f.apps = append(f.apps, a)
		f.dead = append(f.dead, false)
	}
	return f, nil
}

// serve starts every app's servers and gives env their addresses.
func (f *fleet) serve(ctx context.Context, env *drill.Env) error {
	for i, a := range f.apps {
		sctx, cancel := context.WithCancel(ctx)
		addr := make(chan string, 1)
		served := make(chan error, 1)
		f.cancel, f.served = append(f.cancel, cancel), append(f.served, served)
		go func() { served <- a.serve(sctx, "127.0.0.1:0", func(s string) { addr <- s }) }()
		select {
		case u := <-addr:
			if i == 0 {
				env.URL, env.PartnerURL = "http://"+u, "https://"+a.partnerAddr
			} else {
				env.Nodes, env.PartnerNodes = append(env.Nodes, "http://"+u), append(env.PartnerNodes, "https://"+a.partnerAddr)
			}
		case err := <-served:
			f.mu.Lock()
			f.dead[i] = true // its server has stopped: stop must not wait for it
			f.mu.Unlock()
			return fmt.Errorf("node %d: %w", i, err)
		}
	}
	return nil
}

// stop stops every server still running and closes the apps.
func (f *fleet) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	f.closed = true
	for i, cancel := range f.cancel {
		if !f.dead[i] { // a killed node's server has stopped already
			cancel()
			<-f.served[i]
		}
	}
	for _, a := range f.apps {
		a.close()
	}
}

// live returns a node still running.
func (f *fleet) live() *app {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, a := range f.apps {
		if !f.dead[i] {
			return a
		}
	}
	return nil
}

// on runs fn with a node still running. killLeader waits for fn to
// return: the drill's own calls (operators added, caseloads, canaries,
// the log read back) stand for an administrator working elsewhere, and
// are not what the kill tests; the attackers' and caseworkers' requests
// are, and they go to the nodes over HTTP. fn must not call on again
// (a pending kill would block it).
func (f *fleet) on(fn func(*app) error) error {
	f.setup.RLock()
	defer f.setup.RUnlock()
	a := f.live()
	if a == nil {
		return errors.New("drill: no node is running")
	}
	return fn(a)
}

// killReport is what killing the sequencer's node did, and what the log
// looked like afterwards.
type killReport struct {
	Node int      `json:"node"`
	At   string   `json:"after"` // wall time into the drill
	Log  logCheck `json:"log"`
	err  error
}

// leader is the PostgreSQL store's view of its sequencer.
type leader interface {
	Leading() bool
	Kill(ctx context.Context) error
}

// killLeader waits after, unless done closes first (Node -1), then kills
// the node whose store runs the audit sequencer, as the death of its
// machine would: its store connections terminated mid-transaction, its
// listeners closed.
func (f *fleet) killLeader(ctx context.Context, after time.Duration, done <-chan struct{}, log io.Writer) killReport {
	start := time.Now()
	select {
	case <-time.After(after):
	case <-done:
		return killReport{Node: -1}
	case <-ctx.Done():
		return killReport{Node: -1, err: ctx.Err()}
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for i, a := range f.apps {
			l, ok := a.store.(leader)
			if !ok || !l.Leading() {
				continue
			}
			fmt.Fprintf(log, "killing node %d, the audit sequencer's\n", i)
			f.setup.Lock()
			defer f.setup.Unlock()
			f.mu.Lock()
			f.dead[i] = true
			f.mu.Unlock()
			err := l.Kill(ctx)
			f.cancel[i]()
			<-f.served[i]
			return killReport{Node: i, At: time.Since(start).Round(time.Second).String(), err: err}
		}
	}
	return killReport{Node: -1, err: errors.New("drill: no node runs the audit sequencer (is the store PostgreSQL?)")}
}

// logCheck is what checkLog found.
type logCheck struct {
	Entries int64 `json:"entries"`
	Voids   int   `json:"voids"`
}

// settle returns once every entry appended before it is in the log: it
// appends a mark and waits until the log reaches it (every number before
// it written, or voided once a dead node's lease ran out), at most a
// minute. It returns the mark's number.
func (f *fleet) settle(ctx context.Context, env *drill.Env) (int64, error) {
	end := &audit.Entry{Time: time.Now().UTC(), Actor: "drill", Action: "drill.settle", Decision: "allow"}
	err := f.on(func(a *app) error {
		return a.store.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.AppendAudit(ctx, end) })
	})
	if err != nil {
		return 0, fmt.Errorf("drill: append a mark: %w", err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		last, err := env.LastSeq(ctx)
		if err != nil {
			return 0, err
		}
		if last >= end.Seq {
			return end.Seq, nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("drill: the log ends at %d a minute after entry %d was appended: a gap no one fills", last, end.Seq)
		}
	}
}

// checkLog checks the audit log once the drill is over, through a node
// still running: an entry appended now must become part of the log (every
// number before it written, or voided once a dead node's lease ran out),
// the log must hold every number from 1 to it exactly once, and it must
// verify as coffre audit verify does (checkpoints, leaves, tiles).
func (f *fleet) checkLog(ctx context.Context, env *drill.Env) (logCheck, error) {
	endSeq, err := f.settle(ctx, env)
	if err != nil {
		return logCheck{}, err
	}
	es, err := env.Audit(ctx, 1)
	if err != nil {
		return logCheck{}, err
	}
	var c logCheck
	for i, e := range es {
		if e.Seq != int64(i)+1 {
			return c, fmt.Errorf("drill: the log's entry %d has number %d: a gap or a duplicate", i+1, e.Seq)
		}
		if e.Action == postgres.VoidAction {
			c.Voids++
		}
	}
	if c.Entries = int64(len(es)); c.Entries < endSeq {
		return c, fmt.Errorf("drill: the log holds %d entries, the end mark is %d", c.Entries, endSeq)
	}
	a := f.live() // the drill is over: no kill to come
	if err := waitIntegrated(ctx, a, endSeq); err != nil {
		return c, err
	}
	rep, err := auditlog.Verify(ctx, a.store, a.signer.VerifierKey())
	if err != nil {
		return c, fmt.Errorf("drill: audit verify: %w", err)
	}
	if int64(rep.Entries) < endSeq {
		return c, fmt.Errorf("drill: audit verify saw %d entries, the end mark is %d", rep.Entries, endSeq)
	}
	return c, nil
}

// waitIntegrated waits until a checkpoint covers seq (the nodes'
// integrators sign one every second while entries arrive).
func waitIntegrated(ctx context.Context, a *app, seq int64) error {
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		size := int64(-1) // no checkpoint yet
		err := a.store.View(ctx, func(ctx context.Context, tx store.Tx) error {
			c, err := tx.LatestCheckpoint(ctx)
			if err == nil {
				size = int64(c.Size)
			}
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		})
		if err != nil {
			return err
		}
		if size >= seq {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("drill: no checkpoint covers entry %d a minute on (latest of size %d)", seq, size)
		}
	}
}
