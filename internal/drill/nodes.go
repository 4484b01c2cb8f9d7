package drill

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	api "github.com/coffre/coffre/client"
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
	// apis are the public client of each node (package client), through
	// which the drill calls the API as an operator's tool would.
	apis map[string]*api.Client
}

// newNodes makes the nodes first and more; hc, when not nil, is the HTTP
// client their public clients (do) use.
func newNodes(first string, more []string, hc *http.Client) *nodes {
	n := &nodes{urls: append([]string{first}, more...), down: map[string]bool{}, apis: map[string]*api.Client{}}
	for _, u := range n.urls {
		if hc == nil {
			break // the partner listener's nodes: called by send, with their own TLS client
		}
		// No retry: the drill counts every refusal, 429s included.
		c, err := api.New(u, api.WithHTTPClient(hc), api.WithRetries(0, 0))
		if err != nil {
			panic(fmt.Sprintf("drill: node %q: %v", u, err)) // the drill's own URLs
		}
		n.apis[u] = c
	}
	return n
}

// do calls fn with the client of a node, as send sends: the next node up,
// and the one after it when a node does not answer (marked down) or
// answers 503 while others share the store. It returns fn's status and
// error: an *api.Error for an answer of 400 or more.
func (n *nodes) do(ctx context.Context, fn func(*api.Client) (int, error)) (int, error) {
	return n.each(ctx, func(base string) *api.Client { return n.apis[base] }, fn)
}

// doWith is do through hc (a partner's own TLS client).
func (n *nodes) doWith(ctx context.Context, hc *http.Client, fn func(*api.Client) (int, error)) (int, error) {
	return n.each(ctx, func(base string) *api.Client {
		c, err := api.New(base, api.WithHTTPClient(hc), api.WithRetries(0, 0))
		if err != nil {
			panic(fmt.Sprintf("drill: node %q: %v", base, err)) // the drill's own URLs
		}
		return c
	}, fn)
}

// each is do with the client of a node from client.
func (n *nodes) each(ctx context.Context, client func(base string) *api.Client, fn func(*api.Client) (int, error)) (int, error) {
	var last error
	tried := map[string]bool{}
	for range len(n.urls) {
		base, ok := n.pick(tried)
		if !ok {
			break
		}
		st, err := fn(client(base))
		var e *api.Error
		switch {
		case err == nil:
			return st, nil
		case errors.As(err, &e) && e.Status == http.StatusServiceUnavailable && len(n.urls) > 1:
			last = fmt.Errorf("503 from %s", base)
			continue
		case errors.As(err, &e):
			return st, err // an answer: the caller reads it
		case ctx.Err() != nil:
			return 0, err
		default:
			n.markDown(base)
			last = err
		}
	}
	if last == nil {
		last = fmt.Errorf("no server answers")
	}
	return 0, last
}

// pick returns the next node that is up and not in tried, and adds it
// to tried. A request tries each node once: other requests move the
// turn too, so without tried one request could meet the same dying
// node at each of its tries (TestDrillNodes failed so, every try a 503
// or a refusal from the node being killed).
func (n *nodes) pick(tried map[string]bool) (string, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for range n.urls {
		u := n.urls[n.next%len(n.urls)]
		n.next++
		if !n.down[u] && !tried[u] {
			tried[u] = true
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
	tried := map[string]bool{}
	for range len(n.urls) {
		base, ok := n.pick(tried)
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
