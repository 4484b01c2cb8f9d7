package breach

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/incident"
	"github.com/coffre/coffre/internal/notice"
	"github.com/coffre/coffre/internal/policy"
)

// letterWords are a language's fixed texts of the letter.
type letterWords struct {
	subject, hello, intro, colon                   string
	hWhat, between, ongoing, learnt                string
	confidentiality, integrity, availability       string
	stolen, stolenSafe                             string
	hFields, clear, masked, none                   string
	hConsequences                                  string
	hDone, reported, investigating, endedAt        string
	hAdvice, password, neverAsk, portal            string
	hRights, dpo, complain                         string
	phrase                                         string
	sms, smsLow, smsByPost, smsByEmail, dateFormat string
	masks                                          map[string]string
}

var letterLang = map[string]letterWords{
	"fr": {
		subject: "%s : incident de sécurité concernant certaines de vos données",
		hello:   "Bonjour,",
		intro:   "%s vous informe d'un incident de sécurité qui concerne certaines de vos données personnelles, comme la loi le demande (RGPD, article 34). Ce message ne vous demande rien : il n'y a ni lien à suivre ni réponse à faire.",
		colon:   " :",
		hWhat:   "Ce qui s'est passé", between: "Cela s'est produit entre le %s et le %s.", ongoing: "Cela a commencé le %s ; nous traitons l'incident.",
		learnt:          "Nous l'avons appris le %s.",
		confidentiality: "Des personnes non autorisées ont pu consulter certaines de vos données.",
		integrity:       "Certaines de vos données ont pu être modifiées sans autorisation.",
		availability:    "Certaines de vos données ont été indisponibles ou perdues.",
		stolen:          "Une copie de nos données, qui contient votre dossier, a été dérobée.",
		stolenSafe:      "Une copie de nos données, qui contient votre dossier, a été dérobée. Elle est chiffrée et les clés qui permettraient de la lire n'ont pas été dérobées : vos données y sont illisibles.",
		hFields:         "Vos données concernées", clear: "visible en clair", masked: "visible seulement en partie (%s)",
		none:          "Ce message ne contient aucune de ces données.",
		hConsequences: "Ce que cela peut entraîner",
		hDone:         "Ce que nous avons fait", reported: "Nous avons signalé l'incident à l'autorité de contrôle.",
		investigating: "Nous poursuivons l'enquête.", endedAt: "L'accès en cause est coupé depuis le %s.",
		hAdvice:  "Ce que nous vous conseillons",
		password: "Ne donnez jamais votre mot de passe ni un code reçu par SMS, à personne, même à quelqu'un qui dit travailler pour nous.",
		neverAsk: "Nous ne vous demanderons jamais, par courriel, SMS ou téléphone, de cliquer sur un lien ni de donner des informations. Un message qui le fait ne vient pas de nous.",
		portal:   "Pour consulter votre dossier et son historique, allez sur le site %s en tapant vous-même l'adresse dans votre navigateur (jamais depuis un lien reçu).",
		hRights:  "Vos questions et vos droits", dpo: "Pour toute question, écrivez à notre délégué à la protection des données : %s.",
		complain:   "Vous pouvez introduire une réclamation auprès de l'autorité de contrôle : %s.",
		phrase:     "Votre phrase de vérification : %s. Nos messages la montrent toujours ; un message qui ne la montre pas ne vient pas de nous.",
		sms:        "%s : un incident de sécurité a touché certaines de vos données (%s). %s Nous ne vous demandons rien ; ne donnez jamais de code. Phrase : %s",
		smsLow:     "%s : un incident de sécurité a touché certaines de vos données (%s), visibles seulement en partie : risque faible. %s Nous ne vous demandons rien. Phrase : %s",
		smsByPost:  "Détails par courrier.",
		smsByEmail: "Détails par courriel.",
		dateFormat: "02/01/2006",
		masks: map[string]string{
			"initials": "initiales seulement", "email": "premier caractère et domaine seulement", "last2": "deux derniers caractères seulement",
			"last4": "quatre derniers caractères seulement", "year": "année seulement", "redact": "entièrement masquée", "": "masquée",
		},
	},
	"en": {
		subject: "%s: security incident concerning some of your data",
		hello:   "Hello,",
		intro:   "%s is telling you of a security incident that concerns some of your personal data, as the law requires (GDPR, article 34). This message asks nothing of you: there is no link to follow and nothing to reply.",
		colon:   ":",
		hWhat:   "What happened", between: "It happened between %s and %s.", ongoing: "It started on %s; we are dealing with it.",
		learnt:          "We learnt of it on %s.",
		confidentiality: "People without authorisation may have seen some of your data.",
		integrity:       "Some of your data may have been changed without authorisation.",
		availability:    "Some of your data was unavailable or lost.",
		stolen:          "A copy of our data, which holds your record, was stolen.",
		stolenSafe:      "A copy of our data, which holds your record, was stolen. It is encrypted and the keys that would open it were not taken: your data in it cannot be read.",
		hFields:         "Your data concerned", clear: "visible in clear", masked: "only partly visible (%s)",
		none:          "This message holds none of these data.",
		hConsequences: "What this may lead to",
		hDone:         "What we did", reported: "We reported the incident to the supervisory authority.",
		investigating: "We are still investigating.", endedAt: "The access involved has been cut since %s.",
		hAdvice:  "What we advise",
		password: "Never give your password or a code you received by text message to anyone, even someone who says they work for us.",
		neverAsk: "We will never ask you, by email, text message or phone, to click a link or to give information. A message that does is not from us.",
		portal:   "To see your record and its history, go to the site %s by typing the address in your browser yourself (never from a link you received).",
		hRights:  "Your questions and your rights", dpo: "For any question, write to our data protection officer: %s.",
		complain:   "You may lodge a complaint with the supervisory authority: %s.",
		phrase:     "Your verification phrase: %s. A message from us always shows it; one that does not is not ours.",
		sms:        "%s: a security incident concerned some of your data (%s). %s We ask nothing of you; never give a code. Phrase: %s",
		smsLow:     "%s: a security incident concerned some of your data (%s), only partly visible: low risk. %s We ask nothing of you. Phrase: %s",
		smsByPost:  "Details by post.",
		smsByEmail: "Details by email.",
		dateFormat: "2 January 2006",
		masks: map[string]string{
			"initials": "initials only", "email": "first character and domain only", "last2": "last two characters only",
			"last4": "last four characters only", "year": "year only", "redact": "fully hidden", "": "masked",
		},
	},
}

// Letter writes the letter to one person about inc (art. 34(2)), in c's
// language (French unless "en"): what happened and when; exactly which
// of their fields were exposed (exposed, named in words as notices name
// them, never a value), which of them only partly; what that may lead to
// (the table of consequences, for their fields); what the organisation
// did; what to watch for; the DPO and the right to complain to the
// authority; and phrase, the person's verification phrase. It holds no
// link and asks for nothing; the portal is named as words to type. When
// every field was masked it says the risk is low. The SMS is short and
// holds no link; a letter by post is the same text as the email.
func Letter(inc *incident.Incident, exposed []Exposure, c notice.Contact, s Settings, phrase string) notice.Text {
	lang := langOf(c.Lang)
	w := letterLang[lang]
	loc := s.Location
	if loc == nil {
		loc = time.UTC
	}
	date := func(t time.Time) string { return t.In(loc).Format(w.dateFormat) }
	org := s.Organisation

	// The person's fields, once each, as the rules see them.
	readable := inc.Scope.StoreStolen && !inc.Scope.KeysSafe
	e := exposure{nature: inc.Nature, scope: inc.Scope}
	var names, lines []string
	seen := map[string]bool{}
	for _, x := range exposed {
		if seen[x.Field] {
			continue
		}
		seen[x.Field] = true
		f := field{name: x.Field, clear: x.Clear || readable}
		if inc.Impact != nil {
			fc := inc.Impact.Fields[x.Field]
			f.typ, f.sensitivity = policy.FieldType(fc.Category), policy.Sensitivity(fc.Sensitivity)
		}
		e.fields = append(e.fields, f)
		name := notice.FieldNames([]string{x.Field})
		names = append(names, name)
		how := w.clear
		if !f.clear {
			m, ok := w.masks[x.Mask]
			if !ok { // a mask this letter cannot describe
				m = w.masks[""]
			}
			how = fmt.Sprintf(w.masked, m)
		}
		lines = append(lines, "  - "+name+w.colon+" "+how)
	}
	cons, matched, level := assess(e)

	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	heading := func(h string) { line("\n%s\n%s", h, strings.Repeat("-", len([]rune(h)))) }

	line("%s", w.hello)
	line("")
	line(w.intro, org)

	heading(w.hWhat)
	switch {
	case inc.Scope.StoreStolen && inc.Scope.KeysSafe:
		line("%s", w.stolenSafe)
	case inc.Scope.StoreStolen:
		line("%s", w.stolen)
	}
	for _, n := range inc.Nature {
		switch {
		case n == incident.Confidentiality && !inc.Scope.StoreStolen:
			line("%s", w.confidentiality)
		case n == incident.Integrity:
			line("%s", w.integrity)
		case n == incident.Availability:
			line("%s", w.availability)
		}
	}
	if inc.Ended.IsZero() {
		line(w.ongoing, date(inc.Scope.From))
	} else {
		line(w.between, date(inc.Scope.From), date(inc.Ended))
	}
	line(w.learnt, date(inc.Aware))

	heading(w.hFields)
	for _, l := range lines {
		line("%s", l)
	}
	line("%s", w.none)

	heading(w.hConsequences)
	for k, r := range matched {
		if fs := cons[k].Fields; len(fs) > 0 {
			line("  - %s%s %s", notice.FieldNames(fs), w.colon, r.person.in(lang))
		} else {
			line("  - %s", r.person.in(lang))
		}
	}

	heading(w.hDone)
	if !inc.Ended.IsZero() {
		line("  - "+w.endedAt, date(inc.Ended))
	}
	for _, kind := range measureOrder {
		if slices.Contains(s.Measures, kind) {
			line("  - %s", personMeasure[kind].in(lang))
		}
	}
	if len(inc.Reports) > 0 {
		line("  - %s", w.reported)
	}
	line("  - %s", w.investigating)

	heading(w.hAdvice)
	for _, r := range matched {
		if a := r.advice.in(lang); a != "" {
			line("  - %s", a)
		}
	}
	line("  - %s", w.password)
	line("  - %s", w.neverAsk)
	if s.Portal != "" {
		line("  - "+w.portal, s.Portal)
	}

	heading(w.hRights)
	if s.DPO != "" {
		line(w.dpo, s.DPO)
	}
	if s.Authority != "" {
		line(w.complain, s.Authority)
	}
	line("")
	line(w.phrase, phrase)
	line("")
	line("%s", org)

	via := w.smsByEmail
	if c.Email == "" {
		via = w.smsByPost
	}
	sms := w.sms
	if level == Low {
		sms = w.smsLow
	}
	return notice.Text{
		Subject: fmt.Sprintf(w.subject, org),
		Body:    b.String(),
		SMS:     fmt.Sprintf(sms, org, strings.Join(names, ", "), via, phrase),
	}
}
