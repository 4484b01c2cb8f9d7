package dpnoise_test

import (
	"fmt"

	"github.com/coffre/coffre/internal/dpnoise"
)

func ExampleLaplace() {
	eps, err := dpnoise.ParseEpsilon("0.5")
	if err != nil {
		panic(err)
	}
	m, err := dpnoise.Laplace(eps)
	if err != nil {
		panic(err)
	}
	noise, err := m.Noise()
	if err != nil {
		panic(err) // never release the count without its noise
	}
	released := 42 + noise
	_ = released
	fmt.Println(m)
	fmt.Println(m.Guarantee())
	fmt.Printf("standard deviation %.2f\n", m.StdDev())
	// Output:
	// discrete Laplace, scale 2 (ε = 1/2)
	// ε = 1/2 (pure DP; ρ = 1/8 zCDP)
	// standard deviation 2.80
}
