package rights_test

import (
	"crypto/sha256"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/notice"
	"github.com/coffre/coffre/internal/outbox"
	"github.com/coffre/coffre/internal/rights"
)

func TestAddMonths(t *testing.T) {
	paris, _ := time.LoadLocation("Europe/Paris")
	tests := []struct {
		from string
		n    int
		want string
	}{
		{"2026-03-02T09:00:00Z", 1, "2026-04-02T09:00:00Z"},
		{"2026-01-31T10:00:00Z", 1, "2026-02-28T10:00:00Z"},
		{"2028-01-31T10:00:00Z", 1, "2028-02-29T10:00:00Z"}, // leap year
		{"2026-03-31T10:00:00Z", 1, "2026-04-30T10:00:00Z"},
		{"2026-10-31T10:00:00Z", 3, "2027-01-31T10:00:00Z"},
		{"2026-11-30T10:00:00Z", 3, "2027-02-28T10:00:00Z"},
		{"2026-12-15T00:00:00Z", 1, "2027-01-15T00:00:00Z"},
	}
	for _, tt := range tests {
		from, _ := time.Parse(time.RFC3339, tt.from)
		if got := rights.AddMonths(from, tt.n).Format(time.RFC3339); got != tt.want {
			t.Errorf("AddMonths(%s, %d) = %s, want %s", tt.from, tt.n, got, tt.want)
		}
	}
	// Counted in the organisation's calendar: 31 January 23:30 in Paris is
	// still January there.
	filed := time.Date(2026, 1, 31, 22, 30, 0, 0, time.UTC) // 23:30 in Paris
	if got, want := rights.DueAt(filed, paris), time.Date(2026, 2, 28, 22, 30, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("DueAt(%v, Paris) = %v, want %v", filed, got, want)
	}
	if got, want := rights.ExtendedDue(filed, paris), time.Date(2026, 4, 30, 21, 30, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("ExtendedDue(%v, Paris) = %v, want %v (summer time)", filed, got, want)
	}
}

func TestValidID(t *testing.T) {
	for s, want := range map[string]bool{
		"req_0123456789abcdef": true, "req_0123456789abcde": false, "req_0123456789ABCDEF": false,
		"ext_0123456789abcdef": false, "": false, "req_0123456789abcde/": false,
	} {
		if got := rights.ValidID(s); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestLimitKey(t *testing.T) {
	tests := []struct {
		key          string
		kind, target string
		ok           bool
	}{
		{"partner:op_abc", rights.LimitPartner, "op_abc", true},
		{"unit:u1", rights.LimitUnit, "u1", true},
		{"restricted:req_0123456789abcdef", "", "", false}, // not the person's to remove
		{"unit:", "", "", false},
		{"u1", "", "", false},
	}
	for _, tt := range tests {
		kind, target, ok := rights.ParseKey(tt.key)
		if ok != tt.ok || ok && (kind != tt.kind || target != tt.target) {
			t.Errorf("ParseKey(%q) = %q, %q, %v; want %q, %q, %v", tt.key, kind, target, ok, tt.kind, tt.target, tt.ok)
		}
		if ok {
			if got := (rights.Limit{Kind: kind, Target: target}).Key(); got != tt.key {
				t.Errorf("Key() = %q, want %q", got, tt.key)
			}
		}
	}
}

// hasher is a fixed keyed hash for phrases.
type hasher struct{}

func (hasher) StableHash(label, value string) []byte {
	h := sha256.Sum256([]byte(label + "\x00" + value))
	return h[:]
}

func TestText(t *testing.T) {
	w := &rights.Writer{Organisation: "Rectorat", Where: "moncompte.example.gouv.fr, typed in your browser", Authority: "CNIL", Phrases: hasher{}}
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	msg := func(kind, event string) outbox.Message {
		b, _ := json.Marshal(rights.Message{Request: "req_0123456789abcdef", Subject: "sub_x", Kind: kind, Event: event, Fields: []string{"address"},
			Time: at, Due: rights.AddMonths(at, 1)})
		return outbox.Message{Kind: rights.MessageKind, Payload: b}
	}
	tests := []struct {
		kind, event, lang string
		want, not         []string
	}{
		{rights.Rectification, rights.EventFiled, "en", []string{"received your request for rectification (GDPR art. 16) on 2 March 2026", "due by 2 April 2026", "About:    address", "did not make this request"}, []string{"CNIL"}},
		{rights.Rectification, rights.EventFiled, "fr", []string{"a reçu votre demande de rectification", "au plus tard le 02/04/2026"}, nil},
		{rights.Erasure, rights.EventAccepted, "en", []string{"your record is erased", "data key is destroyed", "log of who accessed"}, []string{"Your personal space:"}},
		{rights.Erasure, rights.EventAccepted, "fr", []string{"votre dossier est effacé", "journal des consultations"}, []string{"Votre espace personnel :"}},
		{rights.Restriction, rights.EventRefused, "en", []string{"refused your request for restriction", "The reasons are in your personal space", "complaint with the supervisory authority (CNIL)"}, nil},
		{rights.Restriction, rights.EventAccepted, "en", []string{"reached by nobody except"}, nil},
		{rights.Objection, rights.EventExtended, "fr", []string{"prolonge le délai", "02/04/2026", "Les motifs sont dans votre espace personnel"}, nil},
		{rights.Restriction, rights.EventLifted, "en", []string{"lifted the restriction of your record on 2 March 2026"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.kind+" "+tt.event+" "+tt.lang, func(t *testing.T) {
			txt, err := w.Text(msg(tt.kind, tt.event), notice.Contact{Lang: tt.lang})
			if err != nil {
				t.Fatal(err)
			}
			all := txt.Subject + "\n" + txt.Body
			for _, s := range tt.want {
				if !strings.Contains(all, s) {
					t.Errorf("text lacks %q:\n%s", s, all)
				}
			}
			for _, s := range tt.not {
				if strings.Contains(all, s) {
					t.Errorf("text holds %q:\n%s", s, all)
				}
			}
			phrase := notice.Phrase(hasher{}, "sub_x", tt.lang)
			if !strings.Contains(txt.Body, phrase) || !strings.Contains(txt.SMS, phrase) {
				t.Errorf("the verification phrase %q is missing:\n%s\nSMS: %s", phrase, txt.Body, txt.SMS)
			}
			for _, link := range []string{"http://", "https://", "www."} {
				if strings.Contains(all+txt.SMS, link) {
					t.Errorf("text holds a link (%s):\n%s", link, all)
				}
			}
			if len(txt.SMS) > 320 {
				t.Errorf("SMS of %d bytes: %s", len(txt.SMS), txt.SMS)
			}
		})
	}
	if _, err := w.Text(outbox.Message{Payload: []byte(`{"request":"r","subject":"s","kind":"erasure","event":"lost"}`)}, notice.Contact{}); err == nil {
		t.Error("an unknown event wrote a text")
	}
	if _, err := w.Text(outbox.Message{Payload: []byte(`{"request":"r","subject":"s","kind":"deletion","event":"filed"}`)}, notice.Contact{}); err == nil {
		t.Error("an unknown kind wrote a text")
	}
}

func TestDescribe(t *testing.T) {
	cfg, err := config.Demo(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := rights.Contacts{Controller: "Coffre demo", DPO: "dpo@x", Authority: config.DefaultAuthority}
	d := rights.Describe(cfg.Policy, c, "dpo", []string{"dpo"}, func(role string) bool { return cfg.Guard.Roles[role].AllUnits })
	if d.Contacts != c || d.Handler != "dpo" || !slices.Equal(d.RestrictedReaders, []string{"dpo"}) {
		t.Errorf("contacts, handler, readers = %+v, %q, %v", d.Contacts, d.Handler, d.RestrictedReaders)
	}
	if !slices.Equal(d.Categories["special"], []string{"health_note"}) || !slices.Contains(d.Categories["contact"], "phone") {
		t.Errorf("categories = %v", d.Categories)
	}
	if d.Retention["health_note"] != "6m after last_update" {
		t.Errorf("retention = %v", d.Retention)
	}
	by := map[string]rights.PurposeInfo{}
	for _, pi := range d.Purposes {
		by[pi.Name] = pi
	}
	if len(by) != len(cfg.Policy.Purposes) {
		t.Fatalf("%d purposes, want %d", len(by), len(cfg.Policy.Purposes))
	}
	ch := by["case-handling"]
	if ch.Shows["national_id"] != "last4" || ch.Shows["given_name"] != "clear" || ch.Shows["health_note"] != "" {
		t.Errorf("case-handling shows %v", ch.Shows)
	}
	roles := map[string]rights.Recipient{}
	for _, r := range ch.Recipients {
		roles[r.Role] = r
	}
	if roles["caseworker"].Scope != rights.ScopeOwnUnit || roles["supervisor"].Role == "" || len(roles) != 2 {
		t.Errorf("case-handling recipients = %+v", ch.Recipients)
	}
	if r := by["support-call"].Recipients; len(r) != 1 || r[0].Scope != rights.ScopeAllUnits {
		t.Errorf("support-call recipients = %+v", r)
	}
	if r := by["referral"].Recipients; len(r) != 1 || !r[0].Partner {
		t.Errorf("referral recipients = %+v, want the partner role", r)
	}
	if !strings.Contains(d.Rights[len(d.Rights)-1].How, "CNIL") {
		t.Errorf("rights = %+v, want the complaint to the CNIL last", d.Rights)
	}
}
