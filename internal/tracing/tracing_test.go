package tracing

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/coffre/coffre/internal/event"
	"github.com/coffre/coffre/internal/tracing/tracingtest"
)

// logBuffer is a log's text, safe for the exporter's goroutine.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newLog() (*slog.Logger, *logBuffer) {
	buf := &logBuffer{}
	return slog.New(slog.NewTextHandler(buf, nil)), buf
}

// TestOff: without an endpoint nothing starts, and a nil Provider is off
// too.
func TestOff(t *testing.T) {
	for _, p := range []*Provider{nil, mustStart(t, Config{})} {
		if p.On() {
			t.Errorf("%v.On() = true, want false", p)
		}
		if _, ok := p.TracerProvider().(noop.TracerProvider); !ok {
			t.Errorf("TracerProvider() = %T, want the no-op one", p.TracerProvider())
		}
		if err := p.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown() = %v, want nil", err)
		}
	}
}

func mustStart(t *testing.T, c Config) *Provider {
	t.Helper()
	p, err := Start(context.Background(), c)
	if err != nil {
		t.Fatalf("Start(%+v): %v", c, err)
	}
	return p
}

// TestStartRefuses: a bad endpoint or ratio is an error, which never
// quotes the URL's credentials.
func TestStartRefuses(t *testing.T) {
	for _, tc := range []struct {
		c    Config
		want string
	}{
		{Config{Endpoint: "grpc://127.0.0.1:4317"}, `scheme "grpc": want http or https`},
		{Config{Endpoint: "127.0.0.1:4318"}, "tracing endpoint"},
		{Config{Endpoint: "http://"}, "no host"},
		{Config{Endpoint: "http://coffre:s3cret@127.0.0.1:4318"}, "credentials in the URL"},
		{Config{Endpoint: "http://127.0.0.1:4318?token=s3cret"}, "a query or fragment"},
		{Config{Endpoint: "http://127.0.0.1:4318", SampleRatio: 1.5}, "want more than 0 and at most 1"},
		{Config{Endpoint: "http://127.0.0.1:4318", SampleRatio: -0.1}, "want more than 0 and at most 1"},
	} {
		p, err := Start(context.Background(), tc.c)
		if err == nil {
			p.Shutdown(context.Background())
			t.Errorf("Start(%+v) = nil error, want %q", tc.c, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Start(%+v) = %q, want it to say %q and not quote the secret", tc.c, err, tc.want)
		}
	}
}

// TestExport: spans reach the collector at ENDPOINT/v1/traces, with a
// resource that names the service and the SDK, and nothing else of the
// machine.
func TestExport(t *testing.T) {
	rcv := tracingtest.New(t)
	p := mustStart(t, Config{Endpoint: rcv.URL + "/", Version: "v1.2.3"})
	if !p.On() {
		t.Fatal("On() = false with an endpoint")
	}
	_, span := p.TracerProvider().Tracer("test").Start(context.Background(), "GET /v1/things/{id}",
		trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attribute.Int("http.response.status_code", 200)))
	span.End()
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	spans := rcv.Spans()
	if len(spans) != 1 {
		t.Fatalf("received %d spans, want 1: %+v", len(spans), spans)
	}
	s := spans[0]
	if s.Name != "GET /v1/things/{id}" || s.Kind != "SPAN_KIND_SERVER" || s.Attrs["http.response.status_code"] != "200" || s.ParentSpanID != "" {
		t.Errorf("span = %+v, want the root server span GET /v1/things/{id} with its status", s)
	}
	if s.Resource["service.name"] != "coffre" || s.Resource["service.version"] != "v1.2.3" || s.Resource["telemetry.sdk.language"] != "go" {
		t.Errorf("resource = %v, want service coffre v1.2.3 and the Go SDK", s.Resource)
	}
	want := []string{"service.name", "service.version", "telemetry.sdk.language", "telemetry.sdk.name", "telemetry.sdk.version"}
	if got := slices.Sorted(maps.Keys(s.Resource)); !slices.Equal(got, want) {
		t.Errorf("resource keys = %v, want %v", got, want)
	}
}

// TestSampling: new traces are sampled at the ratio; a child of a
// sampled caller is sampled whatever the ratio, a child of an unsampled
// one is not.
func TestSampling(t *testing.T) {
	rcv := tracingtest.New(t)
	p := mustStart(t, Config{Endpoint: rcv.URL, SampleRatio: 0.25})
	tr := p.TracerProvider().Tracer("test")
	const n = 2000
	for range n {
		_, span := tr.Start(context.Background(), "root")
		span.End()
	}
	parent := func(flags trace.TraceFlags) context.Context {
		return trace.ContextWithRemoteSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5, 6}, TraceFlags: flags, Remote: true,
		}))
	}
	for range 10 {
		_, span := tr.Start(parent(trace.FlagsSampled), "sampled child")
		span.End()
		_, span = tr.Start(parent(0), "unsampled child")
		span.End()
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	names := map[string]int{}
	for _, s := range rcv.Spans() {
		names[s.Name]++
	}
	// 0.25 of 2000 is 500, with a standard deviation of about 19.
	if got := names["root"]; got < 400 || got > 600 {
		t.Errorf("%d root spans of %d sampled at 0.25, want about 500", got, n)
	}
	if names["sampled child"] != 10 || names["unsampled child"] != 0 {
		t.Errorf("children sampled: %d of a sampled caller, %d of an unsampled one; want 10 and 0", names["sampled child"], names["unsampled child"])
	}
}

// TestCollectorDown: with the collector's port closed, exports fail at
// once, the first failure is logged once with its event, and a span's
// end and the shutdown stay prompt.
func TestCollectorDown(t *testing.T) {
	log, buf := newLog()
	p := mustStart(t, Config{Endpoint: tracingtest.Down(t), Logger: log})
	tr := p.TracerProvider().Tracer("test")
	for range 3 {
		for range 10 {
			_, span := tr.Start(context.Background(), "GET /v1/things/{id}")
			span.End()
		}
		start := time.Now()
		if err := p.sdk.ForceFlush(context.Background()); err != nil {
			t.Errorf("ForceFlush = %v, want nil (the exporter swallows its failures)", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("a flush to a closed port took %s", d)
		}
	}
	start := time.Now()
	if err := p.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown = %v, want nil", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Shutdown took %s with the collector down", d)
	}
	if got := strings.Count(buf.String(), "event="+event.TracingExportFailed); got != 1 {
		t.Errorf("%d lines with event=%s after 4 failed exports, want 1:\n%s", got, event.TracingExportFailed, buf)
	}
}

// TestCollectorRecovers: a failure, a success, two failures: two lines,
// and one that says the traces go again.
func TestCollectorRecovers(t *testing.T) {
	var failing atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if failing.Load() {
			http.Error(w, "refused", http.StatusBadRequest) // not retried
		}
	}))
	t.Cleanup(srv.Close)
	log, buf := newLog()
	p := mustStart(t, Config{Endpoint: srv.URL, Logger: log})
	defer p.Shutdown(context.Background())
	tr := p.TracerProvider().Tracer("test")
	for _, fail := range []bool{true, false, true, true} {
		failing.Store(fail)
		_, span := tr.Start(context.Background(), "GET /v1/things/{id}")
		span.End()
		if err := p.sdk.ForceFlush(context.Background()); err != nil {
			t.Errorf("ForceFlush = %v, want nil", err)
		}
	}
	text := buf.String()
	if got := strings.Count(text, "event="+event.TracingExportFailed); got != 2 {
		t.Errorf("%d failure lines, want 2:\n%s", got, text)
	}
	if got := strings.Count(text, "traces exported again"); got != 1 {
		t.Errorf("%d recovery lines, want 1:\n%s", got, text)
	}
}

// TestCollectorHangs: while an export waits on a collector that never
// answers, spans still start and end at once (the queue drops what it
// cannot hold), and Shutdown gives up at its deadline.
func TestCollectorHangs(t *testing.T) {
	p := mustStart(t, Config{Endpoint: tracingtest.Hanging(t), Logger: slog.New(slog.DiscardHandler)})
	tr := p.TracerProvider().Tracer("test")
	_, span := tr.Start(context.Background(), "first")
	span.End()
	go p.sdk.ForceFlush(context.Background()) // hangs in the export
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	for range 10000 { // more than the queue holds
		_, span := tr.Start(context.Background(), "GET /v1/things/{id}")
		span.End()
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("10000 spans took %s while the collector hangs", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start = time.Now()
	err := p.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want its deadline exceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Shutdown took %s past a 200ms deadline", d)
	}
}
