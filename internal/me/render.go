package me

import (
	"fmt"

	"github.com/coffre/coffre/internal/notice"
	"github.com/coffre/coffre/internal/outbox"
)

// CodeRenderer returns the renderer of code messages (kind CodeKind) for
// the person channel's sender: it opens the sealed code with keys and
// writes, in the person's language (French, else English), the code, how
// long it works, the warning never to give it to anyone, and the person's
// verification phrase. It holds no link: a message that asks the person
// to follow one to sign in is not Coffre's.
func CodeRenderer(keys Keys) func(m outbox.Message, c notice.Contact) (notice.Text, error) {
	return func(m outbox.Message, c notice.Contact) (notice.Text, error) {
		code, p, err := OpenCode(keys, m)
		if err != nil {
			return notice.Text{}, err
		}
		lang := "en"
		if c.Lang == "fr" {
			lang = "fr"
		}
		return codeText(lang, code, p.Minutes, notice.Phrase(keys, p.Subject, lang)), nil
	}
}

// codeText writes a code message in lang ("fr" or "en").
func codeText(lang, code string, minutes int, phrase string) notice.Text {
	if lang == "fr" {
		return notice.Text{
			Subject: "Votre code de connexion Coffre",
			Body: fmt.Sprintf(`Bonjour,

Votre code de connexion à Coffre est : %s
Il est valable %d minutes, une seule fois.

Ne donnez jamais ce code à personne. Coffre ne vous le demandera jamais,
ni par téléphone, ni par courriel, ni par SMS.
Si vous n'avez pas demandé ce code, ignorez ce message : personne ne
peut se connecter sans lui.

Votre phrase de vérification : %s
Les messages de Coffre la portent toujours ; un message qui ne la porte
pas ne vient pas de Coffre.
`, code, minutes, phrase),
			SMS: fmt.Sprintf("Coffre : votre code est %s (valable %d min). Ne le donnez à personne : Coffre ne vous le demandera jamais par téléphone. Phrase : %s", code, minutes, phrase),
		}
	}
	return notice.Text{
		Subject: "Your Coffre sign-in code",
		Body: fmt.Sprintf(`Hello,

Your Coffre sign-in code is: %s
It is valid for %d minutes, once.

Never give this code to anyone. Coffre never asks for it, by phone,
email or text message.
If you did not ask for this code, ignore this message: nobody can sign
in without it.

Your verification phrase: %s
Coffre's messages always show it; a message without it is not from
Coffre.
`, code, minutes, phrase),
		SMS: fmt.Sprintf("Coffre: your code is %s (valid %d min). Never give it to anyone: Coffre never asks for it by phone. Phrase: %s", code, minutes, phrase),
	}
}

// Phrase is the person's verification phrase in lang, as their notices
// show it (notice.Phrase).
func (s *Service) Phrase(subject, lang string) string { return notice.Phrase(s.Keys, subject, lang) }
