package notice

import (
	"fmt"
	"strings"
	"time"
)

// Writer writes notices in the person's language. It names the
// organisation, the unit, the role and the purpose, the fields (never a
// value), when, and the audit entry; the operator only when the purpose's
// policy says so (the notice's Operator is set). It holds no link: it
// says where to go (Where), and shows the person's verification phrase.
type Writer struct {
	// Organisation names the organisation; Where says where to see one's
	// history, in words.
	Organisation, Where string
	// Phrases makes the person's verification phrase.
	Phrases Hasher
	// Purposes are the purposes' descriptions, by name (optional).
	Purposes map[string]string
	// Location is the time zone times are written in (default UTC).
	Location *time.Location
	// LeafHash, when set, gives the leaf hash (hex) of an audit entry,
	// so that the notice names it with its index: the person can check
	// that their history holds it (coffre audit verify-subject --newest).
	// "" when it is not known yet.
	LeafHash func(seq int64) string
}

// words are a language's fixed texts.
type words struct {
	subject1, subjectN, intro1, introN, byRole, byPartner, byOperator  string
	purpose, fields, none, when, entry, deferred, where, phrase, never string
	sms1, smsN                                                         string
}

var lang = map[string]words{
	"en": {
		subject1:   "%s: your record was accessed",
		subjectN:   "%s: %d accesses to your record",
		intro1:     "%s accessed your record.",
		introN:     "%s accessed your record %d times.",
		byRole:     "By:       a %s of unit %s",
		byPartner:  "By:       partner organisation %s",
		byOperator: "Operator: %s",
		purpose:    "Purpose:  %s",
		fields:     "Fields:   %s",
		none:       "none",
		when:       "When:     %s",
		entry:      "Audit entry: %s",
		deferred:   "You are told only now under: %s.",
		where:      "To see your whole history and check that it is complete: %s.",
		phrase:     "Your verification phrase: %s. A message from us always shows it; one that does not is not ours.",
		never:      "We never ask for a password or a code by email, SMS or phone. Do not follow links in messages claiming to be from us.",
		sms1:       "%s: your record was accessed for %s (%s) on %s. Entry %s. Phrase: %s. We never ask for codes.",
		smsN:       "%s: %d accesses to your record. See your history. Phrase: %s. We never ask for codes.",
	},
	"fr": {
		subject1:   "%s : votre dossier a été consulté",
		subjectN:   "%s : %d consultations de votre dossier",
		intro1:     "%s a consulté votre dossier.",
		introN:     "%s a consulté votre dossier %d fois.",
		byRole:     "Par :       un(e) %s de l'unité %s",
		byPartner:  "Par :       l'organisme partenaire %s",
		byOperator: "Agent :     %s",
		purpose:    "Finalité :  %s",
		fields:     "Données :   %s",
		none:       "aucune",
		when:       "Quand :     %s",
		entry:      "Entrée du journal : %s",
		deferred:   "Vous n'en êtes informé(e) que maintenant, en vertu de : %s.",
		where:      "Pour voir tout votre historique et vérifier qu'il est complet : %s.",
		phrase:     "Votre phrase de vérification : %s. Nos messages la montrent toujours ; un message qui ne la montre pas ne vient pas de nous.",
		never:      "Nous ne demandons jamais de mot de passe ni de code par courriel, SMS ou téléphone. Ne suivez pas les liens des messages qui prétendent venir de nous.",
		sms1:       "%s : votre dossier a été consulté pour %s (%s) le %s. Entrée %s. Phrase : %s. Nous ne demandons jamais de code.",
		smsN:       "%s : %d consultations de votre dossier. Voir votre historique. Phrase : %s. Nous ne demandons jamais de code.",
	},
}

// Text writes the notice of ns (one access, or a digest of several, all
// about one person) in c's language.
func (w *Writer) Text(ns []Notice, c Contact) Text {
	l, ok := lang[c.Lang]
	if !ok {
		l = lang["fr"]
	}
	loc := w.Location
	if loc == nil {
		loc = time.UTC
	}
	var t Text
	var b strings.Builder
	if len(ns) == 1 {
		t.Subject = fmt.Sprintf(l.subject1, w.Organisation)
		fmt.Fprintf(&b, l.intro1+"\n\n", w.Organisation)
	} else {
		t.Subject = fmt.Sprintf(l.subjectN, w.Organisation, len(ns))
		fmt.Fprintf(&b, l.introN+"\n\n", w.Organisation, len(ns))
	}
	var entries []string
	for _, n := range ns {
		fmt.Fprintf(&b, l.when+"\n", n.Time.In(loc).Format("2006-01-02 15:04 MST"))
		if n.Partner != "" {
			fmt.Fprintf(&b, l.byPartner+"\n", n.Partner)
		} else {
			fmt.Fprintf(&b, l.byRole+"\n", n.Role, n.Unit)
		}
		if n.Operator != "" {
			fmt.Fprintf(&b, l.byOperator+"\n", n.Operator)
		}
		p := n.Purpose
		if d := w.Purposes[n.Purpose]; d != "" {
			p += " (" + d + ")"
		}
		fmt.Fprintf(&b, l.purpose+"\n", p)
		fields := l.none
		if len(n.Fields) > 0 {
			fields = strings.Join(n.Fields, ", ")
		}
		fmt.Fprintf(&b, l.fields+"\n", fields)
		e := w.entryRef(n.Seq)
		fmt.Fprintf(&b, l.entry+"\n", e)
		if n.Basis != "" {
			fmt.Fprintf(&b, l.deferred+"\n", n.Basis)
		}
		b.WriteString("\n")
		entries = append(entries, e)
	}
	phrase := Phrase(w.Phrases, ns[0].Subject, langOf(c))
	fmt.Fprintf(&b, l.where+"\n", w.Where)
	fmt.Fprintf(&b, l.phrase+"\n\n", phrase)
	b.WriteString(l.never + "\n")
	t.Body = b.String()
	if n := ns[0]; len(ns) == 1 {
		t.SMS = fmt.Sprintf(l.sms1, w.Organisation, n.Purpose, strings.Join(n.Fields, ", "), n.Time.In(loc).Format("2006-01-02 15:04"), entries[0], phrase)
	} else {
		t.SMS = fmt.Sprintf(l.smsN, w.Organisation, len(ns), phrase)
	}
	return t
}

// entryRef is an audit entry as a notice names it: its index, and its
// leaf hash when known ("SEQ:LEAFHASH", what verify-subject --newest takes).
func (w *Writer) entryRef(seq int64) string {
	if w.LeafHash != nil {
		if h := w.LeafHash(seq); h != "" {
			return fmt.Sprintf("%d:%s", seq, h)
		}
	}
	return fmt.Sprint(seq)
}

func langOf(c Contact) string {
	if c.Lang == "en" {
		return "en"
	}
	return "fr"
}

// FieldNames names fields for a person: health_note reads "health note".
func FieldNames(fields []string) string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = strings.ReplaceAll(f, "_", " ")
	}
	return strings.Join(out, ", ")
}
