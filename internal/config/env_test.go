package config

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// The keys of three mappings, for TestSuggestion.
var (
	topKeys     = keysOf(reflect.TypeFor[file]())
	sessionKeys = keysOf(reflect.TypeFor[sessionsFile]())
	fieldKeys   = keysOf(reflect.TypeFor[fieldFile]())
)

// keyPatterns lists the dotted path of every key of the typed file,
// walking its structs; the names of purposes, roles and fields are
// <purpose>, <role> and <field>.
func keyPatterns(t reflect.Type, path string) []string {
	switch {
	case t == leafType:
		return []string{path}
	case t == reflect.TypeFor[schemaFile]():
		return keyPatterns(reflect.TypeFor[fieldFile](), path+".<field>")
	case t.Kind() == reflect.Slice: // named[T]
		placeholder := map[string]string{"purposes": "<purpose>", "roles": "<role>", "fields": "<field>", "dimensions": "<dimension>"}
		last := path[strings.LastIndex(path, ".")+1:]
		val, _ := t.Elem().FieldByName("Val")
		return keyPatterns(val.Type, path+"."+placeholder[last])
	}
	var out []string
	for i := range t.NumField() {
		switch key, _ := tag(t.Field(i)); key {
		case "":
		case ".":
			out = append(out, path)
		default:
			out = append(out, keyPatterns(t.Field(i).Type, strings.TrimPrefix(path+"."+key, "."))...)
		}
	}
	return out
}

// envBase is the configuration TestEveryKeyHasAnOverride changes: clerk
// has no guard.roles entry, so guard.defaults apply to it.
const envBase = `webauthn: {attestation: {roots: [testdata/attestation_root.pem]}}
schema:
  - {name: phone, type: phone, sensitivity: contact}
  - {name: notes, type: text, sensitivity: identity}
purposes:
  case-handling: {fields: {phone: clear}}
  other: {fields: {phone: clear}}
roles:
  caseworker: {purposes: [case-handling]}
  clerk: {purposes: [case-handling]}
guard:
  defaults: {rate: {per_second: 1, burst: 5}, velocity: {subjects: 5, window: 10m}}
  roles:
    caseworker: {rate: {per_second: 1, burst: 5}, velocity: {subjects: 5, window: 10m}}
`

// TestEveryKeyHasAnOverride sets the environment variable of each key of
// the typed file, in turn, and checks that it changes the configuration.
// A key added without a sample value here fails the test.
func TestEveryKeyHasAnOverride(t *testing.T) {
	limits := map[string]string{
		"all_units": "true", "rate": "off", "rate.per_second": "3", "rate.burst": "7",
		"subjects_per_hour": "11", "subjects_per_day": "12", "out_of_caseload_per_day": "13", "out_of_unit_per_day": "14",
		"untrusted_origin_per_day": "15", "lookups_per_hour": "16", "misses_per_hour": "17",
		"velocity": "off", "velocity.subjects": "9", "velocity.window": "5m",
		"enumeration_run": "20", "hours": "mon-fri 08:00-18:00", "hard_margin": "3",
		"creates_per_day": "21", "updates_per_hour": "22", "updates_per_day": "23", "erasures_per_day": "24",
		"operators_per_day": "25", "roles_per_day": "26", "factor_resets_per_day": "27", "partners_per_day": "28", "admin_burst_per_hour": "29", "assignments_per_day": "30",
		"break_glass_per_day": "31",
	}
	samples := map[string]string{
		"store": "sqlite:/tmp/c.db", "store_migrate": "manual",
		"postgres.statement_timeout": "10s", "postgres.lock_timeout": "0", "postgres.max_conns": "32", "postgres.min_conns": "2",
		"listen": "127.0.0.1:9000", "data_dir": "/srv/coffre", "root_key_file": "/run/root.key",
		"sessions.idle": "31m", "sessions.absolute": "13h", "sessions.login_token": "6m", "sessions.step_up": "6m",
		"limits.max_body_bytes": "2048", "limits.reason_max_len": "64", "limits.reason_pattern": "[A-Z]+-[0-9]+", "audit.epoch": "6m", "audit.retention": "5y",
		"audit.witnesses": "https://w1.example/add, https://w2.example/add", "audit.max_lag": "1m",
		"log_format": "json", "audit.stream.webhook.url": "https://soc.example/coffre", "audit.stream.webhook.secret_file": "/etc/coffre/soc.secret", "audit.stream.webhook.secret_env": "SOC_SECRET",
		"audit.stream.syslog.address": "siem.example.org:6514", "audit.stream.syslog.tls": "true", "audit.stream.syslog.ca_file": "/etc/coffre/siem-ca.pem", "audit.stream.syslog.server_name": "siem.example.org",
		"webauthn.rp_id": "app.localhost", "webauthn.rp_name": "Vault", "webauthn.origins": "http://localhost:9000",
		"webauthn.attestation.aaguids": "cb69481e-8ff7-4039-93ec-0a2729a154a8", "webauthn.attestation.roots": testRootPEM(t),
		"roles.<role>.attested_keys": "true",
		"login.max_failures":         "5", "login.failure_window": "1h", "login.lock_for": "0", "login.per_origin_per_minute": "12", "login.disable_after": "90d",
		"partners.listen": "127.0.0.1:9443", "partners.hosts": "coffre.test,10.0.0.5",
		"metrics.listen": "127.0.0.1:9090", "metrics.token": metricsToken,
		"tracing.endpoint": "http://127.0.0.1:4318", "tracing.sample_ratio": "0.5",
		"delivery.max_tries": "5", "delivery.backoff": "10s", "delivery.timeout": "20s", "delivery.lease": "3m", "delivery.concurrency": "8", "delivery.batch": "100",
		"delivery.rates.email": "2", "delivery.rates.webhook": "3.5", "delivery.rates.sms": "0.5",
		"delivery.smtp.host": "localhost", "delivery.smtp.port": "2525", "delivery.smtp.starttls": "opportunistic", "delivery.smtp.username": "coffre2",
		"delivery.smtp.password_file": "/run/smtp-password", "delivery.smtp.password_env": "SMTP_PASSWORD", "delivery.smtp.from": "alerts@example.org", "delivery.smtp.reply_to": "soc@example.org",
		"delivery.sms.url": "https://sms2.example/send", "delivery.sms.secret_file": "/run/sms-secret", "delivery.sms.secret_env": "SMS_SECRET",
		"alerts.email": "so1@example.org, so2@example.org", "alerts.webhook.url": "https://hook2.example/coffre", "alerts.webhook.secret_file": "/run/hook-secret",
		"alerts.webhook.secret_env": "HOOK_SECRET", "alerts.sms": "+33612345678",
		"notices.organisation": "Académie de Lyon", "notices.where": "moncompte.example.gouv.fr", "notices.language": "en",
		"notices.language_field": "notes", "notices.contacts": "phone", "notices.quiet_start": "22:00", "notices.quiet_end": "07:30",
		"notices.digest_at": "19:00", "notices.timezone": "UTC",
		"purposes.<purpose>.notice": "digest", "purposes.<purpose>.notice_names_operator": "true",
		"purposes.<purpose>.deferred_basis": "Code de procédure pénale, art. 77-1-1", "purposes.<purpose>.deferred_for": "4380h",
		"signin.code.enabled": "false", "signin.code.digits": "8", "signin.code.valid_for": "5m", "signin.code.max_attempts": "3",
		"signin.code.lock_for": "1h", "signin.code.per_contact_per_hour": "2", "signin.code.per_origin_per_hour": "10",
		"signin.sessions.idle": "10m", "signin.sessions.absolute": "2h",
		"signin.oidc.issuer": "https://idp2.example", "signin.oidc.client_id": "coffre2", "signin.oidc.client_secret_file": "/run/oidc-secret",
		"signin.oidc.client_secret_env": "OIDC_SECRET", "signin.oidc.redirect_url": "https://c2.example/v1/me/oidc/callback",
		"signin.oidc.scopes": "email,profile", "signin.oidc.claim": "national_id", "signin.oidc.field": "notes",
		"seal.by": "quorum", "seal.pkcs11.module": "/usr/lib/softhsm/libsofthsm2.so", "seal.pkcs11.token": "coffre", "seal.pkcs11.key": "root", "seal.pkcs11.pin_file": "/run/pin", "seal.pkcs11.pin_env": "HSM_PIN",
		"schema.<field>.name": "memo", "schema.<field>.type": "name", "schema.<field>.sensitivity": "special",
		"schema.<field>.required": "true", "schema.<field>.lookup": "true", "schema.<field>.max_len": "100",
		"schema.<field>.retention": "1y after last_activity",
		"retention.record":         "6y after created", "retention.activity": "case-handling", "retention.every": "2h",
		"retention.batch": "100", "retention.rest": "0.5",
		"purposes.<purpose>.description": "Handle a case", "purposes.<purpose>.require_reason": "true",
		"purposes.<purpose>.step_up": "any", "purposes.<purpose>.fields.<field>": "clear", "purposes.<purpose>.updates": "phone,notes",
		"purposes.<purpose>.step_up_window": "2m", "purposes.<purpose>.step_up_group": "hr-special",
		"purposes.<purpose>.consent": "required", "purposes.<purpose>.consent_valid": "48h", "purposes.<purpose>.consent_lasts": "1h",
		"purposes.<purpose>.break_glass": "true", "notices.contact_cooling_off": "24h",
		"roles.<role>.purposes": "case-handling, other", "roles.<role>.permissions": "lookup,create", "roles.<role>.mfa": "totp", "roles.<role>.partner": "true",
		"rights.handler_role": "clerk", "rights.restricted_readers": "caseworker,clerk", "rights.controller": "Académie de Lyon, 92 rue de Marseille, Lyon",
		"rights.dpo": "dpo@ac-lyon.example", "rights.authority": "CNIL, www.cnil.fr",
		"statistics.k": "5", "statistics.epsilon": "0.25", "statistics.budget.epsilon": "3", "statistics.budget.period": "7d",
		"statistics.dimensions.<dimension>.field": "left_on", "statistics.dimensions.<dimension>.band": "5y",
		"statistics.dimensions.<dimension>.by": "month", "statistics.dimensions.<dimension>.values": "a,b",
		"guard.timezone": "UTC", "guard.trusted_networks": "10.0.0.0/8", "guard.trusted_proxies": "10.0.0.1/32", "guard.two_approvers_over": "50", "guard.approver_min_age": "48h",
	}
	for k, v := range limits {
		samples["guard.defaults."+k] = v
		samples["guard.roles.<role>."+k] = v
	}
	// Variables set with a sample, so that both configurations are valid.
	extra := map[string]string{"webauthn.rp_id": "COFFRE_WEBAUTHN_ORIGINS=http://app.localhost:8080", "roles.<role>.attested_keys": "COFFRE_ROLES_CASEWORKER_MFA=webauthn",
		"purposes.<purpose>.step_up_window": "COFFRE_PURPOSES_CASE_HANDLING_STEP_UP=any", "purposes.<purpose>.step_up_group": "COFFRE_PURPOSES_CASE_HANDLING_STEP_UP=any",
		"roles.<role>.partner":             "COFFRE_ROLES_CASEWORKER_PERMISSIONS=lookup",
		"tracing.sample_ratio":             "COFFRE_TRACING_ENDPOINT=http://127.0.0.1:4318",
		"purposes.<purpose>.consent_valid": "COFFRE_PURPOSES_CASE_HANDLING_CONSENT=required",
		"purposes.<purpose>.consent_lasts": "COFFRE_PURPOSES_CASE_HANDLING_CONSENT=required",
		"purposes.<purpose>.break_glass":   "COFFRE_PURPOSES_CASE_HANDLING_CONSENT=required\nCOFFRE_PURPOSES_CASE_HANDLING_STEP_UP=any"}
	names := strings.NewReplacer("<field>", "notes", "<purpose>", "case-handling", "<role>", "caseworker", "<dimension>", "d")
	// A dimension is one of of: unit, field or event: created, each with
	// one valid value, so a variable cannot change one without making the
	// dimension two kinds at once.
	noSample := []string{"statistics.dimensions.<dimension>.of", "statistics.dimensions.<dimension>.event"}

	keys := keyPatterns(reflect.TypeFor[file](), "")
	if len(keys) < 70 {
		t.Fatalf("found %d keys, want at least 70: %q", len(keys), keys)
	}
	for _, key := range keys {
		if slices.Contains(noSample, key) {
			continue
		}
		value, ok := samples[key]
		if !ok {
			t.Errorf("key %s has no sample value: add one to this test", key)
			continue
		}
		delete(samples, key)
		v := envName(names.Replace(key))
		var environ []string
		if e, ok := extra[key]; ok {
			environ = append(environ, strings.Split(e, "\n")...)
		}
		base := envBase
		if strings.HasPrefix(key, "seal.") {
			// seal.pkcs11 is all or nothing, with one PIN source.
			pin := "pin_env: P"
			if key == "seal.pkcs11.pin_file" {
				pin = "pin_file: /p"
			}
			base += "seal: {pkcs11: {module: /m.so, token: t, key: k, " + pin + "}}\n"
		}
		if strings.HasPrefix(key, "audit.stream.webhook.") {
			// A hook wants its url and one secret source.
			src := "secret_env: S"
			if key == "audit.stream.webhook.secret_file" {
				src = "secret_file: /s"
			}
			base += "audit: {stream: {webhook: {url: 'https://soc.example/other', " + src + "}}}\n"
		}
		if strings.HasPrefix(key, "audit.stream.syslog.") && key != "audit.stream.syslog.address" {
			// TLS settings want the receiver's address; a CA or a name, TLS.
			tls := ", tls: true"
			if key == "audit.stream.syslog.tls" {
				tls = ""
			}
			base += "audit: {stream: {syslog: {address: 'siem.example.org:6514'" + tls + "}}}\n"
		}
		if key == "notices.contacts" {
			// By default every email field, then every phone field.
			base = strings.Replace(base, "schema:\n", "schema:\n  - {name: mail, type: email, sensitivity: contact}\n", 1)
		}
		if strings.HasPrefix(key, "purposes.<purpose>.deferred_") {
			// A deferral wants the deferred mode and both keys.
			base = strings.Replace(base, "case-handling: {fields: {phone: clear}}",
				"case-handling: {fields: {phone: clear}, notice: deferred, deferred_basis: a law, deferred_for: 24h}", 1)
		}
		if strings.HasPrefix(key, "rights.") {
			// The handler holds the rights and erase permissions.
			base = strings.Replace(base, "clerk: {purposes: [case-handling]}", "clerk: {purposes: [case-handling], permissions: [rights, erase]}", 1)
			if key != "rights.handler_role" {
				base += "rights: {handler_role: clerk}\n"
			}
		}
		if strings.HasPrefix(key, "delivery.") || strings.HasPrefix(key, "alerts.") {
			// smtp wants host and from, a password one source; a hook
			// its url and one secret source.
			src := func(file, env string) string {
				if key == file {
					return "secret_file: /s"
				}
				return "secret_env: S"
			}
			pw := "password_env: P"
			if key == "delivery.smtp.password_file" {
				pw = "password_file: /p"
			}
			base += "delivery: {smtp: {host: 127.0.0.1, from: coffre@example.org, username: u, " + pw + "}, sms: {url: https://sms.example/send, " +
				src("delivery.sms.secret_file", "") + "}}\n" +
				"alerts: {webhook: {url: https://hook.example/x, " + src("alerts.webhook.secret_file", "") + "}}\n"
		}
		if strings.HasPrefix(key, "signin.oidc.") {
			// oidc is all or nothing, with one secret source, and matches a
			// lookup field.
			sec := "client_secret_env: S"
			if key == "signin.oidc.client_secret_file" {
				sec = "client_secret_file: /s"
			}
			base = strings.NewReplacer("sensitivity: contact}", "sensitivity: contact, lookup: true}", "sensitivity: identity}", "sensitivity: identity, lookup: true}").Replace(base)
			base += "signin: {oidc: {issuer: https://idp.example, client_id: c, " + sec + ", redirect_url: https://c.example/v1/me/oidc/callback, claim: email, field: phone}}\n"
		}
		if strings.HasPrefix(key, "statistics.dimensions.") {
			// A date field by year, or a text field's categories.
			base = strings.Replace(base, "schema:\n", "schema:\n  - {name: born_on, type: date, sensitivity: identity}\n  - {name: left_on, type: date, sensitivity: identity}\n", 1)
			d := "{field: born_on, by: year}"
			switch key {
			case "statistics.dimensions.<dimension>.band":
				d = "{field: born_on, band: 10y}"
			case "statistics.dimensions.<dimension>.by":
				d = "{event: created, by: year}"
			case "statistics.dimensions.<dimension>.values":
				d = "{field: notes, values: [a]}"
			}
			base += "statistics: {dimensions: {d: " + d + "}}\n"
		}
		before, err := Parse("base.yaml", []byte(base), environ)
		if err != nil {
			t.Fatalf("base with %q: %v", environ, err)
		}
		after, err := Parse("base.yaml", []byte(base), append(environ, v+"="+value))
		if err != nil {
			t.Errorf("%s=%s: %v", v, value, err)
			continue
		}
		before.Settings, after.Settings = nil, nil // a setting's source changes; its value may not
		if reflect.DeepEqual(before, after) {
			t.Errorf("%s=%s (key %s) changed nothing", v, value, key)
		}
	}
	for key := range samples {
		t.Errorf("sample for %s, which is no key", key)
	}
}

func TestEnvironmentNested(t *testing.T) {
	// An entry for a role without one in guard.roles.
	cfg, err := Parse("base.yaml", []byte(envBase), []string{"COFFRE_GUARD_ROLES_CLERK_SUBJECTS_PER_DAY=7", "COFFRE_PURPOSES_OTHER_FIELDS_NOTES=last4"})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Guard.Roles["clerk"].SubjectsPerDay; got != 7 {
		t.Errorf("clerk's subjects_per_day = %d, want 7", got)
	}
	if got := cfg.Policy.Purposes["other"].Fields["notes"].String(); got != "last4" {
		t.Errorf("other's notes = %q, want last4", got)
	}

	tests := []struct{ env, want string }{
		{"COFFRE_GUARD_ROLES_CASEWORKER_HOURS=never", `environment: COFFRE_GUARD_ROLES_CASEWORKER_HOURS: invalid hours "never"`},
		{"COFFRE_GUARD_DEFAULTS_RATE=fast", `environment: COFFRE_GUARD_DEFAULTS_RATE: want {per_second: N, burst: N}, or off for no rate limit, got the string "fast"`},
		{"COFFRE_GUARD_ROLES_CASEWORKER_SUBJECTS_PER_DAY=-1", `environment: COFFRE_GUARD_ROLES_CASEWORKER_SUBJECTS_PER_DAY: must be between 0 (no limit) and 10000000, got -1`},
		{"COFFRE_GUARD_ROLES_CLERK_ALL_UNITS=yes", `environment: COFFRE_GUARD_ROLES_CLERK_ALL_UNITS: want true or false, got the string "yes"`},
		{"COFFRE_ROLES_CASEWORKER_PURPOSES=case-handling,othr", `environment: COFFRE_ROLES_CASEWORKER_PURPOSES: unknown purpose "othr" (did you mean "other"?)`},
		{"COFFRE_ROLES_CLERK_MFA=sms", `environment: COFFRE_ROLES_CLERK_MFA: unknown second factor "sms"`},
		{"COFFRE_PURPOSES_OTHER_FIELDS_PHONE=hidden", `environment: COFFRE_PURPOSES_OTHER_FIELDS_PHONE: unknown treatment "hidden"`},
		{"COFFRE_SCHEMA_PHONE_LOOKUP=maybe", `environment: COFFRE_SCHEMA_PHONE_LOOKUP: want true or false, got the string "maybe"`},
		{"COFFRE_SCHEMA_PHONE_TYPE=datum", `environment: COFFRE_SCHEMA_PHONE_TYPE: unknown field type "datum" (did you mean "date"?)`},
		{"COFFRE_GUARD_TRUSTED_PROXIES=10.0.0.1", `environment: COFFRE_GUARD_TRUSTED_PROXIES: invalid network "10.0.0.1"`},
		{"COFFRE_LOGIN_LOCK_FOR=30s", `environment: COFFRE_LOGIN_LOCK_FOR: must be 0 (until a security officer lifts it) or between`},
	}
	// A purpose's field description and purpose other-fields' description
	// have one variable.
	base := strings.Replace(envBase, "roles:\n", "  other-fields: {fields: {phone: clear}}\nroles:\n", 1)
	base = strings.Replace(base, "{name: notes,", "{name: description,", 1)
	tests = append(tests, struct{ env, want string }{"COFFRE_PURPOSES_OTHER_FIELDS_DESCRIPTION=clear",
		`environment: COFFRE_PURPOSES_OTHER_FIELDS_DESCRIPTION: names two keys, purposes.other.fields.description and purposes.other-fields.description`})
	for _, tt := range tests {
		_, err := Parse("base.yaml", []byte(base), []string{tt.env})
		var cerr *Error
		if !errors.As(err, &cerr) || len(cerr.Problems) != 1 || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("Parse with %s = %v, want one problem %q", tt.env, err, tt.want)
		}
	}
}
