package main

import (
	"strings"
	"testing"
)

func TestBenchImpactUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"too few entries", []string{"--entries", "10"}, "--entries must be between 10,000"},
		{"one day", []string{"--days", "1"}, "--days must be between 2"},
		{"too few people", []string{"--people", "100", "--reads", "50", "--attackers", "3"}, "--people must be at least --attackers × --reads"},
		{"too many reads a day", []string{"--entries", "10000", "--days", "10", "--reads", "500", "--attackers", "1"}, "at most a third of a day's entries"},
		{"no runs", []string{"--runs", "0"}, "--runs must be between 1"},
		{"not postgres", []string{"--store", "mysql://db"}, "--store must be a postgres:// URL"},
		{"no data", []string{"--data", ""}, "--data must name a directory"},
		{"an argument", []string{"now"}, `unexpected argument "now"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"bench", "impact"}, tt.args...)
			code, _, stderr := runCLI(t, args...)
			if code != 2 || !strings.Contains(stderr, tt.want) {
				t.Fatalf("coffre %v = %d, stderr %q; want 2 and %q", args, code, stderr, tt.want)
			}
		})
	}
}
