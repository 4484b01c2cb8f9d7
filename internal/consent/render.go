package consent

import (
	"fmt"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/notice"
	"github.com/coffre/coffre/internal/outbox"
)

// Texts is what the text of a consent message needs beyond its payload.
type Texts struct {
	// Organisation is who writes: the organisation holding the records.
	Organisation string
	// Phrase keys the person's verification phrase (the keyring's
	// StableHash, see notice.Phrase).
	Phrase notice.Hasher
	// Purposes describes the purposes by name (policy.Purpose.Description);
	// a purpose without a description is named only.
	Purposes map[string]string
	// Location is the time zone of the dates shown (default UTC).
	Location *time.Location
}

// Renderer returns the renderer of messages of kind [Kind] for the person
// channel's sender: the text of a consent request to the person in c, in
// French when c.Lang is "fr" and in English otherwise. It names who asks
// (the organisation, unit and role; the operator's id only when the
// payload carries it), which fields (never their values), for what purpose
// and until when; it tells the person to decide in the signed-in portal,
// never by replying, holds no link, and shows the person's verification
// phrase.
func Renderer(t Texts) func(m outbox.Message, c notice.Contact) (notice.Text, error) {
	return func(m outbox.Message, c notice.Contact) (notice.Text, error) {
		if m.Kind != Kind {
			return notice.Text{}, fmt.Errorf("consent renderer: message of kind %q", m.Kind)
		}
		msg, err := Decode(m.Payload)
		if err != nil {
			return notice.Text{}, err
		}
		if msg.Subject != m.Recipient {
			return notice.Text{}, fmt.Errorf("consent renderer: payload names another person than the recipient")
		}
		loc := t.Location
		if loc == nil {
			loc = time.UTC
		}
		phrase := notice.Phrase(t.Phrase, msg.Subject, c.Lang)
		if c.Lang == "fr" {
			return t.french(msg, loc, phrase), nil
		}
		return t.english(msg, loc, phrase), nil
	}
}

func (t Texts) purpose(name string) string {
	if d := t.Purposes[name]; d != "" {
		return name + " (" + d + ")"
	}
	return name
}

func (t Texts) english(m Message, loc *time.Location, phrase string) notice.Text {
	until := m.Expires.In(loc).Format("2 January 2006 at 15:04 MST")
	who := fmt.Sprintf("unit %s, role %s", m.Unit, m.Role)
	if m.Operator != "" {
		who += ", operator " + m.Operator
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Hello,\n\n%s asks for your consent to read part of your record.\n\n", t.Organisation)
	fmt.Fprintf(&b, "Who asks:     %s (%s)\n", t.Organisation, who)
	fmt.Fprintf(&b, "For what:     %s\n", t.purpose(m.Purpose))
	fmt.Fprintf(&b, "Which data:   %s (this message holds none of their values)\n", notice.FieldNames(m.Fields))
	fmt.Fprintf(&b, "Until when:   you may decide until %s\n", until)
	fmt.Fprintf(&b, "Request:      %s\n\n", m.Consent)
	fmt.Fprintf(&b, "To decide, sign in to your personal space on %s's Coffre portal yourself, from the address you always use (never from a link in a message), and open your consent requests: approve or deny there. Replying to this message decides nothing, and we never ask for a password or a code by email or SMS.\n\n", t.Organisation)
	b.WriteString("If you approve, one read of these data for this purpose is allowed, within a limited time. If you deny, or do nothing, nothing is read.\n\n")
	fmt.Fprintf(&b, "Verification phrase: %s\n", phrase)
	b.WriteString("The portal shows the same phrase once you have signed in. A message that does not show it is not from us.\n")
	return notice.Text{
		Subject: fmt.Sprintf("%s asks for your consent (%s)", t.Organisation, m.Purpose),
		Body:    b.String(),
		SMS: fmt.Sprintf("%s (%s) asks your consent to read your record for %s, until %s. Decide in your personal space, signed in; not by reply. Phrase: %s",
			t.Organisation, who, m.Purpose, m.Expires.In(loc).Format("2 Jan 15:04 MST"), phrase),
	}
}

func (t Texts) french(m Message, loc *time.Location, phrase string) notice.Text {
	e := m.Expires.In(loc)
	until := fmt.Sprintf("%s à %s", e.Format("02/01/2006"), e.Format("15:04 MST"))
	who := fmt.Sprintf("service %s, rôle %s", m.Unit, m.Role)
	if m.Operator != "" {
		who += ", agent " + m.Operator
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Bonjour,\n\n%s demande votre consentement pour consulter une partie de votre dossier.\n\n", t.Organisation)
	fmt.Fprintf(&b, "Qui demande :       %s (%s)\n", t.Organisation, who)
	fmt.Fprintf(&b, "Pour quoi :         %s\n", t.purpose(m.Purpose))
	fmt.Fprintf(&b, "Quelles données :   %s (ce message n'en contient aucune valeur)\n", notice.FieldNames(m.Fields))
	fmt.Fprintf(&b, "Jusqu'à quand :     vous pouvez décider jusqu'au %s\n", until)
	fmt.Fprintf(&b, "Demande :           %s\n\n", m.Consent)
	fmt.Fprintf(&b, "Pour décider, connectez-vous vous-même à votre espace personnel sur le portail Coffre (%s), depuis l'adresse que vous utilisez d'habitude (jamais depuis un lien reçu dans un message), et ouvrez vos demandes de consentement : acceptez ou refusez-y. Répondre à ce message ne décide rien, et nous ne demandons jamais de mot de passe ni de code par courriel ou SMS.\n\n", t.Organisation)
	b.WriteString("Si vous acceptez, une seule consultation de ces données pour ce motif est permise, dans un délai limité. Si vous refusez, ou ne faites rien, rien n'est consulté.\n\n")
	fmt.Fprintf(&b, "Phrase de vérification : %s\n", phrase)
	b.WriteString("Le portail affiche la même phrase une fois connecté. Un message qui ne la montre pas ne vient pas de nous.\n")
	return notice.Text{
		Subject: fmt.Sprintf("%s demande votre consentement (%s)", t.Organisation, m.Purpose),
		Body:    b.String(),
		SMS: fmt.Sprintf("%s (%s) demande votre consentement pour consulter votre dossier (%s), jusqu'au %s. Décidez dans votre espace personnel, connecté ; pas en répondant. Phrase : %s",
			t.Organisation, who, m.Purpose, e.Format("02/01 15:04 MST"), phrase),
	}
}
