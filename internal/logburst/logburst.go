// Package logburst is a slog.Handler that logs identical records of a
// burst once, with a count: when the store fails, every request fails the
// same way, and one line per request (tens of thousands a minute) hides
// the first, useful one and fills the disk that may be the cause.
//
// Records are identical when they have the same level, message and values
// of the identifying attributes (Options.Keys: the route, the error code,
// the action…), whatever their other attributes (the operator, the error's
// text). The first of a burst is logged at once, as it is; the others in
// the window that follows are counted, and when the window ends one record
// with the last one's attributes and "repeated"=N is logged (none when
// nothing repeated). The next one after that starts a new burst. Records
// below Options.Level pass through untouched.
//
// The trade-off: a repeated record's own attributes are lost, only the
// last one's are kept. The memory used is one entry per distinct record
// in the current window.
package logburst

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Options tune a Handler; the zero value is the default.
type Options struct {
	// Window is how long identical records are counted after the first
	// (default 10 s).
	Window time.Duration
	// Level: records below it pass through (default slog.LevelWarn).
	Level *slog.Level
	// Keys are the attributes that, with the level and the message,
	// identify a record (default: route, code, status, action, write).
	Keys []string
}

// Handler counts identical records; see the package doc. Handlers made by
// WithAttrs and WithGroup share their parent's counts.
type Handler struct {
	next slog.Handler
	st   *state
	pre  string // the attributes and groups added by WithAttrs and WithGroup
}

type state struct {
	window time.Duration
	level  slog.Level
	keys   map[string]bool
	mu     sync.Mutex
	bursts map[string]*burst
}

type burst struct {
	h     *Handler
	n     int
	last  slog.Record
	timer *time.Timer
}

// New returns a Handler that logs through next.
func New(next slog.Handler, o Options) *Handler {
	st := &state{window: o.Window, level: slog.LevelWarn, keys: map[string]bool{}, bursts: map[string]*burst{}}
	if st.window <= 0 {
		st.window = 10 * time.Second
	}
	if o.Level != nil {
		st.level = *o.Level
	}
	keys := o.Keys
	if keys == nil {
		keys = []string{"route", "code", "status", "action", "write"}
	}
	for _, k := range keys {
		st.keys[k] = true
	}
	return &Handler{next: next, st: st}
}

// Enabled reports whether next handles level.
func (h *Handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle logs r, or counts it when an identical record was logged within
// the window.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < h.st.level {
		return h.next.Handle(ctx, r)
	}
	key := h.key(r)
	h.st.mu.Lock()
	if b, ok := h.st.bursts[key]; ok {
		b.n++
		b.last = r.Clone()
		h.st.mu.Unlock()
		return nil
	}
	b := &burst{h: h}
	h.st.bursts[key] = b
	b.timer = time.AfterFunc(h.st.window, func() { h.st.flush(key) })
	h.st.mu.Unlock()
	return h.next.Handle(ctx, r)
}

// key identifies r: its level, message and identifying attributes.
func (h *Handler) key(r slog.Record) string {
	var b strings.Builder
	b.WriteString(h.pre)
	b.WriteByte(0)
	b.WriteString(r.Level.String())
	b.WriteByte(0)
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		if h.st.keys[a.Key] {
			b.WriteByte(0)
			b.WriteString(a.Key)
			b.WriteByte('=')
			b.WriteString(a.Value.Resolve().String())
		}
		return true
	})
	return b.String()
}

// flush ends the burst of key: it logs the count of the records it
// suppressed, if any.
func (st *state) flush(key string) {
	st.mu.Lock()
	b, ok := st.bursts[key]
	delete(st.bursts, key)
	st.mu.Unlock()
	if !ok || b.n == 0 {
		return
	}
	r := slog.NewRecord(time.Now(), b.last.Level, b.last.Message, 0)
	b.last.Attrs(func(a slog.Attr) bool { r.AddAttrs(a); return true })
	r.AddAttrs(slog.Int("repeated", b.n), slog.Duration("within", st.window))
	b.h.next.Handle(context.Background(), r)
}

// Flush ends every burst now, logging their counts (at shutdown, and in
// tests).
func (h *Handler) Flush() {
	h.st.mu.Lock()
	keys := make([]string, 0, len(h.st.bursts))
	for k, b := range h.st.bursts {
		b.timer.Stop()
		keys = append(keys, k)
	}
	h.st.mu.Unlock()
	for _, k := range keys {
		h.st.flush(k)
	}
}

// WithAttrs returns a Handler whose records carry attrs; it shares h's
// counts.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	pre := h.pre
	for _, a := range attrs {
		pre += "\x00" + a.String()
	}
	return &Handler{next: h.next.WithAttrs(attrs), st: h.st, pre: pre}
}

// WithGroup returns a Handler whose records' attributes are in group
// name; it shares h's counts.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), st: h.st, pre: h.pre + "\x00group " + name}
}
