package httpapi

import (
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// The span attributes of a declared purpose, and of the partner
// listener (a span without it is of the API's).
const (
	purposeKey  = attribute.Key("coffre.purpose")
	listenerKey = attribute.Key("coffre.listener")
)

// traced starts one server span for each request h serves, when
// s.Tracing is set and not a no-op (else it returns h: no cost). The span
// is named "METHOD /route/{pattern}" and carries http.request.method,
// http.route, http.response.status_code and coffre.purpose: the labels of
// the request metrics ([Server.observed]), nothing a caller typed. Never
// the path, the query, a header, the reason, a body, an operator or an
// id.
//
// A W3C traceparent makes the span its caller's child, sampled as the
// caller says; the caller's tracestate, a header's free text, is dropped.
func (s *Server) traced(listener string, h http.Handler) http.Handler {
	if s.Tracing == nil {
		return h
	}
	if _, off := s.Tracing.(noop.TracerProvider); off {
		return h
	}
	tracer := s.Tracing.Tracer("github.com/coffre/coffre/internal/httpapi")
	var tc propagation.TraceContext
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if sc := trace.SpanContextFromContext(tc.Extract(ctx, propagation.HeaderCarrier(r.Header))); sc.IsValid() {
			ctx = trace.ContextWithRemoteSpanContext(ctx, sc.WithTraceState(trace.TraceState{}))
		}
		method := methodLabel(r.Method)
		ctx, span := tracer.Start(ctx, method, trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		r = r.WithContext(ctx)
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		if !span.IsRecording() {
			return
		}
		// The mux set the pattern it matched on r, as it does for the
		// metrics.
		name, attrs := spanName(method, r.Pattern)
		status := sw.status()
		attrs = append(attrs, semconv.HTTPResponseStatusCode(status))
		if p := s.declaredPurpose(r); p != "" {
			attrs = append(attrs, purposeKey.String(p))
		}
		if listener != ListenerAPI {
			attrs = append(attrs, listenerKey.String(listener))
		}
		span.SetName(name)
		span.SetAttributes(attrs...)
		if status >= 500 {
			span.SetStatus(codes.Error, "")
		}
	})
}

// spanName is a server span's name, "METHOD /route" (OpenTelemetry's
// HTTP conventions: "HTTP" for a method outside HTTP's, the method alone
// when no pattern matched), and its method and route attributes.
func spanName(method, pattern string) (string, []attribute.KeyValue) {
	attr := semconv.HTTPRequestMethodKey.String(method)
	if method == "other" {
		method, attr = "HTTP", semconv.HTTPRequestMethodOther
	}
	attrs := []attribute.KeyValue{attr}
	// A pattern is [METHOD ][HOST]/PATH: the route is its path.
	i := strings.IndexByte(pattern, '/')
	if i < 0 {
		return method, attrs
	}
	route := pattern[i:]
	return method + " " + route, append(attrs, semconv.HTTPRoute(route))
}

// declaredPurpose is the request's Coffre-Purpose header when the policy
// declares that purpose, else "": a metric's label or a span's attribute
// never carries a purpose a caller made up.
func (s *Server) declaredPurpose(r *http.Request) string {
	purpose := r.Header.Get("Coffre-Purpose")
	if purpose == "" || s.Vault == nil || s.Vault.Policy().Purposes[purpose] == nil {
		return ""
	}
	return purpose
}
