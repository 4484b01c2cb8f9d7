package hold

import "testing"

func TestValidID(t *testing.T) {
	for _, tt := range []struct {
		id   string
		want bool
	}{
		{"hold_abcdefghij234567", true},
		{"hold_abcdefghij23456", false},
		{"hold_ABCDEFGHIJ234567", false},
		{"req_abcdefghij2345678", false},
		{"hold_abcdefghij23456/", false},
		{"", false},
	} {
		if got := ValidID(tt.id); got != tt.want {
			t.Errorf("ValidID(%q) got %v, want %v", tt.id, got, tt.want)
		}
	}
}

func TestInForce(t *testing.T) {
	var h Hold
	if !h.InForce() {
		t.Error("a hold never lifted: InForce() got false, want true")
	}
}
