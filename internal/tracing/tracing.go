// Package tracing starts Coffre's OpenTelemetry traces (issue 19): off
// by default, on when tracing.endpoint in coffre.yaml names an OTLP/HTTP
// collector.
//
// Off, [Start] returns a [Provider] whose tracer provider is a no-op and
// whose Shutdown does nothing; the HTTP API then installs no middleware
// at all, so that tracing costs nothing on the request path.
//
// On, the spans are batched in memory and posted in the background to
// ENDPOINT/v1/traces (OTLP over HTTP, protobuf). A collector that is down
// or slow loses spans, never a request: a span's end only queues it, and
// a full queue drops it. The first failed export of a run is logged once
// (event tracing.export_failed), not each batch. New traces are sampled
// at the configured ratio; a request that carries a W3C traceparent
// follows its caller's choice.
//
// # What a span carries
//
// What the callers set (package httpapi: the route pattern, the method,
// the status, a declared purpose), and a resource that names the service
// (service.name coffre, service.version) and the SDK. Nothing is read
// from the environment into a span: no host, process or command line.
package tracing

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/coffre/coffre/internal/event"
)

// Config configures the traces. The zero value is off.
type Config struct {
	// Endpoint is the base URL of an OTLP/HTTP collector, such as
	// http://127.0.0.1:4318 (config.Tracing.Endpoint): spans are posted
	// to Endpoint + "/v1/traces". "": tracing is off.
	Endpoint string
	// SampleRatio is the share of new traces sampled, more than 0 and at
	// most 1; 0 stands for 1.
	SampleRatio float64
	// Version is the service.version of the spans ("": none).
	Version string
	// Logger gets the failed exports (nil: slog.Default()).
	Logger *slog.Logger
}

// ShutdownTimeout bounds [Provider.Shutdown]: the spans the collector has
// not taken by then are dropped.
const ShutdownTimeout = 5 * time.Second

// Bounds of one export: a try, and all its tries (the batch processor
// gives up on a batch after exportTimeout, and sends the next).
const (
	tryTimeout    = 5 * time.Second
	exportTimeout = 10 * time.Second
)

// Provider is the server's tracer provider. Its methods are safe on a
// nil *Provider, which is off.
type Provider struct {
	sdk *sdktrace.TracerProvider // nil: off
}

// Start starts the traces c configures, or none when c.Endpoint is
// empty. It connects to nothing: the first batch is posted within 5
// seconds of the first span, and a collector that cannot be reached only
// loses spans. Call Shutdown at exit to send those still queued.
func Start(ctx context.Context, c Config) (*Provider, error) {
	if c.Endpoint == "" {
		return &Provider{}, nil
	}
	if err := checkEndpoint(c.Endpoint); err != nil {
		return nil, err
	}
	if !(c.SampleRatio >= 0 && c.SampleRatio <= 1) {
		return nil, fmt.Errorf("tracing sample ratio %g: want more than 0 and at most 1", c.SampleRatio)
	}
	exp, err := otlptracehttp.New(ctx,
		otlptracehttp.WithEndpointURL(strings.TrimSuffix(c.Endpoint, "/")+"/v1/traces"),
		otlptracehttp.WithTimeout(tryTimeout),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: true, InitialInterval: time.Second, MaxInterval: 4 * time.Second, MaxElapsedTime: exportTimeout}),
	)
	if err != nil {
		return nil, fmt.Errorf("tracing exporter: %w", err)
	}
	attrs := []attribute.KeyValue{semconv.ServiceName("coffre")}
	if c.Version != "" {
		attrs = append(attrs, semconv.ServiceVersion(c.Version))
	}
	res, err := resource.New(ctx, resource.WithSchemaURL(semconv.SchemaURL), resource.WithTelemetrySDK(), resource.WithAttributes(attrs...))
	if err != nil {
		return nil, fmt.Errorf("tracing resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(&exporter{SpanExporter: exp, log: cmp.Or(c.Logger, slog.Default())}, sdktrace.WithExportTimeout(exportTimeout)),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cmp.Or(c.SampleRatio, 1)))),
	)
	return &Provider{sdk: tp}, nil
}

// checkEndpoint says what is wrong with a collector's base URL (package
// config says it at length), never quoting it.
func checkEndpoint(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Opaque != "":
		return errors.New("tracing endpoint: not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("tracing endpoint: scheme %q: want http or https", u.Scheme)
	case u.Hostname() == "":
		return errors.New("tracing endpoint: no host")
	case u.User != nil:
		return errors.New("tracing endpoint: credentials in the URL")
	case u.RawQuery != "" || u.Fragment != "":
		return errors.New("tracing endpoint: a query or fragment in the URL")
	}
	return nil
}

// On reports whether p makes traces.
func (p *Provider) On() bool { return p != nil && p.sdk != nil }

// TracerProvider starts the spans: the SDK's, or a no-op one when p is
// off.
func (p *Provider) TracerProvider() trace.TracerProvider {
	if !p.On() {
		return noop.NewTracerProvider()
	}
	return p.sdk
}

// Shutdown sends the spans still queued and stops the exporter, waiting
// at most ShutdownTimeout (or until ctx is done). It does nothing when p
// is off.
func (p *Provider) Shutdown(ctx context.Context) error {
	if !p.On() {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, ShutdownTimeout)
	defer cancel()
	if err := p.sdk.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing shutdown: %w", err)
	}
	return nil
}

// exporter logs the first failed export of a run, once, and tells the
// batch processor that every export went well: the OpenTelemetry SDK
// would otherwise print each failure through the standard log package.
type exporter struct {
	sdktrace.SpanExporter
	log     *slog.Logger
	failing atomic.Bool
}

func (e *exporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if err := e.SpanExporter.ExportSpans(ctx, spans); err != nil {
		if !e.failing.Swap(true) {
			e.log.WarnContext(ctx, "traces not exported: spans are dropped until the collector takes them (requests are not held back)",
				"event", event.TracingExportFailed, "spans", len(spans), "error", err)
		}
		return nil
	}
	if e.failing.Swap(false) {
		e.log.InfoContext(ctx, "traces exported again")
	}
	return nil
}
