package policy_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/policy"
)

// testPolicy: three fields, two purposes, three roles.
func testPolicy(t *testing.T) *policy.Policy {
	t.Helper()
	fields := []policy.Field{
		{Name: "given_name", Type: policy.TypeName, Sensitivity: policy.Identity, Required: true},
		{Name: "email", Type: policy.TypeEmail, Sensitivity: policy.Contact, Lookup: true},
		{Name: "health", Type: policy.TypeText, Sensitivity: policy.Special},
		{Name: "phone", Type: policy.TypePhone, Sensitivity: policy.Contact, Lookup: true},
	}
	purposes := []*policy.Purpose{
		{Name: "directory", Fields: map[string]policy.Treatment{
			"given_name": {Action: policy.Clear}, "email": {Action: policy.Masked, Mask: "email"}, "phone": {Action: policy.Deny},
		}},
		{Name: "medical", RequireReason: true, StepUp: "webauthn", Fields: map[string]policy.Treatment{"health": {Action: policy.Clear}}},
	}
	roles := []*policy.Role{
		{Name: "clerk", Purposes: []string{"directory"}, Permissions: []policy.Permission{policy.PermLookup}},
		{Name: "doctor", Purposes: []string{"directory", "medical"}, Permissions: []policy.Permission{policy.PermCreate, policy.PermUpdate}},
		{Name: "nobody"},
	}
	return policy.New(fields, purposes, roles)
}

var kinds = []error{policy.ErrUnknownRole, policy.ErrUnknownPurpose, policy.ErrPurposeNotAllowed}

// TestPurposeErrors: which error kind Purpose returns decides the HTTP
// status (package vault maps ErrUnknownPurpose to ErrInvalid, 400, and
// the other two to ErrForbidden, 403), so each input must give exactly
// one kind, and the role is checked first.
func TestPurposeErrors(t *testing.T) {
	p := testPolicy(t)
	tests := []struct {
		role, purpose string
		want          error // nil: allowed
	}{
		{"clerk", "directory", nil},
		{"doctor", "medical", nil},
		{"doctor", "directory", nil},
		{"clerk", "medical", policy.ErrPurposeNotAllowed},
		{"nobody", "directory", policy.ErrPurposeNotAllowed},
		{"clerk", "marketing", policy.ErrUnknownPurpose},
		{"clerk", "", policy.ErrUnknownPurpose},
		{"clerk", "Directory", policy.ErrUnknownPurpose}, // names are exact
		{"ghost", "directory", policy.ErrUnknownRole},
		{"ghost", "marketing", policy.ErrUnknownRole}, // role first: 403, not 400
		{"", "", policy.ErrUnknownRole},
		{"Clerk", "directory", policy.ErrUnknownRole},
	}
	for _, tt := range tests {
		t.Run(tt.role+"/"+tt.purpose, func(t *testing.T) {
			pu, err := p.Purpose(tt.role, tt.purpose)
			if tt.want == nil {
				if err != nil || pu == nil || pu.Name != tt.purpose {
					t.Fatalf("Purpose(%q, %q) got %v, %v; want purpose %q", tt.role, tt.purpose, pu, err, tt.purpose)
				}
				return
			}
			if pu != nil {
				t.Errorf("Purpose(%q, %q) returned a purpose with error %v", tt.role, tt.purpose, err)
			}
			for _, k := range kinds {
				if got := errors.Is(err, k); got != (k == tt.want) {
					t.Errorf("Purpose(%q, %q) got %v: errors.Is(%v) = %v, want %v", tt.role, tt.purpose, err, k, got, k == tt.want)
				}
			}
		})
	}
}

// TestStepGroup: a step-up can name only a purpose the role may declare
// that asks for a step-up; the group is the purpose's own name unless the
// policy sets one.
func TestStepGroup(t *testing.T) {
	p := testPolicy(t)
	p.Purposes["triage"] = &policy.Purpose{Name: "triage", StepUp: "any", StepUpGroup: "clinical"}
	p.Roles["doctor"].Purposes = append(p.Roles["doctor"].Purposes, "triage")
	tests := []struct {
		role, purpose, want string
		err                 error
	}{
		{"doctor", "medical", "medical", nil},
		{"doctor", "triage", "clinical", nil},
		{"doctor", "directory", "", policy.ErrNoStepUp},
		{"clerk", "medical", "", policy.ErrPurposeNotAllowed},
		{"clerk", "marketing", "", policy.ErrUnknownPurpose},
		{"ghost", "medical", "", policy.ErrUnknownRole},
	}
	for _, tt := range tests {
		got, err := p.StepGroup(tt.role, tt.purpose)
		if got != tt.want || !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil) {
			t.Errorf("StepGroup(%q, %q) got %q, %v; want %q, %v", tt.role, tt.purpose, got, err, tt.want, tt.err)
		}
	}
}

func TestRole(t *testing.T) {
	p := testPolicy(t)
	r, err := p.Role("clerk")
	if err != nil || r.Name != "clerk" {
		t.Fatalf("Role(clerk) got %v, %v", r, err)
	}
	if !r.Has(policy.PermLookup) || r.Has(policy.PermCreate) || r.Has("") {
		t.Errorf("clerk's permissions: Has(lookup) %v, Has(create) %v, Has(\"\") %v; want true, false, false",
			r.Has(policy.PermLookup), r.Has(policy.PermCreate), r.Has(""))
	}
	if !r.Allows("directory") || r.Allows("medical") || r.Allows("") {
		t.Error("clerk allows a purpose it does not list, or not one it does")
	}
	if _, err := p.Role("ghost"); !errors.Is(err, policy.ErrUnknownRole) {
		t.Errorf("Role(ghost) got %v, want ErrUnknownRole", err)
	}
	var zero policy.Role
	if zero.Has(policy.PermLookup) || zero.Allows("directory") {
		t.Error("the zero Role allows something")
	}
}

func TestViews(t *testing.T) {
	p := testPolicy(t)
	for _, tt := range []struct {
		purpose string
		want    []string
	}{
		{"directory", []string{"given_name", "email"}}, // schema order; phone is denied explicitly
		{"medical", []string{"health"}},
	} {
		if got := p.VisibleFields(p.Purposes[tt.purpose]); !slices.Equal(got, tt.want) {
			t.Errorf("VisibleFields(%s) got %q, want %q", tt.purpose, got, tt.want)
		}
	}
	if got := p.VisibleFields(&policy.Purpose{}); len(got) != 0 {
		t.Errorf("a purpose naming no field shows %q", got)
	}
	if got, want := p.LookupFields(), []string{"email", "phone"}; !slices.Equal(got, want) {
		t.Errorf("LookupFields got %q, want %q", got, want)
	}
	if f, ok := p.Field("health"); !ok || f.Sensitivity != policy.Special {
		t.Errorf("Field(health) got %+v, %v", f, ok)
	}
	if _, ok := p.Field("nope"); ok {
		t.Error("Field(nope) found a field")
	}
	for tr, want := range map[policy.Treatment]string{
		{}:                                      "deny",
		{Action: policy.Clear}:                  "clear",
		{Action: policy.Masked, Mask: "last4"}:  "last4",
		{Action: policy.Deny, Mask: "ignored"}:  "deny",
		{Action: policy.Action(9), Mask: "odd"}: "deny",
	} {
		if got := tr.String(); got != want {
			t.Errorf("%+v.String() got %q, want %q", tr, got, want)
		}
	}
}

func TestContactField(t *testing.T) {
	p := testPolicy(t)
	for _, tt := range []struct {
		field string
		want  bool
	}{
		{"email", true},
		{"phone", true},
		{"given_name", false},
		{"health", false},
		{"nosuch", false},
	} {
		if got := p.ContactField(tt.field); got != tt.want {
			t.Errorf("ContactField(%q) = %v, want %v", tt.field, got, tt.want)
		}
	}
}

func TestConsentDurations(t *testing.T) {
	for _, tt := range []struct {
		pu           policy.Purpose
		valid, lasts time.Duration
	}{
		{policy.Purpose{Consent: true}, policy.DefaultConsentValid, policy.DefaultConsentLasts},
		{policy.Purpose{Consent: true, ConsentValid: time.Hour, ConsentLasts: 10 * time.Minute}, time.Hour, 10 * time.Minute},
	} {
		if got := tt.pu.ConsentValidity(); got != tt.valid {
			t.Errorf("ConsentValidity() = %s, want %s", got, tt.valid)
		}
		if got := tt.pu.ApprovalLasts(); got != tt.lasts {
			t.Errorf("ApprovalLasts() = %s, want %s", got, tt.lasts)
		}
	}
}
