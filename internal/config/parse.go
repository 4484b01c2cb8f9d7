package config

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// yaml.v3 parses the file into a node tree; [parser.bind] decodes the tree
// into the typed [file], taking the value of each key whose COFFRE_*
// variable is set from the environment instead; [parser.check] validates
// the leaves, which keep their node (see "Configuration parsing" in
// docs/design.md).

// leaf is a key whose value is a scalar or a list of scalars, as written:
// its key and value nodes (nil when absent), and its dotted path. A value
// from the environment has one synthetic node for both.
type leaf struct {
	k, n *yaml.Node
	path string
}

func (l leaf) set() bool { return l.n != nil }

// entry is one entry of a mapping from names to T (purposes, roles…).
// Bad is set when decoding its value found a problem.
type entry[T any] struct {
	Name, Path string
	K, V       *yaml.Node
	Bad        bool
	Val        T
}

// named is a mapping from names to T, in file order. With the tag option
// names=roles (or schema), the environment may add entries for the names
// of the roles (or fields).
type named[T any] []entry[T]

func (m *named[T]) bind(p *parser, _, n *yaml.Node, path string, opts string) {
	for _, e := range p.pairs(n, path) {
		before := p.total()
		en := entry[T]{Name: e.key, Path: join(path, e.key), K: e.k, V: e.v}
		p.bind(e.k, e.v, en.Path, "", reflect.ValueOf(&en.Val).Elem())
		en.Bad = p.total() != before
		p.names[path] = append(p.names[path], e.key)
		*m = append(*m, en)
	}
	if list, ok := strings.CutPrefix(opts, "names="); ok {
		for _, name := range p.names[list] {
			en := entry[T]{Name: name, Path: join(path, name)}
			if p.lastEnv = nil; !slices.Contains(p.names[path], name) {
				p.bind(nil, nil, en.Path, "", reflect.ValueOf(&en.Val).Elem())
			}
			if p.lastEnv != nil {
				en.K, en.V = p.lastEnv, p.lastEnv
				*m = append(*m, en)
			}
		}
	}
}

// binder is implemented by the types that decode themselves.
type binder interface {
	bind(p *parser, k, n *yaml.Node, path string, opts string)
}

var leafType = reflect.TypeFor[leaf]()

// bind takes the value of the variable that overrides the key at path (a
// list, comma-separated, with the tag option list) in place of n.
func (l *leaf) bind(p *parser, k, n *yaml.Node, path string, opts string) {
	if e := p.fromEnv(path, opts == "list"); e != nil {
		k, n = e, e
	}
	*l = leaf{path: path} // unset: only its path, for its default (see effective)
	if n != nil {
		*l = leaf{k: k, n: n, path: path}
	}
}

// bind decodes n, the value of key k at path, into v; opts are the options
// of v's tag. Struct fields are the keys of a mapping, named by their `key`
// tag; a first field tagged "." holds the key's own value, and makes a
// scalar acceptable in place of the mapping (rate: off).
func (p *parser) bind(k, n *yaml.Node, path string, opts string, v reflect.Value) {
	if b, ok := v.Addr().Interface().(binder); ok {
		b.bind(p, k, n, path, opts)
		return
	}
	t := v.Type()
	hasSelf := t.Field(0).Tag.Get("key") == "."
	if hasSelf {
		self := v.Field(0).Addr().Interface().(*leaf)
		if self.bind(p, k, n, path, opts); self.set() {
			n = self.n
		}
	}
	vals := map[string]pair{}
	if !hasSelf || deref(n).Kind == yaml.MappingNode {
		for _, e := range p.pairs(n, path) {
			if !slices.Contains(keysOf(t), e.key) {
				p.errorf(e.k, path, "unknown key %s%s", short(e.key), hint(e.key, keysOf(t)))
			} else if !isNull(deref(e.v)) { // a null value counts as absent
				vals[e.key] = e
			}
		}
	}
	for i := range t.NumField() {
		if key, o := tag(t.Field(i)); key != "" && key != "." {
			p.bind(vals[key].k, vals[key].v, join(path, key), o, v.Field(i))
		}
	}
}

// tag splits a struct field's `key` tag into the key and its options.
func tag(f reflect.StructField) (key, opts string) {
	key, opts, _ = strings.Cut(f.Tag.Get("key"), ",")
	return key, opts
}

// keysOf lists the keys of the mapping that struct type t decodes (made
// once a type: a file binds the same types many times).
func keysOf(t reflect.Type) []string {
	if keys, ok := typeKeys.Load(t); ok {
		return keys.([]string)
	}
	var keys []string
	for i := range t.NumField() {
		if k, _ := tag(t.Field(i)); k != "" && k != "." {
			keys = append(keys, k)
		}
	}
	typeKeys.Store(t, keys)
	return keys
}

var typeKeys sync.Map // reflect.Type → []string

// envName is the environment variable that overrides the key at path:
// COFFRE_, then the path upper-cased with dots and hyphens as underscores.
func envName(path string) string {
	return "COFFRE_" + strings.ToUpper(envSeparators.Replace(path))
}

var envSeparators = strings.NewReplacer(".", "_", "-", "_")

// fromEnv returns a node holding the value of the variable that overrides
// the key at path, a list of strings if list (the value comma-separated),
// a string otherwise; nil if the variable is unset.
func (p *parser) fromEnv(path string, list bool) *yaml.Node {
	name := envName(path)
	val := p.env[name]
	if val == "" {
		return nil
	}
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: val}
	if list {
		n = &yaml.Node{Kind: yaml.SequenceNode}
		for it := range strings.SplitSeq(val, ",") {
			if it = strings.TrimSpace(it); it != "" {
				n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: it})
				p.envOf[n.Content[len(n.Content)-1]] = name
			}
		}
	}
	p.envOf[n] = name
	p.lastEnv = n
	if other, ok := p.envPath[name]; ok && other != path {
		p.errorf(n, path, "names two keys, %s and %s: set them in the file", other, path)
	}
	p.envPath[name] = path
	return n
}

// Names of fields, purposes, roles and hosts, and the patterns of keys and
// of yaml.v3 errors.
var (
	fieldNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
	hostNameRE  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)
	nameRE      = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)
	// plainKeyRE matches keys written as they are in a dotted path; others
	// are quoted.
	plainKeyRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	yamlLineRE = regexp.MustCompile(`^line (\d+): (.*)$`)
)

const (
	// maxWork bounds the mapping entries and list items visited, so that
	// aliases cannot make a small file expensive to walk.
	maxWork = 1 << 20
	// maxProblems bounds the problems kept; the others are only counted.
	maxProblems = 100
	// envFile is the file named by problems with environment variables.
	envFile = "environment"
)

// parser collects the problems of one configuration.
type parser struct {
	file     string
	probs    []Problem // in the file, the first maxProblems
	envProbs []Problem // in the environment
	n        int       // problems found in the file, kept or not
	work     int
	env      map[string]string     // the COFFRE_* variables
	envOf    map[*yaml.Node]string // the variable each environment node came from
	defaults map[string]any        // the default of each key left unset (see effective)
	lastEnv  *yaml.Node            // the last node made by fromEnv
	envPath  map[string]string     // the key each variable set was read for
	names    map[string][]string   // the names of each named mapping and of the fields
}

// pair is one entry of a mapping.
type pair struct {
	key  string
	k, v *yaml.Node
}

// errorf reports a problem with the value in n (nil for none), at key path:
// on its line, or on the variable it came from.
func (p *parser) errorf(n *yaml.Node, path, format string, args ...any) {
	if name, env := p.envOf[n]; env {
		p.envProbs = append(p.envProbs, Problem{File: envFile, Key: name, Message: fmt.Sprintf(format, args...)})
	} else if p.n++; len(p.probs) < maxProblems {
		p.probs = append(p.probs, Problem{File: p.file, Line: cmp.Or(n, &yaml.Node{}).Line, Key: path, Message: fmt.Sprintf(format, args...)})
	}
}

// at is a node that stands for a line, where there is no node.
func at(line int) *yaml.Node { return &yaml.Node{Line: line} }

// bad reports a problem with the value of l.
func (p *parser) bad(l leaf, format string, args ...any) { p.errorf(l.n, l.path, format, args...) }

// total counts the problems found so far.
func (p *parser) total() int { return p.n + len(p.envProbs) }

// sort puts the file's problems in line order, then the environment's.
func (p *parser) sort() {
	slices.SortStableFunc(p.probs, func(a, b Problem) int { return cmp.Compare(a.Line, b.Line) })
	if p.n > len(p.probs) {
		p.probs = append(p.probs, Problem{File: p.file, Message: fmt.Sprintf("%d more problems not shown", p.n-len(p.probs))})
	}
	p.probs = append(p.probs, p.envProbs...)
}

// parse does the work of Parse; the result is meaningful only when no
// problem was found.
func (p *parser) parse(data []byte, environ []string) *Config {
	p.envOf, p.env, p.envPath, p.names = map[*yaml.Node]string{}, map[string]string{}, map[string]string{}, map[string][]string{}
	if len(data) > maxFileSize {
		p.errorf(nil, "", "file is larger than %d bytes", maxFileSize)
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc, next yaml.Node
	err := dec.Decode(&doc)
	if err == nil {
		if err = dec.Decode(&next); err == nil {
			p.errorf(&next, "", "a configuration holds one YAML document; remove the second one (after \"---\")")
			return nil
		}
	}
	if msg := strings.TrimPrefix(fmt.Sprint(err), "yaml: "); err != io.EOF {
		if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
			line, _ := strconv.Atoi(m[1])
			if yamlParserError.MatchString(m[2]) {
				line++
			}
			p.errorf(at(line), "", "invalid YAML: %s", m[2])
		} else {
			p.errorf(nil, "", "invalid YAML: %s", msg)
		}
		return nil
	}
	var root *yaml.Node // nil for an empty document
	rootLine := 1
	if len(doc.Content) > 0 {
		root, rootLine = doc.Content[0], doc.Content[0].Line
		if r := deref(root); r.Kind != yaml.MappingNode && !isNull(r) {
			p.errorf(root, "", "want a mapping of settings (store, listen, schema, …), got %s", describe(r))
			return nil
		}
	}
	// The COFFRE_* variables: the last of a variable given twice wins, and
	// an empty value counts as unset.
	for _, kv := range environ {
		if k, v, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "COFFRE_") {
			p.env[k] = v
		}
	}
	var f file
	p.bind(nil, root, "", "", reflect.ValueOf(&f).Elem())
	if f.Schema.n == nil {
		p.errorf(at(rootLine), "schema", "missing required key: declare at least one field of the record schema")
	}
	c := p.check(&f)
	if c != nil {
		c.Settings = p.effective(&f)
	}
	return c
}

// yamlParserError matches the problems yaml.v3's parser (as opposed to its
// scanner) reports. For those it prints a 0-based line: that of the block
// the problem is in, or of the problem when the block starts on the first
// line.
var yamlParserError = regexp.MustCompile(`^(did not find expected (<|node content|key|'[-,]')|found (undefined tag|duplicate|incompatible))`)

// deref follows aliases to the node they name.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 16; i++ {
		n = n.Alias
	}
	return cmp.Or(n, &yaml.Node{})
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
	what, ok := map[string]string{"!!str": "the string", "!!bool": "the boolean", "!!int": "the number", "!!float": "the number"}[n.ShortTag()]
	if !ok {
		return "a value tagged " + short(n.ShortTag())
	}
	return what + " " + short(n.Value)
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
	return strings.TrimPrefix(path+"."+key, ".")
}

// pairs returns the entries of the mapping n (nothing for null), reporting
// other kinds of node, keys that are not scalars, merge keys and keys given
// twice.
func (p *parser) pairs(n *yaml.Node, path string) []pair {
	var out []pair
	seen, kv := map[string]int{}, p.list(n, path, yaml.MappingNode)
	for i := 0; i+1 < len(kv); i += 2 {
		k, rk := kv[i], deref(kv[i])
		switch {
		case rk.Kind != yaml.ScalarNode:
			p.errorf(k, path, "want a plain key, got %s", describe(rk))
		case rk.ShortTag() == "!!merge":
			p.errorf(k, path, "merge keys (<<) are not supported; write the entries out")
		case seen[rk.Value] > 0:
			p.errorf(k, join(path, rk.Value), "key given twice (first at line %d)", seen[rk.Value])
		default:
			seen[rk.Value] = k.Line
			out = append(out, pair{key: rk.Value, k: k, v: kv[i+1]})
		}
	}
	return out
}

// list returns the children of n, a list (or, with kind MappingNode, a
// mapping), reporting another kind of node; nothing for null, or once the
// work budget is spent.
func (p *parser) list(n *yaml.Node, path string, kind yaml.Kind) []*yaml.Node {
	rn := deref(n)
	if isNull(rn) {
		return nil
	} else if rn.Kind != kind {
		p.errorf(n, path, "want %s, got %s", map[yaml.Kind]string{yaml.MappingNode: "a mapping", yaml.SequenceNode: "a list"}[kind], describe(rn))
		return nil
	}
	if p.work += len(rn.Content); p.work > maxWork {
		if p.work-len(rn.Content) <= maxWork {
			p.errorf(nil, "", "document too complex (more than %d entries, counting aliases)", maxWork)
		}
		return nil
	}
	return rn.Content
}

// read returns the value of l as a T, reporting a value of another type;
// false, without a problem, when l is unset. A value from the environment
// is a string, read as YAML would read it where a number or a boolean is
// wanted.
func read[T string | bool | int | int64 | float64](p *parser, l leaf) (T, bool) {
	var v T
	if !l.set() {
		return v, false
	}
	rn := deref(l.n)
	want, tags := "a string", []string{"!!str"}
	switch any(v).(type) {
	case bool:
		want, tags = "true or false", []string{"!!bool"}
	case int, int64:
		want, tags = "an integer", []string{"!!int"}
	case float64:
		want, tags = "a number", []string{"!!int", "!!float"}
	}
	_, env := p.envOf[l.n]
	if env && want != "a string" {
		rn = &yaml.Node{Kind: yaml.ScalarNode, Value: rn.Value}
	}
	switch {
	case env && want == "an integer" && rn.ShortTag() != "!!int":
		p.bad(l, "invalid integer %s", short(rn.Value))
	case rn.Kind != yaml.ScalarNode || !slices.Contains(tags, rn.ShortTag()):
		p.bad(l, "want %s, got %s", want, describe(rn))
	case want == "a string":
		return any(rn.Value).(T), true
	case rn.Decode(&v) != nil:
		p.bad(l, "integer %s out of range", short(rn.Value))
	case want == "a number" && !(math.Abs(any(v).(float64)) <= math.MaxFloat64): // NaN or infinite
		p.bad(l, "want a finite number, got %s", short(rn.Value))
	default:
		return v, true
	}
	return v, false
}

// each reads the list of strings l, whose items check turns into the
// values returned, or says what is wrong with; a value returned twice is
// reported. Items that are not strings are reported at path[i] if indexed.
// n is the number of items, or -1 when l is unset or not a list.
func each[T comparable](p *parser, l leaf, indexed bool, check func(string) (T, string)) (out []T, n int) {
	if !l.set() {
		return nil, -1
	}
	items, seen := p.list(l.n, l.path, yaml.SequenceNode), map[T]bool{}
	for i, item := range items {
		path := l.path
		if indexed {
			path = fmt.Sprintf("%s[%d]", path, i)
		}
		s, ok := read[string](p, leaf{n: item, path: path})
		if !ok {
			continue
		}
		switch v, msg := check(s); {
		case msg != "":
			p.errorf(item, l.path, "%s", msg)
		case seen[v]:
			p.errorf(item, l.path, "%s listed twice", short(s))
		default:
			seen[v] = true
			out = append(out, v)
		}
	}
	if deref(l.n).Kind != yaml.SequenceNode {
		return out, -1
	}
	return out, len(items)
}
