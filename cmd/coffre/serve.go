package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"

	"github.com/coffre/coffre/internal/bench"
	"github.com/coffre/coffre/internal/seal"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	tuneGC()
	fs := newFlags("serve", "[--dev | --config FILE] [--listen ADDR]", "coffre serve --dev --listen 127.0.0.1:8080", stderr)
	var o appOptions
	o.flags(fs.StringVar, fs.BoolVar)
	listen := fs.String("listen", "", "listen `address` (overrides the configuration)")
	fs.StringVar(&o.guard, "guard", "on", "`mode` of the guard, for benchmarks only: on, off, or bench (every check runs, no limit binds)")
	integrator := fs.Bool("integrator", true, "run the audit integrator (benchmarks only: --integrator=false measures the core without checkpoints)")
	notices := fs.Bool("notices", true, "queue a notice to the person at each access (benchmarks only: --notices=false measures reads without them)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the server to this `file` until it stops (profiling only)")
	memProfile := fs.String("memprofile", "", "write the server's allocations since it started to this `file` when it stops (profiling only)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		stop, err := bench.StartCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	if *memProfile != "" {
		defer func() {
			if err := bench.WriteAllocProfile(*memProfile); err != nil {
				fmt.Fprintf(stderr, "coffre: memprofile: %v\n", err)
			}
		}()
	}
	o.noNotices = !*notices
	if o.guard != "on" && o.guard != "off" && o.guard != "bench" {
		return &usageError{msg: "--guard must be on, off or bench", hint: "leave it out outside benchmarks"}
	}
	if o.configPath != "" && !o.dev {
		// Production: a sealed start, or a refusal.
		cfg, err := loadConfig(o)
		if err != nil {
			return err
		}
		addr := cfg.Listen
		if *listen != "" {
			addr = *listen
		}
		f, err := seal.Read(seal.Path(cfg.DataDir))
		switch {
		case err == nil:
			return serveSealed(ctx, o, cfg, f, addr, stderr, nil)
		case !errors.Is(err, iofs.ErrNotExist):
			return err
		case inside(cfg.RootKeyFile, cfg.DataDir):
			return &usageError{
				msg:  "no sealed keyring in " + cfg.DataDir + ", and the root key file " + cfg.RootKeyFile + " would sit inside the data directory, where whoever copies the data reads it all",
				hint: "create the keys: 'coffre keys init --config " + o.configPath + " --shares 5 --threshold 3' (or --dev for a development key file)",
			}
		}
	}
	a, err := openApp(ctx, o, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	a.noIntegrator = !*integrator
	if o.dev {
		if err := a.ensureDemoOperators(ctx, stdout); err != nil {
			return err
		}
	}
	addr := a.cfg.Listen
	if *listen != "" {
		addr = *listen
	}
	return a.serve(ctx, addr, nil)
}
