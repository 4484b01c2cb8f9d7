package config

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"reflect"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agnivade/levenshtein"
	"gopkg.in/yaml.v3"

	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/mask"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/retention"
)

// file is coffre.yaml as written. Each field is a key, named by its `key`
// tag, in the order unknown-key hints list them; the options are those of
// [parser.bind] and [named].
type file struct {
	Store        leaf `key:"store"`
	StoreMigrate leaf `key:"store_migrate"`
	Postgres     struct {
		StatementTimeout leaf `key:"statement_timeout"`
		LockTimeout      leaf `key:"lock_timeout"`
		MaxConns         leaf `key:"max_conns"`
		MinConns         leaf `key:"min_conns"`
	} `key:"postgres"`
	Listen      leaf         `key:"listen"`
	LogFormat   leaf         `key:"log_format"`
	DataDir     leaf         `key:"data_dir"`
	RootKeyFile leaf         `key:"root_key_file"`
	Sessions    sessionsFile `key:"sessions"`
	Limits      struct {
		MaxBodyBytes  leaf `key:"max_body_bytes"`
		ReasonMaxLen  leaf `key:"reason_max_len"`
		ReasonPattern leaf `key:"reason_pattern"`
	} `key:"limits"`
	Audit struct {
		Witnesses leaf `key:"witnesses,list"`
		MaxLag    leaf `key:"max_lag"`
		Epoch     leaf `key:"epoch"`
		Retention leaf `key:"retention"`
		Stream    struct {
			Syslog struct {
				Address    leaf `key:"address"`
				TLS        leaf `key:"tls"`
				CAFile     leaf `key:"ca_file"`
				ServerName leaf `key:"server_name"`
			} `key:"syslog"`
			Webhook hookFile `key:"webhook"`
		} `key:"stream"`
	} `key:"audit"`
	WebAuthn struct {
		RPID        leaf `key:"rp_id"`
		RPName      leaf `key:"rp_name"`
		Origins     leaf `key:"origins,list"`
		Attestation struct {
			AAGUIDs leaf `key:"aaguids,list"`
			Roots   leaf `key:"roots,list"`
		} `key:"attestation"`
	} `key:"webauthn"`
	Login struct {
		MaxFailures   leaf `key:"max_failures"`
		FailureWindow leaf `key:"failure_window"`
		LockFor       leaf `key:"lock_for"`
		PerOrigin     leaf `key:"per_origin_per_minute"`
		DisableAfter  leaf `key:"disable_after"`
	} `key:"login"`
	Partners struct {
		Listen leaf `key:"listen"`
		Hosts  leaf `key:"hosts,list"`
	} `key:"partners"`
	Metrics struct {
		Listen leaf `key:"listen"`
		Token  leaf `key:"token"`
	} `key:"metrics"`
	Seal struct {
		By     leaf `key:"by"`
		PKCS11 struct {
			Module  leaf `key:"module"`
			Token   leaf `key:"token"`
			Key     leaf `key:"key"`
			PINFile leaf `key:"pin_file"`
			PINEnv  leaf `key:"pin_env"`
		} `key:"pkcs11"`
	} `key:"seal"`
	Delivery struct {
		MaxTries    leaf `key:"max_tries"`
		Backoff     leaf `key:"backoff"`
		Timeout     leaf `key:"timeout"`
		Lease       leaf `key:"lease"`
		Concurrency leaf `key:"concurrency"`
		Batch       leaf `key:"batch"`
		Rates       struct {
			Email   leaf `key:"email"`
			Webhook leaf `key:"webhook"`
			SMS     leaf `key:"sms"`
		} `key:"rates"`
		SMTP struct {
			Host         leaf `key:"host"`
			Port         leaf `key:"port"`
			StartTLS     leaf `key:"starttls"`
			Username     leaf `key:"username"`
			PasswordFile leaf `key:"password_file"`
			PasswordEnv  leaf `key:"password_env"`
			From         leaf `key:"from"`
			ReplyTo      leaf `key:"reply_to"`
		} `key:"smtp"`
		SMS hookFile `key:"sms"`
	} `key:"delivery"`
	Notices struct {
		Organisation  leaf `key:"organisation"`
		Where         leaf `key:"where"`
		Language      leaf `key:"language"`
		LanguageField leaf `key:"language_field"`
		Contacts      leaf `key:"contacts,list"`
		QuietStart    leaf `key:"quiet_start"`
		QuietEnd      leaf `key:"quiet_end"`
		DigestAt      leaf `key:"digest_at"`
		Timezone      leaf `key:"timezone"`
		// ContactCoolingOff: issue 14's cooling-off of a contact change.
		ContactCoolingOff leaf `key:"contact_cooling_off"`
	} `key:"notices"`
	Alerts struct {
		Email   leaf     `key:"email,list"`
		Webhook hookFile `key:"webhook"`
		SMS     leaf     `key:"sms,list"`
	} `key:"alerts"`
	Rights struct {
		HandlerRole       leaf `key:"handler_role"`
		RestrictedReaders leaf `key:"restricted_readers,list"`
		Controller        leaf `key:"controller"`
		DPO               leaf `key:"dpo"`
		Authority         leaf `key:"authority"`
	} `key:"rights"`
	Retention struct {
		Record   leaf `key:"record"`
		Activity leaf `key:"activity,list"`
		Every    leaf `key:"every"`
		Batch    leaf `key:"batch"`
		Rest     leaf `key:"rest"`
	} `key:"retention"`
	Signin     signinFile         `key:"signin"`
	Statistics statisticsFile     `key:"statistics"`
	Tracing    tracingFile        `key:"tracing"`
	Schema     schemaFile         `key:"schema"`
	Purposes   named[purposeFile] `key:"purposes"`
	Roles      named[roleFile]    `key:"roles"`
	Guard      struct {
		Timezone        leaf               `key:"timezone"`
		TrustedNetworks leaf               `key:"trusted_networks,list"`
		TrustedProxies  leaf               `key:"trusted_proxies,list"`
		TwoApprovers    leaf               `key:"two_approvers_over"`
		ApproverMinAge  leaf               `key:"approver_min_age"`
		Defaults        guardLimits        `key:"defaults"`
		Roles           named[guardLimits] `key:"roles,names=roles"`
	} `key:"guard"`
}

type sessionsFile struct {
	Idle       leaf `key:"idle"`
	Absolute   leaf `key:"absolute"`
	LoginToken leaf `key:"login_token"`
	StepUp     leaf `key:"step_up"`
}

// schemaFile is the list of fields, each named in paths by its name when it
// has a valid one (schema.phone), by its index otherwise (schema[3]).
type schemaFile struct {
	n     *yaml.Node
	items []fieldFile
}

type fieldFile struct {
	Name        leaf `key:"name"`
	Type        leaf `key:"type"`
	Sensitivity leaf `key:"sensitivity"`
	Required    leaf `key:"required"`
	Lookup      leaf `key:"lookup"`
	MaxLen      leaf `key:"max_len"`
	Retention   leaf `key:"retention"`

	n    *yaml.Node
	path string // schema.NAME when it has a valid name, else schema[INDEX]
}

func (s *schemaFile) bind(p *parser, _, n *yaml.Node, path string, _ string) {
	s.n = n
	items := p.list(n, path, yaml.SequenceNode)
	if len(items) == 0 && deref(n).Kind == yaml.SequenceNode {
		p.errorf(n, path, "empty: declare at least one field of the record schema")
	}
	for i, item := range items {
		f := fieldFile{n: item, path: fmt.Sprintf("schema[%d]", i)}
		ri := deref(item)
		if ri.Kind != yaml.MappingNode {
			p.errorf(item, f.path, "want a mapping with name, type and sensitivity, got %s", describe(ri))
			continue
		}
		for j := 0; j+1 < len(ri.Content); j += 2 {
			if k, v := deref(ri.Content[j]), deref(ri.Content[j+1]); k.Value == "name" && v.Kind == yaml.ScalarNode && v.ShortTag() == "!!str" && fieldNameRE.MatchString(v.Value) {
				f.path = "schema." + v.Value
				p.names["schema"] = append(p.names["schema"], v.Value)
			}
		}
		p.bind(nil, item, f.path, "", reflect.ValueOf(&f).Elem())
		s.items = append(s.items, f)
	}
}

type purposeFile struct {
	Description   leaf        `key:"description"`
	RequireReason leaf        `key:"require_reason"`
	StepUp        leaf        `key:"step_up"`
	StepUpWindow  leaf        `key:"step_up_window"`
	StepUpGroup   leaf        `key:"step_up_group"`
	Notice        leaf        `key:"notice"`
	NamesOperator leaf        `key:"notice_names_operator"`
	DeferredBasis leaf        `key:"deferred_basis"`
	DeferredFor   leaf        `key:"deferred_for"`
	Fields        named[leaf] `key:"fields,names=schema"`
	Updates       leaf        `key:"updates,list"`
	Consent       leaf        `key:"consent"`
	ConsentValid  leaf        `key:"consent_valid"`
	ConsentLasts  leaf        `key:"consent_lasts"`
	BreakGlass    leaf        `key:"break_glass"`
}

type roleFile struct {
	Purposes     leaf `key:"purposes,list"`
	Permissions  leaf `key:"permissions,list"`
	MFA          leaf `key:"mfa,list"`
	AttestedKeys leaf `key:"attested_keys"`
	Partner      leaf `key:"partner"`
}

// guardLimits is guard.defaults or a role under guard.roles.
type guardLimits struct {
	AllUnits        leaf         `key:"all_units"`
	Rate            rateFile     `key:"rate"`
	SubjectsPerHr   leaf         `key:"subjects_per_hour"`
	SubjectsPerDay  leaf         `key:"subjects_per_day"`
	OutOfCaseload   leaf         `key:"out_of_caseload_per_day"`
	OutOfUnit       leaf         `key:"out_of_unit_per_day"`
	Untrusted       leaf         `key:"untrusted_origin_per_day"`
	LookupsPerHour  leaf         `key:"lookups_per_hour"`
	MissesPerHour   leaf         `key:"misses_per_hour"`
	CreatesPerDay   leaf         `key:"creates_per_day"`
	UpdatesPerHour  leaf         `key:"updates_per_hour"`
	UpdatesPerDay   leaf         `key:"updates_per_day"`
	ErasuresPerDay  leaf         `key:"erasures_per_day"`
	OperatorsPerDay leaf         `key:"operators_per_day"`
	RolesPerDay     leaf         `key:"roles_per_day"`
	ResetsPerDay    leaf         `key:"factor_resets_per_day"`
	PartnersPerDay  leaf         `key:"partners_per_day"`
	AdminBurst      leaf         `key:"admin_burst_per_hour"`
	AssignsPerDay   leaf         `key:"assignments_per_day"`
	BreakGlass      leaf         `key:"break_glass_per_day"`
	Velocity        velocityFile `key:"velocity"`
	EnumerationRun  leaf         `key:"enumeration_run"`
	Hours           leaf         `key:"hours"`
	HardMargin      leaf         `key:"hard_margin"`
}

// rateFile and velocityFile are mappings, or off (their "." leaf).
type rateFile struct {
	Off       leaf `key:"."`
	PerSecond leaf `key:"per_second"`
	Burst     leaf `key:"burst"`
}

type velocityFile struct {
	Off      leaf `key:"."`
	Subjects leaf `key:"subjects"`
	Window   leaf `key:"window"`
}

// lookupTypes are the field types that may carry a blind index. Dates and
// addresses may not: their values are few or guessable, so their blind index
// could be reversed by hashing every candidate.
var lookupTypes = []policy.FieldType{policy.TypeEmail, policy.TypePhone, policy.TypeNationalID, policy.TypeText, policy.TypeName}

// mfaFactors are the values of a role's mfa; stepUps those of a purpose's
// step_up, off standing for policy.Purpose.StepUp "".
var (
	mfaFactors = []string{"totp", "webauthn"}
	stepUps    = []string{"off", "any", "webauthn"}
	consents   = []string{"off", "required"}
)

// check validates f and builds the configuration, applying defaults. The
// policy is built only when no problem was found; until then, the schema
// and purposes need not be valid.
func (p *parser) check(f *file) *Config {
	c := p.settings(f)
	fields, declaredFields := p.schema(f.Schema)
	purposes, declaredPurposes, purposeStepUps := p.purposes(f.Purposes, declaredFields, c.StepUpFor)
	consentPurposes := map[string]bool{}
	for _, pu := range purposes {
		consentPurposes[pu.Name] = pu.Consent
	}
	roles, declaredRoles := p.roles(f.Roles, declaredPurposes, purposeStepUps, consentPurposes, f.WebAuthn.Attestation.Roots)
	p.signinField(f, fields)
	c.Guard = p.guard(f, roles, declaredRoles)
	c.Notices = p.notices(f, fields, c.Guard.Location)
	c.Rights = p.rights(f, roles, declaredRoles, c.Notices.Organisation)
	c.Retention = p.retention(f, fields, declaredPurposes)
	c.Statistics = p.statistics(f, fields)
	c.Tracing = p.tracing(f)
	if p.total() == 0 {
		c.Policy = policy.New(fields, purposes, roles)
	}
	return c
}

// set reads l and stores its value in dst unless check says what is wrong
// with it. It reports false when l is set to a bad value.
func set[T any](p *parser, l leaf, read func(*parser, leaf) (T, bool), dst *T, check func(T) string) bool {
	v, ok := read(p, l)
	if !ok {
		if !l.set() {
			p.noteDefault(l.path, *dst)
		}
		return !l.set()
	}
	if msg := check(v); msg != "" {
		p.bad(l, "%s", msg)
		return false
	}
	*dst = v
	return true
}

// dayDur reads a duration in whole days ("90d") or a Go duration.
func dayDur(p *parser, l leaf) (time.Duration, bool) {
	s, ok := read[string](p, l)
	if !ok {
		return 0, false
	}
	if n, found := strings.CutSuffix(s, "d"); found {
		if d, err := strconv.ParseInt(n, 10, 32); err == nil && d >= 0 && strconv.FormatInt(d, 10) == n {
			return time.Duration(d) * 24 * time.Hour, true
		}
	} else if d, err := time.ParseDuration(s); err == nil {
		return d, true
	}
	p.bad(l, "invalid duration %s: want whole days such as 90d, or a Go duration such as 2160h", short(s))
	return 0, false
}

// span reads a calendar span as retention rules write it (1y, 18m, 90d).
func span(p *parser, l leaf) (retention.Span, bool) {
	s, ok := read[string](p, l)
	if !ok {
		return retention.Span{}, false
	}
	sp, err := retention.ParseSpan(s)
	if err != nil {
		p.bad(l, "invalid span %s: want a count and a unit (y, m, w or d), such as 1y, 10y or 18m", short(s))
		return retention.Span{}, false
	}
	return sp, true
}

func dur(p *parser, l leaf) (time.Duration, bool) {
	s, ok := read[string](p, l)
	d, err := time.ParseDuration(s)
	if ok && err != nil {
		p.bad(l, "invalid duration %s: want a Go duration such as 30m or 12h", short(s))
	}
	return d, ok && err == nil
}

// between says that a value is out of [lo, hi], with format, which is
// given lo, hi and the value; zeroOK lets 0 through too.
func between[T int | int64 | time.Duration](lo, hi T, zeroOK bool, format string) func(T) string {
	return func(v T) string {
		if (v < lo || v > hi) && !(zeroOK && v == 0) {
			return fmt.Sprintf(format, lo, hi, v)
		}
		return ""
	}
}

var positive = between(1, time.Duration(math.MaxInt64), false, "must be a positive duration, got %[3]s")

func nonEmpty(s string) string {
	if s == "" {
		return "must not be empty"
	}
	return ""
}

// settings applies the defaults and checks the scalar settings.
func (p *parser) settings(f *file) *Config {
	c := &Config{
		DataDir:         defaultDataDir,
		Listen:          defaultListen,
		SessionIdle:     defaultIdle,
		SessionAbsolute: defaultAbsolute,
		LoginTokenTTL:   defaultLoginToken,
		StepUpFor:       defaultStepUp,
		MaxBodyBytes:    defaultMaxBodyBytes,
		ReasonMaxLen:    defaultReasonMaxLen,
		AuditMaxLag:     defaultAuditMaxLag,
	}
	set(p, f.Audit.MaxLag, dur, &c.AuditMaxLag, between(time.Second, math.MaxInt64, false, "must be at least %[1]s, got %[3]s"))
	c.AuditWitnesses, _ = each(p, f.Audit.Witnesses, true, func(s string) (string, string) {
		if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "", fmt.Sprintf("want an http(s) URL, got %s", short(s))
		}
		return s, ""
	})
	c.AuditEpoch = defaultAuditEpoch
	epochOK := set(p, f.Audit.Epoch, span, &c.AuditEpoch, func(s retention.Span) string {
		if s.Shorter(retention.Span{Days: minAuditEpochDays}) {
			return fmt.Sprintf("must be at least %dd (an epoch is a closed part of the log, such as a year), got %s", minAuditEpochDays, s)
		}
		return ""
	})
	if set(p, f.Audit.Retention, span, &c.AuditRetention, func(retention.Span) string { return "" }) && f.Audit.Retention.set() && epochOK && c.AuditRetention.Shorter(c.AuditEpoch) {
		p.bad(f.Audit.Retention, "must be at least audit.epoch (%s), got %s: a whole epoch is deleted at once", c.AuditEpoch, c.AuditRetention)
	}
	c.LogFormat = LogText
	set(p, f.LogFormat, read[string], &c.LogFormat, func(s string) string {
		if s != LogText && s != LogJSON {
			return fmt.Sprintf("want %s or %s (one JSON object a line, for a log shipper), got %s", LogText, LogJSON, short(s))
		}
		return ""
	})
	set(p, f.DataDir, read[string], &c.DataDir, nonEmpty)
	dir := strings.TrimRight(c.DataDir, "/")
	c.Store, c.RootKeyFile = "sqlite:"+dir+"/coffre.db", dir+"/root.key"
	set(p, f.Store, read[string], &c.Store, checkStore)
	c.StoreMigrate = MigrateAuto
	set(p, f.StoreMigrate, read[string], &c.StoreMigrate, func(s string) string {
		if s != MigrateAuto && s != MigrateManual {
			return fmt.Sprintf("want %s (each start applies the pending migrations) or %s (coffre migrate applies them; a start refuses a store that has some), got %s", MigrateAuto, MigrateManual, short(s))
		}
		return ""
	})
	c.Postgres = p.postgres(f)
	set(p, f.Listen, read[string], &c.Listen, func(s string) string {
		_, _, msg := splitListen(s, 0, "127.0.0.1:8080", "")
		return msg
	})
	set(p, f.RootKeyFile, read[string], &c.RootKeyFile, nonEmpty)

	s := f.Sessions
	idleOK := set(p, s.Idle, dur, &c.SessionIdle, positive)
	absOK := set(p, s.Absolute, dur, &c.SessionAbsolute, positive)
	set(p, s.LoginToken, dur, &c.LoginTokenTTL, positive)
	if at := firstSet(s.Absolute, s.Idle); idleOK && absOK && c.SessionAbsolute < c.SessionIdle {
		p.bad(at, "sessions.absolute (%s) must be at least sessions.idle (%s)", c.SessionAbsolute, c.SessionIdle)
	}
	set(p, s.StepUp, dur, &c.StepUpFor, between(minStepUp, maxStepUp, false, "must be between %s and %s, got %s"))
	set(p, f.Limits.MaxBodyBytes, read[int64], &c.MaxBodyBytes, between[int64](minBodyBytes, maxBodyBytes, false, "must be between %d (1 KiB) and %d (16 MiB), got %d"))
	set(p, f.Limits.ReasonMaxLen, read[int], &c.ReasonMaxLen, between(1, maxReasonMaxLen, false, "must be between %d and %d, got %d"))
	if s, ok := read[string](p, f.Limits.ReasonPattern); ok {
		re, msg := reasonPattern(s)
		if msg != "" {
			p.bad(f.Limits.ReasonPattern, "%s", msg)
		} else {
			c.ReasonPattern, c.ReasonPatternText = re, s
		}
	}

	lf := f.Login
	c.Login = Login{MaxFailures: defaultMaxFailures, FailureWindow: defaultFailWindow, LockFor: defaultLockFor, PerOrigin: defaultPerOrigin}
	set(p, lf.MaxFailures, read[int], &c.Login.MaxFailures, between(1, maxMaxFailures, false, "must be between %d and %d, got %d"))
	set(p, lf.FailureWindow, dur, &c.Login.FailureWindow, between(minFailWindow, maxFailWindow, false, "must be between %s and %s, got %s"))
	// 0 is a duration too, and the one Go writes without a unit.
	if rn := deref(lf.LockFor.n); rn.ShortTag() == "!!int" && rn.Value == "0" {
		c.Login.LockFor = 0
	} else {
		set(p, lf.LockFor, dur, &c.Login.LockFor, between(minLockFor, maxLockFor, true, "must be 0 (until a security officer lifts it) or between %s and %s (30 days), got %s"))
	}
	set(p, lf.PerOrigin, read[int], &c.Login.PerOrigin, between(1, maxPerOrigin, false, "must be between %d and %d, got %d"))
	if rn := deref(lf.DisableAfter.n); rn.ShortTag() == "!!int" && rn.Value == "0" {
		c.Login.DisableAfter = 0
	} else {
		set(p, lf.DisableAfter, dayDur, &c.Login.DisableAfter, func(d time.Duration) string {
			if d != 0 && (d < minDisableAfter || d > maxDisableAfter) {
				return fmt.Sprintf("must be 0 (never) or between 1d and 3650d (10 years), got %s", short(deref(lf.DisableAfter.n).Value))
			}
			return ""
		})
	}

	c.WebAuthn = p.webauthn(f)
	c.Partners = p.partners(f, c.Listen)
	c.Metrics = p.metrics(f, c.Listen, c.Partners.Listen)
	c.AuditStream = p.auditStream(f)
	c.Seal.PKCS11 = p.pkcs11(f)
	by := SealByOfficer
	set(p, f.Seal.By, read[string], &by, func(s string) string {
		if s != SealByOfficer && s != SealByQuorum {
			return fmt.Sprintf("want %s (an operator with the seal permission seals) or %s (M share holders seal, no account can), got %s", SealByOfficer, SealByQuorum, short(s))
		}
		return ""
	})
	c.Seal.ByQuorum = by == SealByQuorum
	c.Delivery, c.Alerts = p.delivery(f)
	c.Signin = p.signin(f)
	return c
}

// reasonPattern compiles limits.reason_pattern, anchored at the start
// of the reason: what every typed reason begins with (add $ to the
// pattern to make it the whole reason). A pattern that does not compile,
// that matches the empty reason (it would check nothing) or that can
// match nothing at all is refused.
func reasonPattern(s string) (*regexp.Regexp, string) {
	const example = "such as [A-Z]+-[0-9]+ for a ticket id like OPS-1234"
	if s == "" || len(s) > maxReasonPattern {
		return nil, fmt.Sprintf("want a Go regular expression of 1 to %d bytes, %s", maxReasonPattern, example)
	}
	_, err := regexp.Compile(s)
	if err != nil {
		// The error names the part of the pattern that fails, never more.
		var se *syntax.Error
		if errors.As(err, &se) {
			return nil, fmt.Sprintf("not a Go regular expression: %s: %s", se.Code, short(se.Expr))
		}
		return nil, fmt.Sprintf("not a Go regular expression, %s", example)
	}
	re, err := regexp.Compile(`^(?:` + s + `)`)
	if err != nil {
		return nil, fmt.Sprintf("not a Go regular expression, %s", example)
	}
	if re.MatchString("") {
		return nil, fmt.Sprintf("matches an empty reason, so it checks nothing: want what a reason begins with, %s", example)
	}
	if parsed, err := syntax.Parse(s, syntax.Perl); err == nil && matchesNothing(parsed.Simplify()) {
		return nil, fmt.Sprintf("matches no reason at all: want what a reason begins with, %s", example)
	}
	return re, ""
}

// matchesNothing reports whether re can match no string: it is, or
// concatenates, an empty class or a no-match (as [^\x00-\x{10FFFF}]),
// or alternates only such.
func matchesNothing(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpNoMatch:
		return true
	case syntax.OpCharClass:
		return len(re.Rune) == 0
	case syntax.OpConcat, syntax.OpCapture, syntax.OpPlus:
		return slices.ContainsFunc(re.Sub, matchesNothing)
	case syntax.OpAlternate:
		return !slices.ContainsFunc(re.Sub, func(s *syntax.Regexp) bool { return !matchesNothing(s) })
	}
	return false
}

// pkcs11 checks the seal.pkcs11 settings: all or nothing, and the PIN
// from exactly one of a file or a variable.
func (p *parser) pkcs11(f *file) PKCS11 {
	pf := f.Seal.PKCS11
	var c PKCS11
	set(p, pf.Module, read[string], &c.Module, func(s string) string {
		if !filepath.IsAbs(s) {
			return fmt.Sprintf("want the absolute path of the token's PKCS#11 library, such as /usr/lib/softhsm/libsofthsm2.so, got %s", short(s))
		}
		return ""
	})
	set(p, pf.Token, read[string], &c.Token, nonEmpty)
	set(p, pf.Key, read[string], &c.Key, func(s string) string {
		if s == "" || len(s) > 255 {
			return "want a key label of 1 to 255 bytes"
		}
		return ""
	})
	set(p, pf.PINFile, read[string], &c.PINFile, nonEmpty)
	set(p, pf.PINEnv, read[string], &c.PINEnv, nonEmpty)
	if !pf.Module.set() && !pf.Token.set() && !pf.Key.set() && !pf.PINFile.set() && !pf.PINEnv.set() {
		return PKCS11{}
	}
	for _, l := range []struct {
		l    leaf
		name string
	}{{pf.Module, "module"}, {pf.Token, "token"}, {pf.Key, "key"}} {
		if !l.l.set() {
			p.bad(firstSet(pf.Module, pf.Token, pf.Key, pf.PINFile, pf.PINEnv), "seal.pkcs11 wants %s too: module, token and key name the wrapping key", l.name)
		}
	}
	switch {
	case pf.PINFile.set() && pf.PINEnv.set():
		p.bad(pf.PINEnv, "set pin_file or pin_env, not both")
	case !pf.PINFile.set() && !pf.PINEnv.set():
		p.bad(firstSet(pf.Module, pf.Token, pf.Key), "seal.pkcs11 wants the token's PIN from pin_file or pin_env (never in this file)")
	}
	return c
}

// firstSet returns the first leaf of ls that is set.
func firstSet(ls ...leaf) leaf {
	for _, l := range ls {
		if l.set() {
			return l
		}
	}
	return ls[0]
}

// webauthn applies the defaults and checks the webauthn settings.
func (p *parser) webauthn(f *file) WebAuthn {
	wf := f.WebAuthn
	w := WebAuthn{RPID: defaultRPID, RPName: defaultRPName}
	rpIDOK := set(p, wf.RPID, read[string], &w.RPID, checkRPID)
	set(p, wf.RPName, read[string], &w.RPName, func(s string) string { return nonEmpty(strings.TrimSpace(s)) })
	origins, n := each(p, wf.Origins, true, func(o string) (string, string) {
		if host, msg := checkOrigin(o); msg != "" || !rpIDOK || onRPID(host, w.RPID) {
			return o, msg
		}
		return o, fmt.Sprintf("origin %s is not on %s or one of its subdomains, so browsers would refuse WebAuthn there", short(o), short(w.RPID))
	})
	switch example := "https://" + w.RPID; {
	case n < 0:
		origins = slices.Clone(defaultOrigins)
		if rpIDOK && w.RPID != defaultRPID {
			p.bad(wf.RPID, "the default origins (%s) are not on %s: set webauthn.origins too", strings.Join(defaultOrigins, ", "), short(w.RPID))
		}
	case n == 0 && w.RPID == defaultRPID:
		example = defaultOrigins[0]
		fallthrough
	case n == 0:
		p.bad(wf.Origins, "want at least one origin, such as %s", example)
	}
	w.Origins = origins
	w.Attestation = p.attestation(wf.Attestation.AAGUIDs, wf.Attestation.Roots)
	return w
}

// partners applies the defaults and checks the partners settings. listen is
// the HTTP listen address, which the partners listener may not take too.
func (p *parser) partners(f *file, listen string) Partners {
	pf := f.Partners
	var pa Partners
	set(p, pf.Listen, read[string], &pa.Listen, func(s string) string { return checkPartnersListen(s, listen) })
	var n int
	if pa.Hosts, n = each(p, pf.Hosts, true, checkCertHost); n < 0 {
		pa.Hosts = slices.Clone(defaultPartnerHosts)
	} else if n == 0 {
		p.bad(pf.Hosts, "want at least one host name or IP address, such as %s (leave hosts out for %s)",
			defaultPartnerHosts[0], strings.Join(defaultPartnerHosts, ", "))
	}
	return pa
}

// metrics checks the metrics settings; listen and partners are the
// addresses already taken.
func (p *parser) metrics(f *file, listen, partners string) Metrics {
	var m Metrics
	set(p, f.Metrics.Listen, read[string], &m.Listen, func(s string) string {
		return checkOwnListen(s, "metrics", "127.0.0.1:9090", " (leave listen out to serve /metrics on listen)", "listen", listen, "partners.listen", partners)
	})
	set(p, f.Metrics.Token, read[string], &m.Token, func(s string) string {
		if strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r > '~' }) {
			return "want visible ASCII characters only, without spaces (the token is not shown)"
		} else if s != "" && len(s) < minMetricsToken {
			return fmt.Sprintf("too short (%d characters): want at least %d, such as the output of openssl rand -hex 32", len(s), minMetricsToken)
		}
		return ""
	})
	return m
}

// auditStream checks the audit stream's sinks.
func (p *parser) auditStream(f *file) AuditStream {
	var a AuditStream
	sf := f.Audit.Stream.Syslog
	set(p, sf.Address, read[string], &a.Syslog.Address, func(s string) string {
		if s == "" {
			return ""
		}
		_, _, msg := splitListen(s, 1, "siem.example.org:6514", "")
		return msg
	})
	set(p, sf.TLS, read[bool], &a.Syslog.TLS, func(bool) string { return "" })
	set(p, sf.CAFile, read[string], &a.Syslog.CAFile, func(string) string { return "" })
	set(p, sf.ServerName, read[string], &a.Syslog.ServerName, func(s string) string {
		if s != "" && !validHostName(s) {
			return notAHost("want the receiver's host name, as its certificate names it", s, false)
		}
		return ""
	})
	for _, l := range []leaf{sf.TLS, sf.CAFile, sf.ServerName} {
		if l.set() && a.Syslog.Address == "" && !sf.Address.set() {
			p.bad(l, "is set but audit.stream.syslog.address is not: say where the receiver listens")
		}
	}
	if (a.Syslog.CAFile != "" || a.Syslog.ServerName != "") && !a.Syslog.TLS {
		p.bad(sf.TLS, "must be true when ca_file or server_name is set: they are for a TLS connection")
	}
	a.Webhook = p.hook(f.Audit.Stream.Webhook, "audit.stream.webhook")
	return a
}

// checkRPID returns what is wrong with a relying party id, or "".
func checkRPID(s string) string {
	const want = "want a lower-case host name such as coffre.example.org, without scheme, port or path"
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return fmt.Sprintf("%s, got the IP address %s: WebAuthn needs a host name", want, short(a.String()))
	}
	if validHostName(s) {
		return ""
	}
	return notAHost(want, s, false)
}

// checkCertHost returns a host that a server certificate may name, in
// canonical form (IP addresses shortest), or what is wrong with it.
func checkCertHost(s string) (host, msg string) {
	const want = "want a lower-case host name such as partners.example.org or an IP address, without scheme, port or path"
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() != "" {
		return "", fmt.Sprintf("%s, got %s: a certificate names no IPv6 zone (did you mean %q?)", want, short(s), a.WithZone("").String())
	} else if err == nil {
		return a.String(), ""
	}
	if validHostName(s) {
		return s, ""
	}
	return "", notAHost(want, s, true)
}

// notAHost says that s is not a host, suggesting the host (or, if ipOK, the
// IP address) found in what looks like a URL, host:port or host/path.
func notAHost(want, s string, ipOK bool) string {
	h := s
	if u, err := url.Parse(s); err == nil && u.Host != "" {
		h = u.Hostname()
	} else if host, _, err := net.SplitHostPort(s); err == nil {
		h = host
	} else if i := strings.IndexByte(s, '/'); i > 0 {
		h = s[:i]
	}
	h = strings.ToLower(strings.Trim(h, "[]"))
	if a, err := netip.ParseAddr(h); ipOK && err == nil && a.Zone() == "" {
		h = a.String()
	} else if !validHostName(h) {
		return fmt.Sprintf("%s, got %s", want, short(s))
	}
	return fmt.Sprintf("%s, got %s (did you mean %q?)", want, short(s), h)
}

// validHostName reports whether s is a lower-case host name: dot-separated
// labels of lower-case letters, digits and inner hyphens.
func validHostName(s string) bool { return len(s) <= 253 && hostNameRE.MatchString(s) }

// checkOrigin returns the host name of an origin, or what is wrong with it.
func checkOrigin(s string) (host, msg string) {
	const want = "want an origin as scheme://host[:port], such as https://coffre.example.org"
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return "", fmt.Sprintf("%s (http or https), got %s", want, short(s))
	}
	if host, msg = checkCertHost(strings.ToLower(u.Hostname())); msg != "" {
		return "", fmt.Sprintf("%s, got %s: invalid host %s", want, short(s), short(u.Hostname()))
	}
	// Browsers send an origin lower-case, without the scheme's default port
	// or a trailing slash, with IPv6 addresses in their shortest form, and
	// the check is exact.
	port := u.Port()
	if n, err := strconv.ParseUint(port, 10, 16); err == nil {
		port = strconv.FormatUint(n, 10)
	} else if port != "" {
		return "", fmt.Sprintf("%s, got %s: invalid port %s", want, short(s), short(port))
	}
	if port == map[string]string{"http": "80", "https": "443"}[u.Scheme] {
		port = ""
	}
	canon := u.Scheme + "://" + strings.TrimSuffix(net.JoinHostPort(host, port), ":")
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawPath != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#") {
		return "", fmt.Sprintf("%s, got %s: an origin has no user, path, query or fragment (did you mean %q?)", want, short(s), canon)
	}
	if canon != s {
		return "", fmt.Sprintf("origin %s is not written as browsers send it: did you mean %q?", short(s), canon)
	}
	return host, ""
}

// onRPID reports whether an origin's host may use credentials of the
// relying party rpID: it is rpID or one of its subdomains, or a loopback
// address when rpID is localhost.
func onRPID(host, rpID string) bool {
	return host == rpID || strings.HasSuffix(host, "."+rpID) || rpID == "localhost" && (host == "127.0.0.1" || host == "::1")
}

// splitListen splits the listen address s, whose port must be at least
// min, or says what is wrong with it (example and then tail in the message).
func splitListen(s string, min uint64, example, tail string) (host string, port uint64, msg string) {
	host, ps, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, fmt.Sprintf("want host:port, as in %s, got %s%s", example, short(s), tail)
	}
	if port, err = strconv.ParseUint(ps, 10, 16); err != nil || port < min {
		return "", 0, fmt.Sprintf("invalid port %s: want a number from %d to 65535", short(ps), min)
	}
	return host, port, ""
}

// checkPartnersListen returns what is wrong with the partners listen
// address s ("" is off), or "". listen is the HTTP listen address.
func checkPartnersListen(s, listen string) string {
	return checkOwnListen(s, "partners", "127.0.0.1:8443", " (leave listen out to disable partner access)", "listen", listen)
}

// checkOwnListen returns what is wrong with s, the address of who's own
// listener ("" is none), or "" (example and tail as for splitListen).
// taken holds pairs of a key and the address it holds, valid or not.
func checkOwnListen(s, who, example, tail string, taken ...string) string {
	host, port, msg := splitListen(s, 1, example, tail)
	if s == "" {
		return ""
	} else if msg != "" {
		return msg
	}
	// A wildcard host takes the port on every address.
	wild := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	for i := 0; i+1 < len(taken); i += 2 {
		if h, p, msg := splitListen(taken[i+1], 0, "", ""); msg == "" && p == port && (h == host || wild(h) || wild(host)) {
			return fmt.Sprintf("address %s is taken by %s (%s): give %s a port of their own", short(s), taken[i], short(taken[i+1]), who)
		}
	}
	return ""
}

// checkStore returns what is wrong with a store, or "". It never quotes the
// value, which may hold a password.
func checkStore(s string) string {
	switch _, err := url.Parse(s); {
	case s == "sqlite:":
		return "sqlite: needs a path, as in sqlite:./coffre-data/coffre.db"
	case strings.HasPrefix(s, "sqlite:"):
		return ""
	case !strings.HasPrefix(s, "postgres://") && !strings.HasPrefix(s, "postgresql://"):
		return `want "sqlite:PATH" or a "postgres://" or "postgresql://" URL`
	case err != nil:
		return "not a valid postgres:// URL"
	}
	return ""
}

// unknown says that s is not one of options, or returns "".
func unknown(what, s string, options []string) string {
	if slices.Contains(options, s) {
		return ""
	}
	return fmt.Sprintf("unknown %s %s%s", what, short(s), hint(s, options))
}

// schema checks the fields. It returns them, and the line where each field
// name, valid or not, is first defined.
func (p *parser) schema(s schemaFile) ([]policy.Field, map[string]int) {
	declared := map[string]int{}
	types, sensitivities := names(policy.FieldTypes), names(policy.Sensitivities)
	var fields []policy.Field
	for _, it := range s.items {
		var f policy.Field
		set(p, it.Name, read[string], &f.Name, func(s string) string { return badName("field", s) })
		set(p, it.Type, read[string], (*string)(&f.Type), func(s string) string { return unknown("field type", s, types) })
		set(p, it.Sensitivity, read[string], (*string)(&f.Sensitivity), func(s string) string { return unknown("sensitivity", s, sensitivities) })
		f.Required, _ = read[bool](p, it.Required)
		f.Lookup, _ = read[bool](p, it.Lookup)
		set(p, it.MaxLen, read[int], &f.MaxLen, between(1, maxFieldLen, false, "must be between %d and %d, got %d (leave it out for the type's default)"))
		f.Retention, _ = read[string](p, it.Retention)
		p.require(leaf{n: it.n, path: it.path}, "name type sensitivity", it.Name, it.Type, it.Sensitivity)
		if f.Lookup && f.Type != "" && !slices.Contains(lookupTypes, f.Type) {
			p.bad(it.Lookup, "lookup is not allowed on %s fields, only on %s: a blind index over values this easy to guess can be reversed", f.Type, strings.Join(names(lookupTypes), ", "))
		}
		if first, dup := declared[f.Name]; dup && f.Name != "" {
			p.bad(it.Name, "field %q defined twice (first at line %d)", f.Name, first)
		} else if f.Name != "" {
			declared[f.Name] = it.Name.n.Line
		}
		fields = append(fields, f)
	}
	// Retention rules may name any date field, defined before or after.
	var dates []string
	for _, f := range fields {
		if f.Type == policy.TypeDate {
			dates = append(dates, f.Name)
		}
	}
	for i, it := range s.items {
		if fields[i].Retention == "" {
			continue
		}
		r, err := retention.Parse(fields[i].Retention, dates)
		if err != nil {
			p.bad(it.Retention, "%v", err)
			continue
		}
		fields[i].Keep = &r
	}
	return fields, declared
}

// badName says what is wrong with the name of a field, purpose or role, or
// returns "".
func badName(what, s string) string {
	re, other := nameRE, "-"
	if what == "field" {
		re, other = fieldNameRE, "_"
	}
	if re.MatchString(s) {
		return ""
	}
	return fmt.Sprintf("invalid %s name %s: want a lower-case letter, then up to 62 lower-case letters, digits or %s", what, short(s), other)
}

// purposes checks the purposes. It returns them, the names of all those
// defined, valid or not, and their step-up. A purpose's step-up window
// defaults to window (sessions.step_up).
func (p *parser) purposes(m named[purposeFile], declaredFields map[string]int, window time.Duration) ([]*policy.Purpose, map[string]bool, map[string]string) {
	fieldNames := sortedKeys(declaredFields)
	treatments := append([]string{"clear", "deny"}, mask.Names...)
	declared := map[string]bool{}
	stepUp := map[string]string{}
	var out []*policy.Purpose
	var groups []leaf // each purpose's step_up_group
	for _, e := range m {
		if !entryOK(p, e, declared, "purpose", "description and fields") {
			continue
		}
		v := e.Val
		pu := &policy.Purpose{Name: e.Name, Fields: map[string]policy.Treatment{}}
		pu.Description, _ = read[string](p, v.Description)
		pu.RequireReason, _ = read[bool](p, v.RequireReason)
		stepOK := set(p, v.StepUp, read[string], &pu.StepUp, func(s string) string { return unknown("step-up", s, stepUps) })
		if pu.StepUp == "off" {
			pu.StepUp = ""
		}
		if pu.StepUp != "" {
			pu.StepUpWindow = window
		}
		stepUp[e.Name] = pu.StepUp
		for _, l := range []leaf{v.StepUpWindow, v.StepUpGroup} {
			if l.set() && stepOK && pu.StepUp == "" {
				p.bad(l, "has no effect while step_up is off: set step_up to any or webauthn, or remove this key")
			}
		}
		set(p, v.StepUpWindow, dur, &pu.StepUpWindow, between(minStepUp, maxStepUp, false, "must be between %s and %s, got %s"))
		set(p, v.StepUpGroup, read[string], &pu.StepUpGroup, func(s string) string { return badName("step-up group", s) })
		groups = append(groups, v.StepUpGroup)
		p.notice(v, pu)
		for _, f := range v.Fields {
			if _, known := declaredFields[f.Name]; !known {
				p.errorf(f.K, f.Path, "unknown field %s%s", short(f.Name), suggestion(f.Name, fieldNames))
			}
			rv := deref(f.Val.n)
			s := rv.Value
			t := policy.Treatment{Action: policy.Masked, Mask: s}
			switch {
			case rv.Kind != yaml.ScalarNode || rv.ShortTag() != "!!str":
				p.bad(f.Val, "want clear, deny or a mask (%s), got %s", strings.Join(mask.Names, ", "), describe(rv))
			case s == "clear" || s == "deny":
				t = policy.Treatment{Action: map[string]policy.Action{"clear": policy.Clear, "deny": policy.Deny}[s]}
			case !mask.Valid(s):
				p.bad(f.Val, "unknown treatment %s%s", short(s), hint(s, treatments))
			}
			pu.Fields[f.Name] = t
		}
		pu.Updates, _ = each(p, v.Updates, false, func(s string) (string, string) {
			if _, known := declaredFields[s]; !known {
				return s, fmt.Sprintf("unknown field %s%s", short(s), suggestion(s, fieldNames))
			}
			return s, ""
		})
		p.consent(v, pu, stepOK)
		out = append(out, pu)
	}
	// A group is named like no other purpose: a purpose's default group is
	// its own name.
	for i, pu := range out {
		if g := pu.StepUpGroup; g != pu.Name && declared[g] {
			p.bad(groups[i], "step-up group %q is the name of another purpose: choose a name no purpose has", g)
		}
	}
	return out, declared, stepUp
}

// consent reads a purpose's consent keys into pu: consent (off or
// required), consent_valid and consent_lasts (which only a purpose that
// asks for consent may set), and break_glass, which needs consent and a
// step-up: an emergency read without the person's consent must be proved
// by a fresh second factor, never by a session token alone. stepOK says
// whether step_up was read without a problem.
func (p *parser) consent(v purposeFile, pu *policy.Purpose, stepOK bool) {
	mode := "off"
	consentOK := set(p, v.Consent, read[string], &mode, func(s string) string { return unknown("consent", s, consents) })
	pu.Consent = mode == "required"
	for _, l := range []leaf{v.ConsentValid, v.ConsentLasts} {
		if l.set() && consentOK && !pu.Consent {
			p.bad(l, "has no effect while consent is off: set consent to required, or remove this key")
		}
	}
	set(p, v.ConsentValid, dur, &pu.ConsentValid, between(minConsentValid, maxConsentValid, false, "must be between %s and %s, got %s"))
	set(p, v.ConsentLasts, dur, &pu.ConsentLasts, between(minConsentLasts, maxConsentLasts, false, "must be between %s and %s, got %s"))
	if pu.Consent {
		pu.ConsentValid, pu.ConsentLasts = cmp.Or(pu.ConsentValid, policy.DefaultConsentValid), cmp.Or(pu.ConsentLasts, policy.DefaultConsentLasts)
	}
	if b, ok := read[bool](p, v.BreakGlass); ok && b {
		switch {
		case consentOK && !pu.Consent:
			p.bad(v.BreakGlass, "break-glass bypasses the person's consent, which this purpose does not ask for: set consent to required, or remove this key")
		case stepOK && pu.StepUp == "":
			p.bad(v.BreakGlass, "break-glass needs a fresh second factor: set step_up to any or webauthn, so that a stolen session token alone cannot break the glass")
		default:
			pu.BreakGlass = true
		}
	}
}

// roles checks the roles. It returns the valid ones, and the names of all
// those defined, valid or not. stepUps holds the step-up of the purposes,
// those a role's mfa must be able to give; roots is
// webauthn.attestation.roots, which a role's attested_keys needs.
func (p *parser) roles(m named[roleFile], declaredPurposes map[string]bool, stepUps map[string]string, consentPurposes map[string]bool, roots leaf) ([]*policy.Role, map[string]bool) {
	purposeNames := sortedKeys(declaredPurposes)
	perms := names(policy.Permissions)
	declared := map[string]bool{}
	var out []*policy.Role
	for _, e := range m {
		before := p.total()
		if !entryOK(p, e, declared, "role", "purposes and permissions") {
			continue
		}
		v := e.Val
		r := &policy.Role{Name: e.Name}
		r.Purposes, _ = each(p, v.Purposes, false, func(s string) (string, string) {
			if !declaredPurposes[s] {
				return s, fmt.Sprintf("unknown purpose %s%s", short(s), suggestion(s, purposeNames))
			}
			return s, ""
		})
		r.Permissions, _ = each(p, v.Permissions, false, func(s string) (policy.Permission, string) {
			return policy.Permission(s), unknown("permission", s, perms)
		})
		mfaBefore, n := p.total(), 0
		r.MFA, n = each(p, v.MFA, false, func(s string) (string, string) {
			if !slices.Contains(mfaFactors, s) {
				return s, fmt.Sprintf("unknown second factor %s: want %s%s", short(s), strings.Join(mfaFactors, " or "), suggestion(s, mfaFactors))
			}
			return s, ""
		})
		if n == 0 {
			p.bad(v.MFA, "want at least one of %s, got an empty list (leave mfa out to allow both)", strings.Join(mfaFactors, ", "))
		}
		mfaOK := p.total() == mfaBefore
		if v.MFA.set() && mfaOK && !slices.Contains(r.MFA, "webauthn") {
			for _, pu := range r.Purposes {
				if stepUps[pu] == "webauthn" {
					p.errorf(v.MFA.k, e.Path+".mfa", "purpose %q asks for a WebAuthn step-up, which this role cannot give: add webauthn to mfa, or set the purpose's step_up to any", pu)
				}
			}
		}
		r.Partner, _ = read[bool](p, v.Partner)
		for _, pu := range r.Purposes {
			if r.Partner && consentPurposes[pu] {
				p.bad(v.Partner, "a partner role may not declare purpose %q, which asks for the person's consent: the person decides on named staff, and partners read through pseudonyms", pu)
			}
		}
		for _, perm := range r.Permissions {
			if r.Partner && perm != policy.PermLookup {
				p.bad(v.Partner, "a partner role holds no permission but lookup, got %q: partners read and look up, nothing more", perm)
			}
		}
		if r.Has(policy.PermOperators) && r.Has(policy.PermAssign) {
			p.bad(v.Permissions, "a role holds operators or assign, not both: who creates accounts must not also fill their caseloads")
		}
		p.attestedKeys(v, r, mfaOK, roots)
		if p.total() == before && !e.Bad {
			out = append(out, r)
		}
	}
	return out, declared
}

// entryOK reports whether an entry of purposes or roles has a valid name,
// then declared, and a value, reporting it if not.
func entryOK[T any](p *parser, e entry[T], declared map[string]bool, what, want string) bool {
	if msg := badName(what, e.Name); msg != "" {
		p.errorf(e.K, what+"s", "%s", msg)
		return false
	}
	declared[e.Name] = true
	if isNull(deref(e.V)) {
		p.errorf(e.K, e.Path, "want a mapping with %s, got nothing", want)
		return false
	}
	return true
}

// location reads an IANA time zone name; nil when l is unset or bad.
func location(p *parser, l leaf) *time.Location {
	s, ok := read[string](p, l)
	if !ok {
		return nil
	}
	const want = "want an IANA time zone name such as Europe/Paris or UTC"
	loc, err := time.LoadLocation(s)
	switch {
	case s == "" || s == "Local": // LoadLocation takes both, as UTC and as the host's zone
		p.bad(l, "%s, got %s", want, short(s))
	case err != nil:
		p.bad(l, "unknown time zone %s: %s", short(s), want)
	default:
		return loc
	}
	return nil
}

// guard checks the guard section. roles are the valid roles, declaredRoles
// the names of all those defined, valid or not.
func (p *parser) guard(f *file, roles []*policy.Role, declaredRoles map[string]bool) Guard {
	gf := f.Guard
	g := Guard{Location: defaultLocation(), Roles: map[string]guard.Limits{}}
	for _, s := range defaultTrustedNetworks {
		g.TrustedNetworks = append(g.TrustedNetworks, netip.MustParsePrefix(s))
	}
	if loc := location(p, gf.Timezone); loc != nil {
		g.Location = loc
	}
	if gf.TrustedNetworks.set() {
		g.TrustedNetworks = p.prefixes(gf.TrustedNetworks)
	}
	g.TrustedProxies = p.prefixes(gf.TrustedProxies)
	g.TwoApproversOver, g.ApproverMinAge = 500, 7*24*time.Hour
	set(p, gf.ApproverMinAge, dur, &g.ApproverMinAge, between(0, 90*24*time.Hour, true, "must be 0 (any) or a duration of at most %[2]s, got %[3]s"))
	set(p, gf.TwoApprovers, read[int], &g.TwoApproversOver, between(0, maxGuardCount, false, "must be between 0 (one approver always) and %[2]d, got %[3]d"))
	base := p.limits(gf.Defaults, defaultLimits)
	for _, r := range roles {
		if guarded(r) {
			g.Roles[r.Name] = base
		}
	}
	for _, e := range gf.Roles {
		_, reads := g.Roles[e.Name]
		switch {
		case !declaredRoles[e.Name]:
			p.errorf(e.K, e.Path, "unknown role %s%s", short(e.Name), suggestion(e.Name, sortedKeys(declaredRoles)))
		case !reads && slices.ContainsFunc(roles, func(r *policy.Role) bool { return r.Name == e.Name }):
			p.errorf(e.K, e.Path, "role %q has no purposes and no create, update, erase, lookup, assign, operators, rights, hold or stats permission: no limits apply to it; remove this entry", e.Name)
		default:
			if l := p.limits(e.Val, base); reads {
				g.Roles[e.Name] = l
			}
		}
	}
	return g
}

// guarded reports whether an operator of role r has the guard's limits:
// it reaches subjects (a purpose, or a create, update, erase or lookup
// permission), assigns people to caseloads, administers operators,
// decides the persons' requests, places legal holds on them, or queries
// statistics.
func guarded(r *policy.Role) bool {
	return len(r.Purposes) > 0 || slices.ContainsFunc(r.Permissions, func(p policy.Permission) bool {
		return p == policy.PermCreate || p == policy.PermUpdate || p == policy.PermErase || p == policy.PermLookup || p == policy.PermAssign || p == policy.PermOperators || p == policy.PermRights || p == policy.PermHold || p == policy.PermStats
	})
}

// prefixes reads a list of networks in CIDR notation.
func (p *parser) prefixes(l leaf) []netip.Prefix {
	out, _ := each(p, l, true, func(s string) (netip.Prefix, string) {
		pf, err := netip.ParsePrefix(s)
		if a, aErr := netip.ParseAddr(s); err != nil && aErr == nil && a.Zone() == "" {
			return pf, fmt.Sprintf("invalid network %s: want CIDR notation such as 10.0.0.0/8 or fd00::/8 (for one address, write %s/%d)", short(s), s, a.BitLen())
		} else if err != nil {
			return pf, fmt.Sprintf("invalid network %s: want CIDR notation such as 10.0.0.0/8 or fd00::/8", short(s))
		} else if m := pf.Masked(); m != pf {
			return pf, fmt.Sprintf("network %s has address bits set beyond its /%d prefix: did you mean %s?", short(s), pf.Bits(), m)
		}
		return pf, ""
	})
	return out
}

// limits checks a mapping of guard limits, guard.defaults or a role's, and
// returns l with the limits it sets.
func (p *parser) limits(gl guardLimits, l guard.Limits) guard.Limits {
	if b, ok := read[bool](p, gl.AllUnits); ok {
		l.AllUnits = b
	}
	p.rate(gl.Rate, &l)
	count := between(0, maxGuardCount, false, "must be between 0 (no limit) and %[2]d, got %[3]d")
	set(p, gl.SubjectsPerHr, read[int], &l.SubjectsPerHour, count)
	set(p, gl.SubjectsPerDay, read[int], &l.SubjectsPerDay, count)
	set(p, gl.OutOfCaseload, read[int], &l.OutOfCaseloadPerDay, count)
	set(p, gl.OutOfUnit, read[int], &l.OutOfUnitPerDay, count)
	set(p, gl.Untrusted, read[int], &l.UntrustedPerDay, count)
	set(p, gl.LookupsPerHour, read[int], &l.LookupsPerHour, count)
	set(p, gl.MissesPerHour, read[int], &l.MissesPerHour, count)
	set(p, gl.CreatesPerDay, read[int], &l.CreatesPerDay, count)
	set(p, gl.UpdatesPerHour, read[int], &l.UpdatesPerHour, count)
	set(p, gl.UpdatesPerDay, read[int], &l.UpdatesPerDay, count)
	set(p, gl.ErasuresPerDay, read[int], &l.ErasuresPerDay, count)
	set(p, gl.AssignsPerDay, read[int], &l.AssignmentsPerDay, count)
	set(p, gl.BreakGlass, read[int], &l.BreakGlassPerDay, count)
	set(p, gl.OperatorsPerDay, read[int], &l.OperatorsPerDay, count)
	set(p, gl.RolesPerDay, read[int], &l.RolesPerDay, count)
	set(p, gl.ResetsPerDay, read[int], &l.FactorResetsPerDay, count)
	set(p, gl.PartnersPerDay, read[int], &l.PartnersPerDay, count)
	set(p, gl.AdminBurst, read[int], &l.AdminBurstPerHour, count)
	set(p, gl.HardMargin, read[int], &l.HardMargin, between(0, maxGuardCount, false, "must be between 0 (off) and %[2]d, got %[3]d"))
	p.velocity(gl.Velocity, &l)
	set(p, gl.EnumerationRun, read[int], &l.EnumerationRun, between(minEnumerationRun, maxEnumerationRun, true, "must be 0 (off) or between %d and %d, got %d"))
	if s, ok := read[string](p, gl.Hours); ok {
		if h, err := guard.ParseHours(s); err != nil {
			p.bad(gl.Hours, "invalid hours %s: %v", short(s), err)
		} else {
			l.Hours = h
		}
	}
	return l
}

// scalarOff reads the "." leaf of rate or velocity, a mapping of subs or
// off (off, false or 0): done is true when that settles it (off, unset, or
// reported as not a mapping).
func (p *parser) scalarOff(self leaf, want string, subs ...leaf) (off, done bool) {
	rn := deref(self.n)
	if slices.ContainsFunc(subs, leaf.set) || rn.Kind == yaml.MappingNode {
		return false, false
	}
	off = rn.Kind == yaml.ScalarNode && slices.Contains([]string{"off", "false", "0"}, rn.Value)
	if self.set() && !off {
		p.bad(self, "want %s, got %s", want, describe(rn))
	}
	return off, true
}

// require reports the keys of a mapping, self, that are unset.
func (p *parser) require(self leaf, keys string, leaves ...leaf) {
	for i, key := range strings.Fields(keys) {
		if !leaves[i].set() {
			p.bad(self, "missing required key %q", key)
		}
	}
}

// rate reads a token bucket, {per_second: N, burst: N}, or off for no rate
// limit (both 0), into l.
func (p *parser) rate(r rateFile, l *guard.Limits) {
	var rate, burst float64
	if off, done := p.scalarOff(r.Off, "{per_second: N, burst: N}, or off for no rate limit", r.PerSecond, r.Burst); !done {
		if x, ok := read[float64](p, r.PerSecond); ok && (x <= 0 || x > maxGuardCount) {
			p.bad(r.PerSecond, "must be more than 0 and at most %d, got %v (write rate: off for no rate limit)", maxGuardCount, x)
		} else {
			rate = x
		}
		if x, ok := read[float64](p, r.Burst); ok && (x < 1 || x > maxGuardCount) {
			p.bad(r.Burst, "must be between 1 and %d, got %v", maxGuardCount, x)
		} else {
			burst = x
		}
		p.require(r.Off, "per_second burst", r.PerSecond, r.Burst)
	} else if !off {
		return
	}
	l.Rate, l.Burst = rate, burst
}

// velocity reads {subjects: N, window: DURATION}, or off (both 0), into l.
func (p *parser) velocity(v velocityFile, l *guard.Limits) {
	var subjects int
	var window time.Duration
	if off, done := p.scalarOff(v.Off, "{subjects: N, window: DURATION}, or off", v.Subjects, v.Window); !done {
		set(p, v.Subjects, read[int], &subjects, between(0, maxVelocitySubjects, false, "must be between 0 (off) and %[2]d, got %[3]d"))
		set(p, v.Window, dur, &window, between(time.Nanosecond, maxVelocityWindow, false, "must be a positive duration of at most %[2]s, got %[3]s"))
		if p.require(v.Off, "subjects", v.Subjects); subjects > 0 {
			p.require(v.Off, "window", v.Window)
		}
	} else if !off {
		return
	}
	l.VelocitySubjects, l.VelocityWindow = subjects, window
}

// names converts a list of string-based constants.
func names[T ~string](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// hint suggests a near option, or lists them all.
func hint(s string, options []string) string {
	return cmp.Or(suggestion(s, options), " (want one of: "+strings.Join(options, ", ")+")")
}

// suggestion returns ` (did you mean "x"?)` for the option nearest s, if
// one is near enough to be a typo, or "".
func suggestion(s string, options []string) string {
	if len(s) > 100 {
		return ""
	}
	best, bestD := "", 3
	for _, o := range options {
		if d := levenshtein.ComputeDistance(s, o); d < bestD && d <= max(1, len([]rune(s))/2) {
			best, bestD = o, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// postgres reads the postgres key: the PostgreSQL store's timeouts and
// connection pool.
func (p *parser) postgres(f *file) Postgres {
	pf := f.Postgres
	pg := Postgres{StatementTimeout: defaultStatementTimeout, LockTimeout: defaultLockTimeout}
	// 0 is a duration too (off), and the one Go writes without a unit.
	for _, d := range []struct {
		l        leaf
		dst      *time.Duration
		min, max time.Duration
	}{
		{pf.StatementTimeout, &pg.StatementTimeout, minStatementTimeout, maxStoreTimeout},
		{pf.LockTimeout, &pg.LockTimeout, minLockTimeout, maxStoreTimeout},
	} {
		if rn := deref(d.l.n); rn.ShortTag() == "!!int" && rn.Value == "0" {
			*d.dst = 0
			continue
		}
		set(p, d.l, dur, d.dst, between(d.min, d.max, true, "must be 0 (off) or between %s and %s, got %s"))
	}
	maxOK := set(p, pf.MaxConns, read[int], &pg.MaxConns, between(1, maxMaxConns, false, "must be between %d and %d, got %d"))
	minOK := set(p, pf.MinConns, read[int], &pg.MinConns, between(0, maxMaxConns, false, "must be between %d and %d, got %d"))
	if maxOK && minOK && pf.MinConns.set() && pg.MinConns > cmp.Or(pg.MaxConns, defaultMaxConns()) {
		p.bad(pf.MinConns, "must be at most postgres.max_conns (%d), got %d", cmp.Or(pg.MaxConns, defaultMaxConns()), pg.MinConns)
	}
	return pg
}
