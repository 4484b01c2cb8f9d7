package coffre_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestPackageDocs checks that every package has exactly one file with a
// "Package x" (or "Command x") doc comment.
func TestPackageDocs(t *testing.T) {
	dirs := map[string][]string{}
	filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != "." || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			dirs[filepath.Dir(path)] = append(dirs[filepath.Dir(path)], path)
		}
		return nil
	})
	for dir, files := range dirs {
		n := 0
		for _, f := range files {
			af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			if af.Doc != nil {
				text := af.Doc.Text()
				if !strings.HasPrefix(text, "Package "+af.Name.Name) && !strings.HasPrefix(text, "Command ") {
					t.Errorf("%s: doc comment does not start with \"Package %s\"", f, af.Name.Name)
				}
				n++
			}
		}
		if n != 1 {
			t.Errorf("package in %s has %d files with a package doc comment, want 1", dir, n)
		}
	}
}
