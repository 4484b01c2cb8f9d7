package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, and that it returns either a
// configuration that meets the documented bounds or an *Error whose
// rendering has one line per problem.
func FuzzParse(f *testing.F) {
	f.Add(demoYAML, "")
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, "COFFRE_SESSIONS_IDLE=1h\nCOFFRE_LISTEN=:1")
	}
	f.Add([]byte("a: &a [*a]\nschema: *a\n"), "COFFRE_LIMITS_MAX_BODY_BYTES=1e9")
	f.Add([]byte("<<: {x: 1}\n"), "")
	f.Add([]byte("schema: [{name: x, type: text, sensitivity: identity}]\nwebauthn: {rp_id: a.test, origins: [\"https://b.a.test\"]}\n"),
		"COFFRE_WEBAUTHN_ORIGINS=http://[::1]:1,https://a.test\nCOFFRE_WEBAUTHN_RP_ID=localhost\nCOFFRE_SESSIONS_STEP_UP=1m")
	f.Add([]byte("schema: [{name: x, type: text, sensitivity: identity}]\npartners: {listen: \":8443\", hosts: [a.test, \"::1\"]}\n"),
		"COFFRE_PARTNERS_HOSTS=localhost,0:0::1\nCOFFRE_PARTNERS_LISTEN=127.0.0.1:8080")
	f.Fuzz(func(t *testing.T, data []byte, env string) {
		cfg, err := Parse("fuzz.yaml", data, strings.Split(env, "\n"))
		if err != nil {
			if cfg != nil {
				t.Fatalf("Parse returned both a config and %v", err)
			}
			var cerr *Error
			if !errors.As(err, &cerr) || len(cerr.Problems) == 0 {
				t.Fatalf("Parse error %v (%T) is not an *Error with problems", err, err)
			}
			if n := strings.Count(err.Error(), "\n") + 1; n != len(cerr.Problems) {
				t.Fatalf("Error() has %d lines for %d problems:\n%v", n, len(cerr.Problems), err)
			}
			for _, p := range cerr.Problems {
				if p.File != "fuzz.yaml" && p.File != "environment" || p.Message == "" {
					t.Fatalf("bad problem %+v", p)
				}
			}
			return
		}
		switch {
		case cfg.Policy == nil || len(cfg.Policy.Fields) == 0:
			t.Fatalf("config without schema: %+v", cfg)
		case cfg.SessionIdle <= 0 || cfg.SessionAbsolute < cfg.SessionIdle || cfg.LoginTokenTTL <= 0:
			t.Fatalf("bad sessions: %+v", cfg)
		case cfg.MaxBodyBytes < minBodyBytes || cfg.MaxBodyBytes > maxBodyBytes:
			t.Fatalf("bad max_body_bytes: %+v", cfg)
		case cfg.ReasonMaxLen < 1 || cfg.ReasonMaxLen > maxReasonMaxLen:
			t.Fatalf("bad reason_max_len: %+v", cfg)
		case cfg.Store == "" || cfg.Listen == "" || cfg.DataDir == "" || cfg.RootKeyFile == "":
			t.Fatalf("empty setting: %+v", cfg)
		case cfg.StepUpFor < minStepUp || cfg.StepUpFor > maxStepUp:
			t.Fatalf("bad step_up: %+v", cfg)
		case cfg.Login.MaxFailures < 1 || cfg.Login.MaxFailures > maxMaxFailures ||
			cfg.Login.FailureWindow < minFailWindow || cfg.Login.FailureWindow > maxFailWindow ||
			cfg.Login.LockFor != 0 && (cfg.Login.LockFor < minLockFor || cfg.Login.LockFor > maxLockFor) ||
			cfg.Login.PerOrigin < 1 || cfg.Login.PerOrigin > maxPerOrigin:
			t.Fatalf("bad login: %+v", cfg.Login)
		case !validHostName(cfg.WebAuthn.RPID) || cfg.WebAuthn.RPName == "" || len(cfg.WebAuthn.Origins) == 0:
			t.Fatalf("bad webauthn: %+v", cfg.WebAuthn)
		}
		for _, o := range cfg.WebAuthn.Origins {
			if host, msg := checkOrigin(o); msg != "" || !onRPID(host, cfg.WebAuthn.RPID) {
				t.Fatalf("bad origin %q for %q: %s", o, cfg.WebAuthn.RPID, msg)
			}
		}
		if cfg.Partners.Listen != "" && checkPartnersListen(cfg.Partners.Listen, cfg.Listen) != "" || len(cfg.Partners.Hosts) == 0 {
			t.Fatalf("bad partners: %+v (listen %q)", cfg.Partners, cfg.Listen)
		}
		if checkOwnListen(cfg.Metrics.Listen, "metrics", "", "", "listen", cfg.Listen, "partners.listen", cfg.Partners.Listen) != "" ||
			cfg.Metrics.Token != "" && len(cfg.Metrics.Token) < minMetricsToken {
			t.Fatalf("bad metrics: %+v", cfg.Metrics)
		}
		seen := map[string]bool{}
		for _, h := range cfg.Partners.Hosts {
			if host, msg := checkCertHost(h); msg != "" || host != h || seen[h] {
				t.Fatalf("bad partner host %q in %q: %s", h, cfg.Partners.Hosts, msg)
			}
			seen[h] = true
		}
		for _, f := range cfg.Policy.Fields {
			if f.Lookup && !strings.Contains(" email phone national_id text name ", " "+string(f.Type)+" ") {
				t.Fatalf("lookup on %s field %q", f.Type, f.Name)
			}
		}
		for _, pu := range cfg.Policy.Purposes {
			if on := pu.StepUp != ""; on != (pu.StepUpWindow != 0) || on && (pu.StepUpWindow < minStepUp || pu.StepUpWindow > maxStepUp) ||
				!on && pu.StepUpGroup != "" || pu.Group() != pu.Name && cfg.Policy.Purposes[pu.Group()] != nil {
				t.Fatalf("bad step-up of purpose %q: %+v", pu.Name, pu)
			}
		}
		for _, r := range cfg.Policy.Roles {
			if r.MFA != nil && len(r.MFA) == 0 {
				t.Fatalf("role %q with an empty, non-nil MFA", r.Name)
			}
			for _, pu := range r.Purposes {
				if cfg.Policy.Purposes[pu].StepUp == "webauthn" && r.MFA != nil && !slices.Contains(r.MFA, "webauthn") {
					t.Fatalf("role %q cannot give the WebAuthn step-up of %q", r.Name, pu)
				}
			}
		}
	})
}
