// Package sessioncache keeps the sessions a store's readers looked up,
// with their operator's role, unit and state, so that the check every
// request makes (GetSession) costs a map lookup instead of a query while
// nothing about sessions or operators changed.
//
// A store moves the generation on (Changed) after any commit of its own
// that wrote the sessions or operators tables (a login, a session's
// touch, a step-up, a logout, an account locked, disabled or changed;
// Writes tells such statements), before it answers the commit's callers:
// every cached entry is then dropped at once, and such a revocation is
// seen by the next request exactly as without the cache. Entries are
// filled with the generation loaded before their query (Gen), so an entry
// read while a change was committing is stale at once. A commit by
// another process (another server on the same database, `coffre operator
// disable` beside a server) is not seen by this one: an entry is trusted
// for For at most, so such a change reaches every request within that
// time. A store's writer never reads through the cache.
package sessioncache

import (
	"bytes"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffre/coffre/internal/identity"
)

const (
	// max bounds the cache; past it, it starts again empty.
	max = 10_000
	// For is how long an entry is trusted at most: how late a change
	// made by another process can be seen.
	For = 100 * time.Millisecond
)

// Cache is a store's cache of sessions; the zero value is empty.
type Cache struct {
	gen atomic.Uint64
	mu  sync.RWMutex
	m   map[string]entry
}

type entry struct {
	gen  uint64
	read time.Time // monotonic: when it was read
	s    identity.Session
}

// Gen is the generation to read a session under: load it before the
// query whose result Put caches.
func (c *Cache) Gen() uint64 { return c.gen.Load() }

// Get returns a copy of hash's session if it is cached under generation
// gen and fresh enough.
func (c *Cache) Get(hash []byte, gen uint64) (*identity.Session, bool) {
	c.mu.RLock()
	e, ok := c.m[string(hash)]
	c.mu.RUnlock()
	if !ok || e.gen != gen || time.Since(e.read) > For {
		return nil, false
	}
	s := e.s
	s.Hash, s.Challenge = hash, bytes.Clone(s.Challenge) // the caller's own
	return &s, true
}

// Put caches s, read under generation gen from read on.
func (c *Cache) Put(s *identity.Session, gen uint64, read time.Time) {
	e := entry{gen: gen, read: read, s: *s}
	e.s.Hash, e.s.Challenge = bytes.Clone(s.Hash), bytes.Clone(s.Challenge)
	c.mu.Lock()
	if c.m == nil || len(c.m) >= max {
		c.m = make(map[string]entry)
	}
	c.m[string(s.Hash)] = e
	c.mu.Unlock()
}

// Changed moves the generation on: every entry is stale.
func (c *Cache) Changed() { c.gen.Add(1) }

// writes matches a statement that writes the tables a cached session is
// read from.
var writes = regexp.MustCompile(`(?i)\b(INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM|REPLACE\s+INTO)\s+(sessions|operators)\b`)

// Writes reports whether the SQL statement sql writes the sessions or
// operators tables, after which the store must call Changed.
func Writes(sql string) bool { return writes.MatchString(sql) }
