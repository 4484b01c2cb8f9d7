package httpapi_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/coffre/coffre/internal/httpapi"
)

var updateOpenAPI = flag.Bool("update-openapi", false, "write docs/openapi.json afresh")

// loadOpenAPI is the document as a client reads it: loaded from its JSON
// by kin-openapi, references resolved, and valid; loadPartnerOpenAPI the
// partner listener's.
var (
	loadOpenAPI        = sync.OnceValues(func() (routers.Router, error) { return loadDocument(httpapi.OpenAPI) })
	loadPartnerOpenAPI = sync.OnceValues(func() (routers.Router, error) { return loadDocument(httpapi.PartnerOpenAPI) })
)

func loadDocument(document func() ([]byte, error)) (routers.Router, error) {
	b, err := document()
	if err != nil {
		return nil, err
	}
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("invalid document: %w", err)
	}
	return legacy.NewRouter(doc)
}

// TestOpenAPIDocument: the document is valid OpenAPI 3.1, documents every
// route of the table, and docs/openapi.json is it (regenerate with: go
// run ./cmd/coffre openapi > docs/openapi.json, or this test with
// -update-openapi).
func TestOpenAPIDocument(t *testing.T) {
	for _, tc := range []struct {
		file   string
		load   func() (routers.Router, error)
		routes []httpapi.Route
		doc    func() ([]byte, error)
	}{
		{"openapi.json", loadOpenAPI, httpapi.Routes(), httpapi.OpenAPI},
		{"openapi-partner.json", loadPartnerOpenAPI, httpapi.PartnerRoutes(), httpapi.PartnerOpenAPI},
	} {
		t.Run(tc.file, func(t *testing.T) { checkDocument(t, tc.file, tc.load, tc.routes, tc.doc) })
	}
}

func checkDocument(t *testing.T, file string, load func() (routers.Router, error), routes []httpapi.Route, doc func() ([]byte, error)) {
	router, err := load()
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range routes {
		path := strings.NewReplacer("{id}", "x").Replace(rt.Path)
		r, _ := http.NewRequest(rt.Method, "http://coffre.test"+path, nil)
		route, _, err := router.FindRoute(r)
		switch {
		case err != nil || route.Path != rt.Path:
			t.Errorf("%s %s: not in the document (%v)", rt.Method, rt.Path, err)
		case len(rt.Out) == 0:
			t.Errorf("%s %s: documents no answer but errors: name its answers (Route.Out)", rt.Method, rt.Path)
		}
	}
	got, _ := doc()
	if *updateOpenAPI {
		if err := os.WriteFile("../../docs/"+file, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("../../docs/" + file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("docs/%s is out of date: go run ./cmd/coffre openapi [--partner] > docs/%s", file, file)
	}
}

// checkOpenAPI holds every request h serves, and its answer, to the
// document: a request the document refuses must be refused (4xx); every
// answer must be one the document gives for its status — a success of a
// documented status, or an error in the shape of every error. What breaks
// either is reported when the test ends.
func checkOpenAPI(t testing.TB, h http.Handler) http.Handler { return checkAgainst(t, h, loadOpenAPI) }

// checkPartnerOpenAPI is checkOpenAPI for the partner listener.
func checkPartnerOpenAPI(t testing.TB, h http.Handler) http.Handler {
	return checkAgainst(t, h, loadPartnerOpenAPI)
}

func checkAgainst(t testing.TB, h http.Handler, load func() (routers.Router, error)) http.Handler {
	router, err := load()
	if err != nil {
		t.Fatalf("the OpenAPI document: %v", err)
	}
	var mu sync.Mutex
	var problems []string
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range problems {
			t.Error(p)
		}
	})
	report := func(r *http.Request, status int, format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(problems) < 20 {
			problems = append(problems, fmt.Sprintf("OpenAPI: %s %s → %d: ", r.Method, r.URL.Path, status)+fmt.Sprintf(format, args...))
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := &recorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		if !strings.HasPrefix(r.URL.Path, "/v1/") && r.URL.Path != "/healthz" && r.URL.Path != "/readyz" {
			return // the console's and the portal's pages, not the API
		}
		probe := r.Clone(context.Background())
		probe.Body = io.NopCloser(bytes.NewReader(body))
		route, params, err := router.FindRoute(probe)
		if err != nil {
			if rec.status < 400 {
				report(r, rec.status, "answered, but no such operation in the document (%v)", err)
			}
			return
		}
		opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}
		in := &openapi3filter.RequestValidationInput{Request: probe, PathParams: params, Route: route, Options: opts}
		if reqErr := openapi3filter.ValidateRequest(context.Background(), in); reqErr != nil && rec.status < 400 {
			report(r, rec.status, "accepted a request the document refuses: %v", reqErr)
		}
		if rec.status < 400 && route.Operation.Responses.Value(strconv.Itoa(rec.status)) == nil {
			report(r, rec.status, "a status the document does not give")
			return
		}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: rec.status, Header: rec.Header(), Options: opts}
		if err := openapi3filter.ValidateResponse(context.Background(), out.SetBodyBytes(rec.body.Bytes())); err != nil {
			report(r, rec.status, "an answer the document does not describe: %v\n%s", err, clip(rec.body.Bytes()))
		}
	})
}

// recorder passes an answer through and keeps its status and body.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func clip(b []byte) string {
	if len(b) > 400 {
		return string(b[:400]) + "…"
	}
	return string(b)
}
