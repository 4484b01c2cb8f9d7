package config

import (
	"fmt"
	"net/url"
	"strings"
)

// tracingFile is the tracing section (issue 19).
type tracingFile struct {
	Endpoint    leaf `key:"endpoint"`
	SampleRatio leaf `key:"sample_ratio"`
}

// Tracing says where the server sends its OpenTelemetry traces (package
// tracing): one span per API request, named by its route pattern, never
// with a value, a path or a header of the request.
type Tracing struct {
	// Endpoint is the base URL of an OTLP/HTTP collector, such as
	// http://127.0.0.1:4318: spans are posted to Endpoint + "/v1/traces".
	// Default "": no traces.
	Endpoint string
	// SampleRatio is the share of the traces a request starts that are
	// sampled, more than 0 and at most 1; a request that carries a W3C
	// traceparent follows its caller's choice. Default 1 when Endpoint
	// is set (the zero Tracing is off).
	SampleRatio float64
}

// tracing checks the tracing section: off (the zero Tracing) without an
// endpoint.
func (p *parser) tracing(f *file) Tracing {
	tf := f.Tracing
	t := Tracing{SampleRatio: 1}
	set(p, tf.Endpoint, read[string], &t.Endpoint, checkCollectorURL)
	ratioOK := set(p, tf.SampleRatio, read[float64], &t.SampleRatio, func(r float64) string {
		if !(r > 0 && r <= 1) {
			return fmt.Sprintf("must be more than 0 and at most 1 (the share of requests traced, such as 0.1), got %g", r)
		}
		return ""
	})
	if t.Endpoint == "" {
		if ratioOK && tf.SampleRatio.set() && !tf.Endpoint.set() {
			p.bad(tf.SampleRatio, "is set but tracing.endpoint is not: say where the OTLP/HTTP collector listens, such as http://127.0.0.1:4318")
		}
		return Tracing{}
	}
	t.Endpoint = strings.TrimSuffix(t.Endpoint, "/")
	return t
}

// checkCollectorURL returns what is wrong with tracing.endpoint, or "".
// It never quotes the URL, which might hold credentials.
func checkCollectorURL(s string) string {
	const want = "want the base URL of an OTLP/HTTP collector, such as http://127.0.0.1:4318 or https://otel.example.org:4318"
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Opaque != "":
		return want
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("%s: http or https (OTLP over gRPC is not supported), got the scheme %s", want, short(u.Scheme))
	case u.Host == "" || u.Hostname() == "":
		return want + ": it names no host"
	case u.User != nil:
		return want + ", without credentials: a collector that asks for them is reached through OTEL_EXPORTER_OTLP_HEADERS"
	case u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "#"):
		return want + ", without query or fragment"
	case strings.HasSuffix(strings.TrimSuffix(u.Path, "/"), "/v1/traces"):
		return want + ": without /v1/traces, which Coffre adds"
	}
	return ""
}
