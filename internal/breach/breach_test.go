package breach

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/incident"
	"github.com/coffre/coffre/internal/notice"
)

var update = flag.Bool("update", false, "update golden files")

// golden compares got with testdata/name (go test -update rewrites it).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update to rewrite); got:\n%s", path, got)
	}
}

var paris = func() *time.Location {
	l, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		return time.FixedZone("CET", 3600)
	}
	return l
}()

// schema is the fields of the test directory: name, type, sensitivity.
var schema = map[string][2]string{
	"family_name":    {"name", "identity"},
	"given_name":     {"name", "identity"},
	"email_address":  {"email", "contact"},
	"mobile":         {"phone", "contact"},
	"birth_date":     {"date", "identity"},
	"nir":            {"national_id", "identity"},
	"postal_address": {"address", "contact"},
	"health_note":    {"text", "special"},
}

func count(name string, subjects, clear int64, mask string) incident.FieldCount {
	return incident.FieldCount{Subjects: subjects, Clear: clear, Mask: mask, Category: schema[name][0], Sensitivity: schema[name][1]}
}

var aware = time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)

// phished is a compromised operator account that read 412 records.
func phished() *incident.Incident {
	return &incident.Incident{
		ID: "inc_abcdefghijklmnop", Title: "Compte d'agent compromis par hameçonnage", Status: incident.Contained,
		Nature: []string{incident.Confidentiality}, Aware: aware, Opened: aware.Add(15 * time.Minute), OpenedBy: "cli:rssi",
		Detection: "alerte de la garde (vitesse de consultation)",
		Scope: incident.Scope{
			Operators: []string{"op_jdupont"}, Origins: []string{"203.0.113.0/24"},
			From: aware.Add(-11*time.Hour - 30*time.Minute),
		},
		Ended: aware.Add(90 * time.Minute),
		Impact: &incident.Impact{
			Computed: aware.Add(3 * time.Hour), LogSize: 98231, Checkpoint: 98200, Scanned: 5120, Matched: 1602,
			Subjects: 412, Records: 1530, Attempted: 37, Told: 12,
			Fields: map[string]incident.FieldCount{
				"family_name":   count("family_name", 412, 412, ""),
				"given_name":    count("given_name", 412, 412, ""),
				"email_address": count("email_address", 400, 150, "email"),
				"mobile":        count("mobile", 300, 0, "last4"),
				"birth_date":    count("birth_date", 6, 0, "year"),
			},
			Units: map[string]int64{"versailles": 412}, Channels: map[string]int64{"operator": 412},
		},
	}
}

func timeline() []incident.Event {
	ev := func(min int, kind, detail string) incident.Event {
		return incident.Event{Incident: "inc_abcdefghijklmnop", At: aware.Add(time.Duration(min) * time.Minute), Actor: "cli:rssi", Kind: kind, Detail: detail}
	}
	return []incident.Event{
		ev(15, "opened", ""), ev(20, "scope", "operators 1, origins 1"),
		ev(80, "revoke", "op_jdupont: 2 sessions"), ev(90, "lock", "op_jdupont"),
		ev(180, "impact", "412 subjects, log 98231"), ev(200, "reenrol", "op_jdupont"),
	}
}

func settings() Settings {
	return Settings{
		Organisation: "Ville d'Exemple", Controller: "Ville d'Exemple, 1 place de la Mairie, 78000 Exemple",
		DPO:       "Mme Claire Martin, 1 place de la Mairie, 78000 Exemple",
		Authority: "Commission nationale de l'informatique et des libertés (CNIL), 3 place de Fontenoy, TSA 80715, 75334 Paris Cedex 07",
		Portal:    "www.ville-exemple.fr", Location: paris,
		SIREN: "217800000", Reporter: "cli:rssi", Malicious: Yes, CrossBorder: No,
		PeopleCategories: "usagers des services municipaux",
	}
}

func TestReportGolden(t *testing.T) {
	inc := phished()
	inc.Reports = []incident.Report{{Phase: incident.Initial, At: aware.Add(20 * time.Hour), By: "cli:rssi"}}
	r, err := Build(inc, timeline(), settings(), incident.Complementary, aware.Add(30*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "report.json", append(js, '\n'))
	golden(t, "report.fr.md", []byte(r.Markdown("fr")))
	golden(t, "report.en.md", []byte(r.Markdown("en")))

	// The JSON reads back into a report that renders the same.
	var back Report
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if got, want := back.Markdown("en"), r.Markdown("en"); got != want {
		t.Errorf("the report read back from its JSON renders differently:\n%s", got)
	}
}

func TestBuildRefuses(t *testing.T) {
	noImpact := phished()
	noImpact.Impact = nil
	tests := []struct {
		name  string
		inc   *incident.Incident
		s     Settings
		phase string
		now   time.Time
		want  error
	}{
		{"no impact", noImpact, settings(), incident.Initial, aware.Add(time.Hour), ErrNoImpact},
		{"unknown phase", phished(), settings(), "early", aware.Add(time.Hour), ErrPhase},
		{"late without a reason", phished(), settings(), incident.Initial, aware.Add(73 * time.Hour), ErrDelayReason},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Build(tt.inc, nil, tt.s, tt.phase, tt.now)
			if !errors.Is(err, tt.want) || r != nil {
				t.Fatalf("Build = %v, %v; want %v", r, err, tt.want)
			}
		})
	}
	_, err := Build(noImpact, nil, settings(), incident.Initial, aware)
	if !strings.Contains(err.Error(), "coffre incident impact inc_abcdefghijklmnop") {
		t.Errorf("the error %q does not say how to compute the impact", err)
	}
}

func TestLate(t *testing.T) {
	s := settings()
	s.DelayReason = "l'ampleur de l'exposition n'était connue qu'après la vérification du journal"
	tests := []struct {
		name    string
		reports []incident.Report
		phase   string
		now     time.Duration // after awareness
		late    bool
	}{
		{"initial in time", nil, incident.Initial, 71 * time.Hour, false},
		{"initial late", nil, incident.Initial, 73 * time.Hour, true},
		{"complementary after an initial in time", []incident.Report{{Phase: incident.Initial, At: aware.Add(10 * time.Hour)}}, incident.Complementary, 200 * time.Hour, false},
		{"complementary after a late initial", []incident.Report{{Phase: incident.Initial, At: aware.Add(80 * time.Hour)}}, incident.Complementary, 100 * time.Hour, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inc := phished()
			inc.Reports = tt.reports
			r, err := Build(inc, nil, s, tt.phase, aware.Add(tt.now))
			if err != nil {
				t.Fatal(err)
			}
			if r.Late != tt.late {
				t.Errorf("Late = %v, want %v", r.Late, tt.late)
			}
			if md := r.Markdown("fr"); tt.late && !strings.Contains(md, s.DelayReason) {
				t.Error("a late report does not give the reasons for the delay")
			}
		})
	}
}

// TestConsequences: the table derives the consequences and the risk from
// the fields exposed.
func TestConsequences(t *testing.T) {
	tests := []struct {
		name   string
		clear  []string // fields exposed in clear
		masked []string // fields exposed masked only
		scope  incident.Scope
		want   []string
		risk   string
	}{
		{"name and email", []string{"family_name", "email_address"}, nil, incident.Scope{}, []string{"targeted-phishing", "disclosure"}, Medium},
		{"email alone", []string{"email_address"}, []string{"family_name"}, incident.Scope{}, []string{"phishing", "disclosure"}, Medium},
		{"phone", []string{"mobile"}, nil, incident.Scope{}, []string{"sms-voice-phishing", "disclosure"}, Medium},
		{"national id", []string{"nir"}, nil, incident.Scope{}, []string{"identity-fraud", "disclosure"}, High},
		{"address", []string{"postal_address"}, nil, incident.Scope{}, []string{"physical", "disclosure"}, Medium},
		{"name and birth date", []string{"given_name", "birth_date"}, nil, incident.Scope{}, []string{"identity-fraud-dates", "disclosure"}, High},
		{"birth date alone", []string{"birth_date"}, nil, incident.Scope{}, []string{"disclosure"}, Low},
		{"special category", []string{"health_note"}, nil, incident.Scope{}, []string{"discrimination", "disclosure"}, High},
		{"only masked", nil, []string{"family_name", "email_address", "mobile"}, incident.Scope{}, []string{"masked-only"}, Low},
		{"stolen store, keys safe", []string{"nir", "health_note"}, nil, incident.Scope{StoreStolen: true, KeysSafe: true}, []string{"unintelligible"}, Low},
		{"stolen store with its keys", nil, []string{"nir"}, incident.Scope{StoreStolen: true}, []string{"identity-fraud", "disclosure"}, High},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inc := phished()
			inc.Scope.StoreStolen, inc.Scope.KeysSafe = tt.scope.StoreStolen, tt.scope.KeysSafe
			inc.Impact.Fields = map[string]incident.FieldCount{}
			for _, f := range tt.clear {
				inc.Impact.Fields[f] = count(f, 10, 10, "")
			}
			for _, f := range tt.masked {
				inc.Impact.Fields[f] = count(f, 10, 0, "initials")
			}
			r, err := Build(inc, nil, settings(), incident.Initial, aware.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range r.Consequences {
				got = append(got, c.Key)
			}
			if !slices.Equal(got, tt.want) || r.Risk != tt.risk {
				t.Errorf("consequences %v, risk %s; want %v, %s", got, r.Risk, tt.want, tt.risk)
			}
		})
	}
}

func TestTold(t *testing.T) {
	queued := phished()
	queued.Letters = &incident.Letters{Queued: aware.Add(5 * time.Hour), By: "cli:rssi", People: 412, NoContact: 9}
	safe := phished()
	safe.Scope = incident.Scope{StoreStolen: true, KeysSafe: true, From: aware.Add(-time.Hour)}
	masked := phished()
	masked.Impact.Fields = map[string]incident.FieldCount{"mobile": count("mobile", 3, 0, "last4")}
	tests := []struct {
		name string
		inc  *incident.Incident
		want string
	}{
		{"letters queued", queued, ToldQueued},
		{"keys safe", safe, ToldNotRequired},
		{"masked only", masked, ToldNotRequired},
		{"not yet", phished(), ToldNotYet},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Build(tt.inc, nil, settings(), incident.Initial, aware.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if r.Told.Status != tt.want {
				t.Errorf("told %q, want %q", r.Told.Status, tt.want)
			}
		})
	}
}

func TestToComplete(t *testing.T) {
	r, err := Build(phished(), nil, Settings{Organisation: "Ville d'Exemple"}, incident.Final, aware.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"dpo", "reporter", "cnil.siren", "cnil.legal_representative", "cnil.contact_person", "nis2.suspected_malicious", "nis2.cross_border", "nis2.threat", "nis2.description"} {
		if !slices.Contains(r.ToComplete, want) {
			t.Errorf("to_complete %v lacks %s", r.ToComplete, want)
		}
	}
	if r.CNIL.SIREN != "" || !strings.Contains(r.Markdown("en"), "| SIREN | *to be completed* |") {
		t.Error("an unknown SIREN is not left to be completed")
	}
	r, _ = Build(phished(), nil, settings(), incident.Initial, aware.Add(time.Hour))
	if slices.Contains(r.ToComplete, "cnil.siren") || r.CNIL.SIREN != "217800000" {
		t.Errorf("the configured SIREN is not used: %q, to_complete %v", r.CNIL.SIREN, r.ToComplete)
	}
}

// letterCases are the letters pinned by golden files.
var letterCases = []struct {
	name    string
	inc     func() *incident.Incident
	exposed []Exposure
	contact notice.Contact
}{
	{"clear.fr", phished, []Exposure{{Field: "family_name", Clear: true}, {Field: "given_name", Clear: true}, {Field: "email_address", Clear: true}, {Field: "mobile", Mask: "last4"}},
		notice.Contact{Email: "x", Lang: "fr"}},
	{"clear.en", phished, []Exposure{{Field: "family_name", Clear: true}, {Field: "given_name", Clear: true}, {Field: "email_address", Clear: true}, {Field: "mobile", Mask: "last4"}},
		notice.Contact{Email: "x", Lang: "en"}},
	{"masked.fr", phished, []Exposure{{Field: "family_name", Mask: "initials"}, {Field: "email_address", Mask: "email"}, {Field: "birth_date", Mask: "year"}},
		notice.Contact{Email: "x", Lang: "fr"}},
	{"masked.en", phished, []Exposure{{Field: "family_name", Mask: "initials"}, {Field: "email_address", Mask: "email"}, {Field: "birth_date", Mask: "year"}},
		notice.Contact{Phone: "x", Lang: "en"}},
	{"special.fr", sensitive, []Exposure{{Field: "nir", Clear: true}, {Field: "health_note", Clear: true}, {Field: "postal_address", Clear: true}, {Field: "given_name", Mask: "initials"}},
		notice.Contact{Lang: "fr"}},
	{"special.en", sensitive, []Exposure{{Field: "nir", Clear: true}, {Field: "health_note", Clear: true}, {Field: "postal_address", Clear: true}, {Field: "given_name", Mask: "initials"}},
		notice.Contact{Lang: "en"}},
}

// sensitive is a breach that exposed national ids and health notes.
func sensitive() *incident.Incident {
	inc := phished()
	inc.Reports = []incident.Report{{Phase: incident.Initial, At: aware.Add(20 * time.Hour), By: "cli:rssi"}}
	inc.Ended = time.Time{}
	inc.Impact.Fields = map[string]incident.FieldCount{
		"nir":            count("nir", 40, 40, ""),
		"health_note":    count("health_note", 40, 40, ""),
		"postal_address": count("postal_address", 40, 40, ""),
		"given_name":     count("given_name", 40, 0, "initials"),
	}
	return inc
}

const phrase = "lune-sapin-violon-olive"

func TestLetterGolden(t *testing.T) {
	for _, tc := range letterCases {
		t.Run(tc.name, func(t *testing.T) {
			s := settings()
			s.Measures = MeasureKinds(timeline())
			text := Letter(tc.inc(), tc.exposed, tc.contact, s, phrase)
			golden(t, "letter."+tc.name+".txt", []byte("Subject: "+text.Subject+"\n\n"+text.Body+"\n--- SMS ---\n"+text.SMS+"\n"))
		})
	}
}

// wordRE finds a field's words as whole words.
func wordRE(field string) *regexp.Regexp {
	return regexp.MustCompile(`(?i)\b` + regexp.QuoteMeta(notice.FieldNames([]string{field})) + `\b`)
}

// TestLetterNamesExactly: a letter lists exactly the person's exposed
// fields, each once, and names no other field of the schema anywhere; it
// holds no link, asks for nothing, shows the phrase.
func TestLetterNamesExactly(t *testing.T) {
	for _, tc := range letterCases {
		t.Run(tc.name, func(t *testing.T) {
			s := settings()
			s.Measures = MeasureKinds(timeline())
			text := Letter(tc.inc(), tc.exposed, tc.contact, s, phrase)
			var want []string
			for _, x := range tc.exposed {
				want = append(want, notice.FieldNames([]string{x.Field}))
			}
			if got := listed(text.Body); !slices.Equal(got, want) {
				t.Errorf("the letter lists %q, want %q", got, want)
			}
			all := text.Subject + "\n" + text.Body + "\n" + text.SMS
			for name := range schema {
				if slices.ContainsFunc(tc.exposed, func(x Exposure) bool { return x.Field == name }) {
					continue
				}
				if wordRE(name).MatchString(all) {
					t.Errorf("the letter names %s, which was not exposed", name)
				}
			}
			for _, bad := range []string{"://", "http", "cliquez ici", "click here"} {
				if strings.Contains(strings.ToLower(all), bad) {
					t.Errorf("the letter holds %q", bad)
				}
			}
			if !strings.Contains(text.Body, phrase) || !strings.Contains(text.SMS, phrase) {
				t.Error("the letter or its SMS lacks the verification phrase")
			}
			if !strings.Contains(text.Body, s.Portal) || !strings.Contains(text.Body, s.DPO) || !strings.Contains(text.Body, s.Authority) {
				t.Error("the letter lacks the portal, the DPO or the authority")
			}
			if n := len([]rune(text.SMS)); n > 320 {
				t.Errorf("the SMS is %d characters long, want at most 320 (two parts)", n)
			}
		})
	}
}

// listed returns the field names of the letter's list of exposed fields.
func listed(body string) []string {
	var out []string
	in := false
	for _, l := range strings.Split(body, "\n") {
		switch {
		case l == letterLang["fr"].hFields || l == letterLang["en"].hFields:
			in = true
		case in && strings.HasPrefix(l, "  - "):
			name, _, _ := strings.Cut(strings.TrimPrefix(l, "  - "), ":")
			out = append(out, strings.TrimSpace(name))
		case in && strings.Trim(l, "-") == "":
		case in:
			return out
		}
	}
	return out
}

func TestLetterMaskedOnly(t *testing.T) {
	for _, lang := range []string{"fr", "en"} {
		text := Letter(phished(), []Exposure{{Field: "family_name", Mask: "initials"}, {Field: "mobile", Mask: "last4"}}, notice.Contact{Lang: lang}, settings(), phrase)
		low := map[string][2]string{"fr": {"Le risque pour vous est faible", "risque faible"}, "en": {"The risk to you is low", "low risk"}}[lang]
		if !strings.Contains(text.Body, low[0]) || !strings.Contains(text.SMS, low[1]) {
			t.Errorf("%s: a masked-only letter does not say the risk is low:\n%s", lang, text.Body)
		}
		if strings.Contains(text.Body, letterLang[lang].clear) {
			t.Errorf("%s: a masked-only letter calls a field visible in clear", lang)
		}
	}
	// A stolen store with its keys: masked views do not protect it.
	inc := phished()
	inc.Scope.StoreStolen = true
	text := Letter(inc, []Exposure{{Field: "family_name", Mask: "initials"}}, notice.Contact{Lang: "en"}, settings(), phrase)
	if !strings.Contains(text.Body, "family name: visible in clear") {
		t.Errorf("a field of a store stolen with its keys is not told as in clear:\n%s", text.Body)
	}
}

func TestLetterKeysSafe(t *testing.T) {
	inc := phished()
	inc.Scope = incident.Scope{StoreStolen: true, KeysSafe: true, From: aware.Add(-48 * time.Hour)}
	for _, lang := range []string{"fr", "en"} {
		text := Letter(inc, []Exposure{{Field: "nir", Clear: true}, {Field: "health_note", Clear: true}}, notice.Contact{Lang: lang}, settings(), phrase)
		want := map[string][]string{
			"fr": {"vos données y sont illisibles", "Le risque pour vous est faible"},
			"en": {"your data in it cannot be read", "The risk to you is low"},
		}[lang]
		for _, w := range want {
			if !strings.Contains(text.Body, w) {
				t.Errorf("%s: the letter of a store stolen without its keys lacks %q:\n%s", lang, w, text.Body)
			}
		}
		if strings.Contains(text.Body, map[string]string{"fr": "usurper", "en": "impersonate"}[lang]) {
			t.Errorf("%s: the letter of unreadable data warns of identity fraud", lang)
		}
	}
}

func TestFinalReport(t *testing.T) {
	inc := phished()
	inc.Reports = []incident.Report{{Phase: incident.Initial, At: aware.Add(20 * time.Hour)}}
	s := settings()
	s.Threat = "hameçonnage d'identifiants d'un agent"
	s.Description = "compte d'agent utilisé depuis une adresse étrangère"
	s.Indicators = []string{"sha256:0f1e"}
	r, err := Build(inc, timeline(), s, incident.Final, aware.Add(20*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	md := r.Markdown("en")
	for _, want := range []string{"final report (one month)", s.Threat, s.Description, "203.0.113.0/24, sha256:0f1e"} {
		if !strings.Contains(md, want) {
			t.Errorf("the final report lacks %q", want)
		}
	}
	if r.CNIL.Type != "complémentaire" || slices.Contains(r.ToComplete, "nis2.threat") {
		t.Errorf("CNIL type %q, to_complete %v", r.CNIL.Type, r.ToComplete)
	}
}
