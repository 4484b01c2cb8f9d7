package breach

import (
	"slices"

	"github.com/coffre/coffre/internal/incident"
	"github.com/coffre/coffre/internal/policy"
)

// Risk levels of a breach for the people (EDPB guidelines 9/2022):
// Low needs no letter (art. 34(1) asks for one at a high risk), but the
// breach is still recorded and, unless unlikely to result in a risk,
// notified.
const (
	Low    = "low"
	Medium = "medium"
	High   = "high"
)

var levelRank = map[string]int{Low: 0, Medium: 1, High: 2}

// Consequence is one likely consequence of a breach (art. 33(3)(c)),
// derived from the fields exposed: which fields it stems from, how
// serious it is, and its words.
type Consequence struct {
	Key    string   `json:"key"`
	Level  string   `json:"level"`
	Fields []string `json:"fields,omitempty"`
	Text   Words    `json:"text"`
}

// field is an exposed field as the rules see it: its name, type and
// sensitivity (from the impact's counts), and whether it was seen in
// clear by anyone.
type field struct {
	name        string
	typ         policy.FieldType
	sensitivity policy.Sensitivity
	clear       bool
}

// exposure is what the rules read: the fields exposed, the incident's
// nature and scope.
type exposure struct {
	fields []field
	nature []string
	scope  incident.Scope
}

func (e exposure) clear(match func(field) bool) []string {
	var out []string
	for _, f := range e.fields {
		if f.clear && match(f) {
			out = append(out, f.name)
		}
	}
	return out
}

func ofType(t policy.FieldType) func(field) bool {
	return func(f field) bool { return f.typ == t }
}

func ofSensitivity(s policy.Sensitivity) func(field) bool {
	return func(f field) bool { return f.sensitivity == s }
}

// rule is one line of the table of consequences: when it applies
// (match returns the fields it stems from, nil if it does not apply),
// what it means for the authority (report) and for the person (person),
// and what the person should watch for (advice).
type rule struct {
	key    string
	level  string
	match  func(e exposure) []string
	report Words
	person Words
	advice Words
}

// both returns the fields of a and b when neither is empty.
func both(a, b []string) []string {
	if len(a) == 0 || len(b) == 0 {
		return nil
	}
	return append(slices.Clone(a), b...)
}

// rules is the table of consequences, most serious first. A stolen store
// whose keys were safe matches only "unintelligible" (the data could not
// be read); fields only masked match only "masked-only".
var rules = []rule{
	{
		key: "unintelligible", level: Low,
		match: func(e exposure) []string {
			if e.scope.StoreStolen && e.scope.KeysSafe {
				return []string{}
			}
			return nil
		},
		report: Words{
			FR: "La copie dérobée est chiffrée (enveloppe par personne) et les clés ne l'ont pas quittée (parts scellées, HSM ou KMS) : les données y sont inintelligibles. La communication aux personnes n'est pas requise (RGPD art. 34(3)(a)).",
			EN: "The stolen copy is encrypted (one envelope per person) and the keys did not leave with it (sealed shares, an HSM or a KMS): the data in it is unintelligible. Telling the people is not required (GDPR art. 34(3)(a)).",
		},
		person: Words{
			FR: "La copie dérobée est chiffrée et les clés qui permettraient de la lire n'ont pas été dérobées : vos données y sont illisibles. Le risque pour vous est faible.",
			EN: "The stolen copy is encrypted and the keys that would open it were not taken: your data in it cannot be read. The risk to you is low.",
		},
	},
	{
		key: "discrimination", level: High,
		match: func(e exposure) []string { return e.clear(ofSensitivity(policy.Special)) },
		report: Words{
			FR: "Données de catégorie particulière (RGPD art. 9, par exemple de santé) : risque de discrimination, d'atteinte à la réputation et de préjudice moral (détresse) pour les personnes.",
			EN: "Special category data (GDPR art. 9, such as health data): risk of discrimination, damage to reputation and distress for the people.",
		},
		person: Words{
			FR: "Ces données sont particulièrement sensibles : leur divulgation pourrait vous exposer à une discrimination ou vous causer du tort ou de l'inquiétude.",
			EN: "These data are particularly sensitive: their disclosure could expose you to discrimination, or cause you harm or distress.",
		},
		advice: Words{
			FR: "Si quelqu'un fait état de ces informations pour faire pression sur vous, ne répondez pas et signalez-le à notre délégué à la protection des données.",
			EN: "If someone uses this information to put pressure on you, do not answer and tell our data protection officer.",
		},
	},
	{
		key: "identity-fraud", level: High,
		match: func(e exposure) []string { return e.clear(ofType(policy.TypeNationalID)) },
		report: Words{
			FR: "Numéro d'identification national en clair : risque d'usurpation d'identité et de fraude aux démarches administratives ou sociales.",
			EN: "National identification number in clear: risk of identity theft and of fraud in administrative or social security procedures.",
		},
		person: Words{
			FR: "Ce numéro pourrait servir à tenter d'usurper votre identité dans des démarches administratives.",
			EN: "This number could be used to try to impersonate you in administrative procedures.",
		},
		advice: Words{
			FR: "Surveillez les courriers et les notifications de vos démarches (impôts, sécurité sociale, prestations) ; si une démarche que vous n'avez pas faite apparaît, signalez-la à l'organisme concerné.",
			EN: "Watch the letters and notices about your dealings with public bodies (tax, social security, benefits); if one you did not start appears, tell the body concerned.",
		},
	},
	{
		key: "identity-fraud-dates", level: High,
		match: func(e exposure) []string {
			return both(e.clear(ofType(policy.TypeName)), e.clear(ofType(policy.TypeDate)))
		},
		report: Words{
			FR: "Nom et date (de naissance) en clair ensemble : ils facilitent l'usurpation d'identité et les réponses aux questions de sécurité.",
			EN: "Name and (birth) date in clear together: they make identity theft and answering security questions easier.",
		},
		person: Words{
			FR: "Votre nom et une date vous concernant, ensemble, peuvent aider quelqu'un à se faire passer pour vous.",
			EN: "Your name and a date about you, together, can help someone pass themselves off as you.",
		},
		advice: Words{
			FR: "Méfiez-vous de qui vous appelle en citant votre date de naissance pour paraître légitime.",
			EN: "Be wary of anyone who calls you quoting your date of birth to seem genuine.",
		},
	},
	{
		key: "physical", level: Medium,
		match: func(e exposure) []string { return e.clear(ofType(policy.TypeAddress)) },
		report: Words{
			FR: "Adresse postale en clair : risques physiques (visites, harcèlement) et fraude au courrier (réexpédition, faux courriers).",
			EN: "Postal address in clear: physical risks (visits, harassment) and mail fraud (redirection, fake letters).",
		},
		person: Words{
			FR: "Votre adresse pourrait servir à vous envoyer de faux courriers ou à détourner votre courrier.",
			EN: "Your address could be used to send you fake letters or to redirect your mail.",
		},
		advice: Words{
			FR: "Méfiez-vous des courriers inhabituels qui semblent officiels ; vérifiez auprès de l'organisme en le contactant par vos moyens habituels.",
			EN: "Be wary of unusual letters that look official; check with the body by contacting it the way you usually do.",
		},
	},
	{
		key: "targeted-phishing", level: Medium,
		match: func(e exposure) []string {
			return both(e.clear(ofType(policy.TypeName)), e.clear(ofType(policy.TypeEmail)))
		},
		report: Words{
			FR: "Nom et adresse électronique en clair : risque d'hameçonnage ciblé (courriels personnalisés se faisant passer pour l'organisme).",
			EN: "Name and email address in clear: risk of targeted phishing (personalised emails passing themselves off as the organisation).",
		},
		person: Words{
			FR: "Quelqu'un pourrait vous écrire en vous appelant par votre nom et en se faisant passer pour nous ou pour un autre organisme.",
			EN: "Someone could write to you using your name, passing themselves off as us or another body.",
		},
		advice: Words{
			FR: "Méfiez-vous des courriels qui vous appellent par votre nom et vous demandent d'agir vite, de cliquer ou de donner des informations.",
			EN: "Be wary of emails that use your name and ask you to act quickly, to click or to give information.",
		},
	},
	{
		key: "phishing", level: Medium,
		match: func(e exposure) []string {
			if len(e.clear(ofType(policy.TypeName))) > 0 {
				return nil // targeted-phishing says it
			}
			return e.clear(ofType(policy.TypeEmail))
		},
		report: Words{
			FR: "Adresse électronique en clair : risque d'hameçonnage et de courriels indésirables.",
			EN: "Email address in clear: risk of phishing and unwanted email.",
		},
		person: Words{
			FR: "Votre adresse électronique pourrait recevoir des courriels frauduleux.",
			EN: "Your email address could receive fraudulent emails.",
		},
		advice: Words{
			FR: "Méfiez-vous des courriels inattendus qui vous demandent de cliquer ou de donner des informations.",
			EN: "Be wary of unexpected emails that ask you to click or to give information.",
		},
	},
	{
		key: "sms-voice-phishing", level: Medium,
		match: func(e exposure) []string { return e.clear(ofType(policy.TypePhone)) },
		report: Words{
			FR: "Numéro de téléphone en clair : risque d'hameçonnage par SMS et par appel (faux conseillers).",
			EN: "Phone number in clear: risk of SMS and voice phishing (fake advisers calling).",
		},
		person: Words{
			FR: "Votre numéro pourrait recevoir des SMS ou des appels frauduleux, de personnes se présentant comme un agent ou un conseiller.",
			EN: "Your number could receive fraudulent texts or calls from people claiming to be an official or an adviser.",
		},
		advice: Words{
			FR: "Méfiez-vous des SMS et des appels inattendus ; raccrochez et rappelez l'organisme au numéro que vous connaissez.",
			EN: "Be wary of unexpected texts and calls; hang up and call the body back on the number you know.",
		},
	},
	{
		key: "sensitive-disclosure", level: Medium,
		match: func(e exposure) []string { return e.clear(ofSensitivity(policy.Sensitive)) },
		report: Words{
			FR: "Données sensibles (hors article 9) en clair : atteinte à la vie privée, risque de pression ou d'embarras.",
			EN: "Sensitive data (outside art. 9) in clear: loss of privacy, risk of pressure or embarrassment.",
		},
		person: Words{
			FR: "Ces informations relèvent de votre vie privée : leur divulgation pourrait vous gêner.",
			EN: "This information is private: its disclosure could embarrass you.",
		},
	},
	{
		key: "disclosure", level: Low,
		match: func(e exposure) []string {
			for _, f := range e.fields {
				if f.clear {
					return []string{} // the least any clear field means
				}
			}
			return nil
		},
		report: Words{
			FR: "Perte de confidentialité : des tiers savent que ces personnes figurent dans le fichier de l'organisme.",
			EN: "Loss of confidentiality: others know that these people are in the organisation's records.",
		},
		person: Words{
			FR: "Des personnes non autorisées savent que vous figurez dans nos fichiers.",
			EN: "People without authorisation know that you are in our records.",
		},
	},
	{
		key: "masked-only", level: Low,
		match: func(e exposure) []string {
			if len(e.fields) == 0 || slices.ContainsFunc(e.fields, func(f field) bool { return f.clear }) {
				return nil
			}
			return []string{}
		},
		report: Words{
			FR: "Les données n'ont été vues que masquées (initiales, année, derniers chiffres, domaine) : elles ne permettent ni de contacter les personnes ni d'usurper leur identité ; le risque est faible.",
			EN: "The data was only seen masked (initials, year, last digits, domain): it allows neither contacting the people nor impersonating them; the risk is low.",
		},
		person: Words{
			FR: "Ces données n'étaient visibles qu'en partie (masquées) : elles ne permettent ni de vous contacter ni de se faire passer pour vous. Le risque pour vous est faible ; nous vous en informons par transparence.",
			EN: "These data were only partly visible (masked): they allow neither contacting you nor passing oneself off as you. The risk to you is low; we tell you to be open with you.",
		},
	},
	{
		key: "integrity", level: Medium,
		match: func(e exposure) []string {
			if slices.Contains(e.nature, incident.Integrity) {
				return []string{}
			}
			return nil
		},
		report: Words{
			FR: "Atteinte à l'intégrité : des décisions ou des envois ont pu reposer sur des données modifiées.",
			EN: "Integrity breach: decisions or messages may have relied on altered data.",
		},
		person: Words{
			FR: "Certaines de vos données ont pu être modifiées sans autorisation ; nous les vérifions.",
			EN: "Some of your data may have been changed without authorisation; we are checking it.",
		},
	},
	{
		key: "availability", level: Medium,
		match: func(e exposure) []string {
			if slices.Contains(e.nature, incident.Availability) {
				return []string{}
			}
			return nil
		},
		report: Words{
			FR: "Atteinte à la disponibilité : retard ou interruption des démarches qui dépendent de ces données.",
			EN: "Availability breach: delay or interruption of the procedures that depend on the data.",
		},
		person: Words{
			FR: "Vos démarches qui dépendent de ces données ont pu être retardées.",
			EN: "Your dealings that depend on these data may have been delayed.",
		},
	},
}

// assess applies the table to e: the consequences that apply, in table
// order, and the risk level (the highest of theirs; Low when none).
func assess(e exposure) ([]Consequence, []rule, string) {
	var out []Consequence
	var matched []rule
	level := Low
	for _, r := range rules {
		if e.scope.StoreStolen && e.scope.KeysSafe && r.key != "unintelligible" {
			continue
		}
		fields := r.match(e)
		if fields == nil {
			continue
		}
		out = append(out, Consequence{Key: r.key, Level: r.level, Fields: fields, Text: r.report})
		matched = append(matched, r)
		if levelRank[r.level] > levelRank[level] {
			level = r.level
		}
	}
	return out, matched, level
}
