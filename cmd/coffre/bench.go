package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/bench"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/outbox"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/vault"
)

// The benchmarks are in internal/bench; this file parses their flags and
// wires them to the vault.

const benchUsage = `Usage: coffre bench import|read|notices|rotate|purge|audit|history|impact|login|stats [flags]

  import   create a fresh data directory with N synthetic people (default 1,000,000)
  read     serve that directory in a child process and measure audited reads over HTTP,
           each queuing a notice that the server delivers to a local SMTP sink (--notices=false: none)
  notices  queue N notices in that directory, then time a server delivering them to a local SMTP sink
  rotate   measure those reads with and without a root key rotation under way, alternating
  purge    add N expired people (default 1,000,000), then measure those reads with and without
           coffre retention run purging them beside the server, alternating, until all are purged
  audit    measure the audit log at scale: integration, verification, inclusion proofs
  history  time a person's history with its proofs in a log of N entries (default 10,000,000)
  impact   time a breach's impact over a one-day window, verified, in a log of N entries (default 10,000,000)
  login    time a wrong password for an existing user against an unknown username
  stats    time a statistics query end to end over a bench import's store (made first if --data holds none)

Example:
  coffre bench import --people 1000000 --data ./coffre-bench
  coffre bench read --data ./coffre-bench --duration 10s --concurrency 1,8,32
  coffre bench notices --data ./coffre-bench --notices 50000
  coffre bench rotate --data ./coffre-bench --rounds 2 --window 10s
  coffre bench purge --data ./coffre-bench --expired 1000000 --window 10s
  coffre bench audit --entries 10000000 --data /tmp/coffre-audit-bench
  coffre bench history --entries 10000000 --data /tmp/coffre-history-bench
  coffre bench impact --entries 10000000 --data /tmp/coffre-impact-bench
  coffre bench login --attempts 1000
  coffre bench stats --data ./coffre-bench --runs 20
`

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "import":
			return runBenchImport(ctx, args[1:], stdout, stderr)
		case "read":
			return runBenchRead(ctx, args[1:], stdout, stderr)
		case "notices":
			return runBenchNotices(ctx, args[1:], stdout, stderr)
		case "rotate":
			return runBenchRotate(ctx, args[1:], stdout, stderr)
		case "purge":
			return runBenchPurge(ctx, args[1:], stdout, stderr)
		case "audit":
			return runBenchAudit(ctx, args[1:], stdout, stderr)
		case "history":
			return runBenchHistory(ctx, args[1:], stdout, stderr)
		case "impact":
			return runBenchImpact(ctx, args[1:], stdout, stderr)
		case "login":
			return runBenchLogin(ctx, args[1:], stdout, stderr)
		case "stats":
			return runBenchStats(ctx, args[1:], stdout, stderr)
		case "-h", "--help", "help":
			fmt.Fprint(stderr, benchUsage)
			return flag.ErrHelp
		}
	}
	return &usageError{msg: "want a subcommand: import, read, notices, rotate, purge, audit, history, impact, login or stats", hint: "coffre bench import --data ./coffre-bench, then coffre bench read --data ./coffre-bench"}
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
	if err := bench.PrepareDir(*data, *fresh); err != nil {
		var de *bench.DirError
		switch {
		case errors.As(err, &de) && de.NotBench:
			return &usageError{msg: err.Error(), hint: "choose another --data"}
		case errors.As(err, &de):
			return &usageError{msg: err.Error(), hint: "pass --fresh to delete the earlier benchmark in it, or choose another --data"}
		}
		return err
	}
	a, err := openApp(ctx, appOptions{dev: true, dataDir: *data, store: *storeURL}, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	op, err := a.auth.AddReadyOperator(ctx, "bench", "", "caseworker", "ac-versailles")
	if err != nil {
		return err
	}
	if err := bench.WriteOperator(*data, bench.Operator{Username: op.Operator.Username, Password: op.Password, TOTPSecret: op.TOTPSecret}); err != nil {
		return err
	}
	actor := identity.Actor{ID: "bench-import", Role: "admin", Origin: "cli"}
	b := &bench.ImportBench{People: *people, Batch: *batch, Dir: *data, Progress: stderr,
		ImportAll: func(ctx context.Context, next func() ([]vault.ImportRow, error), done func([]string, []vault.RowError) error) error {
			return a.vault.ImportAll(ctx, actor, next, done)
		}}
	// The embedded store unless --store names a PostgreSQL one.
	if lite, ok := a.store.(*sqlite.Store); ok {
		b.Checkpoint, b.DBPath = lite.Checkpoint, lite.Path()
	}
	if *cpuProfile != "" {
		stop, err := bench.StartCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	rep, err := b.Run(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return rep.WriteJSON(stdout)
	}
	rep.WriteText(stdout)
	return nil
}

func runBenchRead(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench read", "[--data DIR] [--store URL] [--duration D] [--warmup D] [--concurrency N,N…] [--purpose P] [--notices=false] [--deliver=false] [--json]",
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
	notices := fs.Bool("notices", true, "queue a notice to the person at each read, delivered to a local SMTP sink; --notices=false measures reads without them")
	deliver := fs.Bool("deliver", true, "deliver the notices; --deliver=false queues them with no mail server (the read path's share of their cost), for a later run to deliver")
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
	op, ids, err := benchDir(*data)
	if err != nil {
		return err
	}
	bin, err := serverBinary(*server)
	if err != nil {
		return err
	}
	rep, err := (&bench.ReadBench{Server: bin, Dir: *data, Store: *storeURL, Guard: *guardOn, Integrator: *integrator, NoNotices: !*notices, NoDelivery: !*deliver,
		Levels: levels, Warmup: *warmup, Duration: *duration, Purpose: *purpose, Reason: *reason,
		Operator: op, IDs: ids, Log: stderr}).Run(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		if err := rep.WriteJSON(stdout); err != nil {
			return err
		}
	} else {
		rep.WriteText(stdout)
	}
	return rep.Failed(stderr)
}

func runBenchNotices(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const example = "coffre bench notices --data ./coffre-bench --notices 50000"
	fs := newFlags("bench notices", "[--data DIR] [--store URL] [--notices N] [--json]", example, stderr)
	data := fs.String("data", "./coffre-bench", "benchmark data `directory` made by coffre bench import")
	n := fs.Int("notices", 50_000, "notices to queue, a read of a random person each")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	server := fs.String("server", "", "the coffre `binary` to run as the server (default: this one)")
	storeURL := fs.String("store", "", "serve from this PostgreSQL store (a postgres:// `URL`, as given to bench import --store)")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() != 0:
		return &usageError{msg: "unexpected argument " + strconv.Quote(fs.Arg(0)), hint: example}
	case *n < 1 || *n > 10_000_000:
		return &usageError{msg: "--notices must be between 1 and 10,000,000", hint: example}
	}
	ids, err := bench.ReadIDs(filepath.Join(*data, bench.IDsFile))
	if err != nil || len(ids) == 0 {
		return &usageError{msg: "no benchmark in " + *data, hint: "run coffre bench import --data " + *data + " first"}
	}
	bin, err := serverBinary(*server)
	if err != nil {
		return err
	}
	queue := func(ctx context.Context, n int) (int64, error) {
		return queueBenchNotices(ctx, appOptions{dev: true, dataDir: *data, store: *storeURL, guard: "off"}, ids, n)
	}
	rep, err := (&bench.NoticesBench{Server: bin, Dir: *data, Store: *storeURL, Notices: *n, Queue: queue, Log: stderr}).Run(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return rep.WriteJSON(stdout)
	}
	rep.WriteText(stdout)
	return nil
}

// queueBenchNotices reads n random people of ids through the vault (no
// guard, no server), queuing a notice each, and returns the person
// channel's pending messages.
func queueBenchNotices(ctx context.Context, o appOptions, ids []string, n int) (int64, error) {
	a, err := openApp(ctx, o, io.Discard)
	if err != nil {
		return 0, err
	}
	defer a.close()
	actor := identity.Actor{ID: "bench-notices", Role: "caseworker", Unit: "ac-versailles", Origin: "127.0.0.1"}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Go(func() {
			rng := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), uint64(w)))
			for i := w; i < n; i += 16 {
				if _, err := a.vault.Read(ctx, actor, ids[rng.IntN(len(ids))], "case-handling", "bench"); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, fmt.Errorf("queue notices: %w", err)
	}
	// The server runs without the integrator (its catch-up would share
	// the drain's CPU): integrate the reads' entries now, so that the
	// next server of this directory has no backlog to catch up either.
	in := a.integrator()
	for prev := uint64(0); ; {
		size, err := in.Step(ctx)
		if err != nil {
			return 0, err
		}
		if size == prev {
			break
		}
		prev = size
	}
	var st outbox.Stats
	err = a.store.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
		st, err = tx.DeliveryStats(ctx)
		return err
	})
	return st.Channels[outbox.ChannelPerson].Pending, err
}

func runBenchRotate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const example = "coffre bench rotate --data ./coffre-bench --rounds 2 --window 10s"
	fs := newFlags("bench rotate", "[--data DIR] [--store URL] [--rounds N] [--window D] [--concurrency N] [--json]", example, stderr)
	data := fs.String("data", "./coffre-bench", "benchmark data `directory` made by coffre bench import")
	rounds := fs.Int("rounds", 2, "`N` rounds, each reads without then during a rotation")
	window := fs.Duration("window", 10*time.Second, "measured `time` of each read window; the rewrap pass must outlast it")
	warmup := fs.Duration("warmup", 2*time.Second, "unmeasured `time` before each window without a rotation")
	concurrency := fs.Int("concurrency", 32, "concurrent `readers`")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	server := fs.String("server", "", "the coffre `binary` to run as the server (default: this one)")
	storeURL := fs.String("store", "", "serve from this PostgreSQL store (a postgres:// `URL`, as given to bench import --store)")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() != 0:
		return &usageError{msg: "unexpected argument " + strconv.Quote(fs.Arg(0)), hint: example}
	case *rounds < 1 || *rounds > 20:
		return &usageError{msg: "--rounds must be between 1 and 20", hint: example}
	case *window < time.Second || *window > time.Hour:
		return &usageError{msg: "--window must be between 1s and 1h", hint: example}
	case *warmup < 0 || *warmup > time.Minute:
		return &usageError{msg: "--warmup must be between 0s and 1m", hint: "--warmup 2s"}
	case *concurrency < 1 || *concurrency > 1024:
		return &usageError{msg: "--concurrency must be between 1 and 1024", hint: "--concurrency 32"}
	}
	op, ids, err := benchDir(*data)
	if err != nil {
		return err
	}
	// An administrator (the seal permission) who rotates: made on the host
	// before the server starts, a new one each run.
	a, err := openApp(ctx, appOptions{dev: true, dataDir: *data, store: *storeURL}, io.Discard)
	if err != nil {
		return err
	}
	added, err := a.auth.AddReadyOperator(ctx, "bench-keys-"+strconv.FormatInt(time.Now().UnixNano(), 36), "", "admin", "ac-versailles")
	if cerr := a.close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	bin, err := serverBinary(*server)
	if err != nil {
		return err
	}
	rep, err := (&bench.RotateBench{Server: bin, Dir: *data, Store: *storeURL, Operator: op,
		Admin: bench.Operator{Username: added.Operator.Username, Password: added.Password, TOTPSecret: added.TOTPSecret},
		IDs:   ids, Concurrency: *concurrency, Warmup: *warmup, Window: *window, Rounds: *rounds,
		Purpose: "case-handling", Reason: "bench", Log: stderr}).Run(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		if err := rep.WriteJSON(stdout); err != nil {
			return err
		}
	} else {
		rep.WriteText(stdout)
	}
	return rep.Failed()
}

func runBenchAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench audit", "[--entries N] [--data DIR] [--proofs N] [--json]",
		"coffre bench audit --entries 10000000 --data /tmp/coffre-audit-bench", stderr)
	n := fs.Int("entries", 10_000_000, "audit entries to create")
	data := fs.String("data", "./coffre-audit-bench", "fresh benchmark `directory` (deleted first)")
	proofs := fs.Int("proofs", 10_000, "inclusion proofs to time")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *n < 1 || *n > 100_000_000 || *proofs < 1 || *proofs > 1_000_000 {
		return &usageError{msg: "--entries must be 1 to 100,000,000 and --proofs 1 to 1,000,000"}
	}
	rep, err := (&bench.AuditBench{Entries: *n, Proofs: *proofs, Dir: *data, Log: stderr}).Run(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return rep.WriteJSON(stdout)
	}
	rep.WriteText(stdout)
	return nil
}

// benchAccesses times GET /v1/me/accesses over HTTP for the targets of
// the log in dir: their addresses are read here, then the app is closed
// for the server to open the store.
func benchAccesses(ctx context.Context, a *app, d *bench.HistoryData, dir, server string, queries int, asJSON bool, stdout, stderr io.Writer) error {
	var contacts []string
	for _, t := range d.Targets {
		c, err := a.vault.Contact(ctx, t)
		if err != nil || c.Email == "" {
			return fmt.Errorf("target %s: no email address on the record (%v)", t, err)
		}
		contacts = append(contacts, c.Email)
	}
	if err := a.close(); err != nil { // the server opens the store next (a second close is a no-op)
		return err
	}
	server, err := serverBinary(server)
	if err != nil {
		return err
	}
	rep, err := (&bench.AccessesBench{Server: server, Dir: dir, Contacts: contacts, Queries: queries, Log: stderr}).Run(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		return rep.WriteJSON(stdout)
	}
	rep.WriteText(stdout)
	return nil
}

func runBenchHistory(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const example = "coffre bench history --entries 10000000 --data /tmp/coffre-history-bench"
	fs := newFlags("bench history", "[--entries N] [--subject-entries N] [--targets N] [--people N] [--queries N] [--data DIR] [--fresh] [--http] [--json]", example, stderr)
	entries := fs.Int("entries", 10_000_000, "the audit log's size, in entries")
	subjectEntries := fs.Int("subject-entries", 100, "entries about each target person, spread across the log")
	targets := fs.Int("targets", 5, "target people with --subject-entries entries each; the others' entries are about anyone else")
	people := fs.Int("people", 200_000, "synthetic people to import, whom the entries are about")
	queries := fs.Int("queries", 1000, "histories to time, of the targets in turn")
	data := fs.String("data", "./coffre-history-bench", "benchmark data `directory`: built when empty; an earlier bench history's is reused as it is")
	fresh := fs.Bool("fresh", false, "first delete --data if it holds an earlier benchmark, and build again")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the timed histories to this `file`")
	overHTTP := fs.Bool("http", false, "time GET /v1/me/accesses over HTTP instead, each target signed in by one-time code (serves --data)")
	server := fs.String("server", "", "with --http, the coffre `binary` to run as the server (default: this one)")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() != 0:
		return &usageError{msg: "unexpected argument " + strconv.Quote(fs.Arg(0)), hint: example}
	case *cpuProfile != "" && *overHTTP:
		return &usageError{msg: "--cpuprofile profiles the in-process histories, not --http", hint: "leave one out"}
	case *entries < 1000 || *entries > 100_000_000:
		return &usageError{msg: "--entries must be between 1,000 and 100,000,000", hint: example}
	case *subjectEntries < 1 || *subjectEntries > 100_000 || *targets < 1 || *targets > 100:
		return &usageError{msg: "--subject-entries must be between 1 and 100,000 and --targets between 1 and 100", hint: example}
	case 2*(*targets+1)**subjectEntries > *entries:
		return &usageError{msg: "--entries must be at least 2 × --subject-entries × (--targets + 1), to spread the targets' entries", hint: example}
	case *people < 2**targets+1 || *people > 10_000_000:
		return &usageError{msg: "--people must be more than twice --targets, and at most 10,000,000", hint: example}
	case *queries < 1 || *queries > 1_000_000:
		return &usageError{msg: "--queries must be between 1 and 1,000,000", hint: example}
	case *data == "":
		return &usageError{msg: "--data must name a directory", hint: example}
	}
	d, err := bench.ReadHistoryData(*data)
	reuse := err == nil && !*fresh
	if !reuse {
		if err := bench.PrepareDir(*data, *fresh); err != nil {
			var de *bench.DirError
			switch {
			case errors.As(err, &de) && de.NotBench:
				return &usageError{msg: err.Error(), hint: "choose another --data"}
			case errors.As(err, &de):
				return &usageError{msg: err.Error() + " and holds no " + bench.HistoryFile + " file", hint: "pass --fresh to delete the earlier benchmark in it, or choose another --data"}
			}
			return err
		}
		d = &bench.HistoryData{}
	}
	a, err := openApp(ctx, appOptions{dev: true, dataDir: *data}, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	b := &bench.HistoryBench{Store: a.store, Signer: a.signer, Entries: *entries, SubjectEntries: *subjectEntries,
		Targets: *targets, Queries: *queries, Log: stderr}
	if lite, ok := a.store.(*sqlite.Store); ok {
		b.DBPath = lite.Path()
	}
	if reuse {
		fmt.Fprintf(stderr, "reusing the log of %d entries built in %s (--fresh builds it again)\n", d.Entries, *data)
	} else {
		// An operator, so that bench read can serve the directory too.
		op, err := a.auth.AddReadyOperator(ctx, "bench", "", "caseworker", "ac-versailles")
		if err != nil {
			return err
		}
		if err := bench.WriteOperator(*data, bench.Operator{Username: op.Operator.Username, Password: op.Password, TOTPSecret: op.TOTPSecret}); err != nil {
			return err
		}
		actor := identity.Actor{ID: "bench-import", Role: "admin", Origin: "cli"}
		imp, err := (&bench.ImportBench{People: *people, Batch: 50_000, Dir: *data, Progress: stderr,
			ImportAll: func(ctx context.Context, next func() ([]vault.ImportRow, error), done func([]string, []vault.RowError) error) error {
				return a.vault.ImportAll(ctx, actor, next, done)
			}}).Run(ctx)
		if err != nil {
			return err
		}
		if b.People, err = bench.ReadIDs(filepath.Join(*data, bench.IDsFile)); err != nil {
			return err
		}
		d.ImportSeconds = imp.Elapsed.Seconds()
		if err := b.Build(ctx, d); err != nil {
			return err
		}
		if err := bench.WriteHistoryData(*data, d); err != nil {
			return err
		}
	}
	if *overHTTP {
		return benchAccesses(ctx, a, d, *data, *server, *queries, *asJSON, stdout, stderr)
	}
	if *cpuProfile != "" {
		stop, err := bench.StartCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	rep, err := b.Measure(ctx, d)
	if err != nil {
		return err
	}
	if *asJSON {
		return rep.WriteJSON(stdout)
	}
	rep.WriteText(stdout)
	return nil
}

func runBenchLogin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench login", "[--attempts N] [--warmup N] [--accounts N] [--cheap-hash] [--json]",
		"coffre bench login --attempts 1000", stderr)
	attempts := fs.Int("attempts", 1000, "measured attempts of each kind")
	warmup := fs.Int("warmup", 20, "unmeasured attempts of each kind, first")
	accounts := fs.Int("accounts", 10, "existing accounts the wrong passwords go to")
	cheap := fs.Bool("cheap-hash", false, "argon2id at t=1, m=64 KiB instead of the defaults: what is left is the HTTP and store part of the path")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() != 0:
		return &usageError{msg: "unexpected argument " + strconv.Quote(fs.Arg(0)), hint: "coffre bench login --attempts 1000"}
	case *attempts < 1 || *attempts > 1_000_000:
		return &usageError{msg: "--attempts must be between 1 and 1,000,000"}
	case *warmup < 0 || *warmup > 10_000:
		return &usageError{msg: "--warmup must be between 0 and 10,000"}
	case *accounts < 1 || *accounts > 1000:
		return &usageError{msg: "--accounts must be between 1 and 1,000"}
	}
	dir, err := os.MkdirTemp("", "coffre-bench-login-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	a, err := openApp(ctx, appOptions{dev: true, dataDir: dir}, io.Discard)
	if err != nil {
		return err
	}
	defer a.close()
	// Neither the per-address throttle nor the account lock may answer
	// instead of the password step (every attempt comes from loopback, and
	// each account takes hundreds of failures).
	a.auth.Limits = auth.Limits{MaxFailures: math.MaxInt32, PerOrigin: math.MaxInt32}
	if *cheap {
		a.auth.Params = auth.Params{Time: 1, Memory: 64, Threads: 1}
	}
	srvCtx, stop := context.WithCancel(ctx)
	defer stop()
	addr := make(chan string, 1)
	served := make(chan error, 1)
	go func() { served <- a.serve(srvCtx, "127.0.0.1:0", func(s string) { addr <- s }) }()
	var url string
	select {
	case url = <-addr:
	case err := <-served:
		return err
	}
	fmt.Fprintf(stderr, "server: in this process at http://%s, SQLite store in %s\n", url, dir)
	rep, err := (&bench.LoginBench{URL: "http://" + url, Attempts: *attempts, Warmup: *warmup, Accounts: *accounts, Store: a.store, Log: stderr,
		AddOperator: func(ctx context.Context, username string) error {
			_, err := a.auth.AddReadyOperator(ctx, username, "", "caseworker", "ac-versailles")
			return err
		}}).Run(ctx)
	stop()
	if serr := <-served; err == nil {
		err = serr
	}
	if err != nil {
		return err
	}
	if *asJSON {
		if err := rep.WriteJSON(stdout); err != nil {
			return err
		}
	} else {
		rep.WriteText(stdout)
	}
	return rep.Failed()
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

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	for _, c := range s {
		if c < 0x20 || c == 0x7f || c == 0xfffd {
			return false
		}
	}
	return true
}

// benchDir reads what bench import left in dir for the benchmarks that
// read: the reading operator and the people's ids.
func benchDir(dir string) (bench.Operator, []string, error) {
	op, err := bench.ReadOperator(dir)
	if err != nil {
		return op, nil, &usageError{msg: "no benchmark in " + dir + ": " + err.Error(), hint: "run coffre bench import --data " + dir + " first"}
	}
	ids, err := bench.ReadIDs(filepath.Join(dir, bench.IDsFile))
	if err != nil {
		return op, nil, err
	}
	if len(ids) == 0 {
		return op, nil, &usageError{msg: "no subject ids in " + filepath.Join(dir, bench.IDsFile), hint: "run coffre bench import --data " + dir + " --fresh"}
	}
	return op, ids, nil
}

// serverBinary is the coffre binary a benchmark runs as its server: the
// --server flag's, or this one.
func serverBinary(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	bin, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find this binary: %w", err)
	}
	return bin, nil
}
