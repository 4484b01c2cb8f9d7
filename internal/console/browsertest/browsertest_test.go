package browsertest

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestAudit: axe-core, injected into a page under a strict CSP, finds a
// form field without a label, and nothing on a page without faults.
func TestAudit(t *testing.T) {
	ctx := New(t, 20*time.Second)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		field := `<label for="q">Query</label><input id="q">`
		if r.URL.Path == "/bad" {
			field = `<input id="q">`
		}
		w.Write([]byte(`<!doctype html><html lang="en"><head><title>t</title></head><body><main><h1>t</h1>` + field + `</main></body></html>`))
	}))
	defer srv.Close()

	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/good", nil},
		{"/bad", []string{"label"}},
	} {
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+tc.path)); err != nil {
			t.Fatal(err)
		}
		vs, err := Audit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, v := range vs {
			ids = append(ids, v.ID)
		}
		if !slices.Equal(ids, tc.want) {
			t.Errorf("Audit(%s) = %v, want rules %v", tc.path, vs, tc.want)
		}
		tm, err := PageTiming(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if tm.Load <= 0 || tm.Response > tm.Load {
			t.Errorf("PageTiming(%s) = %+v", tc.path, tm)
		}
	}
}
