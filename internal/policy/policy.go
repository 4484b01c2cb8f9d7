// Package policy holds the record schema, the purposes and the roles that
// decide who may see which field of a person's record, and how.
//
// A [Policy] is built once at start (by package config, from coffre.yaml or
// the built-in demo) and is read-only afterwards, so it is safe for
// concurrent use. Everything not explicitly allowed is denied: a field that a
// purpose does not name is absent from the view, a purpose that a role does
// not list cannot be declared.
package policy

import (
	"errors"
	"fmt"
	"time"

	"github.com/coffre/coffre/internal/retention"
)

// FieldType is the kind of value a field holds; it decides validation,
// lookup normalisation and which masks make sense.
type FieldType string

// The field types of DESIGN §2.
const (
	TypeText       FieldType = "text"
	TypeName       FieldType = "name"
	TypeEmail      FieldType = "email"
	TypePhone      FieldType = "phone"
	TypeDate       FieldType = "date"
	TypeNationalID FieldType = "national_id"
	TypeAddress    FieldType = "address"
)

// FieldTypes lists every valid [FieldType].
var FieldTypes = []FieldType{TypeText, TypeName, TypeEmail, TypePhone, TypeDate, TypeNationalID, TypeAddress}

// Sensitivity classifies a field for breach reports and consent.
type Sensitivity string

// The sensitivities of DESIGN §2; special is GDPR art. 9 data.
const (
	Identity  Sensitivity = "identity"
	Contact   Sensitivity = "contact"
	Sensitive Sensitivity = "sensitive"
	Special   Sensitivity = "special"
)

// Sensitivities lists every valid [Sensitivity].
var Sensitivities = []Sensitivity{Identity, Contact, Sensitive, Special}

// Field is one field of the record schema.
type Field struct {
	Name        string
	Type        FieldType
	Sensitivity Sensitivity
	// Lookup makes the field reachable by exact-match blind index.
	Lookup bool
	// Required fields must be present when a subject is created.
	Required bool
	// MaxLen bounds the value in bytes; zero means the type's default.
	MaxLen int
	// Retention is the retention rule as written in the configuration
	// (for example "6y after last_activity"), Keep the rule parsed (nil:
	// none; package retention's grammar); applied by the purge engine.
	Retention string
	Keep      *retention.Rule
}

// Action is a treatment of a field in a view.
type Action int

// A field is either returned in clear, masked, or absent. The zero value
// denies.
const (
	Deny Action = iota
	Clear
	Masked
)

// Treatment says how a purpose shows one field.
type Treatment struct {
	Action Action
	// Mask names the mask when Action is Masked (see package mask).
	Mask string
}

// String renders the treatment as written in the configuration.
func (t Treatment) String() string {
	switch t.Action {
	case Clear:
		return "clear"
	case Masked:
		return t.Mask
	default:
		return "deny"
	}
}

// Purpose is a declared processing purpose and the view it grants.
type Purpose struct {
	Name        string
	Description string
	// Fields maps a field name to its treatment; a field not named is denied.
	Fields map[string]Treatment
	// RequireReason makes Coffre-Reason mandatory for reads under it.
	RequireReason bool
	// Updates lists the fields a change declared under the purpose may
	// set or remove (a write purpose such as case-update); none when empty.
	Updates []string
	// StepUp is the fresh second-factor proof reads under the purpose need:
	// "" (no step-up), "any" (a TOTP or WebAuthn proof) or "webauthn" (a
	// WebAuthn proof only). The proof is a step-up that named a purpose of
	// the same step-up group ([Purpose.Group]), within StepUpWindow; the
	// login's own factor never counts.
	StepUp string
	// StepUpWindow is how long a step-up serves reads under the purpose;
	// zero means the server's default (sessions.step_up).
	StepUpWindow time.Duration
	// StepUpGroup names the purposes one step-up serves: "" means the
	// purpose's own name, so that each purpose needs its own.
	StepUpGroup string
	// Notice is what the person is told of an access under the purpose:
	// NoticeImmediate (the default), NoticeDigest, NoticeHistory or
	// NoticeDeferred.
	Notice string
	// NoticeNamesOperator puts the operator's id in the person's notices
	// and history; by default they name the organisation, unit and role
	// (CJEU C-579/21 owes the person dates and purposes, not necessarily
	// the employee).
	NoticeNamesOperator bool
	// DeferredBasis is the legal basis of a NoticeDeferred purpose (the
	// law that allows telling the person only later), DeferredFor how
	// long after the access the person may be told.
	DeferredBasis string
	DeferredFor   time.Duration
	// Consent makes a read under the purpose wait for the person's
	// consent: the read opens a consent request (issue 14), and the
	// operator's next read of that person under the purpose, once they
	// approved, returns the view, once.
	Consent bool
	// ConsentValid is how long a consent request waits for the person's
	// decision, ConsentLasts how long an approval stays usable; zero
	// means the defaults (DefaultConsentValid, DefaultConsentLasts).
	ConsentValid time.Duration
	ConsentLasts time.Duration
	// BreakGlass allows an emergency read without consent, with a reason,
	// an immediate notice to the person and an alert to the security
	// officers (a purpose with Consent only).
	BreakGlass bool
}

// Defaults of a consent purpose's ConsentValid and ConsentLasts.
const (
	DefaultConsentValid = 72 * time.Hour
	DefaultConsentLasts = 24 * time.Hour
)

// ConsentValidity is how long a consent request under the purpose waits
// for the person's decision.
func (pu *Purpose) ConsentValidity() time.Duration {
	if pu.ConsentValid <= 0 {
		return DefaultConsentValid
	}
	return pu.ConsentValid
}

// ApprovalLasts is how long the person's approval under the purpose
// stays usable for the one read it allows.
func (pu *Purpose) ApprovalLasts() time.Duration {
	if pu.ConsentLasts <= 0 {
		return DefaultConsentLasts
	}
	return pu.ConsentLasts
}

// What a person is told of an access (Purpose.Notice).
const (
	// NoticeImmediate sends a notice at once.
	NoticeImmediate = "immediate"
	// NoticeDigest gathers the day's accesses into one daily message.
	NoticeDigest = "digest"
	// NoticeHistory sends nothing: the access is in the person's history
	// only (a payroll run must not send a message to every employee).
	NoticeHistory = "history"
	// NoticeDeferred tells the person nothing before DeferredFor has
	// passed (a legal basis allows it); then the notice is sent.
	NoticeDeferred = "deferred"
)

// NoticeModes lists the values of Purpose.Notice.
var NoticeModes = []string{NoticeImmediate, NoticeDigest, NoticeHistory, NoticeDeferred}

// NoticeMode is the purpose's notice mode, NoticeImmediate when unset.
func (pu *Purpose) NoticeMode() string {
	if pu.Notice == "" {
		return NoticeImmediate
	}
	return pu.Notice
}

// Group returns the purpose's step-up group: StepUpGroup, or its name.
func (pu *Purpose) Group() string {
	if pu.StepUpGroup != "" {
		return pu.StepUpGroup
	}
	return pu.Name
}

// Permission is a right a role holds beyond reading for a purpose.
type Permission string

// The permissions a role may hold.
const (
	PermCreate    Permission = "create"    // create subjects
	PermUpdate    Permission = "update"    // update fields
	PermErase     Permission = "erase"     // crypto-shred a subject
	PermLookup    Permission = "lookup"    // exact-match lookup
	PermImport    Permission = "import"    // bulk write path
	PermOperators Permission = "operators" // manage operators
	PermAudit     Permission = "audit"     // read audit entries
	PermSecurity  Permission = "security"  // alerts, unlock
	PermSeal      Permission = "seal"      // seal and unseal
	PermIncidents Permission = "incidents" // breach response
	PermSupervise Permission = "supervise" // approve budget extensions in one's unit
	PermAssign    Permission = "assign"    // assign people to other operators' caseloads in one's unit
	PermRights    Permission = "rights"    // decide the persons' requests (the handler role of config rights.handler_role)
	PermHold      Permission = "hold"      // place and lift legal holds
	PermStats     Permission = "stats"     // aggregate statistics: noised counts of declared dimensions, never a record
)

// Permissions lists every valid [Permission].
var Permissions = []Permission{PermCreate, PermUpdate, PermErase, PermLookup, PermImport, PermOperators, PermAudit, PermSecurity, PermSeal, PermIncidents, PermSupervise, PermAssign, PermRights, PermHold, PermStats}

// Role is a set of purposes an operator may declare and permissions.
type Role struct {
	Name        string
	Purposes    []string
	Permissions []Permission
	// MFA lists the second factors the role may log in with, a subset of
	// "totp" and "webauthn"; empty means both.
	MFA []string
	// Partner makes it a role for partner organisations' API clients:
	// partners are registered under such roles only, and no operator is
	// given one.
	Partner bool
	// AttestedKeys: the role's security keys must be attested hardware
	// (config webauthn.attestation): a key is registered only with an
	// attestation the allow-list accepts, and counts only while it does.
	AttestedKeys bool
}

// Has reports whether the role holds p.
func (r *Role) Has(p Permission) bool {
	for _, q := range r.Permissions {
		if q == p {
			return true
		}
	}
	return false
}

// Allows reports whether the role may declare purpose.
func (r *Role) Allows(purpose string) bool {
	for _, q := range r.Purposes {
		if q == purpose {
			return true
		}
	}
	return false
}

// Policy is the validated schema, purposes and roles.
type Policy struct {
	Fields   []Field
	Purposes map[string]*Purpose
	Roles    map[string]*Role

	byName map[string]int
}

// Errors callers branch on.
var (
	// ErrUnknownRole is returned for a role the policy does not define.
	ErrUnknownRole = errors.New("unknown role")
	// ErrUnknownPurpose is returned for a purpose the policy does not define.
	ErrUnknownPurpose = errors.New("unknown purpose")
	// ErrPurposeNotAllowed is returned when a role may not declare a purpose.
	ErrPurposeNotAllowed = errors.New("purpose not allowed for role")
	// ErrNoStepUp is returned by [Policy.StepGroup] for a purpose that
	// asks for no step-up.
	ErrNoStepUp = errors.New("purpose asks for no step-up")
)

// New returns the policy made of fields, purposes and roles. It trusts its
// parts to be consistent, as package config checks them (with the file line
// of each mistake) before calling it: names are unique, a purpose names only
// fields of the schema, a role lists only purposes of the policy, a masked
// field names its mask. Should they not be, the policy still fails closed: a
// field no purpose shows is never decrypted, and a purpose missing from the
// policy is refused by [Policy.Purpose].
func New(fields []Field, purposes []*Purpose, roles []*Role) *Policy {
	p := &Policy{Fields: fields, Purposes: map[string]*Purpose{}, Roles: map[string]*Role{}, byName: map[string]int{}}
	for i, f := range fields {
		p.byName[f.Name] = i
	}
	for _, pu := range purposes {
		p.Purposes[pu.Name] = pu
	}
	for _, r := range roles {
		p.Roles[r.Name] = r
	}
	return p
}

// Field returns the field named name.
func (p *Policy) Field(name string) (Field, bool) {
	i, ok := p.byName[name]
	if !ok {
		return Field{}, false
	}
	return p.Fields[i], true
}

// Role returns the role named name.
func (p *Policy) Role(name string) (*Role, error) {
	r, ok := p.Roles[name]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownRole, name)
	}
	return r, nil
}

// Purpose returns the purpose that role may declare, or an error wrapping
// [ErrUnknownPurpose] or [ErrPurposeNotAllowed].
func (p *Policy) Purpose(role, purpose string) (*Purpose, error) {
	r, err := p.Role(role)
	if err != nil {
		return nil, err
	}
	pu, ok := p.Purposes[purpose]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownPurpose, purpose)
	}
	if !r.Allows(purpose) {
		return nil, fmt.Errorf("%w: role %q, purpose %q", ErrPurposeNotAllowed, role, purpose)
	}
	return pu, nil
}

// MayUpdate reports whether a change under the purpose may set field.
func (pu *Purpose) MayUpdate(field string) bool {
	for _, f := range pu.Updates {
		if f == field {
			return true
		}
	}
	return false
}

// StepGroup returns the step-up group of a purpose that role may declare
// and that asks for a step-up: what a step-up naming the purpose proves a
// factor for. Its errors are those of [Policy.Purpose], and [ErrNoStepUp].
func (p *Policy) StepGroup(role, purpose string) (string, error) {
	pu, err := p.Purpose(role, purpose)
	if err != nil {
		return "", err
	}
	if pu.StepUp == "" {
		return "", fmt.Errorf("%w: purpose %q", ErrNoStepUp, purpose)
	}
	return pu.Group(), nil
}

// VisibleFields returns, in schema order, the fields the purpose shows
// (clear or masked): the only ones the vault decrypts.
func (p *Policy) VisibleFields(pu *Purpose) []string {
	var out []string
	for _, f := range p.Fields {
		if t := pu.Fields[f.Name]; t.Action != Deny {
			out = append(out, f.Name)
		}
	}
	return out
}

// ContactField reports whether field is a contact address: an email or
// phone field, which notices and sign-in may use. A change of one waits
// out a cooling-off period (package contact).
func (p *Policy) ContactField(name string) bool {
	f, ok := p.Field(name)
	return ok && (f.Type == TypeEmail || f.Type == TypePhone)
}

// ContactFields names the fields a person may be told through, by
// default: every email field, then every phone field, in schema order.
func ContactFields(fields []Field) []string {
	var out []string
	for _, t := range []FieldType{TypeEmail, TypePhone} {
		for _, f := range fields {
			if f.Type == t {
				out = append(out, f.Name)
			}
		}
	}
	return out
}

// LookupFields returns the names of the fields with a blind index.
func (p *Policy) LookupFields() []string {
	var out []string
	for _, f := range p.Fields {
		if f.Lookup {
			out = append(out, f.Name)
		}
	}
	return out
}
