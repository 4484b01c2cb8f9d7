package main

import (
	"context"
	"io"

	"github.com/coffre/coffre/internal/httpapi"
)

// runOpenAPI prints the API's OpenAPI document (docs/openapi.json; the
// server serves the same at GET /v1/openapi.json).
func runOpenAPI(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("openapi", "", "coffre openapi > docs/openapi.json", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return &usageError{msg: "openapi takes no arguments", hint: "coffre openapi > docs/openapi.json"}
	}
	b, err := httpapi.OpenAPI()
	if err != nil {
		return err
	}
	_, err = stdout.Write(b)
	return err
}
