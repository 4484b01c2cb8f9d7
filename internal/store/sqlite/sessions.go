package sqlite

import (
	"bytes"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffre/coffre/internal/identity"
)

// sessionCache keeps the sessions the read pool looked up, with their
// operator's role, unit and state, so that the check every request makes
// (GetSession) costs a map lookup instead of a query while nothing about
// sessions or operators changed.
//
// Any commit of this process that wrote the sessions or operators tables
// (a login, a session's touch, a step-up, a logout, an account locked,
// disabled or changed) moves the generation on, which drops every cached
// entry at once: such a revocation is seen by the next request exactly as
// without the cache. Entries are filled with the generation loaded before
// their query, so an entry read while a change was committing is stale at
// once. A commit by another process on the same file (`coffre operator
// disable` beside a server) is seen by the writer only at its next group,
// so an entry is also trusted for sessionCacheFor at most: such a change
// reaches every request within that time. The writer's own lookups never
// use the cache.
type sessionCache struct {
	gen atomic.Uint64
	mu  sync.RWMutex
	m   map[string]cachedSession
}

type cachedSession struct {
	gen  uint64
	read time.Time // monotonic: when it was read
	s    identity.Session
}

const (
	// sessionCacheMax bounds the cache; past it, it starts again empty.
	sessionCacheMax = 10_000
	// sessionCacheFor is how long an entry is trusted at most: how late
	// a change made by another process can be seen.
	sessionCacheFor = 100 * time.Millisecond
)

// get returns a copy of hash's session if it is cached under generation
// gen and fresh enough.
func (c *sessionCache) get(hash []byte, gen uint64) (*identity.Session, bool) {
	c.mu.RLock()
	e, ok := c.m[string(hash)]
	c.mu.RUnlock()
	if !ok || e.gen != gen || time.Since(e.read) > sessionCacheFor {
		return nil, false
	}
	s := e.s
	s.Hash, s.Challenge = hash, bytes.Clone(s.Challenge) // the caller's own
	return &s, true
}

// put caches s, read under generation gen from read on.
func (c *sessionCache) put(s *identity.Session, gen uint64, read time.Time) {
	e := cachedSession{gen: gen, read: read, s: *s}
	e.s.Hash, e.s.Challenge = bytes.Clone(s.Hash), bytes.Clone(s.Challenge)
	c.mu.Lock()
	if c.m == nil || len(c.m) >= sessionCacheMax {
		c.m = make(map[string]cachedSession)
	}
	c.m[string(s.Hash)] = e
	c.mu.Unlock()
}

// changed moves the generation on: the cache is stale.
func (c *sessionCache) changed() { c.gen.Add(1) }

// identityWrites are the statements that write the tables a cached
// session is read from; the writer moves the cache's generation on after
// a group that ran any of them.
var identityWrites = func() map[string]bool {
	w := regexp.MustCompile(`(?i)\b(INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM|REPLACE\s+INTO)\s+(sessions|operators)\b`)
	out := map[string]bool{}
	for name, q := range queries {
		if w.MatchString(q) {
			out[name] = true
		}
	}
	return out
}()
