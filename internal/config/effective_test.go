package config

import (
	"reflect"
	"strings"
	"testing"
)

// TestSettings: the effective configuration names every key the file or
// the environment sets, with where it comes from, and the defaults of the
// others; secrets are redacted, the rest printed as written.
func TestSettings(t *testing.T) {
	const file = `schema:
  - {name: email, type: email, sensitivity: contact, lookup: true}
store: postgres://coffre:hunter2@db.example/coffre?sslmode=verify-full&password=x
listen: 127.0.0.1:9000
metrics: {token: s3cr3t-token-value-0123456789abcdef}
audit:
  witnesses: ["https://w.example/add?token=abc", https://w2.example/add]
  stream: {webhook: {url: "https://siem.example/in?key=k", secret_env: SIEM_SECRET}}
`
	cfg, err := Parse("coffre.yaml", []byte(file), []string{"COFFRE_SESSIONS_IDLE=10m", "COFFRE_LISTEN=127.0.0.1:9001"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Setting{}
	for i, s := range cfg.Settings {
		if i > 0 && cfg.Settings[i-1].Key >= s.Key {
			t.Errorf("settings not sorted, or a key twice: %s after %s", s.Key, cfg.Settings[i-1].Key)
		}
		got[s.Key] = s
	}
	for _, want := range []Setting{
		{"store", "postgres://coffre:REDACTED@db.example/coffre?password=REDACTED&sslmode=verify-full", "line 3"},
		{"listen", "127.0.0.1:9001", "COFFRE_LISTEN"},
		{"metrics.token", Redacted, "line 5"},
		{"audit.witnesses", []string{"https://w.example/add?token=REDACTED", "https://w2.example/add"}, "line 7"},
		{"audit.stream.webhook.url", "https://siem.example/in?key=REDACTED", "line 8"},
		{"audit.stream.webhook.secret_env", "SIEM_SECRET", "line 8"},
		{"sessions.idle", "10m", "COFFRE_SESSIONS_IDLE"},
		{"sessions.absolute", "12h", FromDefault},
		{"limits.max_body_bytes", "65536", FromDefault},
		{"schema.email.lookup", "true", "line 2"},
	} {
		if g, ok := got[want.Key]; !ok || !reflect.DeepEqual(g, want) {
			t.Errorf("setting %s = %+v, want %+v", want.Key, g, want)
		}
	}
	all := strings.ToLower(strings.Join(strings.Fields(strings.TrimSpace(func() string {
		var b strings.Builder
		for _, s := range cfg.Settings {
			b.WriteString(s.Key + "=" + strings.Join(values(s.Value), ",") + " ")
		}
		return b.String()
	}())), " "))
	for _, secret := range []string{"hunter2", "s3cr3t", "=abc", "=k&", "key=k "} {
		if strings.Contains(all, secret) {
			t.Errorf("a secret in the settings: %q in %s", secret, all)
		}
	}
}

func values(v any) []string {
	if l, ok := v.([]string); ok {
		return l
	}
	return []string{v.(string)}
}
