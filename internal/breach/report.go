package breach

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/incident"
	"github.com/coffre/coffre/internal/policy"
)

// Report is a report of a breach to the supervisory authority (GDPR art.
// 33(3)) and, beside it, to the CSIRT (NIS2 art. 23(4)), at one phase. Its
// JSON field names are stable. It holds ids, dates, counts, field names
// and the officer's words: never a person's data.
type Report struct {
	Incident string    `json:"incident"`
	Title    string    `json:"title"`
	Phase    string    `json:"phase"`
	Status   string    `json:"status"`
	Made     time.Time `json:"made"`
	Reporter string    `json:"reporter"`
	// Controller and DPO are the contacts (art. 33(3)(b)).
	Controller string `json:"controller"`
	DPO        string `json:"dpo"`

	// Nature is what the breach compromised (confidentiality, integrity,
	// availability); Detection how it was found; Vector what was
	// compromised.
	Nature    []string `json:"nature"`
	Detection string   `json:"detection"`
	Vector    Vector   `json:"vector"`
	Dates     Dates    `json:"dates"`

	// People and Data are the categories and approximate numbers of
	// people and records concerned (art. 33(3)(a)).
	People People         `json:"people"`
	Data   []DataCategory `json:"data"`

	// Risk is the risk level for the people, Consequences the likely
	// consequences (art. 33(3)(c)), both derived from the fields exposed.
	Risk         string        `json:"risk"`
	Consequences []Consequence `json:"consequences"`

	// Taken and Proposed are the measures (art. 33(3)(d)).
	Taken    []Measure `json:"measures_taken"`
	Proposed []Words   `json:"measures_proposed"`

	// Told says whether the people are or will be told (art. 34).
	Told Told `json:"people_told"`

	// Late says the notification comes more than 72 hours after
	// awareness; DelayReason gives the reasons (art. 33(1)).
	Late        bool             `json:"late"`
	DelayReason string           `json:"delay_reason,omitempty"`
	Clocks      []incident.Clock `json:"clocks"`

	NIS2 NIS2 `json:"nis2"`
	CNIL CNIL `json:"cnil"`

	// ToComplete names the fields left empty that the officer should
	// complete (Settings), as JSON paths ("cnil.siren").
	ToComplete []string `json:"to_complete,omitempty"`
}

// Vector is what the scope says was compromised: how many operator and
// partner accounts (their ids are in the incident), the origins, every
// access (the vector is unknown) or the store itself.
type Vector struct {
	Operators   int      `json:"operators"`
	Partners    int      `json:"partners"`
	Origins     []string `json:"origins,omitempty"`
	Everything  bool     `json:"everything"`
	StoreStolen bool     `json:"store_stolen"`
	KeysSafe    bool     `json:"keys_safe"`
}

// Dates of the breach: its start (the scope's window), when the
// organisation became aware of it (the clocks start then), its end (zero
// while Ongoing), when the incident was recorded.
type Dates struct {
	Started  time.Time     `json:"started"`
	Aware    time.Time     `json:"aware"`
	Ended    time.Time     `json:"ended,omitzero"`
	Ongoing  bool          `json:"ongoing"`
	Recorded time.Time     `json:"recorded"`
	Duration time.Duration `json:"duration_ns,omitempty"` // Started to Ended
}

// People counts the people concerned.
type People struct {
	// Categories names who they are (Settings.PeopleCategories).
	Categories string `json:"categories"`
	// Exposed had at least one field returned; Attempted were only
	// attempted (nothing returned); Records is the field values returned.
	Exposed   int64 `json:"exposed"`
	Attempted int64 `json:"attempted"`
	Records   int64 `json:"records"`
	// Told had already been told of every access in scope by a notice.
	Told int64 `json:"already_told"`
	// ByUnit and ByChannel count them by the unit of the accounts and by
	// channel (operator, partner).
	ByUnit    map[string]int64 `json:"by_unit,omitempty"`
	ByChannel map[string]int64 `json:"by_channel,omitempty"`
}

// DataCategory is one field exposed: its type and sensitivity (the
// schema's), how many people had it returned, in clear and masked.
type DataCategory struct {
	Field       string `json:"field"`
	Type        string `json:"type"`
	Sensitivity string `json:"sensitivity"`
	People      int64  `json:"people"`
	Clear       int64  `json:"clear"`
	Masked      int64  `json:"masked"`
	Mask        string `json:"mask,omitempty"`
}

// Measure is one containment step of the timeline.
type Measure struct {
	Kind   string    `json:"kind"`
	At     time.Time `json:"at"`
	By     string    `json:"by"`
	Detail string    `json:"detail,omitempty"`
	Text   Words     `json:"text"`
}

// Told is whether the people are told (art. 34): Queued when the letters
// were queued (zero: not yet), how many, how many by post; Why when they
// are not (yet) told.
type Told struct {
	Status    string    `json:"status"` // queued, not-required, not-yet
	Queued    time.Time `json:"queued,omitzero"`
	People    int64     `json:"people,omitempty"`
	NoContact int64     `json:"by_post,omitempty"`
	Why       Words     `json:"why,omitzero"`
}

// Told statuses.
const (
	ToldQueued      = "queued"
	ToldNotRequired = "not-required"
	ToldNotYet      = "not-yet"
)

// NIS2 holds the items of NIS2 art. 23(4): (a) the early warning, (b)
// the incident notification, (d) the final report. Stage says which this
// report is.
type NIS2 struct {
	Stage string `json:"stage"` // early-warning+notification, intermediate, final
	// (a) suspected unlawful or malicious act; possible cross-border
	// impact.
	Malicious   Answer `json:"suspected_malicious"`
	CrossBorder Answer `json:"cross_border"`
	// (b) initial assessment: severity and impact; indicators of
	// compromise.
	Severity   string   `json:"severity"`
	Impact     Words    `json:"impact"`
	Indicators []string `json:"indicators_of_compromise"`
	// (d) detailed description, type of threat or root cause, applied and
	// ongoing mitigation (the measures), cross-border impact (above).
	Description string `json:"description"`
	Threat      string `json:"threat"`
}

// NIS2 stages, by report phase.
var nis2Stage = map[string]string{
	incident.Initial:       "early-warning+notification",
	incident.Complementary: "intermediate",
	incident.Final:         "final",
}

// CNIL is the report laid out as the CNIL's online form asks
// (notifications.cnil.fr/notifications/violation), with the EDPB draft
// common template's items, in French: what Coffre knows is filled, what
// it cannot know is "" and listed in Report.ToComplete. Sources:
//   - CNIL, "Notifier une violation de données personnelles" (24 May 2018)
//     and CNIL Direct, "Quand faut-il notifier une violation de données à
//     la CNIL ?": nature; categories and approximate number of people;
//     categories and approximate number of records; likely consequences;
//     measures taken or planned; an initial then a complementary
//     notification; the reasons when past 72 hours.
//   - Stoïk, "[FR] How to notify the CNIL in the event of a data breach"
//     (docs.stoik.io): initial notification, completed later; the SIREN
//     (or a box to tick without one); the contact person and the legal
//     representative, both filled even when the same; as many details as
//     known; the consequences in free text, the controller's reading.
//   - EDPB draft common template (10 June 2026, via Hayes solicitors,
//     Matheson, Pinsent Masons): type of notification; controller,
//     reporting person, DPO; nature with date, time and duration; data
//     subjects; protection measures in place; consequences; mitigating
//     and preventive measures; communications with data subjects.
type CNIL struct {
	Service string `json:"service"`
	// Type is "initiale" or "complémentaire" (a final report completes
	// the notification).
	Type                string `json:"type"`
	Organisation        string `json:"organisation"`
	SIREN               string `json:"siren"`
	LegalRepresentative string `json:"legal_representative"`
	ContactPerson       string `json:"contact_person"`
	DPO                 string `json:"dpo"`
	Reporter            string `json:"reporter"`

	Nature        string `json:"nature"`
	Circumstances string `json:"circumstances"`
	Detection     string `json:"detection"`
	Origin        string `json:"origin"` // malicious act, or to be completed
	Started       string `json:"started"`
	Discovered    string `json:"discovered"`
	Ended         string `json:"ended"`
	Duration      string `json:"duration"`

	PeopleCategories string   `json:"people_categories"`
	People           int64    `json:"people"`
	Records          int64    `json:"records"`
	DataCategories   []string `json:"data_categories"`
	SpecialData      bool     `json:"special_categories"`

	ProtectionInPlace string `json:"protection_in_place"`
	Consequences      string `json:"consequences"`
	Severity          string `json:"severity"`
	MeasuresTaken     string `json:"measures_taken"`
	MeasuresProposed  string `json:"measures_proposed"`
	PeopleInformed    string `json:"people_informed"`
	DelayReason       string `json:"delay_reason"`
	CrossBorder       string `json:"cross_border"`
}

// CNILService is the address of the CNIL's online notification service.
const CNILService = "https://notifications.cnil.fr/notifications/violation"

// DefaultProposed are the measures proposed when the officer names none.
var DefaultProposed = []Words{
	{FR: "Revoir les droits et les budgets de consultation des comptes en cause, et l'authentification de leurs titulaires.", EN: "Review the rights and read budgets of the accounts involved, and their holders' authentication."},
	{FR: "Vérifier le journal d'audit jusqu'au dernier point de contrôle signé et suivre les alertes de la garde.", EN: "Verify the audit log up to the last signed checkpoint and follow the guard's alerts."},
	{FR: "Informer les personnes exposées et leur conseiller la vigilance face à l'hameçonnage.", EN: "Tell the people exposed and advise them to watch for phishing."},
	{FR: "Sensibiliser les agents au risque d'hameçonnage et de vol d'identifiants.", EN: "Train staff on phishing and credential theft."},
}

// measureText are the timeline's containment kinds, in words.
var measureText = map[string]Words{
	"seal":            {FR: "Coffre mis sous scellés : aucun dossier n'est lisible avant le descellement par les détenteurs de parts.", EN: "Vault sealed: no record can be read until the share holders unseal it."},
	"revoke":          {FR: "Sessions des comptes en cause révoquées.", EN: "Sessions of the accounts involved revoked."},
	"lock":            {FR: "Comptes en cause verrouillés.", EN: "Accounts involved locked."},
	"disable":         {FR: "Comptes en cause désactivés.", EN: "Accounts involved disabled."},
	"rotate-partners": {FR: "Identifiants des partenaires en cause renouvelés.", EN: "Credentials of the partners involved rotated."},
	"reenrol":         {FR: "Réinscription des agents en cause avec de nouveaux facteurs d'authentification.", EN: "Operators involved re-enrolled with new authentication factors."},
	"rotate-root-key": {FR: "Clé racine de chiffrement renouvelée.", EN: "Root encryption key rotated."},
}

// personMeasure are the same, as told to a person.
var personMeasure = map[string]Words{
	"seal":            {FR: "Nous avons bloqué tout accès aux dossiers le temps de l'enquête.", EN: "We blocked all access to records during the investigation."},
	"revoke":          {FR: "Nous avons fermé les connexions des comptes en cause.", EN: "We closed the sessions of the accounts involved."},
	"lock":            {FR: "Nous avons bloqué les comptes en cause.", EN: "We blocked the accounts involved."},
	"disable":         {FR: "Nous avons désactivé les comptes en cause.", EN: "We disabled the accounts involved."},
	"rotate-partners": {FR: "Nous avons changé les clés d'accès des organismes partenaires en cause.", EN: "We changed the access keys of the partner bodies involved."},
	"reenrol":         {FR: "Les agents en cause ont dû se réinscrire avec de nouveaux moyens de connexion.", EN: "The staff involved had to enrol again with new means of signing in."},
	"rotate-root-key": {FR: "Nous avons changé la clé de chiffrement principale.", EN: "We changed the main encryption key."},
}

// measureOrder are the containment kinds, in the order a letter tells
// them.
var measureOrder = []string{"seal", "revoke", "lock", "disable", "rotate-partners", "reenrol", "rotate-root-key"}

// MeasureKinds returns the kinds of the containment steps of a timeline,
// once each (Settings.Measures).
func MeasureKinds(events []incident.Event) []string {
	var out []string
	for _, e := range events {
		if _, ok := measureText[e.Kind]; ok && !slices.Contains(out, e.Kind) {
			out = append(out, e.Kind)
		}
	}
	return out
}

// Build writes the report of inc at phase, from its timeline events, at
// now. It refuses an incident whose impact was never computed
// ([ErrNoImpact]), an unknown phase ([ErrPhase]), and a notification
// later than 72 hours after awareness without s.DelayReason
// ([ErrDelayReason]).
func Build(inc *incident.Incident, events []incident.Event, s Settings, phase string, now time.Time) (*Report, error) {
	if !slices.Contains(incident.Phases, phase) {
		return nil, fmt.Errorf("%w %q: want %s", ErrPhase, phase, strings.Join(incident.Phases, ", "))
	}
	if inc.Impact == nil {
		return nil, fmt.Errorf("incident %s: %w: compute the impact first: coffre incident impact %s", inc.ID, ErrNoImpact, inc.ID)
	}
	loc := s.Location
	if loc == nil {
		loc = time.UTC
	}
	clocks := inc.Clocks(now)
	late := false
	for _, c := range clocks {
		if c.Name == "gdpr-notification" {
			late = c.Overdue
		}
	}
	if late && strings.TrimSpace(s.DelayReason) == "" {
		return nil, ErrDelayReason
	}
	controller := s.Controller
	if controller == "" {
		controller = s.Organisation
	}
	im := inc.Impact
	r := &Report{
		Incident: inc.ID, Title: inc.Title, Phase: phase, Status: inc.Status, Made: now.In(loc),
		Reporter: s.Reporter, Controller: controller, DPO: s.DPO,
		Nature: slices.Clone(inc.Nature), Detection: inc.Detection,
		Vector: Vector{
			Operators: len(inc.Scope.Operators), Partners: len(inc.Scope.Partners), Origins: slices.Clone(inc.Scope.Origins),
			Everything: inc.Scope.Everything, StoreStolen: inc.Scope.StoreStolen, KeysSafe: inc.Scope.KeysSafe,
		},
		Dates: Dates{Started: inc.Scope.From.In(loc), Aware: inc.Aware.In(loc), Recorded: inc.Opened.In(loc), Ongoing: inc.Ended.IsZero()},
		People: People{
			Categories: s.PeopleCategories, Exposed: im.Subjects, Attempted: im.Attempted, Records: im.Records, Told: im.Told,
			ByUnit: maps.Clone(im.Units), ByChannel: maps.Clone(im.Channels),
		},
		Late: late, DelayReason: s.DelayReason, Clocks: clocks,
	}
	if r.People.Categories == "" {
		r.People.Categories = "personnes dont le dossier figure dans l'annuaire (Coffre) / people whose record is in the directory (Coffre)"
	}
	if !inc.Ended.IsZero() {
		r.Dates.Ended = inc.Ended.In(loc)
		r.Dates.Duration = inc.Ended.Sub(inc.Scope.From)
	}
	for k := range r.Clocks {
		r.Clocks[k].Due = r.Clocks[k].Due.In(loc)
		if !r.Clocks[k].Done.IsZero() {
			r.Clocks[k].Done = r.Clocks[k].Done.In(loc)
		}
	}

	e := exposure{nature: inc.Nature, scope: inc.Scope}
	for _, name := range slices.Sorted(maps.Keys(im.Fields)) {
		fc := im.Fields[name]
		d := DataCategory{Field: name, Type: fc.Category, Sensitivity: fc.Sensitivity, People: fc.Subjects, Clear: fc.Clear, Masked: fc.Subjects - fc.Clear, Mask: fc.Mask}
		// A store taken with its keys is read in clear, whatever a view
		// would have masked.
		readable := inc.Scope.StoreStolen && !inc.Scope.KeysSafe
		if readable {
			d.Clear, d.Masked, d.Mask = d.People, 0, ""
		}
		r.Data = append(r.Data, d)
		e.fields = append(e.fields, field{name: name, typ: policy.FieldType(fc.Category), sensitivity: policy.Sensitivity(fc.Sensitivity), clear: d.Clear > 0})
	}
	slices.SortStableFunc(r.Data, func(a, b DataCategory) int { return sensitivityRank(a.Sensitivity) - sensitivityRank(b.Sensitivity) })
	r.Consequences, _, r.Risk = assess(e)

	for _, ev := range events {
		if w, ok := measureText[ev.Kind]; ok {
			r.Taken = append(r.Taken, Measure{Kind: ev.Kind, At: ev.At.In(loc), By: ev.Actor, Detail: ev.Detail, Text: w})
		}
	}
	if len(s.Proposed) > 0 {
		for _, p := range s.Proposed {
			r.Proposed = append(r.Proposed, Words{FR: p, EN: p})
		}
	} else {
		r.Proposed = slices.Clone(DefaultProposed)
	}

	r.Told = told(inc, s, r.Risk)
	r.NIS2 = NIS2{
		Stage: nis2Stage[phase], Malicious: s.Malicious, CrossBorder: s.CrossBorder,
		Severity: r.Risk, Impact: impactWords(r), Indicators: append(slices.Clone(inc.Scope.Origins), s.Indicators...),
		Description: s.Description, Threat: s.Threat,
	}
	r.cnil(s)
	r.toComplete(s, phase)
	r.listsNotNull()
	return r, nil
}

// listsNotNull makes every list of r an empty one rather than nil, so that
// its JSON holds [] where a list is meant, never null (the API's
// document says a list; the report filed and written by the CLI is the
// same).
func (r *Report) listsNotNull() {
	if r.Nature == nil {
		r.Nature = []string{}
	}
	if r.Data == nil {
		r.Data = []DataCategory{}
	}
	if r.Consequences == nil {
		r.Consequences = []Consequence{}
	}
	if r.Taken == nil {
		r.Taken = []Measure{}
	}
	if r.Proposed == nil {
		r.Proposed = []Words{}
	}
	if r.Clocks == nil {
		r.Clocks = []incident.Clock{}
	}
	if r.NIS2.Indicators == nil {
		r.NIS2.Indicators = []string{}
	}
	if r.CNIL.DataCategories == nil {
		r.CNIL.DataCategories = []string{}
	}
}

// sensitivityRank orders sensitivities most sensitive first.
func sensitivityRank(s string) int {
	switch policy.Sensitivity(s) {
	case policy.Special:
		return 0
	case policy.Sensitive:
		return 1
	case policy.Identity:
		return 2
	case policy.Contact:
		return 3
	}
	return 4
}

// told says whether the people are told, or why not.
func told(inc *incident.Incident, s Settings, risk string) Told {
	if l := inc.Letters; l != nil {
		return Told{Status: ToldQueued, Queued: l.Queued, People: l.People, NoContact: l.NoContact}
	}
	if s.NotTold != "" {
		return Told{Status: ToldNotRequired, Why: Words{FR: s.NotTold, EN: s.NotTold}}
	}
	switch {
	case inc.Scope.StoreStolen && inc.Scope.KeysSafe:
		return Told{Status: ToldNotRequired, Why: Words{
			FR: "Les données dérobées sont inintelligibles : chiffrées, et les clés n'ont pas été compromises (RGPD art. 34(3)(a)).",
			EN: "The data taken is unintelligible: encrypted, and the keys were not compromised (GDPR art. 34(3)(a)).",
		}}
	case risk == Low:
		return Told{Status: ToldNotRequired, Why: Words{
			FR: "Le risque pour les personnes est faible (données vues seulement masquées, ou aucune donnée renvoyée) : la communication n'est pas requise (RGPD art. 34(1)) ; elle reste possible par transparence.",
			EN: "The risk to the people is low (data only seen masked, or none returned): telling them is not required (GDPR art. 34(1)); it remains possible, to be open.",
		}}
	}
	return Told{Status: ToldNotYet, Why: Words{
		FR: "Les lettres aux personnes ne sont pas encore envoyées : elles le seront sans retard injustifié (coffre incident notify).",
		EN: "The letters to the people are not sent yet: they will be without undue delay (coffre incident notify).",
	}}
}

// impactWords is the NIS2 initial assessment of the impact, in words.
func impactWords(r *Report) Words {
	return Words{
		FR: fmt.Sprintf("%d personnes exposées (%d valeurs renvoyées), %d autres visées sans succès ; risque %s pour les personnes.", r.People.Exposed, r.People.Records, r.People.Attempted, levelWords[r.Risk].FR),
		EN: fmt.Sprintf("%d people exposed (%d values returned), %d more attempted without success; %s risk for the people.", r.People.Exposed, r.People.Records, r.People.Attempted, levelWords[r.Risk].EN),
	}
}

var levelWords = map[string]Words{
	Low:    {FR: "faible", EN: "low"},
	Medium: {FR: "moyen", EN: "medium"},
	High:   {FR: "élevé", EN: "high"},
}

var natureWords = map[string]Words{
	incident.Confidentiality: {FR: "confidentialité", EN: "confidentiality"},
	incident.Integrity:       {FR: "intégrité", EN: "integrity"},
	incident.Availability:    {FR: "disponibilité", EN: "availability"},
}

func (r *Report) natures(lang string) string {
	var out []string
	for _, n := range r.Nature {
		out = append(out, natureWords[n].in(lang))
	}
	return strings.Join(out, ", ")
}

// vector describes the scope in words.
func (r *Report) vector(lang string) string {
	v := r.Vector
	var parts []string
	fr := lang != "en"
	if v.StoreStolen {
		switch {
		case v.KeysSafe && fr:
			parts = append(parts, "copie du stockage (ou d'une sauvegarde) dérobée, clés restées à l'abri")
		case v.KeysSafe:
			parts = append(parts, "a copy of the store (or a backup) taken, the keys kept safe")
		case fr:
			parts = append(parts, "copie du stockage (ou d'une sauvegarde) dérobée, avec ses clés")
		default:
			parts = append(parts, "a copy of the store (or a backup) taken, with its keys")
		}
	}
	if v.Everything {
		parts = append(parts, map[bool]string{true: "vecteur inconnu : toutes les consultations de la période", false: "vector unknown: every access of the window"}[fr])
	}
	if v.Operators > 0 {
		parts = append(parts, fmt.Sprintf(map[bool]string{true: "%d compte(s) d'agent compromis", false: "%d operator account(s) compromised"}[fr], v.Operators))
	}
	if v.Partners > 0 {
		parts = append(parts, fmt.Sprintf(map[bool]string{true: "%d compte(s) partenaire compromis", false: "%d partner account(s) compromised"}[fr], v.Partners))
	}
	if len(v.Origins) > 0 {
		parts = append(parts, fmt.Sprintf(map[bool]string{true: "origines %s", false: "origins %s"}[fr], strings.Join(v.Origins, ", ")))
	}
	if fr {
		return strings.Join(parts, " ; ")
	}
	return strings.Join(parts, "; ")
}

// date writes t as Build set it (in Settings.Location), with its UTC
// offset so that a report read back from JSON writes it the same; ""
// when zero.
func date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format("2006-01-02 15:04 -07:00")
}

// duration writes d in days, hours and minutes ("2 j 3 h 05 min").
func duration(d time.Duration, lang string) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	days, hours := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
	mins := int(d % time.Hour / time.Minute)
	day := "j"
	if lang == "en" {
		day = "d"
	}
	if days == 0 {
		return fmt.Sprintf("%s%d h %02d min", sign, hours, mins)
	}
	return fmt.Sprintf("%s%d %s %d h %02d min", sign, days, day, hours, mins)
}

// cnil fills the CNIL section, in French.
func (r *Report) cnil(s Settings) {
	c := CNIL{
		Service: CNILService, Type: "initiale",
		Organisation: r.Controller, SIREN: s.SIREN, LegalRepresentative: s.LegalRepresentative, ContactPerson: s.ContactPerson,
		DPO: r.DPO, Reporter: r.Reporter,
		Nature: r.natures("fr"), Detection: r.Detection,
		Started: date(r.Dates.Started), Discovered: date(r.Dates.Aware), Ended: date(r.Dates.Ended),
		PeopleCategories: r.People.Categories, People: r.People.Exposed, Records: r.People.Records,
		Severity:    levelWords[r.Risk].FR,
		DelayReason: r.DelayReason,
	}
	if !r.Late {
		c.DelayReason = "sans objet : notification dans les 72 heures suivant la prise de connaissance"
	}
	if r.Phase != incident.Initial {
		c.Type = "complémentaire"
	}
	c.Circumstances = r.Title
	if v := r.vector("fr"); v != "" {
		c.Circumstances += " — " + v
	}
	switch r.NIS2.Malicious {
	case Yes:
		c.Origin = "acte malveillant (suspecté)"
	case No:
		c.Origin = "accidentel ou non malveillant"
	}
	if r.Dates.Ongoing {
		c.Ended = "en cours"
	} else {
		c.Duration = duration(r.Dates.Duration, "fr")
	}
	for _, d := range r.Data {
		c.DataCategories = append(c.DataCategories, d.words("fr"))
		if d.Sensitivity == string(policy.Special) && (d.Clear > 0 || d.Masked > 0) {
			c.SpecialData = true
		}
	}
	c.ProtectionInPlace = "Chiffrement au repos par personne (clé de données propre à chaque dossier, enveloppée par une clé racine) ; vues par finalité qui masquent ou omettent les champs ; budgets de consultation et détection des accès en masse (garde) ; journal d'audit en arbre de Merkle avec points de contrôle signés ; avis aux personnes de chaque consultation."
	var cs []string
	for _, x := range r.Consequences {
		cs = append(cs, x.Text.FR)
	}
	c.Consequences = strings.Join(cs, " ")
	var taken []string
	for _, m := range r.Taken {
		taken = append(taken, date(m.At)+" : "+m.Text.FR)
	}
	c.MeasuresTaken = strings.Join(taken, " ")
	var proposed []string
	for _, p := range r.Proposed {
		proposed = append(proposed, p.FR)
	}
	c.MeasuresProposed = strings.Join(proposed, " ")
	switch r.Told.Status {
	case ToldQueued:
		c.PeopleInformed = fmt.Sprintf("Oui : lettres envoyées à partir du %s à %d personnes (dont %d par courrier postal).", date(r.Told.Queued), r.Told.People, r.Told.NoContact)
	default:
		c.PeopleInformed = "Non : " + r.Told.Why.FR
	}
	switch r.NIS2.CrossBorder {
	case Yes:
		c.CrossBorder = "oui"
	case No:
		c.CrossBorder = "non"
	}
	r.CNIL = c
}

// words names a data category: the field, its type and sensitivity, how
// many people, in clear and masked.
func (d DataCategory) words(lang string) string {
	if lang == "en" {
		s := fmt.Sprintf("%s (%s, %s): %d people, %d in clear", d.Field, d.Type, d.Sensitivity, d.People, d.Clear)
		if d.Masked > 0 {
			s += fmt.Sprintf(", %d masked (%s)", d.Masked, d.Mask)
		}
		return s
	}
	s := fmt.Sprintf("%s (%s, %s) : %d personnes, %d en clair", d.Field, d.Type, d.Sensitivity, d.People, d.Clear)
	if d.Masked > 0 {
		s += fmt.Sprintf(", %d masquées (%s)", d.Masked, d.Mask)
	}
	return s
}

// toComplete lists what the officer should still give.
func (r *Report) toComplete(s Settings, phase string) {
	add := func(empty bool, path string) {
		if empty {
			r.ToComplete = append(r.ToComplete, path)
		}
	}
	add(r.DPO == "", "dpo")
	add(r.Reporter == "", "reporter")
	add(r.Detection == "", "detection")
	add(r.CNIL.SIREN == "", "cnil.siren")
	add(r.CNIL.LegalRepresentative == "", "cnil.legal_representative")
	add(r.CNIL.ContactPerson == "", "cnil.contact_person")
	add(r.CNIL.Origin == "", "cnil.origin")
	add(r.CNIL.CrossBorder == "", "cnil.cross_border")
	add(r.NIS2.Malicious == Unknown, "nis2.suspected_malicious")
	add(r.NIS2.CrossBorder == Unknown, "nis2.cross_border")
	if phase != incident.Initial {
		add(len(r.NIS2.Indicators) == 0, "nis2.indicators_of_compromise")
	}
	if phase == incident.Final {
		add(r.NIS2.Threat == "", "nis2.threat")
		add(r.NIS2.Description == "", "nis2.description")
	}
}
