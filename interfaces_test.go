package coffre_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// maxMethods bounds the methods an interface declares of its own (those it
// embeds aside): a consumer declares the few it uses, and a new capability
// adds a small interface instead of widening one (docs/design.md, "Package
// map").
const maxMethods = 10

// TestInterfacesAreNarrow fails on an interface that declares more than
// maxMethods methods of its own.
func TestInterfacesAreNarrow(t *testing.T) {
	fset := token.NewFileSet()
	seen := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != "." || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			it, ok := ts.Type.(*ast.InterfaceType)
			if !ok {
				return true
			}
			seen++
			own := 0
			for _, m := range it.Methods.List {
				if _, ok := m.Type.(*ast.FuncType); ok {
					own += len(m.Names)
				}
			}
			if own > maxMethods {
				t.Errorf("%s: interface %s declares %d methods of its own, want at most %d: split it by consumer", fset.Position(ts.Pos()), ts.Name.Name, own, maxMethods)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < 10 {
		t.Fatalf("found %d interfaces; the walk is broken", seen)
	}
}
