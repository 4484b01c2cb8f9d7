package config

import (
	"errors"
	"strings"
	"testing"
)

// tracingSchema is the least configuration Parse accepts.
const tracingSchema = "schema:\n  - {name: notes, type: text, sensitivity: identity}\n"

func TestTracing(t *testing.T) {
	for _, tc := range []struct {
		name    string
		yaml    string
		environ []string
		want    Tracing
	}{
		{"default: off", "", nil, Tracing{}},
		{"null section", "tracing: ~\n", nil, Tracing{}},
		{"empty endpoint: off", "tracing: {endpoint: \"\"}\n", nil, Tracing{}},
		{"endpoint", "tracing: {endpoint: \"http://127.0.0.1:4318\"}\n", nil, Tracing{Endpoint: "http://127.0.0.1:4318", SampleRatio: 1}},
		{"https with a path and a slash", "tracing: {endpoint: \"https://otel.example.org/collector/\"}\n", nil, Tracing{Endpoint: "https://otel.example.org/collector", SampleRatio: 1}},
		{"ratio", "tracing: {endpoint: \"http://[::1]:4318\", sample_ratio: 0.1}\n", nil, Tracing{Endpoint: "http://[::1]:4318", SampleRatio: 0.1}},
		{"ratio 1 as an integer", "tracing: {endpoint: \"http://collector:4318\", sample_ratio: 1}\n", nil, Tracing{Endpoint: "http://collector:4318", SampleRatio: 1}},
		{"environment", "", []string{"COFFRE_TRACING_ENDPOINT=http://localhost:4318", "COFFRE_TRACING_SAMPLE_RATIO=0.25"},
			Tracing{Endpoint: "http://localhost:4318", SampleRatio: 0.25}},
		{"environment over the file", "tracing: {endpoint: \"http://a.example:4318\", sample_ratio: 0.5}\n", []string{"COFFRE_TRACING_ENDPOINT=https://b.example:4318"},
			Tracing{Endpoint: "https://b.example:4318", SampleRatio: 0.5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("inline.yaml", []byte(tc.yaml+tracingSchema), tc.environ)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.yaml, err)
			}
			if cfg.Tracing != tc.want {
				t.Errorf("Parse(%q).Tracing = %+v, want %+v", tc.yaml, cfg.Tracing, tc.want)
			}
		})
	}
}

// TestTracingErrors: each bad value gives exactly the problem listed, on
// its line and key, and never quotes the URL (it might hold a secret).
func TestTracingErrors(t *testing.T) {
	const want = "want the base URL of an OTLP/HTTP collector, such as http://127.0.0.1:4318 or https://otel.example.org:4318"
	for _, tc := range []struct {
		yaml    string // lines 1…, before tracingSchema
		environ []string
		want    string
	}{
		{"tracing:\n  endpoint: \"grpc://127.0.0.1:4317\"\n", nil, `inline.yaml:2: tracing.endpoint: ` + want + `: http or https (OTLP over gRPC is not supported), got the scheme "grpc"`},
		{"tracing:\n  endpoint: \"127.0.0.1:4318\"\n", nil, `inline.yaml:2: tracing.endpoint: ` + want},
		{"tracing:\n  endpoint: \"localhost:4318\"\n", nil, `inline.yaml:2: tracing.endpoint: ` + want},
		{"tracing:\n  endpoint: \"http:///v1\"\n", nil, `inline.yaml:2: tracing.endpoint: ` + want + `: it names no host`},
		{"tracing:\n  endpoint: \"https://coffre:s3cret@otel.example.org\"\n", nil, `inline.yaml:2: tracing.endpoint: ` + want + `, without credentials: a collector that asks for them is reached through OTEL_EXPORTER_OTLP_HEADERS`},
		{"tracing:\n  endpoint: \"https://otel.example.org?token=s3cret\"\n", nil, `inline.yaml:2: tracing.endpoint: ` + want + `, without query or fragment`},
		{"tracing:\n  endpoint: \"http://127.0.0.1:4318/v1/traces\"\n", nil, `inline.yaml:2: tracing.endpoint: ` + want + `: without /v1/traces, which Coffre adds`},
		{"tracing:\n  endpoint: 4318\n", nil, `inline.yaml:2: tracing.endpoint: want a string, got the number "4318"`},
		{"tracing:\n  endpoint: \"http://127.0.0.1:4318\"\n  sample_ratio: 0\n", nil, `inline.yaml:3: tracing.sample_ratio: must be more than 0 and at most 1 (the share of requests traced, such as 0.1), got 0`},
		{"tracing:\n  endpoint: \"http://127.0.0.1:4318\"\n  sample_ratio: 1.5\n", nil, `inline.yaml:3: tracing.sample_ratio: must be more than 0 and at most 1 (the share of requests traced, such as 0.1), got 1.5`},
		{"tracing:\n  endpoint: \"http://127.0.0.1:4318\"\n  sample_ratio: 10%\n", nil, `inline.yaml:3: tracing.sample_ratio: want a number, got the string "10%"`},
		{"tracing:\n  sample_ratio: 0.5\n", nil, `inline.yaml:2: tracing.sample_ratio: is set but tracing.endpoint is not: say where the OTLP/HTTP collector listens, such as http://127.0.0.1:4318`},
		{"tracing:\n  endpont: \"http://127.0.0.1:4318\"\n", nil, `inline.yaml:2: tracing: unknown key "endpont" (did you mean "endpoint"?)`},
		{"tracing:\n  endpoint: \"https://otel.example.org\"\n  sample_ratio: \"all\"\n", nil, `inline.yaml:3: tracing.sample_ratio: want a number, got the string "all"`},
		{"", []string{"COFFRE_TRACING_ENDPOINT=ftp://c.example"}, `environment: COFFRE_TRACING_ENDPOINT: ` + want + `: http or https (OTLP over gRPC is not supported), got the scheme "ftp"`},
		{"", []string{"COFFRE_TRACING_ENDPOINT=http://c.example", "COFFRE_TRACING_SAMPLE_RATIO=-1"}, `environment: COFFRE_TRACING_SAMPLE_RATIO: must be more than 0 and at most 1`},
	} {
		t.Run(tc.want, func(t *testing.T) {
			_, err := Parse("inline.yaml", []byte(tc.yaml+tracingSchema), tc.environ)
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("Parse(%q) = %v, want an *Error", tc.yaml, err)
			}
			if len(cerr.Problems) != 1 || !strings.HasPrefix(cerr.Problems[0].String(), tc.want) {
				t.Errorf("Parse(%q) =\n%v\nwant one problem starting %q", tc.yaml, err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("Parse(%q) quotes the URL's secret: %v", tc.yaml, err)
			}
		})
	}
}
