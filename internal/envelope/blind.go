package envelope

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"maps"
	"slices"
	"sync"
)

// blindGen is one blind-index generation: its key and a pool of HMAC
// states under it, each with a scratch buffer.
type blindGen struct {
	gen   uint32
	key   []byte
	hmacs sync.Pool // of *blindHMAC
}

// blindHMAC is a pooled HMAC state and the buffer its input and sum are
// built in (one allocation a hash: the result).
type blindHMAC struct {
	h   hash.Hash
	buf []byte
}

func newBlindGen(gen uint32, key []byte) *blindGen {
	g := &blindGen{gen: gen, key: key}
	g.hmacs.New = func() any { return &blindHMAC{h: hmac.New(sha256.New, g.key)} }
	return g
}

// sum is HMAC-SHA-256(key, field ‖ 0 ‖ normalised), BlindIndexLen bytes
// kept.
func (g *blindGen) sum(field, normalised string) []byte {
	s := g.hmacs.Get().(*blindHMAC)
	s.h.Reset()
	s.buf = append(append(append(s.buf[:0], field...), 0), normalised...)
	s.h.Write(s.buf)
	s.buf = s.h.Sum(s.buf[:0])
	out := append([]byte(nil), s.buf[:BlindIndexLen]...)
	clear(s.buf[:cap(s.buf)]) // the value's bytes do not outlive the call
	if cap(s.buf) > 1024 {
		s.buf = nil // a long value's buffer is not kept
	}
	g.hmacs.Put(s)
	return out
}

func (g *blindGen) wipe() {
	if g != nil {
		clear(g.key)
		g.hmacs = sync.Pool{}
	}
}

// Blind is a snapshot of a keyring's blind-index generations: the active
// one, which lookups use, and at most one other that writes keep up as
// well (the generation being built, or the one just replaced, which
// nodes that have not switched yet still look up). A snapshot never
// changes; take one per write, so that all its hashes agree.
type Blind struct {
	gens   map[uint32]*blindGen // every generation loaded
	active uint32
	also   uint32 // 0: none
	// act and alsoGen are gens[active] and gens[also], so that a lookup
	// hashes without a map access.
	act, alsoGen *blindGen
}

func newBlind(gens map[uint32]*blindGen, active, also uint32) *Blind {
	return &Blind{gens: gens, active: active, also: also, act: gens[active], alsoGen: gens[also]}
}

// Active returns the generation lookups use.
func (b *Blind) Active() uint32 { return b.active }

// Also returns the other generation writes keep up, 0 when none.
func (b *Blind) Also() uint32 { return b.also }

// Same reports whether b and c write the same generations.
func (b *Blind) Same(c *Blind) bool { return b.active == c.active && b.also == c.also }

// Index returns the keyed hash of a field's normalised value under the
// active generation: what a lookup looks for. The field name is part of
// the input, so equal values in two fields do not share an entry.
func (b *Blind) Index(field, normalised string) []byte {
	return b.act.sum(field, normalised)
}

// Hashes returns the value's hash under the active generation and, when
// writes keep up another generation, under that one (nil otherwise).
func (b *Blind) Hashes(field, normalised string) (active, also []byte) {
	active = b.act.sum(field, normalised)
	if b.alsoGen != nil {
		also = b.alsoGen.sum(field, normalised)
	}
	return active, also
}

// Hash returns the value's hash under generation gen, which must be
// loaded.
func (b *Blind) Hash(gen uint32, field, normalised string) ([]byte, error) {
	g, ok := b.gens[gen]
	if !ok {
		return nil, fmt.Errorf("blind index generation %d is not loaded", gen)
	}
	return g.sum(field, normalised), nil
}

// Blind returns the keyring's blind-index generations as they are now.
func (k *Keyring) Blind() *Blind { return k.blind.Load() }

// BlindIndex returns the keyed hash of a field's normalised value under
// the active generation (Blind().Index): a lookup's.
func (k *Keyring) BlindIndex(field, normalised string) []byte {
	return k.blind.Load().Index(field, normalised)
}

// StableHash is a keyed hash under generation 1's blind-index key, which
// a rebuild of the index does not change: for pseudonyms that must stay
// the same for good (a login attempt's username, written in the audit
// log), never for the lookup index.
func (k *Keyring) StableHash(label, value string) []byte {
	return k.stable.sum(label, value)
}

// BlindGens returns the generations the keyring holds, oldest first.
func (k *Keyring) BlindGens() []uint32 {
	return slices.Sorted(maps.Keys(k.blind.Load().gens))
}

// AddBlindGen loads generation gen's 32-byte key; it is used once
// SetBlind names it. Loading a generation already there is no error when
// the key is the same.
func (k *Keyring) AddBlindGen(gen uint32, key []byte) error {
	switch {
	case gen < 2:
		return fmt.Errorf("keyring: blind index generation %d is not loadable", gen)
	case len(key) != 32:
		return fmt.Errorf("keyring: blind index generation %d key is %d bytes, want 32", gen, len(key))
	}
	for {
		old := k.blind.Load()
		if g, ok := old.gens[gen]; ok {
			if !hmac.Equal(g.key, key) {
				return fmt.Errorf("keyring: blind index generation %d is there already with another key", gen)
			}
			return nil
		}
		gens := maps.Clone(old.gens)
		gens[gen] = newBlindGen(gen, slices.Clone(key))
		if k.blind.CompareAndSwap(old, newBlind(gens, old.active, old.also)) {
			return nil
		}
	}
}

// SetBlind makes lookups use generation active and writes keep up also
// as well (0: none). Both must be loaded.
func (k *Keyring) SetBlind(active, also uint32) error {
	if also == active {
		also = 0
	}
	for {
		old := k.blind.Load()
		for _, g := range []uint32{active, also} {
			if _, ok := old.gens[g]; g != 0 && !ok {
				return fmt.Errorf("keyring: blind index generation %d is not loaded", g)
			}
		}
		if active == 0 {
			return errors.New("keyring: no active blind index generation")
		}
		if k.blind.CompareAndSwap(old, newBlind(old.gens, active, also)) {
			return nil
		}
	}
}

// DropBlindGen forgets a retired generation's key; the active generation
// and the one writes keep up cannot be dropped.
func (k *Keyring) DropBlindGen(gen uint32) error {
	for {
		old := k.blind.Load()
		if gen == old.active || gen == old.also {
			return fmt.Errorf("keyring: blind index generation %d is in use and cannot be dropped", gen)
		}
		if _, ok := old.gens[gen]; !ok {
			return nil
		}
		gens := maps.Clone(old.gens)
		delete(gens, gen)
		next := newBlind(gens, old.active, old.also)
		// The key is not zeroed: a snapshot taken before may still hash
		// under it (a write that began before the drop); it goes with
		// the last snapshot.
		if k.blind.CompareAndSwap(old, next) {
			return nil
		}
	}
}
