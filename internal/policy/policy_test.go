package policy_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

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
	p, err := policy.New(fields, purposes, roles)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
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

// TestNewRefuses: New reports every inconsistency at once, and none of
// its errors is a request-time kind.
func TestNewRefuses(t *testing.T) {
	f := func(name string) policy.Field { return policy.Field{Name: name, Type: policy.TypeText} }
	pu := func(name string, fields ...string) *policy.Purpose {
		m := map[string]policy.Treatment{}
		for _, n := range fields {
			m[n] = policy.Treatment{Action: policy.Clear}
		}
		return &policy.Purpose{Name: name, Fields: m}
	}
	tests := []struct {
		name     string
		fields   []policy.Field
		purposes []*policy.Purpose
		roles    []*policy.Role
		want     []string // substrings of the error; nil: accepted
	}{
		{"empty", nil, nil, nil, nil},
		{"consistent", []policy.Field{f("a")}, []*policy.Purpose{pu("p", "a")}, []*policy.Role{{Name: "r", Purposes: []string{"p"}}}, nil},
		{"field twice", []policy.Field{f("a"), f("a")}, nil, nil, []string{`field "a" defined twice`}},
		{"purpose twice", nil, []*policy.Purpose{pu("p"), pu("p")}, nil, []string{`purpose "p" defined twice`}},
		{"unknown field", []policy.Field{f("a")}, []*policy.Purpose{pu("p", "a", "b")}, nil, []string{`purpose "p" names unknown field "b"`}},
		{"mask without name", []policy.Field{f("a")}, []*policy.Purpose{{Name: "p", Fields: map[string]policy.Treatment{"a": {Action: policy.Masked}}}}, nil,
			[]string{`field "a" masked without a mask name`}},
		{"role twice", nil, nil, []*policy.Role{{Name: "r"}, {Name: "r"}}, []string{`role "r" defined twice`}},
		{"role with unknown purpose", nil, []*policy.Purpose{pu("p")}, []*policy.Role{{Name: "r", Purposes: []string{"p", "q"}}}, []string{`role "r" lists unknown purpose "q"`}},
		{"all at once", []policy.Field{f("a"), f("a")}, []*policy.Purpose{pu("p", "z")}, []*policy.Role{{Name: "r", Purposes: []string{"q"}}},
			[]string{`field "a" defined twice`, `unknown field "z"`, `unknown purpose "q"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := policy.New(tt.fields, tt.purposes, tt.roles)
			if tt.want == nil {
				if err != nil || p == nil {
					t.Fatalf("New got %v, %v; want a policy", p, err)
				}
				return
			}
			if err == nil || p != nil {
				t.Fatalf("New got %v, %v; want an error", p, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New error %q lacks %q", err, w)
				}
			}
			for _, k := range kinds {
				if errors.Is(err, k) {
					t.Errorf("New error %q is %v, a request-time kind", err, k)
				}
			}
		})
	}
}
