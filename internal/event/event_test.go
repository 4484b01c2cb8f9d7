package event_test

import (
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffre/coffre/internal/event"
)

var update = flag.Bool("update", false, "write docs/events.md afresh")

// TestCatalogueDoc: docs/events.md is the catalogue.
func TestCatalogueDoc(t *testing.T) {
	const path = "../../docs/events.md"
	if *update {
		if err := os.WriteFile(path, []byte(event.Markdown()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != event.Markdown() {
		t.Error("docs/events.md is out of date: go test ./internal/event -update")
	}
}

// TestEveryEventUsed: each event of the catalogue is logged somewhere
// (event.X in a log call of the code), and every "event" attribute of the
// code names a catalogued event, not a string of its own.
func TestEveryEventUsed(t *testing.T) {
	used := map[string]bool{}
	fset := token.NewFileSet()
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != "../.." || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || strings.Contains(path, "internal/event/") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			for i, arg := range call.Args {
				lit, ok := arg.(*ast.BasicLit)
				if !ok || lit.Value != `"event"` || i+1 >= len(call.Args) {
					continue
				}
				sel, ok := call.Args[i+1].(*ast.SelectorExpr)
				if x, isIdent := sel.X.(*ast.Ident); !ok || !isIdent || x.Name != "event" {
					t.Errorf("%s: an \"event\" attribute that is not an event.X constant", fset.Position(arg.Pos()))
					continue
				}
				used[sel.Sel.Name] = true
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{
		"GuardLock": event.GuardLock, "AuditIntegratorFailed": event.AuditIntegratorFailed, "AuditLagging": event.AuditLagging,
		"AuditWitnessFailed": event.AuditWitnessFailed, "AuditStreamFailing": event.AuditStreamFailing, "AuditStreamRecovered": event.AuditStreamRecovered,
		"Seal": event.Seal, "SealFlagMoved": event.SealFlagMoved, "SealedStart": event.SealedStart, "UnsealFailed": event.UnsealFailed,
		"HSMUnsealFailed": event.HSMUnsealFailed, "StorePanic": event.StorePanic, "RequestFailed": event.RequestFailed, "NotReady": event.NotReady,
		"DeliveryFailed": event.DeliveryFailed, "DeliveryNotRecorded": event.DeliveryNotRecorded, "TracingExportFailed": event.TracingExportFailed,
	}
	if len(names) != len(event.Catalogue) {
		t.Fatalf("this test knows %d events, the catalogue %d: add the new one here", len(names), len(event.Catalogue))
	}
	for _, e := range event.Catalogue {
		found := false
		for name, code := range names {
			if code == e.Code {
				found = true
				if !used[name] {
					t.Errorf("event %s (event.%s) is logged nowhere", e.Code, name)
				}
			}
		}
		if !found {
			t.Errorf("event %s is not among this test's names", e.Code)
		}
	}
}
