package public_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/coffre/coffre/internal/public"
)

var errKind = errors.New("invalid input")

func TestMessageNeverShowsTheCause(t *testing.T) {
	cause := errors.New("MARKER constraint holds alice@example.com")
	err := fmt.Errorf("put index: %w", public.WrapWithMessage(cause, "the value is taken"))
	if got := public.Message(err, "fallback"); got != "the value is taken" {
		t.Errorf("Message = %q, want the public message", got)
	}
	if !errors.Is(err, cause) {
		t.Error("the cause is not matchable")
	}
	if !strings.Contains(err.Error(), "MARKER") {
		t.Errorf("Error() = %q: the log must still see the cause", err)
	}
	if got := public.Message(fmt.Errorf("x: %w", cause), "fallback"); got != "fallback" {
		t.Errorf("Message of a chain without a public error = %q, want the fallback", got)
	}
}

func TestKindMatches(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", public.Errorf(errKind, "field %q has no lookup index", "email").WithHint("use another field"))
	if !errors.Is(err, errKind) {
		t.Error("errors.Is(err, kind) = false")
	}
	if got, want := public.Message(err, ""), `field "email" has no lookup index`; got != want {
		t.Errorf("Message = %q, want %q", got, want)
	}
	if got := public.Hint(err, "x"); got != "use another field" {
		t.Errorf("Hint = %q", got)
	}
	if got := err.Error(); got != `wrapped: field "email" has no lookup index` {
		t.Errorf("Error() = %q", got)
	}
}

func TestOutermostWins(t *testing.T) {
	inner := public.Errorf(errKind, "inner")
	outer := public.WrapWithMessage(inner, "outer")
	if got := public.Message(outer, ""); got != "outer" {
		t.Errorf("Message = %q, want outer", got)
	}
	if !errors.Is(outer, errKind) {
		t.Error("the inner kind is lost")
	}
}
