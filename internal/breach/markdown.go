package breach

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/incident"
)

// labels are a language's headings and fixed words of the report.
type labels struct {
	title, phase, made, by, status, toComplete, ongoing, yes, no, unknown      string
	phases                                                                     map[string]string
	hNature, nature, detection, vector                                         string
	hDates, started, aware, ended, recorded, duration                          string
	hPeople, categories, exposed, attempted, records, alreadyTold, byUnit, via string
	hData, dataHead, noData                                                    string
	hRisk, risk                                                                string
	hMeasures, taken, takenHead, noneTaken, proposed                           string
	hTold, queued                                                              string
	hDelay, late, onTime, reason                                               string
	hClocks, clocksHead, done, left, overdue                                   string
	hNIS2, stage, malicious, crossBorder, severity, impact, indicators         string
	description, threat, mitigation                                            string
	hContacts, controller, dpo                                                 string
	hCNIL, cnilIntro, cnilHead                                                 string
}

var reportLang = map[string]labels{
	"fr": {
		title: "Violation de données personnelles", phase: "Notification", made: "Établie le", by: "Par", status: "État de l'incident",
		toComplete: "à compléter", ongoing: "en cours", yes: "oui", no: "non", unknown: "inconnu (à compléter)",
		phases:  map[string]string{incident.Initial: "initiale", incident.Complementary: "complémentaire", incident.Final: "finale"},
		hNature: "Nature de la violation (RGPD art. 33(3)(a))", nature: "Nature", detection: "Détection", vector: "Ce qui a été compromis",
		hDates: "Dates", started: "Début", aware: "Prise de connaissance", ended: "Fin", recorded: "Enregistrée", duration: "Durée",
		hPeople: "Personnes et enregistrements concernés (RGPD art. 33(3)(a))", categories: "Catégories de personnes",
		exposed: "Personnes exposées (au moins une donnée renvoyée)", attempted: "Personnes visées sans succès (rien renvoyé)",
		records: "Enregistrements (valeurs renvoyées)", alreadyTold: "Déjà informées de chaque accès par un avis", byUnit: "Par unité des comptes", via: "Par canal",
		hData:    "Catégories de données concernées",
		dataHead: "| Donnée | Type | Sensibilité | Personnes | En clair | Masquées (masque) |\n|---|---|---|---:|---:|---|",
		noData:   "Aucune donnée renvoyée.",
		hRisk:    "Conséquences probables (RGPD art. 33(3)(c))", risk: "Niveau de risque pour les personnes",
		hMeasures: "Mesures (RGPD art. 33(3)(d))", taken: "Mesures prises", takenHead: "| Quand | Mesure | Par | Détail |\n|---|---|---|---|",
		noneTaken: "Aucune mesure de confinement enregistrée.", proposed: "Mesures proposées",
		hTold: "Information des personnes (RGPD art. 34)", queued: "Lettres envoyées à partir du %s à %d personnes (dont %d sans adresse, par courrier postal).",
		hDelay: "Délai de notification (RGPD art. 33(1))", late: "Notification plus de 72 heures après la prise de connaissance. Motifs du retard :",
		onTime: "Notification dans les 72 heures suivant la prise de connaissance.", reason: "Motifs",
		hClocks:    "Échéances RGPD et NIS2",
		clocksHead: "| Échéance | Texte | Due le | Faite le | État |\n|---|---|---|---|---|",
		done:       "faite", left: "reste %s", overdue: "en retard",
		hNIS2: "NIS2 (directive (UE) 2022/2555, art. 23(4))", stage: "Étape", malicious: "Acte illicite ou malveillant suspecté (a)",
		crossBorder: "Impact transfrontière possible (a)", severity: "Gravité (b)", impact: "Impact (b)", indicators: "Indicateurs de compromission (b)",
		description: "Description détaillée (d)(i)", threat: "Type de menace ou cause première (d)(ii)", mitigation: "Mesures d'atténuation (d)(iii)",
		hContacts: "Contacts (RGPD art. 33(3)(b))", controller: "Responsable du traitement", dpo: "Délégué à la protection des données",
		hCNIL: "Formulaire de la CNIL", cnilIntro: "Champs du téléservice de notification de la CNIL (%s), notification %s.",
		cnilHead: "| Champ | Valeur |\n|---|---|",
	},
	"en": {
		title: "Personal data breach", phase: "Notification", made: "Made", by: "By", status: "Incident status",
		toComplete: "to be completed", ongoing: "ongoing", yes: "yes", no: "no", unknown: "unknown (to be completed)",
		phases:  map[string]string{incident.Initial: "initial", incident.Complementary: "complementary", incident.Final: "final"},
		hNature: "Nature of the breach (GDPR art. 33(3)(a))", nature: "Nature", detection: "Detection", vector: "What was compromised",
		hDates: "Dates", started: "Start", aware: "Awareness", ended: "End", recorded: "Recorded", duration: "Duration",
		hPeople: "People and records concerned (GDPR art. 33(3)(a))", categories: "Categories of people",
		exposed: "People exposed (at least one field returned)", attempted: "People attempted without success (nothing returned)",
		records: "Records (field values returned)", alreadyTold: "Already told of every access by a notice", byUnit: "By unit of the accounts", via: "By channel",
		hData:    "Categories of data concerned",
		dataHead: "| Field | Type | Sensitivity | People | In clear | Masked (mask) |\n|---|---|---|---:|---:|---|",
		noData:   "No field returned.",
		hRisk:    "Likely consequences (GDPR art. 33(3)(c))", risk: "Risk level for the people",
		hMeasures: "Measures (GDPR art. 33(3)(d))", taken: "Measures taken", takenHead: "| When | Measure | By | Detail |\n|---|---|---|---|",
		noneTaken: "No containment measure recorded.", proposed: "Measures proposed",
		hTold: "Telling the people (GDPR art. 34)", queued: "Letters queued from %s to %d people (%d with no address, by post).",
		hDelay: "Notification delay (GDPR art. 33(1))", late: "Notification more than 72 hours after awareness. Reasons for the delay:",
		onTime: "Notification within 72 hours of awareness.", reason: "Reasons",
		hClocks:    "GDPR and NIS2 deadlines",
		clocksHead: "| Deadline | Law | Due | Done | State |\n|---|---|---|---|---|",
		done:       "done", left: "%s left", overdue: "overdue",
		hNIS2: "NIS2 (Directive (EU) 2022/2555, art. 23(4))", stage: "Stage", malicious: "Suspected unlawful or malicious act (a)",
		crossBorder: "Possible cross-border impact (a)", severity: "Severity (b)", impact: "Impact (b)", indicators: "Indicators of compromise (b)",
		description: "Detailed description (d)(i)", threat: "Type of threat or root cause (d)(ii)", mitigation: "Mitigation measures (d)(iii)",
		hContacts: "Contacts (GDPR art. 33(3)(b))", controller: "Controller", dpo: "Data protection officer",
		hCNIL: "The CNIL's form", cnilIntro: "Fields of the CNIL's notification service (%s), notification type \"%s\"; the values are in French, as the form is.",
		cnilHead: "| Field | Value |\n|---|---|",
	},
}

// cnilFields names the CNIL section's fields in French and English, in
// the form's order, with their values.
func (c CNIL) fields() [][3]string {
	people, records := fmt.Sprint(c.People), fmt.Sprint(c.Records)
	special := "non"
	if c.SpecialData {
		special = "oui"
	}
	return [][3]string{
		{"Type de notification", "Type of notification", c.Type},
		{"Organisme (responsable du traitement)", "Organisation (controller)", c.Organisation},
		{"SIREN", "SIREN", c.SIREN},
		{"Représentant légal", "Legal representative", c.LegalRepresentative},
		{"Personne à contacter", "Contact person", c.ContactPerson},
		{"Délégué à la protection des données", "Data protection officer", c.DPO},
		{"Déclarant", "Reporting person", c.Reporter},
		{"Nature de la violation", "Nature of the breach", c.Nature},
		{"Circonstances", "Circumstances", c.Circumstances},
		{"Mode de détection", "How it was detected", c.Detection},
		{"Origine", "Origin", c.Origin},
		{"Début", "Start", c.Started},
		{"Découverte", "Discovery", c.Discovered},
		{"Fin", "End", c.Ended},
		{"Durée", "Duration", c.Duration},
		{"Catégories de personnes", "Categories of people", c.PeopleCategories},
		{"Nombre approximatif de personnes", "Approximate number of people", people},
		{"Nombre approximatif d'enregistrements", "Approximate number of records", records},
		{"Catégories de données", "Categories of data", strings.Join(c.DataCategories, " ; ")},
		{"Données de catégorie particulière (art. 9)", "Special category data (art. 9)", special},
		{"Mesures de protection en place", "Protection measures in place", c.ProtectionInPlace},
		{"Conséquences probables", "Likely consequences", c.Consequences},
		{"Gravité estimée", "Estimated severity", c.Severity},
		{"Mesures prises", "Measures taken", c.MeasuresTaken},
		{"Mesures envisagées", "Measures proposed", c.MeasuresProposed},
		{"Information des personnes", "Telling the people", c.PeopleInformed},
		{"Motifs du retard", "Reasons for the delay", c.DelayReason},
		{"Impact transfrontière", "Cross-border impact", c.CrossBorder},
	}
}

// Markdown renders the report in lang: French (the default) or English
// ("en"). The CNIL section's values stay in French, as the form is.
func (r *Report) Markdown(lang string) string {
	lang = langOf(lang)
	l := reportLang[lang]
	date := func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return date(t)
	}
	or := func(s string) string {
		if s == "" {
			return "*" + l.toComplete + "*"
		}
		return s
	}
	answer := func(a Answer) string {
		switch a {
		case Yes:
			return l.yes
		case No:
			return l.no
		}
		return "*" + l.unknown + "*"
	}
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	item := func(label, value string) { p("- **%s** : %s", label, value) }
	if lang == "en" {
		item = func(label, value string) { p("- **%s**: %s", label, value) }
	}

	p("# %s — %s", l.title, r.Incident)
	p("")
	p("%s", r.Title)
	p("")
	item(l.phase, l.phases[r.Phase])
	item(l.made, date(r.Made))
	item(l.by, or(r.Reporter))
	item(l.status, wordsOr(statusWords, r.Status, lang))
	p("")

	p("## 1. %s", l.hNature)
	p("")
	item(l.nature, r.natures(lang))
	item(l.detection, or(r.Detection))
	item(l.vector, r.vector(lang))
	p("")

	p("## 2. %s", l.hDates)
	p("")
	item(l.started, date(r.Dates.Started))
	item(l.aware, date(r.Dates.Aware))
	if r.Dates.Ongoing {
		item(l.ended, l.ongoing)
	} else {
		item(l.ended, date(r.Dates.Ended))
		item(l.duration, duration(r.Dates.Duration, lang))
	}
	item(l.recorded, date(r.Dates.Recorded))
	p("")

	p("## 3. %s", l.hPeople)
	p("")
	item(l.categories, r.People.Categories)
	item(l.exposed, fmt.Sprint(r.People.Exposed))
	item(l.attempted, fmt.Sprint(r.People.Attempted))
	item(l.records, fmt.Sprint(r.People.Records))
	item(l.alreadyTold, fmt.Sprint(r.People.Told))
	if len(r.People.ByUnit) > 0 {
		item(l.byUnit, counts(r.People.ByUnit))
	}
	if len(r.People.ByChannel) > 0 {
		item(l.via, counts(r.People.ByChannel))
	}
	p("")

	p("## 4. %s", l.hData)
	p("")
	if len(r.Data) == 0 {
		p("%s", l.noData)
	} else {
		p("%s", l.dataHead)
		for _, d := range r.Data {
			masked := fmt.Sprint(d.Masked)
			if d.Masked > 0 && d.Mask != "" {
				masked += " (" + d.Mask + ")"
			}
			p("| %s | %s | %s | %d | %d | %s |", d.Field, d.Type, d.Sensitivity, d.People, d.Clear, masked)
		}
	}
	p("")

	p("## 5. %s", l.hRisk)
	p("")
	item(l.risk, levelWords[r.Risk].in(lang))
	p("")
	for _, c := range r.Consequences {
		line := "- " + c.Text.in(lang)
		if len(c.Fields) > 0 {
			line += " (" + strings.Join(c.Fields, ", ") + ")"
		}
		p("%s", line)
	}
	p("")

	p("## 6. %s", l.hMeasures)
	p("")
	p("### %s", l.taken)
	p("")
	if len(r.Taken) == 0 {
		p("%s", l.noneTaken)
	} else {
		p("%s", l.takenHead)
		for _, m := range r.Taken {
			p("| %s | %s | %s | %s |", date(m.At), m.Text.in(lang), m.By, cell(m.Detail))
		}
	}
	p("")
	p("### %s", l.proposed)
	p("")
	for _, w := range r.Proposed {
		p("- %s", w.in(lang))
	}
	p("")

	p("## 7. %s", l.hTold)
	p("")
	if r.Told.Status == ToldQueued {
		p(l.queued, date(r.Told.Queued), r.Told.People, r.Told.NoContact)
	} else {
		p("%s", r.Told.Why.in(lang))
	}
	p("")

	p("## 8. %s", l.hDelay)
	p("")
	if r.Late {
		p("%s", l.late)
		p("")
		p("> %s", r.DelayReason)
	} else {
		p("%s", l.onTime)
	}
	p("")
	p("### %s", l.hClocks)
	p("")
	p("%s", l.clocksHead)
	for _, c := range r.Clocks {
		state := l.done
		switch {
		case c.Overdue:
			state = l.overdue
		case c.Done.IsZero():
			state = fmt.Sprintf(l.left, duration(c.Left, lang))
		}
		done := "—"
		if !c.Done.IsZero() {
			done = date(c.Done)
		}
		p("| %s | %s | %s | %s | %s |", c.Name, c.Law, date(c.Due), done, state)
	}
	p("")

	p("## 9. %s", l.hNIS2)
	p("")
	item(l.stage, wordsOr(stageWords, r.NIS2.Stage, lang))
	item(l.malicious, answer(r.NIS2.Malicious))
	item(l.crossBorder, answer(r.NIS2.CrossBorder))
	item(l.severity, levelWords[r.NIS2.Severity].in(lang))
	item(l.impact, r.NIS2.Impact.in(lang))
	ind := strings.Join(r.NIS2.Indicators, ", ")
	item(l.indicators, or(ind))
	if r.Phase == incident.Final || r.NIS2.Description != "" || r.NIS2.Threat != "" {
		item(l.description, or(r.NIS2.Description))
		item(l.threat, or(r.NIS2.Threat))
		item(l.mitigation, "§6")
	}
	p("")

	p("## 10. %s", l.hContacts)
	p("")
	item(l.controller, or(r.Controller))
	item(l.dpo, or(r.DPO))
	p("")

	p("## 11. %s", l.hCNIL)
	p("")
	p(l.cnilIntro, r.CNIL.Service, r.CNIL.Type)
	p("")
	p("%s", l.cnilHead)
	for _, f := range r.CNIL.fields() {
		name := f[0]
		if lang == "en" {
			name = f[1]
		}
		p("| %s | %s |", name, cell(or(f[2])))
	}
	if len(r.ToComplete) > 0 {
		p("")
		item(l.toComplete, strings.Join(r.ToComplete, ", "))
	}
	return b.String()
}

var statusWords = map[string]Words{
	incident.Open:      {FR: "ouvert", EN: "open"},
	incident.Contained: {FR: "maîtrisé (l'accès de l'attaquant est coupé)", EN: "contained (the attacker's access is cut)"},
	incident.Closed:    {FR: "clos", EN: "closed"},
}

var stageWords = map[string]Words{
	"early-warning+notification": {FR: "alerte précoce (24 h) et notification d'incident (72 h)", EN: "early warning (24 h) and incident notification (72 h)"},
	"intermediate":               {FR: "rapport intermédiaire (mise à jour)", EN: "intermediate report (update)"},
	"final":                      {FR: "rapport final (un mois)", EN: "final report (one month)"},
}

// wordsOr is m[key] in lang, or key itself when m has no words for it.
func wordsOr(m map[string]Words, key, lang string) string {
	if w, ok := m[key]; ok {
		return w.in(lang)
	}
	return key
}

// counts writes a map of counts, keys sorted.
func counts(m map[string]int64) string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(out, ", ")
}

// cell makes s safe in a Markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
