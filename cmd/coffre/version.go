package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// versionInfo is what `coffre version` prints, from the build information
// the Go toolchain embeds. Fields the build lacks read "unknown" and
// Modified is then nil: go run and go test stamp no VCS information, nor
// does a build with -buildvcs=false or one in a git worktree (whose .git
// is a file, and the go command looks for a .git directory).
type versionInfo struct {
	Version  string `json:"version"`  // module version: a tag, a pseudo-version or "(devel)"
	Commit   string `json:"commit"`   // vcs.revision
	Date     string `json:"date"`     // vcs.time: the commit's date, RFC 3339
	Modified *bool  `json:"modified"` // vcs.modified: the work tree had uncommitted changes
	Go       string `json:"go"`       // the Go toolchain's version
	Platform string `json:"platform"` // GOOS/GOARCH
}

const unknown = "unknown"

// buildVersion reads bi (nil when the binary carries no build information).
func buildVersion(bi *debug.BuildInfo) versionInfo {
	v := versionInfo{Version: unknown, Commit: unknown, Date: unknown, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi == nil {
		return v
	}
	if bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	if bi.GoVersion != "" {
		v.Go = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.time":
			v.Date = s.Value
		case "vcs.modified":
			m := s.Value == "true"
			v.Modified = &m
		}
	}
	return v
}

func runVersion(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("version", "[--json]", "coffre version --json", stderr)
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return &usageError{msg: "version takes no arguments", hint: "coffre version --json"}
	}
	bi, _ := debug.ReadBuildInfo()
	v := buildVersion(bi)
	if *asJSON {
		return writeJSON(stdout, v)
	}
	modified := unknown
	if v.Modified != nil {
		modified = map[bool]string{true: "yes (uncommitted changes)", false: "no"}[*v.Modified]
	}
	fmt.Fprintf(stdout, "coffre %s\ncommit:   %s\ndate:     %s\nmodified: %s\ngo:       %s %s\n", v.Version, v.Commit, v.Date, modified, v.Go, v.Platform)
	return nil
}
