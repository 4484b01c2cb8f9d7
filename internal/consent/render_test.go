package consent

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

func request() *Request {
	return &Request{ID: "cns_0123456789abcdef", Subject: "sub_0123456789abcdefghjkmnpqrs", Operator: "op_aaaaaaaaaaaaaaaa",
		Role: "hr-officer", Unit: "u1", Purpose: "occupational-health", Reason: "ticket 4711: back pain",
		Fields: []string{"given_name", "health_note"}, Status: StatusPending, Created: t0, Expires: t0.Add(72 * time.Hour)}
}

func message(t *testing.T, r *Request, names bool) outbox.Message {
	t.Helper()
	payload, err := json.Marshal(MessageOf(r, names))
	if err != nil {
		t.Fatal(err)
	}
	return outbox.Message{Kind: Kind, Channel: outbox.ChannelPerson, Recipient: r.Subject, Key: Key(r.ID), Payload: payload}
}

// TestRenderer: the text names who asks (organisation, unit, role; the
// operator only when the payload names it), the fields by name, the
// purpose, the end of the request and the request's id; sends the person
// to the signed-in portal, not to a reply or a link; shows the phrase;
// and holds neither the operator's reason nor any value.
func TestRenderer(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	texts := Texts{Organisation: "Acme", Phrase: hmacHasher("k"), Location: paris,
		Purposes: map[string]string{"occupational-health": "Refer a staff member to occupational health"}}
	render := Renderer(texts)
	r := request()
	tests := []struct {
		name    string
		lang    string
		names   bool
		want    []string // in the body
		wantSMS []string
		not     []string // in neither
	}{
		{"english", "en", false,
			[]string{"Acme asks for your consent", "unit u1, role hr-officer", "occupational-health (Refer a staff member to occupational health)",
				"given name, health note", "3 December 2026 at 10:00 CET", "cns_0123456789abcdef", "sign in to your personal space", "Replying to this message decides nothing",
				"Verification phrase: " + notice.Phrase(texts.Phrase, r.Subject, "en")},
			[]string{"Acme (unit u1, role hr-officer)", "occupational-health", "not by reply", notice.Phrase(texts.Phrase, r.Subject, "en")},
			[]string{"op_aaaaaaaaaaaaaaaa"}},
		{"french", "fr", false,
			[]string{"Acme demande votre consentement", "service u1, rôle hr-officer", "given name, health note", "03/12/2026 à 10:00 CET",
				"connectez-vous vous-même à votre espace personnel", "Répondre à ce message ne décide rien",
				"Phrase de vérification : " + notice.Phrase(texts.Phrase, r.Subject, "fr")},
			[]string{"pas en répondant", notice.Phrase(texts.Phrase, r.Subject, "fr")},
			[]string{"op_aaaaaaaaaaaaaaaa"}},
		{"no language is English", "", false, []string{"Acme asks for your consent"}, nil, nil},
		{"the policy names operators", "en", true, []string{"operator op_aaaaaaaaaaaaaaaa"}, []string{"operator op_aaaaaaaaaaaaaaaa"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			txt, err := render(message(t, r, tt.names), notice.Contact{Email: "ana@example.org", Lang: tt.lang})
			if err != nil {
				t.Fatal(err)
			}
			if txt.Subject == "" || txt.Body == "" || txt.SMS == "" {
				t.Fatalf("text %+v: want a subject, a body and an SMS", txt)
			}
			for _, w := range tt.want {
				if !strings.Contains(txt.Body, w) {
					t.Errorf("body lacks %q:\n%s", w, txt.Body)
				}
			}
			for _, w := range tt.wantSMS {
				if !strings.Contains(txt.SMS, w) {
					t.Errorf("SMS lacks %q: %s", w, txt.SMS)
				}
			}
			all := txt.Subject + txt.Body + txt.SMS
			for _, n := range append(tt.not, "ticket 4711", "back pain", "http", "www.", "ana@example.org") {
				if strings.Contains(all, n) {
					t.Errorf("text holds %q:\n%s\n%s", n, all, txt.SMS)
				}
			}
		})
	}
}

func TestRendererRefuses(t *testing.T) {
	render := Renderer(Texts{Organisation: "Acme", Phrase: hmacHasher("k")})
	good := message(t, request(), false)
	tests := []struct {
		name string
		m    func(outbox.Message) outbox.Message
	}{
		{"another kind", func(m outbox.Message) outbox.Message { m.Kind = "notice"; return m }},
		{"not JSON", func(m outbox.Message) outbox.Message { m.Payload = []byte("{"); return m }},
		{"no request id", func(m outbox.Message) outbox.Message {
			m.Payload = []byte(`{"subject":"sub_x","purpose":"p"}`)
			return m
		}},
		{"another person", func(m outbox.Message) outbox.Message { m.Recipient = "sub_someone_else"; return m }},
	}
	for _, tt := range tests {
		if _, err := render(tt.m(good), notice.Contact{Lang: "en"}); err == nil {
			t.Errorf("%s: rendered, want an error", tt.name)
		}
	}
}

func TestStatusAt(t *testing.T) {
	r := request()
	approved := *r
	approved.Status, approved.Decided, approved.ValidUntil = StatusApproved, t0.Add(time.Hour), t0.Add(25*time.Hour)
	tests := []struct {
		r        *Request
		at       time.Time
		want     string
		deadline time.Time
	}{
		{r, t0, StatusPending, r.Expires},
		{r, r.Expires.Add(-time.Nanosecond), StatusPending, r.Expires},
		{r, r.Expires, StatusExpired, r.Expires},
		{&approved, t0.Add(2 * time.Hour), StatusApproved, approved.ValidUntil},
		{&approved, approved.ValidUntil, StatusExpired, approved.ValidUntil},
		{&Request{Status: StatusDenied, Expires: t0}, t0.Add(time.Hour), StatusDenied, time.Time{}},
		{&Request{Status: StatusUsed, ValidUntil: t0}, t0.Add(time.Hour), StatusUsed, time.Time{}},
	}
	for _, tt := range tests {
		if got := tt.r.StatusAt(tt.at); got != tt.want {
			t.Errorf("%s request at %s: StatusAt = %s, want %s", tt.r.Status, tt.at, got, tt.want)
		}
		if got := tt.r.Deadline(); !got.Equal(tt.deadline) {
			t.Errorf("%s request: Deadline = %s, want %s", tt.r.Status, got, tt.deadline)
		}
	}
}
