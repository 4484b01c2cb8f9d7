package contact

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/notice"
	"github.com/coffre/coffre/internal/outbox"
)

type hmacHasher []byte

func (k hmacHasher) StableHash(label, value string) []byte {
	h := hmac.New(sha256.New, k)
	h.Write([]byte(label + "\x00" + value))
	return h.Sum(nil)
}

var t0 = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

func change() *Change {
	return &Change{ID: "chg_0123456789abcdef", Subject: "sub_0123456789abcdefghjkmnpqrs", Operator: "op_aaaaaaaaaaaaaaaa",
		Role: "caseworker", Unit: "u1", Fields: []string{"email_pro", "phone"}, New: []byte("sealed new"), Old: []byte("sealed old"),
		Status: StatusPending, Created: t0, Effective: t0.Add(72 * time.Hour)}
}

func message(t *testing.T, c *Change, names bool) outbox.Message {
	t.Helper()
	payload, err := json.Marshal(MessageOf(c, names))
	if err != nil {
		t.Fatal(err)
	}
	return outbox.Message{Kind: Kind, Channel: outbox.ChannelPerson, Recipient: c.Subject, Key: Key(c.ID), Payload: payload}
}

// TestRenderer: the text to the address being replaced names who asked,
// which fields, when it takes effect, how to stop it (in the signed-in
// portal, not by replying, no link), and shows the phrase; it holds no
// address, old or new.
func TestRenderer(t *testing.T) {
	texts := Texts{Organisation: "Acme", Phrase: hmacHasher("k")}
	render := Renderer(texts)
	c := change()
	tests := []struct {
		name  string
		lang  string
		names bool
		want  []string
		not   []string
	}{
		{"english", "en", false, []string{"Acme has recorded a change of your contact details", "unit u1, role caseworker", "email pro, phone",
			"Takes effect:   3 December 2026 at 09:00 UTC", "chg_0123456789abcdef", "sign in to your personal space", "cancel the change",
			"Replying to this message changes nothing", "Verification phrase: " + notice.Phrase(texts.Phrase, c.Subject, "en")},
			[]string{"op_aaaaaaaaaaaaaaaa"}},
		{"french", "fr", false, []string{"Acme a enregistré un changement de vos coordonnées", "service u1, rôle caseworker", "email pro, phone",
			"Prend effet le :     03/12/2026 à 09:00 UTC", "connectez-vous vous-même", "annulez le changement",
			"Phrase de vérification : " + notice.Phrase(texts.Phrase, c.Subject, "fr")},
			[]string{"op_aaaaaaaaaaaaaaaa"}},
		{"the policy names operators", "en", true, []string{"operator op_aaaaaaaaaaaaaaaa"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			txt, err := render(message(t, c, tt.names), notice.Contact{Email: "old@example.org", Lang: tt.lang})
			if err != nil {
				t.Fatal(err)
			}
			if txt.Subject == "" || txt.SMS == "" {
				t.Fatalf("text %+v: want a subject and an SMS", txt)
			}
			for _, w := range tt.want {
				if !strings.Contains(txt.Body, w) {
					t.Errorf("body lacks %q:\n%s", w, txt.Body)
				}
			}
			if !strings.Contains(txt.SMS, notice.Phrase(texts.Phrase, c.Subject, tt.lang)) {
				t.Errorf("SMS lacks the phrase: %s", txt.SMS)
			}
			all := txt.Subject + txt.Body + txt.SMS
			for _, n := range append(tt.not, "@", "http", "www.", "sealed") {
				if strings.Contains(all, n) {
					t.Errorf("text holds %q:\n%s", n, all)
				}
			}
		})
	}
}

func TestRendererRefuses(t *testing.T) {
	render := Renderer(Texts{Organisation: "Acme", Phrase: hmacHasher("k")})
	good := message(t, change(), false)
	tests := []struct {
		name string
		m    func(outbox.Message) outbox.Message
	}{
		{"another kind", func(m outbox.Message) outbox.Message { m.Kind = "consent"; return m }},
		{"not JSON", func(m outbox.Message) outbox.Message { m.Payload = []byte("["); return m }},
		{"no field", func(m outbox.Message) outbox.Message {
			m.Payload = []byte(`{"change":"chg_x","subject":"sub_0123456789abcdefghjkmnpqrs","effective":"2026-12-03T09:00:00Z"}`)
			return m
		}},
		{"another person", func(m outbox.Message) outbox.Message { m.Recipient = "sub_someone_else"; return m }},
	}
	for _, tt := range tests {
		if _, err := render(tt.m(good), notice.Contact{Lang: "fr"}); err == nil {
			t.Errorf("%s: rendered, want an error", tt.name)
		}
	}
}
