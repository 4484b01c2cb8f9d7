package synth

import "math/bits"

// mix64 is the splitmix64 finaliser: a bijection on uint64 that scatters
// every input bit over the output.
func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	return z ^ z>>31
}

// key derives an independent 64-bit key for one use (tag) of a seed.
func key(seed, tag uint64) uint64 {
	return mix64(mix64(seed^0x5EED5EED5EED5EED) + tag*0x9E3779B97F4A7C15)
}

// rng is splitmix64: tiny, fast and good enough for synthetic data.
type rng struct{ s uint64 }

func newRNG(seed uint64, i uint64) rng {
	return rng{s: mix64(key(seed, tagRNG) + i)}
}

func (r *rng) next() uint64 {
	r.s += 0x9E3779B97F4A7C15
	return mix64(r.s)
}

// intn returns a number in [0, n), n > 0 (Lemire's multiply-shift, without
// the rejection step: the bias is below 2⁻⁴⁰ for the small n used here).
func (r *rng) intn(n int) int {
	hi, _ := bits.Mul64(r.next(), uint64(n))
	return int(hi)
}

// Tags separating the keys derived from one seed.
const (
	tagRNG = iota + 1
	tagNames
	tagPhone
	tagNIR
)

// permute maps x in [0, n) to [0, n) bijectively under key k. It walks the
// cycle of a keyed bijection on the smallest power-of-two range holding n
// until it lands back in [0, n): since 2^b < 2n, that takes under two steps
// on average. Different keys give unrelated permutations.
func permute(x, n, k uint64) uint64 {
	b := uint(bits.Len64(n - 1))
	if b < 2 {
		if n <= 1 {
			return 0
		}
		b = 2
	}
	mask := uint64(1)<<b - 1
	shift := (b + 1) / 2
	k1, k2 := k&mask, (k>>32)&mask
	for {
		// Each step is a bijection of [0, 2^b): xor with a constant,
		// multiplication by an odd number modulo 2^b, and x ^= x>>s.
		x ^= k1
		x = x * 0x9E3779B97F4A7C15 & mask
		x ^= x >> shift
		x = (x + k2) * 0xBF58476D1CE4E5B9 & mask
		x ^= x >> shift
		x = x * 0x94D049BB133111EB & mask
		x ^= x >> shift
		if x < n {
			return x
		}
	}
}
