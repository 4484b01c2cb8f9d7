package config

import (
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/retention"
	"github.com/coffre/coffre/internal/stats"
)

// defaultStatistics is the statistics section's default: no dimension.
var defaultStatistics = stats.Declaration{K: 10, Epsilon: big.NewRat(1, 10), Budget: big.NewRat(1, 1), Period: 30 * 24 * time.Hour}

func TestDemo(t *testing.T) {
	cfg, err := Demo(nil)
	if err != nil {
		t.Fatalf("Demo(nil): %v", err)
	}
	if cfg.Source != "built-in demo" {
		t.Errorf("Source = %q, want %q", cfg.Source, "built-in demo")
	}
	pol := cfg.Policy
	if len(pol.Fields) != 11 || len(pol.Purposes) != 11 || len(pol.Roles) != 10 {
		t.Fatalf("demo has %d fields, %d purposes, %d roles; want 11, 11, 10", len(pol.Fields), len(pol.Purposes), len(pol.Roles))
	}

	fields := []struct {
		name             string
		typ              policy.FieldType
		sens             policy.Sensitivity
		required, lookup bool
	}{
		{"given_name", policy.TypeName, policy.Identity, true, false},
		{"family_name", policy.TypeName, policy.Identity, true, false},
		{"email_pro", policy.TypeEmail, policy.Contact, false, true},
		{"email_personal", policy.TypeEmail, policy.Contact, false, true},
		{"phone", policy.TypePhone, policy.Contact, false, true},
		{"birth_date", policy.TypeDate, policy.Identity, false, false},
		{"national_id", policy.TypeNationalID, policy.Sensitive, false, true},
		{"address", policy.TypeAddress, policy.Contact, false, false},
		{"employer", policy.TypeText, policy.Identity, false, false},
		{"job_title", policy.TypeText, policy.Identity, false, false},
		{"health_note", policy.TypeText, policy.Special, false, false},
	}
	for i, w := range fields {
		f := pol.Fields[i]
		if f.Name != w.name || f.Type != w.typ || f.Sensitivity != w.sens || f.Required != w.required || f.Lookup != w.lookup {
			t.Errorf("field %d = %+v, want %+v", i, f, w)
		}
		if f.Retention == "" {
			t.Errorf("field %s has no retention rule", f.Name)
		}
	}

	// The treatment of every field (in schema order) under every purpose.
	views := map[string]string{
		"directory":            "clear clear clear deny deny deny deny deny clear clear deny",
		"case-handling":        "clear clear clear email clear year last4 clear clear clear deny",
		"support-call":         "clear initials email deny last2 year deny deny deny deny deny",
		"payroll":              "clear clear clear deny deny clear clear clear clear clear deny",
		"workplace-adjustment": "clear clear deny deny deny deny deny deny clear clear clear",
		"referral":             "clear clear email deny last4 deny deny deny deny deny deny",
		"occupational-health":  "clear clear deny deny clear deny deny deny deny deny clear",
	}
	for name, want := range views {
		pu, ok := pol.Purposes[name]
		if !ok {
			t.Errorf("purpose %q missing", name)
			continue
		}
		var got []string
		for _, f := range pol.Fields {
			got = append(got, pu.Fields[f.Name].String())
		}
		if g := strings.Join(got, " "); g != want {
			t.Errorf("purpose %s shows %q, want %q", name, g, want)
		}
		if pu.Description == "" {
			t.Errorf("purpose %s has no description", name)
		}
		if wantReason := name == "workplace-adjustment" || name == "occupational-health"; pu.RequireReason != wantReason {
			t.Errorf("purpose %s RequireReason = %v, want %v", name, pu.RequireReason, wantReason)
		}
		// Special-category data and the national id in clear ask for a
		// fresh second factor.
		wantStepUp, wantWindow := "", time.Duration(0)
		switch name {
		case "workplace-adjustment", "occupational-health":
			wantStepUp, wantWindow = "any", 5*time.Minute
		case "payroll":
			wantStepUp, wantWindow = "any", 15*time.Minute
		}
		if pu.StepUp != wantStepUp || pu.StepUpWindow != wantWindow {
			t.Errorf("purpose %s StepUp = %q within %s, want %q within %s", name, pu.StepUp, pu.StepUpWindow, wantStepUp, wantWindow)
		}
		// Consent, and the emergency read without it, for the health note
		// of an occupational health referral only.
		want := name == "occupational-health"
		if pu.Consent != want || pu.BreakGlass != want || want && (pu.ConsentValid != 72*time.Hour || pu.ConsentLasts != 24*time.Hour) {
			t.Errorf("purpose %s consent %v (%s, %s), break-glass %v; want %v (72h, 24h)", name, pu.Consent, pu.ConsentValid, pu.ConsentLasts, pu.BreakGlass, want)
		}
	}

	roles := map[string][2]string{
		"caseworker":       {"case-handling directory case-update identity-check", "lookup create update"},
		"hr-officer":       {"payroll workplace-adjustment directory hr-records occupational-health", "lookup create update erase import"},
		"support":          {"support-call directory", "lookup"},
		"security-officer": {"", "security seal incidents"},
		"auditor":          {"", "audit"},
		"admin":            {"", "operators seal import"},
		"supervisor":       {"case-handling directory", "lookup supervise assign"},
		"partner":          {"referral", "lookup"},
	}
	for name, want := range roles {
		r, err := pol.Role(name)
		if err != nil {
			t.Errorf("role %q: %v", name, err)
			continue
		}
		got := [2]string{strings.Join(r.Purposes, " "), strings.Join(names(r.Permissions), " ")}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("role %s = %q, want %q", name, got, want)
		}
	}
	// The demo tour logs in with TOTP: every role takes both factors.
	for name, r := range pol.Roles {
		if r.MFA != nil {
			t.Errorf("role %s MFA = %q, want both (nil)", name, r.MFA)
		}
	}

	got := *cfg
	want := Config{
		StepUpFor: 5 * time.Minute,
		WebAuthn:  WebAuthn{RPID: "localhost", RPName: "Coffre", Origins: []string{"http://localhost:8080", "http://127.0.0.1:8080"}},
		Login:     Login{MaxFailures: 10, FailureWindow: 24 * time.Hour, LockFor: time.Hour, PerOrigin: 30, DisableAfter: 90 * 24 * time.Hour},
	}
	if got.StepUpFor != want.StepUpFor || !reflect.DeepEqual(got.WebAuthn, want.WebAuthn) || got.Login != want.Login {
		t.Errorf("demo step-up, webauthn, login = %v %+v %+v, want the defaults (and disable_after 90d) %v %+v %+v",
			got.StepUpFor, got.WebAuthn, got.Login, want.StepUpFor, want.WebAuthn, want.Login)
	}
	// The demo turns partner access on, on loopback.
	if want := (Partners{Listen: "127.0.0.1:8443", Hosts: []string{"localhost", "127.0.0.1"}}); !reflect.DeepEqual(got.Partners, want) {
		t.Errorf("demo partners = %+v, want %+v", got.Partners, want)
	}
	if got.Notices.ContactCoolingOff != 72*time.Hour {
		t.Errorf("demo contact cooling-off = %s, want 72h", got.Notices.ContactCoolingOff)
	}
	// The demo serves /metrics on its loopback API listener, without a token.
	if got.Metrics != (Metrics{}) {
		t.Errorf("demo metrics = %+v, want none (on listen, no token)", got.Metrics)
	}
}

// defaultSignin is the signin of a file that sets none; validSignin
// that of testdata/valid.yaml.
var (
	defaultSignin = Signin{
		Code:        SigninCode{Enabled: true, Digits: 6, ValidFor: 10 * time.Minute, MaxAttempts: 5, LockFor: 15 * time.Minute, PerContact: 5, PerOrigin: 30},
		SessionIdle: 15 * time.Minute, SessionAbsolute: time.Hour,
	}
	validSignin = Signin{
		Code:        SigninCode{Enabled: false, Digits: 8, ValidFor: 5 * time.Minute, MaxAttempts: 3, LockFor: 30 * time.Minute, PerContact: 4, PerOrigin: 20},
		SessionIdle: 10 * time.Minute, SessionAbsolute: 30 * time.Minute,
		OIDC: OIDC{Issuer: "https://idp.example.org/realms/citizens", ClientID: "coffre", ClientSecretFile: "/etc/coffre/oidc-secret",
			RedirectURL: "https://coffre.example.org/v1/me/oidc/callback", Scopes: []string{"email", "profile"}, Claim: "national_id", Field: "ssn"},
	}
)

func TestValid(t *testing.T) {
	const path = "testdata/valid.yaml"
	cfg, err := Load(path, nil)
	if err != nil {
		t.Fatalf("Load(%q): %v", path, err)
	}
	got := *cfg
	got.Settings = nil // TestSettings
	got.Policy, got.Guard, got.Notices, got.Rights = nil, Guard{}, Notices{ContactCoolingOff: got.Notices.ContactCoolingOff}, Rights{}
	want := Config{
		Source:          path,
		Store:           "postgres://coffre@db.internal:5432/coffre?sslmode=verify-full",
		StoreMigrate:    "manual",
		LogFormat:       "text",
		Postgres:        Postgres{StatementTimeout: 30 * time.Second, LockTimeout: 500 * time.Millisecond, MaxConns: 40, MinConns: 4},
		Listen:          "0.0.0.0:9443",
		DataDir:         "/var/lib/coffre",
		RootKeyFile:     "/etc/coffre/root.key",
		SessionIdle:     15 * time.Minute,
		SessionAbsolute: 8 * time.Hour,
		LoginTokenTTL:   2 * time.Minute,
		StepUpFor:       90 * time.Second,
		MaxBodyBytes:    131072,
		ReasonMaxLen:    500,
		AuditMaxLag:     45 * time.Second,
		AuditEpoch:      retention.Span{Years: 1},
		AuditWitnesses:  []string{"https://witness.example.org/add", "http://127.0.0.1:9000/w"},
		WebAuthn: WebAuthn{
			RPID:    "coffre.example.org",
			RPName:  "Coffre (Example Corp)",
			Origins: []string{"https://coffre.example.org", "https://admin.coffre.example.org:8443"},
			Attestation: Attestation{
				AAGUIDs: []uuid.UUID{uuid.MustParse("cb69481e-8ff7-4039-93ec-0a2729a154a8"), uuid.MustParse("ee882879-721c-4913-9775-3dfcce97072a")},
				Roots:   readPEM(t, "testdata/attestation_root.pem"),
			},
		},
		Login:      Login{MaxFailures: 5, FailureWindow: 30 * time.Minute, LockFor: 0, PerOrigin: 12},
		Partners:   Partners{Listen: "0.0.0.0:9444", Hosts: []string{"partners.example.org", "203.0.113.7", "2001:db8::7"}},
		Metrics:    Metrics{Listen: "127.0.0.1:9090", Token: "0123456789abcdef0123456789abcdef"},
		Notices:    Notices{ContactCoolingOff: 48 * time.Hour},
		Signin:     validSignin,
		Statistics: defaultStatistics,
		Retention:  defaultRetention,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load(%q)\n got %+v\nwant %+v", path, got, want)
	}

	wantFields := []policy.Field{
		{Name: "given_name", Type: policy.TypeName, Sensitivity: policy.Identity, Required: true, MaxLen: 100, Retention: "5y after hired_on",
			Keep: &retention.Rule{Span: retention.Span{Years: 5}, Event: "hired_on"}},
		{Name: "email", Type: policy.TypeEmail, Sensitivity: policy.Contact, Lookup: true},
		{Name: "ssn", Type: policy.TypeNationalID, Sensitivity: policy.Sensitive, Lookup: true, MaxLen: 15},
		{Name: "hired_on", Type: policy.TypeDate, Sensitivity: policy.Identity},
		{Name: "notes", Type: policy.TypeText, Sensitivity: policy.Special, Retention: "1y after last_activity",
			Keep: &retention.Rule{Span: retention.Span{Years: 1}, Event: retention.LastActivity}},
	}
	if !reflect.DeepEqual(cfg.Policy.Fields, wantFields) {
		t.Errorf("fields\n got %+v\nwant %+v", cfg.Policy.Fields, wantFields)
	}
	wantPurposes := map[string]*policy.Purpose{
		"hr": {Name: "hr", Description: "Human resources", RequireReason: true, StepUp: "webauthn", StepUpWindow: 2 * time.Minute, StepUpGroup: "people-files",
			Consent: true, ConsentValid: 36 * time.Hour, ConsentLasts: 2 * time.Hour, BreakGlass: true, Fields: map[string]policy.Treatment{
				"given_name": {Action: policy.Clear},
				"email":      {Action: policy.Masked, Mask: "email"},
				"ssn":        {Action: policy.Masked, Mask: "last4"},
				"hired_on":   {Action: policy.Masked, Mask: "year"},
				"notes":      {Action: policy.Deny},
			}},
		"badge": {Name: "badge", Description: "Print a badge", StepUp: "any", StepUpWindow: 90 * time.Second, Fields: map[string]policy.Treatment{
			"given_name": {Action: policy.Masked, Mask: "initials"},
		}},
	}
	if !reflect.DeepEqual(cfg.Policy.Purposes, wantPurposes) {
		t.Errorf("purposes\n got %s\nwant %s", dump(cfg.Policy.Purposes), dump(wantPurposes))
	}
	writer := []policy.Permission{policy.PermLookup, policy.PermCreate, policy.PermUpdate}
	wantRoles := map[string]*policy.Role{
		"hr-officer":   {Name: "hr-officer", Purposes: []string{"hr", "badge"}, Permissions: writer, MFA: []string{"webauthn"}, AttestedKeys: true},
		"receptionist": {Name: "receptionist", Purposes: []string{"badge"}, Permissions: writer, MFA: []string{"totp", "webauthn"}},
		"auditor":      {Name: "auditor", Permissions: []policy.Permission{policy.PermAudit}, MFA: []string{"totp"}},
	}
	if !reflect.DeepEqual(cfg.Policy.Roles, wantRoles) {
		t.Errorf("roles\n got %s\nwant %s", dump(cfg.Policy.Roles), dump(wantRoles))
	}

	defaults := guard.Limits{
		Rate: 0.5, Burst: 10, SubjectsPerHour: 11, SubjectsPerDay: 12, OutOfCaseloadPerDay: 13, OutOfUnitPerDay: 14,
		UntrustedPerDay: 15, LookupsPerHour: 16, MissesPerHour: 17, VelocitySubjects: 18, VelocityWindow: 90 * time.Second,
		EnumerationRun: 19, Hours: mustHours(t, "mon,wed,fri 08:30-17:00"), HardMargin: 20,
		CreatesPerDay: 21, UpdatesPerHour: 22, UpdatesPerDay: 23, ErasuresPerDay: 24, AssignmentsPerDay: 30,
		OperatorsPerDay: 25, RolesPerDay: 26, FactorResetsPerDay: 27, PartnersPerDay: 28, AdminBurstPerHour: 29, BreakGlassPerDay: 31,
	}
	hr := defaults
	hr.AllUnits, hr.Rate, hr.Burst, hr.SubjectsPerDay = true, 0, 0, 0
	hr.VelocitySubjects, hr.VelocityWindow, hr.Hours = 30, time.Hour, guard.Hours{}
	checkGuard(t, cfg.Guard, "America/New_York", Guard{
		TwoApproversOver: 250, ApproverMinAge: 72 * time.Hour,
		TrustedNetworks: prefixes(t, "10.20.0.0/16", "fd00::/8"),
		TrustedProxies:  prefixes(t, "10.20.0.1/32"),
		Roles:           map[string]guard.Limits{"hr-officer": hr, "receptionist": defaults},
	})
}

// checkGuard compares g with want, whose Location is given by name.
func checkGuard(t *testing.T, g Guard, location string, want Guard) {
	t.Helper()
	if g.Location == nil || g.Location.String() != location {
		t.Errorf("guard location = %v, want %s", g.Location, location)
	}
	g.Location, want.Location = nil, nil
	if !reflect.DeepEqual(g, want) {
		t.Errorf("guard\n got %+v\nwant %+v", g, want)
	}
}

func mustHours(t *testing.T, s string) guard.Hours {
	t.Helper()
	h, err := guard.ParseHours(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func prefixes(t *testing.T, ss ...string) []netip.Prefix {
	t.Helper()
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func dump[V any](m map[string]*V) string {
	var b strings.Builder
	for _, k := range sortedKeys(m) {
		fmt.Fprintf(&b, "%s=%+v ", k, *m[k])
	}
	return b.String()
}

func TestDefaults(t *testing.T) {
	cfg, err := Load("testdata/minimal.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	checkGuard(t, cfg.Guard, "Europe/Paris", Guard{
		TwoApproversOver: 500, ApproverMinAge: 7 * 24 * time.Hour,
		TrustedNetworks: prefixes(t, "127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"),
		Roles:           map[string]guard.Limits{},
	})
	got := *cfg
	got.Settings = nil // TestSettings
	got.Policy, got.Guard, got.Notices, got.Rights = nil, Guard{}, Notices{ContactCoolingOff: got.Notices.ContactCoolingOff}, Rights{}
	want := Config{
		Source:          "testdata/minimal.yaml",
		Store:           "sqlite:./coffre-data/coffre.db",
		StoreMigrate:    "auto",
		LogFormat:       "text",
		Postgres:        Postgres{StatementTimeout: 5 * time.Second, LockTimeout: 2 * time.Second},
		Listen:          "127.0.0.1:8080",
		DataDir:         "./coffre-data",
		RootKeyFile:     "./coffre-data/root.key",
		SessionIdle:     30 * time.Minute,
		SessionAbsolute: 12 * time.Hour,
		LoginTokenTTL:   5 * time.Minute,
		StepUpFor:       5 * time.Minute,
		MaxBodyBytes:    65536,
		ReasonMaxLen:    200,
		AuditMaxLag:     30 * time.Second,
		AuditEpoch:      retention.Span{Years: 1},
		WebAuthn:        WebAuthn{RPID: "localhost", RPName: "Coffre", Origins: []string{"http://localhost:8080", "http://127.0.0.1:8080"}},
		Login:           Login{MaxFailures: 10, FailureWindow: 24 * time.Hour, LockFor: time.Hour, PerOrigin: 30},
		Partners:        Partners{Hosts: []string{"localhost", "127.0.0.1"}},
		Notices:         Notices{ContactCoolingOff: 72 * time.Hour},
		Signin:          defaultSignin,
		Statistics:      defaultStatistics,
		Retention:       defaultRetention,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaults\n got %+v\nwant %+v", got, want)
	}
	if n := len(cfg.Policy.Purposes) + len(cfg.Policy.Roles); n != 0 {
		t.Errorf("minimal config has %d purposes and roles, want none", n)
	}

	// An explicit null is the same as an absent key.
	nulls := "store:\nlisten: ~\nsessions: {step_up: ~}\nlimits: {max_body_bytes: null}\npurposes: {p: {step_up: ~}}\n" +
		"roles: {r: {purposes: [p], mfa: ~}}\nguard: {timezone: ~, trusted_networks: ~}\n" +
		"webauthn: {rp_id: ~, rp_name: ~, origins: ~}\nlogin: {max_failures: ~, failure_window: ~, lock_for: ~, per_origin_per_minute: ~}\n" +
		"partners: {listen: ~, hosts: ~}\nmetrics: {listen: ~, token: ~}\n" +
		"store_migrate: ~\npostgres: {statement_timeout: ~, lock_timeout: ~, max_conns: ~, min_conns: ~}\n" +
		"schema:\n  - {name: x, type: text, sensitivity: identity, max_len: ~}\n"
	cfg, err = Parse("nulls.yaml", []byte(nulls), nil)
	if err != nil {
		t.Fatal(err)
	}
	got = *cfg
	got.Settings = nil // TestSettings
	got.Policy, got.Guard, got.Notices, got.Rights = nil, Guard{}, Notices{ContactCoolingOff: got.Notices.ContactCoolingOff}, Rights{}
	want.Source = "nulls.yaml"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("nulls\n got %+v\nwant %+v", got, want)
	}
	if pu := cfg.Policy.Purposes["p"]; pu.StepUp != "" {
		t.Errorf("null step_up: StepUp = %q, want none", pu.StepUp)
	}
	if r := cfg.Policy.Roles["r"]; r.MFA != nil {
		t.Errorf("null mfa: MFA = %q, want both (nil)", r.MFA)
	}
}

// TestInvalid parses every fixture. A fixture marks each problem it should
// give with a "# want: KEY: MESSAGE" comment on the problem's line; the
// problem must read "FILE:LINE: KEY: MESSAGE…", and there must be no other.
// A fixture without such comments must parse.
func TestInvalid(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var wants []string
			for i, line := range strings.Split(string(data), "\n") {
				_, comment, ok := strings.Cut(line, "# want: ")
				if !ok {
					continue
				}
				for _, w := range strings.Split(comment, " # want: ") {
					wants = append(wants, fmt.Sprintf("%s:%d: %s", file, i+1, strings.TrimSpace(w)))
				}
			}
			_, err = Load(file, nil)
			if len(wants) == 0 {
				if err != nil {
					t.Fatalf("Load(%q): %v", file, err)
				}
				return
			}
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("Load(%q) = %v, want an *Error", file, err)
			}
			for _, w := range wants {
				if !slices.ContainsFunc(cerr.Problems, func(p Problem) bool { return strings.Contains(p.String(), w) }) {
					t.Errorf("no problem %q in\n%v", w, err)
				}
			}
			if len(cerr.Problems) != len(wants) {
				t.Errorf("Load(%q) gave %d problems, want %d:\n%v", file, len(cerr.Problems), len(wants), err)
			}
		})
	}
}

func TestMultipleProblems(t *testing.T) {
	const path = "testdata/bad_settings.yaml"
	_, err := Load(path, []string{"COFFRE_SESSIONS_IDLE=later"})
	var cerr *Error
	if !errors.As(err, &cerr) {
		t.Fatalf("Load(%q) = %v, want an *Error", path, err)
	}
	if len(cerr.Problems) != 10 {
		t.Errorf("got %d problems, want 10:\n%v", len(cerr.Problems), err)
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(cerr.Problems) {
		t.Errorf("Error() has %d lines for %d problems", len(lines), len(cerr.Problems))
	}
	// File problems in line order, the environment's last.
	for i := 1; i < len(cerr.Problems)-1; i++ {
		if a, b := cerr.Problems[i-1], cerr.Problems[i]; a.Line > b.Line {
			t.Errorf("problem %d (line %d) before problem %d (line %d)", i-1, a.Line, i, b.Line)
		}
	}
	last := cerr.Problems[len(cerr.Problems)-1]
	if want := `environment: COFFRE_SESSIONS_IDLE: invalid duration "later"`; !strings.HasPrefix(last.String(), want) {
		t.Errorf("last problem = %q, want prefix %q", last, want)
	}
}

func TestTooManyProblems(t *testing.T) {
	// An alias repeats a list of 2000 unknown purposes in 600 roles: the
	// walk stops at its budget and at most 100 problems are kept.
	var b strings.Builder
	b.WriteString("schema:\n  - {name: x, type: text, sensitivity: identity}\nlist: &l [")
	for i := range 2000 {
		fmt.Fprintf(&b, "p%d, ", i)
	}
	b.WriteString("p]\nroles:\n")
	for i := range 600 {
		fmt.Fprintf(&b, "  r%d: {purposes: *l}\n", i)
	}
	start := time.Now()
	_, err := Parse("bomb.yaml", []byte(b.String()), nil)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Parse took %v", d)
	}
	var cerr *Error
	if !errors.As(err, &cerr) {
		t.Fatalf("Parse = %v, want an *Error", err)
	}
	if len(cerr.Problems) != maxProblems+1 {
		t.Errorf("got %d problems, want %d", len(cerr.Problems), maxProblems+1)
	}
	if last := cerr.Problems[len(cerr.Problems)-1].String(); !strings.Contains(last, "more problems not shown") {
		t.Errorf("last problem = %q, want the count of those not shown", last)
	}
}

func TestEnvironment(t *testing.T) {
	all := []string{
		"PATH=/usr/bin",
		"COFFRE_STORE=postgresql://coffre@pg/coffre",
		"COFFRE_STORE_MIGRATE=manual",
		"COFFRE_POSTGRES_STATEMENT_TIMEOUT=1m",
		"COFFRE_POSTGRES_LOCK_TIMEOUT=0",
		"COFFRE_POSTGRES_MAX_CONNS=100",
		"COFFRE_POSTGRES_MIN_CONNS=10",
		"COFFRE_LISTEN=:9000",
		"COFFRE_DATA_DIR=/srv/coffre",
		"COFFRE_ROOT_KEY_FILE=/run/secrets/root.key",
		"COFFRE_SESSIONS_IDLE=10m",
		"COFFRE_SESSIONS_ABSOLUTE=1h",
		"COFFRE_SESSIONS_LOGIN_TOKEN=90s",
		"COFFRE_SESSIONS_STEP_UP=10m",
		"COFFRE_LIMITS_MAX_BODY_BYTES=2048",
		"COFFRE_LIMITS_REASON_MAX_LEN=64",
		"COFFRE_AUDIT_MAX_LAG=2m",
		"COFFRE_AUDIT_WITNESSES=http://w1.example/add, https://w2.example/add",
		"COFFRE_WEBAUTHN_RP_ID=coffre.test",
		"COFFRE_WEBAUTHN_ORIGINS=https://coffre.test, ,http://eu.coffre.test:9000",
		"COFFRE_PARTNERS_LISTEN=:9443",
		"COFFRE_PARTNERS_HOSTS=partners.coffre.test, ,10.0.0.5,fd00::5",
		"COFFRE_METRICS_LISTEN=127.0.0.1:9100",
		"COFFRE_METRICS_TOKEN=" + metricsToken,
	}
	defaultLogin := Login{MaxFailures: 10, FailureWindow: 24 * time.Hour, LockFor: time.Hour, PerOrigin: 30}
	wantAll := Config{
		Store:           "postgresql://coffre@pg/coffre",
		StoreMigrate:    "manual",
		LogFormat:       "text",
		Postgres:        Postgres{StatementTimeout: time.Minute, MaxConns: 100, MinConns: 10},
		Listen:          ":9000",
		DataDir:         "/srv/coffre",
		RootKeyFile:     "/run/secrets/root.key",
		SessionIdle:     10 * time.Minute,
		SessionAbsolute: time.Hour,
		LoginTokenTTL:   90 * time.Second,
		StepUpFor:       10 * time.Minute,
		MaxBodyBytes:    2048,
		ReasonMaxLen:    64,
		AuditMaxLag:     2 * time.Minute,
		AuditEpoch:      retention.Span{Years: 1},
		AuditWitnesses:  []string{"http://w1.example/add", "https://w2.example/add"},
		// rp_name and login are not in all (TestEveryKeyHasAnOverride has them).
		WebAuthn:   WebAuthn{RPID: "coffre.test", RPName: "Coffre", Origins: []string{"https://coffre.test", "http://eu.coffre.test:9000"}},
		Login:      defaultLogin,
		Partners:   Partners{Listen: ":9443", Hosts: []string{"partners.coffre.test", "10.0.0.5", "fd00::5"}},
		Metrics:    Metrics{Listen: "127.0.0.1:9100", Token: metricsToken},
		Notices:    Notices{ContactCoolingOff: 72 * time.Hour},
		Signin:     defaultSignin,
		Statistics: defaultStatistics,
		Retention:  defaultRetention,
	}
	defaults := Config{
		Store:           "sqlite:./coffre-data/coffre.db",
		StoreMigrate:    "auto",
		LogFormat:       "text",
		Postgres:        Postgres{StatementTimeout: 5 * time.Second, LockTimeout: 2 * time.Second},
		Listen:          "127.0.0.1:8080",
		DataDir:         "./coffre-data",
		RootKeyFile:     "./coffre-data/root.key",
		SessionIdle:     30 * time.Minute,
		SessionAbsolute: 12 * time.Hour,
		LoginTokenTTL:   5 * time.Minute,
		StepUpFor:       5 * time.Minute,
		MaxBodyBytes:    65536,
		ReasonMaxLen:    200,
		AuditMaxLag:     30 * time.Second,
		AuditEpoch:      retention.Span{Years: 1},
		WebAuthn:        WebAuthn{RPID: "localhost", RPName: "Coffre", Origins: []string{"http://localhost:8080", "http://127.0.0.1:8080"}},
		Login:           defaultLogin,
		Partners:        Partners{Hosts: []string{"localhost", "127.0.0.1"}},
		Notices:         Notices{ContactCoolingOff: 72 * time.Hour},
		Signin:          defaultSignin,
		Statistics:      defaultStatistics,
		Retention:       defaultRetention,
	}
	with := func(c Config, f func(*Config)) Config { f(&c); return c }
	const schema = "schema: [{name: x, type: text, sensitivity: identity}]\n"
	tests := []struct {
		name    string
		file    string // a fixture, or the configuration itself
		environ []string
		want    Config
	}{
		{"all over file", "testdata/valid.yaml", all, with(wantAll, func(c *Config) {
			c.WebAuthn.RPName = "Coffre (Example Corp)"
			c.WebAuthn.Attestation = Attestation{
				AAGUIDs: []uuid.UUID{uuid.MustParse("cb69481e-8ff7-4039-93ec-0a2729a154a8"), uuid.MustParse("ee882879-721c-4913-9775-3dfcce97072a")},
				Roots:   readPEM(t, "testdata/attestation_root.pem"),
			}
			c.Login = Login{MaxFailures: 5, FailureWindow: 30 * time.Minute, LockFor: 0, PerOrigin: 12}
			c.Notices.ContactCoolingOff = 48 * time.Hour
			c.Signin = validSignin
		})},
		{"all over defaults", "testdata/minimal.yaml", all, wantAll},
		{"data dir moves derived defaults", "testdata/minimal.yaml", []string{"COFFRE_DATA_DIR=/srv/coffre/"}, with(defaults, func(c *Config) {
			c.DataDir, c.Store, c.RootKeyFile = "/srv/coffre/", "sqlite:/srv/coffre/coffre.db", "/srv/coffre/root.key"
		})},
		{"empty is unset", "testdata/minimal.yaml", []string{"COFFRE_LISTEN=", "COFFRE_SESSIONS_IDLE="}, defaults},
		{"last wins", "testdata/minimal.yaml", []string{"COFFRE_LISTEN=:1", "COFFRE_LISTEN=:2"}, with(defaults, func(c *Config) { c.Listen = ":2" })},
		{"unset after set", "testdata/minimal.yaml", []string{"COFFRE_LISTEN=:1", "COFFRE_LISTEN="}, defaults},
		{"other variables ignored", "testdata/minimal.yaml", []string{"COFFRE_CONFIG=x.yaml", "COFFRE_SESIONS_IDLE=bad", "LISTEN=:1", "junk"}, defaults},
		{"env wins over a bad file value", "store: mysql://db\n" + schema, []string{"COFFRE_STORE=sqlite:/tmp/c.db"}, with(defaults, func(c *Config) { c.Store = "sqlite:/tmp/c.db" })},
		{"file idle, env absolute", "sessions: {idle: 1h}\n" + schema, []string{"COFFRE_SESSIONS_ABSOLUTE=1h"}, with(defaults, func(c *Config) { c.SessionIdle, c.SessionAbsolute = time.Hour, time.Hour })},
		{"env origins over a bad file list", "webauthn: {origins: []}\n" + schema, []string{"COFFRE_WEBAUTHN_ORIGINS=http://localhost:9000"}, with(defaults, func(c *Config) {
			c.WebAuthn.Origins = []string{"http://localhost:9000"}
		})},
		{"env rp_id, file origins", "webauthn: {origins: [\"https://a.coffre.test\"]}\n" + schema, []string{"COFFRE_WEBAUTHN_RP_ID=coffre.test"}, with(defaults, func(c *Config) {
			c.WebAuthn.RPID, c.WebAuthn.Origins = "coffre.test", []string{"https://a.coffre.test"}
		})},
		{"env step-up over file", "sessions: {step_up: 1m}\n" + schema, []string{"COFFRE_SESSIONS_STEP_UP=30s"}, with(defaults, func(c *Config) { c.StepUpFor = 30 * time.Second })},
		{"env partners over a bad file", "partners: {listen: nowhere, hosts: []}\n" + schema,
			[]string{"COFFRE_PARTNERS_LISTEN=127.0.0.1:7443", "COFFRE_PARTNERS_HOSTS=coffre.test"}, with(defaults, func(c *Config) {
				c.Partners = Partners{Listen: "127.0.0.1:7443", Hosts: []string{"coffre.test"}}
			})},
		{"env partners listen, file hosts", "partners: {hosts: [a.coffre.test]}\n" + schema, []string{"COFFRE_PARTNERS_LISTEN=[::1]:7443"}, with(defaults, func(c *Config) {
			c.Partners = Partners{Listen: "[::1]:7443", Hosts: []string{"a.coffre.test"}}
		})},
		{"empty partners listen is unset", "partners: {listen: 127.0.0.1:7443}\n" + schema, []string{"COFFRE_PARTNERS_LISTEN="}, with(defaults, func(c *Config) {
			c.Partners.Listen = "127.0.0.1:7443"
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cfg *Config
			var err error
			if strings.HasPrefix(tt.file, "testdata/") {
				cfg, err = Load(tt.file, tt.environ)
			} else {
				cfg, err = Parse("inline.yaml", []byte(tt.file), tt.environ)
			}
			if err != nil {
				t.Fatalf("Load(%q, %q): %v", tt.file, tt.environ, err)
			}
			got := *cfg
			got.Settings = nil // TestSettings
			got.Source, got.Policy, got.Guard, got.Notices, got.Rights = "", nil, Guard{}, Notices{ContactCoolingOff: got.Notices.ContactCoolingOff}, Rights{}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Load(%q, %q)\n got %+v\nwant %+v", tt.file, tt.environ, got, tt.want)
			}
		})
	}

	cfg, err := Demo([]string{"COFFRE_LISTEN=0.0.0.0:8080", "COFFRE_PARTNERS_LISTEN=0.0.0.0:9443"})
	if err != nil {
		t.Fatalf("Demo with COFFRE_LISTEN and COFFRE_PARTNERS_LISTEN: %v", err)
	}
	if cfg.Listen != "0.0.0.0:8080" || cfg.Partners.Listen != "0.0.0.0:9443" {
		t.Errorf("Demo with COFFRE_LISTEN and COFFRE_PARTNERS_LISTEN: Listen = %q, Partners.Listen = %q; want %q, %q",
			cfg.Listen, cfg.Partners.Listen, "0.0.0.0:8080", "0.0.0.0:9443")
	}
	// The demo's partners listener has port 8443: the HTTP listener cannot
	// take it on every address too.
	_, err = Demo([]string{"COFFRE_LISTEN=0.0.0.0:8443"})
	const clash = `partners.listen: address "127.0.0.1:8443" is taken by listen ("0.0.0.0:8443")`
	if err == nil || !strings.Contains(err.Error(), clash) {
		t.Errorf("Demo with COFFRE_LISTEN=0.0.0.0:8443 = %v, want a problem %q", err, clash)
	}
}

func TestEnvironmentErrors(t *testing.T) {
	tests := []struct {
		env  string
		want string
	}{
		{"COFFRE_SESSIONS_IDLE=soon", `environment: COFFRE_SESSIONS_IDLE: invalid duration "soon"`},
		{"COFFRE_SESSIONS_IDLE=-1m", `environment: COFFRE_SESSIONS_IDLE: must be a positive duration`},
		{"COFFRE_SESSIONS_IDLE=13h", `environment: COFFRE_SESSIONS_IDLE: sessions.absolute (12h0m0s) must be at least sessions.idle (13h0m0s)`},
		{"COFFRE_SESSIONS_ABSOLUTE=1m", `environment: COFFRE_SESSIONS_ABSOLUTE: sessions.absolute (1m0s) must be at least sessions.idle (30m0s)`},
		{"COFFRE_SESSIONS_LOGIN_TOKEN=0s", `environment: COFFRE_SESSIONS_LOGIN_TOKEN: must be a positive duration, got 0s`},
		{"COFFRE_LIMITS_MAX_BODY_BYTES=lots", `environment: COFFRE_LIMITS_MAX_BODY_BYTES: invalid integer "lots"`},
		{"COFFRE_LIMITS_MAX_BODY_BYTES=99999999", `environment: COFFRE_LIMITS_MAX_BODY_BYTES: must be between 1024 (1 KiB) and 16777216 (16 MiB), got 99999999`},
		{"COFFRE_LIMITS_REASON_MAX_LEN=0", `environment: COFFRE_LIMITS_REASON_MAX_LEN: must be between 1 and 4096, got 0`},
		{"COFFRE_LIMITS_REASON_MAX_LEN=1e3", `environment: COFFRE_LIMITS_REASON_MAX_LEN: invalid integer "1e3"`},
		{"COFFRE_STORE=mysql://coffre:hunter2@db/coffre", `environment: COFFRE_STORE: want "sqlite:PATH" or a "postgres://" or "postgresql://" URL`},
		{"COFFRE_LISTEN=8080", `environment: COFFRE_LISTEN: want host:port, as in 127.0.0.1:8080, got "8080"`},
		{"COFFRE_LISTEN=:http", `environment: COFFRE_LISTEN: invalid port "http"`},
		{"COFFRE_SESSIONS_STEP_UP=soon", `environment: COFFRE_SESSIONS_STEP_UP: invalid duration "soon"`},
		{"COFFRE_SESSIONS_STEP_UP=2h", `environment: COFFRE_SESSIONS_STEP_UP: must be between 30s and 1h0m0s, got 2h0m0s`},
		{"COFFRE_WEBAUTHN_RP_ID=https://coffre.test", `environment: COFFRE_WEBAUTHN_RP_ID: want a lower-case host name such as coffre.example.org, without scheme, port or path, got "https://coffre.test" (did you mean "coffre.test"?)`},
		{"COFFRE_WEBAUTHN_RP_ID=coffre.test", `environment: COFFRE_WEBAUTHN_RP_ID: the default origins (http://localhost:8080, http://127.0.0.1:8080) are not on "coffre.test": set webauthn.origins too`},
		{"COFFRE_WEBAUTHN_ORIGINS=https://coffre.test", `environment: COFFRE_WEBAUTHN_ORIGINS: origin "https://coffre.test" is not on "localhost" or one of its subdomains`},
		{"COFFRE_WEBAUTHN_ORIGINS=http://localhost:8080/", `environment: COFFRE_WEBAUTHN_ORIGINS: origin "http://localhost:8080/" is not written as browsers send it: did you mean "http://localhost:8080"?`},
		{"COFFRE_WEBAUTHN_ORIGINS= , ", `environment: COFFRE_WEBAUTHN_ORIGINS: want at least one origin, such as http://localhost:8080`},
		{"COFFRE_WEBAUTHN_ORIGINS=http://[::1]:8080,http://localhost", ""}, // fine
		{"COFFRE_DATA_DIR=/srv/c", ""}, // fine
		{"COFFRE_PARTNERS_LISTEN=8443", `environment: COFFRE_PARTNERS_LISTEN: want host:port, as in 127.0.0.1:8443, got "8443" (leave listen out to disable partner access)`},
		{"COFFRE_PARTNERS_LISTEN=:0", `environment: COFFRE_PARTNERS_LISTEN: invalid port "0": want a number from 1 to 65535`},
		{"COFFRE_PARTNERS_LISTEN=:8080", `environment: COFFRE_PARTNERS_LISTEN: address ":8080" is taken by listen ("127.0.0.1:8080"): give partners a port of their own`},
		{"COFFRE_PARTNERS_HOSTS=localhost,https://coffre.test", `environment: COFFRE_PARTNERS_HOSTS: want a lower-case host name such as partners.example.org or an IP address, without scheme, port or path, got "https://coffre.test" (did you mean "coffre.test"?)`},
		{"COFFRE_PARTNERS_HOSTS=localhost, localhost", `environment: COFFRE_PARTNERS_HOSTS: "localhost" listed twice`},
		{"COFFRE_PARTNERS_HOSTS=,", `environment: COFFRE_PARTNERS_HOSTS: want at least one host name or IP address, such as localhost (leave hosts out for localhost, 127.0.0.1)`},
		{"COFFRE_METRICS_LISTEN=9090", `environment: COFFRE_METRICS_LISTEN: want host:port, as in 127.0.0.1:9090, got "9090" (leave listen out to serve /metrics on listen)`},
		{"COFFRE_METRICS_LISTEN=127.0.0.1:8080", `environment: COFFRE_METRICS_LISTEN: address "127.0.0.1:8080" is taken by listen ("127.0.0.1:8080"): give metrics a port of their own`},
		{"COFFRE_METRICS_TOKEN=hunter2", `environment: COFFRE_METRICS_TOKEN: too short (7 characters): want at least 32`},
		{"COFFRE_METRICS_TOKEN=" + metricsToken[:31] + "é", `environment: COFFRE_METRICS_TOKEN: want visible ASCII characters only, without spaces (the token is not shown)`},
		{"COFFRE_METRICS_LISTEN=127.0.0.1:8081", ""},  // fine
		{"COFFRE_METRICS_TOKEN=" + metricsToken, ""},  // fine
		{"COFFRE_PARTNERS_LISTEN=127.0.0.1:8443", ""}, // fine
		{"COFFRE_PARTNERS_HOSTS=::1", ""},             // fine
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			_, err := Load("testdata/minimal.yaml", []string{tt.env})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Load with %s: %v", tt.env, err)
				}
				return
			}
			var cerr *Error
			if !errors.As(err, &cerr) || len(cerr.Problems) != 1 {
				t.Fatalf("Load with %s = %v, want one problem", tt.env, err)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("Load with %s = %q, want prefix %q", tt.env, err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q shows the store password", err)
			}
		})
	}
}

func TestProblemString(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{File: "coffre.yaml", Line: 12, Key: "sessions.idle", Message: "bad"}, "coffre.yaml:12: sessions.idle: bad"},
		{Problem{File: "coffre.yaml", Line: 12, Message: `unknown key "sesions"`}, `coffre.yaml:12: unknown key "sesions"`},
		{Problem{File: "environment", Key: "COFFRE_LISTEN", Message: "bad"}, "environment: COFFRE_LISTEN: bad"},
		{Problem{File: "f", Line: 1, Key: "k", Message: "two\nlines"}, `f:1: k: two\nlines`},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.p, got, tt.want)
		}
	}
	err := &Error{Problems: []Problem{tests[0].p, tests[2].p}}
	if got, want := err.Error(), tests[0].want+"\n"+tests[2].want; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestLoadErrors(t *testing.T) {
	_, err := Load("testdata/no-such-file.yaml", nil)
	var cerr *Error
	if !errors.Is(err, fs.ErrNotExist) || errors.As(err, &cerr) {
		t.Errorf("Load(missing file) = %v, want a wrapped fs.ErrNotExist", err)
	}

	big := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(big, []byte(strings.Repeat("#", maxFileSize+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(big, nil)
	if want := big + ": file is larger than"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Load(big file) = %v, want prefix %q", err, want)
	}

	for _, data := range []string{"", "# only a comment\n", "~\n"} {
		_, err := Parse("empty.yaml", []byte(data), nil)
		if want := "empty.yaml:1: schema: missing required key"; err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want prefix %q", data, err, want)
		}
	}
}

func TestSuggestion(t *testing.T) {
	tests := []struct {
		s    string
		want string
	}{
		{"sesions", "sessions"},
		{"idel", "idle"},
		{"lokup", "lookup"},
		{"Schema", "schema"},
		{"x", ""},
		{"purposes-and-more", ""},
	}
	for _, tt := range tests {
		want := ""
		if tt.want != "" {
			want = fmt.Sprintf(" (did you mean %q?)", tt.want)
		}
		options := slices.Concat(topKeys, sessionKeys, fieldKeys)
		if got := suggestion(tt.s, options); got != want {
			t.Errorf("suggestion(%q) = %q, want %q", tt.s, got, want)
		}
	}
}

func TestGuardDemo(t *testing.T) {
	cfg, err := Demo(nil)
	if err != nil {
		t.Fatalf("Demo(nil): %v", err)
	}
	caseworker := guard.Limits{
		Rate: 1, Burst: 20, SubjectsPerHour: 30, SubjectsPerDay: 100, OutOfCaseloadPerDay: 6, OutOfUnitPerDay: 2,
		UntrustedPerDay: 5, LookupsPerHour: 40, MissesPerHour: 8, VelocitySubjects: 12, VelocityWindow: 10 * time.Minute,
		EnumerationRun: 10, Hours: mustHours(t, "mon-fri 07:00-20:00"), HardMargin: 5,
		CreatesPerDay: 20, UpdatesPerHour: 20, UpdatesPerDay: 60, ErasuresPerDay: 2, AssignmentsPerDay: 200,
		OperatorsPerDay: 3, RolesPerDay: 5, FactorResetsPerDay: 3, PartnersPerDay: 1, AdminBurstPerHour: 5, BreakGlassPerDay: 2, // built-in defaults
	}
	hr := caseworker
	hr.SubjectsPerHour, hr.SubjectsPerDay, hr.OutOfCaseloadPerDay = 40, 150, 10
	hr.CreatesPerDay, hr.UpdatesPerHour, hr.UpdatesPerDay, hr.ErasuresPerDay, hr.BreakGlassPerDay = 30, 30, 100, 3, 1
	supervisor := caseworker
	supervisor.SubjectsPerHour, supervisor.SubjectsPerDay, supervisor.OutOfCaseloadPerDay, supervisor.OutOfUnitPerDay = 40, 120, 15, 3
	supervisor.CreatesPerDay, supervisor.UpdatesPerHour, supervisor.UpdatesPerDay = 50, 30, 100 // built-in defaults
	supervisor.AssignmentsPerDay = 300
	support := guard.Limits{
		AllUnits: true, Rate: 2, Burst: 30, SubjectsPerHour: 60, SubjectsPerDay: 250,
		OutOfCaseloadPerDay: 20, OutOfUnitPerDay: 5, // built-in defaults
		UntrustedPerDay: 5, LookupsPerHour: 90, MissesPerHour: 20, VelocitySubjects: 20, VelocityWindow: 10 * time.Minute,
		EnumerationRun: 10, Hours: mustHours(t, "mon-sat 07:00-21:00"), HardMargin: 8,
		CreatesPerDay: 50, UpdatesPerHour: 30, UpdatesPerDay: 100, ErasuresPerDay: 2, AssignmentsPerDay: 200, // built-in defaults
		OperatorsPerDay: 3, RolesPerDay: 5, FactorResetsPerDay: 3, PartnersPerDay: 1, AdminBurstPerHour: 5, BreakGlassPerDay: 2,
	}
	partner := guard.Limits{
		Rate: 2, Burst: 10, SubjectsPerHour: 20, SubjectsPerDay: 60, OutOfCaseloadPerDay: 10, OutOfUnitPerDay: 2,
		UntrustedPerDay: 60, LookupsPerHour: 30, MissesPerHour: 6, VelocitySubjects: 8, VelocityWindow: 10 * time.Minute,
		EnumerationRun: 10, Hours: mustHours(t, "mon-sat 07:00-21:00"), HardMargin: 4,
		CreatesPerDay: 50, UpdatesPerHour: 30, UpdatesPerDay: 100, ErasuresPerDay: 2, AssignmentsPerDay: 200, // built-in defaults
		OperatorsPerDay: 3, RolesPerDay: 5, FactorResetsPerDay: 3, PartnersPerDay: 1, AdminBurstPerHour: 5, BreakGlassPerDay: 2,
	}
	admin := guard.Limits{
		Rate: 1, Burst: 10, SubjectsPerHour: 60, SubjectsPerDay: 200, OutOfCaseloadPerDay: 20, OutOfUnitPerDay: 5, // built-in defaults
		UntrustedPerDay: 10, LookupsPerHour: 60, MissesPerHour: 15, VelocitySubjects: 20, VelocityWindow: 10 * time.Minute,
		EnumerationRun: 10, CreatesPerDay: 50, UpdatesPerHour: 30, UpdatesPerDay: 100, ErasuresPerDay: 2, AssignmentsPerDay: 200,
		OperatorsPerDay: 3, RolesPerDay: 5, FactorResetsPerDay: 3, PartnersPerDay: 1, AdminBurstPerHour: 5, BreakGlassPerDay: 2,
		Hours: mustHours(t, "mon-fri 07:00-20:00"), HardMargin: 3,
	}
	dpo := guard.Limits{
		AllUnits: true, Rate: 1, Burst: 10, SubjectsPerHour: 15, SubjectsPerDay: 40,
		OutOfCaseloadPerDay: 20, OutOfUnitPerDay: 5, LookupsPerHour: 60, CreatesPerDay: 50, AssignmentsPerDay: 200, // built-in defaults
		OperatorsPerDay: 3, RolesPerDay: 5, FactorResetsPerDay: 3, PartnersPerDay: 1, AdminBurstPerHour: 5, BreakGlassPerDay: 2,
		UntrustedPerDay: 5, MissesPerHour: 5, VelocitySubjects: 8, VelocityWindow: 10 * time.Minute, EnumerationRun: 10,
		UpdatesPerHour: 15, UpdatesPerDay: 40, ErasuresPerDay: 5, Hours: mustHours(t, "mon-fri 07:00-20:00"), HardMargin: 5,
	}
	// A stats query is an access: the analyst's rate, hours and margin.
	analyst := admin
	analyst.Rate, analyst.Burst, analyst.HardMargin = 1, 5, 5
	analyst.OperatorsPerDay, analyst.RolesPerDay, analyst.FactorResetsPerDay, analyst.PartnersPerDay, analyst.AdminBurstPerHour = 3, 5, 3, 1, 5
	// The roles that neither reach people nor administer (security-officer,
	// auditor) have no entry.
	checkGuard(t, cfg.Guard, "Europe/Paris", Guard{
		TwoApproversOver: 500, ApproverMinAge: 7 * 24 * time.Hour,
		TrustedNetworks: prefixes(t, "127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"),
		Roles: map[string]guard.Limits{
			"caseworker": caseworker, "hr-officer": hr, "supervisor": supervisor, "support": support, "partner": partner, "admin": admin, "dpo": dpo,
			"analyst": analyst,
		},
	})
}

// guardBase declares roles clerk and boss, which read records, and auditor,
// which does not; the guard section follows from line 4.
const guardBase = "schema: [{name: x, type: text, sensitivity: identity}]\n" +
	"purposes: {p: {fields: {x: clear}}}\n" +
	"roles: {clerk: {purposes: [p]}, boss: {purposes: [p]}, auditor: {permissions: [audit]}}\n"

func TestGuardLimits(t *testing.T) {
	builtin := guard.Limits{
		Rate: 2, Burst: 30, SubjectsPerHour: 60, SubjectsPerDay: 200, OutOfCaseloadPerDay: 20, OutOfUnitPerDay: 5,
		UntrustedPerDay: 10, LookupsPerHour: 60, MissesPerHour: 15, VelocitySubjects: 20, VelocityWindow: 10 * time.Minute,
		EnumerationRun: 10, HardMargin: 10, CreatesPerDay: 50, UpdatesPerHour: 30, UpdatesPerDay: 100, ErasuresPerDay: 2,
		OperatorsPerDay: 3, RolesPerDay: 5, FactorResetsPerDay: 3, PartnersPerDay: 1, AdminBurstPerHour: 5, AssignmentsPerDay: 200, BreakGlassPerDay: 2,
	}
	with := func(f func(*guard.Limits)) guard.Limits { l := builtin; f(&l); return l }
	nineToFive := mustHours(t, "mon-fri 09:00-17:00")
	tests := []struct {
		name        string
		guard       string
		clerk, boss guard.Limits
	}{
		{"no guard", "", builtin, builtin},
		{"null guard", "guard: ~\n", builtin, builtin},
		{"null roles", "guard: {defaults: ~, roles: ~}\n", builtin, builtin},
		{
			"defaults over built-ins",
			"guard:\n  defaults: {subjects_per_day: 7, hours: mon-fri 09:00-17:00, all_units: true}\n",
			with(func(l *guard.Limits) { l.SubjectsPerDay, l.Hours, l.AllUnits = 7, nineToFive, true }),
			with(func(l *guard.Limits) { l.SubjectsPerDay, l.Hours, l.AllUnits = 7, nineToFive, true }),
		},
		{
			"role over defaults over built-ins",
			"guard:\n  defaults: {subjects_per_day: 7, lookups_per_hour: 3}\n  roles:\n    clerk: {subjects_per_day: 9, misses_per_hour: 4}\n",
			with(func(l *guard.Limits) { l.SubjectsPerDay, l.LookupsPerHour, l.MissesPerHour = 9, 3, 4 }),
			with(func(l *guard.Limits) { l.SubjectsPerDay, l.LookupsPerHour = 7, 3 }),
		},
		{
			"role turns off what defaults set",
			"guard:\n  defaults: {hours: mon-fri 09:00-17:00, hard_margin: 3}\n  roles:\n    clerk:\n" +
				"      rate: off\n      velocity: off\n      enumeration_run: 0\n      hours: always\n      hard_margin: 0\n      subjects_per_hour: 0\n",
			with(func(l *guard.Limits) {
				l.Rate, l.Burst, l.VelocitySubjects, l.VelocityWindow, l.EnumerationRun, l.HardMargin, l.SubjectsPerHour = 0, 0, 0, 0, 0, 0, 0
			}),
			with(func(l *guard.Limits) { l.Hours, l.HardMargin = nineToFive, 3 }),
		},
		{
			"zero rate and velocity",
			"guard:\n  roles:\n    clerk: {rate: 0, velocity: {subjects: 0}}\n",
			with(func(l *guard.Limits) { l.Rate, l.Burst, l.VelocitySubjects, l.VelocityWindow = 0, 0, 0, 0 }),
			builtin,
		},
		{
			"fractional rate, whole velocity",
			"guard:\n  roles:\n    boss: {rate: {per_second: 0.25, burst: 1.5}, velocity: {subjects: 63, window: 24h}}\n",
			builtin,
			with(func(l *guard.Limits) {
				l.Rate, l.Burst, l.VelocitySubjects, l.VelocityWindow = 0.25, 1.5, 63, 24*time.Hour
			}),
		},
		{
			"null role entry takes the defaults",
			"guard:\n  defaults: {out_of_unit_per_day: 1}\n  roles:\n    clerk:\n",
			with(func(l *guard.Limits) { l.OutOfUnitPerDay = 1 }),
			with(func(l *guard.Limits) { l.OutOfUnitPerDay = 1 }),
		},
		{
			"largest values",
			"guard:\n  roles:\n    clerk: {subjects_per_day: 10000000, enumeration_run: 1000, rate: {per_second: 10000000, burst: 1}}\n",
			with(func(l *guard.Limits) {
				l.SubjectsPerDay, l.EnumerationRun, l.Rate, l.Burst = 10_000_000, 1000, 10_000_000, 1
			}),
			builtin,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("inline.yaml", []byte(guardBase+tt.guard), nil)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			want := map[string]guard.Limits{"clerk": tt.clerk, "boss": tt.boss}
			if !reflect.DeepEqual(cfg.Guard.Roles, want) {
				t.Errorf("roles\n got %+v\nwant %+v", cfg.Guard.Roles, want)
			}
		})
	}
}

func TestGuardNetworks(t *testing.T) {
	tests := []struct {
		guard                   string
		location                string
		trusted, trustedProxies []netip.Prefix
	}{
		{"guard: {timezone: UTC, trusted_networks: [], trusted_proxies: [\"::1/128\"]}\n", "UTC", nil, prefixes(t, "::1/128")},
		{"guard: {timezone: Asia/Tokyo, trusted_networks: [\"2001:db8::/32\", 0.0.0.0/0]}\n", "Asia/Tokyo", prefixes(t, "2001:db8::/32", "0.0.0.0/0"), nil},
	}
	for _, tt := range tests {
		cfg, err := Parse("inline.yaml", []byte(guardBase+tt.guard), nil)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.guard, err)
			continue
		}
		g := cfg.Guard
		if g.Location.String() != tt.location || !reflect.DeepEqual(g.TrustedNetworks, tt.trusted) || !reflect.DeepEqual(g.TrustedProxies, tt.trustedProxies) {
			t.Errorf("Parse(%q) = %v %v %v, want %v %v %v", tt.guard, g.Location, g.TrustedNetworks, g.TrustedProxies, tt.location, tt.trusted, tt.trustedProxies)
		}
	}
}

// TestGuardErrors checks that each bad guard value gives exactly one
// problem, on its line and key.
func TestGuardErrors(t *testing.T) {
	const role = "guard:\n  roles:\n    clerk:\n      " // the value is on line 7
	tests := []struct {
		guard string
		want  string
	}{
		{"guard: 5\n", `inline.yaml:4: guard: want a mapping, got the number "5"`},
		{"guard: {timezon: UTC}\n", `inline.yaml:4: guard: unknown key "timezon" (did you mean "timezone"?)`},
		{"guard:\n  timezone: Mars/Olympus_Mons\n", `inline.yaml:5: guard.timezone: unknown time zone "Mars/Olympus_Mons": want an IANA time zone name`},
		{"guard:\n  timezone: Local\n", `inline.yaml:5: guard.timezone: want an IANA time zone name such as Europe/Paris or UTC, got "Local"`},
		{"guard:\n  timezone: \"\"\n", `inline.yaml:5: guard.timezone: want an IANA time zone name such as Europe/Paris or UTC, got ""`},
		{"guard:\n  timezone: 1\n", `inline.yaml:5: guard.timezone: want a string, got the number "1"`},
		{"guard:\n  trusted_networks: [10.0.0.0/33]\n", `inline.yaml:5: guard.trusted_networks: invalid network "10.0.0.0/33": want CIDR notation`},
		{"guard:\n  trusted_networks: [\"::1\"]\n", `inline.yaml:5: guard.trusted_networks: invalid network "::1": want CIDR notation such as 10.0.0.0/8 or fd00::/8 (for one address, write ::1/128)`},
		{"guard:\n  trusted_networks:\n    - 10.0.0.0/8\n    - office\n", `inline.yaml:7: guard.trusted_networks: invalid network "office"`},
		{"guard:\n  trusted_networks: [10.1.0.0/8]\n", `inline.yaml:5: guard.trusted_networks: network "10.1.0.0/8" has address bits set beyond its /8 prefix: did you mean 10.0.0.0/8?`},
		{"guard:\n  trusted_networks: [[10.0.0.0/8]]\n", `inline.yaml:5: guard.trusted_networks[0]: want a string, got a list`},
		{"guard:\n  trusted_proxies: [10.0.0.1/32, 10.0.0.1/32]\n", `inline.yaml:5: guard.trusted_proxies: "10.0.0.1/32" listed twice`},
		{"guard:\n  trusted_proxies: {a: 1}\n", `inline.yaml:5: guard.trusted_proxies: want a list, got a mapping`},
		{"guard:\n  defaults: [clerk]\n", `inline.yaml:5: guard.defaults: want a mapping, got a list`},
		{"guard:\n  defaults:\n    subjects_per_hour: -1\n", `inline.yaml:6: guard.defaults.subjects_per_hour: must be between 0 (no limit) and 10000000, got -1`},
		{"guard:\n  roles: [clerk]\n", `inline.yaml:5: guard.roles: want a mapping, got a list`},
		{"guard:\n  roles:\n    clerc: {}\n", `inline.yaml:6: guard.roles.clerc: unknown role "clerc" (did you mean "clerk"?)`},
		{"guard:\n  roles:\n    Clerk: {}\n", `inline.yaml:6: guard.roles.Clerk: unknown role "Clerk" (did you mean "clerk"?)`},
		{"guard:\n  roles:\n    auditor: {}\n", `inline.yaml:6: guard.roles.auditor: role "auditor" has no purposes`},
		{"guard:\n  roles:\n    clerk: 3\n", `inline.yaml:6: guard.roles.clerk: want a mapping, got the number "3"`},
		{"guard:\n  roles:\n    clerk: {}\n    clerk: {}\n", `inline.yaml:7: guard.roles.clerk: key given twice (first at line 6)`},
		{role + "subjects_per_day: 10000001", `inline.yaml:7: guard.roles.clerk.subjects_per_day: must be between 0 (no limit) and 10000000, got 10000001`},
		{role + "out_of_caseload_per_day: -3", `inline.yaml:7: guard.roles.clerk.out_of_caseload_per_day: must be between 0 (no limit) and 10000000, got -3`},
		{role + "out_of_unit_per_day: 99999999999999999999", `inline.yaml:7: guard.roles.clerk.out_of_unit_per_day: want an integer`},
		{role + "untrusted_origin_per_day: ten", `inline.yaml:7: guard.roles.clerk.untrusted_origin_per_day: want an integer, got the string "ten"`},
		{role + "lookups_per_hour: 1.5", `inline.yaml:7: guard.roles.clerk.lookups_per_hour: want an integer, got the number "1.5"`},
		{role + "misses_per_hour: -1", `inline.yaml:7: guard.roles.clerk.misses_per_hour: must be between 0 (no limit)`},
		{role + "hard_margin: -1", `inline.yaml:7: guard.roles.clerk.hard_margin: must be between 0 (off) and 10000000, got -1`},
		{role + "all_units: 1", `inline.yaml:7: guard.roles.clerk.all_units: want true or false, got the number "1"`},
		{role + "enumeration_run: 2", `inline.yaml:7: guard.roles.clerk.enumeration_run: must be 0 (off) or between 3 and 1000, got 2`},
		{role + "enumeration_run: 1001", `inline.yaml:7: guard.roles.clerk.enumeration_run: must be 0 (off) or between 3 and 1000, got 1001`},
		{role + "hours: weekdays 09:00-17:00", `inline.yaml:7: guard.roles.clerk.hours: invalid hours "weekdays 09:00-17:00": unknown day in "weekdays"`},
		{role + "hours: mon-fri 9-17", `inline.yaml:7: guard.roles.clerk.hours: invalid hours "mon-fri 9-17": time "9": want HH:MM`},
		{role + "hours: [mon]", `inline.yaml:7: guard.roles.clerk.hours: want a string, got a list`},
		{role + "rate: 2", `inline.yaml:7: guard.roles.clerk.rate: want {per_second: N, burst: N}, or off for no rate limit, got the number "2"`},
		{role + "rate: {per_second: 0, burst: 5}", `inline.yaml:7: guard.roles.clerk.rate.per_second: must be more than 0 and at most 10000000, got 0 (write rate: off for no rate limit)`},
		{role + "rate: {per_second: -1, burst: 5}", `inline.yaml:7: guard.roles.clerk.rate.per_second: must be more than 0`},
		{role + "rate: {per_second: 2e7, burst: 5}", `inline.yaml:7: guard.roles.clerk.rate.per_second: must be more than 0 and at most 10000000, got 2e+07`},
		{role + "rate: {per_second: 1, burst: 0.5}", `inline.yaml:7: guard.roles.clerk.rate.burst: must be between 1 and 10000000, got 0.5`},
		{role + "rate: {per_second: .nan, burst: 5}", `inline.yaml:7: guard.roles.clerk.rate.per_second: want a finite number, got ".nan"`},
		{role + "rate: {per_second: fast, burst: 5}", `inline.yaml:7: guard.roles.clerk.rate.per_second: want a number, got the string "fast"`},
		{role + "rate: {per_second: 1}", `inline.yaml:7: guard.roles.clerk.rate: missing required key "burst"`},
		{role + "rate: {per_second: 1, burst: 2, refill: 3}", `inline.yaml:7: guard.roles.clerk.rate: unknown key "refill"`},
		{role + "velocity: 12", `inline.yaml:7: guard.roles.clerk.velocity: want {subjects: N, window: DURATION}, or off, got the number "12"`},
		{role + "velocity: {subjects: 64, window: 10m}", `inline.yaml:7: guard.roles.clerk.velocity.subjects: must be between 0 (off) and 63, got 64`},
		{role + "velocity: {subjects: 5}", `inline.yaml:7: guard.roles.clerk.velocity: missing required key "window"`},
		{role + "velocity: {window: 5m}", `inline.yaml:7: guard.roles.clerk.velocity: missing required key "subjects"`},
		{role + "velocity: {subjects: 5, window: 0s}", `inline.yaml:7: guard.roles.clerk.velocity.window: must be a positive duration of at most 24h0m0s, got 0s`},
		{role + "velocity: {subjects: 5, window: 25h}", `inline.yaml:7: guard.roles.clerk.velocity.window: must be a positive duration of at most 24h0m0s, got 25h0m0s`},
		{role + "velocity: {subjects: 5, window: soon}", `inline.yaml:7: guard.roles.clerk.velocity.window: invalid duration "soon"`},
		{role + "subject_per_day: 3", `inline.yaml:7: guard.roles.clerk: unknown key "subject_per_day" (did you mean "subjects_per_day"?)`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			_, err := Parse("inline.yaml", []byte(guardBase+tt.guard+"\n"), nil)
			var cerr *Error
			if !errors.As(err, &cerr) || len(cerr.Problems) != 1 {
				t.Fatalf("Parse(%q) = %v, want one problem", tt.guard, err)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("Parse(%q) = %q, want prefix %q", tt.guard, err, tt.want)
			}
		})
	}
}

// oneField is a schema on line 1; the keys under test follow from line 2.
const oneField = "schema: [{name: x, type: text, sensitivity: identity}]\n"

// metricsToken is a metrics token of the shortest length allowed.
const metricsToken = "0123456789abcdefghijklmnopqrstuv"

func TestStepUpAndLogin(t *testing.T) {
	defaults := Login{MaxFailures: 10, FailureWindow: 24 * time.Hour, LockFor: time.Hour, PerOrigin: 30}
	with := func(f func(*Login)) Login { l := defaults; f(&l); return l }
	tests := []struct {
		yaml   string
		stepUp time.Duration
		login  Login
	}{
		{"", 5 * time.Minute, defaults},
		{"sessions: {step_up: 30s}\n", 30 * time.Second, defaults},
		{"sessions: {step_up: 1h}\n", time.Hour, defaults},
		{"login: ~\n", 5 * time.Minute, defaults},
		{"login: {max_failures: 1, failure_window: 1m, lock_for: 1m, per_origin_per_minute: 1}\n", 5 * time.Minute,
			Login{MaxFailures: 1, FailureWindow: time.Minute, LockFor: time.Minute, PerOrigin: 1}},
		{"login: {max_failures: 1000, failure_window: 24h, lock_for: 720h, per_origin_per_minute: 100000}\n", 5 * time.Minute,
			Login{MaxFailures: 1000, FailureWindow: 24 * time.Hour, LockFor: 720 * time.Hour, PerOrigin: 100000}},
		{"login: {lock_for: 0}\n", 5 * time.Minute, with(func(l *Login) { l.LockFor = 0 })},
		{"login: {lock_for: \"0\"}\n", 5 * time.Minute, with(func(l *Login) { l.LockFor = 0 })},
		{"login: {lock_for: 0s}\n", 5 * time.Minute, with(func(l *Login) { l.LockFor = 0 })},
		{"login: {failure_window: 1h30m}\n", 5 * time.Minute, with(func(l *Login) { l.FailureWindow = 90 * time.Minute })},
		{"login: {disable_after: 90d}\n", 5 * time.Minute, with(func(l *Login) { l.DisableAfter = 90 * 24 * time.Hour })},
		{"login: {disable_after: 1d}\n", 5 * time.Minute, with(func(l *Login) { l.DisableAfter = 24 * time.Hour })},
		{"login: {disable_after: 3650d}\n", 5 * time.Minute, with(func(l *Login) { l.DisableAfter = 3650 * 24 * time.Hour })},
		{"login: {disable_after: 2160h}\n", 5 * time.Minute, with(func(l *Login) { l.DisableAfter = 90 * 24 * time.Hour })},
		{"login: {disable_after: 0}\n", 5 * time.Minute, defaults},
		{"login: {disable_after: 0d}\n", 5 * time.Minute, defaults},
	}
	for _, tt := range tests {
		cfg, err := Parse("inline.yaml", []byte(oneField+tt.yaml), nil)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.yaml, err)
			continue
		}
		if cfg.StepUpFor != tt.stepUp || cfg.Login != tt.login {
			t.Errorf("Parse(%q) = step-up %v, login %+v; want %v, %+v", tt.yaml, cfg.StepUpFor, cfg.Login, tt.stepUp, tt.login)
		}
	}
}

func TestWebAuthn(t *testing.T) {
	local := []string{"http://localhost:8080", "http://127.0.0.1:8080"}
	tests := []struct {
		yaml string
		want WebAuthn
	}{
		{"", WebAuthn{"localhost", "Coffre", local, Attestation{}}},
		{"webauthn: ~\n", WebAuthn{"localhost", "Coffre", local, Attestation{}}},
		{"webauthn: {rp_id: localhost, rp_name: Vault}\n", WebAuthn{"localhost", "Vault", local, Attestation{}}},
		{"webauthn: {origins: [\"http://[::1]:3000\", \"http://127.0.0.1\", \"https://localhost\", \"http://app.localhost:8080\"]}\n",
			WebAuthn{"localhost", "Coffre", []string{"http://[::1]:3000", "http://127.0.0.1", "https://localhost", "http://app.localhost:8080"}, Attestation{}}},
		{"webauthn:\n  rp_id: example.org\n  origins:\n    - https://example.org\n    - https://coffre.eu.example.org:8443\n    - http://example.org:8080\n",
			WebAuthn{"example.org", "Coffre", []string{"https://example.org", "https://coffre.eu.example.org:8443", "http://example.org:8080"}, Attestation{}}},
		{"webauthn: {rp_id: xn--caf-dma.test, origins: [\"https://xn--caf-dma.test\"]}\n",
			WebAuthn{"xn--caf-dma.test", "Coffre", []string{"https://xn--caf-dma.test"}, Attestation{}}},
	}
	for _, tt := range tests {
		cfg, err := Parse("inline.yaml", []byte(oneField+tt.yaml), nil)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.yaml, err)
			continue
		}
		if !reflect.DeepEqual(cfg.WebAuthn, tt.want) {
			t.Errorf("Parse(%q).WebAuthn = %+v, want %+v", tt.yaml, cfg.WebAuthn, tt.want)
		}
	}

	// The default origins are fresh for each configuration.
	a, _ := Parse("a.yaml", []byte(oneField), nil)
	a.WebAuthn.Origins[0] = "changed"
	if b, _ := Parse("b.yaml", []byte(oneField), nil); b.WebAuthn.Origins[0] != "http://localhost:8080" {
		t.Errorf("default origins shared between configurations: %q", b.WebAuthn.Origins)
	}
}

// mfaBase declares, on lines 2 to 5, purposes plain (no step-up), any and
// key (a WebAuthn step-up); the roles follow from line 6.
const mfaBase = oneField + "purposes:\n" +
	"  plain: {fields: {x: clear}, step_up: off}\n" +
	"  any: {fields: {x: clear}, step_up: any}\n" +
	"  key: {fields: {x: clear}, step_up: webauthn}\n" +
	"roles:\n"

func TestMFAAndStepUp(t *testing.T) {
	tests := []struct {
		roles string
		mfa   map[string][]string
	}{
		{"  r: {purposes: [plain, any, key]}\n", map[string][]string{"r": nil}},
		{"  r: {purposes: [plain, any, key], mfa: [webauthn]}\n", map[string][]string{"r": {"webauthn"}}},
		{"  r: {purposes: [key], mfa: [totp, webauthn]}\n", map[string][]string{"r": {"totp", "webauthn"}}},
		{"  r: {purposes: [plain, any], mfa: [totp]}\n  s: {mfa: [webauthn, totp]}\n", map[string][]string{"r": {"totp"}, "s": {"webauthn", "totp"}}},
		{"  r:\n    purposes: [any]\n    mfa:\n      - totp\n", map[string][]string{"r": {"totp"}}},
	}
	for _, tt := range tests {
		cfg, err := Parse("inline.yaml", []byte(mfaBase+tt.roles), nil)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.roles, err)
			continue
		}
		got := map[string][]string{}
		for name, r := range cfg.Policy.Roles {
			got[name] = r.MFA
		}
		if !reflect.DeepEqual(got, tt.mfa) {
			t.Errorf("Parse(%q) MFA = %q, want %q", tt.roles, got, tt.mfa)
		}
		stepUps := map[string]string{}
		for name, pu := range cfg.Policy.Purposes {
			stepUps[name] = pu.StepUp
		}
		if want := map[string]string{"plain": "", "any": "any", "key": "webauthn"}; !reflect.DeepEqual(stepUps, want) {
			t.Errorf("Parse(%q) step-ups = %q, want %q", tt.roles, stepUps, want)
		}
	}
}

// TestNewKeyErrors checks that each bad value of sessions.step_up, login,
// webauthn, a role's mfa and a purpose's step_up gives exactly the problems
// listed, on their line and key.
func TestNewKeyErrors(t *testing.T) {
	tests := []struct {
		yaml string // after oneField, from line 2
		want []string
	}{
		// sessions.step_up
		{"sessions: {step_up: 29s}\n", []string{`inline.yaml:2: sessions.step_up: must be between 30s and 1h0m0s, got 29s`}},
		{"sessions: {step_up: 61m}\n", []string{`inline.yaml:2: sessions.step_up: must be between 30s and 1h0m0s, got 1h1m0s`}},
		{"sessions: {step_up: -1m}\n", []string{`inline.yaml:2: sessions.step_up: must be between 30s and 1h0m0s, got -1m0s`}},
		{"sessions:\n  step_up: 300\n", []string{`inline.yaml:3: sessions.step_up: want a string, got the number "300"`}},
		{"sessions:\n  step_up: soon\n", []string{`inline.yaml:3: sessions.step_up: invalid duration "soon": want a Go duration such as 30m or 12h`}},
		{"sessions: {stepup: 5m}\n", []string{`inline.yaml:2: sessions: unknown key "stepup" (did you mean "step_up"?)`}},

		// login
		{"login: 10\n", []string{`inline.yaml:2: login: want a mapping, got the number "10"`}},
		{"login: {max_failure: 3}\n", []string{`inline.yaml:2: login: unknown key "max_failure" (did you mean "max_failures"?)`}},
		{"login:\n  max_failures: 0\n", []string{`inline.yaml:3: login.max_failures: must be between 1 and 1000, got 0`}},
		{"login:\n  max_failures: 1001\n", []string{`inline.yaml:3: login.max_failures: must be between 1 and 1000, got 1001`}},
		{"login:\n  max_failures: ten\n", []string{`inline.yaml:3: login.max_failures: want an integer, got the string "ten"`}},
		{"login:\n  failure_window: 59s\n", []string{`inline.yaml:3: login.failure_window: must be between 1m0s and 24h0m0s, got 59s`}},
		{"login:\n  failure_window: 25h\n", []string{`inline.yaml:3: login.failure_window: must be between 1m0s and 24h0m0s, got 25h0m0s`}},
		{"login:\n  failure_window: 0\n", []string{`inline.yaml:3: login.failure_window: want a string, got the number "0"`}},
		{"login:\n  lock_for: 30s\n", []string{`inline.yaml:3: login.lock_for: must be 0 (until a security officer lifts it) or between 1m0s and 720h0m0s (30 days), got 30s`}},
		{"login:\n  lock_for: 721h\n", []string{`inline.yaml:3: login.lock_for: must be 0 (until a security officer lifts it) or between 1m0s and 720h0m0s (30 days), got 721h0m0s`}},
		{"login:\n  lock_for: -1h\n", []string{`inline.yaml:3: login.lock_for: must be 0 (until a security officer lifts it)`}},
		{"login:\n  lock_for: 30d\n", []string{`inline.yaml:3: login.lock_for: invalid duration "30d"`}},
		{"login:\n  lock_for: 1\n", []string{`inline.yaml:3: login.lock_for: want a string, got the number "1"`}},
		{"login:\n  disable_after: 12h\n", []string{`inline.yaml:3: login.disable_after: must be 0 (never) or between 1d and 3650d (10 years), got "12h"`}},
		{"login:\n  disable_after: 3651d\n", []string{`inline.yaml:3: login.disable_after: must be 0 (never) or between 1d and 3650d (10 years), got "3651d"`}},
		{"login:\n  disable_after: -1d\n", []string{`inline.yaml:3: login.disable_after: invalid duration "-1d": want whole days such as 90d, or a Go duration such as 2160h`}},
		{"login:\n  disable_after: 1.5d\n", []string{`inline.yaml:3: login.disable_after: invalid duration "1.5d"`}},
		{"login:\n  disable_after: 90 days\n", []string{`inline.yaml:3: login.disable_after: invalid duration "90 days"`}},
		{"login:\n  disable_after: 90\n", []string{`inline.yaml:3: login.disable_after: want a string, got the number "90"`}},
		{"login:\n  per_origin_per_minute: 0\n", []string{`inline.yaml:3: login.per_origin_per_minute: must be between 1 and 100000, got 0`}},
		{"login:\n  per_origin_per_minute: 100001\n", []string{`inline.yaml:3: login.per_origin_per_minute: must be between 1 and 100000, got 100001`}},
		{"login:\n  per_origin_per_minute: 2.5\n", []string{`inline.yaml:3: login.per_origin_per_minute: want an integer, got the number "2.5"`}},

		// webauthn
		{"webauthn: [localhost]\n", []string{`inline.yaml:2: webauthn: want a mapping, got a list`}},
		{"webauthn: {rpid: x}\n", []string{`inline.yaml:2: webauthn: unknown key "rpid" (did you mean "rp_id"?)`}},
		{"webauthn:\n  rp_id: https://coffre.test/login\n  origins: [\"https://coffre.test\"]\n",
			[]string{`inline.yaml:3: webauthn.rp_id: want a lower-case host name such as coffre.example.org, without scheme, port or path, got "https://coffre.test/login" (did you mean "coffre.test"?)`}},
		{"webauthn:\n  rp_id: coffre.test:8443\n", []string{`inline.yaml:3: webauthn.rp_id: want a lower-case host name such as coffre.example.org, without scheme, port or path, got "coffre.test:8443" (did you mean "coffre.test"?)`}},
		{"webauthn:\n  rp_id: coffre.test/app\n", []string{`inline.yaml:3: webauthn.rp_id: want a lower-case host name such as coffre.example.org, without scheme, port or path, got "coffre.test/app" (did you mean "coffre.test"?)`}},
		{"webauthn:\n  rp_id: Coffre.Test\n", []string{`inline.yaml:3: webauthn.rp_id: want a lower-case host name such as coffre.example.org, without scheme, port or path, got "Coffre.Test" (did you mean "coffre.test"?)`}},
		{"webauthn:\n  rp_id: coffre_test\n", []string{`inline.yaml:3: webauthn.rp_id: want a lower-case host name such as coffre.example.org, without scheme, port or path, got "coffre_test"`}},
		{"webauthn:\n  rp_id: \"\"\n", []string{`inline.yaml:3: webauthn.rp_id: want a lower-case host name such as coffre.example.org, without scheme, port or path, got ""`}},
		{"webauthn:\n  rp_id: coffre.test.\n", []string{`inline.yaml:3: webauthn.rp_id: want a lower-case host name`}},
		{"webauthn:\n  rp_id: -coffre.test\n", []string{`inline.yaml:3: webauthn.rp_id: want a lower-case host name`}},
		{"webauthn:\n  rp_id: 127.0.0.1\n", []string{`inline.yaml:3: webauthn.rp_id: want a lower-case host name such as coffre.example.org, without scheme, port or path, got the IP address "127.0.0.1": WebAuthn needs a host name`}},
		{"webauthn:\n  rp_id: \"[::1]\"\n", []string{`inline.yaml:3: webauthn.rp_id: want a lower-case host name such as coffre.example.org, without scheme, port or path, got the IP address "::1"`}},
		{"webauthn:\n  rp_id: 5\n", []string{`inline.yaml:3: webauthn.rp_id: want a string, got the number "5"`}},
		{"webauthn:\n  rp_id: coffre.test\n", []string{`inline.yaml:3: webauthn.rp_id: the default origins (http://localhost:8080, http://127.0.0.1:8080) are not on "coffre.test": set webauthn.origins too`}},
		{"webauthn:\n  rp_name: \" \"\n", []string{`inline.yaml:3: webauthn.rp_name: must not be empty`}},
		{"webauthn:\n  rp_name: [a]\n", []string{`inline.yaml:3: webauthn.rp_name: want a string, got a list`}},
		{"webauthn:\n  origins: []\n", []string{`inline.yaml:3: webauthn.origins: want at least one origin, such as http://localhost:8080`}},
		{"webauthn:\n  rp_id: coffre.test\n  origins: []\n", []string{`inline.yaml:4: webauthn.origins: want at least one origin, such as https://coffre.test`}},
		{"webauthn:\n  origins: http://localhost:8080\n", []string{`inline.yaml:3: webauthn.origins: want a list, got the string "http://localhost:8080"`}},
		{"webauthn:\n  origins:\n    - http://localhost:8080\n    - 8080\n", []string{`inline.yaml:5: webauthn.origins[1]: want a string, got the number "8080"`}},
		{"webauthn:\n  origins: [ftp://localhost]\n", []string{`inline.yaml:3: webauthn.origins: want an origin as scheme://host[:port], such as https://coffre.example.org (http or https), got "ftp://localhost"`}},
		{"webauthn:\n  origins: [localhost:8080]\n", []string{`inline.yaml:3: webauthn.origins: want an origin as scheme://host[:port], such as https://coffre.example.org (http or https), got "localhost:8080"`}},
		{"webauthn:\n  origins: [\"http:localhost\"]\n", []string{`inline.yaml:3: webauthn.origins: want an origin as scheme://host[:port], such as https://coffre.example.org (http or https), got "http:localhost"`}},
		{"webauthn:\n  origins: [\"http://\"]\n", []string{`inline.yaml:3: webauthn.origins: want an origin as scheme://host[:port], such as https://coffre.example.org (http or https), got "http://"`}},
		{"webauthn:\n  origins: [\"http://local_host\"]\n", []string{`inline.yaml:3: webauthn.origins: want an origin as scheme://host[:port], such as https://coffre.example.org, got "http://local_host": invalid host "local_host"`}},
		{"webauthn:\n  origins: [\"http://localhost:99999\"]\n", []string{`inline.yaml:3: webauthn.origins: want an origin as scheme://host[:port], such as https://coffre.example.org, got "http://localhost:99999": invalid port "99999"`}},
		{"webauthn:\n  origins: [\"http://localhost:8080/login\"]\n", []string{`inline.yaml:3: webauthn.origins: want an origin as scheme://host[:port], such as https://coffre.example.org, got "http://localhost:8080/login": an origin has no user, path, query or fragment (did you mean "http://localhost:8080"?)`}},
		{"webauthn:\n  origins: [\"http://localhost:8080?a=1\"]\n", []string{`inline.yaml:3: webauthn.origins: want an origin as scheme://host[:port], such as https://coffre.example.org, got "http://localhost:8080?a=1": an origin has no user, path, query or fragment`}},
		{"webauthn:\n  origins: [\"http://localhost:8080#x\"]\n", []string{`inline.yaml:3: webauthn.origins: want an origin as scheme://host[:port], such as https://coffre.example.org, got "http://localhost:8080#x": an origin has no user, path, query or fragment`}},
		{"webauthn:\n  origins: [\"http://me@localhost:8080\"]\n", []string{`inline.yaml:3: webauthn.origins: want an origin as scheme://host[:port], such as https://coffre.example.org, got "http://me@localhost:8080": an origin has no user, path, query or fragment`}},
		{"webauthn:\n  origins: [\"http://localhost:8080/\"]\n", []string{`inline.yaml:3: webauthn.origins: origin "http://localhost:8080/" is not written as browsers send it: did you mean "http://localhost:8080"?`}},
		{"webauthn:\n  origins: [\"HTTP://LocalHost:8080\"]\n", []string{`inline.yaml:3: webauthn.origins: origin "HTTP://LocalHost:8080" is not written as browsers send it: did you mean "http://localhost:8080"?`}},
		{"webauthn:\n  origins: [\"https://localhost:443\"]\n", []string{`inline.yaml:3: webauthn.origins: origin "https://localhost:443" is not written as browsers send it: did you mean "https://localhost"?`}},
		{"webauthn:\n  origins: [\"http://localhost:08080\"]\n", []string{`inline.yaml:3: webauthn.origins: origin "http://localhost:08080" is not written as browsers send it: did you mean "http://localhost:8080"?`}},
		{"webauthn:\n  origins: [\"http://[0:0::1]:8080\"]\n", []string{`inline.yaml:3: webauthn.origins: origin "http://[0:0::1]:8080" is not written as browsers send it: did you mean "http://[::1]:8080"?`}},
		{"webauthn:\n  origins:\n    - http://localhost:8080\n    - http://localhost:8080\n", []string{`inline.yaml:5: webauthn.origins: "http://localhost:8080" listed twice`}},
		{"webauthn:\n  origins: [\"http://10.0.0.1:8080\"]\n", []string{`inline.yaml:3: webauthn.origins: origin "http://10.0.0.1:8080" is not on "localhost" or one of its subdomains, so browsers would refuse WebAuthn there`}},
		{"webauthn:\n  rp_id: coffre.test\n  origins:\n    - https://coffre.test\n    - https://notcoffre.test\n    - http://127.0.0.1:8080\n", []string{
			`inline.yaml:6: webauthn.origins: origin "https://notcoffre.test" is not on "coffre.test" or one of its subdomains`,
			`inline.yaml:7: webauthn.origins: origin "http://127.0.0.1:8080" is not on "coffre.test" or one of its subdomains`,
		}},
		// A bad rp_id does not make every origin a problem too.
		{"webauthn:\n  rp_id: Coffre.Test\n  origins: [\"https://coffre.test\"]\n", []string{`inline.yaml:3: webauthn.rp_id: want a lower-case host name`}},

		// purposes.NAME.step_up
		{"purposes:\n  p:\n    fields: {x: clear}\n    step_up: always\n", []string{`inline.yaml:5: purposes.p.step_up: unknown step-up "always" (want one of: off, any, webauthn)`}},
		{"purposes:\n  p:\n    fields: {x: clear}\n    step_up: webauth\n", []string{`inline.yaml:5: purposes.p.step_up: unknown step-up "webauth" (did you mean "webauthn"?)`}},
		{"purposes:\n  p:\n    fields: {x: clear}\n    step_up: true\n", []string{`inline.yaml:5: purposes.p.step_up: want a string, got the boolean "true"`}},
		{"purposes:\n  p:\n    fields: {x: clear}\n    stepup: any\n", []string{`inline.yaml:5: purposes.p: unknown key "stepup" (did you mean "step_up"?)`}},

		// purposes.NAME.consent, consent_valid, consent_lasts, break_glass
		{"purposes:\n  p:\n    fields: {x: clear}\n    consent: always\n", []string{`inline.yaml:5: purposes.p.consent: unknown consent "always" (want one of: off, required)`}},
		{"purposes:\n  p:\n    fields: {x: clear}\n    consent: requird\n", []string{`inline.yaml:5: purposes.p.consent: unknown consent "requird" (did you mean "required"?)`}},
		{"purposes:\n  p:\n    fields: {x: clear}\n    consent: true\n", []string{`inline.yaml:5: purposes.p.consent: want a string, got the boolean "true"`}},
		{"purposes:\n  p:\n    fields: {x: clear}\n    consent_valid: 72h\n", []string{`inline.yaml:5: purposes.p.consent_valid: has no effect while consent is off: set consent to required, or remove this key`}},
		{"purposes:\n  p:\n    fields: {x: clear}\n    consent: off\n    consent_lasts: 1h\n", []string{`inline.yaml:6: purposes.p.consent_lasts: has no effect while consent is off`}},
		{"purposes:\n  p:\n    fields: {x: clear}\n    consent: required\n    consent_valid: 4m\n", []string{`inline.yaml:6: purposes.p.consent_valid: must be between 5m0s and 720h0m0s, got 4m0s`}},
		{"purposes:\n  p:\n    fields: {x: clear}\n    consent: required\n    consent_valid: 721h\n", []string{`inline.yaml:6: purposes.p.consent_valid: must be between 5m0s and 720h0m0s, got 721h0m0s`}},
		{"purposes:\n  p:\n    fields: {x: clear}\n    consent: required\n    consent_lasts: 169h\n", []string{`inline.yaml:6: purposes.p.consent_lasts: must be between 1m0s and 168h0m0s, got 169h0m0s`}},
		{"purposes:\n  p:\n    fields: {x: clear}\n    consent: required\n    consent_lasts: soon\n", []string{`inline.yaml:6: purposes.p.consent_lasts: invalid duration "soon"`}},
		{"purposes:\n  p:\n    fields: {x: clear}\n    break_glass: true\n", []string{`inline.yaml:5: purposes.p.break_glass: break-glass bypasses the person's consent, which this purpose does not ask for: set consent to required, or remove this key`}},
		{"purposes:\n  p:\n    fields: {x: clear}\n    consent: required\n    break_glass: true\n", []string{`inline.yaml:6: purposes.p.break_glass: break-glass needs a fresh second factor: set step_up to any or webauthn`}},
		{"purposes:\n  p:\n    fields: {x: clear}\n    consent: required\n    step_up: any\n    break_glass: yes\n", []string{`inline.yaml:7: purposes.p.break_glass: want true or false, got the string "yes"`}},
		// A partner role may not declare a consent purpose.
		{"purposes:\n  p: {fields: {x: clear}, consent: required}\nroles:\n  r: {purposes: [p], partner: true}\n",
			[]string{`inline.yaml:5: roles.r.partner: a partner role may not declare purpose "p", which asks for the person's consent`}},

		// notices.contact_cooling_off
		{"notices: {contact_cooling_off: 59m}\n", []string{`inline.yaml:2: notices.contact_cooling_off: must be between 1h0m0s and 720h0m0s (30 days), got 59m0s`}},
		{"notices:\n  contact_cooling_off: 721h\n", []string{`inline.yaml:3: notices.contact_cooling_off: must be between 1h0m0s and 720h0m0s (30 days), got 721h0m0s`}},
		{"notices:\n  contact_cooling_off: 3d\n", []string{`inline.yaml:3: notices.contact_cooling_off: invalid duration "3d"`}},
		{"notices: {cooling_off: 72h}\n", []string{`inline.yaml:2: notices: unknown key "cooling_off" (want one of: organisation, where, language, language_field, contacts, quiet_start, quiet_end, digest_at, timezone, contact_cooling_off)`}},

		// roles.NAME.mfa
		{"roles:\n  r:\n    mfa: []\n", []string{`inline.yaml:4: roles.r.mfa: want at least one of totp, webauthn, got an empty list (leave mfa out to allow both)`}},
		{"roles:\n  r:\n    mfa: totp\n", []string{`inline.yaml:4: roles.r.mfa: want a list, got the string "totp"`}},
		{"roles:\n  r:\n    mfa: [totp, sms]\n", []string{`inline.yaml:4: roles.r.mfa: unknown second factor "sms": want totp or webauthn`}},
		{"roles:\n  r:\n    mfa:\n      - webauthn\n      - passkey\n", []string{`inline.yaml:6: roles.r.mfa: unknown second factor "passkey": want totp or webauthn`}},
		{"roles:\n  r:\n    mfa: [topt]\n", []string{`inline.yaml:4: roles.r.mfa: unknown second factor "topt": want totp or webauthn (did you mean "totp"?)`}},
		{"roles:\n  r:\n    mfa: [TOTP]\n", []string{`inline.yaml:4: roles.r.mfa: unknown second factor "TOTP": want totp or webauthn`}},
		{"roles:\n  r:\n    mfa:\n      - totp\n      - totp\n", []string{`inline.yaml:6: roles.r.mfa: "totp" listed twice`}},
		{"roles:\n  r:\n    mfa: [1]\n", []string{`inline.yaml:4: roles.r.mfa: want a string, got the number "1"`}},
		{"roles:\n  r: {mfa: [totp], mfa: [webauthn]}\n", []string{`inline.yaml:3: roles.r.mfa: key given twice (first at line 3)`}},

		// A role whose mfa excludes webauthn may not declare a purpose that
		// asks for a WebAuthn step-up; the problem is on the mfa key.
		{"purposes:\n  key: {fields: {x: clear}, step_up: webauthn}\n  any: {fields: {x: clear}, step_up: any}\n" +
			"roles:\n  r:\n    purposes: [any, key]\n    mfa:\n      - totp\n",
			[]string{`inline.yaml:8: roles.r.mfa: purpose "key" asks for a WebAuthn step-up, which this role cannot give: add webauthn to mfa, or set the purpose's step_up to any`}},
		{"purposes:\n  k1: {fields: {x: clear}, step_up: webauthn}\n  k2: {fields: {x: clear}, step_up: webauthn}\n" +
			"roles:\n  r: {mfa: [totp], purposes: [k1, k2]}\n", []string{
			`inline.yaml:6: roles.r.mfa: purpose "k1" asks for a WebAuthn step-up`,
			`inline.yaml:6: roles.r.mfa: purpose "k2" asks for a WebAuthn step-up`,
		}},
		// Reported even when the purpose has another mistake.
		{"purposes:\n  key: {fields: {y: clear}, step_up: webauthn}\n" +
			"roles:\n  r: {purposes: [key], mfa: [totp]}\n", []string{
			`inline.yaml:3: purposes.key.fields.y: unknown field "y"`,
			`inline.yaml:5: roles.r.mfa: purpose "key" asks for a WebAuthn step-up`,
		}},
		// A mistake in mfa is not also a conflict.
		{"purposes:\n  key: {fields: {x: clear}, step_up: webauthn}\n" +
			"roles:\n  r: {purposes: [key], mfa: [totp, webauthm]}\n",
			[]string{`inline.yaml:5: roles.r.mfa: unknown second factor "webauthm": want totp or webauthn (did you mean "webauthn"?)`}},
		{"purposes:\n  key: {fields: {x: clear}, step_up: webauthn}\n" +
			"roles:\n  r: {purposes: [key], mfa: []}\n",
			[]string{`inline.yaml:5: roles.r.mfa: want at least one of totp, webauthn`}},
	}
	for _, tt := range tests {
		t.Run(tt.want[0], func(t *testing.T) {
			_, err := Parse("inline.yaml", []byte(oneField+tt.yaml), nil)
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("Parse(%q) = %v, want an *Error", tt.yaml, err)
			}
			if len(cerr.Problems) != len(tt.want) {
				t.Errorf("Parse(%q) gave %d problems, want %d:\n%v", tt.yaml, len(cerr.Problems), len(tt.want), err)
			}
			for i, w := range tt.want {
				if i < len(cerr.Problems) && !strings.HasPrefix(cerr.Problems[i].String(), w) {
					t.Errorf("Parse(%q) problem %d = %q, want prefix %q", tt.yaml, i, cerr.Problems[i], w)
				}
			}
		})
	}
}

func TestPartners(t *testing.T) {
	local := []string{"localhost", "127.0.0.1"}
	tests := []struct {
		yaml string // after oneField, from line 2
		want Partners
	}{
		{"", Partners{Hosts: local}},
		{"partners: ~\n", Partners{Hosts: local}},
		{"partners: {}\n", Partners{Hosts: local}},
		{"partners: {listen: \"\"}\n", Partners{Hosts: local}}, // off, explicitly
		{"partners: {listen: 127.0.0.1:8443}\n", Partners{Listen: "127.0.0.1:8443", Hosts: local}},
		{"partners: {listen: \":1\"}\n", Partners{Listen: ":1", Hosts: local}},
		{"partners: {listen: \"[::1]:65535\"}\n", Partners{Listen: "[::1]:65535", Hosts: local}},
		{"partners: {listen: partners.example.org:443}\n", Partners{Listen: "partners.example.org:443", Hosts: local}},
		// Another host on the HTTP listener's port.
		{"partners: {listen: 10.0.0.1:8080}\n", Partners{Listen: "10.0.0.1:8080", Hosts: local}},
		{"partners:\n  listen: 0.0.0.0:9443\n  hosts:\n    - partners.example.org\n    - 203.0.113.7\n    - \"::1\"\n    - xn--caf-dma.test\n",
			Partners{Listen: "0.0.0.0:9443", Hosts: []string{"partners.example.org", "203.0.113.7", "::1", "xn--caf-dma.test"}}},
		// IP addresses come back in their shortest form.
		{"partners: {hosts: [\"0:0::1\", \"2001:DB8::1\"]}\n", Partners{Hosts: []string{"::1", "2001:db8::1"}}},
		{"partners: {hosts: [coffre]}\n", Partners{Hosts: []string{"coffre"}}},
	}
	for _, tt := range tests {
		cfg, err := Parse("inline.yaml", []byte(oneField+tt.yaml), nil)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.yaml, err)
			continue
		}
		if !reflect.DeepEqual(cfg.Partners, tt.want) {
			t.Errorf("Parse(%q).Partners = %+v, want %+v", tt.yaml, cfg.Partners, tt.want)
		}
	}

	// The default hosts are fresh for each configuration.
	a, _ := Parse("a.yaml", []byte(oneField), nil)
	a.Partners.Hosts[0] = "changed"
	if b, _ := Parse("b.yaml", []byte(oneField), nil); b.Partners.Hosts[0] != "localhost" {
		t.Errorf("default partner hosts shared between configurations: %q", b.Partners.Hosts)
	}
}

// TestPartnersErrors checks that each bad partners value gives exactly the
// problems listed, on their line and key.
func TestPartnersErrors(t *testing.T) {
	const want = "want a lower-case host name such as partners.example.org or an IP address, without scheme, port or path"
	tests := []struct {
		yaml string // after oneField, from line 2
		want []string
	}{
		{"partners: 8443\n", []string{`inline.yaml:2: partners: want a mapping, got the number "8443"`}},
		{"partners: [127.0.0.1:8443]\n", []string{`inline.yaml:2: partners: want a mapping, got a list`}},
		{"partners: {listn: \"127.0.0.1:8443\"}\n", []string{`inline.yaml:2: partners: unknown key "listn" (did you mean "listen"?)`}},
		{"partners: {host: [localhost]}\n", []string{`inline.yaml:2: partners: unknown key "host" (did you mean "hosts"?)`}},
		{"partners:\n  listen: :1\n  listen: :2\n", []string{`inline.yaml:4: partners.listen: key given twice (first at line 3)`}},

		// listen
		{"partners:\n  listen: 8443\n", []string{`inline.yaml:3: partners.listen: want a string, got the number "8443"`}},
		{"partners:\n  listen: \"8443\"\n", []string{`inline.yaml:3: partners.listen: want host:port, as in 127.0.0.1:8443, got "8443" (leave listen out to disable partner access)`}},
		{"partners:\n  listen: localhost\n", []string{`inline.yaml:3: partners.listen: want host:port, as in 127.0.0.1:8443, got "localhost"`}},
		{"partners:\n  listen: https://localhost:8443\n", []string{`inline.yaml:3: partners.listen: want host:port, as in 127.0.0.1:8443, got "https://localhost:8443"`}},
		{"partners:\n  listen: \"::1:8443\"\n", []string{`inline.yaml:3: partners.listen: want host:port, as in 127.0.0.1:8443, got "::1:8443"`}},
		{"partners:\n  listen: \"127.0.0.1:\"\n", []string{`inline.yaml:3: partners.listen: invalid port "": want a number from 1 to 65535`}},
		{"partners:\n  listen: 127.0.0.1:0\n", []string{`inline.yaml:3: partners.listen: invalid port "0": want a number from 1 to 65535`}},
		{"partners:\n  listen: 127.0.0.1:65536\n", []string{`inline.yaml:3: partners.listen: invalid port "65536": want a number from 1 to 65535`}},
		{"partners:\n  listen: 127.0.0.1:-1\n", []string{`inline.yaml:3: partners.listen: invalid port "-1": want a number from 1 to 65535`}},
		{"partners:\n  listen: 127.0.0.1:https\n", []string{`inline.yaml:3: partners.listen: invalid port "https": want a number from 1 to 65535`}},
		{"partners:\n  listen: 127.0.0.1:8080\n", []string{`inline.yaml:3: partners.listen: address "127.0.0.1:8080" is taken by listen ("127.0.0.1:8080"): give partners a port of their own`}},
		{"partners:\n  listen: \":8080\"\n", []string{`inline.yaml:3: partners.listen: address ":8080" is taken by listen ("127.0.0.1:8080")`}},
		{"listen: 0.0.0.0:9000\npartners:\n  listen: 127.0.0.1:9000\n", []string{`inline.yaml:4: partners.listen: address "127.0.0.1:9000" is taken by listen ("0.0.0.0:9000")`}},

		// hosts
		{"partners:\n  hosts: localhost\n", []string{`inline.yaml:3: partners.hosts: want a list, got the string "localhost"`}},
		{"partners:\n  hosts: []\n", []string{`inline.yaml:3: partners.hosts: want at least one host name or IP address, such as localhost (leave hosts out for localhost, 127.0.0.1)`}},
		{"partners:\n  hosts:\n    - localhost\n    - 8443\n", []string{`inline.yaml:5: partners.hosts[1]: want a string, got the number "8443"`}},
		{"partners:\n  hosts: [[localhost]]\n", []string{`inline.yaml:3: partners.hosts[0]: want a string, got a list`}},
		{"partners:\n  hosts: [\"\"]\n", []string{`inline.yaml:3: partners.hosts: ` + want + `, got ""`}},
		{"partners:\n  hosts: [https://partners.example.org/api]\n", []string{`inline.yaml:3: partners.hosts: ` + want + `, got "https://partners.example.org/api" (did you mean "partners.example.org"?)`}},
		{"partners:\n  hosts: [partners.example.org:8443]\n", []string{`inline.yaml:3: partners.hosts: ` + want + `, got "partners.example.org:8443" (did you mean "partners.example.org"?)`}},
		{"partners:\n  hosts: [partners.example.org/api]\n", []string{`inline.yaml:3: partners.hosts: ` + want + `, got "partners.example.org/api" (did you mean "partners.example.org"?)`}},
		{"partners:\n  hosts: [Partners.Example.Org]\n", []string{`inline.yaml:3: partners.hosts: ` + want + `, got "Partners.Example.Org" (did you mean "partners.example.org"?)`}},
		{"partners:\n  hosts: [\"127.0.0.1:8443\"]\n", []string{`inline.yaml:3: partners.hosts: ` + want + `, got "127.0.0.1:8443" (did you mean "127.0.0.1"?)`}},
		{"partners:\n  hosts: [\"[::1]\"]\n", []string{`inline.yaml:3: partners.hosts: ` + want + `, got "[::1]" (did you mean "::1"?)`}},
		{"partners:\n  hosts: [\"[::1]:8443\"]\n", []string{`inline.yaml:3: partners.hosts: ` + want + `, got "[::1]:8443" (did you mean "::1"?)`}},
		{"partners:\n  hosts: [\"fe80::1%eth0\"]\n", []string{`inline.yaml:3: partners.hosts: ` + want + `, got "fe80::1%eth0": a certificate names no IPv6 zone (did you mean "fe80::1"?)`}},
		{"partners:\n  hosts: [\"*.example.org\"]\n", []string{`inline.yaml:3: partners.hosts: ` + want + `, got "*.example.org"`}},
		{"partners:\n  hosts: [partners_example]\n", []string{`inline.yaml:3: partners.hosts: ` + want + `, got "partners_example"`}},
		{"partners:\n  hosts: [example.org.]\n", []string{`inline.yaml:3: partners.hosts: ` + want}},
		{"partners:\n  hosts:\n    - localhost\n    - 127.0.0.1\n    - localhost\n", []string{`inline.yaml:6: partners.hosts: "localhost" listed twice`}},
		{"partners:\n  hosts:\n    - \"::1\"\n    - \"0:0::1\"\n", []string{`inline.yaml:5: partners.hosts: "0:0::1" listed twice`}},
		// A bad host is not also a duplicate; two mistakes, two problems.
		{"partners:\n  listen: :0\n  hosts:\n    - Localhost\n    - Localhost\n    - localhost\n", []string{
			`inline.yaml:3: partners.listen: invalid port "0"`,
			`inline.yaml:5: partners.hosts: ` + want + `, got "Localhost" (did you mean "localhost"?)`,
			`inline.yaml:6: partners.hosts: ` + want + `, got "Localhost" (did you mean "localhost"?)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.want[0], func(t *testing.T) {
			_, err := Parse("inline.yaml", []byte(oneField+tt.yaml), nil)
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("Parse(%q) = %v, want an *Error", tt.yaml, err)
			}
			if len(cerr.Problems) != len(tt.want) {
				t.Errorf("Parse(%q) gave %d problems, want %d:\n%v", tt.yaml, len(cerr.Problems), len(tt.want), err)
			}
			for i, w := range tt.want {
				if i < len(cerr.Problems) && !strings.HasPrefix(cerr.Problems[i].String(), w) {
					t.Errorf("Parse(%q) problem %d = %q, want prefix %q", tt.yaml, i, cerr.Problems[i], w)
				}
			}
		})
	}
}

// defaultRetention is the retention section of a file without one.
var defaultRetention = Retention{Every: time.Hour, Batch: 500, Rest: 1}

func TestRetention(t *testing.T) {
	const base = "schema: [{name: x, type: text, sensitivity: identity}, {name: left_on, type: date, sensitivity: identity}]\n" +
		"purposes: {p: {fields: {x: clear}}, q: {fields: {x: clear}}}\n"
	for _, tt := range []struct {
		yaml string
		want Retention
	}{
		{"", defaultRetention},
		{"retention: {record: 6y after created, activity: [q, p], every: 0, batch: 100, rest: 0.5}\n",
			Retention{Record: &retention.Rule{Span: retention.Span{Years: 6}, Event: retention.Created}, Activity: []string{"q", "p"}, Batch: 100, Rest: 0.5}},
		{"retention: {record: until left_on, every: 2h}\n",
			Retention{Record: &retention.Rule{Until: true, Event: "left_on"}, Every: 2 * time.Hour, Batch: 500, Rest: 1}},
	} {
		cfg, err := Parse("retention.yaml", []byte(base+tt.yaml), nil)
		if err != nil {
			t.Fatalf("%q: %v", tt.yaml, err)
		}
		if !reflect.DeepEqual(cfg.Retention, tt.want) {
			t.Errorf("%q: got %+v, want %+v", tt.yaml, cfg.Retention, tt.want)
		}
	}
}
