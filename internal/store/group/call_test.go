package group

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/coffre/coffre/internal/store"
)

// TestCall: fn's own outcome passes through; a panic becomes an error
// wrapping store.ErrPanic, logged with its type and stack, and with its
// text only when it is the runtime's.
func TestCall(t *testing.T) {
	const secret = "marie.curie@example.org"
	boom := errors.New("boom")
	tests := []struct {
		name      string
		fn        func(context.Context, store.Tx) error
		wantErr   error
		wantLog   []string // substrings of the log; nil: nothing logged
		forbidLog string
	}{
		{"nil", func(context.Context, store.Tx) error { return nil }, nil, nil, ""},
		{"error", func(context.Context, store.Tx) error { return boom }, boom, nil, ""},
		{"string", func(context.Context, store.Tx) error { panic("bad value " + secret) },
			store.ErrPanic, []string{"panic_type=string", "call_test.go"}, secret},
		{"error value", func(context.Context, store.Tx) error { panic(fmt.Errorf("field %s", secret)) },
			store.ErrPanic, []string{"panic_type=*errors.errorString", "stack="}, secret},
		{"runtime error", func(context.Context, store.Tx) error {
			var fields []string
			return errors.New(fields[len(secret)])
		}, store.ErrPanic, []string{`panic="runtime error: index out of range [23] with length 0"`, "stack="}, secret},
		{"nil panic", func(context.Context, store.Tx) error { panic(nil) },
			store.ErrPanic, []string{"panic_type=*runtime.PanicNilError"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(slog.NewTextHandler(&buf, nil))
			err := Call(context.Background(), log, tt.fn, nil)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("Call got %v, want %v", err, tt.wantErr)
			}
			if tt.wantLog == nil && buf.Len() > 0 {
				t.Fatalf("Call logged %q, want nothing", buf.String())
			}
			for _, w := range tt.wantLog {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("log %q lacks %q", buf.String(), w)
				}
			}
			if tt.forbidLog != "" && (strings.Contains(buf.String(), tt.forbidLog) || strings.Contains(fmt.Sprint(err), tt.forbidLog)) {
				t.Errorf("the panic value's text leaked: log %q, error %v", buf.String(), err)
			}
		})
	}
}
