package me

import (
	"encoding/hex"
	"net/netip"
)

// The per-address limit on code requests is counted in the store
// (identity.Throttles), shared by every node: N nodes must not give a
// flood from one address N times the answers.

// originCounter is the stored key of an address's code requests: a keyed
// hash, never the address.
func (s *Service) originCounter(origin string) string {
	return "code:" + hex.EncodeToString(s.Keys.StableHash("me.origin", originKey(origin))[:8])
}

// originKey is the key an address is counted under: the address, or for
// IPv6 its /64, which one subscriber usually holds whole.
func originKey(origin string) string {
	a, err := netip.ParseAddr(origin)
	if err != nil {
		return origin
	}
	if a.Is6() && !a.Is4In6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.Unmap().String()
}
