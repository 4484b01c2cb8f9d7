package openapitest

import (
	"bytes"
	"fmt"
	"mime"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/coffre/coffre/internal/httpapi"
)

// bodies checks request and answer bodies against the schemas of one
// document, each compiled once from the document's own JSON (a JSON
// Schema 2020-12 dialect in OpenAPI 3.1), its references resolved within
// it. kin-openapi compiles an OpenAPI 3.1 schema again at every
// validation: that was 18% of httpapi's test CPU, and its garbage more.
type bodies struct {
	doc map[string]any
	c   *jsonschema.Compiler

	mu      sync.Mutex
	schemas map[string]*jsonschema.Schema // by location in the document
}

// docURL names the document as a schema resource.
const docURL = "openapi.json"

// Loaded once each, as Load and LoadPartner.
var (
	apiBodies     = sync.OnceValues(func() (*bodies, error) { return newBodies(httpapi.OpenAPI) })
	partnerBodies = sync.OnceValues(func() (*bodies, error) { return newBodies(httpapi.PartnerOpenAPI) })
)

func newBodies(document func() ([]byte, error)) (*bodies, error) {
	b, err := document()
	if err != nil {
		return nil, err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("the document's JSON: %w", err)
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the document is not a JSON object")
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(docURL, doc); err != nil {
		return nil, err
	}
	return &bodies{doc: doc, c: c, schemas: map[string]*jsonschema.Schema{}}, nil
}

// request checks a request's body against the operation's requestBody:
// required or not, its media type, its schema.
func (b *bodies) request(path, method, contentType string, body []byte) error {
	loc := "/paths/" + escape(path) + "/" + strings.ToLower(method) + "/requestBody"
	rb, loc := b.resolve(loc)
	if rb == nil {
		return nil
	}
	if len(body) == 0 {
		if required, _ := rb["required"].(bool); required {
			return fmt.Errorf("request body has an error: value is required but missing")
		}
		return nil
	}
	return b.content(rb, loc, contentType, body)
}

// answer checks an answer's body against the operation's response for
// status (its own, its class's, or the default).
func (b *bodies) answer(path, method string, status int, contentType string, body []byte) error {
	loc := "/paths/" + escape(path) + "/" + strings.ToLower(method) + "/responses/"
	var r map[string]any
	for _, code := range []string{strconv.Itoa(status), fmt.Sprintf("%dXX", status/100), "default"} {
		if r, loc = b.resolve(loc + code); r != nil {
			break
		}
		loc = loc[:strings.LastIndexByte(loc, '/')+1]
	}
	if r == nil {
		return fmt.Errorf("status is not supported")
	}
	return b.content(r, loc, contentType, body)
}

// content checks body against the media type of obj's content (a
// requestBody or a response at loc) that contentType names.
func (b *bodies) content(obj map[string]any, loc, contentType string, body []byte) error {
	content, _ := obj["content"].(map[string]any)
	if len(content) == 0 {
		return nil
	}
	mt, key, media := mediaType(content, contentType)
	if media == nil {
		return fmt.Errorf("Content-Type %q does not match any content types", contentType)
	}
	if _, ok := media["schema"]; !ok {
		return nil
	}
	if mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		return nil // the API answers JSON only; kin-openapi decodes nothing else either
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("body is not JSON: %w", err)
	}
	s, err := b.schema(loc + "/content/" + escape(key) + "/schema")
	if err != nil {
		return err
	}
	return s.Validate(v)
}

// mediaType finds the entry of content for contentType as kin-openapi
// does: the header as sent, then its media type without parameters, then
// an entry of the same media type with other parameters, type/*, */*. It
// returns the media type, the entry's key and the entry.
func mediaType(content map[string]any, contentType string) (string, string, map[string]any) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = contentType
	}
	keys := []string{contentType, mt}
	for k := range content {
		if kt, _, err := mime.ParseMediaType(k); err == nil && kt == mt {
			keys = append(keys, k)
		}
	}
	if i := strings.IndexByte(mt, '/'); i > 0 {
		keys = append(keys, mt[:i]+"/*")
	}
	for _, k := range append(keys, "*/*") {
		if m, ok := content[k].(map[string]any); ok {
			return mt, k, m
		}
	}
	return mt, "", nil
}

// schema compiles the schema at loc once.
func (b *bodies) schema(loc string) (*jsonschema.Schema, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s, ok := b.schemas[loc]; ok {
		return s, nil
	}
	s, err := b.c.Compile(docURL + "#" + loc)
	if err != nil {
		return nil, fmt.Errorf("compile %s: %w", loc, err)
	}
	b.schemas[loc] = s
	return s, nil
}

// resolve returns the object at the JSON pointer loc and its location,
// following a $ref it is (a response or a requestBody among the
// components); nil when there is none.
func (b *bodies) resolve(loc string) (map[string]any, string) {
	for range 8 { // a chain of references longer than this is no document of ours
		var node any = b.doc
		for _, tok := range strings.Split(loc, "/")[1:] {
			m, ok := node.(map[string]any)
			if !ok {
				return nil, loc
			}
			node = m[unescape(tok)]
		}
		m, ok := node.(map[string]any)
		if !ok {
			return nil, loc
		}
		ref, isRef := m["$ref"].(string)
		if !isRef {
			return m, loc
		}
		loc = strings.TrimPrefix(ref, "#")
	}
	return nil, loc
}

// escape and unescape a JSON pointer's token (RFC 6901).
func escape(s string) string   { return strings.NewReplacer("~", "~0", "/", "~1").Replace(s) }
func unescape(s string) string { return strings.NewReplacer("~1", "/", "~0", "~").Replace(s) }
