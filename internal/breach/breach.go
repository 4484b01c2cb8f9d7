// Package breach writes what a personal data breach makes the
// organisation say: the report to the supervisory authority (GDPR art.
// 33(3), in phases as art. 33(4) allows, with the NIS2 art. 23(4) items
// and the fields of the CNIL's online form), and the letter to each person
// whose data was exposed (art. 34(2)). It holds texts only: no store, no
// I/O; the caller reads the incident, its timeline and the people.
//
// # The report
//
// [Build] turns an [incident.Incident] whose impact was computed, its
// timeline and the [Settings] into a [Report]: a value that marshals to
// JSON with stable field names and renders as Markdown in French or
// English ([Report.Markdown]). Its likely consequences are derived from
// the categories of the fields exposed, by a table in code
// (consequences.go), and its risk level from the same table; what Coffre
// cannot know (the SIREN, the legal representative, the root cause…) is
// taken from Settings when given and otherwise left empty and listed as
// to be completed.
//
// # The letter
//
// [Letter] writes the letter to one person, in their language, naming
// exactly which of their fields were exposed (in words, never a value)
// and which only partly, what that may lead to, what was done and what
// they should watch for. It must not look like phishing: it holds no link
// and asks for nothing, points at the official portal only as words to
// type, and shows the person's verification phrase.
package breach

import (
	"errors"
	"time"
)

// Errors of [Build]; their texts are safe to show.
var (
	// ErrNoImpact: the incident's impact was never computed.
	ErrNoImpact = errors.New("the incident has no impact yet")
	// ErrPhase: the phase is none of incident.Phases.
	ErrPhase = errors.New("unknown report phase")
	// ErrDelayReason: the notification to the authority is later than 72
	// hours after awareness, and no reason for the delay was given (art.
	// 33(1) requires it).
	ErrDelayReason = errors.New("the notification is more than 72 hours after awareness: give the reasons for the delay (GDPR art. 33(1))")
)

// Answer is a yes, no or unknown answer to a question of NIS2 art.
// 23(4)(a); the zero value is Unknown.
type Answer string

// Answers.
const (
	Unknown Answer = ""
	Yes     Answer = "yes"
	No      Answer = "no"
)

// Settings is what a report and a letter need beyond the incident: who
// the organisation is (from the configuration) and what the security
// officer says for this report. Empty fields are left "to be completed"
// in the report, or take the default said.
type Settings struct {
	// Organisation names the organisation in letters (notices.organisation);
	// Controller names the controller and how to reach it
	// (rights.controller; default Organisation).
	Organisation, Controller string
	// DPO is the data protection officer's contact, one line (rights.dpo).
	DPO string
	// Authority is the supervisory authority a person may complain to
	// (rights.authority).
	Authority string
	// Portal names the official site in words for a person to type,
	// such as "www.example.gouv.fr" (never a link); "" leaves it out.
	Portal string
	// Location is the time zone dates are written in (default UTC).
	Location *time.Location

	// For the CNIL's form: the organisation's SIREN, its legal
	// representative and the contact person for this notification (name,
	// role, address), each "" when not configured.
	SIREN, LegalRepresentative, ContactPerson string
	// PeopleCategories names the categories of people the directory
	// holds ("usagers", "agents"…); default: the people whose record is
	// in the directory.
	PeopleCategories string

	// Measures are the kinds of the containment steps taken (seal,
	// revoke…), which a letter tells the person: [MeasureKinds] of the
	// timeline. A report reads them from the timeline itself.
	Measures []string

	// Reporter is who makes this report (an operator, "cli:<user>").
	Reporter string
	// DelayReason is why the notification comes more than 72 hours after
	// awareness: required then.
	DelayReason string
	// Proposed are the measures proposed, in the officer's words; default
	// a list of the usual ones (DefaultProposed).
	Proposed []string
	// NotTold says why the people are not told, when they are not (art.
	// 34(3)); default a reason derived from the exposure, or that it is
	// not decided yet.
	NotTold string
	// Malicious and CrossBorder answer NIS2 art. 23(4)(a): is the
	// incident suspected to be caused by unlawful or malicious acts, could
	// it have a cross-border impact.
	Malicious, CrossBorder Answer
	// Indicators are indicators of compromise (art. 23(4)(b)) beyond the
	// scope's origins, which are listed anyway.
	Indicators []string
	// Threat is the type of threat or root cause that likely triggered
	// the incident (art. 23(4)(d)(ii)); Description a detailed
	// description (art. 23(4)(d)(i)) beyond what Coffre knows.
	Threat, Description string
}

// Exposure is one field of a person exposed by a breach: its name, and
// whether it was returned in clear or masked (by Mask). It never holds a
// value.
type Exposure struct {
	Field string `json:"field"`
	Clear bool   `json:"clear,omitempty"`
	Mask  string `json:"mask,omitempty"`
}

// Words is a text in French and in English.
type Words struct {
	FR string `json:"fr"`
	EN string `json:"en"`
}

// in returns the text in lang (French unless "en").
func (w Words) in(lang string) string {
	if lang == "en" {
		return w.EN
	}
	return w.FR
}

func langOf(s string) string {
	if s == "en" {
		return "en"
	}
	return "fr"
}
