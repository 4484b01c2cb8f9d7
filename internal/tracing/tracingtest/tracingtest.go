// Package tracingtest is an OTLP/HTTP collector for tests: it decodes
// what an exporter posts to /v1/traces (protobuf, the OpenTelemetry
// project's own types) and keeps the bodies as sent, so that a test reads
// the spans and searches the bytes for what they must not carry.
package tracingtest

import (
	"bytes"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// maxBody bounds a posted body (the exporter's own default request
// bound is 4 MiB).
const maxBody = 8 << 20

// Receiver is a running collector.
type Receiver struct {
	// URL is its base URL, for tracing.Config.Endpoint.
	URL string

	mu     sync.Mutex
	bodies [][]byte
	spans  []Span
	posts  int
}

// Span is a received span, its values as strings.
type Span struct {
	Name, Kind                    string
	TraceID, SpanID, ParentSpanID string // hex; ParentSpanID "" for a root
	TraceState                    string
	Status                        string // "", "ok" or "error"
	Attrs                         map[string]string
	Resource                      map[string]string
}

// New starts a collector, stopped at the test's end.
func New(t testing.TB) *Receiver {
	r := &Receiver{}
	srv := httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

func (r *Receiver) serve(w http.ResponseWriter, hr *http.Request) {
	if hr.Method != http.MethodPost || hr.URL.Path != "/v1/traces" {
		http.Error(w, "POST /v1/traces only", http.StatusNotFound)
		return
	}
	if ct := hr.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		http.Error(w, "want application/x-protobuf, got "+ct, http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, hr.Body, maxBody))
	if err != nil {
		http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		http.Error(w, "decode: "+err.Error(), http.StatusBadRequest)
		return
	}
	var spans []Span
	for _, rs := range req.GetResourceSpans() {
		res := attrs(rs.GetResource().GetAttributes())
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				spans = append(spans, span(s, res))
			}
		}
	}
	r.mu.Lock()
	r.bodies = append(r.bodies, body)
	r.spans = append(r.spans, spans...)
	r.posts++
	r.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

func span(s *tracepb.Span, res map[string]string) Span {
	out := Span{
		Name:       s.GetName(),
		Kind:       s.GetKind().String(),
		TraceID:    hex.EncodeToString(s.GetTraceId()),
		SpanID:     hex.EncodeToString(s.GetSpanId()),
		TraceState: s.GetTraceState(),
		Attrs:      attrs(s.GetAttributes()),
		Resource:   res,
	}
	if p := s.GetParentSpanId(); len(p) > 0 {
		out.ParentSpanID = hex.EncodeToString(p)
	}
	switch s.GetStatus().GetCode() {
	case tracepb.Status_STATUS_CODE_OK:
		out.Status = "ok"
	case tracepb.Status_STATUS_CODE_ERROR:
		out.Status = "error"
	}
	return out
}

// attrs renders scalar values (string, integer, boolean, double); others
// as their protobuf text.
func attrs(kvs []*commonpb.KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		v := kv.GetValue()
		switch x := v.GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			m[kv.GetKey()] = x.StringValue
		case *commonpb.AnyValue_IntValue:
			m[kv.GetKey()] = strconv.FormatInt(x.IntValue, 10)
		case *commonpb.AnyValue_BoolValue:
			m[kv.GetKey()] = strconv.FormatBool(x.BoolValue)
		case *commonpb.AnyValue_DoubleValue:
			m[kv.GetKey()] = strconv.FormatFloat(x.DoubleValue, 'g', -1, 64)
		default:
			m[kv.GetKey()] = v.String()
		}
	}
	return m
}

// Spans returns the spans received so far, in the order received.
func (r *Receiver) Spans() []Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Span(nil), r.spans...)
}

// Bytes returns every body received so far, as sent, one after another.
func (r *Receiver) Bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Join(r.bodies, nil)
}

// Posts is how many bodies were received.
func (r *Receiver) Posts() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.posts
}

// Down returns the base URL of a collector that is not there: a loopback
// port that was just closed, so that a connection is refused.
func Down(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// Hanging returns the base URL of a collector that takes connections and
// never answers: each post waits until the exporter gives it up, or the
// test ends.
func Hanging(t testing.TB) string {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // first: Close waits for the handlers
	return srv.URL
}
