package main

import (
	"os"
	"runtime/debug"
)

// serverGCPercent is the collector's target of a serving process (coffre
// serve, coffre demo) unless its environment sets GOGC: the heap may grow
// to 5× what is live before a collection, rather than Go's default 2×. A
// read allocates some 20 KB that dies with it, and what stays live is
// small beside the SQLite page caches, so collecting less often cuts the
// collector's share of a read's CPU for a few megabytes: measured, 12%
// more audited reads/s and 13% less CPU a read, peak RSS 194 → 207 MB
// (docs/benchmarks.md, "Issue 18, session 15").
const serverGCPercent = 400

// tuneGC sets serverGCPercent unless GOGC is set (GOGC=100 restores Go's
// default; GOMEMLIMIT bounds the heap either way). It returns the
// percentage in force.
func tuneGC() int {
	if v, ok := os.LookupEnv("GOGC"); ok && v != "" {
		p := debug.SetGCPercent(100)
		debug.SetGCPercent(p)
		return p
	}
	debug.SetGCPercent(serverGCPercent)
	return serverGCPercent
}
