package incident

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func TestValidate(t *testing.T) {
	ok := func() *Incident {
		return &Incident{Title: "scrape", Nature: []string{Confidentiality}, Aware: now.Add(-time.Hour),
			Scope: Scope{Operators: []string{"op_1"}, From: now.Add(-48 * time.Hour)}}
	}
	tests := []struct {
		name string
		edit func(*Incident)
		want string // "" valid, else a part of the message
	}{
		{"valid", func(*Incident) {}, ""},
		{"a CIDR and an address", func(i *Incident) { i.Scope.Origins = []string{"203.0.113.0/24", "2001:db8::1"} }, ""},
		{"everything", func(i *Incident) { i.Scope = Scope{Everything: true, From: now.Add(-time.Hour)} }, ""},
		{"stolen store, keys safe", func(i *Incident) { i.Scope = Scope{StoreStolen: true, KeysSafe: true, From: now.Add(-time.Hour)} }, ""},
		{"no title", func(i *Incident) { i.Title = "" }, "title is required"},
		{"two-line title", func(i *Incident) { i.Title = "a\nb" }, "title is required"},
		{"no awareness", func(i *Incident) { i.Aware = time.Time{} }, "aware"},
		{"awareness ahead", func(i *Incident) { i.Aware = now.Add(time.Hour) }, "aware is in the future"},
		{"window after awareness", func(i *Incident) { i.Scope.From = now.Add(-time.Minute) }, "starts after the organisation became aware"},
		{"no nature", func(i *Incident) { i.Nature = nil }, "nature is required"},
		{"unknown nature", func(i *Incident) { i.Nature = []string{"secrecy"} }, `unknown nature "secrecy"`},
		{"no window start", func(i *Incident) { i.Scope.From = time.Time{} }, "window's start"},
		{"window ahead", func(i *Incident) { i.Scope.From, i.Aware = now.Add(time.Hour), now }, "starts"},
		{"inverted window", func(i *Incident) { i.Scope.To = i.Scope.From.Add(-time.Second) }, "empty or inverted"},
		{"empty window", func(i *Incident) { i.Scope.To = i.Scope.From }, "empty or inverted"},
		{"nothing named", func(i *Incident) { i.Scope.Operators = nil }, "names nothing"},
		{"everything and an operator", func(i *Incident) { i.Scope.Everything = true }, "name no operator"},
		{"keys safe without a theft", func(i *Incident) { i.Scope.KeysSafe = true }, "stolen store only"},
		{"bad origin", func(i *Incident) { i.Scope.Origins = []string{"10.0.0.0/33"} }, "neither an address nor a CIDR"},
		{"bad id", func(i *Incident) { i.Scope.Operators = []string{"op 1"} }, "malformed account id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i := ok()
			tt.edit(i)
			err := i.Validate(now)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate = %v, want nil", err)
			case tt.want != "" && (!errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate = %v, want ErrInvalid with %q", err, tt.want)
			}
		})
	}
}

func TestClocks(t *testing.T) {
	aware := now.Add(-30 * time.Hour)
	i := &Incident{Aware: aware}
	cs := i.Clocks(now)
	want := map[string]time.Time{
		"gdpr-notification":  aware.Add(72 * time.Hour),
		"nis2-early-warning": aware.Add(24 * time.Hour),
		"nis2-notification":  aware.Add(72 * time.Hour),
		"nis2-final-report":  aware.Add(72*time.Hour).AddDate(0, 1, 0),
	}
	for _, c := range cs {
		if !c.Due.Equal(want[c.Name]) {
			t.Errorf("%s due %v, want %v", c.Name, c.Due, want[c.Name])
		}
	}
	if c := cs[1]; !c.Overdue || c.Left != -6*time.Hour {
		t.Errorf("the early warning 30 h after awareness: %+v, want overdue by 6 h", c)
	}
	if c := cs[0]; c.Overdue || c.Left != 42*time.Hour {
		t.Errorf("the GDPR clock: %+v, want 42 h left", c)
	}
	// An initial report at 50 h: the GDPR and NIS2 notifications done in
	// time, the early warning late; the final report a month after it.
	filed := aware.Add(50 * time.Hour)
	i.Reports = []Report{{Phase: Initial, At: filed}}
	cs = i.Clocks(now.Add(100 * time.Hour))
	if !cs[0].Done.Equal(filed) || cs[0].Overdue || !cs[1].Overdue || cs[0].Left != 0 {
		t.Errorf("after the initial report: %+v", cs[:2])
	}
	if !cs[3].Due.Equal(filed.AddDate(0, 1, 0)) || !cs[3].Done.IsZero() {
		t.Errorf("the final report's clock: %+v, want due a month after the initial report", cs[3])
	}
}

func TestIDsAndDecode(t *testing.T) {
	id := NewID()
	if !ValidID(id) || ValidID("inc_") || ValidID("inc_AAAAAAAAAAAAAAAA") || ValidID(strings.Replace(id, "inc_", "sub_", 1)) {
		t.Errorf("ValidID: %s", id)
	}
	i := &Incident{ID: id, Title: "t", Aware: now, Scope: Scope{From: now, Origins: []string{"203.0.113.0/24"}}, Version: 3}
	b, err := Encode(i)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil || got.ID != id || got.Scope.Origins[0] != "203.0.113.0/24" || !got.Aware.Equal(now) {
		t.Errorf("Decode(Encode) = %+v, %v", got, err)
	}
	if _, err := Decode([]byte(`{"id":"nope"}`)); err == nil {
		t.Error("Decode of a malformed id: nil error")
	}
}

// FuzzDecode: a stored incident decodes to one with a well-formed id, or
// is refused; its clocks can always be read.
func FuzzDecode(f *testing.F) {
	b, _ := Encode(&Incident{ID: "inc_aaaaaaaaaaaaaaaa", Title: "t", Aware: now, Reports: []Report{{Phase: Initial, At: now}}})
	f.Add(b)
	f.Add([]byte(`{"id":"inc_aaaaaaaaaaaaaaaa","reports":[{"phase":"final"}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		i, err := Decode(b)
		if err != nil {
			return
		}
		if !ValidID(i.ID) {
			t.Fatalf("decoded a malformed id %q", i.ID)
		}
		if len(i.Clocks(now)) != 4 {
			t.Fatal("not four clocks")
		}
	})
}
