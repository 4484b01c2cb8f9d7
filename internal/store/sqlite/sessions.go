package sqlite

import "github.com/coffre/coffre/internal/store/sessioncache"

// identityWrites are the statements that write the tables a cached
// session is read from (package sessioncache); the writer moves the
// cache's generation on after a group that ran any of them. A commit by
// another process on the same file is seen by the writer only at its
// next group (the data version), so an entry is also trusted for
// sessioncache.For at most.
var identityWrites = func() map[string]bool {
	out := map[string]bool{}
	for name, q := range queries {
		if sessioncache.Writes(q) {
			out[name] = true
		}
	}
	return out
}()
