package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/coffre/coffre/internal/auditstream"
	"github.com/coffre/coffre/internal/config"
)

const configExample = "coffre config check --config /etc/coffre/coffre.yaml [--json]"

// configCheckJSON is `coffre config check --json`.
type configCheckJSON struct {
	Valid    bool             `json:"valid"`
	Source   string           `json:"source"`
	Problems []config.Problem `json:"problems"`
	// Summary is what the configuration sets, secrets left out: the
	// store without its password, whether a metrics token is set.
	Summary *configSummary `json:"summary,omitempty"`
	// Settings is the effective configuration, key by key, with where
	// each value comes from, secrets redacted.
	Settings []config.Setting `json:"settings,omitempty"`
}

// configSummary is the main of an effective configuration, with no secret.
type configSummary struct {
	Store       string   `json:"store"`
	Listen      string   `json:"listen"`
	DataDir     string   `json:"data_dir"`
	LogFormat   string   `json:"log_format"`
	Fields      int      `json:"schema_fields"`
	Purposes    int      `json:"purposes"`
	Roles       []string `json:"roles"`
	Partners    string   `json:"partners_listen,omitempty"`
	Metrics     string   `json:"metrics_listen,omitempty"`
	MetricsAuth bool     `json:"metrics_token_set"`
	AuditStream string   `json:"audit_stream,omitempty"`
	SealBy      string   `json:"seal_by"`
}

// runConfig is `coffre config check`: load a configuration as a server
// would (the file, then the COFFRE_* environment) and say whether it is
// valid, every problem at once, with a summary of what it sets and the
// effective configuration, key by key, secrets redacted.
func runConfig(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("config check", "[--config FILE | --dev] [--json]", configExample, stderr)
	var o appOptions
	o.flags(fs.StringVar, fs.BoolVar)
	asJSON := fs.Bool("json", false, "print the result as JSON")
	switch {
	case len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help"):
		return parse(fs, []string{"--help"})
	case len(args) == 0 || args[0] != "check":
		return &usageError{msg: "want config check", hint: configExample}
	}
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return &usageError{msg: "config check takes no arguments", hint: configExample}
	}
	cfg, err := loadConfig(o)
	var ce *config.Error
	switch {
	case errors.As(err, &ce) && *asJSON:
		if err := writeJSON(stdout, configCheckJSON{Source: o.configPath, Problems: ce.Problems}); err != nil {
			return err
		}
		return errInvalidConfig
	case err != nil:
		return err
	}
	sum := summarize(cfg)
	if *asJSON {
		return writeJSON(stdout, configCheckJSON{Valid: true, Source: cfg.Source, Problems: []config.Problem{}, Summary: sum, Settings: cfg.Settings})
	}
	fmt.Fprintf(stdout, "configuration valid: %s\n", cfg.Source)
	fmt.Fprintf(stdout, "store %s, listen %s, data %s, log %s\n", sum.Store, sum.Listen, sum.DataDir, sum.LogFormat)
	fmt.Fprintf(stdout, "%d schema fields, %d purposes, roles %s; seal by %s\n", sum.Fields, sum.Purposes, strings.Join(sum.Roles, ", "), sum.SealBy)
	if sum.AuditStream != "" {
		fmt.Fprintf(stdout, "audit stream to %s\n", sum.AuditStream)
	}
	fmt.Fprintln(stdout, "\neffective configuration (secrets redacted):")
	for _, s := range cfg.Settings {
		v, _ := s.Value.(string)
		if l, ok := s.Value.([]string); ok {
			v = "[" + strings.Join(l, ", ") + "]"
		}
		q := strconv.Quote(v) // a control character or a line break, escaped
		fmt.Fprintf(stdout, "  %s: %s  # %s\n", s.Key, q[1:len(q)-1], s.From)
	}
	return nil
}

// errInvalidConfig: the problems were printed as JSON; exit 1.
var errInvalidConfig = errors.New("the configuration is invalid")

func summarize(cfg *config.Config) *configSummary {
	s := &configSummary{Store: config.RedactURL(cfg.Store), Listen: cfg.Listen, DataDir: cfg.DataDir, LogFormat: cfg.LogFormat,
		Partners: cfg.Partners.Listen, Metrics: cfg.Metrics.Listen, MetricsAuth: cfg.Metrics.Token != "", SealBy: "one account (seal permission)"}
	if cfg.Seal.ByQuorum {
		s.SealBy = "a quorum of share holders"
	}
	if cfg.Policy != nil {
		s.Fields, s.Purposes = len(cfg.Policy.Fields), len(cfg.Policy.Purposes)
		for name := range cfg.Policy.Roles {
			s.Roles = append(s.Roles, name)
		}
		slices.Sort(s.Roles)
	}
	var sinks []string
	if h := cfg.AuditStream.Webhook; h.URL != "" {
		sinks = append(sinks, (&auditstream.Webhook{URL: h.URL}).Name())
	}
	if a := cfg.AuditStream.Syslog; a.Address != "" {
		sink := "syslog " + a.Address
		if a.TLS {
			sink += " (TLS)"
		}
		sinks = append(sinks, sink)
	}
	s.AuditStream = strings.Join(sinks, ", ")
	return s
}
