package dpnoise

import (
	"errors"
	"io"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// The statistical tests draw from a seeded ChaCha8 stream, so a run is
// reproducible; their tolerances are still set so that any seed passes
// with near certainty: a statistic is allowed z = 5 standard errors from
// its expected value (a two-sided chance of 6·10⁻⁷ per check under the
// right distribution), and the chi-square statistic its upper 3·10⁻⁷
// quantile. A sampler off by a few percent in any probability still fails
// them at these sample sizes.
const z = 5.0

func seeded(seed byte) io.Reader {
	return rand.NewChaCha8([32]byte{0: seed, 31: 0xdb})
}

func TestBernoulliExp(t *testing.T) {
	const n = 40_000
	for i, gamma := range []*big.Rat{
		big.NewRat(0, 1),
		big.NewRat(1, 10),
		big.NewRat(1, 2),
		big.NewRat(1, 1),
		big.NewRat(3, 2),
		big.NewRat(2, 1),
		big.NewRat(7, 3),
		big.NewRat(5, 1),
	} {
		t.Run(gamma.RatString(), func(t *testing.T) {
			s := sampler{seeded(byte(i))}
			hits := 0
			for range n {
				b, err := s.bernoulliExp(gamma)
				if err != nil {
					t.Fatal(err)
				}
				if b {
					hits++
				}
			}
			g, _ := gamma.Float64()
			p := math.Exp(-g)
			got := float64(hits) / n
			se := math.Sqrt(p * (1 - p) / n)
			t.Logf("P(true) = %.5f, want exp(-%s) = %.5f, %.2f standard errors", got, gamma.RatString(), p, (got-p)/se)
			if math.Abs(got-p) > z*se+1e-12 {
				t.Errorf("bernoulliExp(%s) frequency %.5f, want %.5f ± %.5f", gamma.RatString(), got, p, z*se)
			}
		})
	}
}

func TestBernoulliExact(t *testing.T) {
	s := sampler{seeded(1)}
	for range 1000 {
		if b, _ := s.bernoulli(big.NewInt(0), big.NewInt(3)); b {
			t.Fatal("bernoulli(0/3) = true")
		}
		if b, _ := s.bernoulli(big.NewInt(3), big.NewInt(3)); !b {
			t.Fatal("bernoulli(3/3) = false")
		}
		if b, _ := s.bernoulliExp01(big.NewInt(0), big.NewInt(1)); !b {
			t.Fatal("bernoulliExp01(0) = false")
		}
	}
}

// dist is a distribution on the integers by its unnormalised weights,
// negligible (below exp(-700)) outside [-limit, limit].
type dist struct {
	weight func(y int64) float64
	limit  int64
}

// prob returns the normalised probabilities on [-limit, limit].
func (d dist) prob() map[int64]float64 {
	p := map[int64]float64{}
	var total float64
	for y := -d.limit; y <= d.limit; y++ {
		p[y] = d.weight(y)
		total += p[y]
	}
	for y := range p {
		p[y] /= total
	}
	return p
}

func laplaceDist(eps float64) dist {
	return dist{func(y int64) float64 { return math.Exp(-eps * math.Abs(float64(y))) }, int64(700/eps) + 1}
}

func gaussianDist(sigma2 float64) dist {
	return dist{func(y int64) float64 { return math.Exp(-float64(y*y) / (2 * sigma2)) }, int64(40*math.Sqrt(sigma2)) + 1}
}

// summary holds a sample's figures.
type summary struct {
	n                  int
	mean, variance, p0 float64
	pos, neg           int
	counts             map[int64]int
}

func summarise(draws []int64) summary {
	s := summary{n: len(draws), counts: map[int64]int{}}
	var sum, sum2 float64
	for _, x := range draws {
		s.counts[x]++
		f := float64(x)
		sum += f
		sum2 += f * f
		switch {
		case x > 0:
			s.pos++
		case x < 0:
			s.neg++
		}
	}
	n := float64(s.n)
	s.mean = sum / n
	s.variance = sum2/n - s.mean*s.mean
	s.p0 = float64(s.counts[0]) / n
	return s
}

// check compares a sample with d, whose variance and P(0) are given (in
// closed form where there is one), at z standard errors:
//   - the mean with 0, SE √(Var/n);
//   - the variance, SE √((μ₄ - Var²)/n) with μ₄ from d;
//   - P(0), SE √(p₀(1-p₀)/n);
//   - symmetry: given the n± non-zero draws, the positives are
//     Binomial(n±, 1/2), so |pos - neg| has SE √n±;
//   - the whole shape, by a chi-square test over the cells whose expected
//     count is at least 5, the two tails lumped.
func check(t *testing.T, draws []int64, d dist, wantVar, wantP0 float64) {
	t.Helper()
	s := summarise(draws)
	n := float64(s.n)
	p := d.prob()
	var mu4 float64
	for y, q := range p {
		mu4 += q * math.Pow(float64(y), 4)
	}

	seMean := math.Sqrt(wantVar / n)
	seVar := math.Sqrt((mu4 - wantVar*wantVar) / n)
	seP0 := math.Sqrt(wantP0 * (1 - wantP0) / n)
	seSym := math.Sqrt(float64(s.pos + s.neg))
	t.Logf("n = %d: mean %.4f (%.2f SE), variance %.4f want %.4f (%.2f SE), P(0) %.5f want %.5f (%.2f SE), %d positive %d negative (%.2f SE)",
		s.n, s.mean, s.mean/seMean, s.variance, wantVar, (s.variance-wantVar)/seVar,
		s.p0, wantP0, (s.p0-wantP0)/seP0, s.pos, s.neg, float64(s.pos-s.neg)/seSym)
	if math.Abs(s.mean) > z*seMean {
		t.Errorf("mean %.4f, want 0 ± %.4f", s.mean, z*seMean)
	}
	if math.Abs(s.variance-wantVar) > z*seVar {
		t.Errorf("variance %.4f, want %.4f ± %.4f", s.variance, wantVar, z*seVar)
	}
	if math.Abs(s.p0-wantP0) > z*seP0 {
		t.Errorf("P(0) %.5f, want %.5f ± %.5f", s.p0, wantP0, z*seP0)
	}
	if math.Abs(float64(s.pos-s.neg)) > z*seSym {
		t.Errorf("%d positive, %d negative draws, want equal ± %.0f", s.pos, s.neg, z*seSym)
	}

	// Chi-square: cells [-k, k] each expecting ≥ 5 draws, plus the tails.
	k := int64(0)
	for n*p[k+1] >= 5 {
		k++
	}
	var chi2, tail float64
	for y := -k; y <= k; y++ {
		e := n * p[y]
		o := float64(s.counts[y])
		chi2 += (o - e) * (o - e) / e
	}
	cells := 2*k + 1
	tail = (1 - sumRange(p, -k, k)) / 2 // each tail, by symmetry
	if n*tail >= 5 {
		var lo, hi float64
		for x, c := range s.counts {
			if x < -k {
				lo += float64(c)
			} else if x > k {
				hi += float64(c)
			}
		}
		e := n * tail
		chi2 += (lo-e)*(lo-e)/e + (hi-e)*(hi-e)/e
		cells += 2
	}
	df := float64(cells - 1)
	limit := chi2Quantile(df, z)
	t.Logf("chi-square %.1f on %.0f degrees of freedom (limit %.1f)", chi2, df, limit)
	if chi2 > limit {
		t.Errorf("chi-square %.1f on %.0f degrees of freedom, above %.1f", chi2, df, limit)
	}
}

func sumRange(p map[int64]float64, lo, hi int64) float64 {
	var s float64
	for y := lo; y <= hi; y++ {
		s += p[y]
	}
	return s
}

// chi2Quantile approximates the chi-square quantile of df degrees of
// freedom at the normal quantile zq (Wilson and Hilferty 1931), good to a
// few percent from df = 3 up, which is ample at zq = 5.
func chi2Quantile(df, zq float64) float64 {
	a := 2 / (9 * df)
	return df * math.Pow(1-a+zq*math.Sqrt(a), 3)
}

func draw(t *testing.T, m *Mechanism, n int) []int64 {
	t.Helper()
	out := make([]int64, n)
	for i := range out {
		x, err := m.Noise()
		if err != nil {
			t.Fatal(err)
		}
		out[i] = x
	}
	return out
}

func TestDiscreteLaplace(t *testing.T) {
	for i, c := range []struct {
		eps string
		n   int
	}{
		{"0.5", 200_000}, // scale 2: the main run
		{"1", 30_000},    // scale 1: U is always 0
		{"0.3", 30_000},  // scale 10/3
		{"2", 30_000},    // scale 1/2: ⌊X/2⌋
		{"7/3", 30_000},  // scale 3/7
	} {
		t.Run(c.eps, func(t *testing.T) {
			eps, err := ParseEpsilon(c.eps)
			if err != nil {
				t.Fatal(err)
			}
			m, err := Laplace(eps)
			if err != nil {
				t.Fatal(err)
			}
			m.rand = seeded(byte(i))
			e, _ := eps.Float64()
			q := math.Exp(-e) // e^{-1/t} for the scale t = 1/ε
			wantVar := 2 * q / ((1 - q) * (1 - q))
			wantP0 := (1 - q) / (1 + q)
			if sd := m.StdDev(); math.Abs(sd*sd-wantVar) > 1e-9*wantVar {
				t.Errorf("StdDev() = %v, want √%v", sd, wantVar)
			}
			check(t, draw(t, m, c.n), laplaceDist(e), wantVar, wantP0)
		})
	}
}

func TestDiscreteGaussian(t *testing.T) {
	for i, c := range []struct {
		rho string
		n   int
	}{
		{"0.125", 60_000}, // σ² = 4
		{"2", 20_000},     // σ² = 1/4, t = 1
		{"0.5", 20_000},   // σ² = 1
		{"3/14", 20_000},  // σ² = 7/3
		{"0.005", 20_000}, // σ² = 100
	} {
		t.Run(c.rho, func(t *testing.T) {
			rho, err := ParseRho(c.rho)
			if err != nil {
				t.Fatal(err)
			}
			m, err := Gaussian(rho)
			if err != nil {
				t.Fatal(err)
			}
			m.rand = seeded(0x40 + byte(i))
			s2, _ := m.sigma2.Float64()
			d := gaussianDist(s2)
			p := d.prob()
			var wantVar float64
			for y, q := range p {
				wantVar += q * float64(y*y)
			}
			if sd := m.StdDev(); math.Abs(sd*sd-wantVar) > 1e-9*wantVar {
				t.Errorf("StdDev() = %v, want √%v", sd, wantVar)
			}
			check(t, draw(t, m, c.n), d, wantVar, p[0])
		})
	}
}

// TestDefaultReader draws from crypto/rand, as production does.
func TestDefaultReader(t *testing.T) {
	for _, m := range []*Mechanism{must(Laplace(big.NewRat(1, 10))), must(Gaussian(big.NewRat(1, 2)))} {
		for range 100 {
			if _, err := m.Noise(); err != nil {
				t.Fatalf("%v: %v", m, err)
			}
		}
	}
}

func must(m *Mechanism, err error) *Mechanism {
	if err != nil {
		panic(err)
	}
	return m
}

type failingReader struct{}

var errDry = io.ErrUnexpectedEOF

func (failingReader) Read([]byte) (int, error) { return 0, errDry }

func TestNoiseReadError(t *testing.T) {
	for _, m := range []*Mechanism{must(Laplace(big.NewRat(1, 10))), must(Gaussian(big.NewRat(1, 2)))} {
		m.rand = failingReader{}
		if _, err := m.Noise(); err == nil || !errors.Is(err, errDry) {
			t.Errorf("%v: Noise() with a failing reader = %v, want an error wrapping %v", m, err, errDry)
		}
	}
	var zero Mechanism
	if _, err := zero.Noise(); err == nil {
		t.Error("zero Mechanism drew noise")
	}
}

func BenchmarkLaplaceNoise(b *testing.B) {
	m := must(Laplace(big.NewRat(1, 2)))
	for b.Loop() {
		if _, err := m.Noise(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGaussianNoise(b *testing.B) {
	m := must(Gaussian(big.NewRat(1, 8)))
	for b.Loop() {
		if _, err := m.Noise(); err != nil {
			b.Fatal(err)
		}
	}
}
