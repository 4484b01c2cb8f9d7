package me_test

import (
	"strings"
	"testing"

	"github.com/coffre/coffre/internal/me"
	"github.com/coffre/coffre/internal/notice"
)

// TestCodeRenderer: the code message in French and English holds the
// code, its validity, the warning and the person's phrase (the same the
// portal shows), and no link.
func TestCodeRenderer(t *testing.T) {
	e := newEnv(t, me.Settings{Digits: 8})
	if _, err := e.svc.RequestCode(ctx, e.people[0].Fields["phone"], "192.0.2.7"); err != nil {
		t.Fatal(err)
	}
	ms := e.messages(t)
	code, _, err := me.OpenCode(e.keys, ms[0])
	if err != nil || len(code) != 8 {
		t.Fatalf("OpenCode = %q, %v; want 8 digits", code, err)
	}
	render := me.CodeRenderer(e.keys)
	for _, tc := range []struct {
		lang, subject string
		want          []string
	}{
		{"fr", "Votre code de connexion Coffre", []string{"valable 10 minutes", "Ne donnez jamais ce code à personne", "ni par téléphone", "phrase de vérification"}},
		{"en", "Your Coffre sign-in code", []string{"valid for 10 minutes", "Never give this code to anyone", "by phone", "verification phrase"}},
		{"", "Your Coffre sign-in code", []string{"valid for 10 minutes"}}, // no language: English
		{"de", "Your Coffre sign-in code", []string{"valid for 10 minutes"}},
	} {
		t.Run("lang="+tc.lang, func(t *testing.T) {
			txt, err := render(ms[0], notice.Contact{Phone: "0786516030", Lang: tc.lang})
			if err != nil {
				t.Fatal(err)
			}
			lang := tc.lang
			if lang != "fr" {
				lang = "en"
			}
			phrase := e.svc.Phrase(e.ids[0], lang)
			if txt.Subject != tc.subject {
				t.Errorf("subject %q, want %q", txt.Subject, tc.subject)
			}
			for _, w := range append(tc.want, code, phrase) {
				if !strings.Contains(txt.Body, w) {
					t.Errorf("body lacks %q:\n%s", w, txt.Body)
				}
			}
			for _, w := range []string{code, phrase, "10 min"} {
				if !strings.Contains(txt.SMS, w) {
					t.Errorf("SMS lacks %q: %s", w, txt.SMS)
				}
			}
			for _, s := range []string{txt.Body, txt.SMS} {
				if strings.Contains(s, "http") || strings.Contains(s, "www.") || strings.Contains(s, e.ids[0]) {
					t.Errorf("the message holds a link or the person's id: %s", s)
				}
			}
			if n := len([]rune(txt.SMS)); n > 210 {
				t.Errorf("SMS of %d characters: %s", n, txt.SMS)
			}
		})
	}
	// A message that is not a code, or moved, is not rendered.
	other := ms[0]
	other.Kind = notice.Kind
	if _, err := render(other, notice.Contact{}); err == nil {
		t.Error("rendered a notice as a code")
	}
	other = ms[0]
	other.Key = "code-other"
	if _, err := render(other, notice.Contact{}); err == nil {
		t.Error("rendered a code under another message key")
	}
}
