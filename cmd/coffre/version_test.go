package main

import (
	"runtime/debug"
	"testing"
)

// TestBuildVersion reads a stamped build (go build in a git checkout) and
// an unstamped one (go test, go run, -buildvcs=false): the transcript
// version.txtar can only see the second.
func TestBuildVersion(t *testing.T) {
	stamped := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/coffre/coffre", Version: "v0.3.1-0.20261129200000-0b1b15f1a2b3+dirty"},
		Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "0b1b15f1a2b3c4d5e6f708192a3b4c5d6e7f8091"},
			{Key: "vcs.time", Value: "2026-11-29T20:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	v := buildVersion(stamped)
	if v.Version != stamped.Main.Version || v.Commit != "0b1b15f1a2b3c4d5e6f708192a3b4c5d6e7f8091" || v.Date != "2026-11-29T20:00:00Z" || v.Modified == nil || !*v.Modified || v.Go != "go1.26.8" {
		t.Errorf("buildVersion(stamped) got %+v", v)
	}
	for name, bi := range map[string]*debug.BuildInfo{"nil": nil, "unstamped": {GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/coffre/coffre"}}} {
		v := buildVersion(bi)
		if v.Version != "unknown" || v.Commit != "unknown" || v.Date != "unknown" || v.Modified != nil || v.Go == "" {
			t.Errorf("buildVersion(%s) got %+v, want unknown version, commit, date and modified", name, v)
		}
	}
}
