package retention

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var dates = []string{"birth_date", "departure_date"}

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Rule
		err  string // "" parses, else a part of the message
	}{
		{"2y after last_activity", Rule{Span: Span{Years: 2}, Event: LastActivity}, ""},
		{"6m after created", Rule{Span: Span{Months: 6}, Event: Created}, ""},
		{"1y6m after last_update", Rule{Span: Span{Years: 1, Months: 6}, Event: LastUpdate}, ""},
		{"2w after created", Rule{Span: Span{Days: 14}, Event: Created}, ""},
		{"90d after created", Rule{Span: Span{Days: 90}, Event: Created}, ""},
		{"5y after departure_date", Rule{Span: Span{Years: 5}, Event: "departure_date"}, ""},
		{"  2y   after  created ", Rule{Span: Span{Years: 2}, Event: Created}, ""},
		{"until departure_date", Rule{Until: true, Event: "departure_date"}, ""},
		{"", Rule{}, "want DURATION after EVENT"},
		{"forever", Rule{}, "want DURATION after EVENT"},
		{"deleted 6 months after the adjustment ends", Rule{}, "want DURATION after EVENT"},
		{"2 after created", Rule{}, "want a count then a unit"},
		{"y after created", Rule{}, "want a count then a unit"},
		{"2x after created", Rule{}, `unknown unit "x"`},
		{"0y after created", Rule{}, "not a positive count"},
		{"2y2y after created", Rule{}, "unit y given twice"},
		{"101y after created", Rule{}, "longer than 100 years"},
		{"2y before created", Rule{}, "want DURATION after EVENT"},
		{"2y after departure", Rule{}, `unknown event "departure"`},
		{"2y after given_name", Rule{}, `unknown event "given_name"`},
		{"until created", Rule{}, "until must name a date field"},
		{"until", Rule{}, "want DURATION after EVENT"},
		{strings.Repeat("1", 200), Rule{}, "longer than 100 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in, dates)
			switch {
			case tt.err == "" && (err != nil || got != tt.want):
				t.Errorf("Parse(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			case tt.err != "" && (!errors.Is(err, ErrRule) || !strings.Contains(err.Error(), tt.err)):
				t.Errorf("Parse(%q) = %v; want ErrRule saying %q", tt.in, err, tt.err)
			}
			if err == nil {
				again, err := Parse(got.String(), dates)
				if err != nil || again != got {
					t.Errorf("Parse(String()) = %+v, %v; want %+v", again, err, got)
				}
			}
		})
	}
}

func TestDue(t *testing.T) {
	jan31 := time.Date(2026, 1, 31, 10, 0, 0, 0, time.UTC)
	events := map[string]time.Time{Created: jan31, "departure_date": time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC)}
	at := func(e string) (time.Time, bool) { t, ok := events[e]; return t, ok }
	tests := []struct {
		rule string
		want time.Time
		ok   bool
	}{
		{"1m after created", time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC), true}, // 31 February, normalised
		{"2y after created", time.Date(2028, 1, 31, 10, 0, 0, 0, time.UTC), true},
		{"1y6m after created", time.Date(2027, 7, 31, 10, 0, 0, 0, time.UTC), true},
		{"5y after departure_date", time.Date(2032, 6, 30, 0, 0, 0, 0, time.UTC), true},
		{"until departure_date", time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC), true},
		{"2y after last_activity", time.Time{}, false}, // never happened
		{"until birth_date", time.Time{}, false},       // empty field
	}
	for _, tt := range tests {
		r, err := Parse(tt.rule, dates)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := r.Due(at); ok != tt.ok || !got.Equal(tt.want) {
			t.Errorf("%s: Due = %v, %v; want %v, %v", tt.rule, got, ok, tt.want, tt.ok)
		}
	}
	if d, ok := Date("2027-06-30"); !ok || !d.Equal(events["departure_date"]) {
		t.Errorf("Date = %v, %v", d, ok)
	}
	if _, ok := Date("30/06/2027"); ok {
		t.Error("Date of a French date: ok")
	}
}

// FuzzParse: a rule parses and prints back to itself, or is refused.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"2y after last_activity", "1y6m2w3d after created", "until departure_date", "0y after x", "9999999999d after created"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s, dates)
		if err != nil {
			return
		}
		again, err := Parse(r.String(), dates)
		if err != nil || again != r {
			t.Fatalf("Parse(%q) = %+v, printed %q, parsed again %+v, %v", s, r, r.String(), again, err)
		}
	})
}
