package rights

import (
	"fmt"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/notice"
	"github.com/coffre/coffre/internal/outbox"
)

// Writer writes the messages about a person's requests, in French or
// English: what was filed, extended or decided, by when the request is
// due, where to read the reasons (the person's personal space: never in
// the message, which may be read by others), and the person's
// verification phrase. It holds no link.
type Writer struct {
	// Organisation names the organisation; Where says where the personal
	// space is, in words (config notices.where).
	Organisation, Where string
	// Authority is the supervisory authority a refused request may be
	// taken to (art. 12(4)).
	Authority string
	// Phrases makes the person's verification phrase.
	Phrases notice.Hasher
	// Location is the time zone dates are written in (default UTC).
	Location *time.Location
}

type requestWords struct {
	subject                          map[string]string
	kind                             map[string]string
	filed, extended, refused, lifted string
	accepted                         map[string]string
	fields, due, reasons, notYou     string
	complain, where, phrase, never   string
	smsFiled, smsDecided, smsErased  string
	dateFormat                       string
	eventWord                        map[string]string
	erasedNoSpace, erasedKeepsTheLog string
	restrictedSince                  string
}

var requestLang = map[string]requestWords{
	"en": {
		subject: map[string]string{EventFiled: "%s: we received your request", EventExtended: "%s: we need more time for your request",
			EventAccepted: "%s: your request is accepted", EventRefused: "%s: your request is refused", EventLifted: "%s: the restriction of your record is lifted"},
		kind: map[string]string{Rectification: "rectification (GDPR art. 16)", Erasure: "erasure (GDPR art. 17)",
			Restriction: "restriction (GDPR art. 18)", Objection: "objection (GDPR art. 21)"},
		filed:    "%s received your request for %s on %s.",
		extended: "%s extends the time it takes to answer your request for %s: the answer is now due by %s (GDPR art. 12(3)).",
		refused:  "%s refused your request for %s on %s.",
		lifted:   "%s lifted the restriction of your record on %s: it is processed again as before (GDPR art. 18(3)).",
		accepted: map[string]string{
			Rectification: "%s accepted your request for %s on %s: the correction is made to your record, and you are told of the change as of any other.",
			Erasure:       "%s accepted your request for %s on %s: your record is erased.",
			Restriction:   "%s accepted your request for %s on %s.",
			Objection:     "%s accepted your request for %s on %s: the processing you objected to stops for your record.",
		},
		fields:            "About:    %s",
		due:               "The answer is due by %s.",
		reasons:           "The reasons are in your personal space: %s.",
		notYou:            "If you did not make this request, tell us at once through your personal space: someone may be using your account.",
		complain:          "You may lodge a complaint with the supervisory authority (%s) or seek a judicial remedy (GDPR art. 12(4)).",
		where:             "Your personal space: %s.",
		phrase:            "Your verification phrase: %s. A message from us always shows it; one that does not is not ours.",
		never:             "We never ask for a password or a code by email, SMS or phone. Do not follow links in messages claiming to be from us.",
		smsFiled:          "%s: request for %s received, answer by %s. Phrase: %s. We never ask for codes.",
		smsDecided:        "%s: your request for %s: %s. See your personal space. Phrase: %s. We never ask for codes.",
		smsErased:         "%s: your record is erased as you asked. Phrase: %s. We never ask for codes.",
		dateFormat:        "2 January 2006",
		eventWord:         map[string]string{EventExtended: "more time needed", EventAccepted: "accepted", EventRefused: "refused", EventLifted: "restriction lifted"},
		erasedNoSpace:     "Its data key is destroyed: no copy of your data can be read again, backups included once their retention has passed. You no longer have a personal space here.",
		erasedKeepsTheLog: "The log of who accessed your record is kept, as the law requires us to account for what was done: it holds dates, roles, purposes and field names, never your data.",
		restrictedSince:   "From now on your record is kept but reached by nobody except the staff who handle requests, until the restriction is lifted; you will be told when it is.",
	},
	"fr": {
		subject: map[string]string{EventFiled: "%s : nous avons reçu votre demande", EventExtended: "%s : nous avons besoin de plus de temps pour votre demande",
			EventAccepted: "%s : votre demande est acceptée", EventRefused: "%s : votre demande est refusée", EventLifted: "%s : la limitation de votre dossier est levée"},
		kind: map[string]string{Rectification: "rectification (RGPD art. 16)", Erasure: "effacement (RGPD art. 17)",
			Restriction: "limitation (RGPD art. 18)", Objection: "opposition (RGPD art. 21)"},
		filed:    "%s a reçu votre demande de %s le %s.",
		extended: "%s prolonge le délai de réponse à votre demande de %s : la réponse vous sera donnée au plus tard le %s (RGPD art. 12(3)).",
		refused:  "%s a refusé votre demande de %s le %s.",
		lifted:   "%s a levé la limitation de votre dossier le %s : il est de nouveau traité comme avant (RGPD art. 18(3)).",
		accepted: map[string]string{
			Rectification: "%s a accepté votre demande de %s le %s : la correction est apportée à votre dossier, et vous en serez informé(e) comme de tout changement.",
			Erasure:       "%s a accepté votre demande d'%s le %s : votre dossier est effacé.",
			Restriction:   "%s a accepté votre demande de %s le %s.",
			Objection:     "%s a accepté votre demande d'%s le %s : le traitement auquel vous vous êtes opposé(e) cesse pour votre dossier.",
		},
		fields:            "Données :  %s",
		due:               "La réponse vous sera donnée au plus tard le %s.",
		reasons:           "Les motifs sont dans votre espace personnel : %s.",
		notYou:            "Si vous n'avez pas fait cette demande, dites-le-nous sans attendre depuis votre espace personnel : quelqu'un utilise peut-être votre compte.",
		complain:          "Vous pouvez introduire une réclamation auprès de l'autorité de contrôle (%s) ou former un recours juridictionnel (RGPD art. 12(4)).",
		where:             "Votre espace personnel : %s.",
		phrase:            "Votre phrase de vérification : %s. Nos messages la montrent toujours ; un message qui ne la montre pas ne vient pas de nous.",
		never:             "Nous ne demandons jamais de mot de passe ni de code par courriel, SMS ou téléphone. Ne suivez pas les liens des messages qui prétendent venir de nous.",
		smsFiled:          "%s : demande de %s reçue, réponse au plus tard le %s. Phrase : %s. Nous ne demandons jamais de code.",
		smsDecided:        "%s : votre demande de %s : %s. Voir votre espace personnel. Phrase : %s. Nous ne demandons jamais de code.",
		smsErased:         "%s : votre dossier est effacé comme vous l'avez demandé. Phrase : %s. Nous ne demandons jamais de code.",
		dateFormat:        "02/01/2006",
		eventWord:         map[string]string{EventExtended: "délai prolongé", EventAccepted: "acceptée", EventRefused: "refusée", EventLifted: "limitation levée"},
		erasedNoSpace:     "Sa clé de chiffrement est détruite : aucune copie de vos données ne peut plus être lue, sauvegardes comprises une fois leur durée de conservation passée. Vous n'avez plus d'espace personnel ici.",
		erasedKeepsTheLog: "Le journal des consultations de votre dossier est conservé, car la loi nous demande de rendre compte de ce qui a été fait : il contient des dates, des rôles, des finalités et des noms de données, jamais vos données.",
		restrictedSince:   "Désormais votre dossier est conservé mais n'est plus consulté par personne, sauf par les agents qui traitent les demandes, jusqu'à la levée de la limitation ; vous en serez informé(e).",
	},
}

// Text writes message m (its payload a [Message]) to a person, in c's
// language.
func (w *Writer) Text(m outbox.Message, c notice.Contact) (notice.Text, error) {
	msg, err := Decode(m.Payload)
	if err != nil {
		return notice.Text{}, err
	}
	lang := "fr"
	if c.Lang == "en" {
		lang = "en"
	}
	l := requestLang[lang]
	loc := w.Location
	if loc == nil {
		loc = time.UTC
	}
	date := func(t time.Time) string { return t.In(loc).Format(l.dateFormat) }
	subject, ok := l.subject[msg.Event]
	if !ok {
		return notice.Text{}, fmt.Errorf("request message: unknown event %q", msg.Event)
	}
	kind := l.kind[msg.Kind]
	phrase := notice.Phrase(w.Phrases, msg.Subject, lang)
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	erased := msg.Event == EventAccepted && msg.Kind == Erasure
	switch msg.Event {
	case EventFiled:
		line(l.filed, w.Organisation, kind, date(msg.Time))
	case EventExtended:
		line(l.extended, w.Organisation, kind, date(msg.Due))
	case EventAccepted:
		line(l.accepted[msg.Kind], w.Organisation, kind, date(msg.Time))
	case EventRefused:
		line(l.refused, w.Organisation, kind, date(msg.Time))
	case EventLifted:
		line(l.lifted, w.Organisation, date(msg.Time))
	}
	if len(msg.Fields) > 0 {
		line(l.fields, strings.Join(msg.Fields, ", "))
	}
	b.WriteString("\n")
	switch {
	case msg.Event == EventFiled:
		line(l.due, date(msg.Due))
		line(l.notYou)
	case erased:
		line(l.erasedNoSpace)
		line(l.erasedKeepsTheLog)
	case msg.Event == EventAccepted && msg.Kind == Restriction:
		line(l.restrictedSince)
	case msg.Event == EventExtended || msg.Event == EventRefused:
		line(l.reasons, w.Where)
	}
	if msg.Event == EventRefused {
		line(l.complain, w.Authority)
	}
	b.WriteString("\n")
	if !erased {
		line(l.where, w.Where)
	}
	line(l.phrase+"\n", phrase)
	line(l.never)
	t := notice.Text{Subject: fmt.Sprintf(subject, w.Organisation), Body: b.String()}
	switch {
	case msg.Event == EventFiled:
		t.SMS = fmt.Sprintf(l.smsFiled, w.Organisation, kind, date(msg.Due), phrase)
	case erased:
		t.SMS = fmt.Sprintf(l.smsErased, w.Organisation, phrase)
	default:
		t.SMS = fmt.Sprintf(l.smsDecided, w.Organisation, kind, l.eventWord[msg.Event], phrase)
	}
	return t, nil
}
