package config

import (
	"fmt"
	"slices"
	"unicode"

	"github.com/coffre/coffre/internal/policy"
)

// Rights says who decides the persons' requests (GDPR art. 16 to 18 and
// 21), who still reaches a restricted record, and whom a person may turn
// to (package rights).
type Rights struct {
	// HandlerRole is the role whose operators decide the requests: it
	// holds the rights permission (and no other role does) and the erase
	// permission (an accepted erasure erases). Default "": nobody decides,
	// and the persons' requests are refused with the controller's
	// address (a role may then hold rights: it finds the queue empty).
	HandlerRole string
	// RestrictedReaders are the roles that still reach a record under an
	// accepted restriction (art. 18(2)): no partner role. Default the
	// handler role.
	RestrictedReaders []string
	// Controller names the controller and how to reach it. Default
	// notices.organisation.
	Controller string
	// DPO is the data protection officer's contact. Default a sentence
	// pointing at the controller.
	DPO string
	// Authority is the supervisory authority a person may complain to
	// (art. 77). Default the CNIL.
	Authority string
}

// DefaultAuthority is the default rights.authority: France's
// supervisory authority.
const DefaultAuthority = "Commission nationale de l'informatique et des libertés (CNIL), 3 place de Fontenoy, TSA 80715, 75334 Paris Cedex 07, France; complaints: www.cnil.fr/fr/plaintes"

// maxContact bounds rights.controller, rights.dpo and rights.authority.
const maxContact = 300

// rights checks the rights section against the roles: roles are the
// valid roles, declared the names of all those defined.
func (p *parser) rights(f *file, roles []*policy.Role, declared map[string]bool, organisation string) Rights {
	rf := f.Rights
	r := Rights{Controller: organisation, Authority: DefaultAuthority}
	byName := map[string]*policy.Role{}
	for _, ro := range roles {
		byName[ro.Name] = ro
	}
	names := sortedKeys(declared)
	role := func(s string) string {
		switch ro := byName[s]; {
		case !declared[s]:
			return fmt.Sprintf("unknown role %s%s", short(s), suggestion(s, names))
		case ro != nil && ro.Partner:
			return fmt.Sprintf("role %q is a partner role: partner organisations neither decide the persons' requests nor reach restricted records", s)
		}
		return ""
	}
	var named string // the handler_role written, valid or not
	set(p, rf.HandlerRole, read[string], &r.HandlerRole, func(s string) string {
		named = s
		if msg := role(s); msg != "" {
			return msg
		}
		if ro := byName[s]; ro != nil && !ro.Has(policy.PermRights) {
			return fmt.Sprintf("role %q lacks the rights permission: add rights to roles.%s.permissions", s, s)
		}
		if ro := byName[s]; ro != nil && !ro.Has(policy.PermErase) {
			return fmt.Sprintf("role %q decides erasure requests, and an accepted erasure erases: add erase to roles.%s.permissions", s, s)
		}
		return ""
	})
	// Another role holding rights is a mistake whatever else is wrong
	// with the handler, once it names a valid role.
	if h := named; byName[h] != nil {
		for _, e := range f.Roles {
			if ro := byName[e.Name]; ro != nil && ro.Has(policy.PermRights) && ro.Name != h {
				p.bad(e.Val.Permissions, "only the role rights.handler_role names (%s) holds the rights permission: one role decides the persons' requests", h)
			}
		}
	}
	if r.HandlerRole != "" {
		r.RestrictedReaders = []string{r.HandlerRole}
	}
	if rf.RestrictedReaders.set() {
		r.RestrictedReaders, _ = each(p, rf.RestrictedReaders, true, func(s string) (string, string) { return s, role(s) })
		slices.Sort(r.RestrictedReaders)
	}
	contact := func(s string) string {
		if s == "" || len(s) > maxContact {
			return fmt.Sprintf("want 1 to %d bytes: a name and a postal or email address", maxContact)
		}
		for _, c := range s {
			if !unicode.IsPrint(c) {
				return "want one line of printable text"
			}
		}
		return ""
	}
	set(p, rf.Controller, read[string], &r.Controller, contact)
	r.DPO = "the data protection officer of " + r.Controller + ", at the controller's address"
	set(p, rf.DPO, read[string], &r.DPO, contact)
	set(p, rf.Authority, read[string], &r.Authority, contact)
	return r
}
