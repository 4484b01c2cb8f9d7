package group

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"

	"github.com/coffre/coffre/internal/event"
	"github.com/coffre/coffre/internal/store"
)

// Call runs fn(ctx, tx) and returns its error. Should fn panic, Call
// recovers, logs the panic through log at level error, and returns an
// error wrapping [store.ErrPanic]; the store then treats it as fn's error
// (rolls back fn's writes alone) and does not run fn again. On the
// writer's goroutine a panic would otherwise end the process, outside
// net/http's recovery; in View it would leave a request without an
// answer.
//
// What is logged holds no personal data: the panic value's type, its
// text only when it is a [runtime.Error] (the runtime's own messages name
// types and indexes, never values), and the goroutine's stack, whose
// frames show function names, files, lines and argument words (integers
// and pointers, never the contents of strings or slices). The text of any
// other value (an error, a string) may quote the data fn was handling,
// so it is left out; the stack locates the panic. The error returned
// names the type only.
func Call(ctx context.Context, log *slog.Logger, fn func(context.Context, store.Tx) error, tx store.Tx) (err error) {
	defer func() {
		if v := recover(); v != nil {
			attrs := []any{"panic_type", fmt.Sprintf("%T", v)}
			if re, ok := v.(runtime.Error); ok {
				attrs = append(attrs, "panic", re.Error())
			}
			attrs = append(attrs, "stack", string(debug.Stack()))
			log.ErrorContext(ctx, "transaction function panicked; its writes are rolled back", append(attrs, "event", event.StorePanic)...)
			err = fmt.Errorf("%w (%T)", store.ErrPanic, v)
		}
	}()
	return fn(ctx, tx)
}
