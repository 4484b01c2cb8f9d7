package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/internal/config"
	"github.com/coffre/coffre/internal/event"
	"github.com/coffre/coffre/internal/httpapi"
	"github.com/coffre/coffre/internal/keyset"
	"github.com/coffre/coffre/internal/seal"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/unseal"
)

// inside reports whether path lies in dir (after cleaning both; a
// relative path is taken from the working directory).
func inside(path, dir string) bool {
	p, err1 := filepath.Abs(path)
	d, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return true // undecidable: refuse
	}
	rel, err := filepath.Rel(d, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// sealedService is an unsealed app as the seal state serves it: the API,
// the background work, the partner listener; Close stops them all and
// closes the store.
type sealedService struct {
	http.Handler
	a        *app
	stop     func()
	partners *http.Server
}

func (s *sealedService) Close() error {
	if s.partners != nil {
		s.partners.Close()
	}
	s.stop()
	// The key set is wiped by the seal state. The checkpoint signer's and
	// the partner CA's private keys (crypto/ed25519 values inside their
	// packages) and the store's subject-id cipher are dropped with the
	// app and left to the collector: Go gives no way to wipe them.
	return s.a.close()
}

// AuditQuorumSeal audits a seal by a quorum of share holders and marks
// the deployment sealed (httpapi.QuorumSealer).
func (s *sealedService) AuditQuorumSeal(ctx context.Context, set, reason, origin string) error {
	return s.a.vault.SealByQuorum(ctx, set, reason, origin)
}

// sealWatchEvery is how often an unsealed node reads the store's seal
// flag: a seal on one node seals the others within about that.
const sealWatchEvery = 500 * time.Millisecond

// serveSealed serves a production data directory: sealed at start, the
// keyring opened by M shares through POST /v1/sys/unseal.
func serveSealed(ctx context.Context, o appOptions, cfg *config.Config, f *seal.File, listen string, stderr io.Writer, ready func(addr string)) error {
	log, burst := newLogger(stderr, cfg.LogFormat)
	defer burst.Flush()
	tp, err := startTracing(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer stopTracing(tp, log)
	var state *seal.State
	// viaHSM is set while the start-up unseal runs: an unattended unseal
	// must not undo a seal of the deployment (a breach response); only
	// the share holders do.
	var viaHSM bool
	open := func(ctx context.Context, keys *keyset.Set) (seal.Service, error) {
		// The service outlives the unseal request that builds it.
		ctx = context.WithoutCancel(ctx)
		a, err := buildApp(ctx, cfg, keys, o, log, burst)
		if err != nil {
			return nil, err
		}
		a.tracing = tp
		if err := checkPublished(f, a); err != nil {
			a.close()
			return nil, err
		}
		// Adopt the store's seal generation; a seal on any other node
		// bumps it, and the watcher then seals this one.
		var gen int64
		if err := a.health.Update(ctx, func(ctx context.Context, tx store.Tx) (err error) {
			if viaHSM {
				if _, sealedAt, err := tx.SealFlag(ctx); err != nil {
					return err
				} else if !sealedAt.IsZero() {
					return errDeploymentSealed
				}
			}
			gen, err = tx.MarkUnsealed(ctx)
			return err
		}); err != nil {
			a.close()
			return nil, fmt.Errorf("seal flag: %w", err)
		}
		if err := a.initDelivery(); err != nil {
			a.close()
			return nil, err
		}
		if err := a.initStream(); err != nil {
			a.close()
			return nil, err
		}
		if err := a.initSignin(); err != nil {
			a.close()
			return nil, err
		}
		api, _ := a.api()
		if !cfg.Seal.ByQuorum { // else M share holders seal, never one account
			api.Seal = func(context.Context) error { return state.Seal() }
		}
		svc := &sealedService{Handler: api.Handler(), a: a}
		if cfg.Partners.Listen != "" {
			psrv, err := a.partnerServer(api)
			if err != nil {
				a.close()
				return nil, err
			}
			// A seal closes the partner listener only once the API's
			// requests in flight are done: until then the gate refuses.
			psrv.Handler = o.wrap.of(true, httpapi.GateService(state, svc, psrv.Handler))
			pln, err := net.Listen("tcp", cfg.Partners.Listen)
			if err != nil {
				a.close()
				return nil, fmt.Errorf("partner listen: %w", err)
			}
			log.Info("serving partners (mutual TLS)", "addr", pln.Addr().String())
			go psrv.ServeTLS(pln, "", "")
			svc.partners = psrv
		}
		stopBackground := a.background(ctx)
		watch, stopWatch := context.WithCancel(ctx)
		watchDone := make(chan struct{})
		go func() {
			defer close(watchDone)
			t := time.NewTicker(sealWatchEvery)
			defer t.Stop()
			read := func(ctx context.Context) (g int64, err error) {
				err = a.health.View(ctx, func(ctx context.Context, tx store.Tx) (err error) {
					g, _, err = tx.SealFlag(ctx)
					return err
				})
				return g, err
			}
			seal.Watch(watch, t.C, read, gen, func(g int64) {
				if state.Seal() == nil {
					log.Warn("sealed: the deployment's seal flag moved (a seal on this or another node); unseal this node with its shares", "event", event.SealFlagMoved, "generation", g)
				}
			})
		}()
		svc.stop = func() {
			stopWatch()
			<-watchDone
			stopBackground()
		}
		return svc, nil
	}
	state = seal.New(f, open, unseal.Options{})
	gate := &httpapi.Gate{State: state, Logger: log, TrustedProxies: cfg.Guard.TrustedProxies, PerOrigin: cfg.Login.PerOrigin, Quorum: cfg.Seal.ByQuorum}
	srv := httpServer(o.wrap.of(false, gate.Handler()))
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if len(f.Wrapped) > 0 {
		viaHSM = true
		unsealHSM(ctx, state, f, cfg.Seal.PKCS11, log)
		viaHSM = false
	}
	if state.Status().Sealed {
		log.Warn("serving SEALED: no data is served until the share holders unseal it (coffre unseal)", "event", event.SealedStart, "addr", ln.Addr().String(), "config", cfg.Source, "set", f.Set, "threshold", f.Threshold, "shares", f.Shares)
	} else {
		log.Info("serving, unsealed through the HSM", "addr", ln.Addr().String(), "config", cfg.Source)
	}
	errc := make(chan error, 1)
	if ready != nil {
		ready(ln.Addr().String())
	}
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		state.Seal()
		<-state.Closed()
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	serr := srv.Shutdown(shut)
	state.Seal()
	<-state.Closed()
	if serr != nil {
		return fmt.Errorf("shutdown: %w", serr)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// errDeploymentSealed refuses an unattended unseal of a sealed
// deployment.
var errDeploymentSealed = errors.New("the deployment was sealed (the store's seal flag): only the share holders unseal it")

// unsealHSM unseals state at start with the unseal key that f keeps
// wrapped by the token key of c. When that fails (no seal.pkcs11, the
// token unreachable, a wrong PIN, another key) it logs why, without key
// material, and leaves the state sealed for the share holders.
func unsealHSM(ctx context.Context, state *seal.State, f *seal.File, c config.PKCS11, log *slog.Logger) {
	fail := func(err error) {
		log.Warn("HSM unseal failed: the server stays SEALED until the share holders unseal it (coffre unseal)", "event", event.HSMUnsealFailed, "error", err.Error())
	}
	if c.Module == "" {
		fail(errors.New("the sealed keyring has an HSM-wrapped unseal key, but the configuration has no seal.pkcs11"))
		return
	}
	w, closeHSM, err := openHSM(c, false)
	if err != nil {
		fail(err)
		return
	}
	key, err := w.Unwrap(ctx, f.Wrapped)
	closeHSM()
	if err != nil {
		fail(err)
		return
	}
	if _, err := state.UnsealKey(ctx, key); err != nil {
		fail(err)
		return
	}
	log.Info("unsealed through the HSM", "hsm", describeHSM(c))
}

const unsealExample = "coffre unseal --share-file coffre-share-….txt --url http://127.0.0.1:8080"

// runUnseal enters one share into a running server.
func runUnseal(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("unseal", "(--share-file FILE | --share -) [--identity FILE] [--url URL | --config FILE] [--reset] [--json]", unsealExample, stderr)
	file := fs.String("share-file", "", "read the share from `FILE` (as keys init wrote it: plain, or age-encrypted to the holder)")
	var identities stringsFlag
	fs.Var(&identities, "identity", "the holder's age identity `FILE` (secret key), for a share encrypted by keys init --recipient")
	fromStdin := fs.String("share", "", "`-`: read the share from standard input (never from the command line, where it would stay in the shell's history)")
	reset := fs.Bool("reset", false, "drop the shares entered so far instead")
	url, configPath := serverFlags(fs)
	asJSON := fs.Bool("json", false, "print the seal status as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	base, err := serverURL(*url, *configPath)
	if err != nil {
		return err
	}
	body := map[string]any{"reset": true}
	if !*reset {
		var text string
		switch {
		case *file != "" && *fromStdin == "":
			text, err = readShare(*file, identities)
		case *file == "" && *fromStdin == "-":
			var raw []byte
			if raw, err = io.ReadAll(io.LimitReader(bufio.NewReader(os.Stdin), shareFileMax)); err != nil {
				return fmt.Errorf("read share: %w", err)
			}
			text, err = openShare(raw, "the share on standard input", identities)
		default:
			return &usageError{msg: "want one of --share-file FILE or --share - (standard input)", hint: unsealExample}
		}
		if err != nil {
			return err
		}
		body = map[string]any{"share": text}
	}
	var st seal.Status
	if err := sysCall(ctx, base+"/v1/sys/unseal", "", body, &st); err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, st)
	}
	switch {
	case !st.Sealed:
		fmt.Fprintf(stdout, "unsealed: the vault serves (share set %s)\n", st.Set)
	case *reset:
		fmt.Fprintf(stdout, "shares dropped: sealed, 0 of %d shares entered\n", st.Threshold)
	default:
		fmt.Fprintf(stdout, "share accepted: sealed, %d of %d shares entered (share set %s)\n", st.Progress, st.Threshold, st.Set)
	}
	return nil
}

const sealExample = "coffre seal --reason 'incident 2026-11-30' --url http://127.0.0.1:8080   (with COFFRE_TOKEN set)"

// runSeal seals a running server with an operator session that holds the
// seal permission.
func runSeal(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("seal", "--reason TEXT [--share-file FILE [--identity FILE]] [--url URL | --config FILE]", sealExample, stderr)
	reason := fs.String("reason", "", "why (audited with the seal)")
	file := fs.String("share-file", "", "seal by a quorum (seal.by: quorum): this holder's share `FILE`; M holders each run the command")
	var identities stringsFlag
	fs.Var(&identities, "identity", "the holder's age identity `FILE`, for a share encrypted by keys init --recipient")
	url, configPath := serverFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if strings.TrimSpace(*reason) == "" {
		return &usageError{msg: "--reason is required: the seal is audited with it", hint: sealExample}
	}
	if *file != "" {
		return sealShare(ctx, *file, identities, *reason, *url, *configPath, stdout)
	}
	token, err := sealToken(sealExample + "; or, where the deployment seals by quorum, --share-file FILE")
	if err != nil {
		return err
	}
	base, err := serverURL(*url, *configPath)
	if err != nil {
		return err
	}
	if err := sysCall(ctx, base+"/v1/sys/seal", token, map[string]string{"reason": *reason}, nil); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "sealed: every data route answers 503 until the share holders unseal it (coffre unseal)")
	return nil
}

// sealShare enters one holder's share towards a seal by a quorum.
func sealShare(ctx context.Context, file string, identities []string, reason, url, configPath string, stdout io.Writer) error {
	text, err := readShare(file, identities)
	if err != nil {
		return err
	}
	base, err := serverURL(url, configPath)
	if err != nil {
		return err
	}
	var res struct {
		Sealed    bool `json:"sealed"`
		Progress  int  `json:"progress"`
		Threshold int  `json:"threshold"`
	}
	if err := sysCall(ctx, base+"/v1/sys/seal-share", "", map[string]string{"share": text, "reason": reason}, &res); err != nil {
		return err
	}
	if res.Sealed {
		fmt.Fprintln(stdout, "sealed by a quorum of share holders: every data route answers 503 until they unseal it (coffre unseal)")
	} else {
		fmt.Fprintf(stdout, "seal share accepted: %d of %d; still serving until %d holders have entered theirs\n", res.Progress, res.Threshold, res.Threshold)
	}
	return nil
}

func serverFlags(fs interface {
	String(name, value, usage string) *string
}) (url, configPath *string) {
	url = fs.String("url", os.Getenv("COFFRE_URL"), "the server's `URL` (default $COFFRE_URL, else http:// and the configuration's listen address)")
	configPath = fs.String("config", os.Getenv("COFFRE_CONFIG"), "configuration `file` whose listen address to call; default $COFFRE_CONFIG")
	return url, configPath
}

// serverURL is url, or http:// and the configured listen address.
func serverURL(url, configPath string) (string, error) {
	if url != "" {
		return strings.TrimSuffix(url, "/"), nil
	}
	if configPath == "" {
		return "", &usageError{msg: "want --url or --config: which server?", hint: "--url http://127.0.0.1:8080"}
	}
	cfg, err := loadConfig(appOptions{configPath: configPath})
	if err != nil {
		return "", err
	}
	return "http://" + cfg.Listen, nil
}

// sysCall posts body to url and decodes the answer into out; an error
// answer becomes an error with the server's message and hint.
func sysCall(ctx context.Context, url, token string, body, out any) error {
	return sysDo(ctx, http.MethodPost, url, token, body, out)
}

// sysDo is sysCall with any method; a nil body sends none. It calls
// through the public client package (no retry: these are operators'
// one-shot commands).
func sysDo(ctx context.Context, method, target, token string, body, out any) error {
	u, err := neturl.Parse(target)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return &usageError{msg: "bad server URL", hint: "--url http://127.0.0.1:8080"}
	}
	opts := []client.Option{client.WithRetries(0, 0)}
	if token != "" {
		opts = append(opts, client.WithToken(token))
	}
	c, err := client.New(u.Scheme+"://"+u.Host, opts...)
	if err != nil {
		return &usageError{msg: "bad server URL", hint: "--url http://127.0.0.1:8080"}
	}
	_, err = c.Do(ctx, method, u.RequestURI(), nil, body, out)
	var e *client.Error
	switch {
	case errors.As(err, &e) && strings.HasPrefix(e.Code, "http_"):
		return fmt.Errorf("server answered %s", e.Message)
	case errors.As(err, &e):
		return &usageError{msg: e.Message + " (" + e.Code + ")", hint: e.Hint}
	case err != nil:
		return fmt.Errorf("call the server: %w", err)
	}
	return nil
}
