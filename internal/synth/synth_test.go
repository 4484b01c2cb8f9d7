package synth

import (
	"maps"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// population is the number of people the population-wide tests generate.
const population = 300_000

var allKeys = []string{
	GivenName, FamilyName, EmailPro, EmailPersonal, Phone, BirthDate,
	NationalID, Address, Employer, JobTitle,
}

func TestUnits(t *testing.T) {
	codes := Units()
	if len(codes) < 25 || len(codes) > 35 {
		t.Errorf("len(Units()) = %d, want about 30", len(codes))
	}
	code := regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	seen := map[string]bool{}
	for _, c := range codes {
		if !code.MatchString(c) {
			t.Errorf("unit code %q is not lower-case [a-z0-9-]", c)
		}
		if seen[c] {
			t.Errorf("unit code %q repeats", c)
		}
		seen[c] = true
	}
	for _, want := range []string{"ac-versailles", "ac-creteil", "ac-paris", "ac-lyon", "ft-idf-nord"} {
		if !seen[want] {
			t.Errorf("Units() lacks %q", want)
		}
	}
	codes[0] = "changed"
	if Units()[0] == "changed" {
		t.Error("Units() returns a slice shared between calls")
	}
}

func TestMakeDeterministic(t *testing.T) {
	for _, tc := range []struct {
		seed uint64
		i    int
	}{{0, 0}, {1, 0}, {1, 1}, {42, 123_456}, {^uint64(0), 1 << 40}, {7, -1}} {
		a, b := Make(tc.seed, tc.i), Make(tc.seed, tc.i)
		if a.Unit != b.Unit || !maps.Equal(a.Fields, b.Fields) {
			t.Errorf("Make(%d, %d) differs between calls:\n%v\n%v", tc.seed, tc.i, a, b)
		}
	}
	// A pinned person catches accidental changes to the output, which
	// would silently change demo data and benchmark baselines.
	got := Make(1, 0)
	want := Person{Unit: "ac-normandie", Fields: map[string]string{
		GivenName:     "Aurélie",
		FamilyName:    "Arnaud",
		EmailPro:      "aurelie.arnaud@ac-normandie.fr",
		EmailPersonal: "aurelie.arnaud65@orange.fr",
		Phone:         "07 62 84 28 65",
		BirthDate:     "1965-11-20",
		NationalID:    "265112475026556",
		Address:       "108 rue Pasteur, 27000 Évreux",
		Employer:      "Lycée Albert Camus",
		JobTitle:      "Professeure de SES",
	}}
	if got.Unit != want.Unit || !maps.Equal(got.Fields, want.Fields) {
		t.Errorf("Make(1, 0) got\n%v\nwant\n%v", got, want)
	}
}

func TestMakeDiffers(t *testing.T) {
	for _, tc := range []struct {
		name           string
		seedA, seedB   uint64
		iA, iB         int
		sameNamePrefix bool
	}{
		{name: "next index", seedA: 1, seedB: 1, iA: 0, iB: 1},
		{name: "other seed", seedA: 1, seedB: 2, iA: 5, iB: 5},
		{name: "next round", seedA: 1, seedB: 1, iA: 3, iB: 3 + int(namePairs)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := Make(tc.seedA, tc.iA), Make(tc.seedB, tc.iB)
			for _, k := range []string{EmailPro, EmailPersonal, Phone, NationalID} {
				if a.Fields[k] == b.Fields[k] {
					t.Errorf("%s: Make(%d, %d) and Make(%d, %d) both have %q", k, tc.seedA, tc.iA, tc.seedB, tc.iB, a.Fields[k])
				}
			}
		})
	}
}

// TestPopulation generates a population and checks every person's fields,
// the uniqueness of the lookup keys and the share of health notes.
func TestPopulation(t *testing.T) {
	n := population
	if testing.Short() {
		n = 30_000
	}
	female := map[string]bool{}
	for _, g := range givenNames {
		female[g.name] = g.female
	}
	unitOK := map[string]bool{}
	for _, u := range Units() {
		unitOK[u] = true
	}
	var (
		phone = regexp.MustCompile(`^0[67]( [0-9]{2}){4}$`)
		email = regexp.MustCompile(`^[a-z0-9._-]+@[a-z0-9-]+(\.[a-z0-9-]+)+$`)
		addr  = regexp.MustCompile(`^[0-9]+( bis)? [^,]+, [0-9]{5} \S.*$`)
		nir   = regexp.MustCompile(`^[12][0-9]{4}([0-9]{2}|2A|2B)[0-9]{8}$`)
	)
	unique := map[string]map[string]int{}
	for _, k := range []string{EmailPro, EmailPersonal, Phone, NationalID} {
		unique[k] = make(map[string]int, n)
	}
	notes := 0
	for i := range n {
		p := Make(7, i)
		f := p.Fields
		if !unitOK[p.Unit] {
			t.Fatalf("person %d: unit %q is not in Units()", i, p.Unit)
		}
		for _, k := range allKeys {
			if f[k] == "" {
				t.Fatalf("person %d: field %s is missing or empty: %v", i, k, f)
			}
		}
		if note, ok := f[HealthNote]; ok {
			if note == "" {
				t.Fatalf("person %d: empty health note present", i)
			}
			notes++
		}
		for k := range f {
			if k != HealthNote && !contains(allKeys, k) {
				t.Fatalf("person %d: unexpected field %q", i, k)
			}
		}
		for k, seen := range unique {
			if j, dup := seen[f[k]]; dup {
				t.Fatalf("%s %q of person %d repeats person %d", k, f[k], i, j)
			}
			seen[f[k]] = i
		}
		for _, k := range []string{EmailPro, EmailPersonal} {
			if !email.MatchString(f[k]) {
				t.Fatalf("person %d: %s %q is not a lower-case ASCII address", i, k, f[k])
			}
		}
		if !phone.MatchString(f[Phone]) {
			t.Fatalf("person %d: phone %q is not a French mobile number", i, f[Phone])
		}
		if !addr.MatchString(f[Address]) {
			t.Fatalf("person %d: address %q is not \"12 rue des Lilas, 78000 Versailles\"-like", i, f[Address])
		}
		birth, err := time.Parse(time.DateOnly, f[BirthDate])
		if err != nil || birth.Format(time.DateOnly) != f[BirthDate] {
			t.Fatalf("person %d: birth date %q is not a calendar date", i, f[BirthDate])
		}
		if y := birth.Year(); y < 1950 || y > 2004 {
			t.Fatalf("person %d: birth year %d outside 1950–2004", i, y)
		}
		id := f[NationalID]
		if !nir.MatchString(id) {
			t.Fatalf("person %d: national id %q is not 15 characters of NIR shape", i, id)
		}
		if want := nirKey(t, id[:13]); id[13:] != want {
			t.Fatalf("person %d: national id %q has key %s, want %s", i, id, id[13:], want)
		}
		if want := map[bool]string{false: "1", true: "2"}[female[f[GivenName]]]; id[:1] != want {
			t.Fatalf("person %d: national id %q starts with %s, want %s for %s", i, id, id[:1], want, f[GivenName])
		}
		if want := f[BirthDate][2:4] + f[BirthDate][5:7]; id[1:5] != want {
			t.Fatalf("person %d: national id %q has birth year and month %s, want %s from %s", i, id, id[1:5], want, f[BirthDate])
		}
	}
	if share := float64(notes) / float64(n); share < 0.04 || share > 0.06 {
		t.Errorf("%.2f%% of people have a health note, want about 5%%", 100*share)
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// nirKey recomputes the key of the first 13 characters of a NIR, reading
// the Corsican departments 2A and 2B as 19 and 18.
func nirKey(t *testing.T, first13 string) string {
	t.Helper()
	s := first13
	switch s[5:7] {
	case "2A":
		s = s[:5] + "19" + s[7:]
	case "2B":
		s = s[:5] + "18" + s[7:]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("NIR %q: %v", first13, err)
	}
	return strconv.FormatInt(100+97-n%97, 10)[1:]
}

func TestAppendNIR(t *testing.T) {
	for _, tc := range []struct {
		name      string
		female    bool
		yy, month int
		j         uint64
		want      string
	}{
		// The example of internal/value: 1 84 12 76 451 089 46.
		{"Seine-Maritime", false, 84, 12, 76 + nirDepts*(450+nirComms*88), "184127645108946"},
		{"Corse-du-Sud", true, 69, 2, 19 + nirDepts*(203+nirComms*509), "269022A20451078"},
		{"Haute-Corse, last", false, 0, 1, nirSpace - 76, "100012B99099915"},
		{"Ain, first", true, 5, 1, 0, "205010100100101"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := string(appendNIR(nil, tc.female, tc.yy, tc.month, tc.j))
			if got != tc.want {
				t.Errorf("appendNIR(%v, %d, %d, %d) got %q, want %q", tc.female, tc.yy, tc.month, tc.j, got, tc.want)
			}
		})
	}
}

func TestAppendSlug(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Marie-Claire", "marie-claire"},
		{"Élodie", "elodie"},
		{"Anaïs", "anais"},
		{"Loïc", "loic"},
		{"Le Gall", "le-gall"},
		{"N'Diaye", "ndiaye"},
		{"de La Fontaine", "de-la-fontaine"},
		{"d'Aubigné", "daubigne"},
		{"Schœlcher", "schoelcher"},
	} {
		if got := string(appendSlug(nil, tc.in)); got != tc.want {
			t.Errorf("appendSlug(%q) got %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"Marie", "m"}, {"Jean-Baptiste", "jb"}, {"Élodie", "e"},
	} {
		if got := string(appendInitials(nil, tc.in)); got != tc.want {
			t.Errorf("appendInitials(%q) got %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestNames checks the name lists: sizes, the variety the demo shows, and
// distinct slugs, which the uniqueness of email addresses relies on.
func TestNames(t *testing.T) {
	if len(givenNames) < 100 || len(familyNames) < 150 {
		t.Errorf("%d given and %d family names, want ≥ 100 and ≥ 150", len(givenNames), len(familyNames))
	}
	var given, family []string
	women := 0
	for _, g := range givenNames {
		given = append(given, g.name)
		if g.female {
			women++
		}
	}
	if women < len(givenNames)/3 || women > 2*len(givenNames)/3 {
		t.Errorf("%d of %d given names are female, want a balance", women, len(givenNames))
	}
	family = familyNames[:]
	slug := regexp.MustCompile(`^[a-z]+(-[a-z]+)*$`)
	for _, list := range []struct {
		name  string
		names []string
		want  []string
	}{
		{"given", given, []string{"Marie-Claire", "Jean-Baptiste", "Élodie", "Anaïs", "Loïc"}},
		{"family", family, []string{"Dupont", "Martin", "Le Gall", "N'Diaye", "de La Fontaine"}},
	} {
		seen := map[string]string{}
		for _, name := range list.names {
			s := string(appendSlug(nil, name))
			if !slug.MatchString(s) {
				t.Errorf("%s name %q has slug %q, want [a-z] words joined by hyphens", list.name, name, s)
			}
			if other, dup := seen[s]; dup {
				t.Errorf("%s names %q and %q have the same slug %q", list.name, other, name, s)
			}
			seen[s] = name
		}
		for _, w := range list.want {
			if !contains(list.names, w) {
				t.Errorf("%s names lack %q", list.name, w)
			}
		}
	}
}

func TestPermute(t *testing.T) {
	for _, n := range []uint64{1, 2, 3, 7, 64, 100, 1000, namePairs, 100_003} {
		for _, k := range []uint64{0, 1, 0xDEADBEEF12345678} {
			seen := make([]bool, n)
			for x := range n {
				y := permute(x, n, k)
				if y >= n || seen[y] {
					t.Fatalf("permute(·, %d, %#x) is not a bijection: %d maps to %d", n, k, x, y)
				}
				seen[y] = true
			}
		}
	}
}

func TestHealthNotesShort(t *testing.T) {
	for _, note := range healthNotes {
		if len(note) > 80 || strings.TrimSpace(note) != note {
			t.Errorf("health note %q is not a short note", note)
		}
	}
}

func BenchmarkMake(b *testing.B) {
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		Make(1, i)
		i++
	}
}
