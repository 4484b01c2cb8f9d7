package httpapi_test

import (
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"
)

// TestReadyzIdleServerUnreachableStore: readiness fails closed on an
// unreachable PostgreSQL on its own, on a server that serves no other
// request (so store/health has seen no failure to report): /readyz's
// bounded read of the store fails, when the connections are refused (the
// server down, cutProxy) and when they hang (a partition that drops
// packets, stallProxy), within about its one-second bound, and answers
// 200 again once the store is back.
func TestReadyzIdleServerUnreachableStore(t *testing.T) {
	t.Parallel() // mostly waiting: the half-open hold below
	for _, c := range []struct {
		name string
		// proxy returns the proxy's address and its cut and restore.
		proxy func(t *testing.T, target string) (addr string, cut, restore func())
	}{
		{"refused", func(t *testing.T, target string) (string, func(), func()) {
			p := newCutProxy(t, target)
			return p.Addr(), p.Cut, p.Restore
		}},
		{"stalled", func(t *testing.T, target string) (string, func(), func()) {
			p := newStallProxy(t, target)
			return p.ln.Addr().String(), p.Stall, p.Restore
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			u, err := url.Parse(pgURL(t))
			if err != nil {
				t.Fatal(err)
			}
			addr, cut, restore := c.proxy(t, u.Host)
			u.Host = addr
			e := newEnvOpts(t, envOptions{store: openPostgres(t, u.String()), readiness: true, start: time.Now()})
			if status, ae := e.readyz(t); status != http.StatusOK {
				t.Fatalf("before: /readyz = %d %s, want 200", status, ae.Code)
			}
			cut()
			start := time.Now()
			status, ae := e.readyz(t) // the first request after the cut, and the only one
			took := time.Since(start)
			if status != http.StatusServiceUnavailable || ae.Code != "store_unreachable" {
				t.Errorf("store unreachable: /readyz = %d %q, want 503 store_unreachable", status, ae.Code)
			}
			if took > 2*time.Second {
				t.Errorf("store unreachable: /readyz took %s, want at most its 1 s bound and a margin", took)
			}
			// It stays unready while the store is away, probe after probe.
			for i := range 3 {
				if status, ae := e.readyz(t); status != http.StatusServiceUnavailable {
					t.Errorf("probe %d during the outage: /readyz = %d %q, want 503", i, status, ae.Code)
				}
			}
			restore()
			t.Logf("first probe after the cut: 503 after %s", took)
			// The failure readiness itself met holds it at 503 for up to
			// failHold (10 s) after the last failure (store/health's
			// half-open state), then the next probe reads the store again.
			took, status, ae = e.waitReady(t, http.StatusOK, 15*time.Second)
			if status != http.StatusOK {
				t.Fatalf("after the restore: /readyz = %d %s after %s, want 200", status, ae.Code, took)
			}
			t.Logf("ready again %s after the restore", took)
		})
	}
}

// stallProxy forwards TCP connections until Stall, after which it keeps
// them, and the new ones, open but passes nothing on: what a network
// partition that drops packets looks like to the client.
type stallProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	stall  bool
}

func newStallProxy(t *testing.T, target string) *stallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{ln: ln, target: target}
	var conns []net.Conn
	var cmu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			cmu.Lock()
			conns = append(conns, c, s)
			cmu.Unlock()
			go p.pipe(s, c)
			go p.pipe(c, s)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		cmu.Lock()
		defer cmu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return p
}

// pipe copies from src to dst, dropping what it reads while stalled.
func (p *stallProxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.stalled() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *stallProxy) stalled() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stall
}

// Stall stops passing bytes on, holding every connection open.
func (p *stallProxy) Stall() { p.mu.Lock(); p.stall = true; p.mu.Unlock() }

// Restore passes bytes on again (a connection that lost bytes while
// stalled is broken for the client, which opens another).
func (p *stallProxy) Restore() { p.mu.Lock(); p.stall = false; p.mu.Unlock() }
