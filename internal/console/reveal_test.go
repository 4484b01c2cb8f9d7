package console_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pquerna/otp/totp"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/console"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/synth"
)

// revealForm returns the hidden values of the last page's reveal form
// for field (the record page's button, or the reveal page's form).
func (b *browser) revealForm(field string) url.Values {
	b.t.Helper()
	m := regexp.MustCompile(`name="subject" value="([^"]+)"><input type="hidden" name="field" value="` + field + `"><input type="hidden" name="ticket" value="([^"]+)"`).FindStringSubmatch(strings.ReplaceAll(b.raw, "\n  ", ""))
	if m == nil {
		b.t.Fatalf("no reveal form for %s in the page:\n%s", field, b.raw)
	}
	return url.Values{"csrf": {b.csrf()}, "subject": {m[1]}, "field": {field}, "ticket": {m[2]}}
}

func (e *env) audited(t *testing.T) []audit.Entry {
	t.Helper()
	var es []audit.Entry
	if err := e.store.View(context.Background(), func(ctx context.Context, tx store.Tx) (err error) {
		es, err = tx.AuditEntries(ctx, 1, 1<<62, 100000)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return es
}

// TestRevealOneField: a masked national id is revealed deliberately: the
// record offers it, the reveal page asks for a purpose of the role that
// shows it in clear, a reason, and a fresh code; without the code it says
// so; with it the one field shows, and the read names that field alone.
// The same form again, a form of another session or for another field, a
// purpose not offered, and a form after sign-out reveal nothing.
func TestRevealOneField(t *testing.T) {
	e := newEnv(t)
	b, other := e.browser(t), e.browser(t)
	b.signIn()
	other.signIn()
	p := e.people[0]
	nid := p.Fields[synth.NationalID]
	if resp := b.find(b.csrf(), p.Fields[synth.EmailPro]); resp.StatusCode != http.StatusOK || strings.Contains(b.raw, nid) {
		t.Fatalf("find: %s, want the record with the national id masked:\n%s", resp.Status, b.raw)
	}
	if strings.Contains(b.raw, `value="given_name"><input type="hidden" name="ticket"`) {
		t.Error("a field in clear offers a reveal")
	}
	form := b.revealForm("national_id")
	b.post(console.Prefix+"find", url.Values{"csrf": {other.csrf()}}) // nothing: other's token in b's session
	other.find(other.csrf(), p.Fields[synth.EmailPro])
	foreign := other.revealForm("national_id")

	if resp := b.post(console.Prefix+"reveal", form); resp.StatusCode != http.StatusOK || !strings.Contains(b.raw, "identity-check") || !strings.Contains(b.raw, `name="code"`) || strings.Contains(b.raw, `value="case-handling"`) {
		t.Fatalf("reveal page: %s, want identity-check offered with a code input:\n%s", resp.Status, b.raw)
	}
	do := func(b *browser, f url.Values, purpose, code string) *http.Response {
		f = cloneForm(f)
		f.Set("purpose", purpose)
		f.Set("reason", "dossier 12 : vérification d'identité avant décision")
		f.Set("code", code)
		return b.post(console.Prefix+"reveal/do", f)
	}
	before := len(e.audited(t))
	for _, tc := range []struct {
		name    string
		b       *browser
		form    url.Values
		purpose string
		status  int
		want    string
	}{
		{"another session's form", b, foreign, "identity-check", http.StatusForbidden, "plus valable"},
		{"another field's form", b, with(form, "field", "birth_date"), "identity-check", http.StatusForbidden, "plus valable"},
		{"a tampered ticket", b, with(form, "ticket", form.Get("ticket")+"x"), "identity-check", http.StatusForbidden, "plus valable"},
		{"a purpose not offered", b, form, "case-handling", http.StatusBadRequest, "Choisissez une des finalités"},
		{"a malformed code", b, form, "identity-check", http.StatusBadRequest, "incorrect"},
	} {
		code := ""
		if tc.name == "a malformed code" {
			code = "12a456"
		}
		if resp := do(tc.b, tc.form, tc.purpose, code); resp.StatusCode != tc.status || !strings.Contains(tc.b.raw, tc.want) || strings.Contains(tc.b.raw, nid) {
			t.Errorf("%s: %s, want %d saying %q, and no national id:\n%s", tc.name, resp.Status, tc.status, tc.want, tc.b.raw)
		}
	}
	if n := len(e.audited(t)); n != before {
		t.Errorf("refused reveal forms wrote %d audit entries, want none", n-before)
	}

	// Without a fresh code: the purpose asks for one, on a new form.
	if resp := do(b, form, "identity-check", ""); resp.StatusCode != http.StatusBadRequest || !strings.Contains(b.raw, "nouveau code") || strings.Contains(b.raw, nid) {
		t.Fatalf("reveal without a code: %s\n%s", resp.Status, b.raw)
	}
	fresh := b.revealForm("national_id")
	if fresh.Get("ticket") == form.Get("ticket") {
		t.Error("the form after a refused step-up reuses the spent ticket")
	}
	code, _ := totp.GenerateCode(e.op.TOTPSecret, e.clock.Now())
	if resp := do(b, fresh, "identity-check", code); resp.StatusCode != http.StatusOK || !strings.Contains(b.raw, nid) {
		t.Fatalf("reveal with a fresh code: %s, want the national id:\n%s", resp.Status, b.raw)
	}
	es := e.audited(t)
	last := es[len(es)-1]
	if last.Action != "read" || last.Purpose != "identity-check" || !slices.Equal(last.Fields, []string{"national_id"}) || !strings.HasPrefix(last.Decision, "allow") {
		t.Errorf("the reveal's audit entry %+v, want a read of national_id alone under identity-check", last)
	}
	if strings.Contains(b.raw, p.Fields[synth.GivenName]) || strings.Contains(b.raw, p.Fields[synth.BirthDate]) {
		t.Errorf("the revealed page shows more than the field:\n%s", b.raw)
	}

	// The same form again: nothing read, a page that says why.
	n := len(e.audited(t))
	if resp := do(b, fresh, "identity-check", ""); resp.StatusCode != http.StatusConflict || !strings.Contains(b.raw, "déjà été fait") || strings.Contains(b.raw, nid) {
		t.Errorf("a second submission: %s, want 409 and no national id:\n%s", resp.Status, b.raw)
	}
	if got := len(e.audited(t)); got != n {
		t.Errorf("a second submission wrote %d audit entries", got-n)
	}

	// After sign-out, a reveal form reaches nothing.
	b.get(console.Prefix)
	b.post(console.Prefix+"signout", url.Values{"csrf": {b.csrf()}})
	if resp := b.post(console.Prefix+"reveal/do", with(with(fresh, "purpose", "identity-check"), "reason", "x")); resp.StatusCode != http.StatusUnauthorized || strings.Contains(b.raw, nid) {
		t.Errorf("a reveal after sign-out: %s\n%s", resp.Status, b.raw)
	}
}

// cloneForm copies a form.
func cloneForm(f url.Values) url.Values {
	out := url.Values{}
	for k, v := range f {
		out[k] = slices.Clone(v)
	}
	return out
}

// with returns a copy of f with key set to value.
func with(f url.Values, key, value string) url.Values {
	out := cloneForm(f)
	out.Set(key, value)
	return out
}
