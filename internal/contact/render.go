package contact

import (
	"fmt"
	"strings"
	"time"

	"github.com/coffre/coffre/internal/notice"
	"github.com/coffre/coffre/internal/outbox"
)

// Texts is what the text of a contact-change message needs beyond its
// payload.
type Texts struct {
	// Organisation is who writes: the organisation holding the records.
	Organisation string
	// Phrase keys the person's verification phrase (notice.Phrase).
	Phrase notice.Hasher
	// Location is the time zone of the dates shown (default UTC).
	Location *time.Location
}

// Renderer returns the renderer of messages of kind [Kind] for the person
// channel's sender. c must be the contact the change replaces (the vault's
// ContactForChange), never the record's current one, which may already be
// the new address. The text says who asked (organisation, unit, role),
// which fields (never the old or the new values), when it takes effect,
// and what to do if the person did not ask for it: cancel it in the
// signed-in portal before that date; it holds no link and shows the
// person's verification phrase. French when c.Lang is "fr", English
// otherwise.
func Renderer(t Texts) func(m outbox.Message, c notice.Contact) (notice.Text, error) {
	return func(m outbox.Message, c notice.Contact) (notice.Text, error) {
		if m.Kind != Kind {
			return notice.Text{}, fmt.Errorf("contact change renderer: message of kind %q", m.Kind)
		}
		msg, err := Decode(m.Payload)
		if err != nil {
			return notice.Text{}, err
		}
		if msg.Subject != m.Recipient {
			return notice.Text{}, fmt.Errorf("contact change renderer: payload names another person than the recipient")
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

func (t Texts) english(m Message, loc *time.Location, phrase string) notice.Text {
	when := func(x time.Time) string { return x.In(loc).Format("2 January 2006 at 15:04 MST") }
	who := fmt.Sprintf("unit %s, role %s", m.Unit, m.Role)
	if m.Operator != "" {
		who += ", operator " + m.Operator
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Hello,\n\n%s has recorded a change of your contact details. This message goes to the details being replaced.\n\n", t.Organisation)
	fmt.Fprintf(&b, "Who:            %s (%s)\n", t.Organisation, who)
	fmt.Fprintf(&b, "What changes:   %s (this message holds neither the old nor the new values)\n", notice.FieldNames(m.Fields))
	fmt.Fprintf(&b, "Asked on:       %s\n", when(m.Created))
	fmt.Fprintf(&b, "Takes effect:   %s\n", when(m.Effective))
	fmt.Fprintf(&b, "Change:         %s\n\n", m.Change)
	b.WriteString("Until then, messages and sign-in keep using your current details. If you asked for this change, there is nothing to do.\n\n")
	fmt.Fprintf(&b, "If you did not, sign in to your personal space on %s's Coffre portal yourself, from the address you always use (never from a link in a message), before that date, and cancel the change; or contact %s the way you usually do. Replying to this message changes nothing, and we never ask for a password or a code by email or SMS.\n\n", t.Organisation, t.Organisation)
	fmt.Fprintf(&b, "Verification phrase: %s\n", phrase)
	b.WriteString("The portal shows the same phrase once you have signed in. A message that does not show it is not from us.\n")
	return notice.Text{
		Subject: fmt.Sprintf("%s: a change of your contact details is pending", t.Organisation),
		Body:    b.String(),
		SMS: fmt.Sprintf("%s (%s) changes your contact details (%s) on %s. Not you? Cancel it in your personal space, signed in; not by reply. Phrase: %s",
			t.Organisation, who, notice.FieldNames(m.Fields), m.Effective.In(loc).Format("2 Jan 15:04 MST"), phrase),
	}
}

func (t Texts) french(m Message, loc *time.Location, phrase string) notice.Text {
	when := func(x time.Time) string {
		x = x.In(loc)
		return fmt.Sprintf("%s à %s", x.Format("02/01/2006"), x.Format("15:04 MST"))
	}
	who := fmt.Sprintf("service %s, rôle %s", m.Unit, m.Role)
	if m.Operator != "" {
		who += ", agent " + m.Operator
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Bonjour,\n\n%s a enregistré un changement de vos coordonnées. Ce message est envoyé aux coordonnées remplacées.\n\n", t.Organisation)
	fmt.Fprintf(&b, "Qui :                %s (%s)\n", t.Organisation, who)
	fmt.Fprintf(&b, "Ce qui change :      %s (ce message ne contient ni les anciennes ni les nouvelles valeurs)\n", notice.FieldNames(m.Fields))
	fmt.Fprintf(&b, "Demandé le :         %s\n", when(m.Created))
	fmt.Fprintf(&b, "Prend effet le :     %s\n", when(m.Effective))
	fmt.Fprintf(&b, "Changement :         %s\n\n", m.Change)
	b.WriteString("D'ici là, les messages et la connexion utilisent vos coordonnées actuelles. Si vous avez demandé ce changement, vous n'avez rien à faire.\n\n")
	fmt.Fprintf(&b, "Sinon, connectez-vous vous-même à votre espace personnel sur le portail Coffre (%s), depuis l'adresse que vous utilisez d'habitude (jamais depuis un lien reçu dans un message), avant cette date, et annulez le changement ; ou contactez %s par vos moyens habituels. Répondre à ce message ne change rien, et nous ne demandons jamais de mot de passe ni de code par courriel ou SMS.\n\n", t.Organisation, t.Organisation)
	fmt.Fprintf(&b, "Phrase de vérification : %s\n", phrase)
	b.WriteString("Le portail affiche la même phrase une fois connecté. Un message qui ne la montre pas ne vient pas de nous.\n")
	e := m.Effective.In(loc)
	return notice.Text{
		Subject: fmt.Sprintf("%s : un changement de vos coordonnées est en attente", t.Organisation),
		Body:    b.String(),
		SMS: fmt.Sprintf("%s (%s) change vos coordonnées (%s) le %s. Pas vous ? Annulez dans votre espace personnel, connecté ; pas en répondant. Phrase : %s",
			t.Organisation, who, notice.FieldNames(m.Fields), e.Format("02/01 15:04 MST"), phrase),
	}
}
