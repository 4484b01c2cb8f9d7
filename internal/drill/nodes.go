package drill

import (
	"context"
	"fmt"
	"net/http"
	"sync"
)

// nodes are the base URLs of the servers sharing one store, taken in turn
// as a load balancer spreads requests. A node that stops answering (the
// drill killed it) is left out from then on, and the request goes to the
// next, as a load balancer's health check would have it.
type nodes struct {
	mu   sync.Mutex
	urls []string
	down map[string]bool
	next int
}

func newNodes(first string, more []string) *nodes {
	return &nodes{urls: append([]string{first}, more...), down: map[string]bool{}}
}

// pick returns the next node that is up.
func (n *nodes) pick() (string, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for range n.urls {
		u := n.urls[n.next%len(n.urls)]
		n.next++
		if !n.down[u] {
			return u, true
		}
	}
	return "", false
}

func (n *nodes) markDown(u string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.down[u] = true
}

// send sends the request build makes for a node's base URL, from hc. A
// node that does not answer is marked down, and one that answers 503
// while others share the store (the store failing under it, as when it is
// being killed) is left for this request: either way the request goes to
// the next node. A request the server took but did not answer may then be
// served twice; the audit log counts what was served.
func (n *nodes) send(ctx context.Context, hc *http.Client, build func(base string) (*http.Request, error)) (*http.Response, error) {
	var last error
	for range len(n.urls) {
		base, ok := n.pick()
		if !ok {
			break
		}
		req, err := build(base)
		if err != nil {
			return nil, err
		}
		resp, err := hc.Do(req)
		switch {
		case err != nil && ctx.Err() != nil:
			return nil, err
		case err != nil:
			n.markDown(base)
			last = err
			continue
		case resp.StatusCode == http.StatusServiceUnavailable && len(n.urls) > 1:
			resp.Body.Close()
			last = fmt.Errorf("%s %s: 503 from %s", req.Method, req.URL.Path, base)
			continue
		}
		return resp, nil
	}
	if last == nil {
		last = fmt.Errorf("no server answers")
	}
	return nil, last
}
