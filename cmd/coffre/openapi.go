package main

import (
	"context"
	"io"

	"github.com/coffre/coffre/internal/httpapi"
)

// runOpenAPI prints the API's OpenAPI document (docs/openapi.json; the
// server serves the same at GET /v1/openapi.json), or with --partner the
// partner listener's (docs/openapi-partner.json).
func runOpenAPI(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("openapi", "[--partner]", "coffre openapi > docs/openapi.json", stderr)
	partnerDoc := fs.Bool("partner", false, "the partner listener's document instead (docs/openapi-partner.json)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return &usageError{msg: "openapi takes no arguments", hint: "coffre openapi > docs/openapi.json"}
	}
	doc := httpapi.OpenAPI
	if *partnerDoc {
		doc = httpapi.PartnerOpenAPI
	}
	b, err := doc()
	if err != nil {
		return err
	}
	_, err = stdout.Write(b)
	return err
}
