package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/auditlog"
	"github.com/coffre/coffre/internal/auditstream"
	"github.com/coffre/coffre/internal/auth"
	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/console"
	"github.com/coffre/coffre/internal/contain"
	"github.com/coffre/coffre/internal/deliver"
	"github.com/coffre/coffre/internal/guard"
	"github.com/coffre/coffre/internal/httpapi"
	"github.com/coffre/coffre/internal/keyset"
	"github.com/coffre/coffre/internal/logburst"
	"github.com/coffre/coffre/internal/me"
	"github.com/coffre/coffre/internal/metrics"
	"github.com/coffre/coffre/internal/pace"
	"github.com/coffre/coffre/internal/partner"
	"github.com/coffre/coffre/internal/public"
	"github.com/coffre/coffre/internal/reindex"
	"github.com/coffre/coffre/internal/rights"
	"github.com/coffre/coffre/internal/rootkey"
	"github.com/coffre/coffre/internal/rotate"
	"github.com/coffre/coffre/internal/seal"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/health"
	"github.com/coffre/coffre/internal/store/postgres"
	"github.com/coffre/coffre/internal/store/sqlite"
	"github.com/coffre/coffre/internal/subjectid"
	"github.com/coffre/coffre/internal/tracing"
	"github.com/coffre/coffre/internal/vault"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/prometheus/client_golang/prometheus"
)

// app is a wired vault: configuration, keys, store, core and auth.
type app struct {
	cfg   *config.Config
	keys  *keyset.Set
	store store.Store // *sqlite.Store or *postgres.Store
	// health is store with each call's outcome recorded: the vault, auth,
	// the API and the integrator use it, so that /readyz knows at once
	// when the store fails.
	health *health.Store
	vault  *vault.Vault
	auth   *auth.Service
	log    *slog.Logger
	burst  *logburst.Handler // log's handler: flushed at close
	// signer signs audit checkpoints (keys.AuditSeed).
	signer *audit.Signer
	// ca issues partner client certificates (keys.CASeed).
	ca *partner.CA
	// rot rotates the root key: versions, the rewrap pass, retirement.
	rot *rotate.Rotator
	// idx rebuilds the blind index: generations, the pass, the switch,
	// retirement.
	idx *reindex.Rebuilder
	// deliver sends the guard's alerts to the security officers; nil
	// when no contact is configured, or until initDelivery (a server's
	// start: the other commands need no sender's secret).
	deliver *deliver.Worker
	// wake wakes the delivery worker once it runs, after an access
	// queued a notice.
	wake *waker
	// me signs persons in and serves their own routes (/v1/me/…); its
	// OpenID Connect provider is set by initSignin (a server's start,
	// which reads the client secret).
	me *me.Service
	// decisions counts the guard's decisions, for /metrics.
	decisions *metrics.Decisions
	// stream streams the audit log to the configured sinks; nil when none
	// is, or until initStream (a server's start).
	stream *auditstream.Streamer
	// tracing makes the API's spans; nil (off) until a server starts it.
	tracing *tracing.Provider
	// partnerAddr is the bound address of the partner listener, once serving.
	partnerAddr string
	// noIntegrator leaves the audit integrator off (benchmarks only).
	noIntegrator bool
	// dev is the built-in demo configuration.
	dev bool
	// wrap wraps the handlers served (tests: held to the OpenAPI
	// documents); nil in production.
	wrap wrapper
}

// wrapper wraps the handler of a listener (partner: the partner
// listener's).
type wrapper func(partner bool, h http.Handler) http.Handler

// of is h wrapped, or h when there is no wrapper.
func (w wrapper) of(partner bool, h http.Handler) http.Handler {
	if w == nil {
		return h
	}
	return w(partner, h)
}

// appOptions say where the configuration comes from.
type appOptions struct {
	configPath string // "" with dev: the built-in demo
	dev        bool
	dataDir    string // overrides the configuration's data_dir (and store, key file) when set
	store      string // overrides the configuration's store (and dataDir's) when set
	durability string // store durability; "" is full
	// anyHours lifts the roles' working hours (the interactive demo, which
	// a new user may try at any time).
	anyHours bool
	// now is the clock (default time.Now); the drill injects a simulated one.
	now func() time.Time
	// shareFiles hold unseal shares, for an offline command on a data
	// directory with a sealed keyring (the first administrator's account).
	shareFiles []string
	// identityFiles are the age identity files of the holders present,
	// for share files keys init --recipient encrypted to them.
	identityFiles []string
	// guard is "" or "on" (the configured guard), "off" (none) or
	// "bench" (every check runs, no limit binds): the read benchmark's
	// two sides.
	guard string
	// noNotices queues no notice to people (benchmarks only: the read
	// path without them).
	noNotices bool
	// wrap is app.wrap for serveSealed, whose listeners serve its gate
	// (and through it the app once unsealed).
	wrap wrapper
	// env are more COFFRE_* settings (NAME=VALUE), after the process's
	// environment: tests set a key without t.Setenv, so that they can run
	// in parallel.
	env []string
}

// benchLimits run every check of the guard on each access without ever
// binding at benchmark rates: the guard's cost, not its refusals.
var benchLimits = guard.Limits{
	Rate: 1e9, Burst: 1e9, SubjectsPerHour: 1e9, SubjectsPerDay: 1e9,
	OutOfCaseloadPerDay: 1e9, OutOfUnitPerDay: 1e9, UntrustedPerDay: 1e9,
	LookupsPerHour: 1e9, MissesPerHour: 1e9,
	VelocitySubjects: 63, VelocityWindow: time.Microsecond,
	EnumerationRun: 1000, HardMargin: 1e9,
}

func (o *appOptions) flags(fsAdd func(p *string, name, value, usage string), boolAdd func(p *bool, name string, value bool, usage string)) {
	fsAdd(&o.configPath, "config", os.Getenv("COFFRE_CONFIG"), "configuration `file` (coffre.yaml); default $COFFRE_CONFIG")
	boolAdd(&o.dev, "dev", false, "use the built-in demo configuration and a root key file (development only)")
	fsAdd(&o.dataDir, "data", "", "data `directory` (overrides data_dir, the SQLite path and the root key file)")
	fsAdd(&o.store, "store", "", "store (overrides store, also --data's SQLite path): sqlite:PATH or a postgres:// `URL`")
}

// shareFlag adds --share-file, repeatable: the unseal shares of holders
// present at the host, for a command on a sealed data directory.
func (o *appOptions) shareFlag(fs *flag.FlagSet) {
	fs.Func("share-file", "an unseal share `FILE`, once per holder present, for a data directory with a sealed keyring", func(v string) error {
		o.shareFiles = append(o.shareFiles, v)
		return nil
	})
	fs.Func("identity", "an age identity `FILE` (secret key) of a holder present, for share files encrypted with keys init --recipient; repeat for several", func(v string) error {
		o.identityFiles = append(o.identityFiles, v)
		return nil
	})
}

func loadConfig(o appOptions) (*config.Config, error) {
	env := append(os.Environ(), o.env...)
	if o.dataDir != "" {
		env = append(env, "COFFRE_DATA_DIR="+o.dataDir, "COFFRE_STORE=sqlite:"+o.dataDir+"/coffre.db", "COFFRE_ROOT_KEY_FILE="+o.dataDir+"/root.key")
	}
	if o.store != "" {
		if !strings.HasPrefix(o.store, "sqlite:") && !strings.HasPrefix(o.store, "postgres://") && !strings.HasPrefix(o.store, "postgresql://") {
			return nil, &usageError{msg: "--store: want sqlite:PATH or a postgres:// URL", hint: "--store 'postgres://USER@HOST:5432/DB?sslmode=verify-full'"}
		}
		env = append(env, "COFFRE_STORE="+o.store)
	}
	switch {
	case o.configPath != "":
		return config.Load(o.configPath, env)
	case o.dev:
		return config.Demo(env)
	default:
		return nil, &usageError{msg: "no configuration", hint: "pass --config coffre.yaml (or set COFFRE_CONFIG), or --dev for the built-in demo"}
	}
}

// openStore opens the store cfg.Store names (config checked its form),
// with its settings: with store_migrate: manual it refuses a store that
// has pending migrations (see refusePending) rather than apply them; ids
// is the keyring's subject-id codec.
func openStore(ctx context.Context, cfg *config.Config, ids *subjectid.Codec, o appOptions, log *slog.Logger) (store.Store, error) {
	manual := cfg.StoreMigrate == config.MigrateManual
	if path, ok := strings.CutPrefix(cfg.Store, "sqlite:"); ok {
		if manual {
			p, err := sqlite.Pending(ctx, path)
			if err != nil {
				return nil, err
			}
			if err := refusePending(len(p), o); err != nil {
				return nil, err
			}
		}
		st, err := sqlite.Open(ctx, path, sqlite.Options{IDs: ids, Durability: o.durability, Logger: log})
		if err != nil {
			return nil, err
		}
		return st, nil
	}
	st, err := postgres.Open(ctx, cfg.Store, pgOptions(cfg, ids, log))
	switch {
	case errors.Is(err, postgres.ErrPendingMigrations):
		return nil, refusePending(-1, o)
	case errors.Is(err, store.ErrNewerSchema):
		return nil, public.WrapWithMessage(err, "the database was migrated by a newer Coffre").
			WithHint("run the newer version (a binary never serves a schema it does not know), or restore a backup taken before the upgrade")
	case err != nil:
		return nil, &usageError{msg: err.Error(), hint: "check the store URL (store: postgres://USER@HOST:PORT/DB) and that the server is up"}
	}
	return st, nil
}

// pgOptions are the PostgreSQL store's options from the configuration:
// store_migrate and the postgres key.
func pgOptions(cfg *config.Config, ids *subjectid.Codec, log *slog.Logger) postgres.Options {
	pg := cfg.Postgres
	return postgres.Options{IDs: ids, Logger: log, NoMigrate: cfg.StoreMigrate == config.MigrateManual,
		MaxConns: int32(pg.MaxConns), MinConns: int32(pg.MinConns), StatementTimeout: pg.StatementTimeout, LockTimeout: pg.LockTimeout}
}

// refusePending is the refusal of a store with n (-1: some) pending
// migrations under store_migrate: manual, or nil when n is 0.
func refusePending(n int, o appOptions) error {
	if n == 0 {
		return nil
	}
	what := "pending schema migrations"
	if n > 0 {
		what = fmt.Sprintf("%d pending schema migrations", n)
	}
	where := ""
	if o.configPath != "" {
		where = " --config " + o.configPath
	} else if o.dev {
		where = " --dev"
	}
	return public.Errorf(errPendingMigrations, "the store has %s, and store_migrate is manual: nothing was started", what).
		WithHint("list them with 'coffre migrate" + where + " --dry-run', apply them with 'coffre migrate" + where + "', then start again")
}

// newLogger is the server's logger on stderr, as text or as JSON lines
// (log_format): identical warnings and errors of a burst (every request
// failing the same way while the store is down) are logged once, with a
// count.
func newLogger(stderr io.Writer, format string) (*slog.Logger, *logburst.Handler) {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	var h slog.Handler = slog.NewTextHandler(stderr, opts)
	if format == config.LogJSON {
		h = slog.NewJSONHandler(stderr, opts)
	}
	burst := logburst.New(h, logburst.Options{})
	return slog.New(burst), burst
}

// openApp opens the vault with the development root key file (created
// when missing), saying so loudly. A data directory with a sealed keyring
// is refused: its keys open only through a server's unseal.
func openApp(ctx context.Context, o appOptions, stderr io.Writer) (*app, error) {
	cfg, err := loadConfig(o)
	if err != nil {
		return nil, err
	}
	log, burst := newLogger(stderr, cfg.LogFormat)
	if f, err := seal.Read(seal.Path(cfg.DataDir)); err == nil {
		if len(o.shareFiles) == 0 {
			return nil, &usageError{
				msg:  "the data directory " + cfg.DataDir + " holds a sealed keyring: its keys open only with M of its shares",
				hint: "use the API of the unsealed server, or, on the host, pass --share-file once per holder present (M of them)",
			}
		}
		texts := make([]string, len(o.shareFiles))
		for i, name := range o.shareFiles {
			if texts[i], err = readShare(name, o.identityFiles); err != nil {
				return nil, err
			}
		}
		keys, err := f.OpenShares(texts)
		if err != nil {
			return nil, &usageError{msg: "unseal: " + err.Error(), hint: fmt.Sprintf("pass %d distinct shares of set %s with --share-file", f.Threshold, f.Set)}
		}
		a, err := buildApp(ctx, cfg, keys, o, log, burst)
		if err != nil {
			keys.Wipe()
			return nil, err
		}
		if err := checkPublished(f, a); err != nil {
			a.close()
			keys.Wipe()
			return nil, err
		}
		return a, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	keys, created, err := rootkey.LoadOrCreate(cfg.RootKeyFile)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "\n!!! DEVELOPMENT ROOT KEY: the root key is in the file %s, next to the data.\n!!! Anyone who can read that directory can read every record. Never use this in production.\n\n", cfg.RootKeyFile)
	if created {
		log.Info("created root key file", "path", cfg.RootKeyFile)
	}
	return buildApp(ctx, cfg, keys, o, log, burst)
}

// passwordParams are the argon2id parameters of the passwords the app
// hashes; the zero value is auth.DefaultParams. This package's tests lower
// them (hash_test.go): a hash at the defaults costs 40–60 ms of CPU, and
// the tests' logins and accounts spent 17 s on them.
var passwordParams auth.Params

// buildApp builds what needs the key set: the store (the keyring's
// subject-id codec), the vault, auth, the checkpoint signer and the
// partner CA.
func buildApp(ctx context.Context, cfg *config.Config, keys *keyset.Set, o appOptions, log *slog.Logger, burst *logburst.Handler) (*app, error) {
	if err := keys.Check(); err != nil {
		return nil, err
	}
	raw, err := openStore(ctx, cfg, keys.Ring.SubjectIDs(), o, log)
	if err != nil {
		return nil, err
	}
	st := health.New(raw, nil)
	for role, l := range cfg.Guard.Roles {
		switch {
		case o.guard == "bench":
			l = benchLimits
		case o.anyHours:
			l.Hours = guard.Hours{}
		}
		cfg.Guard.Roles[role] = l
	}
	vg := vaultGuard(cfg.Guard)
	if o.guard == "off" {
		vg = nil
	}
	n := cfg.Notices
	wake := &waker{}
	decisions := metrics.NewDecisions()
	v := vault.New(vault.Config{Decisions: decisions, Store: st, Keys: keys.Ring, Policy: cfg.Policy, Logger: log, ReasonMaxLen: cfg.ReasonMaxLen, ReasonPattern: cfg.ReasonPattern, ReasonPatternText: cfg.ReasonPatternText, Now: o.now, Guard: vg, StepUpFor: cfg.StepUpFor,
		Notices: &vault.Notices{DigestAt: n.DigestAt, Location: n.Location, Contacts: n.Contacts, Language: n.Language, LanguageField: n.LanguageField,
			Off: o.noNotices},
		Queued:            wake.wake,
		Retention:         &vault.Retention{Record: cfg.Retention.Record, Activity: cfg.Retention.Activity},
		ContactCoolingOff: n.ContactCoolingOff,
		Rights:            vaultRights(cfg.Rights),
		Stats:             &cfg.Statistics})
	wa, err := webauthn.New(&webauthn.Config{RPID: cfg.WebAuthn.RPID, RPDisplayName: cfg.WebAuthn.RPName, RPOrigins: cfg.WebAuthn.Origins})
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("webauthn: %w", err)
	}
	a := &auth.Service{Store: st, Keys: keys.Ring, Params: passwordParams, Idle: cfg.SessionIdle, Max: cfg.SessionAbsolute, LoginTTL: cfg.LoginTokenTTL, Now: o.now,
		WebAuthn: wa, StepUpFor: cfg.StepUpFor, StepGroup: cfg.Policy.StepGroup, DisableAfter: cfg.Login.DisableAfter,
		RoleFactors: func(role string) []string {
			if r, ok := cfg.Policy.Roles[role]; ok {
				return r.MFA
			}
			return nil
		},
		Limits: auth.Limits{MaxFailures: cfg.Login.MaxFailures, FailureWindow: cfg.Login.FailureWindow, LockFor: cfg.Login.LockFor, PerOrigin: cfg.Login.PerOrigin}}
	// Roles with attested_keys register only keys of the allow-list.
	a.RoleAttested = func(role string) bool { r, ok := cfg.Policy.Roles[role]; return ok && r.AttestedKeys }
	a.Attestation = &auth.Attestation{AAGUIDs: cfg.WebAuthn.Attestation.AAGUIDs, Roots: cfg.WebAuthn.Attestation.Roots}
	a.Guard, a.ApproverMinAge = httpapi.AdminGuard(v), cfg.Guard.ApproverMinAge
	signer, err := audit.NewSigner(auditlog.Origin, keys.AuditSeed)
	if err != nil {
		st.Close()
		return nil, err
	}
	ca, err := partner.NewCA(keys.CASeed)
	if err != nil {
		st.Close()
		return nil, err
	}
	rot := &rotate.Rotator{
		Update: func(ctx context.Context, fn func(context.Context, rotate.Keys) error) error {
			return st.Update(ctx, func(ctx context.Context, tx store.Tx) error { return fn(ctx, tx) })
		},
		View: func(ctx context.Context, fn func(context.Context, rotate.Keys) error) error {
			return st.View(ctx, func(ctx context.Context, tx store.Tx) error { return fn(ctx, tx) })
		},
		Ring: keys.Ring, VersionsKey: keys.VersionsKey, SecretLabel: auth.TOTPLabel, Logger: log,
	}
	// The versions a rotation added are loaded before anything is served:
	// a key wrapped under one of them must open from the first request.
	if err := rot.Sync(ctx); err != nil {
		st.Close()
		return nil, err
	}
	idx := &reindex.Rebuilder{
		Update: func(ctx context.Context, fn func(context.Context, reindex.Index) error) error {
			return st.Update(ctx, func(ctx context.Context, tx store.Tx) error { return fn(ctx, tx) })
		},
		View: func(ctx context.Context, fn func(context.Context, reindex.Index) error) error {
			return st.View(ctx, func(ctx context.Context, tx store.Tx) error { return fn(ctx, tx) })
		},
		Ring: keys.Ring, VersionsKey: keys.VersionsKey, Hashes: v.IndexHashes, Logger: log,
	}
	// Likewise the blind index generations: after a rebuild, lookups use
	// its key from the first request.
	if err := idx.Sync(ctx); err != nil {
		st.Close()
		return nil, err
	}
	sc := cfg.Signin.Code
	m := &me.Service{Store: st, Keys: keys.Ring, Policy: cfg.Policy, Now: o.now, Settings: me.Settings{
		NoCode: !sc.Enabled, Digits: sc.Digits, CodeFor: sc.ValidFor, MaxAttempts: sc.MaxAttempts, LockFor: sc.LockFor,
		PerContact: sc.PerContact, PerOrigin: sc.PerOrigin, Idle: cfg.Signin.SessionIdle, Max: cfg.Signin.SessionAbsolute,
	}}
	return &app{cfg: cfg, keys: keys, store: raw, health: st, burst: burst, vault: v, auth: a, log: log, signer: signer, ca: ca, rot: rot, idx: idx, wake: wake, me: m, decisions: decisions,
		dev: o.dev && o.configPath == ""}, nil
}

// checkPublished checks that the signer unsealed from f is the one whose
// verifier key f publishes (format 3; older formats publish none). The
// key is bound into every section's associated data, so this only fails
// on a keyring that keys init did not write.
func checkPublished(f *seal.File, a *app) error {
	if f.AuditVerifier != "" && a.signer.VerifierKey() != f.AuditVerifier {
		return errors.New("the sealed keyring's audit signer is not the one whose verifier key it publishes")
	}
	return nil
}

// openStoreOnly opens the store of a data directory with a sealed keyring
// without unsealing it, for what reads only the audit log and its
// checkpoints (neither is encrypted, and the checkpoint verifier key is
// published in the sealed keyring). The subject-id codec the store
// requires is keyed at random: the records, which it would decode, are
// never read this way.
func openStoreOnly(ctx context.Context, cfg *config.Config, o appOptions, log *slog.Logger) (store.Store, error) {
	key := make([]byte, 32)
	rand.Read(key)
	ids, err := subjectid.New(key)
	clear(key)
	if err != nil {
		return nil, err
	}
	return openStore(ctx, cfg, ids, o, log)
}

func (a *app) close() error {
	defer a.burst.Flush()
	return a.store.Close()
}

// partnerServer is the mutual-TLS server of partner clients: a server
// certificate from Coffre's CA for the configured hosts, and a client
// certificate from the same CA required of every connection.
func (a *app) partnerServer(api *httpapi.Server) (*http.Server, error) {
	issued, err := a.ca.IssueServer(a.cfg.Partners.Hosts, time.Now())
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(issued.CertPEM, issued.KeyPEM)
	if err != nil {
		return nil, err
	}
	srv := httpServer(a.wrap.of(true, api.PartnerHandler()))
	srv.TLSConfig = &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    a.ca.Pool(),
	}
	return srv, nil
}

// httpServer serves h with the timeouts and header limit of every listener.
func httpServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
}

// vaultGuard is the vault's guard configuration from coffre.yaml's.
func vaultGuard(g config.Guard) *vault.Guard {
	return &vault.Guard{Limits: g.Roles, Location: g.Location, Trusted: guard.Networks(g.TrustedNetworks).Contains, TwoApproversOver: g.TwoApproversOver, ApproverMinAge: g.ApproverMinAge}
}

// vaultRights is the vault's view of the rights section.
func vaultRights(r config.Rights) *vault.Rights {
	return &vault.Rights{HandlerRole: r.HandlerRole, RestrictedReaders: r.RestrictedReaders,
		Contacts: rights.Contacts{Controller: r.Controller, DPO: r.DPO, Authority: r.Authority}}
}

// serve runs the HTTP API until ctx ends; ready, if set, is called with
// the bound address.
// listenPartners opens the partner listener. With the built-in demo
// configuration a busy port (another Coffre, another service) is not
// worth failing for: the partners get another port, and the log says
// which. A configured address must be free.
func (a *app) listenPartners() (net.Listener, error) {
	ln, err := net.Listen("tcp", a.cfg.Partners.Listen)
	if err == nil || !a.dev {
		return ln, err
	}
	host, _, serr := net.SplitHostPort(a.cfg.Partners.Listen)
	if serr != nil {
		return nil, err
	}
	ln, err2 := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err2 != nil {
		return nil, err
	}
	a.log.Warn("partner port busy; the demo serves partners on another port", "wanted", a.cfg.Partners.Listen, "addr", ln.Addr().String())
	return ln, nil
}

// background runs the audit integrator, the sweep of inactive accounts,
// the pass over consent requests and contact changes, the root key
// rotator, the blind index rebuilder and the delivery worker until the
// returned stop is called (which waits for them).
// integrator is the audit integrator of a's store: it records the
// records' activity (vault.Vault.ActivityDay) in batches and moves the
// activity mark, which every integrator of a store that serves must,
// since a retention sweep looks for activity only past the mark.
//
// On a store several servers share (PostgreSQL), the server that runs
// the store's audit sequencer integrates; the others' integrators wait
// their turn, which comes when that server stops.
func (a *app) integrator() *auditlog.Integrator {
	in := &auditlog.Integrator{Store: a.health, Signer: a.signer, Logger: a.log, Activity: a.vault.ActivityDay}
	if l, ok := a.store.(interface{ Leading() bool }); ok {
		in.Turn = l.Leading
	}
	return in
}

func (a *app) background(ctx context.Context) (stop func()) {
	integ, stopInteg := context.WithCancel(context.WithoutCancel(ctx))
	integDone := make(chan struct{})
	go func() {
		defer close(integDone)
		if a.noIntegrator {
			return // benchmarks only: the core's figure without checkpoints
		}
		in := a.integrator()
		in.Witnesses, in.Epoch = a.cfg.AuditWitnesses, a.cfg.AuditEpoch
		in.Run(integ)
	}()
	sweep, stopSweep := context.WithCancel(context.WithoutCancel(ctx))
	sweepDone := a.sweepInactive(sweep)
	pendingDone := a.sweepPending(sweep)
	rotCtx, stopRot := context.WithCancel(context.WithoutCancel(ctx))
	rotDone := make(chan struct{})
	go func() {
		defer close(rotDone)
		a.rot.Run(rotCtx)
	}()
	idxDone := make(chan struct{})
	go func() {
		defer close(idxDone)
		a.idx.Run(rotCtx)
	}()
	deliverDone := make(chan struct{})
	go func() {
		defer close(deliverDone)
		if a.deliver != nil {
			a.deliver.Run(rotCtx)
		}
	}()
	purgeDone := make(chan struct{})
	go func() {
		defer close(purgeDone)
		a.purgeEvery(rotCtx)
	}()
	streamDone := make(chan struct{})
	go func() {
		defer close(streamDone)
		if a.stream != nil {
			a.stream.Run(rotCtx)
		}
	}()
	return func() {
		stopInteg()
		stopSweep()
		stopRot()
		<-purgeDone
		<-integDone
		<-sweepDone
		<-pendingDone
		<-rotDone
		<-idxDone
		<-deliverDone
		<-streamDone
	}
}

// purgeEvery applies the retention rules every retention.every (none when
// it is 0), the first time one period after the start, until ctx ends;
// then deletes the audit log's epochs past audit.retention, if set.
func (a *app) purgeEvery(ctx context.Context) {
	r := a.cfg.Retention
	if r.Every <= 0 {
		return
	}
	select {
	case <-ctx.Done():
		return
	case <-time.After(r.Every):
	}
	pace.Every(ctx, r.Every, a.log, "retention", func(ctx context.Context) error {
		if _, err := a.vault.Purge(ctx, a.auth.Now, r.Batch, r.Rest, nil); err != nil {
			return fmt.Errorf("purge: %w", err)
		}
		if a.cfg.AuditRetention.IsZero() {
			return nil
		}
		if _, err := auditlog.Prune(ctx, a.health, a.auth.Now(), a.cfg.AuditRetention, "system"); err != nil {
			return fmt.Errorf("audit prune: %w", err)
		}
		return nil
	})
}

// api is the HTTP API of the app, with metrics on it unless they have a
// listener of their own.
func (a *app) api() (*httpapi.Server, http.Handler) {
	rq := metrics.NewRequests()
	bi, _ := debug.ReadBuildInfo()
	v := buildVersion(bi)
	more := []prometheus.Collector{rq, a.decisions, metrics.BuildInfo(v.Version, v.Commit, v.Date, v.Go)}
	if gc, ok := a.store.(metrics.GroupCounter); ok {
		more = append(more, metrics.GroupCommits(gc))
	}
	if pc, ok := a.store.(metrics.PoolCounter); ok {
		more = append(more, metrics.Pool(pc))
	}
	mh, mc := metrics.Handler(a.health, a.log, a.streams(), more...), a.cfg.Metrics
	api := &httpapi.Server{Vault: a.vault, Auth: a.auth, Logger: a.log, Checkpoints: a.health, Health: a.health,
		AuditMaxLag: a.cfg.AuditMaxLag, AuditStreams: a.streams(), Requests: rq, Metrics: mh, MetricsToken: mc.Token,
		MaxBodyBytes: a.cfg.MaxBodyBytes, ReasonMaxLen: a.cfg.ReasonMaxLen, TrustedProxies: a.cfg.Guard.TrustedProxies, CA: a.ca, Keys: a.rot, Index: a.idx, Me: a.me,
		AuditKey: a.signer.VerifierKey(), Breach: breachSettings(a.cfg), Tracing: a.tracing.TracerProvider()}
	if mc.Listen != "" {
		api.Metrics = nil // on its own listener only
	}
	// The operators' web console: the same services, browser routes apart.
	con, err := console.New(console.Config{Auth: a.auth, Vault: a.vault, Policy: a.cfg.Policy, People: a.me, Persons: a.vault,
		Origin: api.Origin, Insecure: a.dev, Logger: a.log, Key: a.keys.Ring.StableHash("console.forms", ""),
		Officer: console.Officer{Log: a.health, AuditKey: api.AuditKey, Contain: (&contain.Containment{Vault: a.vault, Auth: a.auth}).Do}})
	if err != nil {
		panic(fmt.Sprintf("console templates: %v", err)) // embedded: a build mistake
	}
	api.Console = con.Handler()
	if a.me != nil {
		api.Portal = con.PortalHandler() // the people's portal
	}
	return api, mh
}

// initDelivery builds the delivery worker, reading the senders'
// secrets: a server refuses to start without them.
func (a *app) initDelivery() (err error) {
	a.deliver, err = newDeliveryWorker(a.cfg, a.health, a.vault, a.keys.Ring, a.log)
	if a.deliver != nil {
		a.deliver.Now = a.auth.Now // messages are due by the vault's clock (a drill's is simulated)
		a.wake.w.Store(a.deliver)
	}
	return err
}

// waker wakes the delivery worker, once there is one.
type waker struct {
	w atomic.Pointer[deliver.Worker]
}

func (k *waker) wake() {
	if w := k.w.Load(); w != nil {
		w.Wake()
	}
}

// initSignin gives persons' sign-in its OpenID Connect provider, when
// one is configured, reading the client secret: a server refuses to start
// without it. The provider itself is asked for its keys at the first
// sign-in, so that a server starts while it is down.
func (a *app) initSignin() error {
	o := a.cfg.Signin.OIDC
	if o.Issuer == "" {
		return nil
	}
	secret, err := readSecret("signin.oidc client secret", o.ClientSecretFile, o.ClientSecretEnv)
	if err != nil {
		return err
	}
	a.me.OIDC = &me.OIDC{Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: string(secret), RedirectURL: o.RedirectURL,
		Scopes: o.Scopes, Claim: o.Claim, Field: o.Field}
	return nil
}

func (a *app) serve(ctx context.Context, listen string, ready func(addr string)) error {
	if err := a.initDelivery(); err != nil {
		return err
	}
	if err := a.initStream(); err != nil {
		return err
	}
	if err := a.initSignin(); err != nil {
		return err
	}
	tp, err := startTracing(ctx, a.cfg, a.log)
	if err != nil {
		return err
	}
	defer stopTracing(tp, a.log)
	a.tracing = tp
	api, mh := a.api()
	mc := a.cfg.Metrics
	srv := httpServer(a.wrap.of(false, api.Handler()))
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	a.log.Info("serving", "addr", ln.Addr().String(), "config", a.cfg.Source)
	errc := make(chan error, 3)
	if mc.Listen != "" {
		mln, err := net.Listen("tcp", mc.Listen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("metrics listen: %w", err)
		}
		msrv := httpServer(httpapi.MetricsHandler(mh, mc.Token))
		a.log.Info("serving metrics", "addr", mln.Addr().String(), "token", mc.Token != "")
		go func() { errc <- msrv.Serve(mln) }()
		defer msrv.Close()
	}
	if a.cfg.Partners.Listen != "" {
		psrv, err := a.partnerServer(api)
		if err != nil {
			ln.Close()
			return err
		}
		pln, err := a.listenPartners()
		if err != nil {
			ln.Close()
			return fmt.Errorf("partner listen: %w", err)
		}
		a.partnerAddr = pln.Addr().String()
		a.log.Info("serving partners (mutual TLS)", "addr", a.partnerAddr)
		go func() { errc <- psrv.ServeTLS(pln, "", "") }()
		defer psrv.Close()
	}
	if ready != nil {
		ready(ln.Addr().String())
	}
	go func() { errc <- srv.Serve(ln) }()
	defer a.background(ctx)()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
