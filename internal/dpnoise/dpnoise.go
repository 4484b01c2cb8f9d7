// Package dpnoise draws the integer noise that makes a count differentially
// private: the discrete Laplace mechanism for pure ε-DP and the discrete
// Gaussian mechanism for ρ-zCDP, both for counts of sensitivity 1 (adding
// or removing one person changes a count by at most 1).
//
// # Exact sampling
//
// The samplers are Algorithms 1 to 3 of Canonne, Kamath and Steinke, "The
// Discrete Gaussian for Differential Privacy" (NeurIPS 2020,
// arXiv:2004.00010), run in exact rational arithmetic over uniform integers
// from crypto/rand. No floating point enters a draw: floating-point Laplace
// samplers leak through the gaps and rounding of their outputs (Mironov,
// CCS 2012), while these draws follow the stated distributions exactly.
// Floating point appears only in [Mechanism.StdDev], which reports.
//
// # Parameters
//
// ε and ρ are rationals, so that the scale of the noise is exact; parse a
// caller's decimal with [ParseEpsilon] or [ParseRho]. They are bounded
// ([MinEpsilon], [MaxEpsilon], [MinRho], [MaxRho]); zero, negative and
// out-of-range values are refused with errors wrapping [ErrInvalidEpsilon]
// or [ErrInvalidRho], whose text is safe to show to the analyst.
//
// The package holds no budget: [Mechanism.Guarantee] says what one draw
// costs, and the caller (the statistics endpoint) charges it.
package dpnoise

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"regexp"
)

// Bounds on the parameters. The lower bounds keep the noise's scale at most
// 10⁶ (a standard deviation of about 1.4·10⁶ for Laplace, 10⁶ for
// Gaussian), far inside int64 and beyond any useful count; the upper bounds
// are the loosest guarantee worth calling private. MinRho and MaxRho are
// the zCDP costs of MinEpsilon and MaxEpsilon (ρ = ε²/2).
var (
	MinEpsilon = big.NewRat(1, 1_000_000)
	MaxEpsilon = big.NewRat(10, 1)
	MinRho     = big.NewRat(1, 2_000_000_000_000)
	MaxRho     = big.NewRat(50, 1)
)

// ErrInvalidEpsilon is wrapped by the errors of [Laplace] and
// [ParseEpsilon] for an ε that is not a decimal or fraction, or that is
// not in [MinEpsilon, MaxEpsilon] (zero and negative values included).
var ErrInvalidEpsilon = errors.New("invalid epsilon")

// ErrInvalidRho is wrapped by the errors of [Gaussian] and [ParseRho] for a
// ρ that is not a decimal or fraction, or not in [MinRho, MaxRho].
var ErrInvalidRho = errors.New("invalid rho")

// kind is a mechanism's distribution.
type kind int

const (
	laplace kind = iota + 1
	gaussian
)

// Mechanism draws noise for counts of sensitivity 1. It is immutable and
// safe for concurrent use. The zero Mechanism is not valid: make one with
// [Laplace] or [Gaussian].
type Mechanism struct {
	kind  kind
	param *big.Rat // ε (Laplace) or ρ (Gaussian)
	// Laplace: the scale 1/ε as scaleNum/scaleDen.
	scaleNum, scaleDen *big.Int
	// Gaussian: σ² = 1/(2ρ).
	sigma2 *big.Rat
	// rand is the uniform source; nil means crypto/rand's Reader. Tests in
	// this package set it to a seeded generator.
	rand io.Reader
}

// Laplace returns the discrete Laplace mechanism of scale 1/ε, which makes
// a count of sensitivity 1 ε-differentially private:
// P(noise = x) ∝ exp(-ε·|x|). epsilon must lie in [MinEpsilon, MaxEpsilon];
// it is copied.
func Laplace(epsilon *big.Rat) (*Mechanism, error) {
	if err := inRange(epsilon, MinEpsilon, MaxEpsilon); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidEpsilon, err)
	}
	eps := new(big.Rat).Set(epsilon)
	return &Mechanism{
		kind:     laplace,
		param:    eps,
		scaleNum: new(big.Int).Set(eps.Denom()),
		scaleDen: new(big.Int).Set(eps.Num()),
	}, nil
}

// Gaussian returns the discrete Gaussian mechanism with σ² = 1/(2ρ), which
// makes a count of sensitivity 1 ρ-zero-concentrated differentially
// private (CKS 2020): P(noise = x) ∝ exp(-x²/(2σ²)). rho must
// lie in [MinRho, MaxRho]; it is copied.
func Gaussian(rho *big.Rat) (*Mechanism, error) {
	if err := inRange(rho, MinRho, MaxRho); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidRho, err)
	}
	r := new(big.Rat).Set(rho)
	sigma2 := new(big.Rat).Mul(r, big.NewRat(2, 1))
	sigma2.Inv(sigma2)
	return &Mechanism{kind: gaussian, param: r, sigma2: sigma2}, nil
}

// errOutOfRange is the cause under ErrInvalidEpsilon and ErrInvalidRho.
type errOutOfRange struct{ v, lo, hi *big.Rat }

func (e errOutOfRange) Error() string {
	return fmt.Sprintf("%s is not between %s and %s", e.v.RatString(), e.lo.RatString(), e.hi.RatString())
}

// inRange checks lo ≤ v ≤ hi, refusing nil.
func inRange(v, lo, hi *big.Rat) error {
	if v == nil {
		return errors.New("missing")
	}
	if v.Cmp(lo) < 0 || v.Cmp(hi) > 0 {
		return errOutOfRange{v, lo, hi}
	}
	return nil
}

// Noise draws one noise value, to be added to a count. Its only error is a
// failure to read randomness, which must fail the query: a count must never
// be released without its noise.
func (m *Mechanism) Noise() (int64, error) {
	r := m.rand
	if r == nil {
		r = rand.Reader
	}
	s := sampler{r}
	var x *big.Int
	var err error
	switch m.kind {
	case laplace:
		x, err = s.laplace(m.scaleNum, m.scaleDen)
	case gaussian:
		x, err = s.gaussian(m.sigma2)
	default:
		return 0, errors.New("draw noise: zero Mechanism")
	}
	if err != nil {
		return 0, fmt.Errorf("draw noise: %w", err)
	}
	if !x.IsInt64() { // beyond 2⁶³ at a scale ≤ 10⁶: probability below e^(-9·10¹²)
		return 0, errors.New("draw noise: outside int64")
	}
	return x.Int64(), nil
}

// Guarantee is the privacy one draw gives a count of sensitivity 1, which
// is what it costs an analyst's budget.
type Guarantee struct {
	// Epsilon is the pure ε-DP bound of a Laplace draw; nil for Gaussian,
	// which has none.
	Epsilon *big.Rat
	// Rho is the zCDP bound: ρ for a Gaussian draw, ε²/2 for a Laplace
	// draw (pure ε-DP implies (ε²/2)-zCDP: Bun and Steinke 2016), so that a budget kept in ρ can charge both.
	Rho *big.Rat
}

// Guarantee returns the privacy of one draw. The values are fresh copies.
func (m *Mechanism) Guarantee() Guarantee {
	switch m.kind {
	case laplace:
		rho := new(big.Rat).Mul(m.param, m.param)
		return Guarantee{
			Epsilon: new(big.Rat).Set(m.param),
			Rho:     rho.Quo(rho, big.NewRat(2, 1)),
		}
	case gaussian:
		return Guarantee{Rho: new(big.Rat).Set(m.param)}
	}
	return Guarantee{}
}

// String describes the guarantee, as "ε = 1/2 (pure DP; ρ = 1/8 zCDP)" or
// "ρ = 1/8 (zCDP)".
func (g Guarantee) String() string {
	switch {
	case g.Epsilon != nil && g.Rho != nil:
		return fmt.Sprintf("ε = %s (pure DP; ρ = %s zCDP)", g.Epsilon.RatString(), g.Rho.RatString())
	case g.Rho != nil:
		return fmt.Sprintf("ρ = %s (zCDP)", g.Rho.RatString())
	}
	return "none"
}

// StdDev returns the noise's standard deviation, for reporting (the error
// bars of a released count); it is computed in floating point, which no
// draw uses. For Laplace it is √(2q)/(1-q) with q = exp(-ε). For Gaussian
// it is the sum √(Σx²·P(x)) when σ² < 4, and σ from there on: by Poisson
// summation the discrete variance is σ²·(1 - 8π²σ²·exp(-2π²σ²) + …), which
// at σ² = 4 is σ² to within 10⁻³¹.
func (m *Mechanism) StdDev() float64 {
	switch m.kind {
	case laplace:
		eps, _ := m.param.Float64()
		q := math.Exp(-eps)
		return math.Sqrt(2*q) / -math.Expm1(-eps)
	case gaussian:
		s2, _ := m.sigma2.Float64()
		if s2 >= 4 {
			return math.Sqrt(s2)
		}
		// Terms past |x| = 40σ < 80 are below exp(-800): nothing in float64.
		var z, v float64 = 1, 0
		for x := 1.0; x <= 80; x++ {
			w := 2 * math.Exp(-x*x/(2*s2))
			z += w
			v += x * x * w
		}
		return math.Sqrt(v / z)
	}
	return 0
}

// String describes the mechanism, as "discrete Laplace, scale 2 (ε = 1/2)"
// or "discrete Gaussian, σ² = 4 (ρ = 1/8)".
func (m *Mechanism) String() string {
	switch m.kind {
	case laplace:
		scale := new(big.Rat).SetFrac(m.scaleNum, m.scaleDen)
		return fmt.Sprintf("discrete Laplace, scale %s (ε = %s)", scale.RatString(), m.param.RatString())
	case gaussian:
		return fmt.Sprintf("discrete Gaussian, σ² = %s (ρ = %s)", m.sigma2.RatString(), m.param.RatString())
	}
	return "zero Mechanism"
}

// ratSyntax is what ParseEpsilon and ParseRho accept: a plain decimal
// ("0.5", "2") or a fraction ("1/3"), with no sign, exponent or space, so
// the rational stays small whatever the input.
var ratSyntax = regexp.MustCompile(`^(?:[0-9]{1,15}(?:\.[0-9]{1,15})?|[0-9]{1,15}/[0-9]{1,15})$`)

// ParseEpsilon parses ε exactly from a decimal ("0.1" is 1/10, not the
// nearest float64) or a fraction ("1/3"), and checks that it lies in
// [MinEpsilon, MaxEpsilon]. Errors wrap [ErrInvalidEpsilon].
func ParseEpsilon(s string) (*big.Rat, error) {
	v, err := parseRat(s, MinEpsilon, MaxEpsilon)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidEpsilon, err)
	}
	return v, nil
}

// ParseRho parses ρ as [ParseEpsilon] parses ε, checking that it lies in
// [MinRho, MaxRho]. Errors wrap [ErrInvalidRho].
func ParseRho(s string) (*big.Rat, error) {
	v, err := parseRat(s, MinRho, MaxRho)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidRho, err)
	}
	return v, nil
}

func parseRat(s string, lo, hi *big.Rat) (*big.Rat, error) {
	if !ratSyntax.MatchString(s) {
		if len(s) > 40 {
			s = s[:40] + "…"
		}
		return nil, fmt.Errorf("%q is not a decimal like 0.5 or a fraction like 1/3", s)
	}
	v, ok := new(big.Rat).SetString(s)
	if !ok { // "1/0"
		return nil, fmt.Errorf("%q is not a number", s)
	}
	if err := inRange(v, lo, hi); err != nil {
		return nil, err
	}
	return v, nil
}
