package dpnoise

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
)

func TestParseEpsilon(t *testing.T) {
	for _, c := range []struct {
		in      string
		want    string // RatString; "" for an error
		errText string
	}{
		{"0.5", "1/2", ""},
		{"1", "1", ""},
		{"0.1", "1/10", ""}, // exactly, not the float64 nearest 0.1
		{"1/3", "1/3", ""},
		{"10", "10", ""},
		{"0.000001", "1/1000000", ""},
		{"0", "", "is not between"},
		{"0.0", "", "is not between"},
		{"-1", "", "not a decimal"},
		{"-0.5", "", "not a decimal"},
		{"10.5", "", "is not between"},
		{"0.0000009", "", "is not between"},
		{"1/0", "", "not a number"},
		{"0/5", "", "is not between"},
		{"1e-3", "", "not a decimal"},
		{" 1", "", "not a decimal"},
		{"", "", "not a decimal"},
		{".5", "", "not a decimal"},
		{"1.", "", "not a decimal"},
		{"NaN", "", "not a decimal"},
		{"Inf", "", "not a decimal"},
		{"0x1", "", "not a decimal"},
		{"1/2/3", "", "not a decimal"},
		{"1234567890123456", "", "not a decimal"},
	} {
		got, err := ParseEpsilon(c.in)
		if c.want != "" {
			if err != nil || got.RatString() != c.want {
				t.Errorf("ParseEpsilon(%q) got %v, %v, want %s", c.in, got, err, c.want)
			}
			continue
		}
		if !errors.Is(err, ErrInvalidEpsilon) || !strings.Contains(err.Error(), c.errText) {
			t.Errorf("ParseEpsilon(%q) got %v, %v, want an ErrInvalidEpsilon saying %q", c.in, got, err, c.errText)
		}
	}
}

func TestParseRho(t *testing.T) {
	if got, err := ParseRho("0.125"); err != nil || got.RatString() != "1/8" {
		t.Errorf("ParseRho(0.125) got %v, %v, want 1/8", got, err)
	}
	for _, in := range []string{"0", "-1", "51", "abc"} {
		if _, err := ParseRho(in); !errors.Is(err, ErrInvalidRho) {
			t.Errorf("ParseRho(%q) got %v, want ErrInvalidRho", in, err)
		}
	}
}

func TestMechanismValidation(t *testing.T) {
	for _, c := range []struct {
		name string
		make func() (*Mechanism, error)
		want error
	}{
		{"Laplace nil", func() (*Mechanism, error) { return Laplace(nil) }, ErrInvalidEpsilon},
		{"Laplace 0", func() (*Mechanism, error) { return Laplace(new(big.Rat)) }, ErrInvalidEpsilon},
		{"Laplace -1", func() (*Mechanism, error) { return Laplace(big.NewRat(-1, 1)) }, ErrInvalidEpsilon},
		{"Laplace 11", func() (*Mechanism, error) { return Laplace(big.NewRat(11, 1)) }, ErrInvalidEpsilon},
		{"Laplace 1/10⁷", func() (*Mechanism, error) { return Laplace(big.NewRat(1, 10_000_000)) }, ErrInvalidEpsilon},
		{"Gaussian nil", func() (*Mechanism, error) { return Gaussian(nil) }, ErrInvalidRho},
		{"Gaussian 0", func() (*Mechanism, error) { return Gaussian(new(big.Rat)) }, ErrInvalidRho},
		{"Gaussian -1/2", func() (*Mechanism, error) { return Gaussian(big.NewRat(-1, 2)) }, ErrInvalidRho},
		{"Gaussian 51", func() (*Mechanism, error) { return Gaussian(big.NewRat(51, 1)) }, ErrInvalidRho},
		{"Laplace bounds", func() (*Mechanism, error) { return both(Laplace(MinEpsilon))(Laplace(MaxEpsilon)) }, nil},
		{"Gaussian bounds", func() (*Mechanism, error) { return both(Gaussian(MinRho))(Gaussian(MaxRho)) }, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := c.make()
			if c.want == nil {
				if err != nil {
					t.Fatalf("got %v, want a mechanism", err)
				}
				return
			}
			if !errors.Is(err, c.want) || m != nil {
				t.Errorf("got %v, %v, want %v", m, err, c.want)
			}
		})
	}
}

func both(_ *Mechanism, err1 error) func(*Mechanism, error) (*Mechanism, error) {
	return func(m *Mechanism, err2 error) (*Mechanism, error) { return m, errors.Join(err1, err2) }
}

// TestExtremes draws at the bounds: the widest noise stays finite and
// cheap, the narrowest is mostly 0.
func TestExtremes(t *testing.T) {
	for _, m := range []*Mechanism{
		must(Laplace(MinEpsilon)), must(Laplace(MaxEpsilon)),
		must(Gaussian(MinRho)), must(Gaussian(MaxRho)),
	} {
		m.rand = seeded(7)
		for range 200 {
			if _, err := m.Noise(); err != nil {
				t.Fatalf("%v: %v", m, err)
			}
		}
	}
}

func TestMechanismCopiesItsParameter(t *testing.T) {
	eps := big.NewRat(1, 2)
	m := must(Laplace(eps))
	eps.SetInt64(-5)
	if got := m.Guarantee().Epsilon.RatString(); got != "1/2" {
		t.Errorf("after changing the caller's ε, Guarantee().Epsilon = %s, want 1/2", got)
	}
	m.Guarantee().Epsilon.SetInt64(3)
	if got := m.Guarantee().Epsilon.RatString(); got != "1/2" {
		t.Errorf("after changing a Guarantee, Guarantee().Epsilon = %s, want 1/2", got)
	}
}

func TestDescriptions(t *testing.T) {
	for _, c := range []struct {
		m         *Mechanism
		mech, gua string
		sd        string
	}{
		{must(Laplace(big.NewRat(1, 2))), "discrete Laplace, scale 2 (ε = 1/2)", "ε = 1/2 (pure DP; ρ = 1/8 zCDP)", "2.7992"},
		{must(Laplace(big.NewRat(1, 1))), "discrete Laplace, scale 1 (ε = 1)", "ε = 1 (pure DP; ρ = 1/2 zCDP)", "1.3570"},
		{must(Gaussian(big.NewRat(1, 8))), "discrete Gaussian, σ² = 4 (ρ = 1/8)", "ρ = 1/8 (zCDP)", "2.0000"},
		{must(Gaussian(big.NewRat(2, 1))), "discrete Gaussian, σ² = 1/4 (ρ = 2)", "ρ = 2 (zCDP)", "0.4637"},
		{&Mechanism{}, "zero Mechanism", "none", "0.0000"},
	} {
		if got := c.m.String(); got != c.mech {
			t.Errorf("String() got %q, want %q", got, c.mech)
		}
		if got := c.m.Guarantee().String(); got != c.gua {
			t.Errorf("%v: Guarantee() got %q, want %q", c.m, got, c.gua)
		}
		if got := fmt.Sprintf("%.4f", c.m.StdDev()); got != c.sd {
			t.Errorf("%v: StdDev() got %s, want %s", c.m, got, c.sd)
		}
	}
}

func FuzzParseEpsilon(f *testing.F) {
	for _, s := range []string{"0.5", "1/3", "10", "0", "-1", "1e9", "1/0", "0.000001", "999999999999999/1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		eps, err := ParseEpsilon(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidEpsilon) {
				t.Fatalf("ParseEpsilon(%q) error %v does not wrap ErrInvalidEpsilon", s, err)
			}
			return
		}
		if eps.Cmp(MinEpsilon) < 0 || eps.Cmp(MaxEpsilon) > 0 {
			t.Fatalf("ParseEpsilon(%q) = %s, out of bounds", s, eps.RatString())
		}
		m, err := Laplace(eps)
		if err != nil {
			t.Fatalf("Laplace(ParseEpsilon(%q)): %v", s, err)
		}
		m.rand = seeded(3)
		if _, err := m.Noise(); err != nil {
			t.Fatalf("Laplace(%s).Noise(): %v", eps.RatString(), err)
		}
	})
}
