package config

import (
	"cmp"
	"fmt"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Setting is one key of the effective configuration ([Config.Settings]):
// its value as written in the file or the environment, or its default,
// with secrets redacted.
type Setting struct {
	// Key is the key's dotted path (purposes.case-handling.fields).
	Key string `json:"key"`
	// Value is a string, or a list of strings for a list.
	Value any `json:"value"`
	// From says where the value comes from: "line N" of the file, the
	// COFFRE_* variable that set it, or "default".
	From string `json:"from"`
}

// Sources of a [Setting].
const (
	FromDefault = "default"
	// Redacted replaces a secret value.
	Redacted = "REDACTED"
)

// secretKeys are the keys whose value is a secret itself (the others name
// a file or a variable that holds one).
var secretKeys = []string{"metrics.token"}

// secretParamRE matches the names of URL parameters that may hold a secret.
var secretParamRE = regexp.MustCompile(`(?i)pass|secret|token|key|sig|auth`)

// noteDefault records the default of the key at path, unless it is zero
// (no default: the feature is off or the key is derived from others).
func (p *parser) noteDefault(path string, v any) {
	if path == "" || reflect.ValueOf(v).IsZero() {
		return
	}
	if p.defaults == nil {
		p.defaults = map[string]any{}
	}
	switch x := v.(type) {
	case time.Duration:
		v = shortDuration(x)
	case []string:
		v = x
	default:
		v = fmt.Sprint(v)
	}
	p.defaults[path] = v
}

// shortDuration writes d without its zero units: 30m, not 30m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// effective lists the keys of f that the file or the environment set, and
// the defaults of the others, sorted by key, secrets redacted.
func (p *parser) effective(f *file) []Setting {
	seen := map[string]bool{}
	var out []Setting
	p.leaves(reflect.ValueOf(f).Elem(), func(l leaf) {
		v, ok := leafValue(l.n)
		if !ok || seen[l.path] {
			return
		}
		seen[l.path] = true
		from := p.envOf[l.n]
		if from == "" {
			from = fmt.Sprintf("line %d", l.n.Line)
		}
		out = append(out, Setting{Key: l.path, Value: redact(l.path, v), From: from})
	})
	for k, v := range p.defaults {
		if !seen[k] {
			out = append(out, Setting{Key: k, Value: redact(k, v), From: FromDefault})
		}
	}
	slices.SortFunc(out, func(a, b Setting) int { return cmp.Compare(a.Key, b.Key) })
	return out
}

// leaves calls visit with every leaf set under v, a value of the typed
// file, in file order.
func (p *parser) leaves(v reflect.Value, visit func(leaf)) {
	switch x := v.Addr().Interface().(type) {
	case *leaf:
		if x.set() {
			visit(*x)
		}
		return
	case *schemaFile:
		for i := range x.items {
			p.leaves(reflect.ValueOf(&x.items[i]).Elem(), visit)
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				p.leaves(v.Field(i), visit)
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			p.leaves(v.Index(i), visit)
		}
	}
}

// leafValue is a scalar's value, or a list of scalars' values; false for
// anything else (a mapping bound whole to a key's own leaf).
func leafValue(n *yaml.Node) (any, bool) {
	n = deref(n)
	switch n.Kind {
	case yaml.ScalarNode:
		return n.Value, true
	case yaml.SequenceNode:
		vals := []string{}
		for _, it := range n.Content {
			if it = deref(it); it.Kind != yaml.ScalarNode {
				return nil, false
			}
			vals = append(vals, it.Value)
		}
		return vals, true
	}
	return nil, false
}

// redact hides a secret value, and in a URL (the store's, a webhook's) the
// password and the query's values, where a token may be.
func redact(key string, v any) any {
	if slices.Contains(secretKeys, key) {
		return Redacted
	}
	switch x := v.(type) {
	case string:
		return RedactURL(x)
	case []string:
		out := make([]string, len(x))
		for i, s := range x {
			out[i] = RedactURL(s)
		}
		return out
	}
	return v
}

// RedactURL is s without a password if it is a URL, and without its
// query's values if it is an http(s) URL (a receiver's token) or without
// those named as secrets (a store URL's password=…).
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return s
	}
	if u.User != nil {
		if _, set := u.User.Password(); set {
			u.User = url.UserPassword(u.User.Username(), Redacted)
		}
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			if u.Scheme == "http" || u.Scheme == "https" || secretParamRE.MatchString(k) {
				q[k] = []string{Redacted}
			}
		}
		u.RawQuery = q.Encode()
	}
	return u.String()
}
