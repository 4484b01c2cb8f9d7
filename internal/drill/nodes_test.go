package drill

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	api "github.com/coffre/coffre/client"
)

// TestNodesTryEachOnce: while a request is at a dying node, others move
// the turn; the request's next try must still go to a node it has not
// tried, and a node that refuses connections is left out from then on.
func TestNodesTryEachOnce(t *testing.T) {
	status := func(code int) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			w.Write([]byte(`{"error":{"code":"unavailable","message":"the store is unavailable"}}`))
		}))
	}
	dying, up := status(http.StatusServiceUnavailable), status(http.StatusOK)
	defer dying.Close()
	defer up.Close()
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close() // refuses connections, as a killed node does

	tests := []struct {
		name  string
		nodes []string
		// others is how many picks other requests make while this one
		// is at each node.
		others int
	}{
		{"503, then another request takes the turn", []string{dying.URL, up.URL}, 1},
		{"503 and refused, others taking turns", []string{dying.URL, gone.URL, up.URL}, 2},
		{"refused first", []string{gone.URL, dying.URL, up.URL}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNodes(tt.nodes[0], tt.nodes[1:], http.DefaultClient)
			var got []string
			st, err := n.do(context.Background(), func(c *api.Client) (int, error) {
				for u, cu := range n.apis {
					if cu == c {
						got = append(got, u)
					}
				}
				for range tt.others {
					n.pick(map[string]bool{})
				}
				return c.Do(context.Background(), http.MethodGet, "/v1/x", nil, nil, nil)
			})
			if err != nil || st != http.StatusOK {
				t.Fatalf("status %d, error %v after trying %v", st, err, got)
			}
			seen := map[string]bool{}
			for _, u := range got {
				if seen[u] {
					t.Errorf("tried %s twice: %v", u, got)
				}
				seen[u] = true
			}
			if seen[gone.URL] && !n.down[gone.URL] {
				t.Errorf("the node refusing connections is not left out: %v", n.down)
			}
			if n.down[dying.URL] {
				t.Errorf("a node answering 503 was left out for good")
			}
		})
	}
}
