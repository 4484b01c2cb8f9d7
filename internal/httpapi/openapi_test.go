package httpapi_test

import (
	"bytes"
	"flag"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/routers"

	"github.com/coffre/coffre/internal/httpapi"
	"github.com/coffre/coffre/internal/httpapi/openapitest"
)

var updateOpenAPI = flag.Bool("update-openapi", false, "write docs/openapi.json afresh")

// The end-to-end tests hold their requests and answers to the documents
// (openapitest).
var (
	checkOpenAPI        = openapitest.Check
	checkPartnerOpenAPI = openapitest.CheckPartner
)

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
		{"openapi.json", openapitest.Load, httpapi.Routes(), httpapi.OpenAPI},
		{"openapi-partner.json", openapitest.LoadPartner, httpapi.PartnerRoutes(), httpapi.PartnerOpenAPI},
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
