// Package config loads, validates and defaults coffre.yaml, the one
// configuration file of a Coffre server (DESIGN §3), and holds the built-in
// demo configuration that `coffre serve --dev` runs with.
//
// # Format
//
// The file is YAML with these top-level keys; every one is optional except
// schema, and an absent key (or an explicit null) takes the default written on
// the matching [Config] field:
//
//	store: sqlite:./coffre-data/coffre.db   # or postgres://user@host/db
//	store_migrate: auto     # or manual: only coffre migrate changes the schema
//	postgres: {statement_timeout: 5s, lock_timeout: 2s, max_conns: 16, min_conns: 0}   # the PostgreSQL store only
//	listen: 127.0.0.1:8080
//	data_dir: ./coffre-data
//	root_key_file: ./coffre-data/root.key   # dev/demo: root key in a 0600 file
//	sessions: {idle: 30m, absolute: 12h, login_token: 5m, step_up: 5m}   # Go durations
//	limits: {max_body_bytes: 65536, reason_max_len: 200, reason_pattern: "[A-Z]+-[0-9]+"}   # pattern: optional, what a typed reason begins with
//	audit: {max_lag: 30s, witnesses: [https://witness.example.org/add], epoch: 1y, retention: 10y}   # retention: default none (kept forever)
//	webauthn:     # rp_id, rp_name, origins, attestation (aaguids, roots)
//	login:        # max_failures, failure_window, lock_for, per_origin_per_minute
//	partners:     # listen (mutual-TLS host:port, off when unset), hosts
//	metrics:      # listen (a listener of its own for /metrics), token (bearer token it asks)
//	delivery:     # max_tries, backoff, timeout, rates (email, webhook, sms), smtp, sms (the SMS gateway)
//	alerts:       # email (addresses), webhook (url, secret_file | secret_env), sms (phone numbers)
//	notices:      # organisation, where, language, language_field, contacts, quiet_start, quiet_end, digest_at, timezone,
//	              # contact_cooling_off (how long a change of a contact address waits)
//	rights:       # handler_role, restricted_readers, controller, dpo, authority
//	signin:       # code (enabled, digits, valid_for, max_attempts, lock_for, per_contact_per_hour, per_origin_per_hour), sessions (idle, absolute), oidc (issuer, client_id, client_secret_file | client_secret_env, redirect_url, scopes, claim, field)
//	statistics:   # k, epsilon (a query's default), budget (epsilon, period), dimensions (name → of: unit | field: F with band: 10y,
//	              # by: year|month or values: [..] | event: created with by)
//	schema:       # a list of fields: name, type, sensitivity, required, lookup, max_len, retention
//	purposes:     # name → description, require_reason, step_up, step_up_window, step_up_group, fields (field → clear | deny | mask), updates,
//	              # consent (off | required), consent_valid, consent_lasts, break_glass
//	roles:        # name → purposes, permissions, mfa, attested_keys
//	guard:        # timezone, trusted_networks, trusted_proxies, defaults, roles
//
// The guard key sets the budgets and detectors that slow down or lock an
// operator reading too much (see [Guard]): the time zone of working hours and
// daily budgets, the trusted networks and proxies, and the limits of each role
// (rate, subjects per hour and per day, velocity, enumeration, hours…), a
// role's own keys overriding guard.defaults, which override the built-in
// defaults written on [Guard.Roles].
//
// The webauthn key names the relying party that WebAuthn credentials are
// bound to and the origins the browser may use them from (see [WebAuthn]);
// the login key sets when failed logins lock an account and how many login
// attempts one address may make (see [Login]). The partners key sets the
// mutual-TLS listener that partner organisations' API clients connect to,
// and the host names and addresses its server certificate names (see
// [Partners]); partner access is off unless partners.listen is set. The
// metrics key moves /metrics to a listener of its own or makes it ask for
// a bearer token (see [Metrics]). A role's mfa lists the second factors
// its operators may log in with (totp, webauthn; both when left out), and
// a purpose's step_up asks for a fresh second-factor proof before reads
// under it: off, any (TOTP or WebAuthn) or webauthn. The proof is a
// step-up call that names the purpose, never the login's own factor; it
// serves reads under the purposes of its step_up_group (default: the
// purpose's own name, so each purpose needs its own; a group may not be
// named like another purpose) for step_up_window (30s to 1h, default
// sessions.step_up). A role with attested_keys (and mfa: [webauthn])
// registers only security keys whose attestation chains to one of
// webauthn.attestation.roots (PEM files or inline PEM) and, when
// webauthn.attestation.aaguids lists models, is of one of them (see
// [Attestation]).
//
// A purpose with consent: required makes a read under it wait for the
// person's consent (a consent request, valid for consent_valid, default
// 72h; an approval usable once within consent_lasts, default 24h); with
// break_glass: true, which needs consent and a step_up, it also allows an
// emergency read without consent, bounded per day by the role's
// break_glass_per_day. A partner role may not declare a consent purpose.
// notices.contact_cooling_off (1h to 720h, default 72h) is how long a
// change of a person's contact address waits before it takes effect.
//
// The built-in demo (demo.yaml in this package, see [Demo]) is a complete,
// commented example.
//
// # Environment
//
// Every key can be overridden by an environment variable, which wins over
// the file. Its name is COFFRE_ followed by the key's dotted path,
// upper-cased, with dots and hyphens as underscores: COFFRE_LISTEN,
// COFFRE_SESSIONS_IDLE, COFFRE_GUARD_DEFAULTS_RATE_PER_SECOND. The entries
// of purposes, roles, guard.roles and a purpose's fields, and the fields of
// the schema, are addressed by their name: COFFRE_ROLES_CASEWORKER_MFA,
// COFFRE_PURPOSES_CASE_HANDLING_FIELDS_PHONE, COFFRE_SCHEMA_PHONE_LOOKUP,
// COFFRE_GUARD_ROLES_CASEWORKER_HOURS. A variable may change an entry the
// file defines, and add a role's guard limits or a purpose's field for a
// role or field the file defines; it cannot define a new purpose, role or
// field. Lists are comma-separated (COFFRE_PARTNERS_HOSTS=a.example,10.0.0.5);
// rate and velocity take off as the value of their own variable
// (COFFRE_GUARD_ROLES_SUPPORT_RATE=off). A value is a string, read as YAML
// reads a plain scalar where a number or a boolean is wanted, and is
// checked like the file's. The environment is passed in (as os.Environ()
// returns it) rather than read, so that tests and the demo stay
// reproducible. An empty value counts as unset; when a variable appears
// twice the last one wins. Variables that name no key are ignored; one
// that names two keys (a purpose a-fields's description and a field
// description of purpose a) is an error.
//
// # Errors
//
// Parsing does not stop at the first mistake: [Parse] returns an [*Error]
// listing every [Problem] it found, each naming the file, the line and the
// dotted key (for example purposes.case-handling.fields.phone), so that an
// operator can fix a file in one pass. A field of the schema is named by its
// name when it has a valid one (schema.phone.lookup), and by its position
// otherwise (schema[3].name). Problems with an environment variable name the
// file "environment" and the variable as the key. A file is read up to 1 MiB,
// and at most 100 problems are listed.
//
// Beyond syntax and types, Parse checks that names are well formed, that
// every reference (a purpose's field, a role's purpose) resolves, that no
// name is defined twice, and that lookup (a blind index) is only asked of
// email, phone, national_id, text and name fields: a blind index over dates
// or addresses, whose values are few or guessable, could be reversed by
// hashing every candidate.
package config

import (
	"crypto/x509"
	_ "embed"
	"fmt"
	"io"
	"net/netip"
	"os"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // the guard's time zone never depends on the host

	"github.com/google/uuid"

	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/policy"
	"github.com/coffre/coffre/internal/retention"
	"github.com/coffre/coffre/internal/stats"
)

// Config is a validated configuration. Parse fills every field, applying the
// default written on the field when the file and the environment leave it
// unset.
type Config struct {
	// Source is the file the configuration was read from, or "built-in
	// demo".
	Source string
	// Store names the record store: "sqlite:PATH", or a "postgres://" or
	// "postgresql://" URL. Default "sqlite:" + DataDir + "/coffre.db".
	Store string
	// StoreMigrate is store_migrate: [MigrateAuto] (default) applies the
	// store's pending schema migrations whenever a command opens it;
	// [MigrateManual] leaves them to `coffre migrate`, and every other
	// command, coffre serve first, refuses a store that has pending ones.
	StoreMigrate string
	// Postgres tunes the PostgreSQL store (the postgres key); the SQLite
	// store ignores it.
	Postgres Postgres
	// Listen is the HTTP listen address, as host:port. Default
	// "127.0.0.1:8080".
	Listen string
	// DataDir holds the SQLite database and the dev root key. Default
	// "./coffre-data".
	DataDir string
	// RootKeyFile is the file holding the root key in dev and demo setups.
	// Default DataDir + "/root.key".
	RootKeyFile string
	// SessionIdle ends a session after this long without a request. Default
	// 30m.
	SessionIdle time.Duration
	// SessionAbsolute ends a session this long after login, whatever its
	// activity; never shorter than SessionIdle. Default 12h.
	SessionAbsolute time.Duration
	// LoginTokenTTL is how long a login token stays valid. Default 5m.
	LoginTokenTTL time.Duration
	// StepUpFor is how long a second-factor proof stays fresh, between 30s
	// and 1h: for changing one's factors (security keys, recovery codes),
	// and the default step-up window of a purpose
	// (policy.Purpose.StepUpWindow). Default 5m.
	StepUpFor time.Duration
	// MaxBodyBytes bounds every request body, between 1 KiB and 16 MiB.
	// Default 65536.
	MaxBodyBytes int64
	// ReasonMaxLen bounds the Coffre-Reason header, between 1 and 4096
	// bytes. Default 200.
	ReasonMaxLen int
	// ReasonPattern, when limits.reason_pattern is set, is what every
	// typed reason that is not empty begins with (a ticket id): the
	// pattern anchored at the start; ReasonPatternText the pattern as
	// written. Nil: no pattern.
	ReasonPattern     *regexp.Regexp
	ReasonPatternText string
	// AuditEpoch is how long an epoch of the audit log lasts before it
	// closes at a checkpoint (audit.epoch, a span such as 1y; at least
	// 1d). Default 1y.
	AuditEpoch retention.Span
	// AuditRetention is how long a closed epoch is kept before coffre
	// audit prune (auditlog.Prune) may delete it (audit.retention, at
	// least AuditEpoch). Zero (default): the log is kept forever.
	AuditRetention retention.Span
	// AuditWitnesses are URLs every new audit checkpoint is POSTed to.
	AuditWitnesses []string
	// AuditMaxLag is how far behind the audit integrator may fall (age of
	// the oldest entry not in a checkpoint) before readiness fails.
	// Default 30s.
	AuditMaxLag time.Duration
	// WebAuthn names the relying party of WebAuthn second factors.
	WebAuthn WebAuthn
	// Login bounds failed and repeated logins.
	Login Login
	// Partners configures the listener for partner organisations' API
	// clients.
	Partners Partners
	// Seal configures unsealing at start through an HSM.
	Seal Seal
	// Metrics says where GET /metrics is served and what it asks.
	Metrics Metrics
	// Tracing says where the OpenTelemetry traces go (tracing.endpoint;
	// default: none are made).
	Tracing Tracing
	// LogFormat is the server log's form: LogText (default) or LogJSON.
	LogFormat string
	// AuditStream is where the audit log is streamed (package auditstream).
	AuditStream AuditStream
	// Delivery configures the delivery worker: its senders, tries and
	// rates.
	Delivery Delivery
	// Alerts are the security officers' contacts that the guard's alerts
	// are delivered to.
	Alerts Alerts
	// Notices says what people are told of the accesses to their record.
	Notices Notices
	// Rights says who decides the persons' requests and whom they may
	// turn to.
	Rights Rights
	// Signin says how the people in the directory sign in to see their
	// own history (/v1/me/…).
	Signin Signin
	// Retention is the record's retention rule and the purge engine's
	// settings.
	Retention Retention
	// Statistics declares the aggregate statistics: dimensions, minimum
	// cell size, privacy budget (see [stats.Declaration]). Default: none
	// declared; k 10, epsilon 0.1 a query, budget 1 per 30 days.
	Statistics stats.Declaration
	// Policy is the schema, purposes and roles.
	Policy *policy.Policy
	// Guard configures budgets and detectors (issue 4).
	Guard Guard
	// Settings is the effective configuration, key by key, secrets
	// redacted: what `coffre config check` prints.
	Settings []Setting
}

// Values of store_migrate.
const (
	MigrateAuto   = "auto"
	MigrateManual = "manual"
)

// Postgres tunes the PostgreSQL store: the timeouts every transaction of
// every pooled connection runs under (set per connection, at its start,
// so that no transaction escapes them), and the pool's size. A statement
// or a lock wait cut by them fails as the store being unavailable (the
// API answers 503), not as a hung request.
type Postgres struct {
	// StatementTimeout bounds each statement (PostgreSQL's
	// statement_timeout): 0 (off) or between 100ms and 1h. Default 5s.
	// Migrations run without it.
	StatementTimeout time.Duration
	// LockTimeout bounds each wait for a lock (lock_timeout): 0 (off) or
	// between 10ms and 1h. Default 2s. Migrations run without it.
	LockTimeout time.Duration
	// MaxConns caps the connection pool of each server, 1 to 1000; mind
	// the database's max_connections across all servers. Default (0):
	// the larger of 4 and the number of CPUs.
	MaxConns int
	// MinConns is how many connections the pool keeps open when idle, 0
	// to MaxConns. Default 0.
	MinConns int
}

// WebAuthn names the relying party that WebAuthn credentials are registered
// with, and the origins a browser may use them from.
type WebAuthn struct {
	// RPID is the relying party id, a lower-case host name (no scheme,
	// port or path) that every origin is on or under. Default "localhost".
	RPID string
	// RPName is the name authenticators show. Default "Coffre".
	RPName string
	// Origins are the allowed origins, as scheme://host[:port] with an
	// http or https scheme, each on RPID or one of its subdomains (or, when
	// RPID is localhost, on 127.0.0.1 or ::1). Default
	// "http://localhost:8080" and "http://127.0.0.1:8080".
	Origins []string
	// Attestation is what a role with attested_keys accepts of a new
	// security key.
	Attestation Attestation
}

// Attestation is the allow-list of attested security keys
// (webauthn.attestation), for the roles with attested_keys
// (policy.Role.AttestedKeys): a key is accepted when its attestation
// statement chains to one of Roots and, if AAGUIDs is not empty, names one
// of AAGUIDs.
type Attestation struct {
	// AAGUIDs are the authenticator models accepted, by AAGUID; never the
	// zero AAGUID. Default none: any model whose attestation chains to
	// Roots.
	AAGUIDs []uuid.UUID
	// Roots are the attestation root certificates, each given as the path
	// of a PEM file (relative to the working directory) or as PEM text; a
	// file may hold several. Required by a role with attested_keys.
	// Default none.
	Roots []*x509.Certificate
}

// Login bounds failed and repeated logins.
type Login struct {
	// MaxFailures failed logins (password or second factor) of one account
	// within FailureWindow lock it; between 1 and 1000. Default 10.
	MaxFailures int
	// FailureWindow is the window failed logins are counted in, between 1m
	// and 24h. Default 24h: slow stuffing spread over hours still adds up.
	FailureWindow time.Duration
	// LockFor is how long such a lock lasts unless a security officer
	// lifts it earlier: 0 (until a security officer lifts it) or between 1m
	// and 720h (30 days). Default 1h.
	LockFor time.Duration
	// PerOrigin is the number of login attempts per minute from one address
	// before 429, between 1 and 100000. Default 30.
	PerOrigin int
	// DisableAfter disables an account without a successful login for this
	// long (counted from its creation or its enabling when it never logged
	// in): 0 (never) or between 1 and 3650 days, written "90d" or as a Go
	// duration. Default 0.
	DisableAfter time.Duration
}

// Partners configures the listener for partner organisations' API clients
// (mutual TLS with a client certificate from Coffre's own CA, plus an API
// key).
type Partners struct {
	// Listen is the mutual-TLS listen address (host:port, with a port from
	// 1 to 65535, not the address of Config.Listen); "" disables partner
	// access. Default "".
	Listen string
	// Hosts are the DNS names and IP addresses the listener's server
	// certificate names: lower-case host names and IP addresses, without
	// scheme, port or path, IP addresses in their shortest form. Default
	// ["localhost", "127.0.0.1"].
	Hosts []string
}

// Seal says who may seal a server, and how it may unseal itself at
// start without share holders. The zero value: an officer seals, only
// shares unseal.
type Seal struct {
	// ByQuorum (seal.by: quorum) has M share holders seal (POST
	// /v1/sys/seal-share) and no account: a stolen officer session cannot
	// take the service down. Default (seal.by: officer): an operator with
	// the seal permission seals (POST /v1/sys/seal).
	ByQuorum bool
	// PKCS11 names the token key that wraps the unseal key (coffre keys
	// init --hsm). Zero: none.
	PKCS11 PKCS11
}

// Values of seal.by.
const (
	SealByOfficer = "officer"
	SealByQuorum  = "quorum"
)

// PKCS11 names an AES key in a PKCS#11 token: Module (absolute path of
// the token's library), Token (its label) and Key (the key's label) are
// all set, or none; the user PIN is read from PINFile or from the
// variable PINEnv, exactly one of them, never from this file.
type PKCS11 struct {
	Module, Token, Key string
	PINFile, PINEnv    string
}

// The forms of the server's log (log_format).
const (
	LogText = "text" // key=value lines (slog's text form)
	LogJSON = "json" // one JSON object a line
)

// AuditStream configures the audit log's stream to a SOC.
type AuditStream struct {
	// Syslog is a syslog receiver (RFC 5424 over TCP, or TLS); its Address
	// empty: none.
	Syslog SyslogSink
	// Webhook receives batches of records, signed as the alerts' webhooks
	// are; its URL empty: none.
	Webhook Hook
}

// SyslogSink is a syslog receiver of the audit stream.
type SyslogSink struct {
	Address string // host:port
	TLS     bool   // RFC 5425: TLS, the receiver's certificate verified
	// CAFile is a PEM file of the CAs that sign the receiver's certificate
	// (default: the system's); ServerName the name it must carry (default:
	// Address's host).
	CAFile, ServerName string
}

// Metrics says where the Prometheus metrics (GET /metrics) are served and
// what a scraper must present. The zero value serves them on
// Config.Listen to anyone who can reach it.
type Metrics struct {
	// Listen, when set, serves /metrics on this address (host:port, with
	// a port from 1 to 65535, not that of Config.Listen or
	// Partners.Listen) and not on Config.Listen. Default "".
	Listen string
	// Token, when set, is required as "Authorization: Bearer TOKEN": at
	// least 32 visible ASCII characters. Best set through
	// COFFRE_METRICS_TOKEN rather than written in the file. Default "".
	Token string
}

// Delivery configures the delivery worker (package deliver). A zero
// field takes package deliver's default, written on it; the zero SMTP
// and SMS send nothing by those channels.
type Delivery struct {
	// MaxTries is the attempts after which a message is dead, 1 to 100.
	// Default (0) 8.
	MaxTries int
	// Backoff is the wait before the first retry, doubled at each one (up
	// to an hour), with jitter; 1s to 1h. Default (0) 5s.
	Backoff time.Duration
	// Timeout bounds one send (connection, answer), 1s to 5m. Default (0)
	// 10s.
	Timeout time.Duration
	// Lease is how long a claimed message is its worker's: a worker that
	// dies (kill -9, a lost node) holds its messages that long before
	// another worker, or itself restarted, sends them, so they may
	// arrive twice (at least once; the idempotency key lets the receiver
	// drop the copy). 1s to 1h and at least 6 times Timeout (a send
	// starts in the first half of its lease and SMTP may take three
	// timeouts): a shorter lease would let a slow send outlive it and a
	// second worker send the message again in the normal case. Default
	// (0) 2m.
	Lease time.Duration
	// Concurrency is how many messages each node sends at once, 1 to
	// 256 (as many SMTP connections to the relay), and Batch how many a
	// worker claims at a time, 1 to 10000. Default (0) 32 and 256.
	Concurrency, Batch int
	// Rates are the messages per second of each channel, 0.01 to 10000.
	// Default (0) email 10, webhook 50, sms 1.
	Rates Rates
	// SMTP is the mail submission server. Zero: no email.
	SMTP SMTP
	// SMS is the SMS gateway's webhook, which gets {"to", "text"}. Zero:
	// no SMS.
	SMS Hook
}

// Rates are messages per second, by channel.
type Rates struct {
	Email, Webhook, SMS float64
}

// SMTP is a mail submission server: Host and From are set, or nothing.
type SMTP struct {
	Host string
	// Port, 1 to 65535. Default 587.
	Port int
	// StartTLS is mandatory (default: refuse a server without STARTTLS),
	// opportunistic, or none (plain text, for a sink on a loopback host
	// only).
	StartTLS string
	// Username authenticates, with the password read from PasswordFile or
	// from the variable PasswordEnv (exactly one), never from this file.
	Username                  string
	PasswordFile, PasswordEnv string
	// From is the sender's address; ReplyTo, when set, where replies go.
	From, ReplyTo string
}

// Hook is a webhook: an https URL (http only on a loopback host) and the
// secret that signs its requests, read from SecretFile or from the
// variable SecretEnv (exactly one), never from this file.
type Hook struct {
	URL                   string
	SecretFile, SecretEnv string
}

// Alerts are the contacts each guard alert is delivered to (alerts.email
// needs delivery.smtp, alerts.sms needs delivery.sms). Zero: alerts stay
// queued in the store, undelivered.
type Alerts struct {
	Email   []string // addresses
	Webhook Hook
	SMS     []string // phone numbers, E.164 (+33612345678)
}

// Guard configures the budgets and detectors of package guard: how much an
// operator may read, and when, before being slowed down or locked out.
type Guard struct {
	// Location is the time zone of working hours and daily budgets.
	// Default Europe/Paris.
	Location *time.Location
	// TrustedNetworks are the origins that count as trusted (office
	// networks, VPN). Default 127.0.0.0/8, ::1/128, 10.0.0.0/8,
	// 172.16.0.0/12 and 192.168.0.0/16; an explicit empty list trusts none.
	TrustedNetworks []netip.Prefix
	// TrustedProxies are the peers that may name the client in
	// X-Forwarded-For (the rightmost address outside them wins). Default
	// none.
	TrustedProxies []netip.Prefix
	// TwoApproversOver is the size (subjects) of a budget extension above
	// which it needs two approvers; 0: one always. Default 500.
	TwoApproversOver int
	// ApproverMinAge: who approves an extension must have had its account
	// and role this long; 0: any. Default 168h (a week).
	ApproverMinAge time.Duration
	// Roles holds the limits of each role of the policy that reaches
	// subjects or administers: it has a purpose, or the create, update,
	// erase, lookup or operators permission; other roles have no entry. Each limit is the role's own key under guard.roles, else that
	// of guard.defaults, else the built-in default: rate 2/s with a burst of
	// 30, subjects_per_hour 60, subjects_per_day 200,
	// out_of_caseload_per_day 20, out_of_unit_per_day 5,
	// untrusted_origin_per_day 10, lookups_per_hour 60, misses_per_hour 15,
	// creates_per_day 50, updates_per_hour 30, updates_per_day 100,
	// erasures_per_day 2, assignments_per_day 200, break_glass_per_day 2, operators_per_day 3, roles_per_day 5,
	// factor_resets_per_day 3, partners_per_day 1, admin_burst_per_hour 5,
	// velocity 20 subjects per 10m, enumeration_run 10, hours always,
	// hard_margin 10, all_units false.
	Roles map[string]guard.Limits
}

// defaultAuditEpoch is audit.epoch's default: one epoch a year.
var defaultAuditEpoch = retention.Span{Years: 1}

// minAuditEpochDays bounds audit.epoch from below.
const minAuditEpochDays = 1

// The defaults documented on [Config].
const (
	defaultListen       = "127.0.0.1:8080"
	defaultDataDir      = "./coffre-data"
	defaultIdle         = 30 * time.Minute
	defaultAbsolute     = 12 * time.Hour
	defaultLoginToken   = 5 * time.Minute
	defaultMaxBodyBytes = 65536
	defaultReasonMaxLen = 200
	defaultAuditMaxLag  = 30 * time.Second
	defaultTimezone     = "Europe/Paris"
	defaultStepUp       = 5 * time.Minute
	defaultRPID         = "localhost"
	defaultRPName       = "Coffre"
	defaultMaxFailures  = 10
	defaultFailWindow   = 24 * time.Hour
	defaultLockFor      = time.Hour
	defaultPerOrigin    = 30
	defaultCoolingOff   = 72 * time.Hour
	// postgres
	defaultStatementTimeout = 5 * time.Second
	defaultLockTimeout      = 2 * time.Second
)

// defaultMaxConns is postgres.max_conns's default, pgxpool's: the larger
// of 4 and the number of CPUs.
func defaultMaxConns() int { return max(4, runtime.NumCPU()) }

// defaultOrigins are the default [WebAuthn.Origins]: the default listen
// address, by name and by address.
var defaultOrigins = []string{"http://localhost:8080", "http://127.0.0.1:8080"}

// defaultPartnerHosts are the default [Partners.Hosts]: the loopback
// listener, by name and by address.
var defaultPartnerHosts = []string{"localhost", "127.0.0.1"}

// defaultTrustedNetworks are the default [Guard.TrustedNetworks]: loopback
// and the private IPv4 ranges.
var defaultTrustedNetworks = []string{"127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}

// defaultLimits are the built-in limits of a role, documented on
// [Guard.Roles].
var defaultLimits = guard.Limits{
	Rate:                2,
	Burst:               30,
	SubjectsPerHour:     60,
	SubjectsPerDay:      200,
	OutOfCaseloadPerDay: 20,
	OutOfUnitPerDay:     5,
	UntrustedPerDay:     10,
	LookupsPerHour:      60,
	MissesPerHour:       15,
	CreatesPerDay:       50,
	UpdatesPerHour:      30,
	UpdatesPerDay:       100,
	ErasuresPerDay:      2,
	OperatorsPerDay:     3,
	RolesPerDay:         5,
	FactorResetsPerDay:  3,
	PartnersPerDay:      1,
	AdminBurstPerHour:   5,
	AssignmentsPerDay:   200,
	BreakGlassPerDay:    2,
	VelocitySubjects:    20,
	VelocityWindow:      10 * time.Minute,
	EnumerationRun:      10,
	HardMargin:          10,
}

// defaultLocation is the default [Guard.Location], loaded once. time/tzdata
// is linked in, so the fallback to UTC is only a safety net.
var defaultLocation = sync.OnceValue(func() *time.Location {
	loc, err := time.LoadLocation(defaultTimezone)
	if err != nil {
		return time.UTC
	}
	return loc
})

// Bounds checked by Parse.
const (
	maxFileSize     = 1 << 20 // a configuration file is read up to 1 MiB
	minBodyBytes    = 1024
	maxBodyBytes    = 16 << 20
	maxReasonMaxLen = 4096
	// maxReasonPattern bounds limits.reason_pattern, in bytes.
	maxReasonPattern = 256
	maxFieldLen      = 1 << 20
	// sessions.step_up
	minStepUp = 30 * time.Second
	maxStepUp = time.Hour
	// login
	maxMaxFailures = 1000
	minFailWindow  = time.Minute
	maxFailWindow  = 24 * time.Hour
	minLockFor     = time.Minute
	// login.disable_after
	minDisableAfter = 24 * time.Hour
	maxDisableAfter = 3650 * 24 * time.Hour
	maxLockFor      = 30 * 24 * time.Hour
	maxPerOrigin    = 100_000
	// postgres
	minStatementTimeout = 100 * time.Millisecond
	minLockTimeout      = 10 * time.Millisecond
	maxStoreTimeout     = time.Hour
	maxMaxConns         = 1000
	// metrics.token
	minMetricsToken = 32
	// notices.contact_cooling_off
	minCoolingOff = time.Hour
	maxCoolingOff = 30 * 24 * time.Hour
	// purposes.NAME.consent_valid and consent_lasts
	minConsentValid = 5 * time.Minute
	maxConsentValid = 30 * 24 * time.Hour
	minConsentLasts = time.Minute
	maxConsentLasts = 7 * 24 * time.Hour
	// webauthn.attestation.roots: a PEM file is read up to 1 MiB
	maxRootsFile = 1 << 20
	// Guard limits: counts and rates up to maxGuardCount (0 is "no limit"
	// or "off"), a velocity of at most maxVelocitySubjects subjects within
	// at most maxVelocityWindow, an enumeration run of 0 or between
	// minEnumerationRun and maxEnumerationRun.
	maxGuardCount       = 10_000_000
	maxVelocitySubjects = 63
	maxVelocityWindow   = 24 * time.Hour
	minEnumerationRun   = 3
	maxEnumerationRun   = 1000
)

// DemoSource is the [Config.Source] of the built-in demo configuration.
const DemoSource = "built-in demo"

//go:embed demo.yaml
var demoYAML []byte

// Problem is one mistake in a configuration.
type Problem struct {
	// File is the file name given to Parse, or "environment" for a bad
	// environment variable.
	File string `json:"file"`
	// Line is the 1-based line of the offending YAML node, or 0 when there
	// is none (environment variables, a file too large to read).
	Line int `json:"line,omitempty"`
	// Key is the dotted path of the offending key, such as
	// "purposes.case-handling.fields.phone", or the environment variable's
	// name. It is empty for problems with the file as a whole, such as YAML
	// syntax errors.
	Key string `json:"key,omitempty"`
	// Message says what is wrong, and often how to fix it.
	Message string `json:"message"`
}

// String renders the problem on one line as "FILE:LINE: KEY: MESSAGE",
// leaving out the line and the key when they are unknown.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Key != "" {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	// One problem per line, whatever a message quotes.
	return strings.NewReplacer("\n", `\n`, "\r", `\r`).Replace(b.String())
}

// Error is returned by [Parse], [Load] and [Demo] when a configuration is
// invalid. It lists every problem found, in file order, those of the
// environment last.
type Error struct {
	Problems []Problem
}

// Error renders one problem per line.
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Load reads the configuration file at path and parses it with [Parse].
// environ holds the environment as "KEY=VALUE" strings, as [os.Environ]
// returns it.
func Load(path string, environ []string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data, environ)
}

// Parse parses, validates and defaults the configuration in data, then
// applies the overrides found in environ ("KEY=VALUE" strings, as
// [os.Environ] returns them). name is the file name used in problems and as
// [Config.Source]. Every invalid configuration gives an [*Error] listing all
// its problems.
func Parse(name string, data []byte, environ []string) (*Config, error) {
	p := &parser{file: name}
	cfg := p.parse(data, environ)
	if p.n > 0 || len(p.envProbs) > 0 {
		p.sort()
		return nil, &Error{Problems: p.probs}
	}
	cfg.Source = name
	return cfg, nil
}

// Demo returns the built-in demo configuration (demo.yaml in this package),
// parsed like a file and with the same environment overrides. Its Source is
// [DemoSource].
func Demo(environ []string) (*Config, error) {
	return Parse(DemoSource, demoYAML, environ)
}
