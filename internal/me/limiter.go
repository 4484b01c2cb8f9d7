package me

import (
	"net/netip"
	"sync"
	"time"
)

// maxOrigins bounds the addresses an originLimiter remembers: past it,
// the windows that are over are dropped, and if that is not enough, all.
const maxOrigins = 100_000

// originLimiter counts code requests per address in fixed windows, in
// this process. (Per-contact counts and locks are in the store, shared by
// every node; this one sheds a flood from one address before any store
// work, so a node-local view is enough, as for operators' logins.)
type originLimiter struct {
	mu sync.Mutex
	m  map[string]originWindow
}

type originWindow struct {
	start time.Time
	n     int
}

// take counts a request from key at now in windows of every and returns
// the count in the current window (refuse it when over the limit) and
// when that window ends.
func (l *originLimiter) take(key string, now time.Time, limit int, every time.Duration) (int, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]originWindow{}
	}
	w, ok := l.m[key]
	if !ok || now.Sub(w.start) >= every || now.Before(w.start) {
		if len(l.m) >= maxOrigins {
			l.prune(now, every)
		}
		w = originWindow{start: now}
	}
	if w.n <= limit+1 { // past limit+2 the count stops: the first refusal is limit+1, the others limit+2
		w.n++
	}
	l.m[key] = w
	return w.n, w.start.Add(every).Sub(now)
}

func (l *originLimiter) prune(now time.Time, every time.Duration) {
	for k, w := range l.m {
		if now.Sub(w.start) >= every {
			delete(l.m, k)
		}
	}
	if len(l.m) >= maxOrigins {
		clear(l.m)
	}
}

// originKey is the key an address is counted under: the address, or for
// IPv6 its /64, which one subscriber usually holds whole.
func originKey(origin string) string {
	a, err := netip.ParseAddr(origin)
	if err != nil {
		return origin
	}
	if a.Is6() && !a.Is4In6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.Unmap().String()
}
