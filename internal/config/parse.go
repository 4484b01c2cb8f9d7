package config

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/mask"
	"github.com/coffre/coffre/internal/policy"
)

// Names of fields, purposes and roles.
var (
	fieldNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
	// hostLabelRE matches one label of a lower-case host name.
	hostLabelRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	nameRE      = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)
	// plainKeyRE matches keys written as they are in a dotted path; others
	// are quoted.
	plainKeyRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
)

// lookupTypes are the field types that may carry a blind index. Dates and
// addresses may not: their values are few or guessable, so their blind index
// could be reversed by hashing every candidate.
var lookupTypes = []policy.FieldType{policy.TypeEmail, policy.TypePhone, policy.TypeNationalID, policy.TypeText, policy.TypeName}

// The keys each fixed-key mapping accepts.
var (
	topKeys = []string{"store", "listen", "data_dir", "root_key_file", "sessions", "limits", "audit", "webauthn", "login",
		"partners", "schema", "purposes", "roles", "guard"}
	auditKeys    = []string{"witnesses", "max_lag"}
	sessionKeys  = []string{"idle", "absolute", "login_token", "step_up"}
	limitKeys    = []string{"max_body_bytes", "reason_max_len"}
	webauthnKeys = []string{"rp_id", "rp_name", "origins"}
	loginKeys    = []string{"max_failures", "failure_window", "lock_for", "per_origin_per_minute"}
	partnerKeys  = []string{"listen", "hosts"}
	fieldKeys    = []string{"name", "type", "sensitivity", "required", "lookup", "max_len", "retention"}
	purposeKeys  = []string{"description", "require_reason", "step_up", "fields"}
	roleKeys     = []string{"purposes", "permissions", "mfa"}
	requiredKeys = []string{"name", "type", "sensitivity"}
	guardKeys    = []string{"timezone", "trusted_networks", "trusted_proxies", "defaults", "roles"}
	// guardLimitKeys are those of guard.defaults and of each role under
	// guard.roles.
	guardLimitKeys = []string{"all_units", "rate", "subjects_per_hour", "subjects_per_day", "out_of_caseload_per_day", "out_of_unit_per_day",
		"untrusted_origin_per_day", "lookups_per_hour", "misses_per_hour", "velocity", "enumeration_run", "hours", "hard_margin"}
	rateKeys     = []string{"per_second", "burst"}
	velocityKeys = []string{"subjects", "window"}
)

// mfaFactors are the values of a role's mfa; stepUps those of a purpose's
// step_up, off standing for policy.Purpose.StepUp "".
var (
	mfaFactors = []string{"totp", "webauthn"}
	stepUps    = []string{"off", "any", "webauthn"}
)

// guardBudgets are the guard limit keys that hold a budget: a count, 0
// meaning no limit.
var guardBudgets = map[string]func(*guard.Limits) *int{
	"subjects_per_hour":        func(l *guard.Limits) *int { return &l.SubjectsPerHour },
	"subjects_per_day":         func(l *guard.Limits) *int { return &l.SubjectsPerDay },
	"out_of_caseload_per_day":  func(l *guard.Limits) *int { return &l.OutOfCaseloadPerDay },
	"out_of_unit_per_day":      func(l *guard.Limits) *int { return &l.OutOfUnitPerDay },
	"untrusted_origin_per_day": func(l *guard.Limits) *int { return &l.UntrustedPerDay },
	"lookups_per_hour":         func(l *guard.Limits) *int { return &l.LookupsPerHour },
	"misses_per_hour":          func(l *guard.Limits) *int { return &l.MissesPerHour },
}

// maxWork bounds the mapping entries and list items visited, so that aliases
// cannot make a small file expensive to walk.
const maxWork = 1 << 20

// envFile is the file named by problems with environment variables.
const envFile = "environment"

// maxProblems bounds the problems kept; the others are only counted.
const maxProblems = 100

// parser collects the problems of one configuration.
type parser struct {
	file     string
	probs    []Problem // in the file, the first maxProblems
	envProbs []Problem // in the environment
	n        int       // problems found in the file, kept or not
	work     int
	tooBig   bool
}

// origin is where a setting's value came from: a node of the file or an
// environment variable.
type origin struct {
	node *yaml.Node
	env  string
}

// setting is a scalar setting; set is false until the file or the
// environment gives it a value.
type setting[T any] struct {
	val T
	set bool
	origin
}

// settings are the scalar keys, before defaults.
type settings struct {
	store, listen, dataDir, rootKeyFile setting[string]
	idle, absolute, loginToken, stepUp  setting[time.Duration]
	maxBody, reasonMax                  setting[int64]
	maxLag                              setting[time.Duration]
	witnesses                           []setting[string]
	rpID, rpName                        setting[string]
	// origins holds the items of webauthn.origins that are strings;
	// originList is set, where from, once the file or the environment gives
	// the list, its val counting the items given, strings or not.
	origins                []setting[string]
	originList             setting[int]
	maxFailures, perOrigin setting[int64]
	failWindow, lockFor    setting[time.Duration]
	partnersListen         setting[string]
	// partnerHosts and partnerHostList are to partners.hosts what origins
	// and originList are to webauthn.origins.
	partnerHosts    []setting[string]
	partnerHostList setting[int]
}

// pair is one entry of a mapping.
type pair struct {
	key  string
	k, v *yaml.Node
}

// namedPurpose and namedRole keep the node a purpose or role was defined at.
type namedPurpose struct {
	pu *policy.Purpose
	k  *yaml.Node
}

type namedRole struct {
	r *policy.Role
	k *yaml.Node
}

func (p *parser) add(line int, key, format string, args ...any) {
	p.n++
	if len(p.probs) < maxProblems {
		p.probs = append(p.probs, Problem{File: p.file, Line: line, Key: key, Message: fmt.Sprintf(format, args...)})
	}
}

func (p *parser) errorf(n *yaml.Node, key, format string, args ...any) {
	p.add(n.Line, key, format, args...)
}

func (p *parser) envErrorf(name, format string, args ...any) {
	p.envProbs = append(p.envProbs, Problem{File: envFile, Key: name, Message: fmt.Sprintf(format, args...)})
}

// at reports a problem with a setting, where its value came from.
func (p *parser) at(o origin, key, format string, args ...any) {
	switch {
	case o.env != "":
		p.envErrorf(o.env, format, args...)
	case o.node != nil:
		p.errorf(o.node, key, format, args...)
	default:
		p.add(0, key, format, args...)
	}
}

// sort puts the file's problems in line order, then the environment's.
func (p *parser) sort() {
	slices.SortStableFunc(p.probs, func(a, b Problem) int { return cmp.Compare(a.Line, b.Line) })
	if p.n > len(p.probs) {
		p.probs = append(p.probs, Problem{File: p.file, Message: fmt.Sprintf("%d more problems not shown", p.n-len(p.probs))})
	}
	p.probs = append(p.probs, p.envProbs...)
	p.envProbs = nil
}

// parse does the work of Parse; the result is meaningful only when no
// problem was found.
func (p *parser) parse(data []byte, environ []string) *Config {
	if len(data) > maxFileSize {
		p.add(0, "", "file is larger than %d bytes", maxFileSize)
		return nil
	}
	root, ok := p.document(data)
	if !ok {
		return nil
	}
	rootLine := 1
	if root != nil {
		rootLine = root.Line
		if r := deref(root); r.Kind != yaml.MappingNode && !isNull(r) {
			p.errorf(root, "", "want a mapping of settings (store, listen, schema, …), got %s", describe(r))
			return nil
		}
	}

	var s settings
	var schemaNode, purposesNode, rolesNode, guardNode *yaml.Node
	p.mapping(root, "", topKeys, func(key string, _, v *yaml.Node) {
		switch key {
		case "store":
			p.str(&s.store, v, key)
		case "listen":
			p.str(&s.listen, v, key)
		case "data_dir":
			p.str(&s.dataDir, v, key)
		case "root_key_file":
			p.str(&s.rootKeyFile, v, key)
		case "sessions":
			p.mapping(v, key, sessionKeys, func(key string, _, v *yaml.Node) {
				path := "sessions." + key
				switch key {
				case "idle":
					p.duration(&s.idle, v, path)
				case "absolute":
					p.duration(&s.absolute, v, path)
				case "login_token":
					p.duration(&s.loginToken, v, path)
				case "step_up":
					p.duration(&s.stepUp, v, path)
				}
			})
		case "limits":
			p.mapping(v, key, limitKeys, func(key string, _, v *yaml.Node) {
				path := "limits." + key
				switch key {
				case "max_body_bytes":
					p.integer(&s.maxBody, v, path)
				case "reason_max_len":
					p.integer(&s.reasonMax, v, path)
				}
			})
		case "audit":
			p.mapping(v, key, auditKeys, func(key string, _, v *yaml.Node) {
				path := "audit." + key
				switch key {
				case "max_lag":
					p.duration(&s.maxLag, v, path)
				case "witnesses":
					s.witnesses, _ = p.strList(v, path)
				}
			})
		case "webauthn":
			p.mapping(v, key, webauthnKeys, func(key string, _, v *yaml.Node) {
				path := "webauthn." + key
				switch key {
				case "rp_id":
					p.str(&s.rpID, v, path)
				case "rp_name":
					p.str(&s.rpName, v, path)
				case "origins":
					s.origins, s.originList = p.strList(v, path)
				}
			})
		case "login":
			p.mapping(v, key, loginKeys, func(key string, _, v *yaml.Node) {
				path := "login." + key
				switch key {
				case "max_failures":
					p.integer(&s.maxFailures, v, path)
				case "per_origin_per_minute":
					p.integer(&s.perOrigin, v, path)
				case "failure_window":
					p.duration(&s.failWindow, v, path)
				case "lock_for":
					// 0 is a duration too, and the one Go writes without a unit.
					if rv := deref(v); rv.Kind == yaml.ScalarNode && rv.ShortTag() == "!!int" && rv.Value == "0" {
						s.lockFor = setting[time.Duration]{set: true, origin: origin{node: v}}
						return
					}
					p.duration(&s.lockFor, v, path)
				}
			})
		case "partners":
			p.mapping(v, key, partnerKeys, func(key string, _, v *yaml.Node) {
				path := "partners." + key
				switch key {
				case "listen":
					p.str(&s.partnersListen, v, path)
				case "hosts":
					s.partnerHosts, s.partnerHostList = p.strList(v, path)
				}
			})
		case "schema":
			schemaNode = v
		case "purposes":
			purposesNode = v
		case "roles":
			rolesNode = v
		case "guard":
			guardNode = v
		}
	})
	p.environment(&s, environ)
	cfg := p.settings(&s)

	if schemaNode == nil {
		p.add(rootLine, "schema", "missing required key: declare at least one field of the record schema")
	}
	fields, declaredFields := p.schema(schemaNode)
	purposes, declaredPurposes, purposeStepUps := p.purposes(purposesNode, fields, declaredFields)
	roles, declaredRoles := p.roles(rolesNode, declaredPurposes, purposeStepUps)
	cfg.Guard = p.guard(guardNode, roles, declaredRoles)
	cfg.Policy = p.assemble(rootLine, schemaNode, fields, purposes, roles)
	return cfg
}

// document parses data into its single YAML document's root node, which is
// nil for an empty document. ok is false after a syntax error.
func (p *parser) document(data []byte) (root *yaml.Node, ok bool) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, true
		}
		p.yamlError(err)
		return nil, false
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == io.EOF:
	case err != nil:
		p.yamlError(err)
		return nil, false
	default:
		p.errorf(&next, "", "a configuration holds one YAML document; remove the second one (after \"---\")")
		return nil, false
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		return doc.Content[0], true
	}
	return nil, true
}

// yamlParserErrors are the problems yaml.v3's parser (as opposed to its
// scanner) reports. For those it prints a 0-based line: that of the block
// the problem is in, or of the problem when the block starts on the first
// line.
var yamlParserErrors = []string{
	"did not find expected <stream-start>",
	"did not find expected <document start>",
	"did not find expected node content",
	"did not find expected '-' indicator",
	"did not find expected key",
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
	"found undefined tag handle",
	"found duplicate %YAML directive",
	"found incompatible YAML document",
	"found duplicate %TAG directive",
}

// yamlError reports a YAML syntax error, on its line when it says one.
func (p *parser) yamlError(err error) {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		if line, err := strconv.Atoi(m[1]); err == nil {
			if slices.Contains(yamlParserErrors, m[2]) {
				line++
			}
			p.add(line, "", "invalid YAML: %s", m[2])
			return
		}
	}
	p.add(0, "", "invalid YAML: %s", strings.TrimPrefix(msg, "yaml: "))
}

// deref follows aliases to the node they name.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 16; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// describe names what a node holds, for "want X, got Y" messages.
func describe(n *yaml.Node) string {
	switch {
	case isNull(n):
		return "nothing"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind != yaml.ScalarNode:
		return "an alias"
	}
	switch t := n.ShortTag(); t {
	case "!!str":
		return "the string " + short(n.Value)
	case "!!bool":
		return "the boolean " + short(n.Value)
	case "!!int", "!!float":
		return "the number " + short(n.Value)
	default:
		return "a value tagged " + short(t)
	}
}

// short quotes s, cut to a length that fits in a message.
func short(s string) string {
	const max = 40
	if utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max]) + "…"
	}
	return strconv.Quote(s)
}

// join appends key to a dotted path, quoting it if it is not plain.
func join(path, key string) string {
	if !plainKeyRE.MatchString(key) {
		key = short(key)
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// pairs returns the entries of the mapping n (nothing for null), reporting
// other kinds of node, keys that are not scalars, merge keys and keys given
// twice.
func (p *parser) pairs(n *yaml.Node, path string) []pair {
	rn := deref(n)
	if isNull(rn) {
		return nil
	}
	if rn.Kind != yaml.MappingNode {
		p.errorf(n, path, "want a mapping, got %s", describe(rn))
		return nil
	}
	var out []pair
	seen := map[string]int{}
	for i := 0; i+1 < len(rn.Content); i += 2 {
		if !p.spend() {
			return out
		}
		k, v := rn.Content[i], rn.Content[i+1]
		rk := deref(k)
		if rk == nil || rk.Kind != yaml.ScalarNode {
			p.errorf(k, path, "want a plain key, got %s", describe(rk))
			continue
		}
		if rk.ShortTag() == "!!merge" {
			p.errorf(k, path, "merge keys (<<) are not supported; write the entries out")
			continue
		}
		if first, dup := seen[rk.Value]; dup {
			p.errorf(k, join(path, rk.Value), "key given twice (first at line %d)", first)
			continue
		}
		seen[rk.Value] = k.Line
		out = append(out, pair{key: rk.Value, k: k, v: v})
	}
	return out
}

// spend counts one unit of work, and reports false once the budget is
// exhausted.
func (p *parser) spend() bool {
	p.work++
	if p.work <= maxWork {
		return true
	}
	if !p.tooBig {
		p.tooBig = true
		p.add(0, "", "document too complex (more than %d entries, counting aliases)", maxWork)
	}
	return false
}

// mapping walks the fixed-key mapping n, calling fn for each known key whose
// value is not null (a null value counts as absent), and reporting unknown
// keys.
func (p *parser) mapping(n *yaml.Node, path string, known []string, fn func(key string, k, v *yaml.Node)) {
	for _, e := range p.pairs(n, path) {
		if !slices.Contains(known, e.key) {
			p.errorf(e.k, path, "unknown key %s%s", short(e.key), hint(e.key, known))
			continue
		}
		if isNull(deref(e.v)) {
			continue
		}
		fn(e.key, e.k, e.v)
	}
}

// list returns the items of the list n (nothing for null).
func (p *parser) list(n *yaml.Node, path string) []*yaml.Node {
	rn := deref(n)
	if isNull(rn) {
		return nil
	}
	if rn.Kind != yaml.SequenceNode {
		p.errorf(n, path, "want a list, got %s", describe(rn))
		return nil
	}
	for i := range rn.Content {
		if !p.spend() {
			return rn.Content[:i]
		}
	}
	return rn.Content
}

// text returns the string in n.
func (p *parser) text(n *yaml.Node, path string) (string, bool) {
	rn := deref(n)
	if rn == nil || rn.Kind != yaml.ScalarNode || rn.ShortTag() != "!!str" {
		p.errorf(n, path, "want a string, got %s", describe(rn))
		return "", false
	}
	return rn.Value, true
}

func (p *parser) boolean(n *yaml.Node, path string) (bool, bool) {
	rn := deref(n)
	var b bool
	if rn == nil || rn.Kind != yaml.ScalarNode || rn.ShortTag() != "!!bool" || rn.Decode(&b) != nil {
		p.errorf(n, path, "want true or false, got %s", describe(rn))
		return false, false
	}
	return b, true
}

func (p *parser) int64(n *yaml.Node, path string) (int64, bool) {
	rn := deref(n)
	if rn == nil || rn.Kind != yaml.ScalarNode || rn.ShortTag() != "!!int" {
		p.errorf(n, path, "want an integer, got %s", describe(rn))
		return 0, false
	}
	var i int64
	if rn.Decode(&i) != nil {
		p.errorf(n, path, "integer %s out of range", short(rn.Value))
		return 0, false
	}
	return i, true
}

func (p *parser) str(s *setting[string], n *yaml.Node, path string) {
	if v, ok := p.text(n, path); ok {
		*s = setting[string]{val: v, set: true, origin: origin{node: n}}
	}
}

// strList reads a list of strings: the well-formed items, and how many
// items the list had (unset when n is no list, which list reports).
func (p *parser) strList(n *yaml.Node, path string) ([]setting[string], setting[int]) {
	nodes := p.list(n, path)
	if deref(n).Kind != yaml.SequenceNode {
		return nil, setting[int]{}
	}
	var items []setting[string]
	for i, item := range nodes {
		var s setting[string]
		p.str(&s, item, fmt.Sprintf("%s[%d]", path, i))
		if s.set {
			items = append(items, s)
		}
	}
	return items, setting[int]{val: len(nodes), set: true, origin: origin{node: n}}
}

// envList splits the comma-separated value of environment variable name:
// its non-empty items, and how many there were.
func envList(v, name string) ([]setting[string], setting[int]) {
	at := origin{env: name}
	var items []setting[string]
	for _, it := range strings.Split(v, ",") {
		if it = strings.TrimSpace(it); it != "" {
			items = append(items, setting[string]{val: it, set: true, origin: at})
		}
	}
	return items, setting[int]{val: len(items), set: true, origin: at}
}

func (p *parser) integer(s *setting[int64], n *yaml.Node, path string) {
	if v, ok := p.int64(n, path); ok {
		*s = setting[int64]{val: v, set: true, origin: origin{node: n}}
	}
}

func (p *parser) duration(s *setting[time.Duration], n *yaml.Node, path string) {
	v, ok := p.text(n, path)
	if !ok {
		return
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		p.errorf(n, path, "invalid duration %s: want a Go duration such as 30m or 12h", short(v))
		return
	}
	*s = setting[time.Duration]{val: d, set: true, origin: origin{node: n}}
}

// environment applies the COFFRE_* overrides in environ.
func (p *parser) environment(s *settings, environ []string) {
	env := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, "COFFRE_") {
			continue
		}
		if v == "" {
			delete(env, k)
			continue
		}
		env[k] = v
	}
	str := func(s *setting[string], name string) {
		if v, ok := env[name]; ok {
			*s = setting[string]{val: v, set: true, origin: origin{env: name}}
		}
	}
	dur := func(s *setting[time.Duration], name string) {
		v, ok := env[name]
		if !ok {
			return
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			p.envErrorf(name, "invalid duration %s: want a Go duration such as 30m or 12h", short(v))
			return
		}
		*s = setting[time.Duration]{val: d, set: true, origin: origin{env: name}}
	}
	integer := func(s *setting[int64], name string) {
		v, ok := env[name]
		if !ok {
			return
		}
		i, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			p.envErrorf(name, "invalid integer %s", short(v))
			return
		}
		*s = setting[int64]{val: i, set: true, origin: origin{env: name}}
	}
	str(&s.store, "COFFRE_STORE")
	str(&s.listen, "COFFRE_LISTEN")
	str(&s.dataDir, "COFFRE_DATA_DIR")
	str(&s.rootKeyFile, "COFFRE_ROOT_KEY_FILE")
	dur(&s.idle, "COFFRE_SESSIONS_IDLE")
	dur(&s.absolute, "COFFRE_SESSIONS_ABSOLUTE")
	dur(&s.loginToken, "COFFRE_SESSIONS_LOGIN_TOKEN")
	dur(&s.stepUp, "COFFRE_SESSIONS_STEP_UP")
	integer(&s.maxBody, "COFFRE_LIMITS_MAX_BODY_BYTES")
	integer(&s.reasonMax, "COFFRE_LIMITS_REASON_MAX_LEN")
	dur(&s.maxLag, "COFFRE_AUDIT_MAX_LAG")
	list := func(items *[]setting[string], count *setting[int], name string) {
		if v, ok := env[name]; ok {
			var n setting[int]
			*items, n = envList(v, name)
			if count != nil {
				*count = n
			}
		}
	}
	list(&s.witnesses, nil, "COFFRE_AUDIT_WITNESSES")
	str(&s.rpID, "COFFRE_WEBAUTHN_RP_ID")
	list(&s.origins, &s.originList, "COFFRE_WEBAUTHN_ORIGINS")
	str(&s.partnersListen, "COFFRE_PARTNERS_LISTEN")
	list(&s.partnerHosts, &s.partnerHostList, "COFFRE_PARTNERS_HOSTS")
}

// settings applies the defaults and checks the scalar settings.
func (p *parser) settings(s *settings) *Config {
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
	if s.maxLag.set {
		if s.maxLag.val < time.Second {
			p.at(s.maxLag.origin, "audit.max_lag", "must be at least 1s, got %s", s.maxLag.val)
		} else {
			c.AuditMaxLag = s.maxLag.val
		}
	}
	for _, w := range s.witnesses {
		u, err := url.Parse(w.val)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.at(w.origin, "audit.witnesses", "want an http(s) URL, got %s", short(w.val))
			continue
		}
		c.AuditWitnesses = append(c.AuditWitnesses, w.val)
	}
	if s.dataDir.set {
		if s.dataDir.val == "" {
			p.at(s.dataDir.origin, "data_dir", "must not be empty")
		} else {
			c.DataDir = s.dataDir.val
		}
	}
	dir := strings.TrimRight(c.DataDir, "/")
	c.Store = "sqlite:" + dir + "/coffre.db"
	c.RootKeyFile = dir + "/root.key"
	if s.store.set {
		if msg := checkStore(s.store.val); msg != "" {
			p.at(s.store.origin, "store", "%s", msg)
		} else {
			c.Store = s.store.val
		}
	}
	if s.listen.set {
		if msg := checkListen(s.listen.val); msg != "" {
			p.at(s.listen.origin, "listen", "%s", msg)
		} else {
			c.Listen = s.listen.val
		}
	}
	if s.rootKeyFile.set {
		if s.rootKeyFile.val == "" {
			p.at(s.rootKeyFile.origin, "root_key_file", "must not be empty")
		} else {
			c.RootKeyFile = s.rootKeyFile.val
		}
	}
	positive := func(s setting[time.Duration], key string, dst *time.Duration) bool {
		if !s.set {
			return true
		}
		if s.val <= 0 {
			p.at(s.origin, key, "must be a positive duration, got %s", s.val)
			return false
		}
		*dst = s.val
		return true
	}
	idleOK := positive(s.idle, "sessions.idle", &c.SessionIdle)
	absOK := positive(s.absolute, "sessions.absolute", &c.SessionAbsolute)
	positive(s.loginToken, "sessions.login_token", &c.LoginTokenTTL)
	if idleOK && absOK && c.SessionAbsolute < c.SessionIdle {
		msg := "sessions.absolute (%s) must be at least sessions.idle (%s)"
		switch {
		case s.absolute.set:
			p.at(s.absolute.origin, "sessions.absolute", msg, c.SessionAbsolute, c.SessionIdle)
		default:
			p.at(s.idle.origin, "sessions.idle", msg, c.SessionAbsolute, c.SessionIdle)
		}
	}
	if s.stepUp.set {
		if v := s.stepUp.val; v < minStepUp || v > maxStepUp {
			p.at(s.stepUp.origin, "sessions.step_up", "must be between %s and %s, got %s", minStepUp, maxStepUp, v)
		} else {
			c.StepUpFor = v
		}
	}
	if s.maxBody.set {
		if v := s.maxBody.val; v < minBodyBytes || v > maxBodyBytes {
			p.at(s.maxBody.origin, "limits.max_body_bytes", "must be between %d (1 KiB) and %d (16 MiB), got %d", minBodyBytes, maxBodyBytes, v)
		} else {
			c.MaxBodyBytes = v
		}
	}
	if s.reasonMax.set {
		if v := s.reasonMax.val; v < 1 || v > maxReasonMaxLen {
			p.at(s.reasonMax.origin, "limits.reason_max_len", "must be between 1 and %d, got %d", maxReasonMaxLen, v)
		} else {
			c.ReasonMaxLen = int(v)
		}
	}
	c.WebAuthn = p.webauthn(s)
	c.Login = p.login(s)
	c.Partners = p.partners(s, c.Listen)
	return c
}

// webauthn applies the defaults and checks the webauthn settings.
func (p *parser) webauthn(s *settings) WebAuthn {
	w := WebAuthn{RPID: defaultRPID, RPName: defaultRPName}
	rpIDOK := true
	if s.rpID.set {
		if msg := checkRPID(s.rpID.val); msg != "" {
			p.at(s.rpID.origin, "webauthn.rp_id", "%s", msg)
			rpIDOK = false
		} else {
			w.RPID = s.rpID.val
		}
	}
	if s.rpName.set {
		if strings.TrimSpace(s.rpName.val) == "" {
			p.at(s.rpName.origin, "webauthn.rp_name", "must not be empty")
		} else {
			w.RPName = s.rpName.val
		}
	}
	if !s.originList.set {
		w.Origins = slices.Clone(defaultOrigins)
		if rpIDOK && w.RPID != defaultRPID {
			p.at(s.rpID.origin, "webauthn.rp_id", "the default origins (%s) are not on %s: set webauthn.origins too",
				strings.Join(defaultOrigins, ", "), short(w.RPID))
		}
		return w
	}
	if s.originList.val == 0 {
		example := "https://" + w.RPID
		if w.RPID == defaultRPID {
			example = defaultOrigins[0]
		}
		p.at(s.originList.origin, "webauthn.origins", "want at least one origin, such as %s", example)
	}
	seen := map[string]bool{}
	for _, o := range s.origins {
		host, msg := checkOrigin(o.val)
		switch {
		case msg != "":
			p.at(o.origin, "webauthn.origins", "%s", msg)
		case seen[o.val]:
			p.at(o.origin, "webauthn.origins", "%s listed twice", short(o.val))
		case rpIDOK && !onRPID(host, w.RPID):
			p.at(o.origin, "webauthn.origins", "origin %s is not on %s or one of its subdomains, so browsers would refuse WebAuthn there",
				short(o.val), short(w.RPID))
		default:
			w.Origins = append(w.Origins, o.val)
		}
		seen[o.val] = true
	}
	return w
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
	// Suggest the host name in what looks like a URL or host:port.
	host := s
	if u, err := url.Parse(s); err == nil && u.Host != "" {
		host = u.Hostname()
	} else if h, _, err := net.SplitHostPort(s); err == nil {
		host = h
	} else if i := strings.IndexByte(s, '/'); i > 0 {
		host = s[:i]
	}
	if host = strings.ToLower(host); validHostName(host) {
		return fmt.Sprintf("%s, got %s (did you mean %q?)", want, short(s), host)
	}
	return fmt.Sprintf("%s, got %s", want, short(s))
}

// validHostName reports whether s is a lower-case host name: dot-separated
// labels of lower-case letters, digits and inner hyphens.
func validHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if !hostLabelRE.MatchString(label) {
			return false
		}
	}
	return true
}

// checkOrigin returns the host name of an origin, or what is wrong with it.
func checkOrigin(s string) (host, msg string) {
	const want = "want an origin as scheme://host[:port], such as https://coffre.example.org"
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return "", fmt.Sprintf("%s (http or https), got %s", want, short(s))
	}
	host = strings.ToLower(u.Hostname())
	a, ipErr := netip.ParseAddr(host)
	if ipErr == nil && a.Zone() != "" || ipErr != nil && !validHostName(host) {
		return "", fmt.Sprintf("%s, got %s: invalid host %s", want, short(s), short(u.Hostname()))
	}
	// Browsers send an origin lower-case, without the scheme's default port
	// or a trailing slash, with IPv6 addresses in their shortest form, and
	// the check is exact.
	canon := u.Scheme + "://" + host
	if ipErr == nil {
		host = a.String()
		canon = u.Scheme + "://" + host
		if a.Is6() {
			canon = u.Scheme + "://[" + host + "]"
		}
	}
	if port := u.Port(); port != "" {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			return "", fmt.Sprintf("%s, got %s: invalid port %s", want, short(s), short(port))
		}
		if !(u.Scheme == "http" && n == 80 || u.Scheme == "https" && n == 443) {
			canon += ":" + strconv.FormatUint(n, 10)
		}
	}
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
	switch {
	case host == rpID || strings.HasSuffix(host, "."+rpID):
		return true
	case rpID == "localhost":
		return host == "127.0.0.1" || host == "::1"
	}
	return false
}

// login applies the defaults and checks the login settings.
func (p *parser) login(s *settings) Login {
	l := Login{MaxFailures: defaultMaxFailures, FailureWindow: defaultFailWindow, LockFor: defaultLockFor, PerOrigin: defaultPerOrigin}
	if s.maxFailures.set {
		if v := s.maxFailures.val; v < 1 || v > maxMaxFailures {
			p.at(s.maxFailures.origin, "login.max_failures", "must be between 1 and %d, got %d", maxMaxFailures, v)
		} else {
			l.MaxFailures = int(v)
		}
	}
	if s.failWindow.set {
		if v := s.failWindow.val; v < minFailWindow || v > maxFailWindow {
			p.at(s.failWindow.origin, "login.failure_window", "must be between %s and %s, got %s", minFailWindow, maxFailWindow, v)
		} else {
			l.FailureWindow = v
		}
	}
	if s.lockFor.set {
		if v := s.lockFor.val; v != 0 && (v < minLockFor || v > maxLockFor) {
			p.at(s.lockFor.origin, "login.lock_for", "must be 0 (until a security officer lifts it) or between %s and %s (30 days), got %s",
				minLockFor, maxLockFor, v)
		} else {
			l.LockFor = v
		}
	}
	if s.perOrigin.set {
		if v := s.perOrigin.val; v < 1 || v > maxPerOrigin {
			p.at(s.perOrigin.origin, "login.per_origin_per_minute", "must be between 1 and %d, got %d", maxPerOrigin, v)
		} else {
			l.PerOrigin = int(v)
		}
	}
	return l
}

// partners applies the defaults and checks the partners settings. listen is
// the HTTP listen address, which the partners listener may not take too.
func (p *parser) partners(s *settings, listen string) Partners {
	var pa Partners
	if l := s.partnersListen; l.set && l.val != "" {
		if msg := checkPartnersListen(l.val, listen); msg != "" {
			p.at(l.origin, "partners.listen", "%s", msg)
		} else {
			pa.Listen = l.val
		}
	}
	if !s.partnerHostList.set {
		pa.Hosts = slices.Clone(defaultPartnerHosts)
		return pa
	}
	if s.partnerHostList.val == 0 {
		p.at(s.partnerHostList.origin, "partners.hosts", "want at least one host name or IP address, such as %s (leave hosts out for %s)",
			defaultPartnerHosts[0], strings.Join(defaultPartnerHosts, ", "))
	}
	seen := map[string]bool{}
	for _, h := range s.partnerHosts {
		host, msg := checkCertHost(h.val)
		switch {
		case msg != "":
			p.at(h.origin, "partners.hosts", "%s", msg)
		case seen[host]:
			p.at(h.origin, "partners.hosts", "%s listed twice", short(h.val))
		default:
			pa.Hosts = append(pa.Hosts, host)
		}
		if host != "" {
			seen[host] = true
		}
	}
	return pa
}

// checkPartnersListen returns what is wrong with the partners listen
// address s, or "". listen is the HTTP listen address, valid or not.
func checkPartnersListen(s, listen string) string {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Sprintf("want host:port, as in 127.0.0.1:8443, got %s (leave listen out to disable partner access)", short(s))
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return fmt.Sprintf("invalid port %s: want a number from 1 to 65535", short(port))
	}
	// The HTTP listener holds its address already; a wildcard host takes
	// the port on every address.
	if lhost, lport, err := net.SplitHostPort(listen); err == nil {
		if m, err := strconv.ParseUint(lport, 10, 16); err == nil && m == n && (host == lhost || wildcardHost(host) || wildcardHost(lhost)) {
			return fmt.Sprintf("address %s is taken by listen (%s): give partners a port of their own", short(s), short(listen))
		}
	}
	return ""
}

// wildcardHost reports whether a listen address with host h listens on
// every address.
func wildcardHost(h string) bool {
	return h == "" || h == "0.0.0.0" || h == "::"
}

// checkCertHost returns a host that a server certificate may name, in
// canonical form (IP addresses shortest), or what is wrong with it.
func checkCertHost(s string) (host, msg string) {
	const want = "want a lower-case host name such as partners.example.org or an IP address, without scheme, port or path"
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" {
			return "", fmt.Sprintf("%s, got %s: a certificate names no IPv6 zone (did you mean %q?)", want, short(s), a.WithZone("").String())
		}
		return a.String(), ""
	}
	if validHostName(s) {
		return s, ""
	}
	// Suggest the host in what looks like a URL, host:port or [IPv6].
	h := s
	if u, err := url.Parse(s); err == nil && u.Host != "" {
		h = u.Hostname()
	} else if hh, _, err := net.SplitHostPort(s); err == nil {
		h = hh
	} else if i := strings.IndexByte(s, '/'); i > 0 {
		h = s[:i]
	}
	h = strings.ToLower(strings.Trim(h, "[]"))
	if a, err := netip.ParseAddr(h); err == nil && a.Zone() == "" {
		return "", fmt.Sprintf("%s, got %s (did you mean %q?)", want, short(s), a.String())
	}
	if validHostName(h) {
		return "", fmt.Sprintf("%s, got %s (did you mean %q?)", want, short(s), h)
	}
	return "", fmt.Sprintf("%s, got %s", want, short(s))
}

// checkStore returns what is wrong with a store, or "". It never quotes the
// value, which may hold a password.
func checkStore(s string) string {
	switch {
	case strings.HasPrefix(s, "sqlite:"):
		if s == "sqlite:" {
			return "sqlite: needs a path, as in sqlite:./coffre-data/coffre.db"
		}
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		if _, err := url.Parse(s); err != nil {
			return "not a valid postgres:// URL"
		}
	default:
		return `want "sqlite:PATH" or a "postgres://" or "postgresql://" URL`
	}
	return ""
}

// checkListen returns what is wrong with a listen address, or "".
func checkListen(s string) string {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Sprintf("want host:port, as in 127.0.0.1:8080, got %s", short(s))
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Sprintf("invalid port %s: want a number from 0 to 65535", short(port))
	}
	return ""
}

// oneOf reports whether s is one of options, reporting it if not.
func (p *parser) oneOf(n *yaml.Node, path, what, s string, options []string) bool {
	if slices.Contains(options, s) {
		return true
	}
	p.errorf(n, path, "unknown %s %s%s", what, short(s), hint(s, options))
	return false
}

// schema reads the list of fields. It returns the valid fields, and the
// line where each field name, valid or not, is first defined.
func (p *parser) schema(n *yaml.Node) ([]policy.Field, map[string]int) {
	declared := map[string]int{}
	if n == nil {
		return nil, declared
	}
	items := p.list(n, "schema")
	if len(items) == 0 && !isNull(deref(n)) && deref(n).Kind == yaml.SequenceNode {
		p.errorf(n, "schema", "empty: declare at least one field of the record schema")
	}
	types := names(policy.FieldTypes)
	sensitivities := names(policy.Sensitivities)
	var fields []policy.Field
	for i, item := range items {
		before := p.n
		ri := deref(item)
		path := schemaPath(ri, i)
		if ri == nil || ri.Kind != yaml.MappingNode {
			p.errorf(item, path, "want a mapping with name, type and sensitivity, got %s", describe(ri))
			continue
		}
		var f policy.Field
		var nameNode, lookupNode *yaml.Node
		typeOK := false
		have := map[string]bool{}
		p.mapping(item, path, fieldKeys, func(key string, _, v *yaml.Node) {
			have[key] = true
			kp := path + "." + key
			switch key {
			case "name":
				if s, ok := p.text(v, kp); ok {
					if fieldNameRE.MatchString(s) {
						f.Name, nameNode = s, v
					} else {
						p.errorf(v, kp, "invalid field name %s: want a lower-case letter, then up to 62 lower-case letters, digits or _", short(s))
					}
				}
			case "type":
				if s, ok := p.text(v, kp); ok && p.oneOf(v, kp, "field type", s, types) {
					f.Type, typeOK = policy.FieldType(s), true
				}
			case "sensitivity":
				if s, ok := p.text(v, kp); ok && p.oneOf(v, kp, "sensitivity", s, sensitivities) {
					f.Sensitivity = policy.Sensitivity(s)
				}
			case "required":
				f.Required, _ = p.boolean(v, kp)
			case "lookup":
				f.Lookup, _ = p.boolean(v, kp)
				lookupNode = v
			case "max_len":
				if l, ok := p.int64(v, kp); ok {
					if l < 1 || l > maxFieldLen {
						p.errorf(v, kp, "must be between 1 and %d, got %d (leave it out for the type's default)", maxFieldLen, l)
					} else {
						f.MaxLen = int(l)
					}
				}
			case "retention":
				f.Retention, _ = p.text(v, kp)
			}
		})
		for _, k := range requiredKeys {
			if !have[k] {
				p.errorf(item, path, "missing required key %q", k)
			}
		}
		if f.Lookup && typeOK && !slices.Contains(lookupTypes, f.Type) {
			p.errorf(lookupNode, path+".lookup", "lookup is not allowed on %s fields, only on %s: a blind index over values this easy to guess can be reversed", f.Type, strings.Join(names(lookupTypes), ", "))
		}
		if nameNode != nil {
			if first, dup := declared[f.Name]; dup {
				p.errorf(nameNode, path+".name", "field %q defined twice (first at line %d)", f.Name, first)
			} else {
				declared[f.Name] = nameNode.Line
			}
		}
		if p.n == before {
			fields = append(fields, f)
		}
	}
	return fields, declared
}

// schemaPath names the i-th field of the schema by its name if it has a
// valid one, by its index otherwise.
func schemaPath(item *yaml.Node, i int) string {
	if item != nil && item.Kind == yaml.MappingNode {
		for j := 0; j+1 < len(item.Content); j += 2 {
			k, v := deref(item.Content[j]), deref(item.Content[j+1])
			if k != nil && k.Kind == yaml.ScalarNode && k.Value == "name" &&
				v != nil && v.Kind == yaml.ScalarNode && v.ShortTag() == "!!str" && fieldNameRE.MatchString(v.Value) {
				return "schema." + v.Value
			}
		}
	}
	return fmt.Sprintf("schema[%d]", i)
}

// purposes reads the purposes. It returns the valid ones, the names of all
// those defined, valid or not, and the step-up of those whose step_up is
// valid.
func (p *parser) purposes(n *yaml.Node, fields []policy.Field, declaredFields map[string]int) ([]namedPurpose, map[string]bool, map[string]string) {
	valid := map[string]bool{}
	for _, f := range fields {
		valid[f.Name] = true
	}
	fieldNames := sortedKeys(declaredFields)
	treatments := append([]string{"clear", "deny"}, mask.Names...)
	declared := map[string]bool{}
	stepUp := map[string]string{}
	var out []namedPurpose
	for _, e := range p.pairs(n, "purposes") {
		before := p.n
		if !nameRE.MatchString(e.key) {
			p.errorf(e.k, "purposes", "invalid purpose name %s: want a lower-case letter, then up to 62 lower-case letters, digits or -", short(e.key))
			continue
		}
		declared[e.key] = true
		path := "purposes." + e.key
		pu := &policy.Purpose{Name: e.key, Fields: map[string]policy.Treatment{}}
		if isNull(deref(e.v)) {
			p.errorf(e.k, path, "want a mapping with description and fields, got nothing")
			continue
		}
		p.mapping(e.v, path, purposeKeys, func(key string, _, v *yaml.Node) {
			kp := path + "." + key
			switch key {
			case "description":
				pu.Description, _ = p.text(v, kp)
			case "require_reason":
				pu.RequireReason, _ = p.boolean(v, kp)
			case "step_up":
				if s, ok := p.text(v, kp); ok && p.oneOf(v, kp, "step-up", s, stepUps) {
					if s != "off" {
						pu.StepUp = s
					}
					stepUp[e.key] = pu.StepUp
				}
			case "fields":
				for _, f := range p.pairs(v, kp) {
					fp := join(kp, f.key)
					known := true
					if _, ok := declaredFields[f.key]; !ok {
						p.errorf(f.k, fp, "unknown field %s%s", short(f.key), suggestion(f.key, fieldNames))
						known = false
					}
					rv := deref(f.v)
					if rv == nil || rv.Kind != yaml.ScalarNode || rv.ShortTag() != "!!str" {
						p.errorf(f.v, fp, "want clear, deny or a mask (%s), got %s", strings.Join(mask.Names, ", "), describe(rv))
						continue
					}
					var t policy.Treatment
					switch s := rv.Value; {
					case s == "clear":
						t = policy.Treatment{Action: policy.Clear}
					case s == "deny":
						t = policy.Treatment{Action: policy.Deny}
					case mask.Valid(s):
						t = policy.Treatment{Action: policy.Masked, Mask: s}
					default:
						p.errorf(f.v, fp, "unknown treatment %s%s", short(s), hint(s, treatments))
						continue
					}
					if known && valid[f.key] {
						pu.Fields[f.key] = t
					}
				}
			}
		})
		if p.n == before {
			out = append(out, namedPurpose{pu: pu, k: e.k})
		}
	}
	return out, declared, stepUp
}

// roles reads the roles. It returns the valid ones, and the names of all
// those defined, valid or not. stepUps holds the step-up of the purposes,
// those a role's mfa must be able to give.
func (p *parser) roles(n *yaml.Node, declaredPurposes map[string]bool, stepUps map[string]string) ([]namedRole, map[string]bool) {
	purposeNames := sortedKeys(declaredPurposes)
	perms := names(policy.Permissions)
	declared := map[string]bool{}
	var out []namedRole
	for _, e := range p.pairs(n, "roles") {
		before := p.n
		if !nameRE.MatchString(e.key) {
			p.errorf(e.k, "roles", "invalid role name %s: want a lower-case letter, then up to 62 lower-case letters, digits or -", short(e.key))
			continue
		}
		declared[e.key] = true
		path := "roles." + e.key
		r := &policy.Role{Name: e.key}
		if isNull(deref(e.v)) {
			p.errorf(e.k, path, "want a mapping with purposes and permissions, got nothing")
			continue
		}
		var mfaKey *yaml.Node // set when mfa is given without mistakes
		p.mapping(e.v, path, roleKeys, func(key string, k, v *yaml.Node) {
			kp := path + "." + key
			keyBefore := p.n
			items := p.list(v, kp)
			if key == "mfa" && len(items) == 0 && deref(v).Kind == yaml.SequenceNode {
				p.errorf(v, kp, "want at least one of %s, got an empty list (leave mfa out to allow both)", strings.Join(mfaFactors, ", "))
			}
			seen := map[string]bool{}
			for _, item := range items {
				s, ok := p.text(item, kp)
				if !ok {
					continue
				}
				if seen[s] {
					p.errorf(item, kp, "%s listed twice", short(s))
					continue
				}
				seen[s] = true
				switch key {
				case "purposes":
					if !declaredPurposes[s] {
						p.errorf(item, kp, "unknown purpose %s%s", short(s), suggestion(s, purposeNames))
						continue
					}
					r.Purposes = append(r.Purposes, s)
				case "permissions":
					if p.oneOf(item, kp, "permission", s, perms) {
						r.Permissions = append(r.Permissions, policy.Permission(s))
					}
				case "mfa":
					if slices.Contains(mfaFactors, s) {
						r.MFA = append(r.MFA, s)
					} else {
						p.errorf(item, kp, "unknown second factor %s: want %s%s", short(s), strings.Join(mfaFactors, " or "), suggestion(s, mfaFactors))
					}
				}
			}
			if key == "mfa" && p.n == keyBefore {
				mfaKey = k
			}
		})
		if mfaKey != nil && !slices.Contains(r.MFA, "webauthn") {
			for _, pu := range r.Purposes {
				if stepUps[pu] == "webauthn" {
					p.errorf(mfaKey, path+".mfa", "purpose %q asks for a WebAuthn step-up, which this role cannot give: add webauthn to mfa, or set the purpose's step_up to any", pu)
				}
			}
		}
		if p.n == before {
			out = append(out, namedRole{r: r, k: e.k})
		}
	}
	return out, declared
}

// limitSpec holds the keys that one mapping of guard limits (guard.defaults
// or a role under guard.roles) sets, as changes to apply over the limits it
// inherits.
type limitSpec []func(*guard.Limits)

func (s limitSpec) apply(l *guard.Limits) {
	for _, f := range s {
		f(l)
	}
}

// guard reads the guard section. roles are the valid roles, declaredRoles
// the names of all those defined, valid or not.
func (p *parser) guard(n *yaml.Node, roles []namedRole, declaredRoles map[string]bool) Guard {
	g := Guard{Location: defaultLocation()}
	for _, s := range defaultTrustedNetworks {
		g.TrustedNetworks = append(g.TrustedNetworks, netip.MustParsePrefix(s))
	}
	readers := map[string]bool{} // valid roles, whether they have purposes
	for _, nr := range roles {
		readers[nr.r.Name] = len(nr.r.Purposes) > 0
	}
	var defaults limitSpec
	specs := map[string]limitSpec{}
	p.mapping(n, "guard", guardKeys, func(key string, _, v *yaml.Node) {
		path := "guard." + key
		switch key {
		case "timezone":
			if s, ok := p.text(v, path); ok {
				if loc, ok := p.location(v, path, s); ok {
					g.Location = loc
				}
			}
		case "trusted_networks":
			g.TrustedNetworks = p.prefixes(v, path)
		case "trusted_proxies":
			g.TrustedProxies = p.prefixes(v, path)
		case "defaults":
			defaults = p.limits(v, path)
		case "roles":
			roleNames := sortedKeys(declaredRoles)
			for _, e := range p.pairs(v, path) {
				rp := join(path, e.key)
				if !declaredRoles[e.key] {
					p.errorf(e.k, rp, "unknown role %s%s", short(e.key), suggestion(e.key, roleNames))
					continue
				}
				if reads, valid := readers[e.key]; valid && !reads {
					p.errorf(e.k, rp, "role %q has no purposes: it reads no records, so no limits apply to it; remove this entry", e.key)
					continue
				}
				specs[e.key] = p.limits(e.v, rp)
			}
		}
	})
	g.Roles = map[string]guard.Limits{}
	for _, nr := range roles {
		if len(nr.r.Purposes) == 0 {
			continue
		}
		l := defaultLimits
		defaults.apply(&l)
		specs[nr.r.Name].apply(&l)
		g.Roles[nr.r.Name] = l
	}
	return g
}

// location loads the time zone named s.
func (p *parser) location(n *yaml.Node, path, s string) (*time.Location, bool) {
	const want = "want an IANA time zone name such as Europe/Paris or UTC"
	if s == "" || s == "Local" {
		// LoadLocation takes both, as UTC and as the host's zone.
		p.errorf(n, path, "%s, got %s", want, short(s))
		return nil, false
	}
	loc, err := time.LoadLocation(s)
	if err != nil {
		p.errorf(n, path, "unknown time zone %s: %s", short(s), want)
		return nil, false
	}
	return loc, true
}

// prefixes reads a list of networks in CIDR notation.
func (p *parser) prefixes(n *yaml.Node, path string) []netip.Prefix {
	var out []netip.Prefix
	seen := map[netip.Prefix]bool{}
	for i, item := range p.list(n, path) {
		s, ok := p.text(item, fmt.Sprintf("%s[%d]", path, i))
		if !ok {
			continue
		}
		pf, err := netip.ParsePrefix(s)
		if err != nil {
			one := ""
			if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
				one = fmt.Sprintf(" (for one address, write %s/%d)", s, a.BitLen())
			}
			p.errorf(item, path, "invalid network %s: want CIDR notation such as 10.0.0.0/8 or fd00::/8%s", short(s), one)
			continue
		}
		if m := pf.Masked(); m != pf {
			p.errorf(item, path, "network %s has address bits set beyond its /%d prefix: did you mean %s?", short(s), pf.Bits(), m)
			continue
		}
		if seen[pf] {
			p.errorf(item, path, "%s listed twice", short(s))
			continue
		}
		seen[pf] = true
		out = append(out, pf)
	}
	return out
}

// limits reads a mapping of guard limits, at path guard.defaults or
// guard.roles.ROLE.
func (p *parser) limits(n *yaml.Node, path string) limitSpec {
	var spec limitSpec
	set := func(f func(*guard.Limits)) { spec = append(spec, f) }
	p.mapping(n, path, guardLimitKeys, func(key string, _, v *yaml.Node) {
		kp := path + "." + key
		switch key {
		case "all_units":
			if b, ok := p.boolean(v, kp); ok {
				set(func(l *guard.Limits) { l.AllUnits = b })
			}
		case "rate":
			if rate, burst, ok := p.rate(v, kp); ok {
				set(func(l *guard.Limits) { l.Rate, l.Burst = rate, burst })
			}
		case "velocity":
			if subjects, window, ok := p.velocity(v, kp); ok {
				set(func(l *guard.Limits) { l.VelocitySubjects, l.VelocityWindow = subjects, window })
			}
		case "enumeration_run":
			if i, ok := p.int64(v, kp); ok {
				if i != 0 && (i < minEnumerationRun || i > maxEnumerationRun) {
					p.errorf(v, kp, "must be 0 (off) or between %d and %d, got %d", minEnumerationRun, maxEnumerationRun, i)
				} else {
					set(func(l *guard.Limits) { l.EnumerationRun = int(i) })
				}
			}
		case "hours":
			if s, ok := p.text(v, kp); ok {
				if h, err := guard.ParseHours(s); err != nil {
					p.errorf(v, kp, "invalid hours %s: %v", short(s), err)
				} else {
					set(func(l *guard.Limits) { l.Hours = h })
				}
			}
		case "hard_margin":
			if i, ok := p.count(v, kp, maxGuardCount, "off"); ok {
				set(func(l *guard.Limits) { l.HardMargin = i })
			}
		default:
			if i, ok := p.count(v, kp, maxGuardCount, "no limit"); ok {
				field := guardBudgets[key]
				set(func(l *guard.Limits) { *field(l) = i })
			}
		}
	})
	return spec
}

// count reads an integer between 0 (which means zero, as in "no limit" or
// "off") and max.
func (p *parser) count(n *yaml.Node, path string, max int64, zero string) (int, bool) {
	i, ok := p.int64(n, path)
	if !ok {
		return 0, false
	}
	if i < 0 || i > max {
		p.errorf(n, path, "must be between 0 (%s) and %d, got %d", zero, max, i)
		return 0, false
	}
	return int(i), true
}

// number reads a finite number, integer or not.
func (p *parser) number(n *yaml.Node, path string) (float64, bool) {
	rn := deref(n)
	var f float64
	if rn == nil || rn.Kind != yaml.ScalarNode || (rn.ShortTag() != "!!int" && rn.ShortTag() != "!!float") || rn.Decode(&f) != nil {
		p.errorf(n, path, "want a number, got %s", describe(rn))
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		p.errorf(n, path, "want a finite number, got %s", short(rn.Value))
		return 0, false
	}
	return f, true
}

// isOff reports whether n turns a detector off: off, false or 0.
func isOff(n *yaml.Node) bool {
	if n == nil || n.Kind != yaml.ScalarNode {
		return false
	}
	switch n.ShortTag() {
	case "!!str":
		return n.Value == "off"
	case "!!bool":
		var b bool
		return n.Decode(&b) == nil && !b
	case "!!int", "!!float":
		var f float64
		return n.Decode(&f) == nil && f == 0
	}
	return false
}

// rate reads a token bucket, {per_second: N, burst: N}, or off for no rate
// limit (then both are 0).
func (p *parser) rate(n *yaml.Node, path string) (rate, burst float64, ok bool) {
	rn := deref(n)
	if isOff(rn) {
		return 0, 0, true
	}
	if rn == nil || rn.Kind != yaml.MappingNode {
		p.errorf(n, path, "want {per_second: N, burst: N}, or off for no rate limit, got %s", describe(rn))
		return 0, 0, false
	}
	before := p.n
	have := map[string]bool{}
	p.mapping(n, path, rateKeys, func(key string, _, v *yaml.Node) {
		have[key] = true
		kp := path + "." + key
		x, ok := p.number(v, kp)
		if !ok {
			return
		}
		switch key {
		case "per_second":
			if x <= 0 || x > maxGuardCount {
				p.errorf(v, kp, "must be more than 0 and at most %d, got %v (write rate: off for no rate limit)", maxGuardCount, x)
			}
			rate = x
		case "burst":
			if x < 1 || x > maxGuardCount {
				p.errorf(v, kp, "must be between 1 and %d, got %v", maxGuardCount, x)
			}
			burst = x
		}
	})
	for _, k := range rateKeys {
		if !have[k] {
			p.errorf(n, path, "missing required key %q", k)
		}
	}
	return rate, burst, p.n == before
}

// velocity reads {subjects: N, window: DURATION}, or off (then both are 0).
func (p *parser) velocity(n *yaml.Node, path string) (subjects int, window time.Duration, ok bool) {
	rn := deref(n)
	if isOff(rn) {
		return 0, 0, true
	}
	if rn == nil || rn.Kind != yaml.MappingNode {
		p.errorf(n, path, "want {subjects: N, window: DURATION}, or off, got %s", describe(rn))
		return 0, 0, false
	}
	before := p.n
	have := map[string]bool{}
	p.mapping(n, path, velocityKeys, func(key string, _, v *yaml.Node) {
		have[key] = true
		kp := path + "." + key
		switch key {
		case "subjects":
			subjects, _ = p.count(v, kp, maxVelocitySubjects, "off")
		case "window":
			var d setting[time.Duration]
			p.duration(&d, v, kp)
			if !d.set {
				return
			}
			if d.val <= 0 || d.val > maxVelocityWindow {
				p.errorf(v, kp, "must be a positive duration of at most %s, got %s", maxVelocityWindow, d.val)
				return
			}
			window = d.val
		}
	})
	if !have["subjects"] {
		p.errorf(n, path, "missing required key %q", "subjects")
	} else if subjects > 0 && !have["window"] {
		p.errorf(n, path, "missing required key %q", "window")
	}
	return subjects, window, p.n == before
}

// assemble builds the policy with policy.New. Its checks overlap those
// above; any it makes beyond them are reported on the purpose or role at
// fault when one is, on the whole file otherwise. Only the valid parts are
// passed in, so a mistake already reported is not reported again.
func (p *parser) assemble(rootLine int, schemaNode *yaml.Node, fields []policy.Field, purposes []namedPurpose, roles []namedRole) *policy.Policy {
	report := func(line int, key string, err error) {
		for _, e := range errorsOf(err) {
			p.add(line, key, "%s", e.Error())
		}
	}
	if _, err := policy.New(fields, nil, nil); err != nil {
		line := rootLine
		if schemaNode != nil {
			line = schemaNode.Line
		}
		report(line, "schema", err)
		return nil
	}
	validPurposes := map[string]bool{}
	var pus []*policy.Purpose
	for _, np := range purposes {
		validPurposes[np.pu.Name] = true
		pus = append(pus, np.pu)
	}
	var rs []*policy.Role
	for _, nr := range roles {
		// A role naming an invalid purpose has been reported with it.
		r := *nr.r
		r.Purposes = slices.DeleteFunc(slices.Clone(r.Purposes), func(s string) bool { return !validPurposes[s] })
		rs = append(rs, &r)
	}
	if _, err := policy.New(fields, pus, rs); err != nil {
		before := p.n
		var good []*policy.Purpose
		for _, np := range purposes {
			if _, err := policy.New(fields, []*policy.Purpose{np.pu}, nil); err != nil {
				report(np.k.Line, "purposes."+np.pu.Name, err)
			} else {
				good = append(good, np.pu)
			}
		}
		for i, nr := range roles {
			if _, err := policy.New(fields, good, []*policy.Role{rs[i]}); err != nil {
				report(nr.k.Line, "roles."+nr.r.Name, err)
			}
		}
		if p.n == before {
			report(rootLine, "", err)
		}
	}
	if p.n > 0 || len(p.envProbs) > 0 {
		return nil
	}
	pus = pus[:0]
	for _, np := range purposes {
		pus = append(pus, np.pu)
	}
	rs = rs[:0]
	for _, nr := range roles {
		rs = append(rs, nr.r)
	}
	pol, err := policy.New(fields, pus, rs)
	if err != nil {
		report(rootLine, "", err)
		return nil
	}
	return pol
}

// names converts a list of string-based constants.
func names[T ~string](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// hint suggests a near option, or lists them all.
func hint(s string, options []string) string {
	if h := suggestion(s, options); h != "" {
		return h
	}
	return " (want one of: " + strings.Join(options, ", ") + ")"
}

// suggestion returns ` (did you mean "x"?)` for the option nearest s, if
// one is near enough to be a typo, or "".
func suggestion(s string, options []string) string {
	if len(s) > 100 {
		return ""
	}
	best, bestD := "", 3
	for _, o := range options {
		if d := distance(s, o); d < bestD && d <= max(1, len([]rune(s))/2) {
			best, bestD = o, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// distance is the Levenshtein distance between a and b, in runes.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
