// Package openapitest holds the handlers of a test to the API's OpenAPI
// documents ([httpapi.OpenAPI], [httpapi.PartnerOpenAPI]): every request
// a test sends, and every answer it gets, is checked against the document
// as a client reads it (kin-openapi). It is for tests only.
package openapitest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
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

// Load is the API's document as a client reads it: loaded from its JSON
// by kin-openapi, references resolved, and valid; LoadPartner the
// partner listener's. Each is loaded once.
var (
	Load        = sync.OnceValues(func() (routers.Router, error) { return load(httpapi.OpenAPI) })
	LoadPartner = sync.OnceValues(func() (routers.Router, error) { return load(httpapi.PartnerOpenAPI) })
)

func load(document func() ([]byte, error)) (routers.Router, error) {
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

// Check holds every request h serves, and its answer, to the API's
// document: a request the document refuses must be refused (4xx); every
// answer must be one the document gives for its status — a success of a
// documented status, or an error in the shape of every error. What breaks
// either is reported to t when the test ends. The console's and the
// portal's pages (outside /v1/, /healthz and /readyz) are not checked.
func Check(t testing.TB, h http.Handler) http.Handler {
	t.Helper()
	return Wrap(t)(false, h)
}

// CheckPartner is [Check] for the partner listener, against its document.
func CheckPartner(t testing.TB, h http.Handler) http.Handler {
	t.Helper()
	return Wrap(t)(true, h)
}

// Wrap is [Check] and [CheckPartner] for a server that builds its
// handlers itself, later and on a goroutine of its own: the function it
// returns wraps a handler in the checks of the listener it serves (partner:
// the partner listener), as often as the server builds one. It loads the
// documents now, and reports to t when the test ends.
func Wrap(t testing.TB) func(partner bool, h http.Handler) http.Handler {
	t.Helper()
	api, err := Load()
	if err != nil {
		t.Fatalf("the OpenAPI document: %v", err)
	}
	partners, err := LoadPartner()
	if err != nil {
		t.Fatalf("the partner OpenAPI document: %v", err)
	}
	apiB, err := apiBodies()
	if err != nil {
		t.Fatalf("the OpenAPI document's schemas: %v", err)
	}
	partnerB, err := partnerBodies()
	if err != nil {
		t.Fatalf("the partner OpenAPI document's schemas: %v", err)
	}
	c := &checker{}
	t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, p := range c.problems {
			t.Error(p)
		}
	})
	return func(partner bool, h http.Handler) http.Handler {
		if partner {
			return c.check(h, partners, partnerB)
		}
		return c.check(h, api, apiB)
	}
}

// checker keeps what the requests and answers of one test break.
type checker struct {
	mu       sync.Mutex
	problems []string
}

func (c *checker) report(r *http.Request, status int, format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.problems) < 20 {
		c.problems = append(c.problems, fmt.Sprintf("OpenAPI: %s %s → %d: ", r.Method, r.URL.Path, status)+fmt.Sprintf(format, args...))
	}
}

func (c *checker) check(h http.Handler, router routers.Router, bodies *bodies) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The body is kept as the handler reads it, not read ahead: a
		// request whose body is still on its way is in the server at
		// once, as it would be unchecked. What the handler leaves unread
		// is read before its answer begins, as net/http itself does.
		var body bytes.Buffer
		in := r.Body
		drain := func() { io.Copy(&body, in) }
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.TeeReader(in, &body), in}
		rec := &recorder{ResponseWriter: w, before: sync.OnceFunc(drain)}
		h.ServeHTTP(rec, r)
		rec.before()
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		if !strings.HasPrefix(r.URL.Path, "/v1/") && r.URL.Path != "/healthz" && r.URL.Path != "/readyz" {
			return // the console's and the portal's pages, not the API
		}
		probe := r.Clone(context.Background())
		probe.Body = io.NopCloser(bytes.NewReader(body.Bytes()))
		route, params, err := router.FindRoute(probe)
		if err != nil {
			if rec.status < 400 {
				c.report(r, rec.status, "answered, but no such operation in the document (%v)", err)
			}
			return
		}
		// kin-openapi checks the parameters and headers; the bodies are
		// checked against schemas compiled once (bodies).
		opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true,
			ExcludeRequestBody: true, ExcludeResponseBody: true}
		req := &openapi3filter.RequestValidationInput{Request: probe, PathParams: params, Route: route, Options: opts}
		reqErr := openapi3filter.ValidateRequest(context.Background(), req)
		if reqErr == nil {
			reqErr = bodies.request(route.Path, route.Method, r.Header.Get("Content-Type"), body.Bytes())
		}
		if reqErr != nil && rec.status < 400 {
			c.report(r, rec.status, "accepted a request the document refuses: %v", reqErr)
		}
		if rec.status < 400 && route.Operation.Responses.Value(strconv.Itoa(rec.status)) == nil {
			c.report(r, rec.status, "a status the document does not give")
			return
		}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: req, Status: rec.status, Header: rec.Header(), Options: opts}
		err = openapi3filter.ValidateResponse(context.Background(), out.SetBodyBytes(rec.body.Bytes()))
		if err == nil {
			err = bodies.answer(route.Path, route.Method, rec.status, rec.Header().Get("Content-Type"), rec.body.Bytes())
		}
		if err != nil {
			c.report(r, rec.status, "an answer the document does not describe: %v\n%s", err, clip(rec.body.Bytes()))
		}
	})
}

// recorder passes an answer through and keeps its status and body.
type recorder struct {
	http.ResponseWriter
	// before runs once, before the answer begins.
	before func()
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(status int) {
	r.before()
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.before()
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) Flush() {
	r.before()
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
