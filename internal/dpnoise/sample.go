package dpnoise

import (
	"crypto/rand"
	"io"
	"math/big"
)

// This file holds Algorithms 1 to 3 of Canonne, Kamath and Steinke, "The
// Discrete Gaussian for Differential Privacy" (NeurIPS 2020,
// arXiv:2004.00010), in exact arithmetic: every parameter is a rational,
// every random choice is a uniform integer in [0, n) from [rand.Int], and
// nothing is rounded, so the samples follow the stated distributions
// exactly (given a uniform source), with no floating-point artefacts to
// leak through.

var (
	one = big.NewInt(1)
	two = big.NewInt(2)
)

// sampler draws from the distributions below with the uniform integers of
// r (crypto/rand's Reader in production).
type sampler struct {
	r io.Reader
}

// uniform returns an integer uniform in [0, n), n > 0.
func (s sampler) uniform(n *big.Int) (*big.Int, error) {
	if n.Cmp(one) == 0 {
		return new(big.Int), nil
	}
	return rand.Int(s.r, n)
}

// bernoulli returns true with probability num/den, 0 ≤ num ≤ den, den ≥ 1:
// a uniform integer in [0, den) falls under num. The fraction need not be
// in lowest terms.
func (s sampler) bernoulli(num, den *big.Int) (bool, error) {
	if num.Sign() == 0 {
		return false, nil
	}
	u, err := s.uniform(den)
	if err != nil {
		return false, err
	}
	return u.Cmp(num) < 0, nil
}

// bernoulliExp01 returns true with probability exp(-γ), γ = num/den in
// [0, 1] (Algorithm 1, first part): draw A_k ~ Bernoulli(γ/k) for k = 1, 2, …
// until one is 0; the answer is whether that k is odd.
func (s sampler) bernoulliExp01(num, den *big.Int) (bool, error) {
	kden := new(big.Int).Set(den) // k·den
	for k := 1; ; k++ {
		a, err := s.bernoulli(num, kden)
		if err != nil {
			return false, err
		}
		if !a {
			return k%2 == 1, nil
		}
		kden.Add(kden, den)
	}
}

// bernoulliExp returns true with probability exp(-γ), γ a rational ≥ 0
// (Algorithm 1, second part): exp(-γ) = exp(-1)^⌊γ⌋ · exp(-(γ-⌊γ⌋)), each
// factor an independent draw, stopping at the first false.
func (s sampler) bernoulliExp(gamma *big.Rat) (bool, error) {
	whole := new(big.Int).Quo(gamma.Num(), gamma.Denom()) // ⌊γ⌋, γ ≥ 0
	for i := new(big.Int); i.Cmp(whole) < 0; i.Add(i, one) {
		b, err := s.bernoulliExp01(one, one)
		if err != nil || !b {
			return false, err
		}
	}
	frac := new(big.Rat).Sub(gamma, new(big.Rat).SetInt(whole))
	return s.bernoulliExp01(frac.Num(), frac.Denom())
}

// laplace returns a draw from the discrete Laplace distribution of scale
// num/den, P(x) ∝ exp(-|x|·den/num), num, den ≥ 1 (Algorithm 2). U is
// uniform in [0, num) kept with probability exp(-U/num) and V is geometric,
// P(V = v) ∝ exp(-v), so X = U + num·V has P(X = x) ∝ exp(-x/num); then
// ⌊X/den⌋ has P(y) ∝ exp(-y·den/num), and a fair sign (rejecting -0, which
// would double the weight of 0) mirrors it.
func (s sampler) laplace(num, den *big.Int) (*big.Int, error) {
	for {
		u, err := s.uniform(num)
		if err != nil {
			return nil, err
		}
		d, err := s.bernoulliExp01(u, num)
		if err != nil {
			return nil, err
		}
		if !d {
			continue
		}
		v := new(big.Int)
		for {
			a, err := s.bernoulliExp01(one, one)
			if err != nil {
				return nil, err
			}
			if !a {
				break
			}
			v.Add(v, one)
		}
		x := v.Mul(v, num)
		x.Add(x, u)
		y := x.Quo(x, den)
		b, err := s.uniform(two)
		if err != nil {
			return nil, err
		}
		if b.Sign() == 0 {
			return y, nil
		}
		if y.Sign() != 0 {
			return y.Neg(y), nil
		}
	}
}

// gaussian returns a draw from the discrete Gaussian distribution with
// parameter σ², P(x) ∝ exp(-x²/(2σ²)), σ² a rational > 0 (Algorithm 3): a
// discrete Laplace proposal of scale t = ⌊σ⌋+1, accepted with probability
// exp(-(|Y| - σ²/t)²/(2σ²)).
func (s sampler) gaussian(sigma2 *big.Rat) (*big.Int, error) {
	// ⌊σ⌋ = ⌊√⌊σ²⌋⌋, as √ is increasing and n ≤ √x ⟺ n² ≤ ⌊x⌋ for integers n.
	t := new(big.Int).Quo(sigma2.Num(), sigma2.Denom())
	t.Sqrt(t).Add(t, one)
	center := new(big.Rat).Quo(sigma2, new(big.Rat).SetInt(t)) // σ²/t
	twoSigma2 := new(big.Rat).Mul(sigma2, big.NewRat(2, 1))
	gamma := new(big.Rat)
	for {
		y, err := s.laplace(t, one)
		if err != nil {
			return nil, err
		}
		gamma.SetInt(new(big.Int).Abs(y))
		gamma.Sub(gamma, center)
		gamma.Mul(gamma, gamma)
		gamma.Quo(gamma, twoSigma2)
		c, err := s.bernoulliExp(gamma)
		if err != nil {
			return nil, err
		}
		if c {
			return y, nil
		}
	}
}
