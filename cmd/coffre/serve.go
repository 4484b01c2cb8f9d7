package main

import (
	"context"
	"io"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", "[--dev | --config FILE] [--listen ADDR]", "coffre serve --dev --listen 127.0.0.1:8080", stderr)
	var o appOptions
	o.flags(fs.StringVar, fs.BoolVar)
	listen := fs.String("listen", "", "listen `address` (overrides the configuration)")
	fs.StringVar(&o.guard, "guard", "on", "`mode` of the guard, for benchmarks only: on, off, or bench (every check runs, no limit binds)")
	integrator := fs.Bool("integrator", true, "run the audit integrator (benchmarks only: --integrator=false measures the core without checkpoints)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if o.guard != "on" && o.guard != "off" && o.guard != "bench" {
		return &usageError{msg: "--guard must be on, off or bench", hint: "leave it out outside benchmarks"}
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
