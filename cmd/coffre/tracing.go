package main

import (
	"context"
	"log/slog"
	"runtime/debug"

	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/tracing"
)

// startTracing starts the traces of cfg.Tracing, or none when its
// endpoint is unset (package tracing); stopTracing sends those still
// queued at exit.
func startTracing(ctx context.Context, cfg *config.Config, log *slog.Logger) (*tracing.Provider, error) {
	bi, _ := debug.ReadBuildInfo()
	tc := cfg.Tracing
	p, err := tracing.Start(ctx, tracing.Config{Endpoint: tc.Endpoint, SampleRatio: tc.SampleRatio, Version: buildVersion(bi).Version, Logger: log})
	if err != nil {
		return nil, err
	}
	if p.On() {
		log.Info("tracing on", "endpoint", tc.Endpoint, "sample_ratio", tc.SampleRatio)
	}
	return p, nil
}

// stopTracing sends the spans still queued, within
// tracing.ShutdownTimeout.
func stopTracing(p *tracing.Provider, log *slog.Logger) {
	if err := p.Shutdown(context.Background()); err != nil {
		log.Warn("traces not all sent at exit", "error", err)
	}
}
