package rights

import (
	"slices"
	"sort"

	"github.com/coffre/coffre/internal/policy"
)

// Contacts are who the person may turn to: the controller, its data
// protection officer, and the supervisory authority they may complain to
// (art. 13(1)(a)(b), 15(1)(f), 77).
type Contacts struct {
	Controller string `json:"controller"`
	DPO        string `json:"dpo"`
	Authority  string `json:"authority"`
}

// Description is the processing of a person's record as art. 15(1)
// lists it, generated from the configuration: the purposes and who may
// act under each (the recipients, by category), the categories of data,
// how long each field is kept, the person's rights and whom to turn to.
type Description struct {
	Contacts
	Purposes []PurposeInfo `json:"purposes"`
	// Categories are the schema's fields by sensitivity (identity,
	// contact, sensitive, special: art. 9 data).
	Categories map[string][]string `json:"categories"`
	// Retention is each field's retention rule, as configured.
	Retention map[string]string `json:"retention"`
	// Handler is the role that decides the person's requests;
	// RestrictedReaders the roles that still reach a restricted record.
	Handler           string   `json:"handler,omitempty"`
	RestrictedReaders []string `json:"restricted_readers"`
	Rights            []Right  `json:"rights"`
	// AutomatedDecisions (art. 15(1)(h)): Coffre takes none about the
	// person; the guard decides about operators.
	AutomatedDecisions string `json:"automated_decisions"`
}

// PurposeInfo is one purpose as the person sees it.
type PurposeInfo struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Shows is each field the purpose shows and how: clear, or the mask's
	// name.
	Shows map[string]string `json:"shows"`
	// Changes are the fields a change under the purpose may set.
	Changes []string `json:"changes,omitempty"`
	// Notice is what the person is told of an access under it
	// (immediate, digest, history, deferred).
	Notice     string      `json:"notice"`
	Recipients []Recipient `json:"recipients"`
}

// Recipient is a category of recipient of a purpose: a role of the
// organisation, or partner organisations' clients.
type Recipient struct {
	Role string `json:"role"`
	// Partner: outside organisations, through their API clients.
	Partner bool `json:"partner,omitempty"`
	// Scope is whom they reach: "every unit", or "their own unit (other
	// units with a reason)".
	Scope string `json:"scope"`
}

// Right is one of the person's rights and how to use it.
type Right struct {
	Right   string `json:"right"`
	Article string `json:"article"`
	How     string `json:"how"`
}

// Scopes of a recipient.
const (
	ScopeAllUnits = "every unit"
	ScopeOwnUnit  = "their own unit (other units only with a reason, and few)"
)

// Describe describes the processing that pol sets: allUnits reports
// whether a role reaches every unit (its guard limits say all_units).
func Describe(pol *policy.Policy, c Contacts, handler string, restrictedReaders []string, allUnits func(role string) bool) *Description {
	d := &Description{Contacts: c, Categories: map[string][]string{}, Retention: map[string]string{}, Handler: handler,
		RestrictedReaders:  append([]string{}, restrictedReaders...),
		AutomatedDecisions: "none: no decision about you is taken by automated means; the guard's automated decisions are about staff accounts"}
	for _, f := range pol.Fields {
		d.Categories[string(f.Sensitivity)] = append(d.Categories[string(f.Sensitivity)], f.Name)
		if f.Retention != "" {
			d.Retention[f.Name] = f.Retention
		}
	}
	names := make([]string, 0, len(pol.Purposes))
	for name := range pol.Purposes {
		names = append(names, name)
	}
	sort.Strings(names)
	roles := make([]string, 0, len(pol.Roles))
	for name := range pol.Roles {
		roles = append(roles, name)
	}
	sort.Strings(roles)
	for _, name := range names {
		pu := pol.Purposes[name]
		pi := PurposeInfo{Name: name, Description: pu.Description, Shows: map[string]string{}, Changes: slices.Clone(pu.Updates), Notice: pu.NoticeMode(), Recipients: []Recipient{}}
		for _, f := range pol.VisibleFields(pu) {
			pi.Shows[f] = pu.Fields[f].String()
		}
		for _, rn := range roles {
			r := pol.Roles[rn]
			if !r.Allows(name) {
				continue
			}
			rc := Recipient{Role: rn, Partner: r.Partner, Scope: ScopeOwnUnit}
			if allUnits != nil && allUnits(rn) {
				rc.Scope = ScopeAllUnits
			}
			pi.Recipients = append(pi.Recipients, rc)
		}
		d.Purposes = append(d.Purposes, pi)
	}
	d.Rights = []Right{
		{"access", "15", "GET /v1/me/data (this package) and GET /v1/me/accesses (every access, with proofs)"},
		{Rectification, "16", `POST /v1/me/requests {"kind":"rectification","fields":[…],"text":"…"}`},
		{Erasure, "17", `POST /v1/me/requests {"kind":"erasure"}`},
		{Restriction, "18", `POST /v1/me/requests {"kind":"restriction","text":"…"}`},
		{Objection, "21", `POST /v1/me/requests {"kind":"objection","text":"…"}`},
		{"block", "", `POST /v1/me/blocks {"partner":"…"} or {"unit":"…"}: that partner or unit no longer reaches your record`},
		{"complaint", "77", "lodge a complaint with the supervisory authority: " + c.Authority},
	}
	return d
}
