// Package unseal splits a root key into M-of-N Shamir shares and puts it
// back together from them.
//
// [Split] cuts a key into N shares of which any M rebuild it, with
// HashiCorp Vault's shamir package (GF(256), one polynomial per byte; see
// docs/design.md "Root key shares"). Each share is a line of text that
// its holder keeps:
//
//	coffre-share-1:<set>:<base64url payload>
//
// where <set> names the share set (16 hex digits, random per split: two
// splits of one key are two sets) and the payload holds the share's
// index, M and N, a 128-bit check of the key, the Shamir part and a
// checksum over the whole line, so that [Parse] refuses a truncated or
// mistyped share before it reaches the accumulator.
//
// An [Accumulator] collects shares in memory, one per call, from
// different people. It refuses a share of another set, a repeated one or a
// malformed one; once M distinct shares are in it combines them, checks
// the result against the set's key check and hands the key back, or fails
// closed and forgets every share entered. Shares left idle past a timeout
// are dropped.
//
// Nothing here logs, and no error or String method carries key material.
// The check in every share is a hash of the key under a domain label and
// the set id: it lets the accumulator tell a wrong combination from the
// right one, not a caller tell a good key from a forged set of shares; a
// server also checks the key it gets against what it stored at init.
package unseal

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/hashicorp/vault/shamir"
)

// Bounds of a split.
const (
	MinThreshold = 2  // one share alone would be the key in disguise
	MaxShares    = 16 // enough holders for any administration; shares stay short
	MinKeySize   = 16
	MaxKeySize   = 64
)

const (
	prefix    = "coffre-share-1:"
	setLen    = 8  // bytes of a set id
	checkLen  = 16 // bytes of the key check in each share
	sumLen    = 4  // bytes of the checksum over a share's text
	headerLen = 3  // index, threshold, total
)

// maxTextLen bounds what Parse reads: the longest share of the longest
// key, with room for surrounding spaces.
const maxTextLen = 256

// Errors callers branch on with errors.Is. None of them says which part
// of a well-formed share was wrong.
var (
	// ErrMalformed is returned for text that is not a Coffre share: not
	// one, cut short, or mistyped (its checksum does not match).
	ErrMalformed = errors.New("not a Coffre share, or mistyped or cut short")
	// ErrOtherSet is returned by [Accumulator.Add] for a share of another
	// share set than the one being entered.
	ErrOtherSet = errors.New("share belongs to another share set")
	// ErrDuplicate is returned by [Accumulator.Add] for a share already
	// entered.
	ErrDuplicate = errors.New("share already entered")
	// ErrWrongShares is returned by [Accumulator.Add] when M shares are in
	// but do not combine to their set's key: at least one was not issued
	// with the others. Every share entered has been dropped.
	ErrWrongShares = errors.New("the shares entered do not rebuild the key; all were dropped, enter them again")
	// ErrBounds is returned by [Split] for a threshold or share count out
	// of bounds, or a key of the wrong size.
	ErrBounds = errors.New("share bounds")
)

// Share is one share of a key: which set it belongs to, its index among
// the N shares, the threshold M, and its Shamir part. Its String method
// names it without its part; [Share.Text] is the line its holder keeps.
type Share struct {
	set         [setLen]byte
	index, m, n int
	check       [checkLen]byte
	part        []byte    // Shamir part: len(key) bytes then the x coordinate
	_           [0]func() // not comparable: compare sets, not parts
}

// Set returns the id of the share's set, 16 hex digits.
func (s Share) Set() string { return hex.EncodeToString(s.set[:]) }

// Index returns the share's number, 1 to N.
func (s Share) Index() int { return s.index }

// Threshold returns M, the number of shares that rebuild the key.
func (s Share) Threshold() int { return s.m }

// Total returns N, the number of shares the key was split into.
func (s Share) Total() int { return s.n }

// String names the share ("share 2 of 5, 3 needed, set 9f…") without
// its part, so that printing or logging a Share leaks nothing.
func (s Share) String() string {
	return fmt.Sprintf("share %d of %d, %d needed, set %s", s.index, s.n, s.m, s.Set())
}

// GoString is String, for %#v.
func (s Share) GoString() string { return s.String() }

// LogValue is String, for log/slog.
func (s Share) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Text returns the share as its holder keeps it: one line of text that
// [Parse] reads back.
func (s Share) Text() string {
	p := make([]byte, 0, headerLen+checkLen+len(s.part)+sumLen)
	p = append(p, byte(s.index), byte(s.m), byte(s.n))
	p = append(p, s.check[:]...)
	p = append(p, s.part...)
	head := prefix + s.Set() + ":"
	p = append(p, checksum(head, p)...)
	return head + base64.RawURLEncoding.EncodeToString(p)
}

// checksum is the first sumLen bytes of SHA-256 over a share's head and
// payload: it catches typos and truncation, not forgeries.
func checksum(head string, payload []byte) []byte {
	h := sha256.New()
	h.Write([]byte(head))
	h.Write(payload)
	return h.Sum(nil)[:sumLen]
}

// keyCheck is the check a set's shares carry of its key.
func keyCheck(set [setLen]byte, key []byte) [checkLen]byte {
	h := sha256.New()
	h.Write([]byte("coffre share set key check v1\x00"))
	h.Write(set[:])
	h.Write(key)
	var c [checkLen]byte
	copy(c[:], h.Sum(nil))
	return c
}

// Split cuts key into n shares of which any m rebuild it, in a new share
// set. It needs MinThreshold ≤ m ≤ n ≤ MaxShares and a key of
// MinKeySize to MaxKeySize bytes.
func Split(key []byte, n, m int) ([]Share, error) {
	switch {
	case len(key) < MinKeySize || len(key) > MaxKeySize:
		return nil, fmt.Errorf("%w: a key of %d bytes, want %d to %d", ErrBounds, len(key), MinKeySize, MaxKeySize)
	case m < MinThreshold:
		return nil, fmt.Errorf("%w: a threshold of %d; at least %d, since one share alone would be the key itself", ErrBounds, m, MinThreshold)
	case n > MaxShares:
		return nil, fmt.Errorf("%w: %d shares; at most %d", ErrBounds, n, MaxShares)
	case m > n:
		return nil, fmt.Errorf("%w: a threshold of %d is more than the %d shares", ErrBounds, m, n)
	}
	var set [setLen]byte
	rand.Read(set[:])
	parts, err := shamir.Split(key, n, m)
	if err != nil {
		return nil, fmt.Errorf("split key: %w", err)
	}
	check := keyCheck(set, key)
	shares := make([]Share, n)
	for i, p := range parts {
		shares[i] = Share{set: set, index: i + 1, m: m, n: n, check: check, part: p}
	}
	return shares, nil
}

// Parse reads a share from its text, as [Share.Text] wrote it; spaces
// around it are ignored. Anything else is ErrMalformed.
func Parse(text string) (Share, error) {
	if len(text) > maxTextLen {
		return Share{}, ErrMalformed
	}
	text = strings.TrimSpace(text)
	rest, ok := strings.CutPrefix(text, prefix)
	if !ok {
		return Share{}, ErrMalformed
	}
	setHex, body, ok := strings.Cut(rest, ":")
	if !ok || len(setHex) != 2*setLen {
		return Share{}, ErrMalformed
	}
	var s Share
	if n, err := hex.Decode(s.set[:], []byte(setHex)); err != nil || n != setLen || hex.EncodeToString(s.set[:]) != setHex {
		return Share{}, ErrMalformed // only lower-case hex: one text per share
	}
	p, err := base64.RawURLEncoding.Strict().DecodeString(body)
	if err != nil || base64.RawURLEncoding.EncodeToString(p) != body {
		return Share{}, ErrMalformed // the decoder skips line breaks: one text per share
	}
	keyLen := len(p) - headerLen - checkLen - 1 - sumLen
	if keyLen < MinKeySize || keyLen > MaxKeySize {
		return Share{}, ErrMalformed
	}
	payload, sum := p[:len(p)-sumLen], p[len(p)-sumLen:]
	if subtle.ConstantTimeCompare(sum, checksum(prefix+setHex+":", payload)) != 1 {
		return Share{}, ErrMalformed
	}
	s.index, s.m, s.n = int(payload[0]), int(payload[1]), int(payload[2])
	if s.m < MinThreshold || s.m > s.n || s.n > MaxShares || s.index < 1 || s.index > s.n {
		return Share{}, ErrMalformed
	}
	copy(s.check[:], payload[headerLen:])
	s.part = bytes.Clone(payload[headerLen+checkLen:])
	if s.part[len(s.part)-1] == 0 {
		return Share{}, ErrMalformed // x = 0 would be the key itself
	}
	return s, nil
}
