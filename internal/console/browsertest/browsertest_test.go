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
// form field without a label, and nothing on a page without faults; a
// page's structure ignores its text.
func TestAudit(t *testing.T) {
	ctx := New(t, 20*time.Second)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		field := `<label for="q">Query</label><input id="q">`
		switch r.URL.Path {
		case "/bad":
			field = `<input id="q">`
		case "/good-other-text":
			field = `<label for="q">Another query</label><input id="q">`
		}
		w.Write([]byte(`<!doctype html><html lang="en"><head><title>t</title></head><body><main><h1>t</h1>` + field + `</main></body></html>`))
	}))
	defer srv.Close()

	structure := map[string]string{}
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/good", nil},
		{"/bad", []string{"label"}},
		{"/good-other-text", nil},
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
		if structure[tc.path], err = Structure(ctx); err != nil {
			t.Fatal(err)
		}
		tm, err := PageTiming(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if tm.Load <= 0 || tm.Response > tm.Load {
			t.Errorf("PageTiming(%s) = %+v", tc.path, tm)
		}
	}
	// CheckAccessible audits a structure once: the text aside, /good and
	// /good-other-text are one page, /bad another.
	if structure["/good"] != structure["/good-other-text"] || structure["/good"] == structure["/bad"] {
		t.Errorf("Structure: %v; want /good and /good-other-text alike, /bad apart", structure)
	}
}
