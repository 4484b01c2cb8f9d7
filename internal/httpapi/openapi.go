package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3gen"
)

// Answer is one answer a route documents: its status and the Go type of
// its JSON body, as a zero value (nil: no body). Every route also answers
// errors, in the shape of DESIGN §4 (errorBody), documented once as each
// operation's default answer.
type Answer struct {
	Status int
	Body   any
	Doc    string
	// Media is the body's media type when it is not JSON (text/plain:
	// a body of text, Body ignored). Two answers of one status are one
	// answer in two media types (a report as JSON or as Markdown).
	Media string
}

// Param is a query parameter or a request header a route reads.
type Param struct {
	Name, Doc string
	Required  bool
	// Integer: the value is a decimal integer (else a string).
	Integer bool
}

func ok(body any) []Answer      { return []Answer{{Status: http.StatusOK, Body: body}} }
func created(body any) []Answer { return []Answer{{Status: http.StatusCreated, Body: body}} }

// noContent is the answer of a route that answers 204 and nothing else.
var noContent = []Answer{{Status: http.StatusNoContent}}

// The headers the routes that declare a purpose read.
var (
	purposeHeader = Param{Name: "Coffre-Purpose", Required: true, Doc: "the declared purpose of the access (a purpose of one's role)"}
	reasonHeader  = Param{Name: "Coffre-Reason", Doc: "why: free text, kept sealed under the person's key (required outside one's unit)"}
	purposeAccess = []Param{purposeHeader, reasonHeader}
)

// errorBody is every error answer: {"error": {"code", "message", "hint"}}.
type errorBody struct {
	Error apiError `json:"error"`
}

// OpenAPIVersion is the version of the OpenAPI Specification the document
// follows.
const OpenAPIVersion = "3.1.0"

// document is an OpenAPI document, built once from a route table.
type document struct {
	once sync.Once
	b    []byte
	err  error
}

func (d *document) get(title string, routes func() []Route) ([]byte, error) {
	d.once.Do(func() {
		t, err := buildOpenAPI(title, routes())
		if err != nil {
			d.err = err
			return
		}
		b, err := json.MarshalIndent(t, "", "  ")
		if err != nil {
			d.err = fmt.Errorf("openapi: %w", err)
			return
		}
		d.b = append(b, '\n')
	})
	return d.b, d.err
}

var apiDocument, partnerDocument document

// OpenAPI returns the API's OpenAPI document (JSON), generated from the
// route table and the request and answer types it names: the one served
// at GET /v1/openapi.json and checked in as docs/openapi.json.
func OpenAPI() ([]byte, error) { return apiDocument.get("Coffre", Routes) }

// PartnerOpenAPI is the partner listener's document (its two routes),
// served there at GET /v1/openapi.json and checked in as
// docs/openapi-partner.json.
func PartnerOpenAPI() ([]byte, error) {
	return partnerDocument.get("Coffre, partner listener", PartnerRoutes)
}

// serveOpenAPI answers GET /v1/openapi.json.
func (s *Server) serveOpenAPI(w http.ResponseWriter, r *http.Request) { s.serveDocument(w, r, OpenAPI) }

// servePartnerOpenAPI answers GET /v1/openapi.json on the partner listener.
func (s *Server) servePartnerOpenAPI(w http.ResponseWriter, r *http.Request) {
	s.serveDocument(w, r, PartnerOpenAPI)
}

func (s *Server) serveDocument(w http.ResponseWriter, r *http.Request, doc func() ([]byte, error)) {
	b, err := doc()
	if err != nil {
		s.fail(w, r, nil, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

// buildOpenAPI makes the document of routes.
func buildOpenAPI(title string, routes []Route) (*openapi3.T, error) {
	g := newSchemas()
	d := &openapi3.T{
		OpenAPI: OpenAPIVersion,
		Info: &openapi3.Info{
			Title:   title,
			Version: "1",
			Description: "A personal-data vault: one person at a time, for a declared purpose, every access audited before data leaves. " +
				"Errors are {\"error\": {\"code\", \"message\", \"hint\"}}; see the README.",
			License: &openapi3.License{Name: "see the repository"},
		},
		Paths: openapi3.NewPaths(),
		Components: &openapi3.Components{
			Schemas: g.components,
			SecuritySchemes: openapi3.SecuritySchemes{
				"operator": {Value: openapi3.NewSecurityScheme().WithType("http").WithScheme("bearer").
					WithDescription("an operator's session token, from POST /v1/auth/login and a second factor")},
				"person": {Value: openapi3.NewSecurityScheme().WithType("http").WithScheme("bearer").
					WithDescription("a person's session token, from POST /v1/me/login/code or the OpenID Connect sign-in")},
				"partner": {Value: openapi3.NewSecurityScheme().WithType("apiKey").WithIn("header").WithName("Coffre-Api-Key").
					WithDescription("a partner's API key, on the partner listener, with the partner's client certificate (mutual TLS)")},
			},
		},
	}
	errRef, err := g.ref(errorBody{})
	if err != nil {
		return nil, err
	}
	ids := map[string]string{}
	for _, rt := range routes {
		op, err := operation(g, rt, errRef)
		if err != nil {
			return nil, fmt.Errorf("openapi: %s %s: %w", rt.Method, rt.Path, err)
		}
		if other, dup := ids[op.OperationID]; dup {
			return nil, fmt.Errorf("openapi: %s %s and %s have the same operation id %s", rt.Method, rt.Path, other, op.OperationID)
		}
		ids[op.OperationID] = rt.Method + " " + rt.Path
		item := d.Paths.Value(rt.Path)
		if item == nil {
			item = &openapi3.PathItem{}
			d.Paths.Set(rt.Path, item)
		}
		item.SetOperation(rt.Method, op)
	}
	return d, nil
}

// operation is one route's operation.
func operation(g *schemas, rt Route, errRef *openapi3.SchemaRef) (*openapi3.Operation, error) {
	op := openapi3.NewOperation()
	op.OperationID = operationID(rt.Method, rt.Path)
	op.Summary = rt.Doc
	op.Tags = []string{tag(rt.Path)}
	if rule := rt.Access.String(); rt.Access.Kind != Public {
		op.Description = "Who: " + rule + "."
	}
	switch rt.Access.Kind {
	case Public:
	case Person:
		op.Security = openapi3.NewSecurityRequirements().With(openapi3.NewSecurityRequirement().Authenticate("person"))
	case PartnerClient:
		op.Security = openapi3.NewSecurityRequirements().With(openapi3.NewSecurityRequirement().Authenticate("partner"))
	default:
		op.Security = openapi3.NewSecurityRequirements().With(openapi3.NewSecurityRequirement().Authenticate("operator"))
	}
	for _, name := range pathParams(rt.Path) {
		op.AddParameter(openapi3.NewPathParameter(name).WithSchema(openapi3.NewStringSchema()))
	}
	for _, p := range rt.Query {
		op.AddParameter(param(openapi3.NewQueryParameter(p.Name), p))
	}
	for _, p := range rt.Header {
		op.AddParameter(param(openapi3.NewHeaderParameter(p.Name), p))
	}
	if rt.In != nil {
		ref, err := g.ref(rt.In)
		if err != nil {
			return nil, err
		}
		op.RequestBody = &openapi3.RequestBodyRef{Value: openapi3.NewRequestBody().WithRequired(!rt.InOptional).WithJSONSchemaRef(ref)}
	}
	op.Responses = openapi3.NewResponses()
	for _, a := range rt.Out {
		desc := a.Doc
		if desc == "" {
			desc = http.StatusText(a.Status)
		}
		status := strconv.Itoa(a.Status)
		resp := openapi3.NewResponse().WithDescription(desc)
		if prev := op.Responses.Value(status); prev != nil {
			resp = prev.Value // another media type of the same answer
		}
		switch {
		case a.Media != "":
			if resp.Content == nil {
				resp.Content = openapi3.NewContent()
			}
			resp.Content[a.Media] = openapi3.NewMediaType().WithSchema(openapi3.NewStringSchema())
		case a.Body != nil:
			ref, err := g.ref(a.Body)
			if err != nil {
				return nil, err
			}
			if resp.Content == nil {
				resp.Content = openapi3.NewContent()
			}
			resp.Content["application/json"] = openapi3.NewMediaType().WithSchemaRef(ref)
		}
		op.Responses.Set(status, &openapi3.ResponseRef{Value: resp})
	}
	op.Responses.Set("default", &openapi3.ResponseRef{Value: openapi3.NewResponse().
		WithDescription("an error: what was wrong and what to do").WithJSONSchemaRef(errRef)})
	return op, nil
}

// param documents p in the parameter base.
func param(base *openapi3.Parameter, p Param) *openapi3.Parameter {
	s := openapi3.NewStringSchema()
	if p.Integer {
		s = openapi3.NewIntegerSchema()
	}
	return base.WithDescription(p.Doc).WithRequired(p.Required).WithSchema(s)
}

// pathParams are the {names} of a route's path, in order.
func pathParams(path string) []string {
	var out []string
	for _, seg := range strings.Split(path, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			out = append(out, strings.TrimSuffix(seg[1:], "}"))
		}
	}
	return out
}

// operationID names an operation after its method and path:
// POST /v1/operators/{id}/unlock is postOperatorsIdUnlock.
func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, seg := range strings.Split(strings.TrimPrefix(path, "/v1"), "/") {
		seg = strings.Trim(seg, "{}")
		for _, word := range strings.FieldsFunc(seg, func(r rune) bool { return r == '-' || r == '_' || r == '.' }) {
			b.WriteString(upperFirst(word))
		}
	}
	return b.String()
}

// tag groups a route with those of its first path segment after /v1.
func tag(path string) string {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if len(segs) > 1 && segs[0] == "v1" {
		return segs[1]
	}
	return segs[0]
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

// schemas makes the schemas of Go types, each named struct a component,
// as OpenAPI 3.1 (JSON Schema 2020-12) reads them: a struct's fields
// without omitempty are required, it admits no other properties (the API
// refuses unknown fields: decodeJSON), and a pointer field without
// omitempty may be null.
type schemas struct {
	gen        *openapi3gen.Generator
	components openapi3.Schemas
	names      map[string]reflect.Type
	err        error
}

func newSchemas() *schemas {
	s := &schemas{components: openapi3.Schemas{}, names: map[string]reflect.Type{}}
	s.gen = openapi3gen.NewGenerator(
		openapi3gen.CreateComponentSchemas(openapi3gen.ExportComponentSchemasOptions{ExportComponentSchemas: true, ExportTopLevelSchema: true}),
		openapi3gen.CreateTypeNameGenerator(s.typeName),
		openapi3gen.SchemaCustomizer(customize),
	)
	return s
}

// ref is the schema of v's type: a reference to its component for a named
// struct.
func (s *schemas) ref(v any) (*openapi3.SchemaRef, error) {
	ref, err := s.gen.NewSchemaRefForValue(v, s.components)
	if s.err != nil {
		return nil, s.err
	}
	return ref, err
}

// typeName is a named type's component name: its name, first letter
// upper-cased; two types of one name are an error.
func (s *schemas) typeName(t reflect.Type) string {
	name := upperFirst(t.Name())
	if other, ok := s.names[name]; ok && other != t && s.err == nil {
		s.err = fmt.Errorf("openapi: types %v and %v are both component %s: rename one", other, t, name)
	}
	s.names[name] = t
	return name
}

// customize makes openapi3gen's OpenAPI 3.0 schema one of OpenAPI 3.1.
func customize(_ string, t reflect.Type, tag reflect.StructTag, schema *openapi3.Schema) error {
	if schema.Nullable {
		schema.Nullable = false
		if !omitted(tag) && schema.Type != nil {
			*schema.Type = append(*schema.Type, openapi3.TypeNull)
		}
	}
	if t.Kind() == reflect.Struct && t != timeType && (schema.Type == nil || schema.Type.Is(openapi3.TypeObject)) {
		schema.Type = &openapi3.Types{openapi3.TypeObject} // an empty struct too: {}
		if schema.Properties == nil {
			schema.Properties = openapi3.Schemas{} // (openapi3gen exports a component only with properties)
		}
		schema.Required = requiredFields(t)
		no := false
		schema.AdditionalProperties = openapi3.AdditionalProperties{Has: &no}
	}
	return nil
}

var timeType = reflect.TypeFor[time.Time]()

// omitted reports whether a field's tag lets encoding/json leave it out.
func omitted(tag reflect.StructTag) bool {
	_, opts, _ := strings.Cut(tag.Get("json"), ",")
	return slices.ContainsFunc(strings.Split(opts, ","), func(o string) bool { return o == "omitempty" || o == "omitzero" })
}

// requiredFields are the JSON names of t's fields that encoding/json
// always writes (no omitempty), sorted, those of embedded structs
// included.
func requiredFields(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-":
		case f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct:
			out = append(out, requiredFields(f.Type)...)
		case !f.IsExported() || name == "" || omitted(f.Tag):
		default:
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}
