package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/policy"
)

func TestNotices(t *testing.T) {
	const schema = "schema:\n  - {name: mail, type: email, sensitivity: contact}\n  - {name: tel, type: phone, sensitivity: contact}\n" +
		"  - {name: mail2, type: email, sensitivity: contact}\n  - {name: lang, type: text, sensitivity: identity}\n"
	c, err := Parse("n.yaml", []byte(schema), nil)
	if err != nil {
		t.Fatal(err)
	}
	n := c.Notices
	if !slices.Equal(n.Contacts, []string{"mail", "mail2", "tel"}) || n.Language != "fr" || n.QuietStart != 21*60 || n.QuietEnd != 8*60 ||
		n.DigestAt != 18*60 || n.Location.String() != "Europe/Paris" || n.Organisation != "Coffre" {
		t.Errorf("defaults = %+v", n)
	}
	c, err = Parse("n.yaml", []byte(schema+"notices: {contacts: [tel, mail], language: en, language_field: lang, quiet_start: \"22:30\", timezone: UTC, organisation: Rectorat}\n"+
		"purposes:\n  pay: {fields: {mail: clear}, notice: history}\n  fraud: {fields: {mail: clear}, notice: deferred, deferred_basis: \"CPP art. 77\", deferred_for: 720h, notice_names_operator: true}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	n = c.Notices
	if !slices.Equal(n.Contacts, []string{"tel", "mail"}) || n.Language != "en" || n.LanguageField != "lang" || n.QuietStart != 22*60+30 ||
		n.Location != time.UTC || n.Organisation != "Rectorat" {
		t.Errorf("set = %+v", n)
	}
	pay, fraud := c.Policy.Purposes["pay"], c.Policy.Purposes["fraud"]
	if pay.NoticeMode() != policy.NoticeHistory || fraud.NoticeMode() != policy.NoticeDeferred || fraud.DeferredFor != 720*time.Hour ||
		fraud.DeferredBasis != "CPP art. 77" || !fraud.NoticeNamesOperator || pay.NoticeNamesOperator {
		t.Errorf("purposes: pay %+v, fraud %+v", pay, fraud)
	}

	bad := []struct{ yaml, want string }{
		{"notices: {contacts: [lang]}\n", `n.yaml:6: notices.contacts: want an email or phone field of the schema, got "lang"`},
		{"notices: {language_field: mail}\n", `want a text field of the schema holding fr or en, got "mail"`},
		{"notices: {language: de}\n", `unknown language "de"`},
		{"notices: {quiet_end: \"25:00\"}\n", `want a time of day as HH:MM (24-hour), such as 08:00, got "25:00"`},
		{"notices: {timezone: Mars/Olympus}\n", `unknown time zone "Mars/Olympus"`},
		{"purposes: {p: {fields: {mail: clear}, notice: loud}}\n", `unknown notice mode "loud"`},
		{"purposes: {p: {fields: {mail: clear}, notice: deferred, deferred_for: 24h}}\n", "a deferred notice wants deferred_basis too"},
		{"purposes: {p: {fields: {mail: clear}, deferred_basis: x}}\n", "has no effect unless notice is deferred"},
		{"purposes: {p: {fields: {mail: clear}, notice: deferred, deferred_basis: x, deferred_for: 1m}}\n", "must be between 1h0m0s and"},
	}
	for _, b := range bad {
		_, err := Parse("n.yaml", []byte(schema+b.yaml), nil)
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%q: error %v, want %q", b.yaml, err, b.want)
		}
	}
}

func TestRights(t *testing.T) {
	const base = "schema: [{name: x, type: text, sensitivity: identity}]\npurposes: {p: {fields: {x: clear}}}\n"
	tests := []struct {
		name, yaml string
		want       Rights
	}{
		{"none", base, Rights{Controller: "Coffre", DPO: "the data protection officer of Coffre, at the controller's address", Authority: DefaultAuthority}},
		{"organisation names the controller", base + "notices: {organisation: Rectorat}\n",
			Rights{Controller: "Rectorat", DPO: "the data protection officer of Rectorat, at the controller's address", Authority: DefaultAuthority}},
		{"handler reads restricted records by default", base + "roles: {dpo: {purposes: [p], permissions: [rights, erase]}}\nrights: {handler_role: dpo}\n",
			Rights{HandlerRole: "dpo", RestrictedReaders: []string{"dpo"}, Controller: "Coffre", DPO: "the data protection officer of Coffre, at the controller's address", Authority: DefaultAuthority}},
		{"all set", base + "roles: {dpo: {purposes: [p], permissions: [rights, erase]}, clerk: {purposes: [p]}}\n" +
			"rights: {handler_role: dpo, restricted_readers: [dpo, clerk], controller: Académie, dpo: dpo@ac.example, authority: CNIL}\n",
			Rights{HandlerRole: "dpo", RestrictedReaders: []string{"clerk", "dpo"}, Controller: "Académie", DPO: "dpo@ac.example", Authority: "CNIL"}},
		{"a rights role without a handler finds nothing to decide", base + "roles: {dpo: {purposes: [p], permissions: [rights]}}\n",
			Rights{Controller: "Coffre", DPO: "the data protection officer of Coffre, at the controller's address", Authority: DefaultAuthority}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("r.yaml", []byte(tt.yaml), nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Rights, tt.want) {
				t.Errorf("Rights = %+v, want %+v", c.Rights, tt.want)
			}
		})
	}
	bad := []struct{ yaml, want string }{
		{"rights: {handler_role: dpo}\n", `r.yaml:3: rights.handler_role: unknown role "dpo"`},
		{"roles: {dpo: {purposes: [p], permissions: [erase]}}\nrights: {handler_role: dpo}\n", `r.yaml:4: rights.handler_role: role "dpo" lacks the rights permission: add rights to roles.dpo.permissions`},
		{"roles: {pt: {partner: true, purposes: [p]}}\nrights: {handler_role: pt}\n", `rights.handler_role: role "pt" is a partner role`},
		{"rights: {handler_role: [a, b]}\n", "rights.handler_role: want a string"},
	}
	for _, b := range bad {
		_, err := Parse("r.yaml", []byte(base+b.yaml), nil)
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%q: error %v, want %q", b.yaml, err, b.want)
		}
		if err != nil && strings.Count(err.Error(), "\n") > 0 {
			t.Errorf("%q: %d problems, want one:\n%v", b.yaml, strings.Count(err.Error(), "\n")+1, err)
		}
	}
}
