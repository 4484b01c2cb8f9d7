package config

import (
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/coffre/coffre/internal/policy"
)

// Notices says what the people in the directory are told of the
// accesses to their record (package notice); each purpose says when.
type Notices struct {
	// Organisation names the organisation in every notice ("Ministère de
	// l'Éducation nationale"). Default "Coffre".
	Organisation string
	// Where tells the person where to see their history: words, such as
	// "moncompte.example.gouv.fr, typed in your browser"; never a link
	// that signs in (notices must not teach people to follow links that
	// ask for credentials). Default: a sentence naming the portal path.
	Where string
	// Language is the notices' language when the record has none: fr
	// (default) or en. LanguageField, when set, is a text field of the
	// schema holding fr or en.
	Language, LanguageField string
	// Contacts are the schema's email and phone fields a notice may go
	// to, in order of preference: the first the record holds is used.
	// Default: every email field, then every phone field, in schema order.
	Contacts []string
	// QuietStart and QuietEnd bound the quiet hours (minutes after
	// midnight, in Location) during which no SMS is sent (it waits for
	// QuietEnd); equal: none. Default 21:00 to 08:00.
	QuietStart, QuietEnd int
	// DigestAt is when (minutes after midnight, in Location) the daily
	// digests are sent. Default 18:00.
	DigestAt int
	// Location is the time zone of quiet hours and digests. Default the
	// guard's (guard.timezone).
	Location *time.Location
	// ContactCoolingOff is how long a change of a person's contact
	// address (an email or phone field) waits before it takes effect,
	// after a notice to the address it replaces: 1h to 720h (30 days).
	// Default 72h.
	ContactCoolingOff time.Duration
}

var clockRE = regexp.MustCompile(`^([01][0-9]|2[0-3]):([0-5][0-9])$`)

// clock reads "HH:MM" as minutes after midnight.
func clock(p *parser, l leaf) (int, bool) {
	s, ok := read[string](p, l)
	if !ok {
		return 0, false
	}
	m := clockRE.FindStringSubmatch(s)
	if m == nil {
		p.bad(l, "want a time of day as HH:MM (24-hour), such as 08:00, got %s", short(s))
		return 0, false
	}
	h, _ := strconv.Atoi(m[1])
	mi, _ := strconv.Atoi(m[2])
	return h*60 + mi, true
}

// defaultNotices are the notices settings of an empty section, but for
// Contacts (which the schema decides).
func defaultNotices(loc *time.Location) Notices {
	return Notices{Organisation: "Coffre", Language: "fr", QuietStart: 21 * 60, QuietEnd: 8 * 60, DigestAt: 18 * 60, Location: loc, ContactCoolingOff: defaultCoolingOff,
		Where: "sign in to your personal space at the address your organisation gave you, typed in your browser (GET /v1/me/accesses)"}
}

// notices checks the notices section against the schema.
func (p *parser) notices(f *file, schema []policy.Field, loc *time.Location) Notices {
	nf := f.Notices
	n := defaultNotices(loc)
	set(p, nf.Organisation, read[string], &n.Organisation, nonEmpty)
	set(p, nf.Where, read[string], &n.Where, func(s string) string {
		if s == "" || len(s) > 300 {
			return "want a short sentence (1 to 300 bytes) that tells the person where to go"
		}
		return ""
	})
	set(p, nf.Language, read[string], &n.Language, func(s string) string { return unknown("language", s, []string{"fr", "en"}) })
	if l := location(p, nf.Timezone); l != nil {
		n.Location = l
	}
	anyTime := func(int) string { return "" }
	set(p, nf.QuietStart, clock, &n.QuietStart, anyTime)
	set(p, nf.QuietEnd, clock, &n.QuietEnd, anyTime)
	set(p, nf.DigestAt, clock, &n.DigestAt, anyTime)
	set(p, nf.ContactCoolingOff, dur, &n.ContactCoolingOff, between(minCoolingOff, maxCoolingOff, false, "must be between %s and %s (30 days), got %s: a change of a contact address waits this long, so that the person can stop one they did not ask for"))
	field := func(name string) *policy.Field {
		for i := range schema {
			if schema[i].Name == name {
				return &schema[i]
			}
		}
		return nil
	}
	set(p, nf.LanguageField, read[string], &n.LanguageField, func(s string) string {
		if fd := field(s); fd == nil || fd.Type != policy.TypeText {
			return fmt.Sprintf("want a text field of the schema holding fr or en, got %s", short(s))
		}
		return ""
	})
	if nf.Contacts.set() {
		n.Contacts, _ = each(p, nf.Contacts, true, func(s string) (string, string) {
			if fd := field(s); fd == nil || fd.Type != policy.TypeEmail && fd.Type != policy.TypePhone {
				return s, fmt.Sprintf("want an email or phone field of the schema, got %s", short(s))
			}
			return s, ""
		})
		return n
	}
	n.Contacts = policy.ContactFields(schema)
	return n
}

// maxDeferral bounds a purpose's deferred_for.
const maxDeferral = 10 * 365 * 24 * time.Hour

// notice checks a purpose's notice keys: a deferred notice names its
// legal basis and how long it is held back; the other modes take neither.
func (p *parser) notice(v purposeFile, pu *policy.Purpose) {
	set(p, v.Notice, read[string], &pu.Notice, func(s string) string { return unknown("notice mode", s, policy.NoticeModes) })
	pu.NoticeNamesOperator, _ = read[bool](p, v.NamesOperator)
	set(p, v.DeferredBasis, read[string], &pu.DeferredBasis, func(s string) string {
		if s == "" || len(s) > 200 {
			return "want the legal basis that allows telling the person later, 1 to 200 bytes (such as \"Code de procédure pénale, art. 77-1-1\")"
		}
		return ""
	})
	set(p, v.DeferredFor, dur, &pu.DeferredFor, between(time.Hour, maxDeferral, false, "must be between %s and %s, got %s"))
	if pu.Notice == policy.NoticeDeferred {
		for _, l := range []struct {
			l    leaf
			name string
		}{{v.DeferredBasis, "deferred_basis"}, {v.DeferredFor, "deferred_for"}} {
			if !l.l.set() {
				p.bad(v.Notice, "a deferred notice wants %s too", l.name)
			}
		}
		return
	}
	for _, l := range []leaf{v.DeferredBasis, v.DeferredFor} {
		if l.set() {
			p.bad(l, "has no effect unless notice is deferred: set notice: deferred, or remove this key")
		}
	}
}
