package unseal

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

func newKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, 32)
	rand.Read(k)
	return k
}

// subsets calls f with every subset of {0..n-1} of size k.
func subsets(n, k int, f func([]int)) {
	var rec func(start int, cur []int)
	rec = func(start int, cur []int) {
		if len(cur) == k {
			f(append([]int(nil), cur...))
			return
		}
		for i := start; i < n; i++ {
			rec(i+1, append(cur, i))
		}
	}
	rec(0, nil)
}

// roundTrip passes a share through its text, as a holder would.
func roundTrip(t *testing.T, s Share) Share {
	t.Helper()
	p, err := Parse(s.Text())
	if err != nil {
		t.Fatalf("Parse(%s.Text()) got %v", s, err)
	}
	return p
}

func TestEveryMOfNRebuildsTheKey(t *testing.T) {
	for _, tc := range []struct{ n, m int }{{2, 2}, {3, 2}, {3, 3}, {5, 3}, {6, 4}, {16, 16}} {
		t.Run(fmt.Sprintf("%d_of_%d", tc.m, tc.n), func(t *testing.T) {
			key := newKey(t)
			shares, err := Split(key, tc.n, tc.m)
			if err != nil {
				t.Fatal(err)
			}
			if len(shares) != tc.n {
				t.Fatalf("Split got %d shares, want %d", len(shares), tc.n)
			}
			count := 0
			subsets(tc.n, tc.m, func(idx []int) {
				count++
				if count > 200 {
					return
				}
				a := NewAccumulator(Options{})
				for j, i := range idx {
					got, p, err := a.Add(roundTrip(t, shares[i]))
					if err != nil {
						t.Fatalf("subset %v: Add share %d got %v", idx, i+1, err)
					}
					if j < tc.m-1 {
						if got != nil || p != (Progress{Have: j + 1, Need: tc.m}) {
							t.Fatalf("subset %v: after %d shares got key=%v progress %+v", idx, j+1, got != nil, p)
						}
						continue
					}
					if !bytes.Equal(got, key) {
						t.Fatalf("subset %v: combined key differs from the key split", idx)
					}
				}
				if p := a.Progress(); p != (Progress{}) {
					t.Fatalf("after the key, Progress got %+v, want empty", p)
				}
			})
		})
	}
}

func TestMMinusOneDoNotRebuild(t *testing.T) {
	key := newKey(t)
	shares, err := Split(key, 5, 3)
	if err != nil {
		t.Fatal(err)
	}
	subsets(5, 2, func(idx []int) {
		a := NewAccumulator(Options{})
		for _, i := range idx {
			got, _, err := a.Add(shares[i])
			if err != nil || got != nil {
				t.Fatalf("subset %v: got key=%v err=%v, want no key yet", idx, got != nil, err)
			}
		}
		if p := a.Progress(); p != (Progress{Have: 2, Need: 3}) {
			t.Fatalf("subset %v: Progress got %+v, want 2 of 3", idx, p)
		}
	})
}

func TestSplitBounds(t *testing.T) {
	key := newKey(t)
	for _, tc := range []struct {
		name string
		key  []byte
		n, m int
	}{
		{"1 of 1", key, 1, 1},
		{"1 of 3", key, 3, 1},
		{"threshold above shares", key, 3, 4},
		{"17 shares", key, 17, 2},
		{"0 of 0", key, 0, 0},
		{"short key", key[:15], 3, 2},
		{"long key", make([]byte, 65), 3, 2},
	} {
		if _, err := Split(tc.key, tc.n, tc.m); !errors.Is(err, ErrBounds) {
			t.Errorf("Split(%s) got %v, want ErrBounds", tc.name, err)
		}
	}
}

func TestBadShares(t *testing.T) {
	key := newKey(t)
	shares, err := Split(key, 5, 3)
	if err != nil {
		t.Fatal(err)
	}
	other, err := Split(key, 5, 3) // the same key split again: another set
	if err != nil {
		t.Fatal(err)
	}
	text := shares[1].Text()
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	for _, tc := range []struct {
		name, text string
	}{
		{"empty", ""},
		{"truncated", text[:len(text)-1]},
		{"cut in half", text[:len(text)/2]},
		{"flipped character at the end", flip(text, len(text)-3)},
		{"flipped character in the middle", flip(text, len(text)-40)},
		{"flipped character in the set", strings.Replace(text, shares[1].Set(), flip(shares[1].Set(), 3), 1)},
		{"upper-case set", strings.Replace(text, shares[1].Set(), strings.ToUpper(shares[1].Set()), 1)},
		{"wrong prefix", strings.Replace(text, "coffre-share-1:", "coffre-share-2:", 1)},
		{"padding", text + "="},
		{"two shares", text + shares[2].Text()},
		{"huge", strings.Repeat("A", 10000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse(tc.text); !errors.Is(err, ErrMalformed) {
				t.Errorf("Parse(%s) got %v, want ErrMalformed", tc.name, err)
			}
		})
	}
	if _, err := Parse("  " + text + "\n"); err != nil {
		t.Errorf("Parse with surrounding spaces got %v", err)
	}

	a := NewAccumulator(Options{})
	if _, _, err := a.Add(Share{}); !errors.Is(err, ErrMalformed) {
		t.Errorf("Add(zero Share) got %v, want ErrMalformed", err)
	}
	if _, _, err := a.Add(shares[0]); err != nil {
		t.Fatal(err)
	}
	if _, p, err := a.Add(roundTrip(t, shares[0])); !errors.Is(err, ErrDuplicate) || p != (Progress{1, 3}) {
		t.Errorf("Add(repeated share) got %+v, %v, want 1 of 3, ErrDuplicate", p, err)
	}
	if _, p, err := a.Add(other[1]); !errors.Is(err, ErrOtherSet) || p != (Progress{1, 3}) {
		t.Errorf("Add(share of another set) got %+v, %v, want 1 of 3, ErrOtherSet", p, err)
	}
	if _, p, err := a.Add(shares[1]); err != nil || p != (Progress{2, 3}) {
		t.Errorf("Add(second share) got %+v, %v, want 2 of 3", p, err)
	}

	// A share bound to a set refuses any other from the first.
	b := NewAccumulator(Options{Set: shares[0].Set()})
	if _, _, err := b.Add(other[0]); !errors.Is(err, ErrOtherSet) {
		t.Errorf("Add(share of another set than Options.Set) got %v, want ErrOtherSet", err)
	}
}

// TestWrongCombinationFailsClosed forges a share that passes every check
// but its part: the combination must fail, say nothing of which share,
// and drop them all.
func TestWrongCombinationFailsClosed(t *testing.T) {
	key := newKey(t)
	shares, err := Split(key, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	forged := shares[1]
	forged.part = bytes.Clone(forged.part)
	forged.part[0] ^= 1
	forged, err = Parse(forged.Text()) // a well-formed share: its checksum is recomputed
	if err != nil {
		t.Fatal(err)
	}
	a := NewAccumulator(Options{})
	if _, _, err := a.Add(shares[0]); err != nil {
		t.Fatal(err)
	}
	got, p, err := a.Add(forged)
	if !errors.Is(err, ErrWrongShares) || got != nil || p != (Progress{}) {
		t.Fatalf("Add(forged) got key=%v %+v %v, want no key, empty progress, ErrWrongShares", got != nil, p, err)
	}
	if strings.Contains(err.Error(), "2") || strings.Contains(err.Error(), "index") {
		t.Errorf("error %q tells which share was wrong", err)
	}
	// The good shares work again once re-entered.
	a.Add(shares[0])
	if got, _, err := a.Add(shares[2]); err != nil || !bytes.Equal(got, key) {
		t.Fatalf("after the failure, good shares got %v", err)
	}
}

func TestResetAndTimeout(t *testing.T) {
	key := newKey(t)
	shares, err := Split(key, 3, 3)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	a := NewAccumulator(Options{Timeout: time.Minute, Now: clock})

	a.Add(shares[0])
	a.Reset()
	if p := a.Progress(); p != (Progress{}) {
		t.Fatalf("after Reset got %+v, want empty", p)
	}

	a.Add(shares[0])
	advance(59 * time.Second)
	a.Add(shares[1]) // the idle time starts again
	advance(59 * time.Second)
	if p := a.Progress(); p != (Progress{2, 3}) {
		t.Fatalf("within the timeout got %+v, want 2 of 3", p)
	}
	advance(time.Second)
	if p := a.Progress(); p != (Progress{}) {
		t.Fatalf("after the timeout got %+v, want empty", p)
	}
	// After the drop the last share alone does not rebuild the key.
	if got, p, err := a.Add(shares[2]); got != nil || err != nil || p != (Progress{1, 3}) {
		t.Fatalf("after the timeout Add got key=%v %+v %v, want 1 of 3", got != nil, p, err)
	}
}

func TestConcurrentAdds(t *testing.T) {
	key := newKey(t)
	shares, err := Split(key, 16, 5)
	if err != nil {
		t.Fatal(err)
	}
	a := NewAccumulator(Options{})
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		keys int
	)
	for round := 0; round < 8; round++ {
		for _, s := range shares {
			wg.Go(func() {
				got, _, err := a.Add(s)
				a.Progress()
				if err != nil && !errors.Is(err, ErrDuplicate) {
					t.Errorf("Add got %v", err)
				}
				if got != nil {
					if !bytes.Equal(got, key) {
						t.Error("concurrent Adds rebuilt another key")
					}
					mu.Lock()
					keys++
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if keys == 0 {
		t.Error("128 concurrent Adds of 16 shares never rebuilt the key")
	}
}

func TestNoKeyMaterialInText(t *testing.T) {
	key := newKey(t)
	shares, err := Split(key, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	s := shares[0]
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "share", s)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "share", s)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s", s, s, s, s), buf.String()} {
		if strings.Contains(out, s.Text()[len(prefix)+2*setLen+1:][:8]) || !strings.Contains(out, "share 1 of 3, 2 needed, set "+s.Set()) {
			t.Errorf("printed share %q shows more than its name", out)
		}
	}
}
